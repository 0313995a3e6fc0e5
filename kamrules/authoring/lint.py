"""`kamrules check`: every load problem of a rulebook at once, plus lint over the effective rules.

Loading (read → layer → check) already collects every structural, name, type, cycle and
parameter-source problem; this module reuses it and adds what a loader cannot see one rule at
a time: rules that can never fire, rules made redundant or shadowed by another, overlapping
bands in a `unique` dimension, gaps between bands, messages missing a language, template
variables outside the documented context, and durable_rules' limits.

The condition analysis is deliberately *sound, not complete*: a finding is reported only when
it is proved from comparisons of one term against constants (bounds, equalities, exists).
Anything it cannot read (fact against fact, arithmetic between facts) is an opaque literal that
is never assumed true or false — so lint stays quiet rather than wrong.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from kamrules.core.errors import Collector, Location, Problem, suggest
from kamrules.core.values import (
    NUMERIC_TYPES,
    format_money,
    format_number,
    format_percent,
)
from kamrules.language import ir
from kamrules.rulebook.model import Message, Rulebook, RuleDef, Text

UNUSABLE_PREFIXES = ("file.", "yaml.")
UNUSABLE_CODES = frozenset({"rulebook.not-found"})
DNF_LIMIT = 256  # larger conditions are left unanalysed (no finding) rather than slow


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class CheckResult:
    ref: str
    problems: tuple[Problem, ...]
    unusable: bool = False  # the input could not be read at all (exit 2)
    hidden: int = 0  # findings inside built-in rulebooks that the overlay did not cause

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity != "error")

    def failed(self, strict: bool) -> bool:
        return self.errors > 0 or (strict and self.warnings > 0)


def is_unusable(p: Problem) -> bool:
    return p.code.startswith(UNUSABLE_PREFIXES) or p.code in UNUSABLE_CODES


def check_rulebook(ref: str) -> CheckResult:
    """Load `ref` collecting every problem, lint it, and hide the built-in base's own findings.

    A company that checks its overlay should see what *it* wrote or caused: findings that the
    built-in rulebooks it extends already have on their own are counted in `hidden`, not listed.
    """
    problems, unusable, bases = _problems(ref)
    if unusable:
        return CheckResult(ref, tuple(sorted(_dedupe(problems), key=Problem.sort_key)), True)
    baseline: set[tuple[str, str, int, int, str]] = set()
    for base in bases:
        baseline |= {_key(p) for p in _builtin_problems(base)}
    kept = [p for p in _dedupe(problems) if _key(p) not in baseline]
    return CheckResult(ref, tuple(sorted(kept, key=Problem.sort_key)), False, len(_dedupe(problems)) - len(kept))


def _key(p: Problem) -> tuple[str, str, int, int, str]:
    return (p.code, p.location.file, p.location.line, p.location.col, p.message)


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[tuple[str, str, int, int, str]] = set()
    out = []
    for p in problems:
        if _key(p) not in seen:
            seen.add(_key(p))
            out.append(p)
    return out


@lru_cache(maxsize=8)
def _builtin_problems(path: str) -> tuple[Problem, ...]:
    return tuple(_problems(path)[0])


def _problems(ref: str) -> tuple[list[Problem], bool, list[str]]:
    """(problems, unusable, built-in bases extended by a non-built-in rulebook of the chain)."""
    from kamrules.rulebook.check import check
    from kamrules.rulebook.layering import layer
    from kamrules.rulebook.load import read_chain

    out = Collector()
    chain = read_chain(ref, out)
    if not chain or any(is_unusable(p) for p in out.problems):
        return out.problems, True, []
    layered = layer(chain, out)
    book = check(ref, chain, layered, out)
    errors = [p for p in out.problems if p.severity == "error"]
    out.extend(lint(book, skip=_broken_rules(errors), engine=not errors))
    return out.problems, False, _builtin_bases(chain)


def _broken_rules(errors: Sequence[Problem]) -> frozenset[str]:
    """Rules with a load error: their condition is a placeholder, so lint must not read it."""
    ids = set()
    for p in errors:
        m = re.match(r"rules\[([^\]]+)\]", p.path) or re.match(r"override\.([^.]+)", p.path)
        if m:
            ids.add(m[1])
    return frozenset(ids)


def _builtin_bases(chain: Sequence[Any]) -> list[str]:
    from kamrules.core.resources import rules_dir
    from kamrules.rulebook.load import resolve_ref

    root = rules_dir().resolve()

    def builtin(p: Path) -> bool:
        return p.resolve().is_relative_to(root)

    bases = []
    for book in chain:
        if builtin(Path(book.file)):
            continue
        for ref, _ in book.extends:
            p = resolve_ref(ref, book.file)
            if p is not None and builtin(p) and str(p) not in bases:
                bases.append(str(p))
    return bases


# --------------------------------------------------------------------------- lint entry point

def lint(book: Rulebook, *, skip: frozenset[str] = frozenset(), engine: bool = True) -> list[Problem]:
    """Lint findings for a checked rulebook; rules in `skip` (load errors) are left out."""
    rules = [r for r in book.rules if r.id not in skip and r.cond is not None]
    an = Analysis(book)
    out: list[Problem] = []
    out += never_fires(rules, an)
    live = [r for r in rules if an.dnf(r) != []]
    out += redundant_rules(live, an)
    out += shadowed_rules(live, book, an)
    out += unique_overlaps(live, book, an)
    out += band_gaps(live, book, an)
    out += message_languages(book.rules)
    out += template_variables(book) if engine else []
    out += engine_limits(book) if engine else []
    return out


def _problem(code: str, message: str, loc: Location, path: str, hint: str, severity: str,
             expected: str = "") -> Problem:
    return Problem(code, message, loc, path, expected, hint, severity)


# --------------------------------------------------------------------------- intervals and constraints

INF = math.inf


@dataclass(frozen=True)
class Interval:
    lo: float = -INF
    lo_in: bool = False
    hi: float = INF
    hi_in: bool = False

    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_in and self.hi_in))

    def meet(self, o: Interval) -> Interval:
        lo, lo_in = (o.lo, o.lo_in) if (o.lo > self.lo or (o.lo == self.lo and not o.lo_in)) else (self.lo, self.lo_in)
        hi, hi_in = (o.hi, o.hi_in) if (o.hi < self.hi or (o.hi == self.hi and not o.hi_in)) else (self.hi, self.hi_in)
        return Interval(lo, lo_in, hi, hi_in)

    def within(self, o: Interval) -> bool:
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


_ANY = Interval()
_OP_SPAN = {">": lambda v: Interval(v, False, INF, False), ">=": lambda v: Interval(v, True, INF, False),
            "<": lambda v: Interval(-INF, False, v, False), "<=": lambda v: Interval(-INF, False, v, True),
            "==": lambda v: Interval(v, True, v, True)}


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
            eq = ("\x00conflict",)
        return Con(self.numeric, self.integer, span, eq, self.ne | o.ne, self.values or o.values, self.why + o.why)

    def empty(self) -> bool:
        if self.numeric:
            s = self.span
            return s.empty() or (s.lo == s.hi and s.lo in self.ne)
        if self.eq:
            return self.eq == ("\x00conflict",) or self.eq[0] in self.ne or bool(self.values and self.eq[0] not in self.values)
        return bool(self.values) and set(self.values) <= self.ne

    def allowed(self) -> set[Any] | None:
        if self.eq:
            return {self.eq[0]}
        return set(self.values) - self.ne if self.values else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, _dt.date):
        return float(value.toordinal())
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _is_numeric(t: ir.Term) -> bool:
    return t.type in NUMERIC_TYPES or t.type == "date"


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
    if s.lo == s.hi:
        return f"{name} = {fmt_value(s.lo, type_)}"
    if math.isinf(s.lo):
        return f"{name} {'<=' if s.hi_in else '<'} {fmt_value(s.hi, type_)}"
    if math.isinf(s.hi):
        return f"{name} {'>=' if s.lo_in else '>'} {fmt_value(s.lo, type_)}"
    return f"{name} in {'[' if s.lo_in else '('}{fmt_value(s.lo, type_)}, {fmt_value(s.hi, type_)}{']' if s.hi_in else ')'}"


def lit_text(lit: Any) -> str:
    """A literal as text, with parameter values spelled out."""
    if not isinstance(lit, ir.Cmp):
        return ir.show(lit)
    return f"{_side(lit.left, lit.right)} {lit.op} {_side(lit.right, lit.left)}"


def _side(t: Any, other: Any) -> str:
    """One side of a comparison; a constant is written in the unit of what it is compared with."""
    if not isinstance(t, ir.Const):
        return ir.show(t)
    n = _num(t.value)
    type_ = other.type if _is_numeric(other) and other.type != "date" and t.type != "percent" else t.type
    shown = fmt_value(n, type_) if n is not None and not isinstance(t.value, _dt.date) else (
        t.value.isoformat() if isinstance(t.value, _dt.date) else _word(t.value))
    return f"params.{t.param} ({shown})" if t.param else shown


# --------------------------------------------------------------------------- conjunctions

@dataclass
class Conj:
    """One disjunct of a rule's condition in DNF, read as constraints per term."""

    cons: dict[Any, Con] = field(default_factory=dict)
    present: set[Any] = field(default_factory=set)  # terms known to have a value
    absent: set[Any] = field(default_factory=set)  # missing(x)
    opaque: set[Any] = field(default_factory=set)  # literals lint cannot read
    said: dict[Any, Con] = field(default_factory=dict)  # per term, from the literals alone (for messages)
    conflict: str = ""  # why this disjunct can never hold ('' = it may)


class Analysis:
    """DNF and constraint reading of every rule's condition, cached per rule."""

    def __init__(self, book: Rulebook) -> None:
        self.book = book
        self._dnf: dict[str, list[list[Any]] | None] = {}
        self._conj: dict[str, list[Conj] | None] = {}

    # -- DNF
    def dnf(self, r: RuleDef) -> list[list[Any]] | None:
        """Disjuncts that may hold (contradictory ones dropped); None when too large to analyse."""
        conjs = self.conjs(r)
        if conjs is None:
            return None
        return [d for d, c in zip(self._dnf[r.id] or [], conjs) if not c.conflict]

    def raw_dnf(self, r: RuleDef) -> list[list[Any]] | None:
        if r.id not in self._dnf:
            self._dnf[r.id] = to_dnf(ir.nnf(r.cond))
        return self._dnf[r.id]

    def conjs(self, r: RuleDef) -> list[Conj] | None:
        if r.id not in self._conj:
            d = self.raw_dnf(r)
            self._conj[r.id] = None if d is None else [self.conj(lits) for lits in d]
        return self._conj[r.id]

    def live(self, r: RuleDef) -> list[Conj] | None:
        cs = self.conjs(r)
        return None if cs is None else [c for c in cs if not c.conflict]

    # -- reading literals
    def domain(self, t: ir.Term) -> Con:
        numeric = _is_numeric(t)
        integer = t.type == "integer" or isinstance(t, ir.Agg) and t.func == "count"
        why: tuple[str, ...] = ()
        span = _ANY
        values: tuple[Any, ...] = ()
        if isinstance(t, ir.Ref) and t.kind == "fact" and t.name in self.book.facts:
            f = self.book.facts[t.name]
            if f.min is not None or f.max is not None:
                span = Interval(-INF if f.min is None else f.min, f.min is not None,
                                INF if f.max is None else f.max, f.max is not None)
                why = (f"{t.name} is declared within {fmt_span_range(span, t.type)}",)
        elif isinstance(t, ir.Ref) and t.kind == "score" and t.name in self.book.scores:
            s = self.book.scores[t.name]
            span = Interval(s.min, True, s.max, True)
            why = (f"score {t.name} is kept within {fmt_span_range(span, 'number')}",)
        elif isinstance(t, ir.Agg) and t.func == "count":
            span = Interval(0, True, INF, False)
        if t.type == "bool":
            values = (True, False)
        elif isinstance(t, ir.Ref) and t.values:
            values = t.values
        return Con(numeric, integer, span.discrete() if integer else span, values=values, why=why)

    def conj(self, lits: list[Any]) -> Conj:
        c = Conj()
        for lit in lits:
            self.add(c, lit)
            if c.conflict:
                break
        return c

    def add(self, c: Conj, lit: Any) -> None:
        if isinstance(lit, ir.Truth):
            if not lit.value:
                c.conflict = "the condition is the constant false"
            return
        if isinstance(lit, ir.Exists):
            self._exists(c, lit)
            return
        if not isinstance(lit, ir.Cmp):  # pragma: no cover - NNF has no other literal
            c.opaque.add(lit)
            return
        read = read_cmp(lit)
        if read is None:
            c.opaque.add(lit)
            return
        if isinstance(read, bool):
            if not read:
                c.conflict = f"{lit_text(lit)} is always false"
            return
        term, con = read
        if isinstance(term, ir.Ref):
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


def fmt_span_range(s: Interval, type_: str) -> str:
    return f"{'[' if s.lo_in else '('}{fmt_value(s.lo, type_)}, {fmt_value(s.hi, type_)}{']' if s.hi_in else ')'}"


def read_cmp(lit: ir.Cmp) -> tuple[Any, Con] | bool | None:
    """term-vs-constant → (term, constraint); constant-vs-constant → its truth; else None."""
    from kamrules.engine.reference import compare

    left, right, op = fold(lit.left), fold(lit.right), lit.op
    if isinstance(left, ir.Const) and isinstance(right, ir.Const):
        truth = compare(op, left.value, right.value)
        return None if truth is None else bool(truth)
    if isinstance(left, ir.Const):
        left, right, op = right, left, ir.FLIP[op]
    if not isinstance(right, ir.Const) or right.value is None:
        return None
    why = (lit_text(lit),)
    if _is_numeric(left):
        v = _num(right.value)
        if v is None:
            return None
        integer = left.type == "integer" or isinstance(left, ir.Agg) and left.func == "count"
        if op == "!=":
            return left, Con(True, integer, ne=frozenset({v}), why=why)
        span = _OP_SPAN[op](v)
        return left, Con(True, integer, span.discrete() if integer else span, why=why)
    if op == "==":
        return left, Con(False, eq=(right.value,), why=why)
    if op == "!=":
        return left, Con(False, ne=frozenset({right.value}), why=why)
    return None


def fold(t: Any) -> Any:
    """Arithmetic over constants and parameters only (params.x / 2) becomes a constant."""
    if not isinstance(t, (ir.Arith, ir.Fn)) or not _constant(t):
        return t
    from kamrules.engine.reference import Context, eval_term

    value = eval_term(t, Context({}, _dt.date(2000, 1, 1)))
    return t if value is None else ir.Const(value, t.type)


def _constant(t: Any) -> bool:
    if isinstance(t, ir.Const):
        return True
    if isinstance(t, ir.Arith):
        return _constant(t.left) and _constant(t.right)
    if isinstance(t, ir.Fn):
        return t.name != "days_since" and all(_constant(a) for a in t.args)
    return False


def to_dnf(c: ir.Cond, limit: int = DNF_LIMIT) -> list[list[Any]] | None:
    if isinstance(c, ir.Or):
        out: list[list[Any]] = []
        for i in c.items:
            d = to_dnf(i, limit)
            if d is None:
                return None
            out += d
            if len(out) > limit:
                return None
        return out
    if isinstance(c, ir.And):
        acc: list[list[Any]] = [[]]
        for i in c.items:
            d = to_dnf(i, limit)
            if d is None or len(acc) * len(d) > limit:
                return None
            acc = [a + b for a in acc for b in d]
        return acc
    if isinstance(c, ir.Truth) and c.value:
        return [[]]
    return [[c]]


# --------------------------------------------------------------------------- entailment

def entails(c: Conj, lit: Any) -> bool:
    """Does every assignment satisfying conjunction `c` satisfy `lit`? (sound, not complete)"""
    if isinstance(lit, ir.Truth):
        return lit.value
    if isinstance(lit, ir.Exists):
        return lit.ref in (c.present if lit.positive else c.absent)
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


def implies(a: list[Conj], b_dnf: list[list[Any]]) -> bool:
    """Every live disjunct of A entails some disjunct of B (B given as literal lists)."""
    return bool(a) and all(any(all(entails(ca, lit) for lit in lits) for lits in b_dnf) for ca in a)


def rule_implies(an: Analysis, a: RuleDef, b: RuleDef) -> bool:
    ca, db = an.live(a), an.dnf(b)
    return ca is not None and db is not None and implies(ca, db)


# --------------------------------------------------------------------------- the findings

def never_fires(rules: Sequence[RuleDef], an: Analysis) -> list[Problem]:
    out = []
    for r in rules:
        conjs = an.conjs(r)
        if conjs is None or any(not c.conflict for c in conjs):
            continue
        if isinstance(ir.nnf(r.cond), ir.Truth):
            why = "its condition is the constant false"
        elif len(conjs) == 1:
            why = conjs[0].conflict
        else:
            why = "none of its alternatives can hold; the first: " + conjs[0].conflict
        out.append(_problem("lint.never-fires", f"rule '{r.id}' can never fire: {why}", r.when_location,
                            f"rules[{r.id}].when",
                            "check the direction of < and >, and the parameter values; to switch a rule off "
                            "use 'disable:' with a reason", "error"))
    return out


def outputs(r: RuleDef) -> tuple[Any, ...]:
    def msg(m: Any) -> Any:  # where a message is written is not part of what it says
        return None if m is None else (m.severity, m.message, m.remedy, m.owner)

    return (tuple(sorted(r.classify)), tuple(r.score), tuple(sorted(r.derive, key=repr)), msg(r.warn), msg(r.recommend))


def _first_in_file(a: RuleDef, b: RuleDef) -> bool:
    return (a.origin.location.file, a.origin.location.line, a.id) <= (b.origin.location.file, b.origin.location.line, b.id)


def redundant_rules(rules: Sequence[RuleDef], an: Analysis) -> list[Problem]:
    groups: dict[Any, list[RuleDef]] = {}
    for r in rules:
        groups.setdefault(_hashable(outputs(r)), []).append(r)
    out = []
    for group in groups.values():
        reported: set[str] = set()
        for b in group:
            for a in group:
                if a.id == b.id or a.id in reported or not rule_implies(an, b, a):
                    continue
                same = rule_implies(an, a, b)
                if same and not _first_in_file(a, b):
                    continue  # report the later of two equivalent rules, once
                what = "the same condition as" if same else "a condition that implies the one of"
                out.append(_problem(
                    "lint.redundant-rule",
                    f"rule '{b.id}' has {what} rule '{a.id}' ({a.origin.location}) and the same outputs: "
                    f"whenever it fires, '{a.id}' fires too",
                    b.origin.location, f"rules[{b.id}]",
                    "remove one of them (a score would be counted twice), or give them different outputs", "warning"))
                reported.add(b.id)
                break
    return out


def _hashable(x: Any) -> Any:
    return repr(x)


def _beats(dim: Any, a: RuleDef, av: str, b: RuleDef, bv: str) -> bool:
    if dim.hit_policy == "priority":
        order = [v for v, _ in dim.values]
        return av in order and bv in order and order.index(av) < order.index(bv)
    return (-a.priority, a.id) < (-b.priority, b.id)  # resolve.classifications' order for `first`


def shadowed_rules(rules: Sequence[RuleDef], book: Rulebook, an: Analysis) -> list[Problem]:
    out = []
    for dim in book.dimensions.values():
        if dim.hit_policy not in ("first", "priority"):
            continue
        members = [(r, v) for r in rules for d, v in r.classify if d == dim.name]
        for b, bv in members:
            for a, av in members:
                if a.id == b.id or av == bv or not _beats(dim, a, av, b, bv) or not rule_implies(an, b, a):
                    continue
                why = (f"'{av}' is listed before '{bv}'" if dim.hit_policy == "priority"
                       else f"'{a.id}' has priority {a.priority} vs {b.priority}" if a.priority != b.priority
                       else f"at equal priority '{a.id}' comes first")
                out.append(_problem(
                    "lint.shadowed-rule",
                    f"rule '{b.id}' classifies {dim.name} = {bv}, but whenever it fires rule '{a.id}' "
                    f"({a.origin.location}) fires too and wins ({dim.hit_policy} hit policy: {why}), "
                    f"so {dim.name} is never {bv} because of it",
                    b.origin.location, f"rules[{b.id}].then.classify.{dim.name}",
                    "narrow the winning rule's condition, or change the priorities / the order of the values",
                    "warning"))
                break
    return out


def _shared_witness(ca: Conj, cb: Conj, both: Conj) -> str | None:
    """Text of a shared term's overlap, or None when the rules constrain no common term."""
    for term, con in both.cons.items():
        if term in ca.cons and term in cb.cons:
            name = ir.show(term)
            if con.numeric:
                return fmt_span(name, con.span, term.type)
            allowed = con.allowed()
            if allowed is not None and len(allowed) == 1:
                return f"{name} == {_word(next(iter(allowed)))}"
            if allowed is not None:
                return f"{name} in [{', '.join(sorted(_word(v) for v in allowed))}]"
            return f"{name} not in [{', '.join(sorted(_word(v) for v in con.ne))}]"
    return None


def _word(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def unique_overlaps(rules: Sequence[RuleDef], book: Rulebook, an: Analysis) -> list[Problem]:
    """Two rules of a `unique` dimension that can match together, proved on a term both constrain."""
    out = []
    for dim in book.dimensions.values():
        if dim.hit_policy != "unique":
            continue
        members = [r for r in rules if any(d == dim.name for d, _ in r.classify)]
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                witness = _overlap(an, a, b)
                if witness is None:
                    continue
                first, second = (a, b) if _first_in_file(a, b) else (b, a)
                out.append(_problem(
                    "lint.unique-overlap",
                    f"rules '{first.id}' and '{second.id}' both classify {dim.name} (hit policy unique) "
                    f"and can match the same account: {witness}",
                    second.origin.location, f"rules[{second.id}].when",
                    f"make the bands disjoint (e.g. < vs >=), or change {dim.name}'s hit_policy to first or priority",
                    "error"))
    return out


def _overlap(an: Analysis, a: RuleDef, b: RuleDef) -> str | None:
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


@dataclass(frozen=True)
class Band:
    rule: RuleDef
    span: Interval


def _bands(r: RuleDef, an: Analysis) -> tuple[Any, list[Interval]] | None:
    """(term, intervals) when the rule tests nothing but numeric bounds of one term."""
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
    return term, spans


def band_gaps(rules: Sequence[RuleDef], book: Rulebook, an: Analysis) -> list[Problem]:
    """Rules that classify one dimension by bands of one term, leaving an interval between them."""
    out = []
    for dim in book.dimensions.values():
        by_term: dict[Any, list[Band]] = {}
        for r in rules:
            if not any(d == dim.name for d, _ in r.classify):
                continue
            read = _bands(r, an)
            if read is not None:
                by_term.setdefault(read[0], []).extend(Band(r, s) for s in read[1])
        for term, bands in by_term.items():
            if len({b.rule.id for b in bands}) >= 2:
                out += _gaps(dim.name, term, bands)
    return out


def _gaps(dim: str, term: Any, bands: list[Band]) -> list[Problem]:
    integer = term.type == "integer" or isinstance(term, ir.Agg) and term.func == "count"
    ordered = sorted(bands, key=lambda b: (b.span.lo, not b.span.lo_in))
    out = []
    reach, reach_in, below = ordered[0].span.hi, ordered[0].span.hi_in, ordered[0]
    name = ir.show(term)
    for b in ordered[1:]:
        gap = Interval(reach, not reach_in, b.span.lo, not b.span.lo_in)
        if integer:
            gap = gap.discrete()
        if not gap.empty():
            out.append(_problem(
                "lint.band-gap",
                f"rules classifying {dim} by {name} leave a gap: no rule covers {fmt_span(name, gap, term.type)} "
                f"(between '{below.rule.id}': {fmt_span(name, below.span, term.type)} and "
                f"'{b.rule.id}': {fmt_span(name, b.span, term.type)})",
                below.rule.when_location, f"rules[{below.rule.id}].when",
                "check < against <= at the band edges, or add a rule for the missing band", "warning"))
        if b.span.hi > reach or (b.span.hi == reach and b.span.hi_in):
            reach, reach_in, below = b.span.hi, b.span.hi_in, b
    return out


_WORDS = re.compile(r"[^\W\d_]", re.UNICODE)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def _words(s: str) -> bool:
    return bool(_WORDS.search(_JINJA.sub("", s)))


def message_languages(rules: Iterable[RuleDef]) -> list[Problem]:
    out = []
    for r in rules:
        for kind in ("warn", "recommend"):
            msg: Message | None = getattr(r, kind)
            if msg is None:
                continue
            for part in ("message", "remedy"):
                text: Text = getattr(msg, part)
                issue = _language_issue(text)
                if issue:
                    out.append(_problem(
                        "lint.message-lang", f"rule '{r.id}': the {kind} {part} {issue}", r.origin.location,
                        f"rules[{r.id}].then.{kind}.{part}",
                        "readers of the other language see this text untranslated", "warning",
                        expected=f"{part}: {{zh: …, en: …}}"))
    return out


def _language_issue(t: Text) -> str:
    if not t.zh and not t.en:
        return ""
    if not t.zh:
        return "has no Chinese (zh) text"
    if not t.en:
        return "has no English (en) text"
    if t.zh == t.en and _words(t.zh):
        return "is one text for both languages"
    return ""


# --------------------------------------------------------------------------- templates and engine

def template_variables(book: Rulebook) -> list[Problem]:
    """Company templates may use only the documented playbook context (context.context); and
    what the loader would refuse (links out of the overlay, FIFOs, non-UTF-8) is reported."""
    from kamrules.rulebook.templates import scan

    scanned = scan(book.templates)  # a bounded walk of the overlays' own folders
    out = list(scanned.problems)
    if not scanned.templates:
        return out
    from jinja2 import TemplateSyntaxError, meta, nodes

    from kamrules.advice.render import environment

    env = environment(book.templates)
    allowed = context_names(book) | set(env.globals)
    filters = set(env.filters) | {"money"}  # render_text adds money per language
    for where, _, source in scanned.templates:
        try:
            tree = env.parse(source)
        except TemplateSyntaxError as e:
            out.append(_problem("lint.template-syntax", f"template error: {e.message}", Location(where, e.lineno or 0),
                                "", "check {{ … }} and {% … %} pairs", "error"))
            continue
        except RecursionError:
            out.append(_problem("lint.template-syntax", "the template is nested too deeply to read", Location(where, 1),
                                "", "flatten the nesting", "error"))
            continue
        unknown = meta.find_undeclared_variables(tree) - allowed
        seen: set[str] = set()
        for n in tree.find_all(nodes.Name):
            if n.ctx == "load" and n.name in unknown and n.name not in seen:
                seen.add(n.name)
                out.append(_problem(
                    "lint.template-var", f"the template uses '{n.name}', which is not in the playbook context",
                    Location(where, n.lineno), n.name,
                    suggest(n.name, allowed) or "see docs/playbook-context.md for the names a template can use",
                    "error"))
        for flt in tree.find_all(nodes.Filter):
            if flt.name not in filters:
                out.append(_problem("lint.template-filter", f"the template uses the unknown filter '{flt.name}'",
                                    Location(where, flt.lineno), flt.name,
                                    suggest(flt.name, filters) or "filters: " + ", ".join(sorted(filters)), "error"))
    return out


def context_names(book: Rulebook) -> set[str]:
    """The top-level names of context.context(), read from a real (empty) evaluation."""
    from kamrules.advice.context import context
    from kamrules.pipeline import evaluate
    from kamrules.rulebook.model import Account

    advice = evaluate(Account("lint", "lint", "<lint>", {}), book, as_of=_dt.date(2000, 1, 1), engine="reference")
    return set(context(advice))


def engine_limits(book: Rulebook) -> list[Problem]:
    from kamrules.engine.compile import compile_rulebook
    from kamrules.engine.compile import engine_limits as limits

    where = {r.id: r.when_location for r in book.rules}
    top = Location(book.files[-1]) if book.files else Location(book.id)
    out = []
    for rid, text in limits(compile_rulebook(book)):
        out.append(_problem("lint.engine-limit", f"durable_rules cannot run this: {text}",
                            where.get(rid, top), f"rules[{rid}]" if rid else "",
                            "the reference engine has no such limit (--engine reference); to use durable_rules, "
                            "split the rule or the rulebook", "error"))
    return out
