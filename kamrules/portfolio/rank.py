"""The first pass of a portfolio run: rank the accounts within the book, before any is evaluated.

The course's pyramid and its 80/20 law are about the whole customer base, so an account's place
in them is relative: its rank in this portfolio, not an amount. This module ranks the accounts by
profit (the rulebook's `playbook.portfolio.rank.profit`, e.g. margin_after_cts) or revenue,
cuts the ranking into the pyramid's bands (Curry 1/4/15/80, Zeithaml's platinum/gold/iron/lead,
or the company's) and into ABC classes by cumulative share, and gives each ranked account the
`portfolio.*` facts the rules then see (the second pass evaluates the accounts with them).

The arithmetic (`rank`, `tier_of`, `abc_classes`) is pure, on numbers, for property tests;
`measures` and `supply` are the thin part that reads and writes accounts.

Definitions (docs/portfolio.md, "The pyramid by rank"):
- order: the measure, largest first; ties by account id, so the ranking is deterministic;
- rank_share of the account at rank r (1-based) of n: r / n — the top 1 % are the accounts with
  rank_share ≤ 1 %;
- tier: the first band whose cumulative share of accounts reaches the account's rank_share;
- ABC: by the cumulative share of the measure held by the accounts ranked above it: A while that
  is below `a` (the account that crosses the line is still A: it is needed to reach it), B below
  `b`, C the rest. Shares are of the positive total; an account at or below zero is C.
"""
from __future__ import annotations

import bisect
import datetime as _dt
import itertools
import math
from array import array
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence, overload

from kamrules.engine.facts import some_values
from kamrules.portfolio.ids import Ids, Picked
from kamrules.rulebook.model import Account, PortfolioDef, Rulebook

EPS = 1e-9  # shares are sums of floats: 0.01 + 0.04 must still reach 5 %


@dataclass(frozen=True, slots=True)  # one per ranked account: slots keep 100,000 of them small
class Placement:
    """One ranked account."""

    id: str
    value: float  # the ranked measure
    rank: int  # 1 = the top
    rank_share: float  # rank / size
    tier: str  # "" when the rulebook declares no bands
    abc: str  # A, B or C


class Placements(Sequence[Placement]):
    """A ranking's placements, top first, kept as columns (a few bytes per account): a Placement
    is made when one is read. `ids` are the accounts the ranking was made from, in their order;
    `order[k]` is the index in `ids` of the account at rank k + 1, and `rank_of[i]` the rank of
    ids[i] (0: not ranked)."""

    def __init__(self, ids: Sequence[str], order: array[int], values: array[float], tiers: array[int],
                 tier_names: Sequence[str], abc: array[int]) -> None:
        self.ids = ids
        self.order = order
        self.values = values  # by rank
        self.tiers = tiers  # by rank: an index into tier_names
        self.tier_names = tuple(tier_names)
        self.abc = abc  # by rank: 0 A, 1 B, 2 C
        self.rank_of = array("i", bytes(4 * len(ids)))
        for k, i in enumerate(order):
            self.rank_of[i] = k + 1

    def __len__(self) -> int:
        return len(self.order)

    def _at(self, k: int) -> Placement:
        n = len(self.order)
        return Placement(self.ids[self.order[k]], self.values[k], k + 1, (k + 1) / n, self.tier_names[self.tiers[k]],
                         ABC[self.abc[k]])

    @overload
    def __getitem__(self, k: int) -> Placement: ...

    @overload
    def __getitem__(self, k: slice) -> Sequence[Placement]: ...

    def __getitem__(self, k: int | slice) -> Placement | Sequence[Placement]:
        if isinstance(k, slice):
            return tuple(self._at(j) for j in range(*k.indices(len(self))))
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self._at(k)

    def __iter__(self) -> Iterator[Placement]:
        for k in range(len(self)):
            yield self._at(k)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (Placements, tuple, list)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __hash__(self) -> int:
        return hash(tuple(self))


ABC = ("A", "B", "C")  # Placements.abc's codes


@dataclass(frozen=True)
class Ranking:
    by: str  # "profit" or "revenue"; "" when nothing could be ranked
    measure: str  # the fact or metric ranked, e.g. margin_after_cts
    size: int  # accounts ranked
    placements: Sequence[Placement]  # top first (Placements: columns)
    unranked: Sequence[str]  # ids of accounts without the measure, sorted

    def of(self, account_id: str) -> Placement | None:
        k = self._index.get(account_id)
        return None if k is None else self.placements[k]

    def at(self, index: int) -> Placement | None:
        """The placement of the index-th account the ranking was made from (`ranking`: the
        measures' order), None when it is not ranked: no index of ids is built for this."""
        ps = self.placements
        if isinstance(ps, Placements):
            k = ps.rank_of[index]
            return ps[k - 1] if k else None
        return self.of(self.ids[index])  # pragma: no cover - rankings are made by rank()

    def unplaced(self) -> Iterator[int]:
        """The indexes (as `at` takes them) of the accounts not ranked, in index order, with no
        Placement made per ranked account to find them."""
        ps = self.placements
        if isinstance(ps, Placements):
            return (i for i, k in enumerate(ps.rank_of) if not k)
        return (i for i in range(len(self.ids)) if self.at(i) is None)  # pragma: no cover - made by rank()

    def placed(self, index: int) -> tuple[float, str, str] | None:
        """`at(index)`'s rank share, tier and ABC class, with no Placement made and no id decoded
        (a streamed run's second pass asks this once per account, in the main process)."""
        ps = self.placements
        if isinstance(ps, Placements):
            k = ps.rank_of[index]
            if not k:
                return None
            return k / len(ps.order), ps.tier_names[ps.tiers[k - 1]], ABC[ps.abc[k - 1]]
        p = self.at(index)  # pragma: no cover - rankings are made by rank()
        return None if p is None else (p.rank_share, p.tier, p.abc)  # pragma: no cover

    @property
    def ids(self) -> Sequence[str]:
        ps = self.placements
        return ps.ids if isinstance(ps, Placements) else [p.id for p in ps]

    @property
    def _index(self) -> Mapping[str, int]:
        """id → position in placements; built when first asked (the table of accounts, the
        dashboard): a streamed run goes by index (`at`)."""
        cached: dict[str, int] | None = self.__dict__.get("_idx")
        if cached is None:
            cached = {p.id: k for k, p in enumerate(self.placements)}
            object.__setattr__(self, "_idx", cached)
        return cached


@dataclass(frozen=True)
class Measures:
    """What the first pass reads of one account: its revenue, profit and every calibrated measure."""

    id: str
    values: Mapping[str, float]  # fact or metric → number (absent when missing)


# --------------------------------------------------------------------------- pure arithmetic

def order(values: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """Largest first; ties by id (deterministic whatever the input order)."""
    return sorted(values, key=lambda v: (-v[1], v[0]))


def tier_of(rank_share: float, bands: Sequence[tuple[str, float]]) -> str:
    """The first band whose cumulative share of accounts reaches rank_share (the last band
    otherwise: shares that add up to a little under 1 leave nobody out)."""
    return bands[_band_at(rank_share, _cumulative(bands))][0] if bands else ""


def abc_classes(values: Sequence[float], a: float, b: float) -> list[str]:
    """ABC class of each value of a ranking (largest first), by the cumulative share above it."""
    total = sum(v for v in values if v > 0)
    out: list[str] = []
    above = 0.0
    for v in values:
        if v <= 0 or total <= 0:
            out.append("C")
            continue
        before = above / total
        out.append("A" if before < a - EPS else "B" if before < b - EPS else "C")
        above += v
    return out


def _band_at(rank_share: float, cums: Sequence[float]) -> int:
    """tier_of's band, by its position (the last one otherwise)."""
    for j, cum in enumerate(cums):
        if rank_share <= cum + EPS:
            return j
    return len(cums) - 1


def _cumulative(bands: Sequence[tuple[str, float]]) -> list[float]:
    out, cum = [], 0.0
    for _, share in bands:  # the running sum, one addition a band
        cum += share
        out.append(cum)
    return out


def tier_codes(n: int, bands: Sequence[tuple[str, float]], code: Mapping[str, int]) -> array[int]:
    """code[tier_of(r / n, bands)] for r = 1 … n, a run per band: the band tier_of picks only
    moves on as r grows (the first band whose cumulative share reaches r / n: a band that is
    passed stays passed), so each band's last rank is found by bisection, not by asking every r."""
    out = array("b")
    if not bands:
        return array("b", [code[""]]) * n
    cums = _cumulative(bands)
    r = 1
    while r <= n:
        j = _band_at(r / n, cums)
        lo, hi = r, n  # the last rank still in band j: _band_at(k / n) == j for r ≤ k ≤ lo
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _band_at(mid / n, cums) == j:
                lo = mid
            else:
                hi = mid - 1
        out.extend(array("b", [code[bands[j][0]]]) * (lo - r + 1))
        r = lo + 1
    return out


def abc_codes(values: Sequence[float], a: float, b: float) -> array[int]:
    """ABC.index of each of abc_classes(values, a, b), for values ranked largest first: the
    cumulative share only grows along the positive values (the rest are C), so the classes are
    a run of A, one of B, one of C, whose ends are found by bisection on the running sums
    (itertools.accumulate: the same additions in the same order as abc_classes' loop)."""
    total = sum(v for v in values if v > 0)
    n = len(values)
    positive = 0
    while positive < n and values[positive] > 0 and total > 0:  # the positive values lead
        positive += 1
    above = [0.0, *itertools.accumulate(values[k] for k in range(positive))][:positive]  # before each
    a_end = bisect.bisect_left(above, True, key=lambda x: not x / total < a - EPS) if positive else 0
    b_end = bisect.bisect_left(above, True, lo=a_end, key=lambda x: not x / total < b - EPS) if positive else 0
    return array("b", [0]) * a_end + array("b", [1]) * (b_end - a_end) + array("b", [2]) * (n - b_end)


def rank(values: Iterable[tuple[str, float]], *, bands: Sequence[tuple[str, float]] = (),
         abc: tuple[float, float] = (0.8, 0.95), by: str = "revenue", measure: str = "revenue",
         unranked: Sequence[str] = ()) -> Ranking:
    ids: list[str] = []
    column = array("d")
    for i, v in values:
        ids.append(i)
        column.append(v)
    return rank_columns(ids, column, bands=bands, abc=abc, by=by, measure=measure, unranked=unranked)


def rank_columns(ids: Sequence[str], column: Sequence[float], *, bands: Sequence[tuple[str, float]] = (),
                 abc: tuple[float, float] = (0.8, 0.95), by: str = "revenue", measure: str = "revenue",
                 unranked: Sequence[str] = ()) -> Ranking:
    """`rank` over columns: column[i] is ids[i]'s measure, NaN when it has none (not ranked: its
    id goes in `unranked` when the caller lists it there)."""
    # largest first, ties by id: a sort by value (reverse keeps equal values in input order), then
    # each run of equal values sorted by id. No (-value, id) tuple per account, and only tied ids
    # are read: a sort of every id would make a string of each (ids.Ids holds none), which was the
    # largest transient of a streamed run's main process
    idx = [i for i in range(len(ids)) if column[i] == column[i]]
    idx.sort(key=column.__getitem__, reverse=True)
    n = len(idx)
    start = 0
    while start < n:
        value, end = column[idx[start]], start + 1
        while end < n and column[idx[end]] == value:
            end += 1
        if end - start > 1:
            idx[start:end] = sorted(idx[start:end], key=ids.__getitem__)
        start = end
    values = array("d", map(column.__getitem__, idx))
    names = list(dict.fromkeys(name for name, _ in bands)) or [""]
    code = {name: k for k, name in enumerate(names)}
    placements = Placements(ids, array("i", idx), values, tier_codes(n, bands, code), names, abc_codes(values, *abc))
    if isinstance(unranked, Picked):  # a streamed run's: sorted by index, no string kept per account
        listed: Sequence[str] = Picked(unranked.ids, array("i", sorted(unranked.at, key=unranked.ids.__getitem__)))
    else:
        listed = tuple(sorted(unranked))
    return Ranking(by if n else "", measure, n, placements, listed)


# --------------------------------------------------------------------------- accounts

def wanted(pf: PortfolioDef) -> tuple[str, ...]:
    """The facts and metrics the first pass reads."""
    names = [pf.rank_revenue, pf.rank_profit, *(c.of for c in pf.calibrate)]
    return tuple(dict.fromkeys(n for n in names if n))


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def measures(accounts: Iterable[Account], book: Rulebook, as_of: _dt.date | None) -> tuple[Measures, ...]:
    """Facts and metrics only (no rule runs): the metrics are what the evaluation computes too."""
    names = wanted(book.playbook.portfolio)
    out = []
    for acc in accounts:
        values = measure_values(acc, book, as_of, names)
        out.append(Measures(acc.id, {n: x for n, x in zip(names, values) if x == x}))
    return tuple(out)


def measure_values(account: Account, book: Rulebook, as_of: _dt.date | None,
                   names: Sequence[str]) -> tuple[float, ...]:
    """One account's measures in the order of `names`, NaN where missing (what a worker sends back
    in the first pass of a streamed run: a few floats per account)."""
    env = some_values(account, book, as_of or account.as_of or _dt.date.today(), tuple(names))
    return tuple(math.nan if (x := _number(env.get(n))) is None else x for n in names)


class Measured:
    """The first pass of a streamed run, kept compactly: the ids (ids.Ids: one buffer, no string
    object per account) and a column of floats per measure (NaN: missing), for the accounts in
    input order, the first of duplicate ids only. `rows` holds, for every valid account in the
    order read (duplicates too), the index in `ids` of its id, and `spans` which of them each task
    held, so the second pass can give each task its accounts' facts."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.ids = Ids()
        self.columns = tuple(array("d") for _ in self.names)
        self.rows = array("i")
        self.spans: list[tuple[int, int]] = []

    @property
    def row_ids(self) -> Sequence[str]:
        return Picked(self.ids, self.rows)

    def add(self, ident: str, values: Sequence[float]) -> None:
        k, new = self.ids.add(ident)
        self.rows.append(k)
        if new:  # of a duplicate id only the first account's values count (the evaluation reports the others)
            for col, v in zip(self.columns, values):
                col.append(v)

    def task_indexes(self, i: int) -> Sequence[int]:
        """The index in `ids` of each account of the i-th task (a duplicate: its first's)."""
        if i >= len(self.spans):
            return ()
        start, end = self.spans[i]
        return self.rows[start:end]

    def index_of(self, ident: str) -> int | None:
        """The index of an id in `ids` (None: not read): only a second pass whose accounts do not
        come back as the first read them asks."""
        return self.ids.index_of(ident)

    def view(self) -> Sequence[Measures]:
        return _MeasuresView(self)


class _MeasuresView(Sequence[Measures]):
    """Measures rebuilt from the columns one at a time (the overview and --calibrate read them)."""

    def __init__(self, m: Measured) -> None:
        self.m = m

    def __len__(self) -> int:
        return len(self.m.ids)

    @overload
    def __getitem__(self, i: int) -> Measures: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Measures]: ...

    def __getitem__(self, i: int | slice) -> Measures | Sequence[Measures]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        m = self.m
        ident = m.ids[i]  # IndexError past the end, as a tuple
        values: dict[str, float] = {}
        for n, col in zip(m.names, m.columns):
            v = col[i]
            if v == v:  # NaN: missing
                values[n] = v
        return Measures(ident, values)

    def __iter__(self) -> Iterator[Measures]:
        for i in range(len(self)):
            yield self[i]


def choose(ms: Sequence[Measures], pf: PortfolioDef) -> tuple[str, str]:
    """(by, measure): profit when asked, or when `auto` and every account with a revenue gives a
    profit (a ranking that mixes profit and revenue would compare apples with pears)."""
    if pf.rank_profit and pf.rank_by == "profit":
        return "profit", pf.rank_profit
    if pf.rank_by == "revenue" or not pf.rank_profit:
        return "revenue", pf.rank_revenue
    # read as a stream (a streamed run's measures are rebuilt one at a time: a list of those with
    # a revenue was the peak of its main process, ≈ 18 MiB at 100,000 accounts)
    revenue, profit = column(ms, pf.rank_revenue), column(ms, pf.rank_profit)
    any_revenue = False
    for r, p in zip(revenue, profit):
        if r == r:  # NaN: no revenue
            if p != p:
                return "revenue", pf.rank_revenue
            any_revenue = True
    return ("profit", pf.rank_profit) if any_revenue else ("revenue", pf.rank_revenue)


def ranking(ms: Sequence[Measures], pf: PortfolioDef) -> Ranking:
    """The book ranked; Ranking.at(i) is ms[i]'s placement."""
    by, measure = choose(ms, pf)
    ids, column = _column(ms, measure)
    return rank_columns(ids, column, bands=pf.pyramid_bands, abc=pf.abc, by=by, measure=measure,
                        unranked=Picked(ids, array("i", (i for i in range(len(ids)) if column[i] != column[i]))))


def _column(ms: Sequence[Measures], name: str) -> tuple[Sequence[str], Sequence[float]]:
    """The ids and one measure of every account (NaN: missing), read off the columns of a
    streamed run's first pass rather than rebuilt account by account."""
    if isinstance(ms, _MeasuresView) and name in ms.m.names:
        return ms.m.ids, ms.m.columns[ms.m.names.index(name)]
    return [m.id for m in ms], array("d", (m.values.get(name, math.nan) for m in ms))


def column(ms: Sequence[Measures], name: str) -> Sequence[float]:
    """One measure of every account of ms, in order (NaN: missing)."""
    return _column(ms, name)[1]


def supplied_facts(book: Rulebook, r: Ranking, p: Placement) -> dict[str, Any]:
    """The portfolio.* facts of one ranked account, for the facts the rulebook declares."""
    return supplied_values(book, r.size, r.by, (p.rank_share, p.tier, p.abc))


def supplied_values(book: Rulebook, size: int, by: str, placed: tuple[float, str, str]) -> dict[str, Any]:
    """supplied_facts from the ranking's size and measure and the account's (rank share, tier,
    ABC class): what a worker of a streamed run gets per account (Ranking.placed)."""
    rank_share, tier, abc = placed
    pf = book.playbook.portfolio
    given: dict[str, Any] = {
        "portfolio.rank_share": rank_share, "portfolio.size": size, "portfolio.ranked_by": by,
        "portfolio.abc": abc,
    }
    if pf.pyramid_fact and tier:
        given[pf.pyramid_fact] = tier
    return {k: v for k, v in given.items() if k in book.facts and book.facts[k].supplied == "portfolio"}


def supply(account: Account, book: Rulebook, r: Ranking) -> Account:
    """The account with its portfolio facts (unchanged when it is not ranked). The account's own
    values of supplied facts are replaced: only the portfolio stage knows them."""
    p = r.of(account.id)
    return supply_facts(account, book, supplied_facts(book, r, p) if p is not None else {})


_SUPPLIED: dict[str, tuple[str, ...]] = {}  # rulebook digest → the facts a stage supplies


def _supplied(book: Rulebook) -> tuple[str, ...]:
    """The facts a stage supplies (a handful): looked up in each account's values, rather than
    each of its values looked up among the facts."""
    names = _SUPPLIED.get(book.digest) if book.digest else None
    if names is None:
        names = tuple(k for k, f in book.facts.items() if f.supplied)
        if book.digest:
            _SUPPLIED[book.digest] = names
    return names


def supply_facts(account: Account, book: Rulebook, given: Mapping[str, Any]) -> Account:
    """`supply` with the portfolio facts already worked out (a worker of a streamed run gets them
    with its task, not the whole ranking)."""
    values_of = account.values
    own = [k for k in _supplied(book) if k in values_of]
    if not given and not own:
        return account
    values = {k: v for k, v in values_of.items() if k not in own} if own else values_of
    return account.with_values({**values, **given})


def first_pass(accounts: Iterable[Account], book: Rulebook,
               as_of: _dt.date | None) -> tuple[tuple[Measures, ...], Ranking]:
    """Measure every account and rank them (the run's first pass)."""
    ms = measures(accounts, book, as_of)
    return ms, ranking(ms, book.playbook.portfolio)


def ranks(book: Rulebook) -> bool:
    """Whether the rulebook's rules read the portfolio's ranking (facts the portfolio stage
    supplies): then every account is read and ranked before any is evaluated."""
    return any(f.supplier == "portfolio" for f in book.facts.values())
