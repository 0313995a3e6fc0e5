"""Matches → findings: hit policies per dimension, score sums, derived facts, messages,
'because' evidence, and the analyses that missing facts blocked. Order is deterministic:
severity, then priority (higher first), then rule id."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Mapping

import jinja2

from kamrules.advice.model import Because, Blocked, Classification, Finding, Score
from kamrules.core.errors import EngineError
from kamrules.engine.facts import Facts
from kamrules.engine.matches import Match
from kamrules.engine.reference import Context, Literal, eval_cond, eval_term, trace
from kamrules.language import ir
from kamrules.language.messages import make_env
from kamrules.rulebook.model import Rulebook, RuleDef


@dataclass
class State:
    """What resolution has decided so far, stratum by stratum."""

    book: Rulebook
    facts: Facts
    matches: list[Match] = field(default_factory=list)
    env: dict[str, Any] = field(default_factory=dict)
    conflicts: list[Finding] = field(default_factory=list)

    def after_stratum(self, stratum: int, matches: list[Match]) -> Mapping[str, Any]:
        self.matches.extend(matches)
        if not self.env:
            self.env = dict(self.facts.env)
        updates: dict[str, Any] = {}
        for c in classifications(self.book, self.matches).values():
            if c.value is not None:
                updates[c.dimension] = c.value
        for s in scores(self.book, self.matches, self.facts, self.env).values():
            if s.value is not None:
                updates[s.name] = s.value
        updates.update(derived(self.book, self.matches))
        self.env.update(updates)
        return updates


_BY_ID: dict[str, dict[str, RuleDef]] = {}


def _rules(book: Rulebook) -> dict[str, RuleDef]:
    """Rule id → rule, built once per rulebook (resolution asks for it every stratum)."""
    table = _BY_ID.get(book.digest)
    if table is None:
        table = _BY_ID[book.digest] = {r.id: r for r in book.rules}
    return table


def classifications(book: Rulebook, matches: list[Match]) -> dict[str, Classification]:
    rules = _rules(book)
    out: dict[str, Classification] = {}
    for dim in book.dimensions.values():
        cands = [(m.rule, v) for m in matches for d, v in rules[m.rule].classify if d == dim.name]
        order = [v for v, _ in dim.values]
        if not cands:
            out[dim.name] = Classification(dim.name, None, (), ())
            continue
        if dim.hit_policy == "priority":
            value = min((v for _, v in cands), key=order.index)
        else:  # first / unique / any: the most important rule (conflicts are reported separately)
            best = sorted(cands, key=lambda c: (-rules[c[0]].priority, c[0]))[0]
            value = best[1]
        winners = tuple(sorted(r for r, v in cands if v == value))
        out[dim.name] = Classification(dim.name, value, winners, tuple(sorted(cands)))
    return out


def hit_policy_conflicts(book: Rulebook, cls: Mapping[str, Classification]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    out = []
    for c in cls.values():
        policy = book.dimensions[c.dimension].hit_policy
        if policy == "unique" and len(c.candidates) > 1:
            out.append((c.dimension, "unique", c.candidates))
        if policy == "any" and len({v for _, v in c.candidates}) > 1:
            out.append((c.dimension, "any", c.candidates))
    return out


def scores(book: Rulebook, matches: list[Match], facts: Facts, env: Mapping[str, Any]) -> dict[str, Score]:
    rules = _rules(book)
    parts: dict[str, list[tuple[str, float]]] = {s: [] for s in book.scores}
    ctx = Context(env, facts.as_of)
    for m in matches:
        for sname, term in rules[m.rule].score_terms:
            v = eval_term(term, ctx)
            if v is not None:
                parts[sname].append((m.rule, float(v)))
    out = {}
    for sname, sd in book.scores.items():
        ps = sorted(parts[sname])
        if not ps:
            out[sname] = Score(sname, None, ())
            continue
        total = sum(p for _, p in ps)
        out[sname] = Score(sname, round(min(max(total, sd.min), sd.max), 2), tuple(ps))
    return out


def derived(book: Rulebook, matches: list[Match]) -> dict[str, Any]:
    """Derived values; a boolean derived fact no rule asserted is false (negation as failure,
    sound because every reader runs in a later stratum than every writer)."""
    rules = _rules(book)
    best: dict[str, tuple[int, str, Any]] = {n: (1 << 30, "", False) for n, d in book.derived.items()
                                             if d.type == "bool"}
    for m in matches:
        r = rules[m.rule]
        for name, value in r.derive:
            cand = (-r.priority, r.id, value)
            if name not in best or cand < best[name]:
                best[name] = cand
    return {n: v for n, (_, _, v) in best.items()}


# ----------------------------------------------------------------------------- findings

def message_context(book: Rulebook, facts: Facts, env: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared name (missing ones as None, so StrictUndefined only catches typos)."""
    ctx: dict[str, Any] = {}
    names = list(book.facts) + list(book.metrics) + list(book.derived) + list(book.dimensions) + list(book.scores)
    for n in names:
        value = env.get(n)
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
    for f in book.facts.values():
        if f.values:
            table[f.name] = {v: {"zh": t.zh or v, "en": t.en or v} for v, t in f.values}
    return table


def because(rule: RuleDef, env: Mapping[str, Any], as_of: _dt.date) -> tuple[Because, ...]:
    # NNF, so a negated test ('not any(contacts, role == coach)') is evidence in its own right
    value, lits = trace(ir.nnf(rule.cond), Context(env, as_of))
    return tuple(_because(lit) for lit in lits if lit.outcome is True)


def _because(lit: Literal) -> Because:
    return Because(lit.fact, _plain(lit.value), lit.op, _plain(lit.against), lit.text, lit.param, lit.type)


def _plain(v: Any) -> Any:
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    if isinstance(v, float):
        return round(v, 6)
    return v


def findings(book: Rulebook, facts: Facts, state: State, lang: str) -> list[Finding]:
    rules = _rules(book)
    env = state.env or dict(facts.env)
    render_msg = _renderer(book, lang)
    ctx = message_context(book, facts, env)
    out: list[Finding] = []
    for m in state.matches:
        r = rules[m.rule]
        for kind, msg in (("warning", r.warn), ("recommendation", r.recommend)):
            if msg is None:
                continue
            try:
                text = render_msg(msg.message.get(lang), ctx)
                remedy = render_msg(msg.remedy.get(lang), ctx) if (msg.remedy.zh or msg.remedy.en) else ""
            except Exception as e:  # a message that cannot render is a rule fault, named
                raise EngineError(f"rule '{r.id}' could not render its {kind} message for account "
                                  f"'{facts.account.id}': {e}", rule=r.id, account=facts.account.id) from e
            out.append(Finding(r.id, r.concept, kind, msg.severity, r.priority, r.title.get(lang) or r.id, text, remedy,
                               _owner(msg.owner, env), because(r, env, facts.as_of), r.source,
                               str(r.origin.location), r.origin.rulebook))
    _save_codes(book)
    cls = classifications(book, state.matches)
    for dim, policy, cands in hit_policy_conflicts(book, cls):
        rule_list = ", ".join(f"{r} → {v}" for r, v in cands)
        text = (f"维度「{book.dimensions[dim].label.get('zh')}」的命中策略为 {policy},但有多条规则同时命中:{rule_list}"
                if lang == "zh" else f"dimension '{dim}' has hit policy {policy}, but several rules matched: {rule_list}")
        out.append(Finding(f"{dim}:{policy}", "rulebook.conflict", "conflict", "high", 0, text, text,
                           "fix the rulebook: run 'kamrules check'" if lang == "en" else "请修正规则库:运行 kamrules check",
                           "", (), "kamrules", str(book.dimensions[dim].origin.location), book.id))
    return sorted(out, key=Finding.sort_key)


_RENDERERS: dict[tuple[str, str], Any] = {}
_CODES: dict[str, dict[str, Any]] = {}  # rulebook digest → message text → compiled code
_DIRTY: set[str] = set()


def _codes(book: Rulebook) -> dict[str, Any]:
    """Compiled message code, shared by both languages, loaded from the disk cache once."""
    import marshal

    from kamrules.core import cache

    if book.digest not in _CODES:
        raw = cache.get("messages", cache.key("messages", book.digest, jinja2.__version__)) or {}
        try:
            _CODES[book.digest] = {t: marshal.loads(c) for t, c in raw.items()}
        except Exception:
            _CODES[book.digest] = {}
    return _CODES[book.digest]


def _save_codes(book: Rulebook) -> None:
    import marshal

    from kamrules.core import cache

    if book.digest in _DIRTY:
        _DIRTY.discard(book.digest)
        cache.put("messages", cache.key("messages", book.digest, jinja2.__version__),
                  {t: marshal.dumps(c) for t, c in _codes(book).items()})


def _renderer(book: Rulebook, lang: str) -> Any:
    """Message templates compile once per rulebook (and are cached on disk), not per account."""
    key = (book.digest, lang)
    if key not in _RENDERERS:
        env = make_env(lang, labels_table(book))
        codes = _codes(book)
        compiled: dict[str, Any] = {}

        def render_msg(text: str, ctx: Mapping[str, Any]) -> str:
            tpl = compiled.get(text)
            if tpl is None:
                code = codes.get(text)
                if code is None:
                    code = codes[text] = compile(env.compile(text, raw=True), "<message>", "exec")
                    _DIRTY.add(book.digest)
                tpl = compiled[text] = env.template_class.from_code(env, code, env.make_globals(None), None)
            return str(tpl.render(ctx))

        _RENDERERS[key] = render_msg
    return _RENDERERS[key]


def _owner(owner: str, env: Mapping[str, Any]) -> str:
    if not owner:
        return ""
    v = env.get(owner)
    return str(v) if v is not None else owner


def blocked(book: Rulebook, facts: Facts, state: State, conds: Mapping[str, Any] | None = None) -> list[Blocked]:
    """Rules that could not be decided because facts are missing, with the facts to fill in.

    `conds` are the rules' compiled conditions (compile.Program.by_stratum), when the caller has
    them; otherwise the tree walker decides."""
    fired = {m.rule for m in state.matches}
    env = state.env or dict(facts.env)
    ctx = Context(env, facts.as_of)
    out = []
    for r in book.rules:
        if r.id in fired:
            continue
        cond = conds.get(r.id) if conds else None
        value = cond(env, facts.as_of, None) if cond else eval_cond(r.cond, ctx)
        if value is not None:
            continue
        missing = sorted(_base_facts(book, {x.name for x in ir.refs(r.cond) if env.get(x.name) is None}, env))
        if missing:
            out.append(Blocked(r.id, r.concept, tuple(missing)))
    return out


def _base_facts(book: Rulebook, names: set[str], env: Mapping[str, Any]) -> set[str]:
    """Missing names → the missing declared facts behind them (a metric's given inputs are not
    what the user has to fill in)."""
    out: set[str] = set()
    for n in names:
        if n in book.facts:
            if not book.facts[n].supplied:  # history facts come from the store, never from the user
                out.add(n)
        elif n in book.metrics:
            inputs = {x.name for x in ir.refs(book.metrics[n].term) if env.get(x.name) is None}
            out |= _base_facts(book, inputs, env)
    return out
