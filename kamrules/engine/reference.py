"""The pure-Python reference evaluator of the IR.

It is three things: the oracle the durable_rules backend is tested against, the engine
where durable_rules cannot import (Python ≥ 3.13), and the source of explanations (which
literal held, with which value, against which threshold). Logic is Kleene's: a comparison
with a missing value is unknown — unless the account's bounds decide it (engine/bounds.py:
the same outcome for every value the missing facts may take) — and a rule fires only when its
condition is true.
"""
from __future__ import annotations

import datetime as _dt
import operator
from typing import Any, Callable, Mapping, Optional, Sequence

from kamrules.language import ir
from kamrules.language.intervals import Interval
from kamrules.core.record import dataclass

Env = Mapping[str, Any]
Truth3 = Optional[bool]  # True, False, None (unknown)

# The fact environment's entry for the account's bounds (engine/bounds.py): a comparison the
# engine finds unknown is asked of it, and may be decided when every value inside the bounds
# gives the same outcome. '@' is not in any declared name, so no fact can take the key.
BOUNDS = "@bounds"


def _bounded(c: ir.Cmp, env: Env) -> Truth3:
    """The outcome bounds decide for an unknown comparison, or None (no bounds, undecided)."""
    b = env.get(BOUNDS)
    return None if b is None else b.decide(c)


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
    if x - x != 0:  # NaN or ±infinity (x − x is 0 for every finite x)
        return None  # overflow is 'unknown', like division by zero
    if x.is_integer() and -1e12 < x < 1e12:
        return x  # a whole number of at most 12 digits is its own 12-digit rounding
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
            v = compare(c.op, eval_term(c.left, ctx), eval_term(c.right, ctx))
            if v is None and ctx.item is None:
                return _bounded(c, ctx.env)
            return v
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
    missing: tuple[str, ...] = ()  # facts whose absence made it unknown (or, when bounded, that it was decided without)
    bounded: bool = False  # decided by bounds although a side is missing (engine/bounds.py)
    interval: Interval | None = None  # when bounded: where the left side lies
    against_interval: Interval | None = None  # when bounded: where the right side lies

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
            left_iv = right_iv = None
            bounded = outcome is not None and compare(c.op, lv, rv) is None
            if bounded:
                left_iv, right_iv = ctx.env[BOUNDS].sides(c)
            return Literal(ir.show(c), outcome, ir.show(c.left), lv, c.op, rv, ir.show(c.right), ir.param_of(c.right),
                           c.left.type if c.left.type != "number" else c.right.type, missing, bounded, left_iv, right_iv)
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
        case ir.Fn():
            return _compile_fn(t)
        case ir.Agg():
            return _compile_agg(t)
        case _:
            ir.unknown(t)


def compile_cond(c: ir.Cond, may_bound: Callable[[ir.Cmp], bool] | None = None) -> Fn3:
    """`may_bound(cmp)`: whether bounds may ever decide this comparison (BoundsTable.candidate,
    a property of the rulebook). A comparison it rules out does not ask the account's bounds when
    it is unknown: Bounds.decide would answer None for it anyway. None: ask for every comparison."""
    match c:
        case ir.Cmp():
            return _compile_cmp(c, may_bound is None or may_bound(c))
        case ir.Exists():
            f, positive = compile_term(c.ref), c.positive
            return lambda env, as_of, item: (f(env, as_of, item) is not None) == positive
        case ir.And():
            return _junction([compile_cond(i, may_bound) for i in c.items], decisive=False)
        case ir.Or():
            return _junction([compile_cond(i, may_bound) for i in c.items], decisive=True)
        case ir.Not():
            g = compile_cond(c.item, may_bound)

            def not3(env: Env, as_of: _dt.date, item: Any) -> Truth3:
                v = g(env, as_of, item)
                return None if v is None else not v
            return not3
        case ir.Truth():
            value = c.value
            return lambda env, as_of, item: value
        case _:
            ir.unknown(c)


def compile_fires(c: ir.Cond, may_bound: Callable[[ir.Cmp], bool]) -> Pred:
    """`compile_cond(c, may_bound)(…) is True`, asking the account's bounds only when the answer
    could still turn on them (the reference engine fires a rule only when its condition is true).

    Bounds only turn an unknown comparison into true or false, and Kleene logic is monotone: a
    value known without them stays. So a conjunction is first evaluated without bounds; it cannot
    hold when a part is false, or unknown with nothing bounds may decide (no candidate comparison
    in it: it stays unknown); only the unknown parts that bounds may decide are then evaluated with
    them, one by one, and the first that does not hold ends it. A disjunction likewise, stopping at
    the first part that holds. On a CRM export most rules are unknown because of a figure no range
    bounds: before this, their other comparisons asked the bounds (≈ 40 per account) for nothing."""
    def boundable(x: ir.Cond) -> bool:
        return any(type(lit) is ir.Cmp and may_bound(lit) for lit in ir.literals(x))

    if not boundable(c) or type(c) not in (ir.And, ir.Or):
        whole = compile_cond(c, may_bound)
        return lambda env, as_of, item: whole(env, as_of, item) is True
    assert isinstance(c, (ir.And, ir.Or))
    parts = [(compile_cond(i, _never), compile_cond(i, may_bound) if boundable(i) else None) for i in c.items]
    if isinstance(c, ir.And):
        def all_hold(env: Env, as_of: _dt.date, item: Any) -> bool:
            pending = []
            for plain, with_bounds in parts:
                v = plain(env, as_of, item)
                if v is True:
                    continue
                if v is False or with_bounds is None:
                    return False  # false, or unknown whatever the bounds say: the conjunction is not true
                pending.append(with_bounds)
            if pending and BOUNDS not in env:
                return False
            for p in pending:
                if p(env, as_of, item) is not True:
                    return False
            return True
        return all_hold

    def any_holds(env: Env, as_of: _dt.date, item: Any) -> bool:
        pending = []
        for plain, with_bounds in parts:
            v = plain(env, as_of, item)
            if v is True:
                return True
            if v is None and with_bounds is not None:
                pending.append(with_bounds)
        if pending and BOUNDS not in env:
            return False
        for p in pending:
            if p(env, as_of, item) is True:
                return True
        return False
    return any_holds


def _never(c: ir.Cmp) -> bool:
    return False


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


def _compile_fn(t: ir.Fn) -> Fn3:
    """eval_term's functions, compiled: any missing argument makes the result missing."""
    args = [compile_term(a) for a in t.args]
    name = t.name

    def fn(env: Env, as_of: _dt.date, item: Any) -> Any:
        vals = [a(env, as_of, item) for a in args]
        if any(v is None for v in vals):
            return None
        if name == "days_since":
            return (as_of - vals[0]).days
        if name == "abs":
            return abs(float(vals[0]))
        if name == "min":
            return min(float(vals[0]), float(vals[1]))
        if name == "max":
            return max(float(vals[0]), float(vals[1]))
        raise ValueError(name)  # pragma: no cover - the checker admits only these
    return fn


def _item(i: Any) -> Mapping[str, Any]:
    return i if type(i) is dict or isinstance(i, Mapping) else {"__it__": i}


def _compile_agg(t: ir.Agg) -> Fn3:
    """_agg, compiled: aggregates are evaluated for every account (metrics such as
    roles_covered, conditions such as any(contacts, …)), so they must not walk the tree."""
    name, func = t.list.name, t.func
    if t.body is None:
        def size(env: Env, as_of: _dt.date, item: Any) -> Any:
            lst = env.get(name)
            return None if lst is None else len(lst)
        return size
    if func == "count":
        tests = _text_tests(t.body)  # type: ignore[arg-type]
        if tests is not None and len(tests) <= 2:
            return _count_texts(name, tests)
        holds = compile_holds(t.body)  # type: ignore[arg-type]

        def count(env: Env, as_of: _dt.date, item: Any) -> Any:
            lst = env.get(name)
            if lst is None:
                return None
            n = 0
            for i in lst:
                if holds(env, as_of, _item(i)):
                    n += 1
            return n
        return count
    if func in ("any", "all"):
        test = compile_cond(t.body)  # type: ignore[arg-type]

        def quantifier(env: Env, as_of: _dt.date, item: Any) -> Any:
            lst = env.get(name)
            if lst is None:
                return None
            outs = [test(env, as_of, _item(i)) for i in lst]  # Kleene: True, False or None each
            if func == "any":
                return True if True in outs else (None if None in outs else False)
            return False if False in outs else (None if None in outs else True)
        return quantifier
    value = compile_term(t.body)  # type: ignore[arg-type]

    def numbers(env: Env, as_of: _dt.date, item: Any) -> Any:
        lst = env.get(name)
        if lst is None:
            return None
        vals = [v for v in (value(env, as_of, _item(i)) for i in lst) if v is not None]
        if func == "sum":
            return float(sum(float(v) for v in vals))
        if not vals:
            return None
        return float(max(vals) if func == "max" else min(vals))
    return numbers


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _compile_cmp(c: ir.Cmp, bounded: bool = True) -> Fn3:
    """compare(op, left, right), compiled. Most comparisons test a fact or an item's field against a
    constant string or number; when the value has that type, the test is one step, otherwise
    `compare` decides exactly as the tree walker does (missing values, booleans, mixed types).
    `bounded` False: bounds never decide this comparison, so an unknown stays unknown."""
    lf, rf, op = compile_term(c.left), compile_term(c.right), c.op
    match c.right:
        case ir.Const():
            right = c.right.value
        case _:
            right = None
    if right is None or isinstance(right, bool) or not isinstance(right, (str, int, float)):
        if not bounded:
            def plain(env: Env, as_of: _dt.date, item: Any) -> Truth3:
                return compare(op, lf(env, as_of, item), rf(env, as_of, item))
            return plain

        def general(env: Env, as_of: _dt.date, item: Any) -> Truth3:
            v = compare(op, lf(env, as_of, item), rf(env, as_of, item))
            return _bounded(c, env) if v is None and item is None else v
        return general
    test = _TESTS[op]
    numeric = not isinstance(right, str)
    fast: type = float if numeric else str
    b = float(right) if numeric else right
    # an int (a count, a whole-number fact) against a number: compare() would convert it to float
    left = c.left
    match left:
        case ir.Ref():
            ref: ir.Ref | None = left
        case _:
            ref = None
    if ref is not None and ref.kind != "item":
        name = ref.name
        if not bounded:
            def fact_vs_const_unbounded(env: Env, as_of: _dt.date, item: Any) -> Truth3:
                a: Any = env.get(name)
                t = type(a)
                if t is fast:
                    return test(a, b)
                if t is int and numeric:
                    return test(float(a), b)
                return compare(op, a, right)
            return fact_vs_const_unbounded

        def fact_vs_const(env: Env, as_of: _dt.date, item: Any) -> Truth3:
            a: Any = env.get(name)
            t = type(a)
            if t is fast:
                return test(a, b)
            if t is int and numeric:
                return test(float(a), b)
            if a is None:  # missing (compare() would say unknown): the bounds may decide it
                if item is not None:
                    return None
                bounds = env.get(BOUNDS)
                return None if bounds is None else bounds.decide(c)
            v = compare(op, a, right)
            return _bounded(c, env) if v is None and item is None else v
        return fact_vs_const
    if ref is not None:
        key = "__it__" if ref.name == "it" else ref.name

        def item_vs_const(env: Env, as_of: _dt.date, item: Any) -> Truth3:
            a: Any = None if item is None else item.get(key)
            t = type(a)
            if t is fast:
                return test(a, b)
            if t is int and numeric:
                return test(float(a), b)
            return compare(op, a, right)  # an item's field: inside an aggregate, never bounded
        return item_vs_const

    if not bounded:
        def term_vs_const_unbounded(env: Env, as_of: _dt.date, item: Any) -> Truth3:
            a = lf(env, as_of, item)
            t = type(a)
            if t is fast:
                return test(a, b)
            if t is int and numeric:
                return test(float(a), b)
            return compare(op, a, right)
        return term_vs_const_unbounded

    def term_vs_const(env: Env, as_of: _dt.date, item: Any) -> Truth3:
        a = lf(env, as_of, item)
        t = type(a)
        if t is fast:
            return test(a, b)
        if t is int and numeric:
            return test(float(a), b)
        v = compare(op, a, right)
        return _bounded(c, env) if v is None and item is None else v
    return term_vs_const


Pred = Callable[[Env, _dt.date, Optional[Mapping[str, Any]]], bool]


def compile_holds(c: ir.Cond) -> Pred:
    """`compile_cond(c)(…) is True`, compiled for callers that only ask whether a condition holds
    (count(list, …) counts the items where it does). Unknown and false need not be told apart, so
    `and` and `or` stop at the first part that decides, and `x in [a, b]` on text is one set lookup."""
    match c:
        case ir.And():
            parts = [compile_holds(i) for i in c.items]
            if len(parts) == 2:  # the usual shape; spelled out, it saves a generator per item
                first, second = parts
                return lambda env, as_of, item: first(env, as_of, item) and second(env, as_of, item)
            return lambda env, as_of, item: all(p(env, as_of, item) for p in parts)
        case ir.Or():
            same = _same_text_field(c)
            if same is not None:
                key, values = same

                def one_of(env: Env, as_of: _dt.date, item: Any) -> bool:
                    a = None if item is None else item.get(key)
                    return type(a) is str and a in values
                return one_of
            parts = [compile_holds(i) for i in c.items]
            return lambda env, as_of, item: any(p(env, as_of, item) for p in parts)
        case ir.Cmp() | ir.Exists() | ir.Not() | ir.Truth():
            f = compile_cond(c)
            return lambda env, as_of, item: f(env, as_of, item) is True
        case _:
            ir.unknown(c)


def _text_tests(c: ir.Cond) -> list[tuple[str, frozenset[str]]] | None:
    """[(item field, texts), …] when `c` holds exactly when every field's value is text among its
    texts: `role == coach`, `support in [mentor, supporter]`, and conjunctions of them — the
    usual body of a count(contacts, …) metric."""
    match c:
        case ir.Cmp() | ir.Or():
            same = _same_text_field(c if isinstance(c, ir.Or) else ir.Or((c,)))
            return [same] if same is not None else None
        case ir.And():
            out: list[tuple[str, frozenset[str]]] = []
            for i in c.items:
                part = _text_tests(i)
                if part is None:
                    return None
                out += part
            return out
        case _:  # any other shape is counted by compile_holds
            return None


def _count_texts(name: str, tests: list[tuple[str, frozenset[str]]]) -> Fn3:
    """count(list, <text tests>) in one loop, with no call per item (metrics count contacts by role,
    level and support for every account)."""
    (k1, s1), (k2, s2) = tests[0], tests[-1]  # one test: both the same

    def count(env: Env, as_of: _dt.date, item: Any) -> Any:
        lst = env.get(name)
        if lst is None:
            return None
        n = 0
        for i in lst:
            d = i if type(i) is dict else _item(i)
            a = d.get(k1)
            if type(a) is str and a in s1:
                b = d.get(k2)
                if type(b) is str and b in s2:
                    n += 1
        return n
    return count


def _same_text_field(c: ir.Or) -> tuple[str, frozenset[str]] | None:
    """(item field, texts) when `c` is `field == "a" or field == "b" …` (how `field in [a, b]` reads).
    Such a test holds exactly when the field's value is a str among the texts: compare() gives
    None or False for a missing field, a number, a boolean or any other type."""
    key, values = None, set()
    for i in c.items:
        match i:
            case ir.Cmp() if i.op == "==":
                left, right = i.left, i.right
            case _:
                return None
        match left, right:
            case ir.Ref(), ir.Const() if left.kind == "item" and type(right.value) is str:
                pass
            case _:
                return None
        k = "__it__" if left.name == "it" else left.name
        if key is not None and k != key:
            return None
        key = k
        values.add(right.value)
    return (key, frozenset(values)) if key is not None else None


# ----------------------------------------------------------------------------- a stratum's rules
#
# Most rules of a stratum cannot fire on a given account, and most of those say so in a plain
# test of one value against a constant: `final == key` (35 rules of the course), `single_indicator
# == key`, `executive_contacts >= 1`. Such a part of a conjunction (or a whole condition that is
# one) must be true for the rule to fire; when it reads a value bounds never decide, it is true
# or not whatever the bounds say. So each distinct such test is evaluated at most once per
# stratum and account, and a rule one of whose tests is not true is not evaluated at all; a rule
# whose tests all hold evaluates only the rest of its conjunction (true parts do not change a
# Kleene conjunction). On the benchmark's CRM export this skips ≈ 140 of the 210 rules per
# account for ≈ 90 tests.

@dataclass(frozen=True)
class Stratum:
    """A stratum's rules compiled for `fires`: the shared tests and, per rule, its tests' indexes
    and whether the rest of its condition holds (None: nothing is left to ask)."""

    tests: tuple[Pred, ...]
    rules: tuple[tuple[tuple[int, ...], Pred | None], ...]


def _guard(c: ir.Cond, may_bound: Callable[[ir.Cmp], bool]) -> bool:
    """A comparison of a fact, metric or resolved value against a constant that bounds never decide."""
    return (type(c) is ir.Cmp and type(c.left) is ir.Ref and c.left.kind != "item" and type(c.right) is ir.Const
            and not may_bound(c))


def split_guards(c: ir.Cond, may_bound: Callable[[ir.Cmp], bool]) -> tuple[list[ir.Cmp], list[ir.Cond]]:
    """A condition's plain tests (`_guard`: shared across a stratum), each once, in order, and
    the rest of its conjunction (compile_stratum; engine/generate.py writes the same split)."""
    guards: list[ir.Cmp] = []
    rest: list[ir.Cond] = []
    for p in c.items if type(c) is ir.And else (c,):
        if _guard(p, may_bound):
            assert type(p) is ir.Cmp
            if p not in guards:
                guards.append(p)
        else:
            rest.append(p)
    return guards, rest


def compile_stratum(conds: Sequence[ir.Cond], may_bound: Callable[[ir.Cmp], bool]) -> Stratum:
    """`compile_fires(c, may_bound)` for each of a stratum's conditions, with their plain tests
    shared (see above); `fires_of(stratum, i, …)` is the same answer for the i-th condition."""
    index: dict[ir.Cmp, int] = {}
    tests: list[Pred] = []
    rules: list[tuple[tuple[int, ...], Pred | None]] = []
    for c in conds:
        plain, rest = split_guards(c, may_bound)
        guards: list[int] = []
        for p in plain:
            k = index.get(p)
            if k is None:
                k = index[p] = len(tests)
                tests.append(_holds_plain(p))
            guards.append(k)
        if not guards:
            rules.append(((), compile_fires(c, may_bound)))
        elif not rest:
            rules.append((tuple(guards), None))
        else:
            rules.append((tuple(guards), compile_fires(rest[0] if len(rest) == 1 else ir.And(tuple(rest)), may_bound)))
    return Stratum(tuple(tests), tuple(rules))


def _holds_plain(c: ir.Cmp) -> Pred:
    """`compile_cond(c, never)(…) is True` for a comparison of a plain value against a constant:
    for a text or number constant, _compile_cmp's one-step test spelled out as a predicate."""
    right = c.right.value if type(c.right) is ir.Const else None
    ref = c.left
    if right is None or isinstance(right, bool) or not isinstance(right, (str, int, float)) or type(ref) is not ir.Ref:
        f = _compile_cmp(c, bounded=False)
        return lambda env, as_of, item: f(env, as_of, item) is True
    name, op, test = ref.name, c.op, _TESTS[c.op]
    numeric = not isinstance(right, str)
    fast: type = float if numeric else str
    b = float(right) if numeric else right

    def holds(env: Env, as_of: _dt.date, item: Any) -> bool:
        a: Any = env.get(name)
        t = type(a)
        if t is fast:
            return test(a, b)
        if t is int and numeric:
            return test(float(a), b)
        return compare(op, a, right) is True
    return holds


def fires_of(stratum: Stratum, i: int, env: Env, as_of: _dt.date, memo: list[bool | None]) -> bool:
    """Whether the stratum's i-th condition is true (compile_fires); `memo`: the tests' outcomes so
    far on this account in this stratum ([None] * len(stratum.tests) at its start)."""
    guards, rest = stratum.rules[i]
    for k in guards:
        v = memo[k]
        if v is None:
            v = memo[k] = stratum.tests[k](env, as_of, None)
        if not v:
            return False
    return True if rest is None else rest(env, as_of, None)
