"""Evidence ('because'), compiled: the literals that made a condition true, from closures built
once per rule instead of a tree walk per finding.

`reference.trace` walks the IR and evaluates every comparison twice (once for the outcome, once
for the literal's values). A findings pass calls it for every fired rule of every account, and
the playbook asks again for each classification's rules. Here each condition compiles once into
a closure that evaluates each comparison once and builds a `Literal` only for comparisons that
held — the only ones evidence keeps. Which literals are kept follows `reference.trace` exactly:
a true `and` keeps its parts' evidence, a true `or` the evidence of its true branches, `not`
passes its operand's through. tests/test_trace.py checks both give the same literals.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Callable, Optional

from kamrules.engine.reference import BOUNDS, Env, Literal, Truth3, compare, compile_term
from kamrules.language import ir

# (env, as_of) → (the condition's value, the literals that held and decide it)
Tracer = Callable[[Env, _dt.date], "tuple[Truth3, tuple[Literal, ...]]"]
_Node = Callable[[Env, _dt.date, Optional[Any]], "tuple[Truth3, list[Literal]]"]

_NONE: list[Literal] = []  # the shared 'no evidence' result (never mutated: junctions build new lists)


def compile_evidence(c: ir.Cond) -> Tracer:
    node = _compile(c)

    def tracer(env: Env, as_of: _dt.date) -> tuple[Truth3, tuple[Literal, ...]]:
        value, lits = node(env, as_of, None)
        return value, tuple(lits)
    return tracer


def evidence(c: ir.Cond, env: Env, as_of: _dt.date) -> tuple[Literal, ...]:
    """The literals of `c` that held (uncached; for one-off use and tests)."""
    return compile_evidence(c)(env, as_of)[1]


def _compile(c: ir.Cond) -> _Node:
    match c:
        case ir.Cmp():
            return _cmp(c)
        case ir.Exists():
            return _exists(c)
        case ir.And() | ir.Or():
            return _junction(c)
        case ir.Not():
            inner = _compile(c.item)

            def negated(env: Env, as_of: _dt.date, item: Any) -> tuple[Truth3, list[Literal]]:
                v, lits = inner(env, as_of, item)
                return (None if v is None else not v), lits
            return negated
        case ir.Truth():
            value = c.value
            held = [Literal(ir.show(c), True, ir.show(c), None, "", None, "")] if value is True else _NONE
            return lambda env, as_of, item: (value, list(held))
        case _:
            ir.unknown(c)


def _cmp(c: ir.Cmp) -> _Node:
    lf, rf, op = compile_term(c.left), compile_term(c.right), c.op
    text, fact, against_text = ir.show(c), ir.show(c.left), ir.show(c.right)
    param = ir.param_of(c.right)
    type_ = c.left.type if c.left.type != "number" else c.right.type

    names = tuple(sorted({r.name for side in (c.left, c.right) for r in ir.refs(side)}))

    def cmp(env: Env, as_of: _dt.date, item: Any) -> tuple[Truth3, list[Literal]]:
        lv, rv = lf(env, as_of, item), rf(env, as_of, item)
        outcome = compare(op, lv, rv)
        if outcome is True:
            # both sides have values, so no fact is missing (reference.literal_of's `missing`)
            return True, [Literal(text, True, fact, lv, op, rv, against_text, param, type_, ())]
        if outcome is None and item is None:
            bounds = env.get(BOUNDS)
            if bounds is not None:
                outcome = bounds.decide(c)
                if outcome is True:  # decided by bounds: say so, with where the sides lie
                    left_iv, right_iv = bounds.sides(c)
                    missing = tuple(n for n in names if env.get(n) is None)
                    return True, [Literal(text, True, fact, lv, op, rv, against_text, param, type_, missing, True,
                                          left_iv, right_iv)]
        return outcome, _NONE
    return cmp


def _exists(c: ir.Exists) -> _Node:
    f, positive = compile_term(c.ref), c.positive
    text, name, type_ = ir.show(c), c.ref.name, c.ref.type
    op = "exists" if positive else "missing"

    def exists(env: Env, as_of: _dt.date, item: Any) -> tuple[Truth3, list[Literal]]:
        v = f(env, as_of, item)
        if (v is not None) == positive:
            return True, [Literal(text, True, name, v, op, None, "", "", type_)]
        return False, _NONE
    return exists


def _junction(c: ir.And | ir.Or) -> _Node:
    parts = [_compile(i) for i in c.items]
    is_and = type(c) is ir.And

    def junction(env: Env, as_of: _dt.date, item: Any) -> tuple[Truth3, list[Literal]]:
        traced = [p(env, as_of, item) for p in parts]  # every part: a false one may follow a true one
        values = [v for v, _ in traced]
        value: Truth3
        if is_and:
            value = False if False in values else (None if None in values else True)
        else:
            value = True if True in values else (None if None in values else False)
        if value is True:
            chosen = [lits for v, lits in traced if v is True]
        elif is_and:
            chosen = [lits for v, lits in traced if v is not True]
        else:
            chosen = [lits for _, lits in traced]
        if len(chosen) == 1:
            return value, chosen[0]
        return value, [lit for lits in chosen for lit in lits]
    return junction
