"""Why a rule fired, and why it did not: every condition's outcome with the actual value and
the threshold, and for the rules that did not fire, the nearest misses first.

The explanation is computed from the rule's condition in negation normal form (so `not`
reads as the flipped comparison a consultant would write) against the final fact
environment of an evaluation (`Advice.env`). Stratification guarantees every value a rule
reads is final before the rule runs, so re-evaluating on the final environment gives the
same answer the engine saw.

A rule's *distance* is the smallest number of conditions that would have to change for it to
fire (an `and` needs all its parts, an `or` its cheapest branch), then the summed relative
gap of those conditions (`Literal.gap()`); conditions whose facts are missing count as one
change each, and say which facts to fill in. `x in [a, b]` is one condition, not an `or` of
equalities, because that is how it was written.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from kamrules.advice import partial
from kamrules.core import i18n, textsafe
from kamrules.core.errors import Location, Problem, UsageError, suggest
from kamrules.core.values import format_money, format_number, format_percent, format_points
from kamrules.engine.reference import Context, Truth3, eval_cond, eval_term, literal_of
from kamrules.language import ir
from kamrules.rulebook.model import Rulebook, RuleDef

NEVER = 1_000_000  # the distance of a rule whose condition is constant false
MARKS = {"fired": "✓", "suppressed": "⊘", "not_fired": "✗", "disabled": "–"}

_ZH_OPS = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤", ">": ">", "<": "<"}
_OP_WORDS = {"in": "explain.op_in", "not in": "explain.op_not_in"}  # the operators said in words

_CJK_AFTER_PAREN = re.compile(r"([）」])\s+(?=[\u4e00-\u9fff])")


def _tidy(text: str, lang: str) -> str:
    """zh reads "…（折扣上限）则触发", without the space a catalogue text puts before a filled-in
    value: applied to every explain text that has values filled in."""
    return _CJK_AFTER_PAREN.sub(r"\1", text) if lang == "zh" else text


# ----------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Check:
    """One condition of a rule (a comparison, an exists test, or an `in [...]` group)."""

    index: int  # position in the rule's condition, left to right
    text: str  # the condition in rule syntax, e.g. "discount_rate > params.max_discount"
    outcome: Truth3
    subject: str  # the left side as written
    label: str  # the left side for a reader (zh: its label)
    op: str  # == != < <= > >= in "not in" exists missing
    value: Any  # the actual value (JSON-plain; None = missing)
    value_text: str
    against: Any  # the threshold (JSON-plain; a list for in)
    against_text: str  # formatted threshold, with the parameter or expression it came from
    param: str  # parameter name when the threshold is params.<name>
    needs: tuple[str, ...]  # facts to fill in when the outcome is unknown
    gap: float  # 0 when true; relative distance to flipping, 1 when unknown or not numeric
    role: str  # "because" (made it fire) | "fix" (part of the nearest way to fire) | ""
    condition: str  # localized condition, e.g. "折扣率 > 15%(折扣上限)"
    phrase: str  # the sentence a reader sees
    bounded: bool = False  # decided by bounds although a side is missing (engine/bounds.py)
    interval: tuple[Any, Any] | None = None  # when bounded: where the left side lies (None: open end)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index, "text": self.text, "outcome": _outcome_name(self.outcome),
            "subject": self.subject, "label": self.label, "op": self.op,
            "value": self.value, "value_text": self.value_text,
            "against": self.against, "against_text": self.against_text, "param": self.param,
            "needs": list(self.needs), "gap": round(self.gap, 6), "role": self.role,
            "condition": self.condition, "phrase": self.phrase,
        }
        if self.bounded:
            out["bounded"] = True
            out["interval"] = list(self.interval) if self.interval is not None else [None, None]
        return out


@dataclass(frozen=True)
class RuleExplanation:
    rule: str
    concept: str
    title: str
    source: str
    at: str
    when: str
    status: str  # fired | suppressed | not_fired | disabled
    outcome: Truth3
    failing: int  # conditions to change before it would fire (0 when fired; NEVER if it cannot)
    gap: float
    summary: str
    why: tuple[str, ...]  # the phrases that explain it: what made it fire, or what would
    needs: tuple[str, ...]
    checks: tuple[Check, ...] = field(default=())
    lang: str = "en"

    @property
    def fired(self) -> bool:
        return self.status == "fired"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "concept": self.concept, "title": self.title, "source": self.source,
            "at": self.at, "when": self.when, "status": self.status, "fired": self.fired,
            "mark": MARKS[self.status],
            "outcome": _outcome_name(self.outcome),
            "distance": {"failing": self.failing if self.failing < NEVER else None, "gap": round(self.gap, 6)},
            "summary": self.summary, "why": list(self.why), "needs": list(self.needs),
            "checks": [c.as_dict() for c in self.checks],
        }


def _outcome_name(v: Truth3) -> str:
    return "true" if v is True else "false" if v is False else "unknown"


def plain(v: Any) -> Any:
    """A JSON-ready copy of a fact value."""
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() and abs(v) < 1e15 else round(v, 6)
    if isinstance(v, Mapping):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return str(v)


# ----------------------------------------------------------------------------- conditions

@dataclass(frozen=True)
class _Group:
    """`x in [a, b]` (an `or` of ==) or `x not in [a, b]` (an `and` of !=) over one subject."""

    op: str  # in | not in
    subject: ir.Term
    values: tuple[ir.Const, ...]


def _group(c: ir.Cond) -> _Group | None:
    match c:
        case ir.Or():
            cmp, op = "==", "in"
        case ir.And():
            cmp, op = "!=", "not in"
        case _:
            return None
    if len(c.items) < 2:
        return None
    subject: ir.Term | None = None
    values: list[ir.Const] = []
    for i in c.items:
        match i:
            case ir.Cmp() if i.op == cmp and (subject is None or i.left == subject):
                match i.right:
                    case ir.Const() if not i.right.param:
                        subject = i.left
                        values.append(i.right)
                    case _:
                        return None
            case _:
                return None
    assert subject is not None
    return _Group(op, subject, tuple(values))


def unit_text(u: ir.Cond) -> str:
    """A condition in rule syntax, with numbers written out (10000000, not 1e+07)."""
    group = _group(u)
    if group is not None:
        return f"{_show(group.subject)} {group.op} [{', '.join(_show(v) for v in group.values)}]"
    match u:
        case ir.Cmp():
            return f"{_show(u.left)} {u.op} {_show(u.right)}"
        case _:
            return ir.show(u)


def _show(t: ir.Term) -> str:
    match t:
        case ir.Const() if not t.param and isinstance(t.value, float) and t.type != "percent":
            return str(int(t.value)) if t.value.is_integer() and abs(t.value) < 1e15 else repr(t.value)
        case _:
            return ir.show(t)


def units(cond: ir.Cond) -> list[ir.Cond]:
    """The rule's conditions in NNF, left to right: the unit of explanation and of coverage."""
    out: list[ir.Cond] = []
    _collect(ir.nnf(cond), out)
    return out


def unit_outcomes(rule: RuleDef, env: Mapping[str, Any], as_of: _dt.date) -> list[tuple[str, Truth3]]:
    """Each condition of the rule with its outcome on an environment (for test coverage)."""
    ctx = Context(env, as_of)
    return [(unit_text(u), eval_cond(u, ctx)) for u in units(rule.cond)]


def _collect(c: ir.Cond, out: list[ir.Cond]) -> None:
    match c:
        case ir.Cmp() | ir.Exists():
            out.append(c)
        case ir.And() | ir.Or():
            if _group(c) is not None:
                out.append(c)
            else:
                for i in c.items:
                    _collect(i, out)
        case ir.Truth():
            pass  # a constant, not a condition anyone can change
        case ir.Not():
            ir.not_nnf(c)
        case _:
            ir.unknown(c)


@dataclass(frozen=True)
class _Plan:
    failing: int
    gap: float
    fix: tuple[int, ...]  # unit indices to change (when not true)
    because: tuple[int, ...]  # unit indices that made it true (when true)


def _plan(c: ir.Cond, gaps: list[float], outcomes: list[Truth3], counter: list[int]) -> _Plan:
    """Walk the NNF condition in `units` order: the cheapest way to make it true."""
    match c:
        case ir.And() | ir.Or() if _group(c) is not None:
            return _unit_plan(gaps, outcomes, counter)
        case ir.Cmp() | ir.Exists():
            return _unit_plan(gaps, outcomes, counter)
        case ir.Truth():
            return _Plan(0, 0.0, (), ()) if c.value else _Plan(NEVER, 1.0, (), ())
        case ir.And():
            parts = [_plan(i, gaps, outcomes, counter) for i in c.items]
            failing = min(sum(p.failing for p in parts), NEVER)
            return _Plan(failing, sum(p.gap for p in parts), tuple(i for p in parts for i in p.fix),
                         tuple(i for p in parts for i in p.because) if failing == 0 else ())
        case ir.Or():
            parts = [_plan(i, gaps, outcomes, counter) for i in c.items]
            true_parts = [p for p in parts if p.failing == 0]
            if true_parts:
                return _Plan(0, 0.0, (), tuple(i for p in true_parts for i in p.because))
            return min(parts, key=lambda p: (p.failing, p.gap)) if parts else _Plan(NEVER, 1.0, (), ())
        case ir.Not():
            ir.not_nnf(c)
        case _:
            ir.unknown(c)


def _unit_plan(gaps: list[float], outcomes: list[Truth3], counter: list[int]) -> _Plan:
    i = counter[0]
    counter[0] += 1
    if outcomes[i] is True:
        return _Plan(0, 0.0, (), (i,))
    return _Plan(1, gaps[i], (i,), ())


# ----------------------------------------------------------------------------- formatting

class _Words:
    """Names, values and thresholds as a reader of one language wants them."""

    def __init__(self, book: Rulebook, lang: str) -> None:
        self.book = book
        self.lang = "zh" if lang == "zh" else "en"

    def label(self, name: str) -> str:
        """zh: the declared label; en: the name as written in rules (what consultants type)."""
        if self.lang != "zh":
            return name
        for table in (self.book.facts, self.book.metrics, self.book.dimensions, self.book.scores, self.book.derived):
            if name in table:
                return table[name].label.zh or name
        return name

    def subject(self, t: ir.Term) -> str:
        match t:
            case ir.Ref() if t.kind != "item":
                return self.label(t.name)
            case ir.Fn() if self.lang == "zh" and t.name == "days_since":
                match t.args[0]:
                    case ir.Ref():
                        return f"距{self.label(t.args[0].name)}天数"
        return ir.show(t)

    def enum_label(self, owner: str, value: str) -> str:
        if self.lang != "zh":
            return value
        for table in (self.book.facts, self.book.dimensions, self.book.derived):
            d = table.get(owner)
            if d is not None:
                for v, t in d.values:
                    if v == value:
                        return t.zh or v
        return value

    def value(self, v: Any, type_: str, owner: str = "") -> str:
        if v is None:
            return i18n.t("explain.missing", self.lang)
        if isinstance(v, bool):
            return ("是" if v else "否") if self.lang == "zh" else ("true" if v else "false")
        if isinstance(v, _dt.date):
            return v.isoformat()
        if isinstance(v, (int, float)):
            d = self.book.facts.get(owner) or self.book.metrics.get(owner) or self.book.params.get(owner)
            if type_ == "percent" and d is not None and d.unit == "pp":
                return format_points(float(v), self.lang)
            if type_ == "percent":
                return format_percent(float(v))
            if type_ == "money":
                return format_money(float(v), self.lang)
            return format_number(float(v))
        if isinstance(v, str):
            return self.enum_label(owner, v) if owner else v
        if isinstance(v, (list, tuple)):
            return format_number(len(v))
        return str(v)

    def op(self, op: str) -> str:
        if op in _OP_WORDS:
            return i18n.t(_OP_WORDS[op], self.lang)
        return _ZH_OPS.get(op, op) if self.lang == "zh" else op

    def param(self, name: str) -> str:
        p = self.book.params.get(name)
        if self.lang == "zh" and p is not None and p.label.zh:
            return p.label.zh
        return f"params.{name}"

    def source(self, text: str) -> str:
        return f"（{text}）" if self.lang == "zh" else f" ({text})"

    def needs(self, names: Iterable[str]) -> str:
        out = []
        for n in names:
            kind = ("explain.unknown_dim" if n in self.book.dimensions else
                    "explain.unknown_score" if n in self.book.scores else
                    "explain.unknown_derived" if n in self.book.derived else "")
            if kind:
                note = i18n.t(kind, self.lang)
                out.append(_tidy(f"{self.label(n)}（{n}，{note}）", "zh") if self.lang == "zh" else f"{n} ({note})")
            elif self.lang == "zh" and self.label(n) != n:
                out.append(f"{self.label(n)}（{n}）")
            else:
                out.append(n)
        return "、".join(out) if self.lang == "zh" else ", ".join(out)


def _unwrap(text: str) -> str:
    """'(a + b)' → 'a + b': the parentheses ir.show puts around arithmetic, once it stands alone."""
    if text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, ch in enumerate(text):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(text) - 1:
                return text  # '(a) + (b)': the outer pair is not one group
        return text[1:-1]
    return text


def _is_const(t: ir.Term) -> bool:
    match t:
        case ir.Const():
            return True
        case _:
            return False


def _owner(t: ir.Term) -> str:
    match t:
        case ir.Ref():
            return t.name
        case _:
            return ""


def _base_missing(book: Rulebook, names: Iterable[str], env: Mapping[str, Any]) -> list[str]:
    """Missing names → what a user can fill in: a metric's missing inputs, recursively."""
    out: list[str] = []

    def visit(n: str, seen: frozenset[str]) -> None:
        if n in book.metrics and n not in seen:
            inner = [r.name for r in ir.refs(book.metrics[n].term) if env.get(r.name) is None]
            if inner:
                for m in inner:
                    visit(m, seen | {n})
                return
        if n not in out:
            out.append(n)

    for n in names:
        visit(n, frozenset())
    return out


def _check(i: int, unit: ir.Cond, ctx: Context, outcome: Truth3, words: _Words, role: str) -> Check:
    lang = words.lang
    group = _group(unit)
    if group is not None:  # an `in [...]` group
        left = group.subject
        v = eval_term(left, ctx)
        consts = [k.value for k in group.values]
        owner = _owner(left)
        sep = "、" if words.lang == "zh" else ", "
        against_text = "[" + sep.join(words.value(x, left.type, owner) for x in consts) + "]"
        text = unit_text(unit)
        missing = _base_missing(words.book, [r.name for r in ir.refs(left) if ctx.env.get(r.name) is None], ctx.env)
        return _comparison(i, text, outcome, left, v, group.op, plain(consts), against_text, "", missing,
                           0.0 if outcome is True else 1.0, role, words)
    match unit:
        case ir.Exists():
            ref = unit.ref
            v = eval_term(ref, ctx)
            name = words.subject(ref)
            cond = _tidy(i18n.t("explain.given" if unit.positive else "explain.absent", lang, x=name), lang)
            vt = words.value(v, ref.type, _owner(ref))
            actual = (i18n.t("explain.it_is_missing", lang) if v is None else
                      _tidy(i18n.t("explain.it_is", lang, v=vt), lang))
            return _finish(i, ir.show(unit), outcome, ref.name, name, "exists" if unit.positive else "missing",
                           plain(v), vt, None, "", "", (), 0.0 if outcome is True else 1.0, role, cond, actual, words)
        case ir.Cmp():
            c = unit
            if _is_const(c.left) and not _is_const(c.right):
                c = ir.Cmp(ir.FLIP[c.op], c.right, c.left)  # the fact on the left, as people read it
        case _:  # units() yields only comparisons, exists and `in` groups
            raise ValueError(f"not a unit of explanation: {ir.show(unit)}")
    lit = literal_of(c, ctx)
    owner = _owner(c.left) or _owner(c.right)
    against_text = words.value(lit.against, lit.type, owner)
    match c.right:
        case ir.Const():
            if c.right.param:
                against_text += words.source(words.param(c.right.param))
        case right:
            against_text += words.source(_unwrap(words.subject(right)))
    missing = _base_missing(words.book, lit.missing, ctx.env)
    check = _comparison(i, unit_text(c), outcome, c.left, lit.value, c.op, plain(lit.against), against_text,
                        lit.param, missing, lit.gap() if outcome is not None else 1.0, role, words, lit.type)
    if lit.bounded and outcome is not None:
        # decided although a side is missing: say for which values, and where the side lies
        phrase = partial.bounded_phrase(
            words.book, ctx.env, left=ir.show(c.left), left_iv=lit.interval, right=ir.show(c.right),
            right_iv=lit.against_interval, op=c.op, against_text=against_text, outcome=outcome, missing=lit.missing,
            type_=lit.type, lang=lang)
        iv = lit.interval
        ends = None if iv is None else (None if math.isinf(iv.lo) else plain(iv.lo), None if math.isinf(iv.hi)
                                        else plain(iv.hi))
        check = replace(check, phrase=phrase, bounded=True, interval=ends)
    return check


def _comparison(i: int, text: str, outcome: Truth3, left: ir.Term, v: Any, op: str, against: Any,
                against_text: str, param: str, missing: Sequence[str], gap: float, role: str, words: _Words,
                type_: str = "") -> Check:
    subject = words.subject(left)
    cond = f"{subject} {words.op(op)} {against_text}"
    if words.lang == "en" and op in ("==", "!=") and isinstance(against, bool):
        cond = f"{subject} is {'true' if against == (op == '==') else 'false'}"  # `listed` reads "listed is true"
    vt = words.value(v, type_ or left.type, _owner(left))
    actual = (i18n.t("explain.it_is_missing", words.lang) if v is None else
              _tidy(i18n.t("explain.it_is", words.lang, v=vt), words.lang))
    return _finish(i, text, outcome, ir.show(left), subject, op, plain(v), vt, against, against_text, param,
                   tuple(missing) if outcome is None else (), gap, role, cond, actual, words)


def _finish(i: int, text: str, outcome: Truth3, subject: str, label: str, op: str, value: Any, value_text: str,
            against: Any, against_text: str, param: str, needs: tuple[str, ...], gap: float, role: str,
            cond: str, actual: str, words: _Words) -> Check:
    lang = words.lang
    if outcome is None and needs:
        phrase = _tidy(i18n.t("explain.needs", lang, needs=words.needs(needs), cond=cond), lang)
    elif outcome is not True and role == "fix":
        phrase = _tidy(i18n.t("explain.would_fire", lang, cond=cond, actual=actual), lang)
    else:
        phrase = f"{cond}：{actual}" if lang == "zh" else f"{cond}: {actual}"
    return Check(i, text, outcome, subject, label, op, value, value_text, against, against_text, param, needs,
                 gap, role, cond, phrase)


# ----------------------------------------------------------------------------- rules

def explain_rule(advice: Any, rule: RuleDef, *, fired: bool | None = None) -> RuleExplanation:
    """One rule against an evaluation (`pipeline.Advice`, or anything with book/env/as_of/lang/matches)."""
    book: Rulebook = advice.book
    lang = "zh" if advice.lang == "zh" else "en"
    words = _Words(book, lang)
    ctx = Context(advice.env, advice.as_of)
    if fired is None:
        fired = rule.id in {m.rule for m in advice.matches}
    cond = ir.nnf(rule.cond)
    us = units(rule.cond)
    outcomes = [eval_cond(u, ctx) for u in us]
    gaps = [_unit_gap(u, ctx, o) for u, o in zip(us, outcomes)]
    plan = _plan(cond, gaps, outcomes, [0])
    roles = {i: "because" for i in plan.because} if fired else {i: "fix" for i in plan.fix}
    checks = tuple(_check(i, u, ctx, outcomes[i], words, roles.get(i, "")) for i, u in enumerate(us))
    needs: list[str] = []
    for c in checks:
        if c.role == "fix":
            needs.extend(n for n in c.needs if n not in needs)
    if fired:
        summary = i18n.t("explain.fired", lang)
        why = tuple(c.phrase for c in checks if c.role == "because") or (i18n.t("explain.always", lang),)
        failing, gap = 0, 0.0
    else:
        failing, gap = plan.failing, plan.gap
        if failing >= NEVER:
            summary, why = i18n.t("explain.never", lang), ()
        elif failing == 0:  # only if an engine and the final facts disagree: say so rather than "0 away"
            summary, why = i18n.t("explain.holds", lang), tuple(c.phrase for c in checks if c.outcome is True)
        else:
            summary = _tidy(i18n.t("explain.away_one" if failing == 1 else "explain.away", lang, n=failing), lang)
            if needs:
                summary += _tidy(i18n.t("explain.needs_data", lang, needs=words.needs(needs)), lang)
            why = tuple(c.phrase for c in checks if c.role == "fix")
    return RuleExplanation(
        rule=rule.id, concept=rule.concept, title=rule.title.get(lang) or rule.id, source=rule.source,
        at=str(rule.origin.location), when=rule.when, status="fired" if fired else "not_fired",
        outcome=eval_cond(cond, ctx), failing=failing, gap=gap, summary=summary, why=why, needs=tuple(needs),
        checks=checks, lang=lang)


def _unit_gap(u: ir.Cond, ctx: Context, outcome: Truth3) -> float:
    if outcome is True:
        return 0.0
    match u:
        case ir.Cmp() if outcome is not None:
            return literal_of(u, ctx).gap()
        case _:
            return 1.0


def _suppressed(advice: Any, s: Any) -> RuleExplanation:
    """A rule that fired and was withdrawn: why it held, and which rule withdrew it and why that
    one fired (its title and its evidence)."""
    book: Rulebook = advice.book
    lang = "zh" if advice.lang == "zh" else "en"
    rule = book.rule(s.rule)
    assert rule is not None
    e = explain_rule(advice, rule, fired=True)
    parts: list[str] = []
    whys: list[str] = []
    for rid in s.by:
        by = book.rule(rid)
        if by is None:  # pragma: no cover - a suppressor is a rule of the book
            continue
        title = by.title.get(lang) or by.id
        parts.append(rid if title == rid else f"{rid}「{title}」" if lang == "zh" else f"{rid} '{title}'")
        whys.extend(w for w in explain_rule(advice, by, fired=True).why if w not in whys)
    sep = "、" if lang == "zh" else ", "
    return replace(e, status="suppressed",
                   summary=_tidy(i18n.t("explain.suppressed", lang, by=sep.join(parts),
                                        why=("；" if lang == "zh" else "; ").join(whys)), lang))


def _disabled(advice: Any) -> list[RuleExplanation]:
    lang = "zh" if advice.lang == "zh" else "en"
    out = []
    for d in advice.book.disabled:
        text = _tidy(i18n.t("explain.disabled", lang, by=d.origin.rulebook, reason=d.reason), lang)
        out.append(RuleExplanation(rule=d.rule, concept="", title=d.rule, source="", at=str(d.origin.location),
                                   when="", status="disabled", outcome=None, failing=NEVER, gap=1.0,
                                   summary=text, why=(), needs=(), lang=lang))
    return out


def miss_order(e: RuleExplanation, position: int) -> tuple[int, float, int]:
    """Nearest misses first: fewest conditions to change, then the smallest gap, then book order."""
    return (e.failing, round(e.gap, 9), position)


def explain(advice: Any, *, rules: Sequence[str] | None = None, why_not: bool = False,
            include_disabled: bool = True) -> list[RuleExplanation]:
    """Fired rules in rulebook order, then the suppressed ones (fired, withdrawn), then the misses
    nearest first, then disabled rules."""
    book: Rulebook = advice.book
    fired = {m.rule for m in advice.matches}
    withheld = {s.rule for s in getattr(advice, "suppressed", ())}
    wanted = set(rules) if rules is not None else None
    hits: list[RuleExplanation] = []
    misses: list[tuple[tuple[int, float, int], RuleExplanation]] = []
    for pos, r in enumerate(book.rules):
        if (wanted is not None and r.id not in wanted) or r.id in withheld:
            continue
        if why_not and r.id in fired:
            continue
        e = explain_rule(advice, r, fired=r.id in fired)
        if e.fired:
            hits.append(e)
        else:
            misses.append((miss_order(e, pos), e))
    out = hits + [e for _, e in sorted(misses, key=lambda x: x[0])]
    withdrawn = [_suppressed(advice, s) for s in getattr(advice, "suppressed", ())
                 if (wanted is None or s.rule in wanted)]
    out = hits + withdrawn + out[len(hits):]
    if include_disabled:
        out += [e for e in _disabled(advice) if wanted is None or e.rule in wanted]
    return out


def explain_all(advice: Any) -> list[dict[str, Any]]:
    """The `advise --explain` appendix: every rule, JSON-ready, in a deterministic order."""
    return [e.as_dict() for e in explain(advice)]


def find_rule(book: Rulebook, rule_id: str) -> str:
    """The rule id if the book has it (enabled or disabled); else a usage error with 'did you mean'."""
    known = [r.id for r in book.rules] + [d.rule for d in book.disabled]
    if rule_id in known:
        return rule_id
    hint = suggest(rule_id, known) or f"{len(known)} rules; list them with 'kamrules rules'"
    raise UsageError([Problem("cli.unknown-rule", f"the rulebook '{book.id}' has no rule '{rule_id}'",
                              Location("--rule"), expected="a rule id", hint=hint)])


# ----------------------------------------------------------------------------- text

def pretty_lines(explanations: Iterable[RuleExplanation], *, details: bool = False, indent: str = "  ") -> list[str]:
    """Terminal text for some rule explanations; `details` adds every condition's outcome."""
    lines: list[str] = []
    for e in explanations:
        mark = MARKS[e.status]
        title = f" {e.title}" if e.title and e.title != e.rule else ""
        # one line each: titles, summaries and phrases quote rulebook text and account values
        lines.append(textsafe.line(f"{indent}{mark} {e.rule}{title} — {e.summary}"))
        shown = set()
        for phrase in e.why:
            lines.append(textsafe.line(f"{indent}    {phrase}"))
            shown.add(phrase)
        if details:
            for c in e.checks:
                if c.phrase in shown:
                    continue
                sym = "✓" if c.outcome is True else "✗" if c.outcome is False else "?"
                lines.append(textsafe.line(f"{indent}    {sym} {c.phrase}"))
    return lines


def pretty_report(advice: Any, explanations: Sequence[RuleExplanation], *, details: bool = True,
                  show_empty: bool = True) -> str:
    lang = "zh" if advice.lang == "zh" else "en"
    book = advice.book
    head = (f"{advice.account.name} ({advice.account.id}) · {i18n.t('explain.rulebook', lang)} {book.id} "
            f"{book.version} ({book.digest[:19]}) · {i18n.t('explain.as_of', lang)} {advice.as_of.isoformat()} · "
            f"{i18n.t('explain.engine', lang)} {advice.engine}")
    groups = (("explain.heading_fired", [e for e in explanations if e.status == "fired"]),
              ("explain.heading_suppressed", [e for e in explanations if e.status == "suppressed"]),
              ("explain.heading_missed", [e for e in explanations if e.status == "not_fired"]),
              ("explain.heading_disabled", [e for e in explanations if e.status == "disabled"]))
    lines = [textsafe.line(head)]  # the account's name is input: it cannot start a line of its own
    for key, items in groups:
        if not items and (key in ("explain.heading_disabled", "explain.heading_suppressed") or not show_empty):
            continue
        heading = i18n.t(key, lang)
        lines += ["", f"{heading}（{len(items)}）" if lang == "zh" else f"{heading} ({len(items)})"]
        lines += pretty_lines(items, details=details) if items else [f"  {i18n.t('explain.none', lang)}"]
    return "\n".join(lines) + "\n"


def json_report(advice: Any, explanations: Sequence[RuleExplanation]) -> dict[str, Any]:
    from kamrules import __version__

    book = advice.book
    return {
        "kamrules": __version__,
        "account": {"id": advice.account.id, "name": advice.account.name},
        "rulebook": {"id": book.id, "version": book.version, "digest": book.digest},
        "engine": advice.engine, "as_of": advice.as_of.isoformat(), "lang": advice.lang,
        "rules": [e.as_dict() for e in explanations],
    }
