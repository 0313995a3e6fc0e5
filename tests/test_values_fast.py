"""The fast paths of number parsing (core/values.py plain_amount, plain_count) give exactly what
the exact path (Decimal) gives, on texts built to sit on and around their edges."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kamrules.core.values import (
    ValueProblem,
    exact_amount,
    parse_amount,
    parse_scalar,
    plain_amount,
    plain_count,
    strip_unit,
)

_MULTS = ["", "", "", "万", "千", "百万", "千万", "亿", "万亿", "k", "K", "M", "B", "m", "b", "mn", "bn", "元", "万元"]
_DIGITS = st.text(st.sampled_from("0123456789"), min_size=1, max_size=22)
# digits grouped by commas, in threes or not (12,000,000 · 1,2345 · ,123 · 1,,000)
_GROUPED = st.lists(st.text(st.sampled_from("0123456789"), min_size=0, max_size=4), min_size=2, max_size=7).map(",".join)
# mostly plain numbers, sometimes with what the fast path must leave to the exact one
AMOUNTS = st.builds(
    lambda sign, whole, frac, mult, pct, pad: f"{pad}{sign}{whole}{frac}{mult}{pct}",
    st.sampled_from(["", "", "", "-", "+", "−"]),
    _DIGITS | st.sampled_from(["0", "00", "1,234", "٣", "１２"]) | _GROUPED,
    st.sampled_from(["", ""]) | _DIGITS.map(lambda d: "." + d) | st.sampled_from([".", ".5e3", "e5"]),
    st.sampled_from(_MULTS),
    st.sampled_from(["", "", "%"]),
    st.sampled_from(["", "", "", " ", "\t"]),
)


def _outcome(f: Any, *args: Any, **kw: Any) -> Any:
    try:
        return "value", f(*args, **kw)
    except ValueProblem as e:
        return "problem", type(e).__name__, e.message, e.hint, e.expected


@settings(max_examples=1200, deadline=None, derandomize=True)
@given(AMOUNTS, st.booleans())
@example("36.16万", False)
@example("-0", False)
@example("-0.0%", True)
@example("999999999999999", False)
@example("99999999999.9999万", False)
@example("0.000000000001亿", False)
@example("123456789012345.123456789012", False)
@example("1e3", False)
@example("12,000,000", False)
@example("-1,234.5万", False)
@example("0,000", False)
@example("999,999,999,999,999", False)
@example("1,000,000,000,000,000", False)
@example("99,999,999,999.9999万", False)
@example("1,200%", False)
@example("1,200.5%", True)
def test_plain_amounts_are_read_as_the_exact_path_reads_them(text: str, allow_percent: bool) -> None:
    fast = plain_amount(text, allow_percent)
    exact = _outcome(exact_amount, text, allow_percent=allow_percent)
    if fast is not None:
        assert exact == ("value", fast), (text, fast, exact)
        assert repr(fast) == repr(exact[1])  # 0.0, never -0.0
    assert _outcome(parse_amount, text, allow_percent=allow_percent) == exact


def test_the_fast_path_takes_what_exports_hold() -> None:
    """Not vacuous: the cells of a CRM export do take it (the point of it)."""
    for text in ("36.16万", "391.63万", "1054", "0.5", "-12.5", "18%", "120万", "1.2亿", "0", "1,200", "12,000,000"):
        assert plain_amount(text, True) is not None, text
    for text in (" 5", "+5", "5 万", "1e3", "¥5", "5元", "１２", "12.", ".5", "1" * 16, "1,20", "12,00,000", ",120",
                 "1,2000", "1000,000", "1,000,000,000,000,000"):
        assert plain_amount(text, True) is None, text


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.text(st.sampled_from("0123456789-+., 人天d万"), min_size=0, max_size=18) | _DIGITS,
       st.sampled_from(["integer", "number"]), st.sampled_from(["", "people", "days", "steps", "orders"]))
def test_plain_counts_are_read_as_the_exact_path_reads_them(text: str, type_: str, unit: str) -> None:
    fast = plain_count(text, type_ == "integer")
    if fast is not None:
        # the exact path: _parse_count strips a unit word (digits carry none), then Decimal
        assert strip_unit(text, unit) is None
        value = exact_amount(text)
        exact = int(value) if type_ == "integer" else value
        assert fast == exact and type(fast) is type(exact), (text, fast, exact)
        assert parse_scalar(text, type_, unit=unit) == fast
    else:
        assert _outcome(parse_scalar, text, type_, unit=unit)[0] in ("value", "problem")


@pytest.mark.parametrize("text", ["", "٣", "１２", "1²", "1" * 16, "+1", " 1", "1 "])
def test_plain_counts_leave_other_digits_to_the_exact_path(text: str) -> None:
    assert plain_count(text, True) is None and plain_count(text, False) is None


@pytest.mark.parametrize("text", ["007", "0", "999999999999999"])
def test_plain_integer_counts_are_ints(text: str) -> None:
    assert plain_count(text, True) == int(text) and type(plain_count(text, True)) is int
