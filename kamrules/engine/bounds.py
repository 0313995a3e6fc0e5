"""Deciding from partial data: bounds on the values an account does not give.

A fact that is missing but declared with a hard range (`rebates: min 0`) still bounds every
metric that uses it: `margin_after_cts = revenue × gross_margin − cost_to_serve − rebates − …`
is at most `revenue × gross_margin − cost_to_serve − …` whatever the rebates are. Each value
gets an interval — a point when it is known, the declared [min, max] for a missing fact
((−∞, ∞) without one), interval arithmetic for formulas — and a comparison whose sides are
unknown is *decided* when it has the same outcome for every value inside the bounds.
Everything else stays unknown (Kleene logic).

Soundness, i.e. "the same outcome for every value":
- only hard ranges (`min`/`max`) bound a missing fact, never `plausible` ones;
- each operation's interval ends are the operation applied to the operands' ends, with the
  engine's own float operation and rounding (`reference._tidy`), which are non-decreasing in
  each operand on each side of 0, so every value the engine could compute lies inside;
- an interval that may hold a value the engine treats as missing — a divisor interval holding
  0, an overflow at an end, `max`/`min` of a list that may be empty — is no interval (None),
  and nothing is decided from it;
- every number kamrules accepts is at most 10^15 in size (core/values.py), so an infinite end
  stands for values the engine computes without overflow.

Where it lives: the facts stage builds one `Bounds` per account that misses a value a decision
could use (`build_facts`, engine/facts.py) and puts it in the fact environment under `BOUNDS`,
a key no declared name can take. Decisions are made on first use and remembered for the
account, so the reference engine (compiled closures, the tree walker, and the generated
questions of a run of many accounts, engine/boundsgen.py), the durable_rules backend (synthetic
`_bN` properties, engine/compile.py), evidence and explanations all read the same answer. Which comparisons may be decided at all (`BoundsTable.candidate`) is a property of
the rulebook, the same for both engines.
"""
from __future__ import annotations

import datetime as _dt
import functools
import math
from typing import Any, Callable, Mapping

from kamrules.engine.reference import BOUNDS, Context, Truth3, _tidy, compile_term, eval_term
from kamrules.language import ir
from kamrules.language.intervals import INF, NEGATE, Interval, closed, decide, point
from kamrules.rulebook.model import FactDef, Rulebook

NUMERIC = ir.NUMERIC

# How a term's interval looks when one base fact is missing and every other value is known:
_NONE, _POINT, _BOUNDED, _UNBOUNDED = 0, 1, 2, 3


def declared_range(f: FactDef) -> Interval:
    """The hard range a fact is declared with; (−∞, ∞) without one."""
    return closed(-INF if f.min is None else f.min, INF if f.max is None else f.max)


def _point(v: Any) -> Interval | None:
    t = type(v)
    if t is float or t is int:
        return point(float(v))
    return None  # text, booleans, dates, lists: not bounded numerically


def _finite_tidy(x: float) -> float:
    tidied = _tidy(x)
    return x if tidied is None else tidied  # _tidy is None only for the infinite ends, kept as they are


def arith(op: str, a: Interval, b: Interval) -> Interval | None:
    """`a op b` as the engine computes it (reference.compile_term), or None when the engine could
    find no value for some operands: a divisor that may be 0, or an overflow at an end."""
    if op == "/":
        if b.contains(0.0):
            return None
        corners = [(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        result = a / b
    elif op == "*":
        corners = [(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        result = a * b
    elif op == "+":
        corners = [(a.lo, b.lo), (a.hi, b.hi)]
        result = a + b
    else:
        corners = [(a.lo, b.hi), (a.hi, b.lo)]
        result = a - b
    for x, y in corners:  # the engine's value at a corner with finite operands must be finite
        if not (math.isinf(x) or math.isinf(y)):
            v = x / y if op == "/" else x * y if op == "*" else x + y if op == "+" else x - y
            if v - v != 0:
                return None
    return result.map_ends(_finite_tidy)


class BoundsTable:
    """What bounds reasoning needs of one rulebook, built once (keyed by its digest)."""

    def __init__(self, book: Rulebook) -> None:
        self.book = book
        self.ranges: dict[str, Interval] = {n: declared_range(f) for n, f in book.facts.items() if f.type in NUMERIC}
        self.item_ranges: dict[tuple[str, str], Interval] = {
            (n, i.name): declared_range(i) for n, f in book.facts.items() if f.type == "list"
            for i in f.items if i.type in NUMERIC}
        self.scalar_items: frozenset[str] = frozenset(n for n, f in book.facts.items()
                                                      if f.type == "list" and f.item_type in NUMERIC)
        self.metric_terms: dict[str, ir.Term] = {n: m.term for n, m in book.metrics.items()}
        self.metric_types: dict[str, str] = {n: m.type for n, m in book.metrics.items()}
        self._candidate: dict[int, tuple[ir.Cmp, bool]] = {}  # by identity: hashing IR trees is slow
        self._names: dict[int, tuple[ir.Cmp, tuple[str, ...]]] = {}
        self._cls: dict[tuple[str, str], int] = {}
        self._bases: dict[str, frozenset[str]] = {}
        # by identity: (the comparison, its decider, the index of its equals) — equal comparisons in
        # several rules (`margin_after_cts < 0` in five) share one decision per account
        self._deciders: dict[int, tuple[ir.Cmp, Decider | None, int]] = {}
        self._same: dict[ir.Cmp, int] = {}
        self._metric_fns: dict[str, EndsFn] = {}
        found: dict[int, ir.Cmp] = {}
        # each rule's condition in negation normal form, in rule order, kept: compile_rulebook
        # compiles these same trees, so the comparisons it asks candidate() about are the ones
        # answered here (remembered by identity) instead of equal copies answered again: ~1,300
        # nnf steps and ~180 candidate checks of an advise (callgrind: see compile_rulebook)
        self.nnf_conds: tuple[ir.Cond, ...] = tuple(ir.nnf(r.cond) for r in book.rules)
        for cond in self.nnf_conds:
            for lit in ir.literals(cond):
                if type(lit) is ir.Cmp and self.candidate(lit):
                    found.setdefault(id(lit), lit)
        self.candidates: tuple[ir.Cmp, ...] = tuple(found.values())
        # the facts and metrics whose absence may let a candidate be decided: an account that has
        # them all needs no bounds (build_facts checks these few names, nothing more)
        self.watched: tuple[str, ...] = tuple(sorted({r.name for c in self.candidates for r in ir.refs(c)}))

    # ------------------------------------------------------------------ compiled deciders

    def decider(self, c: ir.Cmp) -> Decider | None:
        """The comparison compiled into a function of (env, Bounds) that decides it as
        `Bounds.decide_tree` does; None for a comparison bounds never decide."""
        return self._decider_entry(c)[1]

    def _decider_entry(self, c: ir.Cmp) -> tuple[ir.Cmp, Decider | None, int]:
        hit = self._deciders.get(id(c))
        if hit is None or hit[0] is not c:
            fn = _compile_decider(self, c) if self.candidate(c) else None
            try:
                key = self._same.setdefault(c, len(self._same))  # hashed once per comparison object
            except TypeError:  # pragma: no cover - a constant that cannot be hashed: its own decision
                key = -1 - len(self._deciders)
            hit = self._deciders[id(c)] = (c, fn, key)  # holding c keeps its id from being reused
        return hit

    def metric_fn(self, name: str) -> EndsFn:
        """A metric's formula compiled into its interval's ends (integer metrics rounded)."""
        fn = self._metric_fns.get(name)
        if fn is None:
            fn = self._metric_fns[name] = _compile_metric(self, name)
        return fn

    # ------------------------------------------------------------------ which comparisons

    def candidate(self, c: ir.Cmp) -> bool:
        """May this comparison be decided by bounds on some account? Numeric, on account-level
        facts and metrics only, and, for some base fact missing alone, with both sides bounded
        (or known) and at least one bounded. When both sides depend on that fact alone (`revenue
        >= 10M`, `count(contacts) >= 1`), bounds give the same interval on every account that misses
        it, so the comparison qualifies only if that interval decides it. The answer is the same for a comparison and its negation,
        and both engines ask this one function."""
        hit = self._candidate.get(id(c))
        if hit is not None and hit[0] is c:
            return hit[1]
        value = self._is_candidate(c)
        self._candidate[id(c)] = (c, value)  # holding c keeps its id from being reused
        return value

    def names(self, c: ir.Cmp) -> tuple[str, ...]:
        """The facts and metrics a comparison reads."""
        hit = self._names.get(id(c))
        if hit is None or hit[0] is not c:
            hit = self._names[id(c)] = (c, tuple(sorted({r.name for r in ir.refs(c)})))
        return hit[1]

    def _is_candidate(self, c: ir.Cmp) -> bool:
        if c.left.type not in NUMERIC or c.right.type not in NUMERIC:
            return False
        if _item_level(c.left) or _item_level(c.right):
            return False
        refs = list(ir.refs(c))
        if not refs or any(r.kind not in ("fact", "metric") for r in refs):
            return False
        base = self._base(refs)
        for f in sorted(base):
            left, right = self._class(c.left, f), self._class(c.right, f)
            if _NONE in (left, right) or _UNBOUNDED in (left, right) or (left == right == _POINT):
                continue
            if base == {f}:
                # both sides depend on f alone: what bounds will say when f is missing is known now
                static = Bounds(self, {}, _dt.date(2000, 1, 1))
                a, b = static.interval(c.left), static.interval(c.right)
                if a is None or b is None or decide(c.op, a, b) is None:
                    continue
            elif (_bare(c.left, f) and right == _POINT) or (_bare(c.right, f) and left == _POINT):
                continue  # a fact against a value it does not affect: decided only at its range's ends
            return True
        return False

    def _base(self, refs: list[ir.Ref]) -> set[str]:
        """The facts (and lists) behind some refs, through metric formulas."""
        out: set[str] = set()
        for r in refs:
            out |= self._base_of(r.name)
        return out

    def _base_of(self, name: str) -> frozenset[str]:
        hit = self._bases.get(name)
        if hit is None:
            self._bases[name] = frozenset()  # a cycle (the checker forbids one)
            if name in self.metric_terms:
                hit = frozenset().union(*(self._base_of(r.name) for r in ir.refs(self.metric_terms[name])))
            else:
                hit = frozenset({name}) if name in self.book.facts else frozenset()
            self._bases[name] = hit
        return hit

    def _class(self, t: ir.Term, f: str) -> int:
        match t:
            case ir.Const():
                return _POINT
            case ir.Ref():
                if t.kind == "metric" and t.name in self.metric_terms:
                    key = (t.name, f)
                    if key not in self._cls:
                        self._cls[key] = _NONE  # a cycle (the checker forbids one) decides nothing
                        self._cls[key] = self._class(self.metric_terms[t.name], f)
                    return self._cls[key]
                if t.name != f or t.kind == "item":
                    return _POINT
                rng = self.ranges.get(f)
                if rng is None:
                    return _NONE  # a date, a list used bare, text: no numeric bounds
                return _BOUNDED if rng.bounded() else _UNBOUNDED
            case ir.Arith():
                a, b = self._class(t.left, f), self._class(t.right, f)
                if _NONE in (a, b):
                    return _NONE
                if t.op == "/" and b != _POINT and self._may_be_zero(t.right, f):
                    return _NONE
                if a == b == _POINT:
                    return _POINT
                return _UNBOUNDED if _UNBOUNDED in (a, b) else _BOUNDED
            case ir.Fn():
                if t.name == "days_since":
                    return _NONE if any(r.name == f for r in ir.refs(t)) else _POINT
                cs = [self._class(a, f) for a in t.args]
                if _NONE in cs:
                    return _NONE
                if all(x == _POINT for x in cs):
                    return _POINT
                if t.name == "abs":
                    return _BOUNDED  # |x| >= 0 whatever x is
                return _UNBOUNDED if all(x == _UNBOUNDED for x in cs) else _BOUNDED
            case ir.Agg():
                if t.list.name != f:
                    return _POINT
                return _BOUNDED if t.func in ("count", "sum") else _NONE
            case _:
                ir.unknown(t)

    def _may_be_zero(self, t: ir.Term, f: str) -> bool:
        match t:
            case ir.Ref() if t.kind == "fact" and t.name == f:
                return self.ranges.get(f, Interval()).contains(0.0)
            case ir.Ref() if t.kind == "metric" and t.name in self.metric_terms:
                return self._may_be_zero(self.metric_terms[t.name], f)
            case ir.Agg() if t.list.name == f:
                return True  # a list that may be empty
            case _:
                return False


def _item_level(t: ir.Term) -> bool:
    """Does the term read an item of a list outside an aggregate (it is part of an aggregate's body)?"""
    match t:
        case ir.Ref():
            return t.kind == "item"
        case ir.Agg():
            return False
        case _:
            return any(_item_level(x) for x in ir.children(t))  # type: ignore[arg-type]


def _bare(t: ir.Term, f: str) -> bool:
    match t:
        case ir.Ref():
            return t.kind == "fact" and t.name == f
        case _:
            return False


# ---------------------------------------------------------------------- the compiled form
#
# `Bounds.interval` walks a comparison's tree for every account; an account of a CRM export
# misses some figure almost always, and about 45 candidate comparisons are asked per account.
# So each candidate is compiled once per rulebook into closures over plain (lo, hi) pairs of
# floats instead of Interval objects. Every interval bounds reasoning makes is closed, with its
# infinite ends open (`closed(lo, hi)`: points, declared ranges, and what interval arithmetic,
# abs, min, max and the aggregates give), so two floats say all an Interval does here. Each
# function below is the tree form's operation (Interval's methods, `arith`, `decide`) spelled
# out on those pairs; tests/test_bounds.py holds the two forms to the same answers.

Ends = tuple[float, float]  # [lo, hi]; an infinite end is open
EndsFn = Callable[[Mapping[str, Any], "Bounds"], "Ends | None"]
Decider = Callable[[Mapping[str, Any], "Bounds"], Truth3]
_WHOLE: Ends = (-INF, INF)
_isinf = math.isinf


def _ends_of(iv: Interval) -> Ends:
    return iv.lo, iv.hi


def _point_ends(v: Any) -> Ends | None:
    t = type(v)
    if t is float:
        return v, v
    if t is int:
        f = float(v)
        return f, f
    return None  # text, booleans, dates, lists: not bounded numerically (as _point)


# A whole number of at most 12 digits is its own 12-digit rounding (_tidy keeps it as it is), and
# an infinite end (or NaN) is no number _tidy rounds: most ends of interval arithmetic are one or
# the other, so the functions below test that first and call _tidied only for the rest.
_TWELVE = 1e12


@functools.lru_cache(maxsize=256)
def _tidied(x: float) -> float:
    """map_ends(_finite_tidy) on a finite end, remembered: formatting a float to 12 digits costs ≈ 4,000
    instructions, and an end recurs along a formula (`revenue × gross_margin − cost_to_serve −
    rebates − …` keeps its upper end through each subtraction of a [0, ∞) range). Exact: two
    equal floats that are not whole numbers are the same float (only 0.0 and −0.0 differ)."""
    tidied = _tidy(x)
    return x if tidied is None else tidied


# `arith` on pairs, one function per operator taking the four ends as floats (the compiled
# closures and the generated questions, engine/boundsgen.py, both call these): the result's ends,
# or None when the engine could find no value for some operands. Each is Interval's operation
# (intervals.py: _sum, _product, _corners, __truediv__) followed by `arith`'s checks: a divisor
# that may be 0, a corner whose finite operands give no finite value (an overflow), and the
# engine's rounding (_tidy) at every end.

def _plus(a0: float, a1: float, b0: float, b1: float) -> Ends | None:
    lo, hi = a0 + b0, a1 + b1  # each also the engine's value at its corner
    if (lo - lo != 0 and not (_isinf(a0) or _isinf(b0))) or (hi - hi != 0 and not (_isinf(a1) or _isinf(b1))):
        return None
    if lo != lo:  # _sum: ∞ − ∞ is open
        lo = -INF
    if hi != hi:
        hi = INF
    return ((lo if lo - lo != 0 or (lo.is_integer() and -_TWELVE < lo < _TWELVE) else _tidied(lo)),
            (hi if hi - hi != 0 or (hi.is_integer() and -_TWELVE < hi < _TWELVE) else _tidied(hi)))


def _minus(a0: float, a1: float, b0: float, b1: float) -> Ends | None:
    lo, hi = a0 + -b1, a1 + -b0  # a − b is a + (−b); x + −y is x − y, the corner's value, bit for bit
    if (lo - lo != 0 and not (_isinf(a0) or _isinf(b1))) or (hi - hi != 0 and not (_isinf(a1) or _isinf(b0))):
        return None
    if lo != lo:
        lo = -INF
    if hi != hi:
        hi = INF
    return ((lo if lo - lo != 0 or (lo.is_integer() and -_TWELVE < lo < _TWELVE) else _tidied(lo)),
            (hi if hi - hi != 0 or (hi.is_integer() and -_TWELVE < hi < _TWELVE) else _tidied(hi)))


def _times(a0: float, a1: float, b0: float, b1: float) -> Ends | None:
    if a0 == a1 or b0 == b1:  # a point operand (a figure the account gives): two corners, not four
        return _times_point(a0, a1, b0, b1) if b0 == b1 else _times_point(b0, b1, a0, a1)
    # _product: an operand that is 0 makes the product 0, whatever the other is (0 × ∞ too)
    p = 0.0 if a0 == 0 or b0 == 0 else a0 * b0
    q = 0.0 if a0 == 0 or b1 == 0 else a0 * b1
    r = 0.0 if a1 == 0 or b0 == 0 else a1 * b0
    s = 0.0 if a1 == 0 or b1 == 0 else a1 * b1
    # a corner with finite operands: its product (0 when one is 0, then finite either way) is finite
    if ((p - p != 0 and not (_isinf(a0) or _isinf(b0))) or (q - q != 0 and not (_isinf(a0) or _isinf(b1)))
            or (r - r != 0 and not (_isinf(a1) or _isinf(b0))) or (s - s != 0 and not (_isinf(a1) or _isinf(b1)))):
        return None
    if p != p or q != q or r != r or s != s:
        return _WHOLE  # _corners: no value at a corner says nothing
    lo, hi = min(p, q, r, s), max(p, q, r, s)
    return ((lo if lo - lo != 0 or (lo.is_integer() and -_TWELVE < lo < _TWELVE) else _tidied(lo)),
            (hi if hi - hi != 0 or (hi.is_integer() and -_TWELVE < hi < _TWELVE) else _tidied(hi)))


def _times_point(a0: float, a1: float, b0: float, b1: float) -> Ends | None:
    """_times when b0 == b1: the corners (a0, b0) and (a0, b1) have the same product (b0 and b1 are
    the same float, or 0.0 and −0.0, which _product makes 0 alike), and so have (a1, b0) and (a1,
    b1); min and max of (p, p, r, r) keep the first of equals. When a is the point (called with the
    sides swapped), the products are those of (b0, a0) …: the same values, multiplication being
    commutative, and the four are again (p, q, p, q) in the original order, two distinct: the
    same min and max."""
    p = 0.0 if a0 == 0 or b0 == 0 else a0 * b0
    r = 0.0 if a1 == 0 or b0 == 0 else a1 * b0
    if (p - p != 0 and not (_isinf(a0) or _isinf(b0))) or (r - r != 0 and not (_isinf(a1) or _isinf(b0))):
        return None
    if p != p or r != r:
        return _WHOLE
    lo, hi = (r if r < p else p), (r if r > p else p)
    return ((lo if lo - lo != 0 or (lo.is_integer() and -_TWELVE < lo < _TWELVE) else _tidied(lo)),
            (hi if hi - hi != 0 or (hi.is_integer() and -_TWELVE < hi < _TWELVE) else _tidied(hi)))


def _over(a0: float, a1: float, b0: float, b1: float) -> Ends | None:
    if b0 <= 0.0 <= b1:  # the divisor may be 0 (b.contains(0.0))
        return None
    if b0 > b1 or (b0 == b1 and _isinf(b0)) or b0 == 0 or b1 == 0:
        # Interval.__truediv__: an empty divisor gives the whole line; a finite corner is still
        # divided as the engine would (by 0, for an empty divisor ending at 0: it raises)
        for x, y in ((a0, b0), (a0, b1), (a1, b0), (a1, b1)):
            if not (_isinf(x) or _isinf(y)):
                v = x / y
                if v - v != 0:
                    return None
        return _WHOLE
    if b0 == b1:  # a point divisor (a figure the account gives), neither 0 nor infinite here:
        # the four corners are two, and min and max of (p, p, r, r) are these (the first of equals)
        p, r = a0 / b0, a1 / b0
        if (p - p != 0 and not _isinf(a0)) or (r - r != 0 and not _isinf(a1)):
            return None
        if p != p or r != r:
            return _WHOLE
        lo, hi = (r if r < p else p), (r if r > p else p)
        return ((lo if lo - lo != 0 or (lo.is_integer() and -_TWELVE < lo < _TWELVE) else _tidied(lo)),
                (hi if hi - hi != 0 or (hi.is_integer() and -_TWELVE < hi < _TWELVE) else _tidied(hi)))
    p, q, r, s = a0 / b0, a0 / b1, a1 / b0, a1 / b1  # each also the engine's value at its corner
    if ((p - p != 0 and not (_isinf(a0) or _isinf(b0))) or (q - q != 0 and not (_isinf(a0) or _isinf(b1)))
            or (r - r != 0 and not (_isinf(a1) or _isinf(b0))) or (s - s != 0 and not (_isinf(a1) or _isinf(b1)))):
        return None
    if p != p or q != q or r != r or s != s:
        return _WHOLE
    lo, hi = min(p, q, r, s), max(p, q, r, s)
    return ((lo if lo - lo != 0 or (lo.is_integer() and -_TWELVE < lo < _TWELVE) else _tidied(lo)),
            (hi if hi - hi != 0 or (hi.is_integer() and -_TWELVE < hi < _TWELVE) else _tidied(hi)))


ARITH: dict[str, Callable[[float, float, float, float], "Ends | None"]] = {
    "+": _plus, "-": _minus, "*": _times, "/": _over}


def _arith_ends(op: str, a: Ends, b: Ends) -> Ends | None:
    """`arith` on pairs."""
    return ARITH[op](a[0], a[1], b[0], b[1])


def _empty(a: Ends) -> bool:
    return a[0] > a[1] or (a[0] == a[1] and _isinf(a[0]))


def _always_ends(op: str, a: Ends, b: Ends) -> bool:
    """intervals._always on closed pairs: an end is open exactly when it is infinite."""
    if op == "<":
        return a[1] < b[0] or (a[1] == b[0] and _isinf(a[1]))
    if op == "<=":
        return a[1] <= b[0]
    if op == ">":
        return _always_ends("<", b, a)
    if op == ">=":
        return _always_ends("<=", b, a)
    if op == "==":
        return a[0] == a[1] == b[0] == b[1] and not _isinf(a[0])
    if op == "!=":
        return _empty((max(a[0], b[0]), min(a[1], b[1])))  # the intersection is empty
    raise ValueError(op)


def _decide_ends(op: str, a: Ends, b: Ends) -> Truth3:
    """intervals.decide on pairs."""
    if _empty(a) or _empty(b):
        return None
    if _always_ends(op, a, b):
        return True
    if _always_ends(NEGATE[op], a, b):
        return False
    return None


def _lt_ends(a: Ends, b: Ends) -> Truth3:
    """_decide_ends("<", a, b) spelled out: x < y throughout, x >= y throughout, or None."""
    if a[0] > a[1] or (a[0] == a[1] and _isinf(a[0])) or b[0] > b[1] or (b[0] == b[1] and _isinf(b[0])):
        return None  # an empty side
    if a[1] < b[0] or (a[1] == b[0] and _isinf(a[1])):
        return True
    if b[1] <= a[0]:
        return False
    return None


def _le_ends(a: Ends, b: Ends) -> Truth3:
    """_decide_ends("<=", a, b) spelled out."""
    if a[0] > a[1] or (a[0] == a[1] and _isinf(a[0])) or b[0] > b[1] or (b[0] == b[1] and _isinf(b[0])):
        return None
    if a[1] <= b[0]:
        return True
    if b[1] < a[0] or (b[1] == a[0] and _isinf(b[1])):
        return False
    return None


_DECIDE_OPS: dict[str, Callable[[Ends, Ends], Truth3]] = {
    "<": _lt_ends, "<=": _le_ends,
    ">": lambda a, b: _lt_ends(b, a),  # x > y is y < x: the same outcomes, sides swapped
    ">=": lambda a, b: _le_ends(b, a),
    "==": lambda a, b: _decide_ends("==", a, b), "!=": lambda a, b: _decide_ends("!=", a, b)}


def _compile_decider(table: BoundsTable, c: ir.Cmp) -> Decider:
    names, test = table.names(c), _DECIDE_OPS[c.op]
    if type(c.left) is ir.Ref and type(c.right) is ir.Const and c.left.kind in ("fact", "metric"):
        return _ref_vs_const_decider(table, c.left, _point_ends(c.right.value), test)
    left, right = _compile_ends(table, c.left, None), _compile_ends(table, c.right, None)

    def decider(env: Mapping[str, Any], bounds: Bounds) -> Truth3:
        for n in names:
            if env.get(n) is None:
                break
        else:
            return None  # nothing it reads is missing: the engine decides it from the values
        a = left(env, bounds)
        if a is None:
            return None
        b = right(env, bounds)
        if b is None:
            return None
        return test(a, b)
    return decider


def _ref_vs_const_decider(table: BoundsTable, ref: ir.Ref, b: Ends | None,
                          test: Callable[[Ends, Ends], Truth3]) -> Decider:
    """The general decider of `fact or metric <op> constant` (most of what an account asks),
    without its steps: the one name it reads, its interval (_compile_ends' Ref case) and the
    constant's, which is known now. tests/test_bounds.py holds deciders to decide_tree."""
    name = ref.name
    if b is None:  # a constant that is no number: nothing to decide (as the general form finds)
        return lambda env, bounds: None
    if ref.kind == "metric" and name in table.metric_terms:
        def metric_vs_const(env: Mapping[str, Any], bounds: Bounds) -> Truth3:
            if env.get(name) is not None:
                return None  # nothing it reads is missing: the engine decides it from the values
            a = bounds.metric_ends(name)
            return None if a is None else test(a, b)
        return metric_vs_const
    rng = table.ranges.get(name) if ref.kind == "fact" else None
    missing: Ends | None = None if rng is None else _ends_of(rng)

    def fact_vs_const(env: Mapping[str, Any], bounds: Bounds) -> Truth3:
        if env.get(name) is not None:
            return None
        return None if missing is None else test(missing, b)
    return fact_vs_const


def _compile_metric(table: BoundsTable, name: str) -> EndsFn:
    term = _compile_ends(table, table.metric_terms[name], None)
    if table.metric_types.get(name) != "integer":
        return term

    def rounded(env: Mapping[str, Any], bounds: Bounds) -> Ends | None:
        iv = term(env, bounds)
        if iv is None:
            return None
        lo, hi = iv  # as build_facts rounds the value (map_ends)
        return (lo if _isinf(lo) else float(round(lo))), (hi if _isinf(hi) else float(round(hi)))
    return rounded


def _none(env: Mapping[str, Any], bounds: Bounds) -> Ends | None:
    return None


def _constant(value: Ends | None) -> EndsFn:
    return lambda env, bounds: value


def _compile_ends(table: BoundsTable, t: ir.Term, items: str | None) -> EndsFn:
    """`Bounds.interval(t, items)`, compiled: the same cases in the same order."""
    match t:
        case ir.Const():
            return _constant(_point_ends(t.value))
        case ir.Ref():
            name = t.name
            if t.kind == "item":
                if items is None:
                    return _none
                if name == "it":
                    return _constant(_WHOLE if items in table.scalar_items else None)
                rng = table.item_ranges.get((items, name))
                return _constant(None if rng is None else _ends_of(rng))
            if t.kind == "metric" and name in table.metric_terms:
                def metric(env: Mapping[str, Any], bounds: Bounds) -> Ends | None:
                    v = env.get(name)
                    if v is not None:
                        return _point_ends(v)
                    return bounds.metric_ends(name)
                return metric
            missing: Ends | None = None
            if t.kind == "fact":
                rng = table.ranges.get(name)
                missing = None if rng is None else _ends_of(rng)

            def ref(env: Mapping[str, Any], bounds: Bounds) -> Ends | None:
                v = env.get(name)
                if v is not None:
                    return _point_ends(v)
                return missing  # a classification, score or derived fact no rule set: None
            return ref
        case ir.Arith():
            lf, rf, op = _compile_ends(table, t.left, items), _compile_ends(table, t.right, items), ARITH[t.op]

            def arith_(env: Mapping[str, Any], bounds: Bounds) -> Ends | None:
                a = lf(env, bounds)
                if a is None:
                    return None
                b = rf(env, bounds)
                if b is None:
                    return None
                return op(a[0], a[1], b[0], b[1])
            return arith_
        case ir.Fn():
            if t.name == "days_since":
                return _compile_concrete(t) if items is None else _none
            args = [_compile_ends(table, a, items) for a in t.args]
            fname = t.name

            def fn(env: Mapping[str, Any], bounds: Bounds) -> Ends | None:
                ivs = [a(env, bounds) for a in args]
                for iv in ivs:
                    if iv is None:
                        return None
                first = ivs[0]
                assert first is not None
                if fname == "abs":
                    lo, hi = first
                    if lo >= 0:
                        return first
                    if hi <= 0:
                        return -hi, -lo
                    return 0.0, max(-lo, hi)
                second = ivs[1]
                assert second is not None
                if fname == "min":
                    return min(first[0], second[0]), min(first[1], second[1])
                return max(first[0], second[0]), max(first[1], second[1])
            return fn
        case ir.Agg():
            if items is not None:
                return _none  # an aggregate inside an aggregate's body: not bounded
            lst = t.list.name
            concrete = _compile_concrete(t)
            if t.func == "count":
                absent: EndsFn = _constant((0.0, INF))
            else:
                match t.body:
                    case ir.Const() | ir.Ref() | ir.Arith() | ir.Fn() | ir.Agg() if t.func == "sum":
                        body = _compile_ends(table, t.body, lst)

                        def total(env: Mapping[str, Any], bounds: Bounds) -> Ends | None:
                            lo, hi = body(env, bounds) or _WHOLE
                            # any number of items, each in `body` (a missing one adds nothing)
                            return (0.0 if lo >= 0 else -INF), (0.0 if hi <= 0 else INF)
                        absent = total
                    case _:
                        absent = _none  # max / min of a list that may be empty; any / all

            def agg(env: Mapping[str, Any], bounds: Bounds) -> Ends | None:
                if env.get(lst) is not None:
                    return concrete(env, bounds)
                return absent(env, bounds)
            return agg
        case _:
            ir.unknown(t)


def _compile_concrete(t: ir.Term) -> EndsFn:
    """A value the account has: the engine's own (compiled) evaluation, as a point."""
    value = compile_term(t)
    return lambda env, bounds: _point_ends(value(env, bounds.as_of, None))


_TABLES: dict[str, BoundsTable] = {}


def table_for(book: Rulebook) -> BoundsTable:
    table = _TABLES.get(book.digest)
    if table is None:
        table = _TABLES[book.digest] = BoundsTable(book)
    return table


class Bounds:
    """One account's bounds: the interval of each metric it misses and of each comparison's sides,
    and the comparisons decided from them — each computed once, on first use (most accounts
    need only a few of them)."""

    def __init__(self, table: BoundsTable, env: Mapping[str, Any], as_of: _dt.date) -> None:
        self.table = table
        self.env = env  # the account's facts and metrics (the dict build_facts fills)
        self.as_of = as_of
        self.metrics: dict[str, Interval | None] = {}  # missing metric → its interval (None: none known)
        self._decided: dict[int, Truth3] = {}  # by the comparison's index among its equals (BoundsTable)
        self._ivs: dict[str, Ends | None] = {}  # the compiled form's metric intervals

    def forget(self) -> None:
        """Drop every interval and decision remembered so far: the next questions are answered
        afresh, as on an account's first evaluation (benchmarks/throughput.py times a backend on
        facts it has evaluated before)."""
        self.metrics.clear()
        self._decided.clear()
        self._ivs.clear()

    def metric(self, name: str) -> Interval | None:
        """The interval of a metric the account misses, computed on first use (its inputs first)."""
        if name in self.metrics:
            return self.metrics[name]
        self.metrics[name] = None  # a cycle (the checker forbids one) bounds nothing
        iv = self.interval(self.table.metric_terms[name])
        if iv is not None and self.table.metric_types.get(name) == "integer":
            iv = iv.map_ends(lambda x: float(round(x)))  # as build_facts rounds the value
        self.metrics[name] = iv
        return iv

    # ------------------------------------------------------------------ intervals

    def interval(self, t: ir.Term, items: str | None = None) -> Interval | None:
        """Where the term's value lies (None: it may have none, or nothing is known).
        `items`: the list whose (unknown) items an aggregate's body reads."""
        match t:
            case ir.Const():
                return _point(t.value)
            case ir.Ref():
                if t.kind == "item":
                    if items is None:
                        return None
                    if t.name == "it":
                        return Interval() if items in self.table.scalar_items else None
                    return self.table.item_ranges.get((items, t.name))
                v = self.env.get(t.name)
                if v is not None:
                    return _point(v)
                if t.kind == "metric":
                    return self.metric(t.name) if t.name in self.table.metric_terms else None
                if t.kind == "fact":
                    return self.table.ranges.get(t.name)
                return None  # a classification, score or derived fact no rule set: not a value to bound
            case ir.Arith():
                a = self.interval(t.left, items)
                if a is None:
                    return None
                b = self.interval(t.right, items)
                if b is None:
                    return None
                return arith(t.op, a, b)
            case ir.Fn():
                if t.name == "days_since":
                    return self._concrete(t) if items is None else None
                args = [self.interval(a, items) for a in t.args]
                if any(a is None for a in args):
                    return None
                first = args[0]
                assert first is not None
                if t.name == "abs":
                    return first.abs()
                second = args[1]
                assert second is not None
                return first.minimum(second) if t.name == "min" else first.maximum(second)
            case ir.Agg():
                if items is not None:
                    return None  # an aggregate inside an aggregate's body: not bounded
                if self.env.get(t.list.name) is not None:
                    return self._concrete(t)
                if t.func == "count":
                    return closed(0.0, INF)
                match t.body:
                    case ir.Const() | ir.Ref() | ir.Arith() | ir.Fn() | ir.Agg() if t.func == "sum":
                        body = self.interval(t.body, t.list.name) or Interval()
                        # any number of items, each in `body` (a missing one adds nothing)
                        return closed(0.0 if body.lo >= 0 else -INF, 0.0 if body.hi <= 0 else INF)
                    case _:
                        return None  # max / min of a list that may be empty; any / all
            case _:
                ir.unknown(t)

    def _concrete(self, t: ir.Term) -> Interval | None:
        return _point(eval_term(t, Context(self.env, self.as_of)))

    # ------------------------------------------------------------------ decisions

    def decide(self, c: ir.Cmp) -> Truth3:
        """The comparison's outcome for every value inside the bounds, or None. None too when
        nothing it reads is missing: the engine decides it from the values, and the durable
        backend's `$or` must not find both of its branches true (one action per true branch).
        Computed by the comparison's compiled decider (BoundsTable.decider); `decide_tree` is the
        same answer from the tree, which the tests hold it to."""
        known = self.table._deciders.get(id(c))
        if known is None or known[0] is not c:
            known = self.table._decider_entry(c)
        _, decider, key = known
        decided = self._decided
        if key in decided:
            return decided[key]
        value = decided[key] = None if decider is None else decider(self.env, self)
        return value

    def decide_tree(self, c: ir.Cmp) -> Truth3:
        """`decide` by walking the comparison's tree with `interval` (no memo of the decision)."""
        env = self.env
        if self.table.candidate(c) and any(env.get(n) is None for n in self.table.names(c)):
            a = self.interval(c.left)
            b = self.interval(c.right) if a is not None else None
            if a is not None and b is not None:
                return decide(c.op, a, b)
        return None

    def metric_ends(self, name: str) -> Ends | None:
        """The compiled form's interval of a metric the account misses (memoised per account)."""
        ivs = self._ivs
        if name in ivs:
            return ivs[name]
        ivs[name] = None  # a cycle (the checker forbids one) bounds nothing
        got = self.table.metric_fn(name)(self.env, self)
        ivs[name] = got
        return got

    def sides(self, c: ir.Cmp) -> tuple[Interval | None, Interval | None]:
        """The intervals both sides of a comparison lie in (for evidence and explanations)."""
        return self.interval(c.left), self.interval(c.right)


def bounds_of(env: Mapping[str, Any]) -> Bounds | None:
    b = env.get(BOUNDS)
    return b if isinstance(b, Bounds) else None
