"""Intervals of numbers: the constraint spans lint reasons with (authoring/algebra.py) and the
bounds the engine keeps for values it does not know (engine/bounds.py).

An `Interval` is a set of numbers between two bounds, each open or closed; infinite bounds
are open. Two readings use it:

- lint's constraint algebra: what a condition allows (`meet`, `within`, `discrete` …);
- interval arithmetic: where the result of `+ − × ÷`, `abs`, `min` and `max` lies when each
  operand lies in its interval. Arithmetic results have closed finite ends (a superset when an
  operand's end is open: sound, and the engine only meets closed declared ranges). Division by
  an interval that contains 0 gives the whole line: the quotient is unbounded. `0 × ∞` counts
  as 0 (an operand that is exactly 0 makes the product 0 whatever the other is).

`decide(op, a, b)` says whether `x op y` has the same outcome for every x in a and y in b.
"""
from __future__ import annotations

import math
from typing import Callable, Union
from kamrules.core.record import dataclass

INF = math.inf


@dataclass(frozen=True)
class Interval:
    """A set of numbers between two bounds, each open or closed (infinite bounds are open)."""

    lo: float = -INF
    lo_in: bool = False
    hi: float = INF
    hi_in: bool = False

    # ------------------------------------------------------------------ against a number
    # A message template tests a metric that is known only by its bounds (`{% if x > 1 %}`):
    # the test holds when it holds for every value in the interval, else it does not.

    def __gt__(self, v: object) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return NotImplemented
        return self.lo > v or (self.lo == v and not self.lo_in)

    def __ge__(self, v: object) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return NotImplemented
        return self.lo >= v

    def __lt__(self, v: object) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return NotImplemented
        return self.hi < v or (self.hi == v and not self.hi_in)

    def __le__(self, v: object) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return NotImplemented
        return self.hi <= v

    # ------------------------------------------------------------------ sets

    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_in and self.hi_in))

    def meet(self, o: Interval) -> Interval:
        """The intersection."""
        lo, lo_in = (o.lo, o.lo_in) if (o.lo > self.lo or (o.lo == self.lo and not o.lo_in)) else (self.lo, self.lo_in)
        hi, hi_in = (o.hi, o.hi_in) if (o.hi < self.hi or (o.hi == self.hi and not o.hi_in)) else (self.hi, self.hi_in)
        return Interval(lo, lo_in, hi, hi_in)

    def within(self, o: Interval) -> bool:
        """Is this interval a subset of `o`?"""
        lo_ok = self.lo > o.lo or (self.lo == o.lo and (o.lo_in or not self.lo_in))
        hi_ok = self.hi < o.hi or (self.hi == o.hi and (o.hi_in or not self.hi_in))
        return lo_ok and hi_ok

    def contains(self, v: float) -> bool:
        return not Interval(v, True, v, True).meet(self).empty()

    def discrete(self) -> Interval:
        """The same set of whole numbers, with closed ends (so `> 3` and `>= 4` compare equal)."""
        lo = self.lo if math.isinf(self.lo) else (math.floor(self.lo) + 1 if not self.lo_in and self.lo == math.floor(self.lo)
                                                   else math.ceil(self.lo))
        hi = self.hi if math.isinf(self.hi) else (math.ceil(self.hi) - 1 if not self.hi_in and self.hi == math.ceil(self.hi)
                                                   else math.floor(self.hi))
        return Interval(lo, not math.isinf(lo), hi, not math.isinf(hi))

    def is_point(self) -> bool:
        return self.lo == self.hi and self.lo_in and self.hi_in

    def bounded(self) -> bool:
        """At least one end is finite: the interval says something."""
        return not (math.isinf(self.lo) and math.isinf(self.hi))

    # ------------------------------------------------------------------ arithmetic

    def __neg__(self) -> Interval:
        return closed(-self.hi, -self.lo)

    def __add__(self, o: Operand) -> Interval:
        b = _as_interval(o)
        return closed(_sum(self.lo, b.lo, -INF), _sum(self.hi, b.hi, INF))

    __radd__ = __add__

    def __sub__(self, o: Operand) -> Interval:
        return self + (-_as_interval(o))

    def __rsub__(self, o: Operand) -> Interval:
        return _as_interval(o) + (-self)

    def __mul__(self, o: Operand) -> Interval:
        b = _as_interval(o)
        return _corners([_product(x, y) for x in (self.lo, self.hi) for y in (b.lo, b.hi)])

    __rmul__ = __mul__

    def __truediv__(self, o: Operand) -> Interval:
        b = _as_interval(o)
        if b.contains(0.0) or b.empty() or b.lo == 0 or b.hi == 0:
            return Interval()  # the quotient is unbounded (and undefined at 0)
        # each corner divided directly (not times a reciprocal): the same float operation as x / y
        return _corners([x / y for x in (self.lo, self.hi) for y in (b.lo, b.hi)])

    def __rtruediv__(self, o: Operand) -> Interval:
        return _as_interval(o) / self

    def abs(self) -> Interval:
        if self.lo >= 0:
            return self
        if self.hi <= 0:
            return -self
        return closed(0.0, max(-self.lo, self.hi))

    def minimum(self, o: Interval) -> Interval:
        return closed(min(self.lo, o.lo), min(self.hi, o.hi))

    def maximum(self, o: Interval) -> Interval:
        return closed(max(self.lo, o.lo), max(self.hi, o.hi))

    def hull(self, o: Interval) -> Interval:
        """The smallest interval holding both."""
        return closed(min(self.lo, o.lo), max(self.hi, o.hi))

    def map_ends(self, f: "Callable[[float], float]") -> Interval:
        """Both finite ends through a non-decreasing function (rounding): a sound bound of f(x)."""
        return closed(self.lo if math.isinf(self.lo) else f(self.lo), self.hi if math.isinf(self.hi) else f(self.hi))


Operand = Union[Interval, int, float]


def closed(lo: float, hi: float) -> Interval:
    """[lo, hi] with its finite ends included (infinite ends are open)."""
    return Interval(lo, not math.isinf(lo), hi, not math.isinf(hi))


def point(v: float) -> Interval:
    return Interval(v, True, v, True)


WHOLE_LINE = Interval()


def _as_interval(o: Operand) -> Interval:
    if isinstance(o, Interval):
        return o
    if isinstance(o, bool) or not isinstance(o, (int, float)):
        raise TypeError(f"an interval cannot be combined with {type(o).__name__}")
    return point(float(o))


def _sum(a: float, b: float, nan_to: float) -> float:
    s = a + b
    return nan_to if s != s else s  # ∞ + (−∞) only meets at an end that is already open


def _product(a: float, b: float) -> float:
    if a == 0 or b == 0:
        return 0.0  # 0 × ∞: an operand that is exactly 0 gives 0
    return a * b


def _corners(values: list[float]) -> Interval:
    """The hull of a product's or quotient's corner values. Over a box, x·y and x / y (0 not in
    the divisor) are extreme at corners; ∞ / ∞ has no value there, so the result says nothing."""
    if any(v != v for v in values):
        return Interval()
    return closed(min(values), max(values))


# ---------------------------------------------------------------------- decisions

NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def _always(op: str, a: Interval, b: Interval) -> bool:
    """Does `x op y` hold for every x in a and y in b?"""
    if op == "<":
        return a.hi < b.lo or (a.hi == b.lo and not (a.hi_in and b.lo_in))
    if op == "<=":
        return a.hi <= b.lo
    if op == ">":
        return _always("<", b, a)
    if op == ">=":
        return _always("<=", b, a)
    if op == "==":
        return a.is_point() and b.is_point() and a.lo == b.lo
    if op == "!=":
        return a.meet(b).empty()
    raise ValueError(op)


def decide(op: str, a: Interval, b: Interval) -> bool | None:
    """True when `x op y` holds for every x in a and y in b, False when it holds for none, None
    when it depends on where x and y are. A decision and its negation always agree."""
    if a.empty() or b.empty():
        return None  # nothing to decide over (a range declared backwards)
    if _always(op, a, b):
        return True
    if _always(NEGATE[op], a, b):
        return False
    return None


