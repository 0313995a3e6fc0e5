"""portfolio/fold: rows folded in the workers (Packer → Part → Fold.merge) make the fold that
adding them one by one makes, and that fold says what the rows say.

A `--summary-only` run sends each task's rows as one Part (columns and small tables) instead of
Rows; the main process merges the parts in task order. Two properties: (1) however the rows are
split into parts, and through a pickle round trip (the pipe), the fold's state is the same as
adding the rows one at a time; (2) what the fold gives back (the summaries' view, the overview's
row views, ids, duplicates, dates, severities, --fail-on's accounts, the rows with data checks)
is what the rows themselves say — an oracle computed here from the rows, not from the fold.
"""
from __future__ import annotations

import datetime as _dt
import math
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamrules.portfolio.fold import Fold, Packer
from kamrules.portfolio.portfolio import DIMENSIONS, Row
from kamrules.rulebook.load import load_rulebook
from kamrules.rulebook.model import SEVERITIES

BOOK = load_rulebook("course")
VALUES = {d: [v for v, _ in BOOK.dimensions[d].values] for d in BOOK.dimensions}
CHECK_RULES = list(BOOK.playbook.portfolio.checks)
OTHER_RULES = ["risk-a", "risk-b", "tier-c"]
COMPANY = 1e8


@st.composite
def rows(draw: Any) -> list[Row]:
    n = draw(st.integers(0, 40))
    out = []
    for i in range(n):
        k = draw(st.integers(0, 30))  # a small pool of ids: duplicates happen
        classes = {d: draw(st.sampled_from([None, "odd-value", *vs])) for d, vs in VALUES.items()}
        fired = tuple(sorted(draw(st.sets(st.sampled_from(CHECK_RULES[:2] + OTHER_RULES), max_size=3))))
        checks = draw(st.sampled_from([(), ("a figure out of range",)]))
        out.append(Row(
            id=f"A-{k}", name=f"客户{k}-{i}", where=draw(st.sampled_from([f"x.csv:{i + 2}", f"y/z.csv:{i + 9}", "a.yaml"])),
            as_of=draw(st.sampled_from([_dt.date(2026, 6, 30), _dt.date(2026, 3, 31)])),
            dims={d: classes.get(d) for d in DIMENSIONS if d in classes},
            scores={"health": draw(st.sampled_from([None, 12.5, 80.0]))},
            revenue=draw(st.sampled_from([None, 0.0, 5e5, 2e7, 3e7])),
            company_revenue=draw(st.sampled_from([None, COMPANY])),
            warnings={}, top=None,
            severities=frozenset(draw(st.sets(st.sampled_from(SEVERITIES), max_size=2))),
            manager=draw(st.sampled_from([None, "李明", "王芳", ""])),
            classes=classes, fired=fired, checks=checks,
            figures={"revenue": 1.0} if checks or fired else {}))
    return out


def _state(fold: Fold) -> dict[str, Any]:
    skip = {"_packer", "_book", "ids", "known"}
    # arrays by their bytes: a missing number is NaN, which equals nothing
    return {k: ((v.typecode, v.tobytes()) if hasattr(v, "typecode") else v) for k, v in vars(fold).items()
            if k not in skip}


def _parts(rs: list[Row], cuts: list[int], views: bool) -> list[tuple[Any, list[Row]]]:
    packer = Packer(BOOK, views)
    bounds = sorted({0, len(rs), *(c % (len(rs) + 1) for c in cuts)})
    out = []
    for a, b in zip(bounds, bounds[1:]):
        chunk = rs[a:b]
        out.append((pickle.loads(pickle.dumps(packer.pack(chunk))), chunk))  # as through the pipe
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows(), st.lists(st.integers(0, 50), max_size=5), st.booleans(), st.booleans())
def test_parts_fold_as_rows_one_by_one(rs: list[Row], cuts: list[int], views: bool, ranked: bool) -> None:
    known = sorted({r.id for r in rs}) if ranked else None
    index = {ident: k for k, ident in enumerate(known)} if known is not None else {}
    one = Fold(BOOK, keep_rows=False, views=views, known=known)
    added = [one.add(r, index.get(r.id) if ranked else None) for r in rs]
    merged = Fold(BOOK, keep_rows=False, views=views, known=known)
    dropped = sum(merged.merge(part, [index.get(i) for i in part.ids] if ranked else None)
                  for part, _ in _parts(rs, cuts, views))
    assert dropped == added.count(False)
    assert _state(merged) == _state(one)
    assert list(merged.ids) == list(one.ids)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows(), st.lists(st.integers(0, 50), max_size=5))
def test_the_fold_says_what_the_rows_say(rs: list[Row], cuts: list[int]) -> None:
    fold = Fold(BOOK, keep_rows=False, views=True)
    for part, _ in _parts(rs, cuts, True):
        fold.merge(part)
    first: dict[str, Row] = {}
    for r in rs:
        first.setdefault(r.id, r)
    kept = list(first.values())  # the first row of an id counts; the others are duplicates
    assert list(fold.ids) == [r.id for r in kept] and len(fold) == len(kept)
    assert len(fold.duplicates) == len(rs) - len(kept)
    assert all(p.code == "portfolio.duplicate-id" for p in fold.duplicates)
    assert fold.dates == {r.as_of for r in kept}
    assert fold.severities == set().union(*(r.severities for r in kept))
    for r, v in zip(kept, fold.view()):
        major = r.revenue_share is not None and r.revenue_share >= 0.10
        assert (v.id, v.name) == ((r.id, r.name) if major else ("", ""))
        assert v.dims == {d: (r.dims.get(d) if r.dims.get(d) in VALUES[d] else None) for d in DIMENSIONS if d in VALUES}
        assert (v.revenue, v.company_revenue, v.manager) == (r.revenue, r.company_revenue, r.manager or None)
    for r, v in zip(kept, fold.row_views()):
        by_rule = bool(set(CHECK_RULES) & set(r.fired))
        named = r.classes.get("final") == "key" or by_rule or bool(r.checks)
        assert (v.id, v.name, v.classes, v.fired, v.manager) == \
            (r.id, r.name if named else "", r.classes, r.fired, r.manager or None)
        assert (v.checks, v.figures) == ((r.checks, r.figures) if r.checks or by_rule else ((), {}))
    assert fold.checked == [r for r in kept if r.checks]
    for limit in range(len(SEVERITIES)):
        def worst(r: Row) -> int:
            return min((SEVERITIES.index(s) for s in r.severities), default=len(SEVERITIES))

        def order(r: Row) -> tuple[int, float, str]:
            final = r.dims.get("final")
            h = r.scores.get("health")
            return (VALUES["final"].index(final) if final in VALUES["final"] else len(VALUES["final"]),
                    math.inf if h is None else h, r.id)
        assert fold.at_or_above(limit) == [r.id for r in sorted(kept, key=order) if worst(r) <= limit]


def test_a_part_pickles_small() -> None:
    """What crosses the pipe per account: a part is a fraction of its rows' pickle."""
    import random

    rnd = random.Random(5)
    rs = [Row(id=f"A-{i}", name=f"客户{i}", where=f"x.csv:{i + 2}", as_of=_dt.date(2026, 6, 30),
              dims={"final": rnd.choice(VALUES["final"]), "tier": rnd.choice(VALUES["tier"])},
              scores={"health": 50.0, "fit": 3.0}, revenue=rnd.random() * 1e7, company_revenue=None,
              warnings={"high": 1}, top=None, severities=frozenset({"high"}), manager=rnd.choice(["李明", "王芳"]),
              classes={d: rnd.choice(vs) for d, vs in VALUES.items()},
              fired=tuple(sorted(rnd.sample(OTHER_RULES, 2)))) for i in range(256)]
    part = Packer(BOOK, True).pack(rs)
    assert len(pickle.dumps(part)) * 2 < len(pickle.dumps(tuple(rs)))


@pytest.mark.parametrize("views", [False, True])
def test_an_empty_task_folds_nothing(views: bool) -> None:
    fold = Fold(BOOK, keep_rows=False, views=views)
    assert fold.merge(Packer(BOOK, views).pack(())) == 0 and len(fold) == 0
