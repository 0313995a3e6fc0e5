"""The closures the pipeline runs instead of tree walks agree with the tree walkers: compiled
terms (functions, aggregates), `compile_holds` (does a condition hold?) and compiled evidence
(engine/trace.py) against reference.eval_term, eval_cond and trace."""
from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import ITEM_TAG, ITEM_V, ITEMS, conditions, fact_values, numeric_consts, numeric_terms

from kamrules.engine.reference import Context, compile_cond, compile_holds, compile_term, eval_term, trace
from kamrules.engine.trace import compile_evidence, evidence
from kamrules.language import ir

AS_OF = dt.date(2026, 6, 30)
IT = ir.Ref("it", "string", "item")
TEXTS = ("x", "y", "z", "", "中")


def item_conditions() -> st.SearchStrategy[ir.Cond]:
    """Conditions on one item of a list, including `tag in [x, y]` (an `or` of equalities) and
    tests that do not fit the one-lookup shape (mixed fields, numbers, negations)."""
    leaf = st.one_of(
        st.builds(lambda op, v: ir.Cmp(op, ITEM_TAG, ir.Const(v, "enum")), st.sampled_from(("==", "!=")),
                  st.sampled_from(TEXTS)),
        st.builds(lambda op, c: ir.Cmp(op, ITEM_V, c), st.sampled_from(("==", "!=", "<", ">=")), numeric_consts()),
        st.builds(lambda v: ir.Cmp("==", IT, ir.Const(v, "string")), st.sampled_from(TEXTS)),
        st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3).map(
            lambda vs: ir.Or(tuple(ir.Cmp("==", ITEM_TAG, ir.Const(v, "enum")) for v in vs))),
        st.booleans().map(ir.Truth),
    )
    return st.recursive(leaf, lambda sub: st.one_of(
        st.lists(sub, min_size=2, max_size=3).map(lambda xs: ir.And(tuple(xs))),
        st.lists(sub, min_size=2, max_size=3).map(lambda xs: ir.Or(tuple(xs))),
        sub.map(ir.Not)), max_leaves=6)


ITEM = st.one_of(
    st.fixed_dictionaries({}, optional={"v": st.one_of(st.floats(-10, 10, allow_nan=False), st.integers(-3, 3),
                                                       st.booleans(), st.just("1")),
                                        "tag": st.one_of(st.sampled_from(TEXTS), st.integers(0, 1), st.booleans())}),
    st.sampled_from(TEXTS), st.integers(0, 2))


@settings(max_examples=300)
@given(term=numeric_terms(), values=fact_values())
def test_compiled_terms_agree_with_the_tree_walker(term: ir.Term, values: dict[str, Any]) -> None:
    assert compile_term(term)(values, AS_OF, None) == eval_term(term, Context(values, AS_OF))


@settings(max_examples=300)
@given(body=item_conditions(), items=st.lists(ITEM, max_size=5))
def test_holds_is_the_condition_being_true(body: ir.Cond, items: list[Any]) -> None:
    values = {"items": tuple(items)}
    count = ir.Agg("count", ITEMS, body, "integer")
    assert compile_term(count)(values, AS_OF, None) == eval_term(count, Context(values, AS_OF))
    for i in items:
        item = i if isinstance(i, dict) else {"__it__": i}
        assert compile_holds(body)(values, AS_OF, item) is (compile_cond(body)(values, AS_OF, item) is True)


@settings(max_examples=300)
@given(cond=conditions(), values=fact_values())
def test_compiled_evidence_is_the_traced_literals_that_held(cond: ir.Cond, values: dict[str, Any]) -> None:
    ctx = Context(values, AS_OF)
    for c in (cond, ir.nnf(cond)):
        value, lits = trace(c, ctx)
        assert compile_evidence(c)(values, AS_OF) == (value, tuple(lit for lit in lits if lit.outcome is True))


def test_evidence_of_a_negated_test_is_kept_only_in_negation_normal_form() -> None:
    cond = ir.Not(ir.Cmp(">", ir.Ref("n", "number", "fact"), ir.Const(5.0, "number")))
    assert evidence(cond, {"n": 3.0}, AS_OF) == ()
    (lit,) = evidence(ir.nnf(cond), {"n": 3.0}, AS_OF)
    assert (lit.fact, lit.op, lit.value, lit.against, lit.text) == ("n", "<=", 3.0, 5.0, "n <= 5")
