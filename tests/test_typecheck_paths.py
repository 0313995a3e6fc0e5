"""language/typecheck asks a comparison's guards (a date side, an enum against text) before its
class patterns: dates compared with text, text with dates, enums with words and quoted values,
and their errors must check as the patterns say (the typed result and each message and hint)."""
from __future__ import annotations

import datetime as _dt

import pytest

from kamrules.language import ir
from kamrules.language.parser import ParseError
from kamrules.language.typecheck import check_condition
from kamrules.rulebook import check as checkmod
from kamrules.rulebook.load import load_rulebook


@pytest.fixture(scope="module")
def scope():
    b = load_rulebook("course")
    return checkmod._scope(b.facts, b.params, b.metrics, b.derived, b.dimensions, b.scores)


def test_dates_with_text_either_side(scope) -> None:
    c = check_condition('team.plan_reviewed < "2026-03-01"', scope)
    assert c == ir.Cmp("<", scope.names["team.plan_reviewed"], ir.Const(_dt.date(2026, 3, 1), "date"))
    c = check_condition('"2026-03-01" > team.plan_reviewed', scope)
    assert c == ir.Cmp(">", ir.Const(_dt.date(2026, 3, 1), "date"), scope.names["team.plan_reviewed"])
    assert check_condition("team.plan_reviewed == analyses.industry", scope).op == "=="
    for src in ('team.plan_reviewed < "2026-13-01"', 'team.plan_reviewed < 3', '"x" < team.plan_reviewed'):
        with pytest.raises(ParseError) as e:
            check_condition(src, scope)
        assert e.value.hint, src


def test_enums_with_words_and_text(scope) -> None:
    # (the results and messages main gave before the guards were moved)
    fit, pressure = scope.names["strategic_fit"], scope.names["competition.price_pressure"]
    assert check_condition("strategic_fit == high", scope) == ir.Cmp("==", fit, ir.Const("high", "enum"))
    assert check_condition("strategic_fit == 'high'", scope) == ir.Cmp("==", fit, ir.Const("high", "string"))
    assert check_condition("competition.price_pressure == 'high'", scope) == ir.Cmp(
        "==", pressure, ir.Const("high", "enum"))
    assert check_condition("strategic_fit in ['low', medium]", scope) == ir.Or(
        (ir.Cmp("==", fit, ir.Const("low", "enum")), ir.Cmp("==", fit, ir.Const("medium", "enum"))))
    assert check_condition("competition.price_pressure == strategic_fit", scope) == ir.Cmp("==", pressure, fit)
    for src, msg in (("competition.price_pressure == 'hihg'", "'hihg' is not a value of competition.price_pressure"),
                     ("strategic_fit in ['hihg']", "'hihg' is not a value of strategic_fit"),
                     ("strategic_fit < high", "'<' cannot compare enum values"),
                     ("competition.price_pressure == team.incentives",
                      "'competition.price_pressure' and 'team.incentives' have different values")):
        with pytest.raises(ParseError) as e:
            check_condition(src, scope)
        assert e.value.message == msg, src
