"""Words for partial and surprising data, in zh and en: a comparison decided by bounds although a
fact is missing ("whatever the rebates are (≥ 0), margin after cost to serve is at most −2.1M:
< 0 holds"), and a value outside its plausible range (a data check).

Shared by `explain` (advice/explain.py), the evidence the playbook shows, and the JSON output.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from kamrules.core import i18n
from kamrules.core.values import format_value
from kamrules.engine.facts import DataCheck
from kamrules.language import ir
from kamrules.language.intervals import Interval
from kamrules.rulebook.model import Rulebook

_OPS_ZH = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤", ">": ">", "<": "<"}
_OPS_EN = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤", ">": ">", "<": "<"}


def label(book: Rulebook, name: str, lang: str) -> str:
    """The declared label (en: lower-cased first letter, as it reads inside a sentence)."""
    for table in (book.facts, book.metrics, book.dimensions, book.scores, book.derived):
        if name in table:
            text: str = table[name].label.get(lang) or name
            if lang != "zh" and len(text) > 1 and text[1].islower():
                text = text[0].lower() + text[1:]
            return text
    return name


def _type_of(book: Rulebook, name: str, default: str = "number") -> str:
    if name in book.facts:
        return book.facts[name].type
    if name in book.metrics:
        return book.metrics[name].type
    return default


def range_text(low: float | None, high: float | None, type_: str, lang: str) -> str:
    """A declared range as a reader says it: '≥ 0', '≤ 100%', '-50% to 80%'."""
    lo = None if low is None or math.isinf(low) else format_value(low, type_, lang)
    hi = None if high is None or math.isinf(high) else format_value(high, type_, lang)
    if lo is not None and hi is not None:
        return i18n.t("partial.range_in", lang, lo=lo, hi=hi)
    if lo is not None:
        return i18n.t("partial.range_ge", lang, lo=lo)
    if hi is not None:
        return i18n.t("partial.range_le", lang, hi=hi)
    return i18n.t("partial.range_any", lang)


def whatever(book: Rulebook, names: Iterable[str], lang: str) -> str:
    """'whatever the rebates are (≥ 0)' / '无论返利是多少（≥ 0）' for the missing facts a decision did
    not need, each with the hard range it was taken from."""
    parts = []
    for n in names:
        f = book.facts.get(n)
        r = range_text(f.min if f else None, f.max if f else None, f.type if f else "number", lang)
        parts.append((label(book, n, lang), r))
    if len(parts) == 1:
        x, r = parts[0]
        plural = lang != "zh" and x.endswith("s") and not x.endswith("ss")
        return i18n.t("partial.whatever_plural" if plural else "partial.whatever_one", lang,
                  x=x if lang == "zh" else f"the {x}", r=r)
    if lang == "zh":
        xs = i18n.t("partial.and", lang).join(f"{x}（{r}）" for x, r in parts)
    else:
        xs = ", ".join(f"the {x} ({r})" for x, r in parts[:-1]) + f" and the {parts[-1][0]} ({parts[-1][1]})"
    return i18n.t("partial.whatever_many", lang, xs=xs)


def side_text(subject: str, iv: Interval, type_: str, op: str, outcome: bool, lang: str) -> str:
    """Where an unknown side lies, told by the end that decides: '… is at most −2.1M'."""
    def fmt(v: float) -> str:
        return format_value(v, type_, lang)

    if op in ("==", "!=") and math.isfinite(iv.lo) and math.isfinite(iv.hi):
        return i18n.t("partial.is", lang, s=subject, b=i18n.t("partial.between", lang, lo=fmt(iv.lo), hi=fmt(iv.hi)))
    upper = (op in ("<", "<=")) == outcome  # '<' holding: how high it can be; '<' failing: how low …
    if math.isinf(iv.hi if upper else iv.lo):
        upper = not upper  # (only for == and !=, decided by a finite end on the other side)
    bound = i18n.t("partial.at_most", lang, v=fmt(iv.hi)) if upper else i18n.t("partial.at_least", lang, v=fmt(iv.lo))
    return i18n.t("partial.is", lang, s=subject, b=bound)


def bounded_phrase(book: Rulebook, env: Mapping[str, Any], *, left: str, left_iv: Interval | None,
                   right: str, right_iv: Interval | None, op: str, against_text: str, outcome: bool,
                   missing: Iterable[str], type_: str, lang: str, cond: str = "") -> str:
    """The sentence for a comparison decided by bounds. `left`/`right`: the sides as written (a
    declared name or an expression), `missing`: the facts it was decided without."""
    names = [n for n in base_missing(book, missing, env) if n in book.facts]
    sides = []
    if left_iv is not None and not left_iv.is_point():
        sides.append(side_text(label(book, left, lang), left_iv, type_, op, outcome, lang))
    if right_iv is not None and not right_iv.is_point():
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        sides.append(side_text(label(book, right, lang), right_iv, type_, flipped, outcome, lang))
    ops = _OPS_ZH if lang == "zh" else _OPS_EN
    shown = cond or f"{ops.get(op, op)} {against_text}"
    return i18n.t("partial.holds" if outcome else "partial.fails", lang, whatever=whatever(book, names, lang),
              sides=("，" if lang == "zh" else ", ").join(sides), cond=shown)


def base_missing(book: Rulebook, names: Iterable[str], env: Mapping[str, Any]) -> list[str]:
    """Missing names → the missing declared facts behind them (a metric's missing inputs, recursively)."""
    out: list[str] = []

    def visit(n: str, seen: frozenset[str]) -> None:
        if n in book.metrics and n not in seen:
            for r in ir.refs(book.metrics[n].term):
                if env.get(r.name) is None:
                    visit(r.name, seen | {n})
            return
        if n not in out:
            out.append(n)

    for n in names:
        visit(n, frozenset())
    return out


# ----------------------------------------------------------------------------- data checks

def data_check_text(book: Rulebook, c: DataCheck, lang: str) -> str:
    type_ = _type_of(book, c.fact)
    lab = label(book, c.fact, lang)
    if lang != "zh":
        lab = lab[0].upper() + lab[1:] if lab else lab
    return i18n.t("partial.check", lang, label=lab, v=format_value(c.value, type_, lang),
              r=range_text(c.low, c.high, type_, lang))


def data_check_rows(book: Rulebook, checks: Iterable[DataCheck], lang: str) -> list[dict[str, Any]]:
    """The data checks as the JSON output and the playbook list them."""
    out = []
    for c in checks:
        type_ = _type_of(book, c.fact)
        value: Any = int(c.value) if c.value.is_integer() and abs(c.value) < 1e15 else round(c.value, 6)
        out.append({"fact": c.fact, "label": label(book, c.fact, lang) if lang == "zh" else
                    (book.facts[c.fact].label.get(lang) or c.fact) if c.fact in book.facts else c.fact,
                    "value": value, "value_text": format_value(c.value, type_, lang),
                    "plausible": [_plain(c.low), _plain(c.high)], "text": data_check_text(book, c, lang)})
    return out


def _plain(v: float | None) -> Any:
    if v is None:
        return None
    return int(v) if float(v).is_integer() and abs(v) < 1e15 else round(v, 6)


# ----------------------------------------------------------------------------- evidence

def _interval(v: Any) -> Interval | None:
    """An Interval, or [lo, hi] ends with None for an open end (a Because's), as an Interval."""
    if v is None or isinstance(v, Interval):
        return v
    lo, hi = v
    return Interval(-math.inf if lo is None else float(lo), lo is not None,
                    math.inf if hi is None else float(hi), hi is not None)


def evidence_text(book: Rulebook, env: Mapping[str, Any], b: Any, lang: str) -> str:
    """A piece of evidence decided by bounds, as the playbook shows it. `b`: a reference.Literal or
    a model.Because with `bounded` set."""
    right = getattr(b, "against_text", "")
    if isinstance(b.against, (int, float)):
        against = format_value(b.against, b.type, lang)
    elif b.against is None:  # the other side is unknown too (decided by both sides' bounds): name it
        against = label(book, right, lang) if right else "—"
    else:
        against = str(b.against)
    param = book.params.get(b.param) if b.param else None
    if param is not None:
        name = param.label.get(lang) or b.param
        against = f"{against}（{name}）" if lang == "zh" else f"{against} ({name[0].lower() + name[1:]})"
    missing = getattr(b, "missing", ()) or (b.fact,)
    text = bounded_phrase(book, env, left=b.fact, left_iv=_interval(b.interval), right=right,
                          right_iv=_interval(b.against_interval), op=b.op, against_text=against, outcome=True,
                          missing=missing, type_=b.type, lang=lang)
    return text[0].upper() + text[1:] if lang != "zh" and text else text
