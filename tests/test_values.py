from __future__ import annotations

import datetime as dt

import pytest

from kamrules.core.values import (
    ValueProblem,
    format_money,
    format_percent,
    parse_amount,
    parse_bool,
    parse_date,
    parse_enum,
    parse_integer,
    parse_percent,
)


@pytest.mark.parametrize("text,value", [
    ("1,200,000", 1_200_000), ("1.2M", 1_200_000), ("120万", 1_200_000), ("1.2亿", 120_000_000),
    ("12万元", 120_000), ("¥1.2M", 1_200_000), ("300k", 300_000), ("３００万", 3_000_000), ("-5", -5),
    (12, 12), (0.5, 0.5), ("1e3", 1000), ("1.5 千万", 15_000_000),
])
def test_amounts(text, value):
    assert parse_amount(text) == pytest.approx(value)


@pytest.mark.parametrize("text,value", [("18%", 0.18), ("0.18", 0.18), (0.18, 0.18), ("18％", 0.18), ("-100%", -1.0)])
def test_percents(text, value):
    assert parse_percent(text) == pytest.approx(value)


@pytest.mark.parametrize("bad,words", [
    ("12万元x", "not a number"), ("NaN", "finite"), ("inf", "finite"), ("", "empty"), (True, "got true"),
])
def test_bad_amounts(bad, words):
    with pytest.raises(ValueProblem) as e:
        parse_amount(bad)
    assert words in e.value.message


def test_percent_sign_on_plain_number_is_refused():
    with pytest.raises(ValueProblem) as e:
        parse_amount("18%")
    assert "write it without %" in e.value.hint


def test_dates_and_bools_and_enums():
    assert parse_date("2026-03-01") == dt.date(2026, 3, 1)
    assert parse_date("2026年3月1日") == dt.date(2026, 3, 1)
    with pytest.raises(ValueProblem, match="not a real date"):
        parse_date("2026-02-30")
    assert parse_bool("是") is True and parse_bool("no") is False
    values = {"high": type("T", (), {})}  # labels mapping is only read through .values()
    assert parse_enum("HIGH", {"high": {"zh": "高", "en": "High"}}) == "high"
    assert parse_enum("高", {"high": {"zh": "高", "en": "High"}}) == "high"
    with pytest.raises(ValueProblem) as e:
        parse_enum("hgh", {"high": {}, "low": {}})
    assert e.value.hint == "did you mean 'high'?"
    del values


def test_integer():
    assert parse_integer("1,200") == 1200
    with pytest.raises(ValueProblem, match="whole number"):
        parse_integer("3.5")


def test_formatting_per_language():
    assert format_money(12_000_000, "zh") == "1200万"
    assert format_money(120_000_000, "zh") == "1.2亿"
    assert format_money(12_000_000, "en") == "12M"
    assert format_money(12_000, "en") == "12,000"
    assert format_percent(0.225) == "22.5%"
    assert format_percent(0.15) == "15%"


def test_enum_by_label_with_model_text():
    from kamrules.rulebook.model import Text

    assert parse_enum("高", {"high": Text(zh="高", en="High")}) == "high"


def test_arithmetic_lands_exactly_on_thresholds():
    import datetime as dt

    from kamrules.engine.reference import Context, eval_term
    from kamrules.language import ir

    t = ir.Arith("-", ir.Const(0.17, "percent"), ir.Const(0.15, "percent"), "percent")
    assert eval_term(t, Context({}, dt.date(2026, 1, 1))) == 0.02
    r = ir.Arith("-", ir.Arith("/", ir.Const(11e6, "money"), ir.Const(10e6, "money"), "number"), ir.Const(1.0, "number"), "number")
    assert eval_term(r, Context({}, dt.date(2026, 1, 1))) == 0.1


def test_format_percent_of_a_ratio_near_the_float_limit():
    # 0.6 / 2.2e-308 is finite, but × 100 is not: written in powers of ten, never an OverflowError
    from kamrules.core.values import format_percent

    assert format_percent(2.7e307) == "2.7e+309%" and format_percent(-2.7e307) == "-2.7e+309%"
    assert format_percent(float("inf")) == "∞%" and format_percent(float("nan")) == "?%"
