"""The constraint algebra under lint: what a condition says about each term it tests.

A condition is expanded into disjunctive normal form (`to_dnf`): alternatives, each a
conjunction of literals (comparisons, exists / missing, constants). `Analysis.conj` reads one
conjunction as a `Conj`: per term, a constraint `Con` (a numeric `Interval`, or an equality /
exclusions over enum, bool and string values), the terms known present or absent, and the
literals it cannot read. On that reading:

- a conjunction can never hold when a constraint is empty (`Conj.conflict` says why, in words);
- `entails(conj, lit)`, `implies(conjs, dnf)` and `rule_implies(an, a, b)`: every account that
  satisfies the one satisfies the other;
- `overlap(an, a, b)`: the values of a term both rules constrain on which both can hold;
- `bands(an, r)` reads a rule that tests nothing but bounds of one term as intervals, and
  `gaps(bands, integer)` lists what a set of bands leaves uncovered between them.

Decision tables use the same calls on their rows (each row is an ordinary rule).

The algebra is deliberately *sound, not complete*: a result is claimed only when it is proved
from comparisons of one term against constants (bounds, equalities, exists). Anything else
(fact against fact, arithmetic between facts) is an opaque literal that is never assumed true
or false, so a caller stays quiet rather than wrong. Terms are IR terms, compared structurally:
`revenue` in two rules is the same term.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Any, Generic, Sequence, TypeVar, Union

from kamrules.core.values import NUMERIC_TYPES, format_money, format_number, format_percent
from kamrules.engine.reference import Context, compare, eval_term
from kamrules.language import ir
from kamrules.language.intervals import INF as INF  # re-exported: lint and its tests import them from here
from kamrules.language.intervals import Interval as Interval
from kamrules.rulebook.model import Rulebook, RuleDef
DNF_LIMIT = 256  # larger conditions are left unanalysed (no finding) rather than slow

Lit = Union[ir.Cmp, ir.Exists, ir.Truth]  # a literal of a condition in negation normal form
DNF = list[list[Lit]]  # alternatives, each a conjunction of literals


# --------------------------------------------------------------------------- intervals
# `Interval` lives in the language stage: the engine's bounds reasoning uses it too.

_ANY = Interval()
_OP_SPAN = {">": lambda v: Interval(v, False, INF, False), ">=": lambda v: Interval(v, True, INF, False),
            "<": lambda v: Interval(-INF, False, v, False), "<=": lambda v: Interval(-INF, False, v, True),
            "==": lambda v: Interval(v, True, v, True)}
_CONFLICT = "\x00conflict"  # Con.eq of two different equalities


@dataclass(frozen=True)
class Con:
    """What a conjunction says about one term: a numeric span, or an equality / exclusions."""

    numeric: bool
    integer: bool = False
    span: Interval = _ANY
    eq: tuple[Any, ...] = ()  # () unconstrained, (v,) must equal v
    ne: frozenset[Any] = frozenset()
    values: tuple[Any, ...] = ()  # the whole domain of an enum or bool, when known
    why: tuple[str, ...] = ()  # the literals (or declarations) it was built from

    def meet(self, o: Con) -> Con:
        span = self.span.meet(o.span)
        if self.integer:
            span = span.discrete()
        eq = self.eq
        if o.eq and not eq:
            eq = o.eq
        elif o.eq and eq and o.eq != eq:
            eq = (_CONFLICT,)
        return Con(self.numeric, self.integer, span, eq, self.ne | o.ne, self.values or o.values, self.why + o.why)

    def empty(self) -> bool:
        if self.numeric:
            s = self.span
            return s.empty() or (s.lo == s.hi and s.lo in self.ne)
        if self.eq:
            return self.eq == (_CONFLICT,) or self.eq[0] in self.ne or bool(self.values and self.eq[0] not in self.values)
        return bool(self.values) and set(self.values) <= self.ne

    def allowed(self) -> set[Any] | None:
        """The values a non-numeric term may take (None: not a finite set)."""
        if self.eq:
            return {self.eq[0]}
        return set(self.values) - self.ne if self.values else None


def is_numeric(t: ir.Term) -> bool:
    """Compared as a number (dates as day numbers)."""
    return t.type in NUMERIC_TYPES or t.type == "date"


def is_integer(t: ir.Term) -> bool:
    """Takes whole numbers only, so its intervals are normalised with `Interval.discrete`."""
    match t:
        case ir.Agg() if t.func == "count":
            return True
        case _:
            return t.type == "integer"


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, _dt.date):
        return float(value.toordinal())
    if isinstance(value, (int, float)):
        return float(value)
    return None


# --------------------------------------------------------------------------- text

def fmt_value(v: float, type_: str) -> str:
    """A bound as an author would write it (10M, 15%, 2026-03-01)."""
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if type_ == "money":
        return format_money(v, "en", exact=True)
    if type_ == "percent":
        return format_percent(v, exact=True)
    if type_ == "date":
        return _dt.date.fromordinal(int(v)).isoformat()
    return format_number(v) if float(v).is_integer() else f"{v:g}"


def fmt_span(name: str, s: Interval, type_: str) -> str:
    """`revenue in [5M, 10M)`, `rate = 10%`, `n <= 3`."""
    if s.lo == s.hi:
        return f"{name} = {fmt_value(s.lo, type_)}"
    if math.isinf(s.lo):
        return f"{name} {'<=' if s.hi_in else '<'} {fmt_value(s.hi, type_)}"
    if math.isinf(s.hi):
        return f"{name} {'>=' if s.lo_in else '>'} {fmt_value(s.lo, type_)}"
    return f"{name} in {'[' if s.lo_in else '('}{fmt_value(s.lo, type_)}, {fmt_value(s.hi, type_)}{']' if s.hi_in else ')'}"


def fmt_span_range(s: Interval, type_: str) -> str:
    """`[0%, 100%]`."""
    return f"{'[' if s.lo_in else '('}{fmt_value(s.lo, type_)}, {fmt_value(s.hi, type_)}{']' if s.hi_in else ')'}"


def lit_text(lit: Lit) -> str:
    """A literal as text, with parameter values spelled out."""
    match lit:
        case ir.Cmp():
            return f"{_side(lit.left, lit.right)} {lit.op} {_side(lit.right, lit.left)}"
        case _:
            return ir.show(lit)


def _side(t: ir.Term, other: ir.Term) -> str:
    """One side of a comparison; a constant is written in the unit of what it is compared with."""
    match t:
        case ir.Const():
            value, n = t.value, _num(t.value)
            unit = other.type if is_numeric(other) and other.type != "date" and t.type != "percent" else t.type
            shown = fmt_value(n, unit) if n is not None and not isinstance(value, _dt.date) else (
                value.isoformat() if isinstance(value, _dt.date) else word(value))
            return f"params.{t.param} ({shown})" if t.param else shown
        case _:
            return ir.show(t)


def word(v: Any) -> str:
    """An enum, bool or string value as written in a rule."""
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


# --------------------------------------------------------------------------- literals and DNF

def fold(t: ir.Term) -> ir.Term:
    """Arithmetic over constants and parameters only (params.x / 2) becomes a constant."""
    match t:
        case ir.Arith() | ir.Fn() if _constant(t):
            value = eval_term(t, Context({}, _dt.date(2000, 1, 1)))
            return t if value is None else ir.Const(value, t.type)
        case _:
            return t


def _constant(t: ir.Term) -> bool:
    match t:
        case ir.Const():
            return True
        case ir.Arith():
            return _constant(t.left) and _constant(t.right)
        case ir.Fn():
            return t.name != "days_since" and all(_constant(a) for a in t.args)
        case _:
            return False


def read_cmp(lit: ir.Cmp) -> tuple[ir.Term, Con] | bool | None:
    """term-vs-constant → (term, constraint); constant-vs-constant → its truth; else None."""
    left, right, op = fold(lit.left), fold(lit.right), lit.op
    match left, right:
        case ir.Const(), ir.Const():
            truth = compare(op, left.value, right.value)
            return None if truth is None else bool(truth)
        case ir.Const(), _:
            term, value, op = right, left.value, ir.FLIP[op]
        case _, ir.Const():
            term, value = left, right.value
        case _:
            return None
    if value is None:
        return None
    why = (lit_text(lit),)
    if is_numeric(term):
        v = _num(value)
        if v is None:
            return None
        integer = is_integer(term)
        if op == "!=":
            return term, Con(True, integer, ne=frozenset({v}), why=why)
        span = _OP_SPAN[op](v)
        return term, Con(True, integer, span.discrete() if integer else span, why=why)
    if op == "==":
        return term, Con(False, eq=(value,), why=why)
    if op == "!=":
        return term, Con(False, ne=frozenset({value}), why=why)
    return None


def to_dnf(c: ir.Cond, limit: int = DNF_LIMIT) -> DNF | None:
    """The condition's alternatives in disjunctive normal form (`not` pushed onto the literals
    first); None when there would be more than `limit` alternatives."""
    return _dnf(ir.nnf(c), limit)


def _dnf(c: ir.Cond, limit: int) -> DNF | None:
    match c:
        case ir.Or():
            out: DNF = []
            for i in c.items:
                d = _dnf(i, limit)
                if d is None:
                    return None
                out += d
                if len(out) > limit:
                    return None
            return out
        case ir.And():
            acc: DNF = [[]]
            for i in c.items:
                d = _dnf(i, limit)
                if d is None or len(acc) * len(d) > limit:
                    return None
                acc = [a + b for a in acc for b in d]
            return acc
        case ir.Truth() if c.value:
            return [[]]
        case ir.Cmp() | ir.Exists() | ir.Truth():
            return [[c]]
        case ir.Not():
            ir.not_nnf(c)
        case _:
            ir.unknown(c)


# --------------------------------------------------------------------------- conjunctions

@dataclass
class Conj:
    """One disjunct of a condition in DNF, read as constraints per term."""

    cons: dict[ir.Term, Con] = field(default_factory=dict)
    present: set[ir.Ref] = field(default_factory=set)  # terms known to have a value
    absent: set[ir.Ref] = field(default_factory=set)  # missing(x)
    opaque: set[Lit] = field(default_factory=set)  # literals the algebra cannot read
    said: dict[ir.Term, Con] = field(default_factory=dict)  # per term, from the literals alone (for messages)
    conflict: str = ""  # why this disjunct can never hold ('' = it may)


class Analysis:
    """DNF and constraint reading of every rule's condition, cached per rule id; the rulebook
    supplies each term's declared domain (a fact's min and max, a score's range, enum values)."""

    def __init__(self, book: Rulebook) -> None:
        self.book = book
        self._dnf: dict[str, DNF | None] = {}
        self._conj: dict[str, list[Conj] | None] = {}

    # -- per rule
    def dnf(self, r: RuleDef) -> DNF | None:
        """Disjuncts that may hold (contradictory ones dropped); None when too large to analyse."""
        conjs = self.conjs(r)
        if conjs is None:
            return None
        return [d for d, c in zip(self._dnf[r.id] or [], conjs) if not c.conflict]

    def raw_dnf(self, r: RuleDef) -> DNF | None:
        """Every disjunct, contradictory ones included."""
        if r.id not in self._dnf:
            self._dnf[r.id] = to_dnf(r.cond)
        return self._dnf[r.id]

    def conjs(self, r: RuleDef) -> list[Conj] | None:
        """Every disjunct read as constraints, in `raw_dnf` order."""
        if r.id not in self._conj:
            d = self.raw_dnf(r)
            self._conj[r.id] = None if d is None else [self.conj(lits) for lits in d]
        return self._conj[r.id]

    def live(self, r: RuleDef) -> list[Conj] | None:
        """The disjuncts that may hold, in `dnf` order."""
        cs = self.conjs(r)
        return None if cs is None else [c for c in cs if not c.conflict]

    # -- reading literals
    def domain(self, t: ir.Term) -> Con:
        """What is known about a term before any literal: its declared range and values."""
        numeric = is_numeric(t)
        integer = is_integer(t)
        why: tuple[str, ...] = ()
        span = _ANY
        values: tuple[Any, ...] = ()
        match t:
            case ir.Ref() if t.kind == "fact" and t.name in self.book.facts:
                f = self.book.facts[t.name]
                if f.min is not None or f.max is not None:
                    span = Interval(-INF if f.min is None else f.min, f.min is not None,
                                    INF if f.max is None else f.max, f.max is not None)
                    why = (f"{t.name} is declared within {fmt_span_range(span, t.type)}",)
            case ir.Ref() if t.kind == "score" and t.name in self.book.scores:
                s = self.book.scores[t.name]
                span = Interval(s.min, True, s.max, True)
                why = (f"score {t.name} is kept within {fmt_span_range(span, 'number')}",)
            case ir.Agg() if t.func == "count":
                span = Interval(0, True, INF, False)
        if t.type == "bool":
            values = (True, False)
        else:
            match t:
                case ir.Ref() if t.values:
                    values = t.values
        return Con(numeric, integer, span.discrete() if integer else span, values=values, why=why)

    def conj(self, lits: Sequence[Lit]) -> Conj:
        """A conjunction of literals read as constraints (stops at the first conflict)."""
        c = Conj()
        for lit in lits:
            self.add(c, lit)
            if c.conflict:
                break
        return c

    def add(self, c: Conj, lit: Lit) -> None:
        match lit:
            case ir.Truth():
                if not lit.value:
                    c.conflict = "the condition is the constant false"
            case ir.Exists():
                self._exists(c, lit)
            case ir.Cmp():
                self._cmp(c, lit)
            case _:
                ir.unknown(lit)

    def _cmp(self, c: Conj, lit: ir.Cmp) -> None:
        read = read_cmp(lit)
        if read is None:
            c.opaque.add(lit)
            return
        if isinstance(read, bool):
            if not read:
                c.conflict = f"{lit_text(lit)} is always false"
            return
        term, con = read
        match term:
            case ir.Ref():
                if term in c.absent:
                    c.conflict = f"missing({term.name}) and {lit_text(lit)} cannot both hold"
                    return
                c.present.add(term)
        merged = (c.cons.get(term) or self.domain(term)).meet(con)
        said = c.said[term].meet(con) if term in c.said else con
        c.cons[term], c.said[term] = merged, said
        if merged.empty():
            # name only the literals when they contradict on their own; the declared range otherwise
            why = said.why if said.empty() else merged.why
            c.conflict = " and ".join(why) + (" cannot both hold" if len(why) == 2 else
                                              " cannot hold" if len(why) == 1 else " cannot all hold")

    def _exists(self, c: Conj, lit: ir.Exists) -> None:
        ref = lit.ref
        if lit.positive:
            if ref in c.absent:
                c.conflict = f"exists({ref.name}) and missing({ref.name}) cannot both hold"
            c.present.add(ref)
        else:
            if ref in c.present:
                why = [w for w in (c.cons[ref].why if ref in c.cons else ()) if not w.startswith(ref.name + " is declared")]
                what = " and ".join(why) if why else f"exists({ref.name})"
                c.conflict = f"missing({ref.name}) and {what} cannot both hold"
            c.absent.add(ref)


# --------------------------------------------------------------------------- entailment

def entails(c: Conj, lit: Lit) -> bool:
    """Does every assignment satisfying conjunction `c` satisfy `lit`? (sound, not complete)"""
    match lit:
        case ir.Truth():
            return lit.value
        case ir.Exists():
            return lit.ref in (c.present if lit.positive else c.absent)
        case ir.Cmp():
            pass
        case _:
            ir.unknown(lit)
    read = read_cmp(lit)
    if read is None:
        return lit in c.opaque
    if isinstance(read, bool):
        return read
    term, need = read
    have = c.cons.get(term)
    if have is None:
        return False
    if need.numeric:
        if need.ne:
            (v,) = tuple(need.ne)
            return not have.span.contains(v) or v in have.ne
        return have.span.within(need.span)
    allowed = have.allowed()
    if need.eq:
        return allowed == {need.eq[0]}
    (v,) = tuple(need.ne)
    return allowed is not None and v not in allowed


def implies(a: list[Conj], b_dnf: DNF) -> bool:
    """Every live disjunct of A entails some disjunct of B (B given as literal lists)."""
    return bool(a) and all(any(all(entails(ca, lit) for lit in lits) for lits in b_dnf) for ca in a)


def rule_implies(an: Analysis, a: RuleDef, b: RuleDef) -> bool:
    """Whenever rule `a`'s condition holds, so does rule `b`'s (proved, or False)."""
    ca, db = an.live(a), an.dnf(b)
    return ca is not None and db is not None and implies(ca, db)


# --------------------------------------------------------------------------- overlaps and bands

def overlap(an: Analysis, a: RuleDef, b: RuleDef) -> str | None:
    """Text of the values of a term both rules constrain on which both can hold (e.g.
    `revenue in (5M, 10M)`); None when no such overlap is proved."""
    ca, cb = an.live(a), an.live(b)
    da, db = an.dnf(a), an.dnf(b)
    if ca is None or cb is None or da is None or db is None:
        return None
    for la, xa in zip(da, ca):
        for lb, xb in zip(db, cb):
            both = an.conj(la + lb)
            if both.conflict:
                continue
            w = _shared_witness(xa, xb, both)
            if w is not None:
                return w
    return None


def describe(c: Conj) -> str:
    """The values a disjunct allows, in words (`revenue in [0, 2M) and fit == low`)."""
    parts = []
    for term, con in c.said.items():
        name = ir.show(term)
        if con.numeric:
            parts.append(fmt_span(name, c.cons[term].span, term.type))
            continue
        allowed = c.cons[term].allowed()
        if allowed is not None and len(allowed) == 1:
            parts.append(f"{name} == {word(next(iter(allowed)))}")
        elif allowed is not None:
            parts.append(f"{name} in [{', '.join(sorted(word(v) for v in allowed))}]")
        elif con.ne:
            parts.append(f"{name} not in [{', '.join(sorted(word(v) for v in con.ne))}]")
    parts += [f"missing({r.name})" for r in sorted(c.absent, key=lambda r: r.name)]
    parts += [lit_text(lit) for lit in sorted(c.opaque, key=lit_text)]
    return " and ".join(parts) or "any account"


def _shared_witness(ca: Conj, cb: Conj, both: Conj) -> str | None:
    """Text of a shared term's overlap, or None when the rules constrain no common term."""
    for term, con in both.cons.items():
        if term in ca.cons and term in cb.cons:
            name = ir.show(term)
            if con.numeric:
                return fmt_span(name, con.span, term.type)
            allowed = con.allowed()
            if allowed is not None and len(allowed) == 1:
                return f"{name} == {word(next(iter(allowed)))}"
            if allowed is not None:
                return f"{name} in [{', '.join(sorted(word(v) for v in allowed))}]"
            return f"{name} not in [{', '.join(sorted(word(v) for v in con.ne))}]"
    return None


def bands(an: Analysis, r: RuleDef) -> tuple[ir.Term, list[Interval]] | None:
    """(term, intervals) when the rule tests nothing but numeric bounds of one term: one
    interval per alternative of its condition."""
    conjs = an.live(r)
    if not conjs:
        return None
    term = None
    spans = []
    for c in conjs:
        if c.opaque or c.absent or len(c.cons) != 1:
            return None
        (t, con), = c.cons.items()
        if not con.numeric or con.ne or not c.present <= {t} or (term is not None and t != term):
            return None
        term = t
        spans.append(con.span)
    assert term is not None
    return term, spans


T = TypeVar("T")


@dataclass(frozen=True)
class Band(Generic[T]):
    """An interval of one term and what covers it (a rule, a table row)."""

    owner: T
    span: Interval


@dataclass(frozen=True)
class Gap(Generic[T]):
    """Values no band covers, and the bands either side of them."""

    span: Interval
    below: Band[T]
    above: Band[T]


def gaps(bands: Sequence[Band[T]], integer: bool = False) -> list[Gap[T]]:
    """The intervals between the lowest band's start and the highest band's end that no band
    covers, lowest first (for a term of whole numbers, `integer`: only gaps holding one)."""
    if not bands:
        return []
    ordered = sorted(bands, key=lambda b: (b.span.lo, not b.span.lo_in))
    out: list[Gap[T]] = []
    reach, reach_in, below = ordered[0].span.hi, ordered[0].span.hi_in, ordered[0]
    for b in ordered[1:]:
        gap = Interval(reach, not reach_in, b.span.lo, not b.span.lo_in)
        if integer:
            gap = gap.discrete()
        if not gap.empty():
            out.append(Gap(gap, below, b))
        if b.span.hi > reach or (b.span.hi == reach and b.span.hi_in):
            reach, reach_in, below = b.span.hi, b.span.hi_in, b
    return out
