"""The reference engine's compiled closures agree with the tree-walking evaluator."""
from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from strategies import conditions, fact_values

from kamrules.engine.reference import Context, compile_cond, eval_cond

AS_OF = dt.date(2026, 6, 30)


@settings(max_examples=300)
@given(cond=conditions(), values=fact_values())
def test_compiled_conditions_agree_with_the_tree_walker(cond: Any, values: dict[str, Any]) -> None:
    assert compile_cond(cond)(values, AS_OF, None) == eval_cond(cond, Context(values, AS_OF))
