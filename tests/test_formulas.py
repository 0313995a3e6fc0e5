"""Metric formulas compiled for build_facts (engine/formulas.py) give compile_term's values: the
reference compiler is their definition."""
from __future__ import annotations

import collections
import datetime as dt
import math
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import NUMERIC_REFS, fact_values, numeric_terms

from kamrules.engine.facts import build_facts
from kamrules.engine.formulas import compile_formula
from kamrules.engine.reference import compile_term
from kamrules.io.account import load_account
from kamrules.language import ir
from kamrules.rulebook.load import load_rulebook

AS_OF = dt.date(2026, 6, 30)

# the same names read as metrics (build_facts' environment holds both kinds)
_AS_METRIC = {n: ir.Ref(n, r.type, "metric") for n, r in NUMERIC_REFS.items()}


def _metric_refs(t: ir.Term) -> ir.Term:
    match t:
        case ir.Ref() if t.name in ("n", "k"):
            return _AS_METRIC[t.name]
        case ir.Arith():
            return ir.Arith(t.op, _metric_refs(t.left), _metric_refs(t.right), t.type)
        case ir.Fn():
            return ir.Fn(t.name, tuple(_metric_refs(a) for a in t.args), t.type)
        case _:
            return t


def _outcome(f: Any, env: dict[str, Any]) -> Any:
    try:
        return ("value", f(env, AS_OF, None))
    except Exception as e:  # the same failure, if any, on both sides
        return ("raised", type(e))


def _same(a: Any, b: Any) -> bool:
    if a[0] == "value" and isinstance(a[1], float) and isinstance(b[1], float) and math.isnan(a[1]):
        return math.isnan(b[1])
    return a == b and type(a[1]) is type(b[1]) and (
        not isinstance(a[1], float) or math.copysign(1, a[1]) == math.copysign(1, b[1]))


_REFS = st.sampled_from(tuple(NUMERIC_REFS.values()) + tuple(_AS_METRIC.values()))
_NUMBERS = st.one_of(st.integers(-3, 3), st.floats(-1e6, 1e6, allow_nan=False)).map(lambda x: ir.Const(x, "number"))
# the metric shapes the compiler specialises, given more often than numeric_terms draws them
_SHAPES = st.one_of(
    st.builds(lambda op, a, b: ir.Arith(op, a, b, "number"), st.sampled_from("+-*/"), _REFS, _REFS),
    st.builds(lambda f, a, b: ir.Fn(f, (a, b), "number"), st.sampled_from(("min", "max")), _REFS, _NUMBERS),
    st.builds(lambda op, a, b: ir.Arith(op, ir.Fn("min", (a, b), "number"), ir.Fn("min", (b, a), "number"), "number"),
              st.sampled_from("+-*/"), _REFS, _NUMBERS),
    st.builds(lambda a, c, b: ir.Arith("/", ir.Arith("-", a, c, "number"), b, "number"), _REFS, _NUMBERS, _REFS),
)

# extreme values: overflow to ±infinity (missing), zero divisors, whole numbers around 10¹²
_EDGES = st.sampled_from((0.0, -0.0, 1e12, -1e12, 1e12 - 1, 999999999999.5, 1e308, -1e308, 5e-324, 3.0, 7))


@settings(max_examples=500, deadline=None, derandomize=True)
@given(term=st.one_of(numeric_terms(3).map(_metric_refs), _SHAPES), values=fact_values(),
       edges=st.dictionaries(st.sampled_from(("n", "m", "p", "k")),
                             st.one_of(_EDGES, st.floats(-1e9, 1e9, allow_nan=False), st.integers(-50, 50)),
                             max_size=4))
def test_a_formula_is_what_compile_term_computes(term: ir.Term, values: dict[str, Any],
                                                   edges: dict[str, Any]) -> None:
    env = {**values, **edges}
    fast = compile_formula(term)
    got, expected = _outcome(fast, env), _outcome(compile_term(term), env)
    assert _same(got, expected), (ir.show(term), env, got, expected)


def test_the_course_metrics_are_compile_terms_values() -> None:
    """build_facts on every example account: each metric as compile_term computes it in order."""
    book = load_rulebook("course")
    for path in sorted(Path("examples/accounts").glob("*.yaml")):
        account = load_account(str(path), book)
        env = build_facts(account, book, AS_OF).env
        expected: dict[str, Any] = dict(account.values)
        for name in book.metric_order:
            m = book.metrics[name]
            value = compile_term(m.term)(expected, AS_OF, None)
            if type(value) is float and value - value != 0:
                value = None
            if value is not None:
                expected[name] = round(value) if m.type == "integer" and isinstance(value, float) else value
        for name in book.metric_order:
            assert env.get(name) == expected.get(name), (path, name)
            assert type(env.get(name)) is type(expected.get(name)), (path, name)


_GRID = (None, 0.0, -0.0, 0, 3, -7, 2.5, 0.1, 1e12, -1e12, 999999999999.5, 1234567890123.0, 1e308, -1e308, True)


def test_every_form_on_a_grid_of_values() -> None:
    """Each specialised shape, every pair of awkward values (missing, signed zeros, whole numbers
    at the rounding edge, overflow): compile_term's value, exactly."""
    n, m = ir.Ref("n", "number", "fact"), ir.Ref("m", "money", "metric")
    terms: list[ir.Term] = []
    for op in "+-*/":
        terms += [ir.Arith(op, n, m, "number"), ir.Arith(op, n, ir.Const(0.1, "number"), "number"),
                  ir.Arith(op, ir.Const(3, "integer"), m, "number"),
                  ir.Arith(op, ir.Arith("*", n, m, "number"), n, "number")]
    for f in ("min", "max"):
        terms += [ir.Fn(f, (n, ir.Const(1, "integer")), "number"), ir.Fn(f, (n, m), "number"),
                  ir.Fn(f, (ir.Arith("+", n, m, "number"), ir.Const(0.5, "number")), "number")]
    computed: collections.Counter[str] = collections.Counter()
    for t in terms:
        fast, slow = compile_formula(t), compile_term(t)
        for a in _GRID:
            for b in _GRID:
                env = {k: v for k, v in (("n", a), ("m", b)) if v is not None}
                got, expected = _outcome(fast, env), _outcome(slow, env)
                assert _same(got, expected), (ir.show(t), env, got, expected)
                computed[fast.__name__] += got[0] == "value" and got[1] is not None
    # not vacuous: every specialised closure computed values here, not a fallback to compile_term
    assert all(computed[f] >= 20 for f in ("names", "ratio", "arith", "divide", "min_max", "min_fact_const")), computed


def test_the_course_metrics_use_the_specialised_forms() -> None:
    book = load_rulebook("course")
    forms = collections.Counter(compile_formula(book.metrics[n].term).__name__ for n in book.metric_order)
    assert forms["ratio"] >= 5 and forms["names"] >= 3 and forms["arith"] >= 1, forms
