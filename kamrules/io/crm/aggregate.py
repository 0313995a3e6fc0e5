"""Deals → account facts: the mapping's aggregations (sum, count, max, min, latest, ratio, list)
over the deals that pass a filter (status, stage, a period of a date relative to --as-of).

An account with no matching deal has a sum and a count of 0 — the CRM says it bought nothing in
the period — but no max, min, latest or ratio. A period the export does not cover (it ends
before the export's earliest date) gives no figure at all: a zero there would be the export's
window, not the customer, and a growth rule would read it as a collapse.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from kamrules.core.errors import Problem
from kamrules.io.crm.mapping import DATE_FIELDS, Aggregate, Filter
from kamrules.rulebook.model import FactDef

ACTIVITY_FIELDS = ("last_activity", "modified_date", "created_date")


@dataclass(frozen=True, slots=True)
class Deal:
    line: int
    values: Mapping[str, Any]  # deal field → typed value: amount in the rulebook's currency, dates as dates
    status: str  # won | lost | open
    dropped: tuple[Problem, ...] = ()  # its cells left out (bad values of fields it can do without)

    def get(self, name: str, as_of: _dt.date) -> Any:
        if name == "days_since_activity":
            return days_since_activity(self, as_of)
        if name == "status":
            return self.status
        return self.values.get(name)


def days_since_activity(deal: Deal, as_of: _dt.date) -> int | None:
    """Days from the deal's latest activity to as_of: its last activity, modification or creation
    date, or its close date once closed (an open deal's close date is only expected)."""
    dates = [deal.values.get(f) for f in ACTIVITY_FIELDS]
    if deal.status in ("won", "lost"):
        dates.append(deal.values.get("close_date"))
    known = [d for d in dates if isinstance(d, _dt.date) and d <= as_of]
    if not known:
        return None
    return (as_of - max(known)).days


@dataclass(frozen=True)
class Window:
    """A filter's date bounds for one as_of, computed once per run."""

    lo: _dt.date | None
    hi: _dt.date | None
    date: str
    all: bool


def window(flt: Filter, as_of: _dt.date) -> Window:
    if flt.period is None or flt.period.name == "all":
        return Window(None, None, flt.date, True)
    lo, hi = flt.period.bounds(as_of)
    return Window(lo, hi, flt.date, False)


def passes(flt: Filter, w: Window, deal: Deal) -> bool:
    if flt.statuses is not None and deal.status not in flt.statuses:
        return False
    if flt.stages is not None and deal.values.get("stage") not in flt.stages:
        return False
    if w.all:
        return True
    d = deal.values.get(w.date)
    if not isinstance(d, _dt.date):
        return False
    return (w.lo is None or d >= w.lo) and (w.hi is None or d <= w.hi)


@dataclass(frozen=True)
class Coverage:
    """The dates a table's deals span, per date field."""

    spans: Mapping[str, tuple[_dt.date, _dt.date]]

    @classmethod
    def of(cls, deals: Iterable[Deal]) -> "Coverage":
        spans: dict[str, tuple[_dt.date, _dt.date]] = {}
        for d in deals:
            for f in DATE_FIELDS:
                v = d.values.get(f)
                if isinstance(v, _dt.date):
                    lo, hi = spans.get(f, (v, v))
                    spans[f] = (min(lo, v), max(hi, v))
        return cls(spans)

    @property
    def earliest(self) -> _dt.date | None:
        starts = [lo for lo, _ in self.spans.values()]
        return min(starts) if starts else None

    def uncovered(self, flt: Filter, w: Window) -> str:
        """Why the export cannot give this period's figure ("" when it can): the period ends before
        the export's earliest date (of any kind). An export of this year's deals says nothing about
        last year, and a zero there would read as a collapse."""
        if w.all or w.lo is None or w.hi is None:
            return ""
        first = self.earliest
        if first is None:
            return ""
        if first > w.hi:
            return (f"the period runs from {w.lo} to {w.hi}, but the deals' earliest date is {first}: "
                    "the export does not reach back that far")
        return ""

    def partly(self, w: Window) -> str:
        """A note when the export starts well inside the period: the figure counts only part of it."""
        first = self.earliest
        if w.all or w.lo is None or w.hi is None or first is None or first > w.hi:
            return ""
        if (first - w.lo).days > 31:
            return f"the deals start on {first}, inside the period {w.lo} to {w.hi}: figures for it count from then"
        return ""


def compute(agg: Aggregate, fact: FactDef, deals: Sequence[Deal], as_of: _dt.date, where: Window,
            of: Window | None) -> Any:
    """The aggregation's value for one account's deals; None when it has none."""
    chosen = [d for d in deals if passes(agg.where, where, d)]
    if agg.op == "count":
        return len(chosen)
    if agg.op == "sum":
        return round(sum(_num(d.get(agg.fields[0], as_of)) for d in chosen), 2)
    if agg.op in ("max", "min", "latest"):
        values = [v for d in chosen for f in agg.fields if (v := d.get(f, as_of)) is not None]
        if agg.op == "latest":  # the latest that has happened: an open deal's close date is only expected
            values = [v for v in values if v <= as_of]
        if not values:
            return None
        best = min(values) if agg.op == "min" else max(values)
        if isinstance(best, _dt.date):
            return elapsed(best, fact, as_of)
        if fact.type == "money" and isinstance(best, float):
            # to the cent, as a sum is: rounding keeps order, so an account's largest order is
            # never above its revenue by a fraction of a cent (an amount converted at a rate has six
            # decimals: 205,550.183 against a sum of 205,550.18 made a false data check)
            return round(best, 2)
        return best
    if agg.op == "ratio":
        assert agg.of is not None and of is not None
        base = [d for d in deals if passes(agg.of, of, d)]
        if agg.fields:
            top = sum(_num(d.get(agg.fields[0], as_of)) for d in chosen)
            bottom = sum(_num(d.get(agg.fields[0], as_of)) for d in base)
        else:
            top, bottom = len(chosen), len(base)
        return None if not bottom else round(top / bottom, 6)
    if agg.op == "list":
        return [item for d in chosen if (item := _item(agg, fact, d, as_of))]
    raise AssertionError(agg.op)  # pragma: no cover - the mapping's grammar allows no other


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


def elapsed(d: _dt.date, fact: FactDef, as_of: _dt.date) -> Any:
    """A date for a date fact; for a number, the time from it to as_of in the fact's unit."""
    if fact.type == "date":
        return d
    days = max(0, (as_of - d).days)  # a date after as_of is "now"
    if fact.unit == "years":
        return round(days / 365.25, 1)
    return days


def _item(agg: Aggregate, fact: FactDef, deal: Deal, as_of: _dt.date) -> dict[str, Any]:
    fields = {f.name: f for f in fact.items}
    out: dict[str, Any] = {}
    for item_field, deal_field in agg.items:
        v = deal.get(deal_field, as_of)
        f = fields[item_field]
        if v is None:
            continue
        if f.type == "enum" and str(v) not in f.value_names:
            continue  # an open deal without a finer stage, say: the item simply lacks it
        if isinstance(v, _dt.date) and f.type != "date":
            v = elapsed(v, f, as_of)
        out[item_field] = v
    return out
