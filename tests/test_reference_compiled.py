"""The reference engine's compiled closures agree with the tree-walking evaluator."""
from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import conditions, fact_values

from kamrules.engine.reference import BOUNDS, Context, compile_cond, compile_fires, eval_cond
from kamrules.language import ir

AS_OF = dt.date(2026, 6, 30)


@settings(max_examples=300)
@given(cond=conditions(), values=fact_values())
def test_compiled_conditions_agree_with_the_tree_walker(cond: Any, values: dict[str, Any]) -> None:
    assert compile_cond(cond)(values, AS_OF, None) == eval_cond(cond, Context(values, AS_OF))


class _Oracle:
    """Stands in for an account's Bounds: decides a comparison true, false or not at all, by a
    seeded hash of its text, whatever its values (compile_fires must not care how it decides)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.asked = 0

    def decide(self, c: Any) -> bool | None:
        self.asked += 1
        return (None, True, False)[zlib.crc32(f"{self.seed}:{ir.show(c)}".encode()) % 3]


def test_fires_is_the_condition_being_true_whatever_the_bounds_decide() -> None:
    """compile_fires asks the bounds fewer questions (only where the rule could still be true) and
    gives the answer of the condition evaluated with every question asked; the comparisons bounds
    may decide are chosen by a hash too, so some parts of a junction are bounded and some not."""
    seen = {"asked and true": 0, "asked and not true": 0}
    junctions = st.lists(conditions(4), min_size=2, max_size=4).flatmap(
        lambda xs: st.sampled_from((ir.And(tuple(xs)), ir.Or(tuple(xs)))))

    @settings(max_examples=600, deadline=None, derandomize=True)
    @given(cond=st.one_of(conditions(), junctions), values=fact_values(), seed=st.integers(0, 2**16),
           bounds=st.booleans(), which=st.integers(0, 2**16))
    def prop(cond: Any, values: dict[str, Any], seed: int, bounds: bool, which: int) -> None:
        def may_bound(c: Any) -> bool:
            return zlib.crc32(f"{which}:{ir.show(c)}".encode()) % 4 != 0

        env: dict[str, Any] = dict(values)
        oracle = _Oracle(seed)
        if bounds:
            env[BOUNDS] = oracle
        expected = compile_cond(cond, may_bound)(env, AS_OF, None) is True
        oracle.asked = 0
        got = compile_fires(cond, may_bound)(env, AS_OF, None)
        assert got is expected
        if oracle.asked:
            seen["asked and true" if got else "asked and not true"] += 1

    prop()
    # not vacuous: the bounds were asked, and both answers came out of it
    assert seen["asked and true"] >= 20 and seen["asked and not true"] >= 20, seen


def test_fires_does_not_ask_the_bounds_when_another_part_is_false() -> None:
    """The point of compile_fires: `n > 5 and s == "x"` with n missing and s another text asks nothing."""
    cond = ir.And((ir.Cmp(">", ir.Ref("n", "number", "fact"), ir.Const(5.0, "number")),
                   ir.Cmp("==", ir.Ref("s", "string", "fact"), ir.Const("x", "string"))))
    oracle = _Oracle(0)
    env = {"s": "y", BOUNDS: oracle}
    assert compile_fires(cond, lambda c: c.op == ">")(env, AS_OF, None) is False
    assert oracle.asked == 0
    assert compile_cond(cond, lambda c: c.op == ">")(env, AS_OF, None) is False
    assert oracle.asked == 1  # the plain compiled condition asks before it meets the false part
