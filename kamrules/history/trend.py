"""What the store tells the rules: history facts, supplied before evaluation.

A rulebook declares the history facts it wants in the reserved fact group `history` (the
course does in rules/course/history.yaml); this stage fills in the declared ones from the
account's earlier reviews, and only those. They are supplied, never asked of the user: they
are not "missing facts" when there is no store (see FactDef.supplied).

The series an account's trend is read from has one review per date: when a date was recorded
more than once, the last recording stands for it (a correction), the others stay on record.
Only reviews dated before the evaluation date count, so a replayed or back-dated review sees
the history it would have seen.

Facts (each supplied only when the rulebook declares it):

- `history.reviews`: earlier reviews (0: none yet);
- `previous.as_of`, `previous.<dimension>`, `previous.<score>`: the last earlier review;
- `history.downgrades_in_a_row`: tier downgrades in a row, ending at the last earlier review;
- `history.health_falls_in_a_row`: health falls in a row, ending at the last earlier review;
- `history.open_warnings`: the warnings of the last earlier review (accepted ones left out),
  each with `rule`, `severity` and `reviews` (how many reviews in a row it has stood).
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Sequence

from kamrules.history.store import Summary
from kamrules.rulebook.model import Rulebook

GROUP = "history"


def effective(series: Sequence[Summary], before: _dt.date | None = None) -> list[Summary]:
    """One review per date (the last recorded), oldest first; only dates before `before`."""
    by_date: dict[_dt.date, Summary] = {}
    for s in sorted(series, key=lambda s: (s.as_of, s.recorded_at, s.id)):
        if before is None or s.as_of < before:
            by_date[s.as_of] = s
    return [by_date[d] for d in sorted(by_date)]


def declared(book: Rulebook) -> list[str]:
    return [n for n, f in book.facts.items() if f.supplied == GROUP]


def supplied(book: Rulebook, past: Sequence[Summary]) -> dict[str, Any]:
    """The history facts for an evaluation whose earlier reviews are `past` (oldest first)."""
    names = declared(book)
    if not names:
        return {}
    facts: dict[str, Any] = {}
    last = past[-1] if past else None
    for name in names:
        value = _fact(book, name, past, last)
        if value is not None:
            facts[name] = value
    return facts


def _fact(book: Rulebook, name: str, past: Sequence[Summary], last: Summary | None) -> Any:
    fd = book.facts[name]
    if name == "history.reviews":
        return len(past)
    if name == "history.downgrades_in_a_row":
        return downgrades_in_a_row(book, past)
    if name == "history.health_falls_in_a_row":
        return falls_in_a_row([s.scores.get("health") for s in past])
    if name == "history.open_warnings":
        return open_warnings(past)
    if last is None or not name.startswith("previous."):
        return None
    key = name[len("previous."):]
    if key == "as_of":
        return last.as_of
    if key in book.dimensions or key in last.dims:
        v = last.dims.get(key)
        # a value the rulebook no longer knows (it changed since) is left out, not passed on wrong
        return v if v is not None and (not fd.values or v in fd.value_names) else None
    score = last.scores.get(key)
    return None if score is None else float(score)


def rank(book: Rulebook, dimension: str, value: str | None) -> int | None:
    dim = book.dimensions.get(dimension)
    if dim is None or value is None:
        return None
    order = [v for v, _ in dim.values]
    return order.index(value) if value in order else None


def downgrades_in_a_row(book: Rulebook, past: Sequence[Summary]) -> int:
    """Tier values are listed best first, so a downgrade is a move to a later value."""
    n = 0
    for i in range(len(past) - 1, 0, -1):
        a, b = rank(book, "tier", past[i - 1].tier), rank(book, "tier", past[i].tier)
        if a is None or b is None or b <= a:
            break
        n += 1
    return n


def falls_in_a_row(values: Sequence[float | None]) -> int:
    n = 0
    for i in range(len(values) - 1, 0, -1):
        a, b = values[i - 1], values[i]
        if a is None or b is None or b >= a:
            break
        n += 1
    return n


def open_warnings(past: Sequence[Summary]) -> tuple[dict[str, Any], ...]:
    if not past:
        return ()
    out = []
    seen: set[str] = set()
    for f in past[-1].warnings():
        if f.rule in seen:
            continue
        seen.add(f.rule)
        n = 0
        for s in reversed(past):
            if any(g.rule == f.rule for g in s.warnings()):
                n += 1
            else:
                break
        out.append({"rule": f.rule, "severity": f.severity, "reviews": n})
    return tuple(out)
