"""Portfolio metrics from the portfolio itself: pure functions on numbers and ids, returning
frozen dataclasses (the Markdown/JSON summary and the HTML dashboard read the same objects).

- concentration: the top-1 and top-5 accounts' share of the book's revenue, the share of the top
  20 % of accounts, and the Herfindahl–Hirschman index (sum of squared shares, 0–1; 1 = one
  account) — all from the book's own total, so no company revenue is needed;
- the whale curve (Kaplan & Narayanan 2001): cumulative profit by rank, most profitable first;
  its peak (often well above 100 % of the total profit) and the accounts that destroy profit;
- the spread of each classification dimension: the share of its most common value, so a summary
  can say "the thresholds put nearly everyone into one class";
- accounts and key accounts per manager; key accounts without profit data; the data-check list
  (data-check rules and plausible ranges, merged);
- rule hits across the book: how often each rule fires, by final class.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

TOP_FEW = 5  # "top-5 share"


# --------------------------------------------------------------------------- concentration

@dataclass(frozen=True)
class Concentration:
    """How the book's revenue is spread over its accounts (accounts with a positive revenue)."""

    accounts: int  # with a revenue above 0
    total: float
    top1: float  # share of the largest account
    top1_id: str
    top5: float  # share of the largest min(5, n)
    top_share_accounts: int  # the top 20 % of accounts, at least one
    top_share: float  # their share of the revenue
    accounts_share: float  # top_share_accounts / accounts (the "20 %" as it fell)
    hhi: float  # Herfindahl–Hirschman index, 0–1
    # cumulative share after each account, largest first (the Pareto curve; an array of doubles)
    curve: Sequence[float] = ()


def concentration(revenues: Iterable[tuple[str, float]], top_share_of_accounts: float = 0.2) -> Concentration | None:
    """None when no account has a positive revenue. Accounts at or below zero are left out: a
    share of a total is meaningless for them (they are listed by the whale curve)."""
    ranked = sorted(((i, v) for i, v in revenues if v > 0), key=lambda x: (-x[1], x[0]))
    return concentration_ranked([i for i, _ in ranked], [v for _, v in ranked], top_share_of_accounts)


def concentration_ranked(ids: Sequence[str] | None, values: Sequence[float],
                         top_share_of_accounts: float = 0.2) -> Concentration | None:
    """`concentration` of revenues already ranked (largest first, ties by id) and all positive:
    a ranking by revenue is that order already, so nothing is sorted or copied again. ids None:
    the caller reads no id (top1_id is then "")."""
    n = len(values)
    if not n:
        return None
    total = math.fsum(values)
    k = max(1, math.floor(top_share_of_accounts * n + 0.5))
    # the running sums divided by the total, a float per account in an array (8 bytes, not a
    # float object each); accumulate adds in order from 0.0, as a running `run += v` would
    sums = itertools.islice(itertools.accumulate(values, initial=0.0), 1, None)
    curve = array("d", map(total.__rtruediv__, sums))
    return Concentration(
        accounts=n, total=total, top1=values[0] / total, top1_id=ids[0] if ids is not None else "",
        top5=math.fsum(values[j] for j in range(min(TOP_FEW, n))) / total, top_share_accounts=k,
        top_share=math.fsum(values[j] for j in range(min(k, n))) / total, accounts_share=k / n,
        hhi=math.fsum((v / total) ** 2 for v in values), curve=curve)


# --------------------------------------------------------------------------- whale curve

@dataclass(frozen=True)
class Whale:
    """Cumulative profit by rank, most profitable account first."""

    ids: tuple[str, ...]  # in rank order
    cumulative: Sequence[float]  # cumulative profit after each account (an array of doubles)
    total: float  # the book's profit (the curve's end)
    peak: float  # the curve's highest point
    peak_rank: int  # accounts up to the peak (1-based)
    destroyers: tuple[tuple[str, float], ...]  # accounts with a negative profit, worst first
    destroyed: float  # their profit, summed (≤ 0)
    without_profit: int  # accounts left out: no profit figure

    @property
    def peak_share(self) -> float | None:
        """The peak as a share of the total profit (e.g. 1.6 = 160 %); None when the total is not positive."""
        return self.peak / self.total if self.total > 0 else None


def whale(profits: Iterable[tuple[str, float]], without_profit: int = 0) -> Whale | None:
    """None when no account gives a profit."""
    ranked = sorted(profits, key=lambda x: (-x[1], x[0]))
    if not ranked:
        return None
    cum = array("d")  # a float per account: 8 bytes, not a float object each
    run = 0.0
    for _, v in ranked:
        run += v
        cum.append(run)
    peak = max(cum)
    peak_rank = cum.index(peak) + 1
    destroyers = tuple(sorted(((i, v) for i, v in ranked if v < 0), key=lambda x: (x[1], x[0])))
    total = math.fsum(v for _, v in ranked)
    ids = tuple(i for i, _ in ranked)
    del ranked
    return Whale(ids, cum, total, peak, peak_rank, destroyers, math.fsum(v for _, v in destroyers), without_profit)


# --------------------------------------------------------------------------- classes

@dataclass(frozen=True)
class Spread:
    """One classification dimension across the book."""

    dimension: str
    counts: tuple[tuple[str, int], ...]  # value → accounts, most first (ties by value)
    classified: int  # accounts with a value
    dominant: str  # the most common value ("" when nobody is classified)
    dominant_share: float  # its share of the classified accounts

    def one_class(self, limit: float) -> bool:
        """(Nearly) every account in one class: the thresholds do not discriminate here. Needs
        more than one account: one account is always in one class."""
        return self.classified > 1 and self.dominant_share >= limit


def spread(dimension: str, values: Iterable[str | None]) -> Spread:
    return spread_counted(dimension, Counter(values))


def spread_counted(dimension: str, counted: Mapping[str | None, int]) -> Spread:
    """`spread` from how many accounts have each value (None: not classified)."""
    counts = {v: n for v, n in counted.items() if v is not None and n}
    ordered = tuple(sorted(counts.items(), key=lambda x: (-x[1], x[0])))
    n = sum(counts.values())
    top, top_n = ordered[0] if ordered else ("", 0)
    return Spread(dimension, ordered, n, top, top_n / n if n else 0.0)


# --------------------------------------------------------------------------- managers

@dataclass(frozen=True)
class ManagerLoad:
    manager: str
    accounts: int
    key_accounts: int


@dataclass(frozen=True)
class Managers:
    loads: tuple[ManagerLoad, ...]  # most key accounts first, then most accounts, then name
    unassigned: int  # accounts without a manager

    @property
    def mean_accounts(self) -> float | None:
        return sum(m.accounts for m in self.loads) / len(self.loads) if self.loads else None


def managers(rows: Iterable[tuple[str | None, bool]]) -> Managers:
    """rows: (manager or None, is a key account)."""
    return managers_counted((m, key, 1) for m, key in rows)


def managers_counted(groups: Iterable[tuple[str | None, bool, int]]) -> Managers:
    """`managers` from groups of accounts: (manager or None, are key accounts, how many)."""
    accounts: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    unassigned = 0
    for m, key, n in groups:
        if not m:
            unassigned += n
            continue
        accounts[m] += n
        if key:
            keys[m] += n
    loads = tuple(sorted((ManagerLoad(m, n, keys[m]) for m, n in accounts.items()),
                         key=lambda x: (-x.key_accounts, -x.accounts, x.manager)))
    return Managers(loads, unassigned)


# --------------------------------------------------------------------------- rule hits

@dataclass(frozen=True)
class RuleHits:
    rule: str
    fired: int  # accounts it fired for
    by_class: tuple[tuple[str, int], ...]  # final class → accounts (classes in the dimension's order)

    def share(self, accounts: int) -> float:
        return self.fired / accounts if accounts else 0.0


@dataclass(frozen=True)
class HitStats:
    accounts: int
    rules: tuple[RuleHits, ...]  # every rule of the book, most fired first, then id
    never: tuple[str, ...]  # rules that fired for no account
    always: tuple[str, ...]  # rules that fired for every account (more than one account)


def rule_hits(fired: Iterable[tuple[str | None, Iterable[str]]], rules: Sequence[str],
              classes: Sequence[str] = ()) -> HitStats:
    """fired: per account, (final class or None, the rules that fired for it), read once. `rules`:
    every rule of the book, so the rules that never fire are listed too. `classes` orders by_class;
    an account without a class counts under ""."""
    return rule_hits_counted(((cls, ids, 1) for cls, ids in fired), rules, classes)


def rule_hits_counted(groups: Iterable[tuple[str | None, Iterable[str], int]], rules: Sequence[str],
                      classes: Sequence[str] = ()) -> HitStats:
    """`rule_hits` from groups of accounts: (final class or None, the rules that fired for each of
    them, how many). A streamed run has a few thousand such groups for 100,000 accounts."""
    total: Counter[str] = Counter()
    per: dict[str, Counter[str]] = {}
    n = 0
    for cls, ids, k in groups:
        n += k
        for rid in set(ids):
            total[rid] += k
            counts = per.get(rid)
            if counts is None:  # not setdefault: that makes a Counter per call, used or not
                counts = per[rid] = Counter()
            counts[cls or ""] += k
    order = {c: i for i, c in enumerate(classes)}

    def by_class(rid: str) -> tuple[tuple[str, int], ...]:
        got = per.get(rid, Counter())
        return tuple(sorted(got.items(), key=lambda x: (order.get(x[0], len(order)), x[0])))

    known = list(dict.fromkeys([*rules, *sorted(total)]))
    hits = tuple(sorted((RuleHits(r, total[r], by_class(r)) for r in known), key=lambda h: (-h.fired, h.rule)))
    return HitStats(n, hits, tuple(sorted(r for r in known if total[r] == 0)),
                    tuple(sorted(r for r in known if n > 1 and total[r] == n)))


# --------------------------------------------------------------------------- lists

@dataclass(frozen=True)
class Flagged:
    """An account on a list (key accounts without profit data)."""

    id: str
    name: str


@dataclass(frozen=True)
class Check:
    """One thing to check in one account's figures (the data-check list): the figures, and why
    they look wrong — the data-check rules that fired on exactly these figures, and/or the
    plausible range the one figure lies outside. Evaluated as given either way."""

    id: str
    name: str
    figures: tuple[tuple[str, float], ...]  # (fact or metric, value), in the order the check reads them
    rules: tuple[str, ...] = ()  # data-check rules (playbook.portfolio.checks) that fired
    plausible: tuple[float | None, float | None] | None = None  # the declared range the figure is outside


RuleHit = tuple[str, Sequence[tuple[str, float]]]  # (rule, the numeric figures its condition reads)
RangeHit = tuple[str, float, float | None, float | None]  # (fact, value, plausible low, high)


def data_checks(rows: Iterable[tuple[str, str, Sequence[RuleHit], Sequence[RangeHit]]]) -> tuple[Check, ...]:
    """One list from the two kinds of data check: rows are (id, name, data-check rules that fired
    with their figures, values outside their plausible range). A rule and a range about the
    same figures of the same account are one check with both reasons (a gross margin of 95 % is
    outside the usual range and fires the implausible-margin rule: one thing to check, not two).
    Accounts with the most checks first, then by id; an account's checks in the order found
    (rules by id, then ranges in declaration order)."""
    out: list[tuple[str, list[Check]]] = []
    for ident, name, rules, ranges in rows:
        found: dict[object, Check] = {}
        for rule, figs in sorted(rules, key=lambda x: x[0]):
            key: object = frozenset(n for n, _ in figs) or ("rule", rule)  # no figure: a check of its own
            seen = found.get(key)
            found[key] = Check(ident, name, tuple(figs), (rule,)) if seen is None else \
                dataclasses.replace(seen, rules=(*seen.rules, rule))
        for fact, value, low, high in ranges:
            key = frozenset((fact,))
            seen = found.get(key)
            found[key] = Check(ident, name, ((fact, value),), plausible=(low, high)) if seen is None else \
                dataclasses.replace(seen, plausible=(low, high))
        if found:
            out.append((ident, list(found.values())))
    out.sort(key=lambda x: (-len(x[1]), x[0]))
    return tuple(c for _, cs in out for c in cs)


def key_without_profit(rows: Iterable[tuple[str, str, bool, bool]]) -> tuple[Flagged, ...]:
    """rows: (id, name, is a key account, has a profit figure)."""
    return tuple(sorted((Flagged(i, n) for i, n, key, has in rows if key and not has), key=lambda x: x.id))
