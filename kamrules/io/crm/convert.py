"""One export cell → the value kamrules reads: value maps, units, currencies and date orders.

Pure functions over a cell's value (text from CSV, numbers and dates from a workbook or JSON).
A value that cannot be read raises CellProblem with a stable code, a message, what was expected
and a hint; the caller adds the file:line:col.
"""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from typing import Any

from kamrules.core.errors import suggest
from kamrules.core.values import ValueProblem, parse_amount, parse_bool, parse_enum, parse_percent, within_dates
from kamrules.io.crm.mapping import ColumnSpec, MappingSpec, value_key

# How a cell may name its currency: a code before or after the number, a symbol that names one
# currency, or a qualified dollar sign (US$, HK$ …).
_CODE = re.compile(r"^\s*([A-Z]{3})\s*(?=[-+\d.,])|(?<=[\d.%万亿kKmMbB])\s*([A-Z]{3})\s*$")
_SYMBOLS = {"US$": "USD", "HK$": "HKD", "NT$": "TWD", "NZ$": "NZD", "AU$": "AUD", "A$": "AUD", "CA$": "CAD",
            "C$": "CAD", "SG$": "SGD", "S$": "SGD", "R$": "BRL", "MX$": "MXN", "€": "EUR", "£": "GBP", "₩": "KRW",
            "₹": "INR"}
_SYMBOLS_LONGEST_FIRST = sorted(_SYMBOLS.items(), key=lambda kv: -len(kv[0]))  # CA$ is not A$
# Signs several currencies write: "$" says dollars and "¥" yuan or yen, not which. The mapping's
# currency says which; one outside the family contradicts the cell, so the cell is refused rather
# than read as, say, 12,500 yuan (a US export in a mapping left at the rulebook's CNY).
FAMILIES: dict[str, tuple[str, frozenset[str]]] = {
    "$": ("dollars", frozenset({"USD", "HKD", "TWD", "NZD", "AUD", "CAD", "SGD", "MXN"})),
    "¥": ("yuan or yen", frozenset({"CNY", "JPY"})),
    "￥": ("yuan or yen", frozenset({"CNY", "JPY"})),
}
FAMILY_GUESS = {"$": "USD", "¥": "CNY", "￥": "CNY"}
_CURRENCY_WORDS = {"人民币": "CNY", "rmb": "CNY", "元": "CNY", "美元": "USD", "欧元": "EUR", "英镑": "GBP",
                   "港币": "HKD", "港元": "HKD", "日元": "JPY", "us dollar": "USD", "euro": "EUR",
                   "pound sterling": "GBP", "yuan renminbi": "CNY", "chinese yuan": "CNY", "hong kong dollar": "HKD"}
_DATE = re.compile(r"^(\d{1,4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,4})\s*日?$")
_BARE = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^[-+]?\.\d+$")
_EXCEL_EPOCH = _dt.date(1899, 12, 30)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:$|[T ]\d{2}:\d{2})")


class CellProblem(ValueError):
    def __init__(self, code: str, message: str, expected: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.expected, self.hint = code, message, expected, hint


def _from_value_problem(e: ValueProblem, code: str = "crm.value") -> CellProblem:
    return CellProblem(code, e.message, e.expected, e.hint)


def mapped(col: ColumnSpec, raw: Any) -> tuple[bool, Any]:
    """The value map's value for a cell, if the map names it."""
    if col.values:
        k = value_key(raw)
        if k in col.values:
            return True, col.values[k]
    return False, raw


# --------------------------------------------------------------------------- money

def cell_currency(text: str) -> tuple[str, str]:
    """(currency code the cell names, or "", or a sign of FAMILIES; the text without it)."""
    t = text.strip()
    for sym, code in _SYMBOLS_LONGEST_FIRST:
        if sym in t:
            return code, t.replace(sym, "").strip()
    m = _CODE.search(t)
    if m:
        code = m.group(1) or m.group(2)
        return code, (t[:m.start()] + t[m.end():]).strip()
    for word, code in _CURRENCY_WORDS.items():
        if t.lower().endswith(word) and len(t) > len(word):
            return code, t[: -len(word)].strip()
    for sign in FAMILIES:
        if sign in t:
            return sign, t.replace(sign, "").strip()
    return "", t


def money(raw: Any, col: ColumnSpec, currency: str, spec: MappingSpec,
          converted: dict[str, int] | None = None) -> float:
    """An amount in the rulebook's currency. `currency`: the row's or table's, unless the cell or
    the column says otherwise. `converted` counts the amounts converted, by currency."""
    if isinstance(raw, bool):
        raise CellProblem("crm.value", f"'{raw}' is not an amount", "an amount such as 1200000 or 120万")
    if isinstance(raw, (int, float)):
        try:  # a number from xlsx or JSON: the declared range first (a 400-digit int, 1e999, NaN)
            value, own = parse_amount(raw) * col.factor, ""
        except ValueProblem as e:
            raise _from_value_problem(e) from None
    else:
        own, text = cell_currency(str(raw))
        try:
            value = parse_amount(text)
        except ValueProblem as e:
            raise _from_value_problem(e) from None
        if _BARE.match(text.replace(" ", "")):
            value *= col.factor  # 1200 under 万 is 1200万; a cell that says 1200万 is read as written
    if own in FAMILIES:
        own = _in_family(own, raw, col.currency or currency or spec.book_currency, spec.book_currency)
    cur = own or col.currency or currency
    rate = spec.rate(cur)
    if rate is None:
        raise CellProblem("crm.currency", f"the amount is in {cur}, but the rulebook counts money in "
                          f"{spec.book_currency} and the mapping gives no rate for {cur}",
                          f"an amount in {spec.book_currency}, or a rate for {cur}",
                          f"add rates: {{{cur}: <{spec.book_currency} per {cur}>}} to the mapping")
    if converted is not None and cur in spec.rates and cur != spec.book_currency and spec.book_currency:
        converted[cur] = converted.get(cur, 0) + 1
    return round(value * rate, 6)


def _in_family(sign: str, raw: Any, declared: str, book: str) -> str:
    """The currency a "$" or "¥" cell is in: the one declared for it, if the sign can mean it."""
    name, members = FAMILIES[sign]
    if not declared or declared in members:
        return declared
    guess = FAMILY_GUESS[sign]
    raise CellProblem("crm.currency", f"'{raw}' is written in {name} ({sign}), but the mapping says these amounts "
                      f"are in {declared}", f"an amount in {declared}, or the currency the '{sign}' stands for",
                      f"say which currency the export is in: currency: {guess} (one of {', '.join(sorted(members))}) "
                      f"and rates: {{{guess}: <{book or declared} per {guess}>}}")


def currency_code(raw: Any) -> str:
    text = str(raw).strip()
    if re.fullmatch(r"[A-Za-z]{3}", text):
        return text.upper()
    word = _CURRENCY_WORDS.get(text.lower()) or _CURRENCY_WORDS.get(text) or _SYMBOLS.get(text)
    if word:
        return word
    raise CellProblem("crm.currency", f"'{text}' is not a currency code", "an ISO 4217 code such as CNY or USD")


def percent(raw: Any, col: ColumnSpec) -> float:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        try:  # the declared range, as for text
            return parse_amount(raw) / 100 if col.percent else parse_percent(raw)
        except ValueProblem as e:
            raise _from_value_problem(e) from None
    text = str(raw).strip()
    if col.percent and _BARE.match(text):
        text += "%"
    try:
        return parse_percent(text)
    except ValueProblem as e:
        raise _from_value_problem(e) from None


# --------------------------------------------------------------------------- dates

def date(raw: Any, order: str = "YMD") -> _dt.date:
    """A date as exports write them: a date, an ISO or Chinese date with or without a time,
    US (MDY) or European (DMY) text when the mapping says so, an Excel serial day number, or a
    Unix time (seconds or milliseconds, as CRM APIs give them). Within the declared date range
    (core/values.py): period arithmetic on 9999-12-31 overflows."""
    day = _date(raw, order)
    try:
        return within_dates(day, raw)
    except ValueProblem as e:
        raise _from_value_problem(e, "crm.date") from None


def _date(raw: Any, order: str) -> _dt.date:
    if isinstance(raw, _dt.datetime):
        return raw.date()
    if isinstance(raw, _dt.date):
        return raw
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return _number_date(float(raw))
    if isinstance(raw, str) and _ISO.match(raw):  # the common case, quickly: 2026-06-30 (and a time)
        try:
            return _dt.date(int(raw[:4]), int(raw[5:7]), int(raw[8:10]))
        except ValueError:
            pass  # the slow path says why
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return _number_date(float(text))
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        return _number_date(float(text))
    head = re.split(r"[T\s]", text, maxsplit=1)[0] if re.match(r"\d{4}-\d{2}-\d{2}T", text) else text
    head = re.sub(r"\s+\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([AaPp][Mm])?\s*([+-]\d{2}:?\d{2}|Z)?$", "", head)
    m = _DATE.match(head.strip())
    if not m:
        raise CellProblem("crm.date", f"'{raw}' is not a date", _order_example(order))
    a, b, c = m.group(1), m.group(2), m.group(3)
    if len(a) == 4:
        y, mo, d = int(a), int(b), int(c)
    elif len(c) in (2, 4):
        y = int(c) if len(c) == 4 else 2000 + int(c) if int(c) < 70 else 1900 + int(c)
        mo, d = (int(a), int(b)) if order == "MDY" else (int(b), int(a))
        if order == "YMD":
            raise CellProblem("crm.date", f"'{raw}' is not in year-month-day order", _order_example(order),
                              "if the export writes month/day/year, add dates: MDY to the mapping (DMY for "
                              "day/month/year)")
    else:
        raise CellProblem("crm.date", f"'{raw}' is not a date", _order_example(order))
    try:
        out = _dt.date(y, mo, d)
    except ValueError as e:
        hint = ""
        if order == "MDY" and mo > 12:
            hint = "the month is above 12: is the export in day/month/year order? (dates: DMY)"
        elif order == "DMY" and mo > 12:
            hint = "the month is above 12: is the export in month/day/year order? (dates: MDY)"
        raise CellProblem("crm.date", f"'{raw}' is not a real date ({e})", _order_example(order), hint) from None
    if not 1900 <= out.year <= 2200:
        raise CellProblem("crm.date", f"'{raw}' is not a plausible date", "a date between 1900 and 2200")
    return out


def _number_date(x: float) -> _dt.date:
    if 20_000 <= x <= 80_000:  # an Excel serial day number (1954 … 2119)
        return _EXCEL_EPOCH + _dt.timedelta(days=int(x))
    if 1e11 <= x < 1e14:  # Unix milliseconds
        return _dt.datetime.fromtimestamp(x / 1000, _dt.timezone.utc).date()
    if 1e8 <= x < 1e11:  # Unix seconds
        return _dt.datetime.fromtimestamp(x, _dt.timezone.utc).date()
    raise CellProblem("crm.date", f"{x:g} is not a date", "a date like 2026-06-30")


def _order_example(order: str) -> str:
    return {"YMD": "a date like 2026-06-30", "MDY": "a date like 6/30/2026 (month/day/year)",
            "DMY": "a date like 30/06/2026 (day/month/year)"}[order]


# --------------------------------------------------------------------------- words

# Stage and status words every CRM writes, whatever the mapping's value map says.
STATUS_WORDS = {
    "won": "won", "closed won": "won", "closedwon": "won", "win": "won", "赢单": "won", "赢": "won", "成交": "won",
    "已成交": "won", "赢单关闭": "won",
    "lost": "lost", "closed lost": "lost", "closedlost": "lost", "loss": "lost", "输单": "lost", "丢单": "lost",
    "输": "lost", "输单关闭": "lost", "丢单关闭": "lost",
    "open": "open", "进行中": "open", "跟进中": "open", "在跟": "open",
}


def stage(raw: Any, col: ColumnSpec, words: tuple[str, ...], labels: dict[str, Any]) -> str:
    """A deal's stage: the value map's word, else a stage word or label, else a common won/lost word."""
    hit, v = mapped(col, raw)
    if hit:
        return str(v)
    k = value_key(raw)
    for w in words:
        if k == w.casefold():
            return w
    if labels:
        try:
            return parse_enum(str(raw).strip(), labels)
        except ValueProblem:
            pass
    if k in STATUS_WORDS:
        return STATUS_WORDS[k]
    known = list(col.value_names) if col.value_names else list(words)
    raise CellProblem("crm.stage", f"the stage '{raw}' is not in the mapping's value map",
                      "one of " + ", ".join(known[:12]) + (" …" if len(known) > 12 else ""),
                      (suggest(str(raw), known) + " " if suggest(str(raw), known) else "")
                      + f"add it to the column's values: {{'{raw}': early | mid | late | won | lost}}")


def status(raw: Any, col: ColumnSpec) -> str:
    hit, v = mapped(col, raw)
    if hit:
        return str(v)
    k = value_key(raw)
    if k in STATUS_WORDS:
        return STATUS_WORDS[k]
    raise CellProblem("crm.status", f"the status '{raw}' is not won, lost or open",
                      "won, lost or open (or a value map: values: {…})",
                      f"add it to the column's values: {{'{raw}': won | lost | open}}")


def boolean(raw: Any, col: ColumnSpec) -> bool:
    hit, v = mapped(col, raw)
    if hit:
        return bool(v)
    try:
        return parse_bool(raw)
    except ValueProblem as e:
        raise _from_value_problem(e) from None
