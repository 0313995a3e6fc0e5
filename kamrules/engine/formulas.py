"""Metric formulas compiled for build_facts: `compile_term`'s values, in fewer Python calls.

Every account computes every metric before any rule runs (≈ 40 in the course: ratios, sums,
`min(count, 1)` terms), so a metric's arithmetic is pipeline work paid per account. The
reference compiler (engine/reference.py) serves conditions too and dispatches on the operator
at run time, calls a closure per leaf and rounds through a function call. Here the operator is
chosen once, a fact or constant leaf is read in place, and the usual whole-number result skips
the rounding call. Anything else is `compile_term`'s closure, unchanged.

The values are `compile_term`'s exactly (tests/test_formulas.py holds every form to it on
generated terms and values): the same order of evaluation, the same float conversions, the same
12-significant-digit rounding (`reference._tidy`), None for a missing input or a division by zero.
"""
from __future__ import annotations

import datetime as _dt
import operator
from typing import Any, Callable, Mapping

from kamrules.engine.reference import Fn3, _tidy, compile_term
from kamrules.language import ir


_WHOLE = 1e12  # _tidy returns a whole number below this as it is


def compile_formula(t: ir.Term) -> Fn3:
    """The metric's term, called as compile_term's closures are (env, as_of, None), with the
    same value. A metric is account-level: the item argument is never used."""
    match t:
        case ir.Const():
            value = t.value
            return lambda env, as_of, item: value
        case ir.Ref() if t.kind != "item":
            name = t.name
            return lambda env, as_of, item: env.get(name)
        case ir.Arith():
            return _arith(t)
        case ir.Fn() if t.name in ("min", "max") and len(t.args) == 2:
            return _min_max(t)
        case _:
            return compile_term(t)


def _leaf(t: ir.Term) -> tuple[str | None, Any, bool]:
    """(name, None, True) for a fact or metric, (None, value, True) for a constant, else
    (None, None, False): not a leaf."""
    match t:
        case ir.Ref() if t.kind != "item":
            return t.name, None, True
        case ir.Const():
            return None, t.value, True
        case _:
            return None, None, False


def _arith(t: ir.Arith) -> Fn3:
    op = t.op
    lname, lconst, lleaf = _leaf(t.left)
    rname, rconst, rleaf = _leaf(t.right)
    if lname is not None and rname is not None:  # name op name: the common shape (ratios, margins)
        return _names(op, lname, rname)
    lf = _operand(t.left, lname, lconst, lleaf)
    rf = _operand(t.right, rname, rconst, rleaf)
    if op == "/":
        def divide(env: Mapping[str, Any], as_of: _dt.date, item: Any) -> Any:
            a = lf(env, as_of, None)
            if a is None:
                return None
            b = rf(env, as_of, None)
            if b is None:
                return None
            a, b = float(a), float(b)
            return None if b == 0 else _tidy(a / b)
        return divide
    calc = _CALC[op]

    def arith(env: Mapping[str, Any], as_of: _dt.date, item: Any) -> Any:
        a = lf(env, as_of, None)
        if a is None:
            return None
        b = rf(env, as_of, None)
        if b is None:
            return None
        x = calc(float(a), float(b))
        return x if x.is_integer() and -_WHOLE < x < _WHOLE else _tidy(x)
    return arith


def _names(op: str, lname: str, rname: str) -> Fn3:
    """name op name, both read in place."""
    if op == "/":
        def ratio(env: Mapping[str, Any], as_of: _dt.date, item: Any) -> Any:
            a = env.get(lname)
            if a is None:
                return None
            b = env.get(rname)
            if b is None:
                return None
            a, b = float(a), float(b)
            return None if b == 0 else _tidy(a / b)
        return ratio
    calc = _CALC[op]

    def names(env: Mapping[str, Any], as_of: _dt.date, item: Any) -> Any:
        a = env.get(lname)
        if a is None:
            return None
        b = env.get(rname)
        if b is None:
            return None
        x = calc(float(a), float(b))
        # a whole number below 10¹² is its own 12-digit rounding (reference._tidy's first case)
        return x if x.is_integer() and -_WHOLE < x < _WHOLE else _tidy(x)
    return names


_CALC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul}


def _operand(t: ir.Term, name: str | None, const: Any, leaf: bool) -> Fn3:
    if leaf and name is None:
        return lambda env, as_of, item: const
    if leaf and name is not None:
        key: str = name
        return lambda env, as_of, item: env.get(key)
    return compile_formula(t)


def _min_max(t: ir.Fn) -> Fn3:
    """min/max of two terms: both evaluated (as compile_term does), then None if either is missing."""
    lf, rf = compile_formula(t.args[0]), compile_formula(t.args[1])
    lname, _, _ = _leaf(t.args[0])
    rconst_name, rconst, rleaf = _leaf(t.args[1])
    if (t.name == "min" and lname is not None and rleaf and rconst_name is None
            and type(rconst) in (int, float)):
        # min(count, 1): how the course counts a buying role as covered
        bound, key = float(rconst), lname

        def min_fact_const(env: Mapping[str, Any], as_of: _dt.date, item: Any) -> Any:
            a = env.get(key)
            return None if a is None else min(float(a), bound)
        return min_fact_const
    pick = min if t.name == "min" else max

    def min_max(env: Mapping[str, Any], as_of: _dt.date, item: Any) -> Any:
        a = lf(env, as_of, None)
        b = rf(env, as_of, None)
        if a is None or b is None:
            return None
        return pick(float(a), float(b))
    return min_max
