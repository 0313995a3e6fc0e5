"""Rulebook → Program: the rules per stratum in negation normal form, and the durable_rules
JSON ruleset (plain dicts, testable without the engine).

durable_rules compares a property with a constant or with another property of the same fact
and combines comparisons with $and/$or; it has no dates, lists on the right, `in`, or safe
arithmetic on missing values. So every comparison side that is not a plain name or a
constant becomes a *synthetic property* computed by the facts stage (`_t0`, `_t1`, …),
dates become day numbers, `in` became `$or` in the IR already, and `not` is pushed onto the
comparisons (NNF), where a missing property is false — Kleene's 'unknown is not true'.

A comparison bounds may decide (engine/bounds.py) reads one more synthetic property: it compiles
to `$or: [the comparison, {_bN: true}]`, and `_bN` is true exactly when the account's bounds
decide the comparison true (the reference engine asks the same Bounds). Rete runs the action
once per true branch of an `$or`; the backend keeps one match per rule and stratum.
"""
from __future__ import annotations

import datetime as _dt
import functools
import re
from dataclasses import field
from typing import TYPE_CHECKING, Any, Mapping

from kamrules.engine.bounds import table_for
from kamrules.engine.reference import BOUNDS, Stratum
from kamrules.language import ir
from kamrules.rulebook.model import Rulebook
from kamrules.core.record import dataclass

if TYPE_CHECKING:  # the generator is imported only when a run asks for it (Program.generate)
    from kamrules.engine.generate import StratumFn
    from kamrules.engine.undecided import Undecided
    from kamrules.engine.matches import Match

OPS = {"==": "$eq", "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
STRATUM = "_s"
MAX_RULES = 4096
MAX_PATTERNS = 16
MAX_EXPRESSIONS = 32
MAX_PROPERTIES = 255


@dataclass(frozen=True)
class CompiledRule:
    id: str
    stratum: int
    cond: ir.Cond  # NNF, over plain refs and synthetic refs
    props: tuple[str, ...]  # properties the rule reads (its bindings)
    durable: Mapping[str, Any]  # the durable_rules rule definition, without "run"


@dataclass
class Program:
    book: Rulebook
    rules: tuple[CompiledRule, ...]
    strata: int
    synthetic: dict[str, ir.Term] = field(default_factory=dict)  # prop → term
    prop_of: dict[str, str] = field(default_factory=dict)  # IR name → property name
    props_by_stratum: dict[int, tuple[str, ...]] = field(default_factory=dict)
    ruleset_name: str = ""
    bounded: dict[str, ir.Cmp] = field(default_factory=dict)  # _bN → the comparison bounds may decide
    # fires_by_stratum's plans as generated functions (engine/generate.py), once `generate()` built
    # them: ReferenceBackend.run does after `runs` accounts (backends.GENERATE_AFTER), and uses them
    generated: tuple[StratumFn, ...] | None = field(default=None, init=False, repr=False, compare=False)
    runs: int = field(default=0, init=False, repr=False, compare=False)
    undecided: Undecided | None = field(default=None, init=False, repr=False, compare=False)  # with `generated`
    # per stratum, per rule of fires_by_stratum: its match without bindings, made once (a Match is
    # immutable and the same for every account; ReferenceBackend's run without bindings)
    bare_matches: tuple[tuple[Match, ...], ...] | None = field(default=None, init=False, repr=False, compare=False)

    def ruleset(self) -> dict[str, Any]:
        """A fresh copy, the catch-all _seen first (see DurableBackend.run)."""
        out: dict[str, Any] = {"_seen": {"all": [{"m": {"$ex": {STRATUM: 1}}}]}}
        for r in self.rules:
            out[r.id] = {**r.durable}
        return out

    def encode(self, env: Mapping[str, Any], as_of: _dt.date, stratum: int) -> dict[str, Any]:
        """The one fact a stratum asserts: only the properties its rules read."""
        fact: dict[str, Any] = {STRATUM: stratum}
        for target, name, term in self._readers[stratum]:
            v = term(env, as_of, None) if term else env.get(name)
            if v is None:
                continue
            t = type(v)
            if t is float or t is str or t is bool:  # already as durable_rules takes them
                fact[target] = v
            else:
                enc = encode_value(v)
                if enc is not None:
                    fact[target] = enc
        deciders = self._deciders[stratum]
        if deciders:
            bounds = env.get(BOUNDS)
            if bounds is not None:  # only accounts that miss a value bounds could stand in for
                for target, c in deciders:
                    if bounds.decide(c) is True:
                        fact[target] = True
        return fact

    def encode_props(self, env: Mapping[str, Any], as_of: _dt.date, props: tuple[str, ...]) -> dict[str, Any]:
        """The properties `props` of the fact `encode` builds, with the same values (a property's value
        depends on the account alone): the reference engine needs only a matched rule's own
        properties for its bindings, not every property of the stratum."""
        fact: dict[str, Any] = {}
        readers, deciders = self._reader_of, self.bounded
        bounds = env.get(BOUNDS)
        for p in props:
            c = deciders.get(p)
            if c is not None:
                if bounds is not None and bounds.decide(c) is True:
                    fact[p] = True
                continue
            if p == STRATUM:  # pragma: no cover - no rule reads it; kept for the same shape as encode
                continue
            name, term = readers[p]
            v = term(env, as_of, None) if term else env.get(name)
            if v is None:
                continue
            t = type(v)
            if t is float or t is str or t is bool:
                fact[p] = v
            else:
                enc = encode_value(v)
                if enc is not None:
                    fact[p] = enc
        return fact

    @functools.cached_property
    def _reader_of(self) -> dict[str, tuple[str, Any]]:
        """Property → (IR name, compiled term — None for a plain lookup of the name)."""
        return {p: (name, term) for readers in self._readers.values() for p, name, term in readers}

    @functools.cached_property
    def _readers(self) -> dict[int, tuple[tuple[str, str, Any], ...]]:
        """Per stratum: (property, IR name, compiled term — None for a plain lookup of the name)."""
        from kamrules.engine.reference import compile_term

        return {s: tuple((p, p, compile_term(self.synthetic[p])) if p in self.synthetic else (p, self._name_of[p], None)
                         for p in self.props_by_stratum.get(s, ()) if p not in self.bounded)
                for s in range(self.strata)}

    @functools.cached_property
    def _deciders(self) -> dict[int, tuple[tuple[str, ir.Cmp], ...]]:
        """Per stratum: (_bN, the comparison it stands for)."""
        return {s: tuple((p, self.bounded[p]) for p in self.props_by_stratum.get(s, ()) if p in self.bounded)
                for s in range(self.strata)}

    @functools.cached_property
    def _name_of(self) -> dict[str, str]:
        return {v: k for k, v in self.prop_of.items()}

    @functools.cached_property
    def conds(self) -> dict[str, Any]:
        """Rule id → compiled condition (the rules that can fire)."""
        return {r.id: f for rules in self.by_stratum for r, f in rules}

    @functools.cached_property
    def by_stratum(self) -> tuple[tuple[tuple[CompiledRule, Any], ...], ...]:
        """Per stratum, the rules that can fire and their compiled conditions (reference engine)."""
        from kamrules.engine.reference import compile_cond

        # bounds are asked only about the comparisons they may decide (the rest would answer None)
        may_bound = table_for(self.book).candidate
        return tuple(tuple((r, compile_cond(r.cond, may_bound)) for r in self.rules if r.stratum == s and r.durable)
                     for s in range(self.strata))

    def generate(self) -> None:
        """Build `generated` (once): each stratum of `fires_by_stratum` as one generated function.
        Tens of millions of instructions for the course: only where many accounts are evaluated."""
        if self.generated is None:
            from kamrules.engine.boundsgen import generate_questions
            from kamrules.engine.generate import generate_program
            from kamrules.engine.undecided import Undecided

            table = table_for(self.book)
            strata = [[r.cond for r in rules] for rules, _ in self.fires_by_stratum]
            # the comparisons the strata may hand to the bounds, each asked by a generated question
            asked = [lit for conds in strata for c in conds for lit in ir.literals(c)
                     if type(lit) is ir.Cmp and table.candidate(lit)]
            _, ask = generate_questions(table, asked)
            # the questions an account's presence pattern cannot decide, answered before they are asked
            self.undecided = Undecided(table, asked)
            self.generated = generate_program(strata, table.candidate, ask, lambda c: table._decider_entry(c)[2])

    @functools.cached_property
    def fires_by_stratum(self) -> tuple[tuple[tuple[CompiledRule, ...], Stratum], ...]:
        """Per stratum, the rules that can fire and their conditions compiled to say whether each
        fires (`by_stratum`'s condition is true): plain tests shared by the stratum's rules, bounds
        asked only when the answer could turn on them (reference engine; reference.compile_stratum)."""
        from kamrules.engine.reference import compile_stratum

        may_bound = table_for(self.book).candidate
        out = []
        for s in range(self.strata):
            rules = tuple(r for r in self.rules if r.stratum == s and r.durable)
            out.append((rules, compile_stratum([r.cond for r in rules], may_bound)))
        return tuple(out)


def encode_value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, _dt.date):
        return float(v.toordinal())
    if isinstance(v, (tuple, list)):
        return float(len(v))
    return str(v)


class _Compiler:
    def __init__(self, book: Rulebook) -> None:
        self.book = book
        self.synthetic: dict[str, ir.Term] = {}
        self.by_term: dict[ir.Term, str] = {}
        self.prop_of: dict[str, str] = {}
        self.used: set[str] = set()
        self.bounds = table_for(book)
        self.bounded: dict[str, ir.Cmp] = {}
        self.bounded_of: dict[ir.Cmp, str] = {}  # one property per comparison, however many rules test it

    def prop(self, name: str) -> str:
        if name not in self.prop_of:
            safe = re.sub(r"\W", "_", name.replace(".", "__"), flags=re.ASCII)
            if not safe or safe in self.used or safe.startswith("_") or not safe.isascii():
                safe = f"p{len(self.prop_of)}_{safe.strip('_')[:20]}"
            self.used.add(safe)
            self.prop_of[name] = safe
        return self.prop_of[name]

    def side(self, t: ir.Term) -> tuple[str, Any]:
        """('const', value) or ('prop', property name)."""
        match t:
            case ir.Const():
                return "const", encode_value(t.value)
            case ir.Ref() if t.kind != "item":
                return "prop", self.prop(t.name)
        if t not in self.by_term:
            name = f"_t{len(self.by_term)}"
            self.by_term[t] = name
            self.synthetic[name] = t
        return "prop", self.by_term[t]

    def literal(self, c: ir.Cmp | ir.Exists, props: set[str]) -> Any:
        match c:
            case ir.Exists():
                p = self.side(c.ref)[1]
                props.add(p)
                return {"$ex" if c.positive else "$nex": {p: 1}}
            case ir.Cmp():
                lk, lv = self.side(c.left)
                rk, rv = self.side(c.right)
                op = c.op
            case _:
                ir.unknown(c)
        if lk == "const" and rk == "const":
            from kamrules.engine.reference import compare

            return compare(op, lv, rv) is True
        if lk == "const":
            lk, lv, rk, rv, op = rk, rv, lk, lv, ir.FLIP[op]
        props.add(lv)
        if rk == "prop":
            props.add(rv)
            # a reference to a missing property compares as if present (measured): guard it
            expr: Any = {"$and": [{"$ex": {rv: 1}}, {OPS[op]: {lv: {"$m": rv}}}]}
        elif op == "==":
            expr = {lv: rv}
        else:
            expr = {OPS[op]: {lv: rv}}
        if not self.bounds.candidate(c):
            return expr
        # decided by bounds when a side is missing: the facts stage's answer, as one more property
        decided = self.bounded_of.get(c)
        if decided is None:
            decided = self.bounded_of[c] = f"_b{len(self.bounded)}"
            self.bounded[decided] = c
        props.add(decided)
        return {"$or": [expr, {decided: True}]}

    def cond(self, c: ir.Cond, props: set[str]) -> Any:
        """True / False for constant conditions, else a durable expression (c is in NNF)."""
        match c:
            case ir.Truth():
                return c.value
            case ir.And():
                return self.junction(c.items, True, props)
            case ir.Or():
                return self.junction(c.items, False, props)
            case ir.Cmp() | ir.Exists():
                return self.literal(c, props)
            case ir.Not():
                ir.not_nnf(c)
            case _:
                ir.unknown(c)

    def junction(self, items: tuple[ir.Cond, ...], is_and: bool, props: set[str]) -> Any:
        parts = []
        for i in items:
            sub = self.cond(i, props)
            if sub is (not is_and):  # False in and / True in or decides it
                return sub
            if sub is is_and:
                continue
            parts.append(sub)
        if not parts:
            return is_and
        if len(parts) == 1:
            return parts[0]
        return {"$and" if is_and else "$or": parts}


def compile_rulebook(book: Rulebook) -> Program:
    comp = _Compiler(book)
    rules = []
    # the bounds table's normal forms of the same rules (a book of the same digest: equal rules in
    # the same order), whose comparisons it has already judged (BoundsTable.nnf_conds)
    for r, cond in zip(book.rules, comp.bounds.nnf_conds, strict=True):
        stratum = book.strata.get(r.id, 0)
        props: set[str] = set()
        expr = comp.cond(cond, props)
        if expr is False:
            pattern: Any = None  # can never fire: no durable rule at all
        elif expr is True:
            pattern = {STRATUM: stratum}
        else:
            pattern = {"$and": [{STRATUM: stratum}, expr]}
        durable = {"all": [{"m": pattern}], "pri": -r.priority} if pattern is not None else {}
        rules.append(CompiledRule(r.id, stratum, cond, tuple(sorted(props)), durable))
    n_strata = max((c.stratum for c in rules), default=0) + 1
    by_stratum: dict[int, set[str]] = {}
    for c in rules:
        by_stratum.setdefault(c.stratum, set()).update(c.props)
    prog = Program(book, tuple(rules), n_strata, comp.synthetic, comp.prop_of,
                   {k: tuple(sorted(v)) for k, v in by_stratum.items()},
                   "kam_" + book.digest.split(":")[-1][:16], comp.bounded)
    return prog


MAX_ALTERNATIVES = 1024  # our own cap: Rete builds one path per alternative


def engine_limits(prog: Program) -> list[tuple[str, str]]:
    """The durable_rules limits this program exceeds: (rule id or '', a friendly sentence)."""
    problems: list[tuple[str, str]] = []
    if len(prog.rules) > MAX_RULES:
        problems.append(("", f"{len(prog.rules)} rules; durable_rules allows {MAX_RULES} per ruleset"))
    for s, props in sorted(prog.props_by_stratum.items()):
        if len(props) + 2 > MAX_PROPERTIES:
            problems.append(("", f"stratum {s} reads {len(props)} properties; durable_rules allows "
                                 f"{MAX_PROPERTIES - 2} per fact (split the rulebook's facts or drop unused rules)"))
    for r in prog.rules:
        if not r.durable:
            continue
        n = _count_expressions(r.durable)
        if n > MAX_EXPRESSIONS:
            problems.append((r.id, f"rule '{r.id}' compiles to {n} comparisons; durable_rules allows {MAX_EXPRESSIONS} "
                                   "per pattern (split it, or move part of it into a metric)"))
        alts = alternatives(r.durable["all"][0]["m"])
        if alts > MAX_ALTERNATIVES:
            problems.append((r.id, f"rule '{r.id}' expands to {alts:,} alternative paths in the Rete network "
                                   f"(a combinatorial explosion of 'or' inside 'and'; the limit is {MAX_ALTERNATIVES:,}): "
                                   "split it into several rules, or move part of it into a metric"))
    return problems


def alternatives(node: Any) -> int:
    """How many alternative paths Rete builds: the size of the condition's disjunctive form."""
    if isinstance(node, dict):
        if "$or" in node:
            return sum(alternatives(i) for i in node["$or"])
        if "$and" in node:
            n = 1
            for i in node["$and"]:
                n *= alternatives(i)
            return n
    return 1


def _count_expressions(node: Any) -> int:
    if isinstance(node, dict):
        total = 0
        for k, v in node.items():
            if k in ("$and", "$or"):
                total += sum(_count_expressions(i) for i in v)
            elif k in ("all", "any"):
                total += sum(_count_expressions(i) for i in v)
            elif k == "m":
                total += _count_expressions(v)
            elif k == "pri":
                continue
            else:
                total += 1
        return total
    return 0
