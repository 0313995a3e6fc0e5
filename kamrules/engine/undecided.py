"""The bounds' questions that cannot decide anything for an account, known from which names it misses.

A generated stratum asks the account's Bounds ≈ 33 questions (engine/boundsgen.py) and, on a CRM
export, none of them decides anything: `margin_after_cts < 0` with the costs missing is an
interval (−∞, revenue × gross_margin], whose upper end is never below 0 for any revenue and margin
the loader accepts; `returns_rate > 100 %` with the returns missing is [0, ∞) for every positive
revenue. Whether a question can decide depends on which names are missing and on the ranges of
the values present, not on the values themselves. So, per *presence pattern* (which of the
names the questions read an account has), this module proves once which questions answer None
for every account with that pattern, and pre-fills those answers into the account's
`Bounds._decided` — the memo every question (and Bounds.decide) reads first — instead of letting
each compute its intervals.

The proof is an abstract interpretation of the questions' own steps (boundsgen's text, bounds.py's
closures) in which each interval end is itself a range: `AEnds` = (the least and the greatest
value the interval's lower end can take, the same for its upper end) over every account of the
pattern. A missing fact with a declared range is that range exactly; a present value is a point
anywhere in its declared hard range (a present metric: anywhere finite); the operations are the
engine's (`bounds.ARITH`), applied to the corners of the ends' ranges — each operation is
monotone in each operand separately, so its extremes over a box of ends lie at the box's corners
—, with `_tidy` (non-decreasing) at every end, and every case in which the engine gives no interval
(a divisor that may be 0, an overflow) or the whole line (an empty divisor, ∞/∞) taken as what it
is: None decides nothing, and the whole line only widens the ranges outward. A question is
proven undecidable when neither of its outcomes is reachable from those ranges.

The proof assumes each present value it read lies in the range it was given; `prefill` checks
exactly those values on every account (a handful of comparisons) and pre-fills nothing when one is
out of range — a library caller may build an account the loader would refuse. tests/test_undecided.py
holds every pre-filled answer to the question it replaces.

Built with the generated strata (Program.generate), so `advise` and small portfolios never pay
for it; a pattern is proven on its first account (a few hundred thousand instructions) and a
process remembers at most `_PATTERNS` of them.
"""
from __future__ import annotations

import math
import operator
from itertools import repeat
from typing import Callable, Iterable, Mapping

from kamrules.engine.bounds import Bounds, BoundsTable, _ends_of, _finite_tidy, _point_ends
from kamrules.engine.boundsgen import _constant, _constant_ends, _ref_vs_const
from kamrules.language import ir
from kamrules.language.intervals import INF

# (least, greatest) of the lower end; (least, greatest) of the upper end
AEnds = tuple[float, float, float, float]
Range = tuple[float, float]
_TOP: AEnds = (-INF, INF, -INF, INF)  # any interval at all
_MAXF = 1.7976931348623157e308  # the greatest finite float: a present value is finite
_TINY = 5e-324  # the least positive float: the divisor nearest 0 a present value can be
_PATTERNS = 1024

Proof = tuple[tuple[tuple[str, float, float], ...], dict[int, None]]


class _Never(Exception):
    """The interval is none for every account of the pattern: the question answers None."""


def _corners(f: Callable[[float, float], float], x: Range, y: Range) -> Range:
    """The least and greatest of f over the box x × y, f monotone in each operand separately (its
    extremes lie at the corners); a corner with no value (NaN) gives no bound at all."""
    vals = [f(x[0], y[0]), f(x[0], y[1]), f(x[1], y[0]), f(x[1], y[1])]
    if any(v != v for v in vals):
        return -INF, INF
    return min(vals), max(vals)


def _mul(x: float, y: float) -> float:
    return 0.0 if x == 0 or y == 0 else x * y  # bounds._times: 0 × ∞ is 0


def _div(x: float, y: float) -> float:
    return x / y


def _tidy_range(r: Range) -> Range:
    return _finite_tidy(r[0]), _finite_tidy(r[1])


def _hull(a: AEnds | None, b: AEnds | None) -> AEnds | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def _arith(op: str, a: AEnds, b: AEnds) -> AEnds:
    """bounds.ARITH[op] over every pair of intervals a and b describe: the ranges of the result's
    ends (the cases without a result — None — left out: they decide nothing)."""
    a0, a1, b0, b1 = (a[0], a[1]), (a[2], a[3]), (b[0], b[1]), (b[2], b[3])
    if op == "+":  # lo = a0 + b0, hi = a1 + b1; ∞ − ∞ gives an open end (bounds._plus)
        lo, hi = _corners(operator.add, a0, b0), _corners(operator.add, a1, b1)
    elif op == "-":  # lo = a0 − b1, hi = a1 − b0
        lo, hi = _corners(operator.sub, a0, b1), _corners(operator.sub, a1, b0)
    elif op == "*":
        lo, hi = _min_max([_corners(_mul, x, y) for x in (a0, a1) for y in (b0, b1)])
    else:
        return _over(a0, a1, b0, b1)
    return (*_tidy_range(lo), *_tidy_range(hi))


def _min_max(products: list[Range]) -> tuple[Range, Range]:
    """The ranges of min and max of four values, each in its range."""
    return ((min(p[0] for p in products), min(p[1] for p in products)),
            (max(p[0] for p in products), max(p[1] for p in products)))


def _over(a0: Range, a1: Range, b0: Range, b1: Range) -> AEnds:
    """bounds._over: None when the divisor may be 0; the whole line for an empty or infinite point
    divisor; else the corners' quotients, over divisors wholly above 0 or wholly below it."""
    out: AEnds | None = None
    if b0[1] > 0:  # divisors above 0: b0 ≥ the least positive float
        pos = (max(b0[0], _TINY), b0[1]), (max(b1[0], _TINY), max(b1[1], _TINY))
        out = _quotients(a0, a1, *pos)
    if b1[0] < 0:  # divisors below 0
        neg = (min(b0[0], -_TINY), min(b0[1], -_TINY)), (b1[0], min(b1[1], -_TINY))
        out = _hull(out, _quotients(a0, a1, *neg))
    if out is None:
        raise _Never
    if b0[1] > b1[0] or b0[1] == INF or b1[0] == -INF:  # an empty or infinite divisor: the whole line
        out = -INF, out[1], out[2], INF
    return out


def _quotients(a0: Range, a1: Range, b0: Range, b1: Range) -> AEnds:
    lo, hi = _min_max([_corners(_div, x, y) for x in (a0, a1) for y in (b0, b1)])
    return (*_tidy_range(lo), *_tidy_range(hi))


def _may(op: str, a: AEnds, b: AEnds) -> tuple[bool, bool]:
    """(may the comparison be decided True, may it be decided False) for intervals a and b
    describe: bounds._lt_ends and _le_ends (sides swapped for > and >=); == and != may be both."""
    if op in (">", ">="):
        a, b = b, a
        op = "<" if op == ">" else "<="
    if op == "<":  # True: a1 < b0, or equal and infinite; False: b1 <= a0
        return (a[2] < b[1] or (a[2] == b[1] and math.isinf(a[2]))), b[2] <= a[1]
    if op == "<=":  # True: a1 <= b0; False: b1 < a0, or equal and infinite
        return a[2] <= b[1], (b[2] < a[1] or (b[2] == a[1] and math.isinf(b[2])))
    return True, True


class _Pattern:
    """The abstract interpretation for one presence pattern: which names are present."""

    def __init__(self, table: BoundsTable, present: Mapping[str, bool]) -> None:
        self.table = table
        self.present = present
        self.read: dict[str, Range] = {}  # present names read, with the range assumed for each
        # missing metric → (the ranges of its interval's ends or None, the present names it read)
        self._metrics: dict[str, tuple[AEnds | None, dict[str, Range]]] = {}

    def _value(self, name: str, kind: str) -> AEnds:
        """A present value: a point anywhere in its declared hard range (finite)."""
        rng = self.table.ranges.get(name) if kind == "fact" else None
        lo, hi = (-_MAXF, _MAXF) if rng is None else (max(rng.lo, -_MAXF), min(rng.hi, _MAXF))
        self.read[name] = (lo, hi)
        return lo, hi, lo, hi

    def term(self, t: ir.Term) -> AEnds:
        """The ranges of the term's interval ends (boundsgen._Ends.term); _Never when it has none."""
        match t:
            case ir.Const():
                ends = _point_ends(t.value)
                if ends is None:
                    raise _Never
                return ends[0], ends[0], ends[1], ends[1]
            case ir.Ref() if t.kind != "item":
                if self.present.get(t.name, False):
                    return self._value(t.name, t.kind)
                if t.kind == "metric" and t.name in self.table.metric_terms:
                    got = self.metric(t.name)
                    if got is None:
                        raise _Never
                    return got
                rng = self.table.ranges.get(t.name) if t.kind == "fact" else None
                if rng is None:
                    raise _Never
                lo, hi = _ends_of(rng)
                return lo, lo, hi, hi
            case ir.Arith():
                if _constant(t):  # constants only: computed as the generated text computes them
                    ends = _constant_ends(t)
                    if ends is None:
                        raise _Never
                    return ends[0], ends[0], ends[1], ends[1]
                return _arith(t.op, self.term(t.left), self.term(t.right))
            case _:  # abs, min, max, days_since, aggregates, an item: any interval
                return _TOP

    def metric(self, name: str) -> AEnds | None:
        """Bounds.metric_ends(name) for a missing metric: integer metrics' finite ends rounded."""
        hit = self._metrics.get(name)
        if hit is not None:  # the names it read count for every question that reads it
            self.read.update(hit[1])
            return hit[0]
        self._metrics[name] = None, {}  # a cycle bounds nothing (as Bounds.metric_ends)
        outer, self.read = self.read, {}
        try:
            got: AEnds | None = self.term(self.table.metric_terms[name])
        except _Never:
            got = None
        if got is not None and self.table.metric_types.get(name) == "integer":
            lo0, lo1, hi0, hi1 = (x if math.isinf(x) else float(round(x)) for x in got)
            got = lo0, lo1, hi0, hi1
        self._metrics[name] = got, self.read
        outer.update(self.read)
        self.read = outer
        return got

    def undecidable(self, c: ir.Cmp) -> bool:
        """Does the question of `c` answer None for every account of this pattern?"""
        table = self.table
        if not table.candidate(c):
            return True  # no decider: None always
        if all(self.present.get(n, False) for n in table.names(c)):
            return True  # nothing it reads is missing: the engine decides it from the values
        ref = _ref_vs_const(c)
        if ref is not None and self.present.get(ref[0].name, False):
            return True  # `fact or metric <op> constant`: decided only while the name is missing
        try:
            a, b = self.term(c.left), self.term(c.right)
        except _Never:
            return True
        may_true, may_false = _may(c.op, a, b)
        return not may_true and not may_false


class Undecided:
    """For a Program's questions, the ones each presence pattern cannot decide (module docstring)."""

    def __init__(self, table: BoundsTable, comparisons: Iterable[ir.Cmp]) -> None:
        self.table = table
        by_key: dict[int, ir.Cmp] = {}
        for c in comparisons:
            by_key.setdefault(table._decider_entry(c)[2], c)  # equal comparisons share one decision
        self.questions = by_key
        names: set[str] = set()
        seen: set[str] = set()
        todo = [r for c in by_key.values() for r in ir.refs(c)]
        while todo:  # what the questions read, through the formulas of the metrics they read
            r = todo.pop()
            if r.kind == "item" or r.name in seen:
                continue
            seen.add(r.name)
            names.add(r.name)
            if r.kind == "metric" and r.name in table.metric_terms:
                todo.extend(ir.refs(table.metric_terms[r.name]))
        self.names = tuple(sorted(names))
        self._proofs: dict[tuple[bool, ...], Proof] = {}

    def prove(self, present: tuple[bool, ...]) -> Proof:
        """(the present values the proof assumed in range, with their ranges; the questions'
        decisions — None — for every account of the pattern)."""
        pattern = _Pattern(self.table, dict(zip(self.names, present)))
        none: dict[int, None] = {}
        read: dict[str, Range] = {}
        for key, c in self.questions.items():
            pattern.read = {}
            if pattern.undecidable(c):
                none[key] = None
                read.update(pattern.read)
        return tuple((n, lo, hi) for n, (lo, hi) in sorted(read.items())), none

    def prefill(self, bounds: Bounds) -> None:
        """Pre-fill the account's decisions that its presence pattern proves to be None."""
        env = bounds.env
        present = tuple(map(operator.is_not, map(env.get, self.names), repeat(None)))
        proof = self._proofs.get(present)
        if proof is None:
            if len(self._proofs) >= _PATTERNS:
                return
            proof = self._proofs[present] = self.prove(present)
        checks, none = proof
        for name, lo, hi in checks:
            v = env[name]
            t = type(v)
            # the engine reads only a float or an int as a number (anything else: no interval)
            if (t is float or t is int) and not lo <= v <= hi:
                return
        bounds._decided.update(none)
