"""The pure-Python reference evaluator of the IR.

It is three things: the oracle the durable_rules backend is tested against, the engine
where durable_rules cannot import (Python ≥ 3.13), and the source of explanations (which
literal held, with which value, against which threshold). Logic is Kleene's: a comparison
with a missing value is unknown, and a rule fires only when its condition is true.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from kamrules.language import ir

Env = Mapping[str, Any]
Truth3 = Optional[bool]  # True, False, None (unknown)


@dataclass(frozen=True)
class Context:
    env: Env
    as_of: _dt.date
    item: Mapping[str, Any] | None = None


def eval_term(t: ir.Term, ctx: Context) -> Any:
    match t:
        case ir.Const():
            return t.value
        case ir.Ref():
            if t.kind == "item":
                if ctx.item is None:
                    return None
                return ctx.item.get("__it__") if t.name == "it" else ctx.item.get(t.name)
            return ctx.env.get(t.name)
        case ir.Arith():
            a, b = eval_term(t.left, ctx), eval_term(t.right, ctx)
            if a is None or b is None:
                return None
            a, b = float(a), float(b)
            if t.op == "+":
                return _tidy(a + b)
            if t.op == "-":
                return _tidy(a - b)
            if t.op == "*":
                return _tidy(a * b)
            return None if b == 0 else _tidy(a / b)
        case ir.Fn():
            args = [eval_term(a, ctx) for a in t.args]
            if any(a is None for a in args):
                return None
            if t.name == "days_since":
                return (ctx.as_of - args[0]).days
            if t.name == "abs":
                return abs(float(args[0]))
            if t.name == "min":
                return min(float(args[0]), float(args[1]))
            if t.name == "max":
                return max(float(args[0]), float(args[1]))
            raise ValueError(t.name)  # pragma: no cover - the checker admits only these
        case ir.Agg():
            return _agg(t, ctx)
        case _:
            ir.unknown(t)


def _tidy(x: float) -> float | None:
    """12 significant digits: 17% − 15% is 2%, not 2.0000000000000018%, so a value exactly at a
    threshold lands on the side the rulebook author meant."""
    if x != x or abs(x) == float("inf"):
        return None  # overflow is 'unknown', like division by zero
    return float(f"{x:.12g}")


def _items(lst: Any) -> list[Mapping[str, Any]]:
    return [i if isinstance(i, Mapping) else {"__it__": i} for i in lst]


def _agg(t: ir.Agg, ctx: Context) -> Any:
    lst = ctx.env.get(t.list.name)
    if lst is None:
        return None
    match t.body:
        case None:
            return len(lst)
        case ir.Cmp() | ir.Exists() | ir.And() | ir.Or() | ir.Not() | ir.Truth() as cond:  # count | any | all
            subs = [Context(ctx.env, ctx.as_of, item) for item in _items(lst)]
            outs = [eval_cond(cond, c) for c in subs]
            if t.func == "count":
                return sum(1 for o in outs if o is True)
            if t.func == "any":
                return True if any(o is True for o in outs) else (None if any(o is None for o in outs) else False)
            return False if any(o is False for o in outs) else (None if any(o is None for o in outs) else True)
        case term:  # sum | max | min
            subs = [Context(ctx.env, ctx.as_of, item) for item in _items(lst)]
            vals = [v for v in (eval_term(term, c) for c in subs) if v is not None]
            if t.func == "sum":
                return float(sum(float(v) for v in vals))
            if not vals:
                return None
            return float(max(vals) if t.func == "max" else min(vals))


def compare(op: str, a: Any, b: Any) -> Truth3:
    if a is None or b is None:
        return None
    if isinstance(a, bool) or isinstance(b, bool):
        if op not in ("==", "!="):
            return None
        return (a is b) if op == "==" else (a is not b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        a, b = float(a), float(b)
    elif type(a) is not type(b):
        return None
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def eval_cond(c: ir.Cond, ctx: Context) -> Truth3:
    match c:
        case ir.Cmp():
            return compare(c.op, eval_term(c.left, ctx), eval_term(c.right, ctx))
        case ir.Exists():
            present = eval_term(c.ref, ctx) is not None
            return present if c.positive else not present
        case ir.And():
            vals = [eval_cond(i, ctx) for i in c.items]
            if any(v is False for v in vals):
                return False
            return None if any(v is None for v in vals) else True
        case ir.Or():
            vals = [eval_cond(i, ctx) for i in c.items]
            if any(v is True for v in vals):
                return True
            return None if any(v is None for v in vals) else False
        case ir.Not():
            v = eval_cond(c.item, ctx)
            return None if v is None else not v
        case ir.Truth():
            return c.value
        case _:
            ir.unknown(c)


# ----------------------------------------------------------------------------- explanations

@dataclass(frozen=True)
class Literal:
    """One comparison's outcome, for 'because' and 'why not'."""

    text: str  # the literal as written, e.g. "discount_rate > params.max_key_discount"
    outcome: Truth3
    fact: str  # the left side's name or expression
    value: Any  # its value (None = missing)
    op: str
    against: Any  # the right side's value
    against_text: str  # e.g. "params.max_key_discount" or "15%"
    param: str = ""
    type: str = "number"
    missing: tuple[str, ...] = ()  # facts whose absence made it unknown

    def gap(self) -> float:
        """How far from flipping to true: 0 for true, relative distance for numbers, 1 otherwise."""
        if self.outcome is True:
            return 0.0
        if isinstance(self.value, (int, float)) and isinstance(self.against, (int, float)) and \
                not isinstance(self.value, bool):
            scale = max(abs(float(self.against)), abs(float(self.value)), 1e-9)
            return min(abs(float(self.value) - float(self.against)) / scale, 1.0)
        return 1.0


def literal_of(c: ir.Cond, ctx: Context) -> Literal:
    outcome = eval_cond(c, ctx)
    match c:
        case ir.Cmp():
            lv, rv = eval_term(c.left, ctx), eval_term(c.right, ctx)
            missing = tuple(sorted({r.name for side in (c.left, c.right) for r in ir.refs(side)
                                    if eval_term(r, ctx) is None}))
            return Literal(ir.show(c), outcome, ir.show(c.left), lv, c.op, rv, ir.show(c.right), ir.param_of(c.right),
                           c.left.type if c.left.type != "number" else c.right.type, missing)
        case ir.Exists():
            v = eval_term(c.ref, ctx)
            return Literal(ir.show(c), outcome, c.ref.name, v, "exists" if c.positive else "missing", None, "", "",
                           c.ref.type)
        case _:
            return Literal(ir.show(c), outcome, ir.show(c), None, "", None, "")


def trace(c: ir.Cond, ctx: Context) -> tuple[Truth3, list[Literal]]:
    """The condition's value and the literals that decide it (true ones when it holds,
    failing or unknown ones when it does not)."""
    match c:
        case ir.And():
            parts = [trace(i, ctx) for i in c.items]
            value = eval_cond(c, ctx)
            holds = value is True  # then every part is true; else the parts that are not decide it
            return value, [lit for v, lits in parts if (v is True) == holds for lit in lits]
        case ir.Or():
            parts = [trace(i, ctx) for i in c.items]
            value = eval_cond(c, ctx)
            # true: the parts that are; false or unknown: every part
            return value, [lit for v, lits in parts if v is True or value is not True for lit in lits]
        case ir.Not():
            v, lits = trace(c.item, ctx)
            return (None if v is None else not v), lits
        case ir.Cmp() | ir.Exists() | ir.Truth():
            return eval_cond(c, ctx), [literal_of(c, ctx)]
        case _:
            ir.unknown(c)


def missing_refs(c: ir.Cond, ctx: Context) -> set[str]:
    return {r.name for r in ir.refs(c) if eval_term(r, ctx) is None}


# ----------------------------------------------------------------------------- compiled form
#
# The same semantics as eval_term/eval_cond, compiled once per rulebook into closures, so the
# reference engine does not walk the tree (and build Contexts) for every rule of every account.
# Still no eval: each closure is one of the functions below. tests/test_reference_compiled.py
# checks both forms agree on generated conditions.

Fn3 = Callable[[Env, _dt.date, Optional[Mapping[str, Any]]], Any]


def compile_term(t: ir.Term) -> Fn3:
    match t:
        case ir.Const():
            value = t.value
            return lambda env, as_of, item: value
        case ir.Ref():
            name = t.name
            if t.kind == "item":
                key = "__it__" if name == "it" else name
                return lambda env, as_of, item: None if item is None else item.get(key)
            return lambda env, as_of, item: env.get(name)
        case ir.Arith():
            lf, rf, op = compile_term(t.left), compile_term(t.right), t.op

            def arith(env: Env, as_of: _dt.date, item: Any) -> Any:
                a = lf(env, as_of, item)
                if a is None:
                    return None
                b = rf(env, as_of, item)
                if b is None:
                    return None
                a, b = float(a), float(b)
                if op == "+":
                    return _tidy(a + b)
                if op == "-":
                    return _tidy(a - b)
                if op == "*":
                    return _tidy(a * b)
                return None if b == 0 else _tidy(a / b)
            return arith
        case ir.Fn() | ir.Agg():
            # rarer, and list-shaped: share the tree walker's code rather than duplicate it
            return lambda env, as_of, item: eval_term(t, Context(env, as_of, item))
        case _:
            ir.unknown(t)


def compile_cond(c: ir.Cond) -> Fn3:
    match c:
        case ir.Cmp():
            lf, rf, op = compile_term(c.left), compile_term(c.right), c.op
            return lambda env, as_of, item: compare(op, lf(env, as_of, item), rf(env, as_of, item))
        case ir.Exists():
            f, positive = compile_term(c.ref), c.positive
            return lambda env, as_of, item: (f(env, as_of, item) is not None) == positive
        case ir.And():
            return _junction([compile_cond(i) for i in c.items], decisive=False)
        case ir.Or():
            return _junction([compile_cond(i) for i in c.items], decisive=True)
        case ir.Not():
            g = compile_cond(c.item)

            def not3(env: Env, as_of: _dt.date, item: Any) -> Truth3:
                v = g(env, as_of, item)
                return None if v is None else not v
            return not3
        case ir.Truth():
            value = c.value
            return lambda env, as_of, item: value
        case _:
            ir.unknown(c)


def _junction(parts: list[Fn3], decisive: bool) -> Fn3:
    """Kleene and (decisive False: one false decides it) / or (decisive True: one true does)."""

    def junction(env: Env, as_of: _dt.date, item: Any) -> Truth3:
        unknown = False
        for p in parts:
            v: Truth3 = p(env, as_of, item)
            if v is decisive:
                return decisive
            if v is None:
                unknown = True
        return None if unknown else not decisive
    return junction
