"""Matches → advice: hit policies per dimension, score sums, derived facts, and — on first use —
findings with their messages and 'because' evidence, and the analyses that missing facts
blocked. Order is deterministic: severity, then priority (higher first), then rule id.

Resolution is incremental and runs once per account: after each stratum, `State` folds in only
that stratum's matches and hands the engine only what they changed; `State.finish` then builds
the classifications and scores once. Nothing here walks the IR per account: score terms,
conditions and evidence run as closures compiled once per rulebook.
"""
from __future__ import annotations

import datetime as _dt
import functools
import math
import operator
import types
from dataclasses import field
from typing import Any, Mapping

import jinja2

from kamrules.advice.model import (
    Because,
    Blocked,
    Classification,
    Finding,
    Headline,
    Score,
    Suppressed,
)
from kamrules.core import i18n
from kamrules.core.errors import EngineError, RulebookError
from kamrules.core.record import dataclass
from kamrules.engine.compile import Program
from kamrules.engine.facts import Facts
from kamrules.engine.matches import Match
from kamrules.engine.reference import Context, Fn3, Literal, compile_term, eval_cond
from kamrules.engine.trace import Tracer, compile_evidence
from kamrules.language import ir
from kamrules.language.intervals import Interval
from kamrules.language.messages import PlainMessage, make_env, message_problem, plain_message
from kamrules.rulebook.model import Rulebook, RuleDef

# What a rule does when it fires, prepared once per rulebook so that folding in a match is a few
# dict operations: (classify, score, derive), each a tuple of
#   classify: (dimension, value, the rule's rank for the hit policy, (rule id, value),
#              the dimension's Classification when this rule alone classifies it)
#   score:    (score, compiled term, the points when constant else None, whether they add up exactly,
#              (rule id, the points) when constant else None)
#   derive:   (name, (-priority, rule id, value))
Classify = tuple[str, str, "tuple[Any, ...]", tuple[str, str], Classification]
Points = tuple[str, Fn3, "float | None", bool, "tuple[str, float] | None"]
Derive = tuple[str, tuple[int, str, Any]]
Effects = tuple[tuple[Classify, ...], tuple[Points, ...], tuple[Derive, ...]]


@dataclass
class _Table:
    """What resolution needs of a rulebook, built once per rulebook (keyed by its digest)."""

    book: Rulebook
    rules: dict[str, RuleDef]
    effects: dict[str, Effects]  # rule id → (classify, compiled score terms, derive), rules with any
    order: dict[str, tuple[int, str]]  # rule id → (-priority, id): 'first' picks the smallest
    rank: dict[str, dict[str, int]]  # dimension → value → its place in the declared order
    by_value: dict[str, bool]  # dimension → its hit policy is 'priority' (the value decides, not the rule)
    bool_derived: tuple[str, ...]  # derived facts that are false unless a rule asserts them
    # the rules suppression is about (those that suppress others, and those they suppress): a
    # stratum with none of them among its matches skips State._suppression
    watched: frozenset[str] = frozenset()
    suppressing: frozenset[str] = frozenset()  # the rules that suppress some other rule
    tracers: dict[str, tuple[Tracer, Tracer]] = field(default_factory=dict)  # filled on demand

    @functools.cached_property
    def nothing(self) -> tuple[dict[str, Classification], dict[str, Score]]:
        """Each dimension unclassified and each score without points (immutable, so shared)."""
        return ({d: Classification(d, None, (), ()) for d in self.book.dimensions},
                {s: Score(s, None, ()) for s in self.book.scores})
    _headlines: dict[str, dict[str, tuple[tuple[int, Headline], ...]]] = field(default_factory=dict)

    def headlines(self, lang: str) -> dict[str, tuple[tuple[int, Headline], ...]]:
        """Rule id → its findings' headlines, each with its place in the order of all the
        rulebook's headlines (Headline.sort_key; equal keys share a place): the same for every
        account, and an int compares faster than the key."""
        table = self._headlines.get(lang)
        if table is None:
            every = [Headline(r.id, r.concept, kind, msg.severity, r.priority, r.title.get(lang) or r.id)
                     for r in self.book.rules
                     for kind, msg in (("warning", r.warn), ("recommendation", r.recommend)) if msg is not None]
            place = {k: i for i, k in enumerate(sorted({h.sort_key() for h in every}))}
            by_rule: dict[str, list[tuple[int, Headline]]] = {}
            for h in every:
                by_rule.setdefault(h.rule, []).append((place[h.sort_key()], h))
            table = self._headlines[lang] = {r: tuple(hs) for r, hs in by_rule.items()}
        return table

    def tracer(self, rule: RuleDef) -> tuple[Tracer, Tracer]:
        """(evidence in negation normal form, evidence as written); one closure when they agree."""
        t = self.tracers.get(rule.id)
        if t is None:
            norm = ir.nnf(rule.cond)
            as_nnf = compile_evidence(norm)
            t = self.tracers[rule.id] = (as_nnf, as_nnf if norm == rule.cond else compile_evidence(rule.cond))
        return t


_TABLES: dict[str, _Table] = {}


def _table(book: Rulebook) -> _Table:
    table = _TABLES.get(book.digest)
    if table is None:
        order = {r.id: (-r.priority, r.id) for r in book.rules}
        rank = {d.name: {v: i for i, (v, _) in enumerate(d.values)} for d in book.dimensions.values()}
        by_value = {d.name: d.hit_policy == "priority" for d in book.dimensions.values()}
        table = _TABLES[book.digest] = _Table(
            book, {r.id: r for r in book.rules},
            {r.id: _effects(r, order, rank, by_value) for r in book.rules if r.classify or r.score_terms or r.derive},
            order, rank, by_value, tuple(n for n, d in book.derived.items() if d.type == "bool"),
            frozenset(book.suppressors).union(*book.suppressors.values()),
            frozenset().union(*book.suppressors.values()))
    return table


def _effects(r: RuleDef, order: Mapping[str, tuple[int, str]], rank: Mapping[str, Mapping[str, int]],
             by_value: Mapping[str, bool]) -> Effects:
    classify: list[Classify] = []
    for d, v in r.classify:
        if d not in rank:  # not a declared dimension (the checker forbids it): nothing would read it
            continue
        # 'priority': the value first in the declared order wins; else the most important rule
        key: tuple[Any, ...] = (rank[d].get(v, len(rank[d])),) if by_value[d] else order[r.id]
        # one candidate is the common case: its Classification (immutable) is the same for every account
        classify.append((d, v, key, (r.id, v), Classification(d, v, (r.id,), ((r.id, v),))))
    points: list[Points] = []
    for s, t in r.score_terms:
        match t:
            case ir.Const() if isinstance(t.value, (int, float)) and not isinstance(t.value, bool):
                const: float | None = float(t.value)
            case _:
                const = None
        points.append((s, compile_term(t), const, const is not None and const.is_integer() and abs(const) < _EXACT,
                       None if const is None else (r.id, const)))
    return tuple(classify), tuple(points), tuple((n, (-r.priority, r.id, v)) for n, v in r.derive)


@dataclass
class State:
    """What resolution has decided so far, stratum by stratum.

    Each rule fires in one stratum and reads only what earlier strata decided (strata.py), so a
    score term evaluated when its rule fires has its final value, and a dimension, score or
    derived fact changes only in a stratum where one of its rules fired. Winners and sums are
    kept up to date as matches arrive, so nothing is recomputed from all matches."""

    book: Rulebook
    facts: Facts
    matches: list[Match] = field(default_factory=list)
    env: dict[str, Any] = field(default_factory=dict)
    candidates: dict[str, list[Classify]] = field(default_factory=dict)  # dimension → what its rules gave
    parts: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # score → (rule, points)
    winner: dict[str, Classify] = field(default_factory=dict)  # dimension → what its winning rule gave
    best: dict[str, tuple[int, str, Any]] = field(default_factory=dict)  # derived → (-priority, rule, value)
    totals: dict[str, float | None] = field(default_factory=dict)  # score → running sum, None once inexact
    points: dict[str, float] = field(default_factory=dict)  # score → its value so far
    fired: set[str] = field(default_factory=set)  # the suppressors that fired and were not withdrawn
    suppressed: list[Suppressed] = field(default_factory=list)
    started: bool = False
    table: _Table = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.env:
            self.env = dict(self.facts.env)
        self.table = _table(self.book)

    def after_stratum(self, stratum: int, matches: list[Match]) -> Mapping[str, Any]:
        """Fold in one stratum's matches; return the values they decided or changed.

        A match whose rule is suppressed by a rule that fired (and was not itself withdrawn) is
        set aside before anything is folded in: every suppressor runs in an earlier stratum
        (strata.py), so the decision is final here, and the same for every engine."""
        if not matches and self.started:
            return {}  # a stratum where nothing fired decides nothing (most of an account's strata)
        table, best = self.table, self.best
        watched = table.watched
        if watched and not watched.isdisjoint([m.rule for m in matches]):
            matches = self._suppression(matches)
        self.matches.extend(matches)
        updates: dict[str, Any] = {}
        if not self.started:
            # a boolean derived fact no rule asserted is false (negation as failure, sound because
            # every reader runs in a later stratum than every writer)
            self.started = True
            for n in table.bool_derived:
                best[n] = (1 << 30, "", False)
                updates[n] = False
        scores: list[str] = []
        env, as_of, effects = self.env, self.facts.as_of, table.effects
        candidates, winner, parts, totals = self.candidates, self.winner, self.parts, self.totals
        for m in matches:
            eff = effects.get(m.rule)
            if eff is None:
                continue
            classify, points, derive = eff
            for c in classify:
                d, key = c[0], c[2]
                held_c = candidates.get(d)
                if held_c is None:
                    candidates[d] = [c]
                else:
                    held_c.append(c)
                held = winner.get(d)
                if held is None or key < held[2]:  # ties keep the first, as min() does
                    held = winner[d] = c
                updates[d] = held[1]
            for sname, term, const, exact, part in points:
                if part is None:
                    value = term(env, as_of, None)
                    if value is None:
                        continue
                    value = float(value)
                    exact = value.is_integer() and abs(value) < _EXACT
                    part = (m.rule, value)
                else:
                    value = part[1]
                held_p = parts.get(sname)
                if held_p is None:
                    parts[sname] = [part]
                else:
                    held_p.append(part)
                # sums of whole numbers are exact in any order; others are summed sorted
                total = totals.get(sname, 0.0)
                totals[sname] = total + value if total is not None and exact else None
                scores.append(sname)
            for name, cand3 in derive:
                held3 = best.get(name)
                if held3 is None or cand3 < held3:
                    best[name] = held3 = cand3
                updates[name] = held3[2]
        if scores:
            declared = self.book.scores
            for sname in scores:
                if sname in updates:
                    continue
                sd = declared.get(sname)
                if sd is not None:
                    updates[sname] = self.points[sname] = self._points(sname, sd.min, sd.max)
        env.update(updates)
        return updates

    def _suppression(self, matches: list[Match]) -> list[Match]:
        """The matches less those a suppressor that fired in an earlier stratum withdraws (each
        noted in `suppressed`); the suppressors among the rest are noted in `fired`."""
        by_rule, fired = self.book.suppressors, self.fired
        kept: list[Match] = []
        for m in matches:
            by = tuple(s for s in by_rule.get(m.rule, ()) if s in fired)
            if not by:
                kept.append(m)
                continue
            r = self.table.rules[m.rule]
            points = []
            for sname, t in r.score_terms:
                v = compile_term(t)(self.env, self.facts.as_of, None)
                if v is not None:
                    points.append((sname, float(v)))
            self.suppressed.append(Suppressed(r.id, r.concept, by, r.classify, tuple(points), r.derive))
        suppressing = self.table.suppressing
        fired.update(m.rule for m in kept if m.rule in suppressing)
        return kept

    def _points(self, name: str, lo: float, hi: float) -> float:
        total = self.totals.get(name)
        if total is None:  # float addition is not associative: a fixed order, (rule, points)
            total = sum(p for _, p in sorted(self.parts[name]))
        return round2(min(max(total, lo), hi))

    def finish(self) -> tuple[dict[str, Classification], dict[str, Score]]:
        """Every dimension's classification and every score, built once from what was folded in."""
        cls: dict[str, Classification] = {}
        unclassified, unscored = self.table.nothing
        for name in self.book.dimensions:
            given = self.candidates.get(name)
            if not given:
                cls[name] = unclassified[name]
                continue
            if len(given) == 1:
                cls[name] = given[0][4]
                continue
            value = self.winner[name][1]
            cands = [c[3] for c in given]
            winners = tuple(sorted(r for r, v in cands if v == value))
            cls[name] = Classification(name, value, winners, tuple(sorted(cands)))
        scores: dict[str, Score] = {}
        for name in self.book.scores:
            ps = self.parts.get(name)
            # the value after the last stratum that added points is final
            scores[name] = Score(name, self.points[name], tuple(sorted(ps))) if ps else unscored[name]
        return cls, scores


def round2(value: float) -> float:
    """round(value, 2), the same value and type: a whole number is its own rounding, and round(x, 2)
    of a float costs a decimal conversion (≈ 2 % of a portfolio worker's samples: one per score
    per stratum that added points, most of them whole)."""
    return value if type(value) is float and value.is_integer() else round(value, 2)


_EXACT = float(1 << 40)  # whole numbers below this add up exactly, whatever the order


def hit_policy_conflicts(book: Rulebook, cls: Mapping[str, Classification]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    out = []
    for c in cls.values():
        if len(c.candidates) < 2:  # one candidate or none: nothing to conflict
            continue
        policy = book.dimensions[c.dimension].hit_policy
        if policy == "unique" and len(c.candidates) > 1:
            out.append((c.dimension, "unique", c.candidates))
        if policy == "any" and len({v for _, v in c.candidates}) > 1:
            out.append((c.dimension, "any", c.candidates))
    return out


# ----------------------------------------------------------------------------- findings

def message_context(book: Rulebook, facts: Facts, env: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared name (missing ones as None, so StrictUndefined only catches typos). A missing
    metric that bounds pin down on at least one side is its Interval: a rule decided from bounds
    ('loses money whatever the rebates') can say by how much at least (language/messages.py)."""
    ctx: dict[str, Any] = {}
    names = list(book.facts) + list(book.metrics) + list(book.derived) + list(book.dimensions) + list(book.scores)
    bounds = facts.bounds
    for n in names:
        value = env.get(n)
        if value is None and bounds is not None and n in book.metrics:
            iv = bounds.metric(n)
            if iv is not None and iv.bounded():
                value = iv
        parts = n.split(".")
        node = ctx
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    ctx["params"] = {n: p.value for n, p in book.params.items()}
    ctx["account"] = {"id": facts.account.id, "name": facts.account.name}
    return ctx


def labels_table(book: Rulebook) -> dict[str, dict[str, dict[str, str]]]:
    """For the 'label' message filter: enum facts and dimensions → value → {zh, en}."""
    table: dict[str, dict[str, dict[str, str]]] = {}
    for dim in book.dimensions.values():
        table[dim.name] = {v: {"zh": t.zh or v, "en": t.en or v} for v, t in dim.values}
    for d in book.derived.values():
        if d.values:
            table[d.name] = {v: {"zh": t.zh or v, "en": t.en or v} for v, t in d.values}
    for f in book.facts.values():
        if f.values:
            table[f.name] = {v: {"zh": t.zh or v, "en": t.en or v} for v, t in f.values}
        for i in f.items:  # a list's enum fields, by the field's name (c.role inside a loop → role)
            if i.values:
                table.setdefault(i.name, {v: {"zh": t.zh or v, "en": t.en or v} for v, t in i.values})
    return table


class AccountDetails:
    """An account's findings, evidence and blocked analyses, materialised on first use (the
    `Details` an Advice holds). Messages are rendered in the Advice's language."""

    def __init__(self, book: Rulebook, facts: Facts, env: Mapping[str, Any], matches: tuple[Match, ...],
                 classification: Mapping[str, Classification], lang: str, prog: Program | None = None,
                 suppressed: tuple[Suppressed, ...] = ()) -> None:
        self.book, self.facts, self.env, self.matches = book, facts, env, matches
        self.classification, self.lang, self.prog = classification, lang, prog
        self.suppressed = suppressed
        self._evidence: dict[str, tuple[Literal, ...]] = {}
        self._because: dict[str, tuple[Because, ...]] = {}

    def evidence(self, rule: RuleDef) -> tuple[Literal, ...]:
        """The literals of the rule's condition, as written, that held (for the playbook's texts)."""
        lits = self._evidence.get(rule.id)
        if lits is None:
            as_nnf, as_written = _table(self.book).tracer(rule)
            lits = self._evidence[rule.id] = as_written(self.env, self.facts.as_of)[1]
            if as_written is as_nnf:
                self._because.setdefault(rule.id, tuple(_because(lit) for lit in lits))
        return lits

    def because(self, rule: RuleDef) -> tuple[Because, ...]:
        # NNF, so a negated test ('not any(contacts, role == coach)') is evidence in its own right
        out = self._because.get(rule.id)
        if out is None:
            as_nnf, as_written = _table(self.book).tracer(rule)
            lits = as_nnf(self.env, self.facts.as_of)[1]
            if as_written is as_nnf:
                self._evidence.setdefault(rule.id, lits)
            out = self._because[rule.id] = tuple(_because(lit) for lit in lits)
        return out

    def headlines(self) -> tuple[Headline, ...]:
        """In Finding.sort_key's order (findings() sorts the same findings by it)."""
        get = _table(self.book).headlines(self.lang).get
        out = [ph for m in self.matches for ph in get(m.rule, ())]
        conflicts = hit_policy_conflicts(self.book, self.classification)
        if not conflicts:  # the common case: every headline has its place in the rulebook's order
            out.sort(key=_KEY)
            return tuple([h for _, h in out])
        keyed = [(h.sort_key(), h) for _, h in out]
        for dim, policy, cands in conflicts:
            c = Headline(f"{dim}:{policy}", "rulebook.conflict", "conflict", "high", 0,
                         _conflict_text(self.book, dim, policy, cands, self.lang))
            keyed.append((c.sort_key(), c))
        keyed.sort(key=_KEY)
        return tuple([h for _, h in keyed])

    def findings(self) -> tuple[Finding, ...]:
        book, lang = self.book, self.lang
        out = self._render([(m.rule, "") for m in self.matches])
        _save_codes(book)
        for dim, policy, cands in hit_policy_conflicts(book, self.classification):
            text = _conflict_text(book, dim, policy, cands, lang)
            out.append(Finding(f"{dim}:{policy}", "rulebook.conflict", "conflict", "high", 0, text, text,
                               i18n.t("resolve.conflict_remedy", lang),
                               "", (), "kamrules", str(book.dimensions[dim].origin.location), book.id))
        return tuple(sorted(out, key=Finding.sort_key))

    def suppressed_findings(self) -> tuple[Finding, ...]:
        out = self._render([(s.rule, s.by[0]) for s in self.suppressed])
        _save_codes(self.book)
        return tuple(sorted(out, key=Finding.sort_key))

    def _render(self, which: list[tuple[str, str]]) -> list[Finding]:
        """The warnings and recommendations of these rules (rule id, suppressed by), rendered."""
        book, facts, env, lang = self.book, self.facts, self.env, self.lang
        rules = _table(book).rules
        messages = _renderer(book, lang)
        variables = messages.variables(message_context(book, facts, env))
        out: list[Finding] = []
        for rid, by in which:
            r = rules[rid]
            for kind, msg in (("warning", r.warn), ("recommendation", r.recommend)):
                if msg is None:
                    continue
                try:
                    text = messages.render(msg.message.get(lang), variables)
                    remedy = messages.render(msg.remedy.get(lang), variables) if (msg.remedy.zh or msg.remedy.en) \
                        else ""
                except (jinja2.TemplateError, RecursionError, MemoryError) as e:  # the message's own fault: exit 2, located
                    raise RulebookError([message_problem(e, r.id, kind, facts.account.id,
                                                         msg.location or r.origin.location)]) from None
                except Exception as e:  # a message that cannot render is a rule fault, named
                    raise EngineError(f"rule '{r.id}' could not render its {kind} message for account "
                                      f"'{facts.account.id}': {e}", rule=r.id, account=facts.account.id) from e
                out.append(Finding(r.id, r.concept, kind, msg.severity, r.priority, r.title.get(lang) or r.id, text,
                                   remedy, _owner(msg.owner, env), self.because(r), r.source,
                                   str(r.origin.location), r.origin.rulebook, by))
        return out

    def blocked(self) -> tuple[Blocked, ...]:
        """Rules that could not be decided because facts are missing, with the facts to fill in.

        The rules' compiled conditions come from the Program when there is one (compiled on first
        use: the durable path never needs them otherwise); a rule without one (its condition is
        constant) is decided by the tree walker."""
        book, env, as_of = self.book, self.env, self.facts.as_of
        conds: Mapping[str, Fn3] | None = self.prog.conds if self.prog is not None else None
        # a data check (the playbook's portfolio checks) checks the figures given: a figure left
        # out is not something it needs, so it is never reported as blocked
        fired = {m.rule for m in self.matches} | set(book.playbook.portfolio.checks)
        out = []
        for r in book.rules:
            if r.id in fired:
                continue
            cond = conds.get(r.id) if conds else None
            value = cond(env, as_of, None) if cond else eval_cond(r.cond, Context(env, as_of))
            if value is not None:
                continue
            missing = sorted(_base_facts(book, {x.name for x in ir.refs(r.cond) if env.get(x.name) is None}, env))
            if missing:
                out.append(Blocked(r.id, r.concept, tuple(missing)))
        return tuple(out)


_KEY = operator.itemgetter(0)


def _conflict_text(book: Rulebook, dim: str, policy: str, cands: tuple[tuple[str, str], ...], lang: str) -> str:
    rule_list = ", ".join(f"{r} → {v}" for r, v in cands)
    shown = book.dimensions[dim].label.get("zh") if lang == "zh" else dim
    return i18n.t("resolve.conflict", lang, dimension=shown, policy=policy, rules=rule_list)


def _because(lit: Literal) -> Because:
    if lit.bounded:
        return Because(lit.fact, _plain(lit.value), lit.op, _plain(lit.against), lit.text, lit.param, lit.type, True,
                       _ends(lit.interval), _ends(lit.against_interval))
    return Because(lit.fact, _plain(lit.value), lit.op, _plain(lit.against), lit.text, lit.param, lit.type)


def _ends(iv: Interval | None) -> tuple[float | None, float | None] | None:
    """An interval as JSON can hold it: [lo, hi], None for an infinite end."""
    if iv is None:
        return None
    return (None if math.isinf(iv.lo) else _plain(iv.lo), None if math.isinf(iv.hi) else _plain(iv.hi))


def _plain(v: Any) -> Any:
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    if isinstance(v, float):
        return round(v, 6)
    return v


_RENDERERS: dict[tuple[str, str], _Messages] = {}
_STORED: dict[str, dict[str, bytes]] = {}  # rulebook digest → message text → how it renders, marshalled (disk cache)
_CODES: dict[str, dict[str, Any]] = {}  # rulebook digest → message text → how it renders, as used
_DIRTY: set[str] = set()
_PLAIN = "plain"  # a message stored as ("plain", pieces, static): language/messages.PlainMessage


def _stored(book: Rulebook) -> dict[str, bytes]:
    """The rulebook's compiled messages from the disk cache, read once; each is unmarshalled only
    when an account first shows it (a playbook shows a few dozen of several hundred)."""
    from kamrules.core import cache

    if book.digest not in _STORED:
        raw = cache.get("messages", cache.key("messages", book.digest, jinja2.__version__))
        _STORED[book.digest] = raw if isinstance(raw, dict) else {}
    return _STORED[book.digest]


def _usable(how: Any) -> bool:
    return isinstance(how, types.CodeType) or (isinstance(how, tuple) and len(how) == 3 and how[0] == _PLAIN)


def _compiled(book: Rulebook, env: Any, text: str) -> Any:
    """How a message renders: the code Jinja compiles for it, or, for a plain message (text and
    plain outputs), its pieces, which language/messages.PlainMessage renders as that code would,
    without compiling it. Made once per rulebook and kept in the disk cache."""
    import marshal

    codes = _CODES.setdefault(book.digest, {})
    how = codes.get(text)
    if how is None:
        blob = _stored(book).get(text)
        try:
            how = marshal.loads(blob) if isinstance(blob, bytes) else None
        except Exception:  # from another Python, or damaged: compile again
            how = None
        if not _usable(how):
            plain = plain_message(text, env)
            how = (_PLAIN, plain.pieces, plain.static) if plain is not None else \
                compile(env.compile(text, raw=True), "<message>", "exec")
            _DIRTY.add(book.digest)
        codes[text] = how
    return how


def _save_codes(book: Rulebook) -> None:
    import marshal

    from kamrules.core import cache

    if book.digest in _DIRTY and cache.cache_path() is not None:
        _DIRTY.discard(book.digest)
        stored = _STORED.setdefault(book.digest, {})
        stored.update((t, marshal.dumps(c)) for t, c in _CODES.get(book.digest, {}).items() if t not in stored)
        cache.put("messages", cache.key("messages", book.digest, jinja2.__version__), stored)


class _Messages:
    """A rulebook's messages in one language: compiled once per rulebook (and cached on disk),
    rendered against one account's variables at a time."""

    def __init__(self, book: Rulebook, lang: str) -> None:
        self.book = book
        self.env = make_env(lang, labels_table(book))
        self.globals = self.env.make_globals(None)
        self.compiled: dict[str, Any] = {}  # message text → its Template or PlainMessage

    def variables(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """What Template.render(ctx) would build for every message; built once per account."""
        return dict(self.globals, **ctx)

    def render(self, text: str, variables: dict[str, Any]) -> str:
        env = self.env
        tpl = self.compiled.get(text)
        if tpl is None:
            how = _compiled(self.book, env, text)
            tpl = self.compiled[text] = PlainMessage(how[1], how[2]) if isinstance(how, tuple) else \
                env.template_class.from_code(env, how, self.globals, None)
        if isinstance(tpl, PlainMessage):  # no Jinja (language/messages.py)
            return tpl.render(env, variables)
        return self._render(tpl, variables)

    def render_jinja(self, text: str, variables: dict[str, Any]) -> str:
        """The message compiled by Jinja, plain or not (tests compare both ways), uncached."""
        env = self.env
        code = compile(env.compile(text, raw=True), "<message>", "exec")
        return self._render(env.template_class.from_code(env, code, self.globals, None), variables)

    def _render(self, tpl: Any, variables: dict[str, Any]) -> str:
        env = self.env
        # Template.render, less the copy of every variable per message: a message reads its
        # variables and never writes them (a top-level {% set %} goes to the Context, not here).
        # The sandbox's budget starts in env.concat, as in Template.render (language/sandbox.py).
        context = env.context_class(env, variables, tpl.name, tpl.blocks, globals=self.globals)
        try:
            return str(env.concat(tpl.root_render_func(context)))
        except Exception:
            env.handle_exception()
            raise  # pragma: no cover - handle_exception always raises


def _renderer(book: Rulebook, lang: str) -> _Messages:
    """Message templates compile once per rulebook (and are cached on disk), not per account."""
    key = (book.digest, lang)
    if key not in _RENDERERS:
        _RENDERERS[key] = _Messages(book, lang)
    return _RENDERERS[key]


def _owner(owner: str, env: Mapping[str, Any]) -> str:
    if not owner:
        return ""
    v = env.get(owner)
    return str(v) if v is not None else owner


def _base_facts(book: Rulebook, names: set[str], env: Mapping[str, Any]) -> set[str]:
    """Missing names → the missing declared facts behind them (a metric's given inputs are not
    what the user has to fill in, nor is a fact a kamrules stage supplies, such as the tier by
    rank that only `kamrules portfolio` knows)."""
    out: set[str] = set()
    for n in names:
        if n in book.facts:
            # a supplied fact comes from a kamrules stage (the review store, the portfolio's
            # ranking), never from the user
            if not book.facts[n].supplied:
                out.add(n)
        elif n in book.metrics:
            inputs = {x.name for x in ir.refs(book.metrics[n].term) if env.get(x.name) is None}
            out |= _base_facts(book, inputs, env)
    return out
