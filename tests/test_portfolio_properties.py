"""Properties of the pure portfolio arithmetic (kamrules/portfolio: rank, metrics, calibrate),
checked against brute force or definitions on random books."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.portfolio import metrics
from kamrules.portfolio.calibrate import value_at_top
from kamrules.portfolio.rank import abc_classes, rank, tier_of

amounts = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1.0, max_value=1e9, allow_nan=False, allow_infinity=False)


def book(values: list[float]) -> list[tuple[str, float]]:
    return [(f"a{i:04d}", v) for i, v in enumerate(values)]


@st.composite
def bands(draw: st.DrawFn) -> list[tuple[str, float]]:
    """2–5 bands whose shares add up to 1 (in whole per-mille, as a rulebook writes them)."""
    n = draw(st.integers(2, 5))
    cuts = sorted(draw(st.lists(st.integers(1, 999), min_size=n - 1, max_size=n - 1, unique=True)))
    edges = [0, *cuts, 1000]
    return [(f"t{i}", (edges[i + 1] - edges[i]) / 1000) for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(st.lists(amounts, min_size=1, max_size=60), bands())
def test_the_pyramid_follows_the_ranking(values, bs):
    r = rank(book(values), bands=bs)
    names = [n for n, _ in bs]
    # top first, ranks 1..n, tiers never go back up the pyramid
    assert [p.rank for p in r.placements] == list(range(1, len(values) + 1))
    assert all(a.value >= b.value for a, b in zip(r.placements, r.placements[1:]))
    idx = [names.index(p.tier) for p in r.placements]
    assert idx == sorted(idx)
    # each band holds the accounts whose rank share falls within its cumulative share (brute force)
    n = len(values)
    for p in r.placements:
        cum = 0.0
        for name, share in bs:
            cum += share
            if p.rank / n <= cum + 1e-9:
                assert p.tier == name
                break


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text("abc", min_size=1, max_size=3),
                          st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.0, math.nan, 1e9])), max_size=40))
def test_the_ranking_is_largest_first_and_ties_go_by_id(pairs):
    """rank_columns sorts by value, then each run of ties by id; the definition is one sort by
    (-value, id). The same over a streamed run's ids (ids.Ids), unranked ones listed by id."""
    from array import array

    from kamrules.portfolio.ids import Ids, Picked
    from kamrules.portfolio.rank import rank_columns

    ids = [f"{name}{k}" for k, (name, _) in enumerate(pairs)]
    column = array("d", (v for _, v in pairs))
    expected = sorted((i for i, v in zip(ids, column) if v == v), key=lambda i: (-column[ids.index(i)], i))
    assert [p.id for p in rank_columns(ids, column).placements] == expected
    held = Ids(ids)
    missing = Picked(held, [k for k, v in enumerate(column) if v != v])
    r = rank_columns(held, column, unranked=missing)
    assert [p.id for p in r.placements] == expected
    assert list(r.unranked) == sorted(i for i, v in zip(ids, column) if v != v)
    # read off the columns without a Placement per account: the same as the placements say
    assert list(r.unplaced()) == [k for k in range(len(ids)) if r.at(k) is None]
    from kamrules.portfolio.overview import _RankedJson
    assert list(_RankedJson(r.placements)) == [
        {"id": p.id, "rank": p.rank, "rank_share": p.rank_share, "value": p.value, "tier": p.tier or None,
         "abc": p.abc} for p in r.placements]
    for bands_ in ((), (("top", 0.5), ("rest", 1.0))):
        b = rank_columns(ids, column, bands=bands_)
        assert [(d["tier"], d["abc"]) for d in _RankedJson(b.placements)] == [
            (p.tier or None, p.abc) for p in b.placements]


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1), bands())
def test_tier_of_is_the_first_band_reaching_the_share(x, bs):
    name = tier_of(x, bs)
    i = [n for n, _ in bs].index(name)
    assert sum(s for _, s in bs[:i + 1]) >= x - 1e-9
    assert i == 0 or sum(s for _, s in bs[:i]) < x + 1e-9


@settings(max_examples=200, deadline=None)
@given(st.lists(amounts, min_size=1, max_size=60))
def test_abc_is_monotone_and_a_reaches_its_share(values):
    ranked = sorted(values, reverse=True)
    cls = abc_classes(ranked, 0.8, 0.95)
    assert cls == sorted(cls)  # A… then B… then C…
    total = sum(v for v in ranked if v > 0)
    if total > 0:
        a = sum(v for v, c in zip(ranked, cls) if c == "A")
        assert a >= 0.8 * total * (1 - 1e-9)  # the A accounts reach 80 % (the one crossing the line is A)
        assert all(c == "C" for v, c in zip(ranked, cls) if v <= 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 400), st.one_of(st.just([]), bands(), st.lists(st.tuples(st.sampled_from(["x", "y", "z"]),
       st.floats(-0.5, 1.5)), min_size=1, max_size=5)))
def test_the_tiers_by_runs_are_tier_of_at_every_rank(n, bs):
    """Bands of any shares (also negative, over 1, names used twice): the runs bisected are
    tier_of asked at every rank."""
    from kamrules.portfolio.rank import tier_codes

    names = list(dict.fromkeys(name for name, _ in bs)) or [""]
    code = {name: k for k, name in enumerate(names)}
    assert list(tier_codes(n, bs, code)) == [code[tier_of(r / n, bs)] for r in range(1, n + 1)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(amounts, st.sampled_from([0.0, -0.0, 5.0, 1e308, math.inf])), max_size=60),
       st.floats(0, 1.2), st.floats(0, 1.2))
def test_the_abc_codes_by_runs_are_abc_classes(values, a, b):
    from kamrules.portfolio.rank import ABC, abc_codes

    ranked = sorted(values, reverse=True)
    assert [ABC[c] for c in abc_codes(ranked, a, b)] == abc_classes(ranked, a, b)


@settings(max_examples=200, deadline=None)
@given(st.lists(positive, min_size=1, max_size=60))
def test_concentration_bounds(values):
    c = metrics.concentration(book(values))
    assert c is not None
    n = len(values)
    assert 1 / n - 1e-9 <= c.hhi <= 1 + 1e-9
    assert c.top1 <= c.top5 + 1e-12 <= 1 + 1e-9
    assert c.top_share >= c.accounts_share - 1e-9  # the largest k accounts hold at least k/n of the total
    assert math.isclose(c.hhi, sum((v / sum(values)) ** 2 for v in values), rel_tol=1e-9)
    run, curve = 0.0, []  # the Lorenz curve: running sums largest first, each over the total, exactly
    for v in sorted(values, reverse=True):
        run += v
        curve.append(run / c.total)
    assert list(c.curve) == curve


@settings(max_examples=200, deadline=None)
@given(st.lists(amounts, min_size=1, max_size=60))
def test_whale_curve(values):
    w = metrics.whale(book(values))
    assert w is not None
    assert math.isclose(w.cumulative[-1], sum(values), rel_tol=1e-9, abs_tol=1e-3)
    assert w.peak >= w.cumulative[-1] - 1e-3 and w.peak >= max(values) - 1e-3
    assert w.cumulative[w.peak_rank - 1] == w.peak
    assert len(w.destroyers) == sum(v < 0 for v in values)
    # the curve rises while profits are positive and falls after: the peak is where they stop
    assert all(v >= 0 for v in sorted(values, reverse=True)[:w.peak_rank - 1])


@settings(max_examples=200, deadline=None)
@given(st.lists(amounts, min_size=1, max_size=60), st.floats(0.001, 0.999))
def test_value_at_top_leaves_exactly_the_top_accounts_above(values, top):
    k, v = value_at_top(values, top)
    assert k == max(1, math.ceil(top * len(values) - 1e-9))
    assert sum(x >= v for x in values) >= k  # a ">= threshold" rule takes the top k (and ties)
    assert sum(x > v for x in values) < k


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["key", "medium", None]),
                          st.sets(st.sampled_from(["r1", "r2", "r3", "r4"]))), max_size=30))
def test_rule_hits_count_each_account_once(rows):
    h = metrics.rule_hits(rows, ["r1", "r2", "r3", "r4", "r5"], ["key", "medium"])
    by = {x.rule: x for x in h.rules}
    for r in ("r1", "r2", "r3", "r4", "r5"):
        assert by[r].fired == sum(r in fired for _, fired in rows) == sum(n for _, n in by[r].by_class)
    assert "r5" in h.never
    assert set(h.always) == {r for r in by if len(rows) > 1 and by[r].fired == len(rows)}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=0, max_size=40))
def test_spread(values):
    s = metrics.spread("d", values)
    assert s.classified == len(values) and sum(n for _, n in s.counts) == len(values)
    if values:
        assert s.dominant_share == max(values.count(x) for x in set(values)) / len(values)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["key", "medium", None]), st.sampled_from(["m1", "m2", None]),
                          st.frozensets(st.sampled_from(["r1", "r2", "r3"]))), max_size=30))
def test_counted_metrics_are_the_per_account_ones_over_groups(rows):
    # the overview counts a streamed book by groups of equal accounts (overview._groups)
    from collections import Counter

    groups = Counter(rows)
    assert metrics.rule_hits_counted(((c, f, n) for (c, _, f), n in groups.items()), ["r1", "r2", "r4"], ["key"]) == \
        metrics.rule_hits(((c, f) for c, _, f in rows), ["r1", "r2", "r4"], ["key"])
    assert metrics.managers_counted(((m, c == "key", n) for (c, m, _), n in groups.items())) == \
        metrics.managers((m, c == "key") for c, m, _ in rows)
    assert metrics.spread_counted("d", Counter(c for c, _, _ in rows)) == metrics.spread("d", [c for c, _, _ in rows])


@settings(max_examples=100, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_rows_figure_names_are_the_measures_and_the_fired_checks_figures(data: st.DataObject) -> None:
    """overview.figure_names (remembered per rulebook, the measures alone when no check fired)
    against its definition: the ranking's measures, then each fired data check's figures, once."""
    from kamrules.portfolio import overview
    from kamrules.portfolio import rank as ranking
    from kamrules.rulebook.load import load_rulebook

    book = load_rulebook("course")
    pf = book.playbook.portfolio
    checks = list(pf.checks)
    assert checks  # the course has data-check rules: the property reaches the slow path
    others = [r.id for r in book.rules if r.id not in set(checks)][:40]
    fired = data.draw(st.lists(st.sampled_from(checks + others), unique=True, max_size=12))
    expected = tuple(dict.fromkeys([*ranking.wanted(pf), *(n for r in fired if r in set(checks)
                                                           for n in overview.check_reads(book, r))]))
    assert overview.figure_names(book, fired) == expected
    assert overview.figure_names(book, iter(fired)) == expected  # any iterable, read once


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=12), st.sampled_from(["auto", "profit", "revenue"]))
def test_the_ranked_measure_is_chosen_as_defined_from_a_stream_of_measures(given_, rank_by):
    # rank.choose reads the measures as a stream (the columns of a streamed run); its definition:
    # profit when asked, or when `auto` and every account with a revenue gives a profit
    from kamrules.portfolio import rank
    from kamrules.rulebook.model import PortfolioDef

    ms = [rank.Measures(f"a{i}", {**({"revenue": 1.0 + i} if r else {}), **({"margin": -2.0 * i} if p else {})})
          for i, (r, p) in enumerate(given_)]
    pf = PortfolioDef(rank_revenue="revenue", rank_profit="margin", rank_by=rank_by)
    with_revenue = [m for m in ms if "revenue" in m.values]
    profit = rank_by == "profit" or (rank_by == "auto" and bool(with_revenue)
                                     and all("margin" in m.values for m in with_revenue))
    assert rank.choose(ms, pf) == (("profit", "margin") if profit else ("revenue", "revenue"))
    streamed = rank.Measured(["revenue", "margin"])
    for m in ms:
        streamed.add(m.id, (m.values.get("revenue", math.nan), m.values.get("margin", math.nan)))
    assert rank.choose(streamed.view(), pf) == rank.choose(ms, pf)
