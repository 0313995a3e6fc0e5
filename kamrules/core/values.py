"""Friendly values: '18%', '1,200,000', '1.2M', '120万', '1.2亿', ISO dates — parsed and formatted.

Pure functions, no I/O. Parsing raises ValueProblem with a message and a hint; the loaders
attach file:line.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from typing import TYPE_CHECKING, Any, Mapping

from kamrules.core.i18n import is_chinese
from kamrules.core.lazyre import LazyPattern
from kamrules.core.record import dataclass

if TYPE_CHECKING:
    from decimal import Decimal

SCALAR_TYPES = ("number", "integer", "money", "percent", "bool", "enum", "string", "date")
ALL_TYPES = SCALAR_TYPES + ("list",)
NUMERIC_TYPES = frozenset({"number", "integer", "money", "percent"})


class ValueProblem(ValueError):
    def __init__(self, message: str, hint: str = "", expected: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.expected = expected


class RangeProblem(ValueProblem):
    """A well-formed value outside the range kamrules computes with (loaders report *.range)."""


# ---------------------------------------------------------------------------- declared ranges
# Every number kamrules accepts — facts, parameters, range bounds, CSV cells, condition literals —
# is parsed here and must be one it can compute with and print:
# - |x| ≤ 10^15: 1,000万亿 is more than any company's revenue (world GDP is ~7×10^14 yuan); every
#   integer up to it is exact in a float (2^53 ≈ 9×10^15); and products of two such values, a
#   value × 100 for a percent, or a sum of 100,000 list items stay far below float overflow, so
#   no formatting or JSON ever meets Infinity.
# - a percent (as a fraction) within ±1000, i.e. ±100,000%: more than any growth or margin a
#   rule compares, and a bound that turns 1.7e308 % into an error instead of a crash.
# - dates from 1900-01-01 to 2200-12-31: as_of plus any due-date horizon or days_since() stays far
#   from date.max (9999-12-31), where date arithmetic raises OverflowError.
MAX_MAGNITUDE = 10 ** 15
MAX_PERCENT = 1000
DATE_MIN = _dt.date(1900, 1, 1)
DATE_MAX = _dt.date(2200, 12, 31)
NUMBER_RANGE = "a number between -10^15 and 10^15 (±1,000,000,000,000,000)"
PERCENT_RANGE = "a percent between -100,000% and 100,000%"
DATE_RANGE = f"a date between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}"


# Decimal is imported by the exact path, when a text reaches it: a plain number (plain_amount,
# plain_count) or an int never does, and importing decimal costs ~3.2 M instructions of every start
# (callgrind). So the multipliers are powers of ten here; exact_amount makes the Decimal.
_MULTIPLIER_POWERS: dict[str, int] = {
    "": 0, "k": 3, "K": 3, "千": 3, "m": 6, "M": 6, "mn": 6, "百万": 6, "b": 9, "B": 9, "bn": 9,
    "万": 4, "千万": 7, "亿": 8, "万亿": 12,
}
# The exact path's patterns, and the hints' below, are compiled on first use (core/lazyre.py): a
# course account's amounts are plain numbers, and these cost ~8 M instructions to compile.
_CURRENCY = LazyPattern(r"^(?:[¥￥$€]|CNY|RMB|USD|EUR)\s*|\s*(?:元|块|CNY|RMB|USD|EUR|人民币)$")
# the currency an amount names (parse_amount strips the mark; an account reader compares it with
# the rulebook's currency, so "USD 100" is never read as 100 元)
_NAMED_CODE = LazyPattern(r"^\s*([A-Z]{3})\s*(?=[-+\d.,])|(?<=[\d.%万亿kKmMbB])\s*([A-Z]{3})\s*$")
_NAMED_SIGNS = (("US$", "USD"), ("HK$", "HKD"), ("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "CNY"), ("￥", "CNY"),
                ("人民币", "CNY"), ("美元", "USD"), ("欧元", "EUR"), ("英镑", "GBP"), ("港币", "HKD"), ("港元", "HKD"),
                ("日元", "JPY"), ("元", "CNY"), ("块", "CNY"))
_CODE_ALIASES = {"RMB": "CNY"}
_NUMBER = LazyPattern(
    r"^(?P<sign>[-+]?)(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE](?P<exp>[-+]?\d+))?"
    r"\s*(?P<mult>万亿|千万|百万|[kKmMbB千万亿]|mn|bn)?$"
)
_FULLWIDTH = str.maketrans("０１２３４５６７８９．，－＋％", "0123456789.,-+%")

_TRUE = {"true", "yes", "y", "1", "是", "有", "对", "真"}
_FALSE = {"false", "no", "n", "0", "否", "无", "没有", "错", "假"}


def named_currency(text: str) -> str:
    """The ISO code of the currency an amount's text names ("USD 100", "$1.2M", "120万元"), or ""."""
    t = text.strip()
    # a code is three capitals: a text with none (120万, 12,000,000) is not searched, and the
    # pattern (~1.9 M instructions to compile, callgrind) is compiled when one comes
    m = _NAMED_CODE().search(t) if t != t.lower() else None
    if m:
        code = m.group(1) or m.group(2)
        return _CODE_ALIASES.get(code, code)
    return next((code for sign, code in _NAMED_SIGNS if sign in t), "")


def _finite(x: float, what: str) -> float:
    if not math.isfinite(x):
        raise ValueProblem(f"{what} must be a finite number, not {x}", hint="remove NaN/Infinity; leave the key out if unknown")
    return x


def _shown(raw: Any) -> str:
    """The value as the user wrote it, shortened: a 400-digit number is not printed whole."""
    text = str(raw).strip()
    if len(text) > 24:
        digits = sum(ch.isdigit() for ch in text)
        return f"{text[:12]}… ({digits} digits)" if digits > 20 else text[:24] + "…"
    return text


def _too_big(raw: Any) -> RangeProblem:
    return RangeProblem(f"'{_shown(raw)}' is outside the range kamrules computes with", expected=NUMBER_RANGE,
                        hint="numbers are at most 10^15 (1,000万亿); check for a typo or extra zeros")


def within_range(x: float | Decimal, raw: Any) -> None:
    """Raise RangeProblem unless |x| ≤ 10^15 (the one numeric range, see above)."""
    if not -MAX_MAGNITUDE <= x <= MAX_MAGNITUDE:
        raise _too_big(raw)


# What a CRM export's number cells mostly hold: ASCII digits, maybe a point, a minus, a power-of-ten
# multiplier (a (万元) column appends 万) or a percent sign, nothing else; and what rulebooks and
# account files write for larger amounts, the same with the digits grouped by commas in threes
# (12,000,000: all of the course's and the example accounts' texts that are not plain digits). Such
# a text is read without Decimal: its value is the decimal number "digits e shift" exactly (the
# commas dropped, as the exact path drops them), and float() of that text is the correctly rounded
# double of it — what float(Decimal) gives on the exact path, whose product and quotient are exact
# too (at most 27 digits, within Decimal's 28). At most 15 digits before the point after the shift,
# so the value is below 10^15 and in range.
_PLAIN_AMOUNT = re.compile(
    r"(-?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,15})(?:\.([0-9]{1,12}))?(万亿|千万|百万|[千万亿kKMB])?(%?)")
# a multiplier word or letter after a number → its power of ten (io/account reads units with it too)
SHIFTS = {None: 0, "千": 3, "k": 3, "K": 3, "万": 4, "百万": 6, "M": 6, "千万": 7, "亿": 8, "B": 9, "万亿": 12}


def plain_amount(text: str, allow_percent: bool = False) -> float | None:
    """parse_amount(text, allow_percent=…) for a plain number (_PLAIN_AMOUNT), without Decimal; None
    for any other text (then parse_amount's exact path decides, and says what is wrong).
    tests/test_values_fast.py holds it to the exact path on generated texts."""
    m = _PLAIN_AMOUNT.fullmatch(text)
    if m is None:
        return None
    sign, whole, frac, mult, percent = m.groups()
    if "," in whole:
        whole = whole.replace(",", "")
    shift = SHIFTS[mult]
    if percent:
        if not allow_percent:
            return None  # the exact path says why a percent is refused here
        shift -= 2
    if len(whole) + shift > 15:
        return None  # maybe beyond 10^15: the exact path checks the range
    return float(f"{sign}{whole}.{frac or '0'}e{shift}") + 0.0


def plain_count(text: str, whole: bool) -> float | int | None:
    """_parse_count(text, …) for ASCII digits alone (no unit, sign or point), else None."""
    if not (len(text) <= 15 and text.isdigit() and text.isascii()):  # 1 to 15 of 0-9: no ASCII digit is another
        return None
    return int(text) if whole else float(text) + 0.0


def parse_amount(raw: Any, *, allow_percent: bool = False) -> float:
    """A number in any friendly form, within ±10^15. Returns a float (ints stay integral-valued;
    -0.0 becomes 0.0, so nothing prints as '-0')."""
    if type(raw) is str:
        fast = plain_amount(raw, allow_percent)
        if fast is not None:
            return fast
    return exact_amount(raw, allow_percent=allow_percent)


def exact_amount(raw: Any, *, allow_percent: bool = False) -> float:
    """parse_amount the exact way (Decimal), for every form: the oracle of its fast path."""
    if isinstance(raw, bool):
        raise ValueProblem(f"expected a number, got {str(raw).lower()}", expected="a number")
    if isinstance(raw, int):
        within_range(raw, raw)  # before float(): a 400-digit int would raise OverflowError
        return float(raw) + 0.0
    if isinstance(raw, float):
        _finite(raw, "the value")
        within_range(raw, raw)
        return raw + 0.0
    if not isinstance(raw, str):
        raise ValueProblem(f"expected a number, got {type(raw).__name__}", expected="a number")
    from decimal import Decimal, InvalidOperation

    text = raw.strip().translate(_FULLWIDTH).replace("_", "").replace(" ", "")
    if not text:
        raise ValueProblem("expected a number, got an empty string", expected="a number")
    percent = text.endswith("%")
    if percent:
        if not allow_percent:
            raise ValueProblem(f"'{raw}' is a percent, but this value is a plain number",
                               hint="write it without %", expected="a number")
        text = text[:-1]
    currency = _CURRENCY()
    text = currency.sub("", text)
    text = currency.sub("", text)  # both a prefix and a suffix (¥12万元)
    m = _NUMBER().match(text)
    if not m:
        low = text.lower()
        if low in {"nan", "inf", "-inf", "+inf", "infinity", "-infinity", ".nan", ".inf"}:
            raise ValueProblem(f"'{raw}' is not a finite number", hint="leave the key out if the value is unknown")
        raise ValueProblem(f"'{_shown(raw)}' is not a number kamrules can read",
                           hint=amount_hint(raw, "number" if allow_percent else "money"), expected="a number")
    if len(m["num"]) > 64:  # more digits than any value in range can need: refuse before Decimal work
        raise _too_big(raw)
    try:
        value = Decimal(m["num"].replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise ValueProblem(f"'{raw}' is not a number") from None
    if m["exp"]:
        if abs(int(m["exp"])) > 30:
            raise _too_big(raw)
        value = value.scaleb(int(m["exp"]))
    value *= Decimal(10) ** _MULTIPLIER_POWERS[m["mult"] or ""]
    if m["sign"] == "-":
        value = -value
    if percent:
        value /= 100
    within_range(value, raw)
    return float(value) + 0.0


def parse_percent(raw: Any) -> float:
    """'18%' → 0.18; a bare number is already a fraction (0.18). Within ±100,000%."""
    try:
        value = parse_amount(raw, allow_percent=True)
    except RangeProblem:
        value = math.inf  # reported with the percent range below
    except ValueProblem as e:
        if "kamrules can read" not in e.message:
            raise
        raise ValueProblem(e.message, hint=amount_hint(raw, "percent"), expected="a percent") from None
    if abs(value) > MAX_PERCENT:
        raise RangeProblem(f"'{_shown(raw)}' is outside the range kamrules computes with", expected=PERCENT_RANGE,
                           hint="a bare number is a fraction (0.18 = 18%); check for a typo or extra zeros")
    return value


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueProblem(f"'{raw}' is not true or false", expected="true or false (是/否)")


def parse_date(raw: Any) -> _dt.date:
    """A date (ISO, 2026/3/1, 2026年3月1日, or a YAML date) within 1900-01-01 … 2200-12-31."""
    if isinstance(raw, _dt.datetime):
        return within_dates(raw.date(), raw.date().isoformat())
    if isinstance(raw, _dt.date):
        return within_dates(raw, raw.isoformat())
    text = str(raw).strip().translate(_FULLWIDTH)
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
    if not m:
        raise ValueProblem(f"'{raw}' is not a date", expected="a date like 2026-03-01")
    try:
        day = _dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as e:
        raise ValueProblem(f"'{raw}' is not a real date ({e})", expected="a date like 2026-03-01") from None
    return within_dates(day, raw)


def within_dates(day: _dt.date, raw: Any = None) -> _dt.date:
    """The date, if date arithmetic on it cannot overflow (see the declared ranges above)."""
    if not DATE_MIN <= day <= DATE_MAX:
        raise RangeProblem(f"'{raw if raw is not None else day}' is not a plausible date", expected=DATE_RANGE,
                           hint="check the year")
    return day


def parse_enum(raw: Any, values: Mapping[str, Any]) -> str:
    """An enum value by its name, case-insensitively, or by its zh/en label.

    The error speaks the input's language: for Chinese input the expected values are listed by
    their Chinese labels (names after them) and the suggestion is the nearest Chinese label
    (态度: 支持 → 支持者); for other input, the names and the nearest name or English label."""
    if isinstance(raw, bool) or raw is None:
        text = str(raw).lower()
    else:
        text = str(raw).strip()
    if text in values:
        return text
    for name, labels in values.items():
        names = _label_strings(labels)
        if text.lower() == name.lower() or text.lower() in (v.lower() for v in names):
            return name
    from kamrules.core.errors import suggest

    if is_chinese(text):
        zh = {_label(labels, "zh") or name: name for name, labels in values.items()}
        hint = suggest(text, zh)
        expected = "one of " + ", ".join(f"{label} ({name})" if label != name else name for label, name in zh.items())
    else:
        hint = suggest(text, values) or suggest(text, [_label(labels, "en") for labels in values.values()])
        expected = "one of " + ", ".join(values)
    raise ValueProblem(f"'{raw}' is not one of the allowed values", hint=hint, expected=expected)


def _label(labels: Any, lang: str) -> str:
    """One language's label of an enum value ('' when it has none)."""
    if isinstance(labels, Mapping):
        return str(labels.get(lang) or "")
    return str(getattr(labels, lang, "") or "")




def _label_strings(labels: Any) -> list[str]:
    """Labels as given: a {zh, en} mapping or a model.Text."""
    if isinstance(labels, Mapping):
        return [str(v) for v in labels.values() if v]
    return [v for v in (getattr(labels, "zh", ""), getattr(labels, "en", "")) if v]


def parse_integer(raw: Any) -> int:
    value = parse_amount(raw)
    if value != int(value):
        raise ValueProblem(f"'{raw}' is not a whole number", expected="a whole number")
    return int(value)


def _parse_count(raw: Any, type_: str, unit: str) -> float | int:
    if type(raw) is str:
        fast = plain_count(raw, type_ == "integer")  # digits carry no unit word: strip_unit would find none
        if fast is not None:
            return fast
    parse = parse_integer if type_ == "integer" else parse_amount
    bare = strip_unit(raw, unit) if isinstance(raw, str) else None
    try:
        return parse(raw if bare is None else bare)
    except RangeProblem:
        raise
    except ValueProblem as e:
        message = e.message if bare is None else e.message.replace(f"'{bare}'", f"'{_shown(raw)}'")
        expected = ("a whole number" if type_ == "integer" else "a number") + (f" of {unit}" if unit in UNITS else "")
        raise ValueProblem(message, hint=number_hint(type_, unit, raw), expected=expected) from None


def parse_string(raw: Any) -> str:
    if isinstance(raw, (dict, list)):
        raise ValueProblem("expected a text value, got a " + ("mapping" if isinstance(raw, dict) else "list"),
                           expected="text")
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, _dt.date):
        return raw.isoformat()
    return str(raw)


def parse_percent_setting(raw: Any) -> float:
    """A percent a rulebook *sets* (a parameter): '15%', or a bare fraction within ±1 (0.15).

    A bare number beyond ±1 is refused, not read as a fraction: `max_key_discount: 15` in an
    overlay means 15%, and reading it as 1500% silently switches the over-discount warning off.
    (An account's value is checked against its fact's declared range instead, with the same hint.)"""
    value = parse_percent(raw)
    bare = isinstance(raw, (int, float)) or (isinstance(raw, str) and not raw.strip().endswith(("%", "％")))
    if bare and abs(value) > 1:
        shown = _shown(raw)
        raise ValueProblem(f"{shown} is a bare number for a percent: as a fraction it would be {format_percent(value)}",
                           hint=f"did you mean {shown}%?", expected="a percent such as 15%, or a fraction within ±1 (0.15)")
    return value


# ---------------------------------------------------------------------------- units
# A count or a score may carry its unit, in Chinese or English, where the fact declares that
# unit: `90天` for days, `68分` for points, `第二台阶` for steps. A unit word the fact does not
# declare is refused, with a hint that names both units: 90天 is not a satisfaction score.

@dataclass(frozen=True)
class Unit:
    words: tuple[str, ...]  # what a value may end with (longest tried first)
    zh: str
    en: str
    example: str  # a plausible value, for hints


UNITS: dict[str, Unit] = {
    "days": Unit(("天", "日", "days", "day", "d"), "天", "days", "90"),
    "points": Unit(("分", "points", "point", "pts", "pt"), "分", "points", "68"),
    "steps": Unit(("台阶", "步", "级", "阶", "steps", "step"), "台阶", "steps", "2"),
    "years": Unit(("年", "years", "year", "yrs"), "年", "years", "6"),
    "people": Unit(("人", "people", "persons", "person"), "人", "people", "200"),
    "orders": Unit(("笔", "单", "orders", "order"), "笔", "orders", "46"),
}
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_number(text: str) -> int | None:
    """一 … 九十九 written in Chinese numerals (enough for steps, years and scores), else None."""
    if not text or any(ch not in _CN_DIGITS and ch != "十" for ch in text):
        return None
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def unit_in(text: str) -> str:
    """The declared unit whose word a value ends with ('' for none): '90天' → 'days'."""
    t = text.strip().translate(_FULLWIDTH).lower()
    if not t or not (t[0].isdigit() or t[0] in _CN_DIGITS or t[0] in "十第" or t.startswith("step")):
        return ""
    for name, u in UNITS.items():
        if any(t.endswith(w.lower()) and t != w.lower() for w in u.words):
            return name
    return "steps" if t.startswith(("第", "step")) else ""


def strip_unit(text: str, unit: str) -> str | None:
    """The number of a value written with the fact's unit ('90天' → '90', '第二台阶' → '2',
    'step 3' → '3'), or None when the value carries no unit."""
    u = UNITS.get(unit)
    if u is None:
        return None
    t = text.strip().translate(_FULLWIDTH)
    low = t.lower()
    head = None
    if unit == "steps":
        m = re.fullmatch(r"steps?\s*(\d+)", low)
        if m:
            return m[1]
    for w in sorted(u.words, key=len, reverse=True):
        if low.endswith(w.lower()) and len(low) > len(w):
            head = t[: len(t) - len(w)].strip()
            break
    if head is None:
        if not (unit == "steps" and t.startswith("第")):
            return None
        head = t
    if unit == "steps" and head.startswith("第"):
        head = head[1:].strip()
    n = _cn_number(head)
    return str(n) if n is not None else head


def number_hint(type_: str, unit: str, raw: Any) -> str:
    """How to write a count or score, in the language of the input (never the money hint: 90天
    for a count of days is not an amount)."""
    text = str(raw)
    zh = is_chinese(text)
    u = UNITS.get(unit)
    example = u.example if u else "3"
    whole = type_ == "integer"
    other = unit_in(text) if isinstance(raw, str) else ""
    if other and other != unit:
        o = UNITS[other]
        if zh:
            where = f"的单位是{u.zh}，不是{o.zh}" if u else f"不带单位（不以{o.zh}计）"
            return f"这一项{where}：请只写{'整数' if whole else '数字'}，例如 {example}"
        where = f"is counted in {u.en}, not {o.en}" if u else f"has no unit ({o.en} do not apply)"
        return f"this value {where}: write {'a whole number' if whole else 'a number'} such as {example}"
    if zh:
        unit_text = f"（单位：{u.zh}，可写作 {example}{u.zh}）" if u else ""
        return f"请写{'整数' if whole else '数字'}{unit_text}，例如 {example}"
    unit_text = f" of {u.en} (or {example}{u.zh})" if u else ""
    return f"write {'a whole number' if whole else 'a number'}{unit_text}, e.g. {example}"


_DECIMAL_COMMA = LazyPattern(r"[-+]?\d+,\d+\s*[^\W\d_]*%?")  # one comma, not before a group of three
# 1.234.567,50 or 2.000.000: points that group thousands (a European export); one point alone
# (1.234) is a decimal and reads as one
_POINT_GROUPS = LazyPattern(r"[-+]?\d{1,3}(?:\.\d{3})+,\d+%?|[-+]?\d{1,3}(?:\.\d{3}){2,}%?|[-+]?\d{1,3}\.\d{3},\d+%?")


def amount_hint(raw: Any, type_: str) -> str:
    """How to write an amount of money (type_ money), a percent (percent) or either (number: a
    condition's literal), in the language of the input. A value carrying a unit of counts
    (90天, 68分) is told it is not counted in it, rather than only shown the money hint."""
    from kamrules.core.i18n import t

    text = str(raw)
    lang = "zh" if is_chinese(text) else "en"
    unit = unit_in(text) if isinstance(raw, str) else ""
    if _DECIMAL_COMMA().fullmatch(text.strip()):  # 1,5 · 18,5%: a comma only groups thousands here
        return t("value.decimal_comma", lang, point=text.strip().replace(",", "."))
    if _POINT_GROUPS().fullmatch(text.strip()):
        return t("value.point_groups", lang, point=text.strip().replace(".", "").replace(",", "."))
    if unit:
        shown = UNITS[unit].zh if lang == "zh" else UNITS[unit].en
        if type_ == "percent":
            return t("value.percent_not_in_unit", lang, unit=shown)
        return t("value.amount_not_in_unit", lang, unit=shown)
    if type_ == "percent":
        return t("value.percent_hint", lang)
    return t("value.number_hint" if type_ == "number" else "value.amount_hint", lang)


def parse_scalar(raw: Any, type_: str, enum_values: Mapping[str, Any] | None = None, *,
                 setting: bool = False, unit: str = "") -> Any:
    """A value of a declared type. setting=True: a value a rulebook sets (parameters), where a
    percent must carry its % unless it is a fraction within ±1. unit: the fact's unit, which a
    count or score may carry (90天, 68分, 第二台阶)."""
    if type_ == "money":
        return parse_amount(raw)
    if type_ == "percent":
        return parse_percent_setting(raw) if setting else parse_percent(raw)
    if type_ in ("number", "integer"):
        return _parse_count(raw, type_, unit)
    if type_ == "bool":
        return parse_bool(raw)
    if type_ == "date":
        return parse_date(raw)
    if type_ == "enum":
        return parse_enum(raw, enum_values or {})
    if type_ == "string":
        return parse_string(raw)
    raise ValueProblem(f"unknown type {type_}")  # pragma: no cover - types are validated at load


# ---------------------------------------------------------------------------- formatting

def _trim(s: str) -> str:
    return s.rstrip("0").rstrip(".") if "." in s else s


_NONZERO = LazyPattern(r"[1-9]")  # only for a text that starts with a minus


def _no_negative_zero(text: str) -> str:
    """'-0', '-0%', '-0.0' → without the sign: a value that rounds to zero is shown as zero."""
    return text[1:] if text.startswith("-") and not _NONZERO().search(text) else text


def format_money(x: float, lang: str = "en", *, exact: bool = False) -> str:
    """zh: 1,200 / 120万 / 1.2亿; en: 12,000 / 1.2M / 1.2B. exact=True round-trips through parse."""
    return _no_negative_zero(_format_money(x, lang, exact))


def _format_money(x: float, lang: str, exact: bool) -> str:
    sign = "-" if x < 0 else ""
    a = abs(x)
    digits = 12 if exact else 2
    if lang == "zh":
        if a >= 1e8:
            return f"{sign}{_trim(f'{a / 1e8:.{digits}f}')}亿"
        if a >= 1e4:
            return f"{sign}{_trim(f'{a / 1e4:.{digits}f}')}万"
    else:
        if a >= 1e9:
            return f"{sign}{_trim(f'{a / 1e9:.{digits}f}')}B"
        if a >= 1e6:
            return f"{sign}{_trim(f'{a / 1e6:.{digits}f}')}M"
    if exact:
        return f"{sign}{_trim(f'{a:,.{digits}f}')}"
    return f"{sign}{a:,.0f}" if a >= 100 or a == int(a) else f"{sign}{_trim(f'{a:,.2f}')}"


def format_percent(x: float, *, exact: bool = False) -> str:
    if exact:
        return _no_negative_zero(_trim(f"{x * 100:.12f}") + "%")
    pct = x * 100
    if not math.isfinite(pct):  # a finite ratio near the float limit (1e307 of a tiny base): × 100 overflows
        if math.isnan(x):
            return "?%"
        if math.isinf(x):  # a ratio of figures at the float limits: shown, never a crash in a playbook
            return "-∞%" if x < 0 else "∞%"
        mantissa, exp = f"{x:.2e}".split("e")
        return f"{_trim(mantissa)}e{int(exp) + 2:+d}%"
    return _no_negative_zero((f"{pct:.0f}" if abs(pct - round(pct)) < 0.05 else f"{pct:.1f}") + "%")


def format_points(x: float, lang: str = "en") -> str:
    """A difference of two percents in percentage points: 0.07 → '7 个百分点' / '7 pp' (never '7%',
    which reads as a share)."""
    n = format_percent(x)[:-1]
    return f"{n} 个百分点" if lang == "zh" else f"{n} pp"


def format_number(x: float) -> str:
    if float(x).is_integer():
        return f"{int(x):,}"
    return _no_negative_zero(_trim(f"{x:,.2f}"))


def format_value(x: Any, type_: str, lang: str = "en") -> str:
    if x is None:
        return "—"
    if type_ == "money":
        return format_money(float(x), lang)
    if type_ == "percent":
        return format_percent(float(x))
    if type_ in ("number", "integer"):
        return format_number(float(x))
    if type_ == "bool":
        return ("是" if x else "否") if lang == "zh" else ("yes" if x else "no")
    if isinstance(x, _dt.date):
        return x.isoformat()
    if isinstance(x, list):
        return ", ".join(format_value(v, "string", lang) for v in x)
    return str(x)
