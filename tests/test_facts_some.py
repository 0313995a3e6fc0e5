"""engine/facts.some_values — the first pass of a ranked run computes only the metrics its
measures need — gives each of them as build_facts does, on the course's generated accounts."""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

from hypothesis import given, settings
from strategies import PROPERTY, account_data, dump

from kamrules.engine.facts import build_facts, some_values
from kamrules.io.account import load_account
from kamrules.portfolio import rank
from kamrules.rulebook.load import load_rulebook

AS_OF = dt.date(2026, 6, 30)


def test_some_values_are_build_facts_values() -> None:
    course = load_rulebook("course")
    wanted = rank.wanted(course.playbook.portfolio)
    metrics = tuple(course.metrics)
    seen = 0

    @settings(PROPERTY, max_examples=60)
    @given(account_data(course))
    def prop(data: dict[str, Any]) -> None:
        nonlocal seen
        account = load_account("acc.yaml", course, text=dump(data))
        env = build_facts(account, course, AS_OF).env
        for names in (wanted, metrics, metrics[-3:], metrics[:2]):
            got = some_values(account, course, AS_OF, names)
            for n in names:
                assert got.get(n) == env.get(n) and type(got.get(n)) is type(env.get(n)), n
                seen += n in env and n in course.metrics
        # what the first pass sends back: NaN where a measure is missing (compared as text)
        expected = tuple(float(env[n]) if isinstance(env.get(n), (int, float)) and not isinstance(env.get(n), bool)
                         else math.nan for n in wanted)
        assert repr(rank.measure_values(account, course, AS_OF, wanted)) == repr(expected)

    prop()
    assert seen > 0

