"""Advice → the documented template context (advice/contextmodel.py, docs/playbook-context.md).

Everything a playbook shows is decided here, in Python, so templates (the built-in ones and a
company's overrides) only lay it out. What the playbook knows about the course — its steps,
roles, labels, what the summary shows — comes from the rulebook's `playbook:` section
(rules/course/playbook.yaml), so a company overlay can change it; kamrules' own words come
from the message catalogue (core/catalogue.py).
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Iterable, Mapping

from kamrules import __version__
from kamrules.advice import partial
from kamrules.advice import contextmodel as cm
from kamrules.advice import plan
from kamrules.advice.model import Advice
from kamrules.advice.model import Finding as ResolvedFinding
from kamrules.core import i18n
from kamrules.core.values import format_money, format_number, format_percent, format_points, format_value
from kamrules.rulebook.model import SEVERITIES
from kamrules.rulebook.vocabulary import OWNER_ROLES

SOURCE_ORDER = ("deck", "lit", "recon", "company", "kamrules")

_OP_WORD = {">": "op_gt", ">=": "op_ge", "<": "op_lt", "<=": "op_le", "!=": "op_ne"}
_DAYS_SINCE = re.compile(r"^days_since\((?P<name>[\w.]+)\)$")


def source_kind(source: str) -> str:
    return source.split(":", 1)[0] if source else ""


def _kind_label(kind: str, lang: str) -> str:
    return i18n.t(f"source.{kind}", lang) if kind in SOURCE_ORDER else kind


def source_label(source: str, lang: str) -> str:
    """deck → 课程观点 / course idea (the words are kamrules'; a rule's `words:` quote is shown as
    the course's own words); lit:Gainsight → 文献：Gainsight; recon → a reconstruction."""
    kind, _, name = source.partition(":")
    base = _kind_label(kind, lang)
    if name:
        return f"{base}：{name}" if lang == "zh" else f"{base}: {name}"
    return base


def _ui(key: str, lang: str, **kw: Any) -> str:
    return i18n.t(f"playbook.{key}", lang, **kw)


def _lower_first(s: str) -> str:
    """'Max key-account discount' → 'max key-account discount' (not 'KAM …' or 'DSO')."""
    return s[0].lower() + s[1:] if len(s) > 1 and s[1].islower() else s


def _enum_label(advice: Advice, name: str, value: Any) -> str | None:
    book, lang = advice.book, advice.lang
    for table in (book.facts, book.dimensions, book.derived):
        d = table.get(name)
        if d is not None:
            for v, t in d.values:
                if v == value:
                    return t.get(lang) or v
    return None


def _unit(advice: Advice, name: str) -> str:
    book = advice.book
    d = book.facts.get(name) or book.metrics.get(name) or book.params.get(name)
    return d.unit if d is not None else ""


def _value_text(advice: Advice, name: str, value: Any) -> str:
    book, lang = advice.book, advice.lang
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _ui("yes" if value else "no", lang)
    if _unit(advice, name) == "pp" and isinstance(value, (int, float)):
        return format_points(float(value), lang)
    if name in book.facts:
        f = book.facts[name]
        if f.type == "enum":
            return _enum_label(advice, name, value) or str(value)
        if f.type == "list" and f.items:
            return format_number(len(value))
        if f.type == "list":
            return ("、" if lang == "zh" else ", ").join(map(str, value))
        return format_value(value, f.type, lang)
    if name in book.metrics:
        return format_value(value, book.metrics[name].type, lang)
    if name in book.dimensions or name in book.derived:
        return _enum_label(advice, name, value) or str(value)
    if isinstance(value, float):
        return format_number(value)
    return format_value(value, "string", lang)


def _is_days(advice: Advice, name: str, days_since: bool) -> bool:
    f = advice.book.facts.get(name)
    return days_since or (f is not None and f.unit == "days")


def _evidence_value(advice: Advice, name: str, v: Any, type_: str, days: bool) -> str:
    lang = advice.lang
    if v is None:
        return "—"
    if isinstance(v, bool):
        return _ui("yes" if v else "no", lang)
    if days and isinstance(v, (int, float)):
        return _ui("days_unit", lang, n=format_number(float(v)))
    if isinstance(v, (int, float)) and _unit(advice, name) == "pp":
        return format_points(float(v), lang)
    if isinstance(v, str):
        return _enum_label(advice, name, v) or v
    if isinstance(v, (int, float)):
        return format_value(v, type_ if type_ in ("money", "percent") else "number", lang)
    return str(v)


def _declared(advice: Advice, name: str) -> bool:
    book = advice.book
    return any(name in t for t in (book.facts, book.metrics, book.dimensions, book.scores, book.derived))


def _because_text(advice: Advice, b: Any) -> str:
    """One piece of evidence as a reader says it: '平均折扣率 22%，高于大客户折扣上限（15%）' /
    'Average discount 22%, above max key-account discount (15%)'. `b` is a resolve.Because or a
    reference.Literal (which also says what the threshold was: a parameter or another fact)."""
    lang = advice.lang
    if getattr(b, "bounded", False):  # decided although a fact is missing: say for which values
        return partial.evidence_text(advice.book, advice.env, b, lang)
    m = _DAYS_SINCE.match(b.fact)
    name = m["name"] if m else b.fact
    days = _is_days(advice, name, bool(m))
    label = _label(advice, name)
    if m:
        label = _ui("days_since", lang, label=label if lang == "zh" else _lower_first(label))
    sep = "：" if lang == "zh" else ": "
    if b.op == "missing":
        return f"{label}{sep}{_ui('not_given', lang)}"
    value = _evidence_value(advice, name, b.value, b.type, days)
    if b.op in ("exists", "=="):
        return f"{label}{sep}{value}"
    against = _evidence_value(advice, name, b.against, b.type, days)
    other = getattr(b, "against_text", "")
    named = ""
    if b.param and b.param in advice.book.params:
        named = advice.book.params[b.param].label.get(lang) or b.param
    elif other and other != b.fact and _declared(advice, other):
        named = _label(advice, other)
    word = _ui(_OP_WORD[b.op], lang) if b.op in _OP_WORD else b.op
    if named:
        against = f"{named}（{against}）" if lang == "zh" else f"{_lower_first(named)} ({against})"
        return f"{label} {value}，{word}{against}" if lang == "zh" else f"{label} {value}, {word} {against}"
    return f"{label} {value}，{word} {against}" if lang == "zh" else f"{label} {value}, {word} {against}"


def _evidence(advice: Advice, rule: Any) -> list[Any]:
    """The conditions that held when the rule fired (the same literals Finding.because keeps,
    with the threshold's own name, which Because does not carry)."""
    return list(advice.details.evidence(rule))


def _label(advice: Advice, name: str) -> str:
    book, lang = advice.book, advice.lang
    for table in (book.facts, book.metrics, book.dimensions, book.scores, book.derived):
        if name in table:
            return table[name].label.get(lang) or name
    return name


def _owner_text(advice: Advice, owner: str) -> str:
    """A rule's owner is a fact (team.account_manager) resolved to a name; when the account does
    not give that fact, say which role to name instead of printing the fact's key."""
    if owner and owner in advice.book.facts and advice.env.get(owner) is None:
        return _label(advice, owner) + _ui("to_be_named", advice.lang)
    return owner


def _concept_label(advice: Advice, concept: str) -> str:
    if concept.startswith("rulebook."):
        return i18n.t(f"concept.{concept}", advice.lang)
    return advice.book.playbook.concept_label(concept, advice.lang)


def _family_label(advice: Advice, family: str) -> str:
    if family == "rulebook":
        return i18n.t("family.rulebook", advice.lang)
    return advice.book.playbook.family_label(family, advice.lang)


def _finding(advice: Advice, f: ResolvedFinding) -> cm.Finding:
    lang = advice.lang
    rule = advice.book.rule(f.rule)
    words = rule.words.zh if rule is not None else ""
    label = source_label(f.source, lang)
    if words and source_kind(f.source) == "deck":
        label = _ui("course_words", lang)  # the deck's own words: only when a verbatim quote backs it
    threshold = source_label(rule.threshold, lang) if rule is not None and rule.threshold else ""
    cause = plan.cause_of(advice, f)
    cause_title = advice.book.causes[cause].title.get(lang) if cause else ""
    lits: list[Any] = list(f.because)
    if rule is not None:
        traced = _evidence(advice, rule)
        if len(traced) == len(lits):
            lits = traced
    return cm.Finding(
        rule=f.rule, concept=f.concept, kind=f.kind, severity=f.severity,
        severity_label=i18n.t(f"severity.{f.severity}", lang), priority=f.priority, title=f.title,
        message=f.message, remedy=f.remedy, owner=_owner_text(advice, f.owner),
        because=tuple(cm.Evidence(b.fact, _label(advice, b.fact), b.value, b.op, b.against, b.param,
                                  _because_text(advice, lit)) for b, lit in zip(f.because, lits)),
        source=f.source, source_kind=source_kind(f.source), source_label=label,
        at=f.at, rulebook=f.rulebook, family=f.concept.split(".")[0],
        concept_label=_concept_label(advice, f.concept), words=words,
        threshold_label=_ui("threshold_from", lang, source=threshold) if threshold else "",
        cause=cause, cause_title=cause_title or "")


# ----------------------------------------------------------------------------- context parts

def _dimension(advice: Advice, d: Any) -> cm.Dimension:
    """A classification dimension with its verdict and the evidence of the rules that gave it."""
    lang = advice.lang
    c = advice.classification[d.name]
    rules = tuple(dict.fromkeys(c.rules))  # one entry per rule, even if it matched twice
    evidence = []
    for rid in rules:
        r = advice.book.rule(rid)
        if r is None:
            continue
        evidence.append(cm.DimensionEvidence(rid, r.title.get(lang) or rid, r.source, source_kind(r.source),
                                             source_label(r.source, lang),
                                             tuple(_because_text(advice, lit) for lit in _evidence(advice, r))))
    return cm.Dimension(
        name=d.name, label=d.label.get(lang) or d.name, value=c.value,
        value_label=d.value_label(c.value, lang) if c.value else _ui("not_classified", lang),
        rules=rules, hit_policy=d.hit_policy, evidence=tuple(evidence),
        values=tuple(cm.DimensionValue(v, t.get(lang) or v, v == c.value) for v, t in d.values))


def _score(advice: Advice, s: Any) -> cm.Score:
    lang = advice.lang
    sc = advice.scores[s.name]
    v = sc.value
    band_dim = advice.book.dimensions.get(f"{s.name}_band")  # e.g. health → health_band (green/yellow/red)
    band_value = advice.classification[band_dim.name].value if band_dim is not None else None
    band_label = band_dim.value_label(band_value, lang) if band_dim is not None and band_value else ""
    # the colour follows the rulebook's own band when it has one (an overlay may move the thresholds)
    band = None if v is None else band_value if band_value in ("red", "yellow", "green") else \
        ("red" if v <= 50 else "yellow" if v <= 75 else "green")
    parts = []
    for rid, points in sc.parts:
        r = advice.book.rule(rid)
        parts.append(cm.ScorePart(rid, points, (r.title.get(lang) or rid) if r else rid,
                                  source_label(r.source, lang) if r else ""))
    span = (s.max - s.min) or 1.0
    return cm.Score(name=s.name, label=s.label.get(lang) or s.name, value=v, min=s.min, max=s.max, band=band,
                    band_label=band_label, text="—" if v is None else format_number(v),
                    ratio=None if v is None else (v - s.min) / span, parts=tuple(parts))


def _figure(advice: Advice, name: str) -> cm.Figure | None:
    book = advice.book
    if name not in book.facts and name not in book.metrics:
        return None
    v = advice.env.get(name)
    return cm.Figure(name, _label(advice, name), v, _value_text(advice, name, v))


def _known(advice: Advice, names: Iterable[str]) -> tuple[cm.Figure, ...]:
    out = []
    for n in names:
        fig = _figure(advice, n)
        if fig is not None and fig.value is not None:
            out.append(fig)
    return tuple(out)


def _of(fs: Iterable[cm.Finding], concept: str) -> tuple[cm.Finding, ...]:
    return tuple(f for f in fs if f.concept == concept)


def _analysis(advice: Advice, fs: tuple[cm.Finding, ...]) -> tuple[cm.AnalysisStep, ...]:
    book, lang = advice.book, advice.lang
    plan = book.playbook.analysis
    tracked = {s.key for s in plan if s.date and s.date in book.facts}
    concepts = {r.concept for r in book.rules}
    if not tracked and not any(f"analysis.{s.key}" in concepts for s in plan):
        return ()
    max_age = book.params.get("analysis_max_age_days")
    steps = []
    for i, s in enumerate(plan, 1):
        concept = f"analysis.{s.key}"
        found = _of(fs, concept)
        date = advice.env.get(s.date) if s.key in tracked else None
        age = (advice.as_of - date).days if isinstance(date, _dt.date) else None
        if s.key not in tracked:
            status = "untracked"
        elif date is None:
            status = "missing"
        elif (max_age is not None and age is not None and age > max_age.value) or (max_age is None and found):
            status = "stale"
        else:
            status = "current"
        steps.append(cm.AnalysisStep(
            key=s.key, n=i, label=s.label.get(lang) or s.key, concept=concept,
            date=date.isoformat() if isinstance(date, _dt.date) else None, age_days=age,
            age_text=_ui("days_ago", lang, n=format_number(age)) if age is not None else "",
            status=status, status_label=_ui(f"status_{status}", lang), find_out=s.ask.get(lang),
            known=_known(advice, s.known), findings=found))
    return tuple(steps)


CONTACT_COLUMNS = ("name", "title", "role", "level", "support", "rating", "covered_by", "new_in_role")


def _relationships(advice: Advice, fs: tuple[cm.Finding, ...]) -> cm.Relationships | None:
    book, lang = advice.book, advice.lang
    if "contacts" not in book.facts:
        return None
    fields = {f.name: f for f in book.facts["contacts"].items}
    columns = tuple(cm.Column(n, fields[n].label.get(lang) or n) for n in CONTACT_COLUMNS if n in fields)

    def cell(item: Mapping[str, Any], n: str) -> str:
        v = item.get(n)
        if v is None:
            return _ui("nobody", lang) if n == "covered_by" else ""
        if isinstance(v, bool):
            return _ui("yes", lang) if v else ""
        if n == "rating" and isinstance(v, (int, float)):
            return f"{int(v):+d}" if v else "0"
        if fields[n].type == "enum":
            return next((t.get(lang) or val for val, t in fields[n].values if val == v), str(v))
        return str(v)

    contacts = tuple(cm.Contact({n: c.get(n) for n in fields}, tuple(cell(c, col.name) for col in columns),
                                c.get("support") or "", c.get("covered_by") is None)
                     for c in advice.env.get("contacts") or ())
    roles = []
    if "role" in fields:
        present = [c.get("role") for c in advice.env.get("contacts") or ()]
        for v, t in fields["role"].values:
            n = present.count(v)
            roles.append(cm.Role(v, t.get(lang) or v, n, n > 0, v in book.playbook.buying_roles))
    gap_concepts = set(book.playbook.relationship_gaps)
    gaps = tuple(f for f in fs if f.family == "nine" or f.concept in gap_concepts)
    return cm.Relationships(columns, contacts, tuple(roles), gaps,
                            _known(advice, book.playbook.relationship_metrics))


def _service(advice: Advice, fs: tuple[cm.Finding, ...]) -> cm.Service | None:
    lang, pb = advice.lang, advice.book.playbook
    if not pb.service_fact or pb.service_fact not in advice.book.facts or not pb.service_steps:
        return None
    raw = advice.env.get(pb.service_fact)
    top = len(pb.service_steps)
    current = int(raw) if isinstance(raw, (int, float)) and 1 <= raw <= top else None
    # the step the account qualifies for, when the rulebook says which dimension tells it: the
    # ladder then points up only while the account qualifies for more than its current step
    # (an over-served account is not told to climb)
    verdict = advice.classification.get(pb.service_ready) if pb.service_ready else None
    ready = verdict.value if verdict is not None else None
    target = pb.service_ready_values.index(ready) + 1 if ready in pb.service_ready_values else None
    move = "" if current is None or target is None else \
        "up" if target > current else "hold" if target == current else "down"
    climb = current is not None and current < top and move in ("", "up")
    steps = tuple(cm.ServiceStep(n, label.get(lang), _ui("step_n", lang, n=n), n == current,
                                 climb and n == (current or 0) + 1, n == target)
                  for n, label in enumerate(pb.service_steps, 1))
    return cm.Service(step=current, steps=steps, current=steps[current - 1] if current else None,
                      next=steps[current] if climb and current else None,
                      target=steps[target - 1] if target and target <= top else None, move=move,
                      cost=_known(advice, ("cost_to_serve", "cost_to_serve_rate")),
                      findings=_of(fs, "service.step"))


def _management(advice: Advice, fs: tuple[cm.Finding, ...]) -> tuple[cm.ManagementPart, ...]:
    lang = advice.lang
    concepts = [r.concept for r in advice.book.rules]
    if not any(c.startswith("management.") for c in concepts):
        return ()
    parts = []
    for part in advice.book.playbook.management:
        concept = f"management.{part.key}"
        found = _of(fs, concept)
        n_rules = concepts.count(concept)
        blocked = [b for b in advice.blocked if b.concept == concept]
        if found:
            status = "attention"
        elif n_rules == 0 or len(blocked) == n_rules:
            status = "unknown"
        elif blocked:
            status = "partial"
        else:
            status = "ok"
        missing = sorted({m for b in blocked for m in b.missing if advice.env.get(m) is None})
        parts.append(cm.ManagementPart(part.key, concept, part.label.get(lang) or part.key, status,
                                       _ui(f"mgmt_{status}", lang), found,
                                       tuple(cm.MissingFact(m, _label(advice, m)) for m in missing)))
    return tuple(parts)


def _role_label(advice: Advice, role: str) -> str:
    t = advice.book.playbook.owners.get(role)
    return (t.get(advice.lang) if t is not None else "") or _ui(f"role_{role}", advice.lang)


def _action_plan(advice: Advice, fs: tuple[cm.Finding, ...]) -> tuple[cm.Action, ...]:
    """One action per finding that asks for one (advice/plan.py decides owner, horizon, due)."""
    lang = advice.lang
    by_rule = {(f.rule, f.kind): f for f in fs}
    out: list[cm.Action] = []
    for a in plan.actions(advice):
        f = by_rule[(a.finding.rule, a.finding.kind)]
        role_label = _role_label(advice, a.role)
        if a.name:
            owner = a.name
        elif a.name_fact and a.name_fact in advice.book.facts and (a.role == "rep" or a.finding.owner):
            owner = role_label + _ui("to_be_named", lang)  # the rule names who; the account does not say
        else:
            owner = role_label
        h = advice.book.playbook.horizons.get(a.horizon) if a.horizon else None
        horizon_label = (h.label.get(lang) if h is not None else "") or (_ui(f"horizon_{a.horizon}", lang)
                                                                        if a.horizon else "")
        out.append(cm.Action(len(out) + 1, a.text, f.title, owner, a.due.isoformat(), f.severity, f.severity_label,
                             f.rule, f.concept, f.source_label, a.role, role_label, a.horizon, horizon_label))
    return tuple(out)


def _by_owner(advice: Advice, actions: tuple[cm.Action, ...]) -> tuple[cm.OwnerGroup, ...]:
    order = list(advice.book.playbook.owners) + [r for r in OWNER_ROLES if r not in advice.book.playbook.owners]
    groups = []
    for role in order:
        mine = sorted((a for a in actions if a.role == role), key=lambda a: (a.due, a.n))
        if mine:
            groups.append(cm.OwnerGroup(role, _role_label(advice, role), plan.is_company(role), tuple(mine)))
    return tuple(groups)


def _root_causes(advice: Advice, fs: tuple[cm.Finding, ...]) -> tuple[cm.RootCause, ...]:
    lang = advice.lang
    by_rule = {(f.rule, f.kind): f for f in fs}
    out = []
    for rc in plan.root_causes(advice):
        found = tuple(by_rule[(f.rule, f.kind)] for f in rc.findings)
        out.append(cm.RootCause(rc.cause.id, rc.cause.title.get(lang) or rc.cause.id,
                                rc.cause.explanation.get(lang) or "", found,
                                tuple(f for f in found if f.kind in ("warning", "conflict"))))
    return tuple(out)


# What may follow the spaces after `.`, `!` or `?` for a sentence to end there (first_sentence)
_SENTENCE_STARTS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ“\"(")
MAX_ROOM = 8  # contacts in the brief's room: the rest are in the relationship map
MAX_ASKS = 4


def first_sentence(text: str) -> str:
    """The text up to the end of its first sentence: right after 。！？, or after `.`, `!` or `?`
    followed by spaces and a capital letter, a quote or a bracket — the first piece of splitting
    the stripped text at `(?<=[。！？])|(?<=[.!?])\\s+(?=[A-Z“"(])`, without compiling that pattern
    (its character classes: ~2.7 M instructions of every playbook with a verdict, callgrind).
    tests/test_first_sentence.py compares it with the split on generated texts."""
    s = text.strip()
    n = len(s)
    for i, ch in enumerate(s):
        if ch in "。！？":
            return s[:i + 1]
        if ch in ".!?":
            j = i + 1
            while j < n and s[j].isspace():
                j += 1
            if i + 1 < j < n and s[j] in _SENTENCE_STARTS:
                return s[:i + 1]
    return s


def _room(advice: Advice) -> tuple[cm.RoomContact, ...]:
    book, lang, brief = advice.book, advice.lang, advice.book.playbook.brief
    if "contacts" not in book.facts:
        return ()
    fields = {f.name: f for f in book.facts["contacts"].items}

    def label(field: str, v: Any) -> str:
        f = fields.get(field)
        if f is None or v is None:
            return ""
        return next((t.get(lang) or val for val, t in f.values if val == v), str(v))

    role_order = [v for v, _ in fields["role"].values] if "role" in fields else []
    contacts = list(advice.env.get("contacts") or ())
    contacts.sort(key=lambda c: role_order.index(c.get("role")) if c.get("role") in role_order else len(role_order))
    out = []
    for c in contacts[:MAX_ROOM]:
        role, stance = str(c.get("role") or ""), str(c.get("support") or "")
        tp = brief.talking_points.get(role)
        handle = brief.stances.get(stance)
        out.append(cm.RoomContact(
            name=str(c.get("name") or "—"), title=str(c.get("title") or ""), role=role,
            role_label=label("role", c.get("role")) or _ui("role_unknown", lang), stance=stance,
            stance_label=label("support", c.get("support")) or _ui("stance_unknown", lang),
            wants=tp.wants.get(lang) if tp else "", say=tp.say.get(lang) if tp else "",
            ask=tp.ask.get(lang) if tp else "", handle=handle.get(lang) if handle else ""))
    return tuple(out)


def _walk_away(advice: Advice) -> cm.WalkAway | None:
    wa = plan.walk_away(advice)
    if wa is None:
        return None
    lang = advice.lang
    mx, now = format_percent(wa.max_discount), format_percent(wa.discount)
    room = format_points(abs(wa.room), lang)
    floor, revenue = format_money(wa.floor_revenue, lang), format_money(wa.revenue, lang)
    crossed = wa.room < 0
    if wa.max_discount < 0:
        text = _ui("walk_away_none", lang, floor=floor, revenue=revenue)
    elif crossed:
        text = _ui("walk_away_crossed", lang, max=mx, now=now, room=room, floor=floor, revenue=revenue)
    else:
        text = _ui("walk_away", lang, max=mx, now=now, room=room, floor=floor, revenue=revenue)
    return cm.WalkAway(mx, now, room, floor, revenue, crossed, text)


def _brief(advice: Advice, fs: tuple[cm.Finding, ...], causes: tuple[cm.RootCause, ...],
           final: cm.Dimension | None) -> cm.Brief:
    lang, brief = advice.lang, advice.book.playbook.brief
    by_rule = {(f.rule, f.kind): f for f in fs}
    v = plan.verdict(advice)
    sep = "：" if lang == "zh" else ": "
    if v is not None:
        f = by_rule[(v.rule, v.kind)]
        verdict = f"{f.title}{sep}{first_sentence(f.message)}"
    else:
        cls = final.value_label if final is not None and final.value else ""
        top = next((f for f in fs if f.kind in ("warning", "conflict")), None)
        if top is not None and cls:
            verdict = _ui("brief_top", lang, cls=cls, title=top.title)
        elif top is not None:
            verdict = _ui("brief_top_unclassified", lang, title=top.title)
        elif cls:
            verdict = _ui("brief_quiet", lang, cls=cls)
        else:
            verdict = _ui("brief_quiet_unclassified", lang)
    asks: list[str] = []
    for a in plan.tagged(advice, brief.ask_tags):
        text = by_rule[(a.rule, a.kind)].remedy or by_rule[(a.rule, a.kind)].message
        if text and text not in asks:
            asks.append(text)
    room = _room(advice)
    grouped: dict[str, list[str]] = {}
    for p in room:
        if p.ask:
            grouped.setdefault(p.ask, []).append(p.name)
    joiner = "、" if lang == "zh" else ", "
    return cm.Brief(verdict, v.rule if v is not None else "", causes[:max(brief.causes, 0)], room,
                    tuple(asks[:MAX_ASKS]), tuple(cm.ContactAsk(joiner.join(n), a) for a, n in grouped.items()),
                    _walk_away(advice))


def _provenance(fs: tuple[cm.Finding, ...], lang: str) -> tuple[cm.Provenance, ...]:
    kinds: dict[str, dict[str, list[cm.Finding]]] = {}
    for f in fs:
        kinds.setdefault(f.source_kind, {}).setdefault(f.source, []).append(f)
    order = [k for k in SOURCE_ORDER if k in kinds] + sorted(k for k in kinds if k not in SOURCE_ORDER)
    out = []
    for k in order:
        sources = tuple(cm.Source(s, source_label(s, lang), s.partition(":")[2], len(items),
                                  tuple(cm.ProvenanceFinding(f.rule, f.title, f.kind) for f in items))
                        for s, items in sorted(kinds[k].items()))
        count = sum(s.count for s in sources)
        out.append(cm.Provenance(k, _kind_label(k, lang), count,
                                 _ui("n_finding" if count == 1 else "n_findings", lang, n=count), sources))
    return tuple(out)


def _flight(advice: Advice) -> tuple[cm.Gauge, ...]:
    """The scorecard's flight image [recon reading], gauges as the rulebook declares them: a scale
    gauge (altitude: revenue against the key-account floor), a growth gauge (speed, against the
    fast-growth threshold), a cost gauge (fuel: cost to serve against the low / high thresholds).
    Ratios place a value on a 0..1 gauge."""
    env, params, lang = advice.env, advice.book.params, advice.lang

    def p(name: str) -> float | None:
        return float(params[name].value) if name in params else None

    def mark(ratio: float, name: str) -> cm.Mark:
        return cm.Mark(round(min(max(ratio, 0.0), 1.0), 4), params[name].label.get(lang) or name,
                       _value_text(advice, "", params[name].value) if params[name].type not in ("money", "percent")
                       else format_value(params[name].value, params[name].type, lang))

    out = []
    for g in advice.book.playbook.flight:
        fig = _figure(advice, g.metric)
        if fig is None:
            continue
        v = env.get(g.metric)
        ratio: float | None = None
        marks: list[cm.Mark] = []
        tone = ""
        if g.kind == "scale" and (ref := p(g.good)):
            marks = [mark(0.5, g.good)]
            if v is not None:
                ratio, tone = float(v) / (2 * ref), "good" if v >= ref else "warn"
        elif g.kind == "growth" and (ref := p(g.good)):
            marks = [mark(0.5 + ref / (4 * ref), g.good)]
            if v is not None:
                ratio = 0.5 + float(v) / (4 * ref)
                tone = "good" if v >= ref else "warn" if v >= 0 else "bad"
        elif g.kind == "cost" and (high := p(g.high)):
            low = p(g.low)
            marks = ([mark(low / (2 * high), g.low)] if low is not None else []) + [mark(0.5, g.high)]
            if v is not None:
                ratio = float(v) / (2 * high)
                tone = "good" if low is not None and v <= low else "warn" if v <= high else "bad"
        out.append(cm.Gauge(g.key, g.label.get(lang) or g.key, g.metric, fig.label, v, fig.text,
                            None if ratio is None else round(min(max(ratio, 0.0), 1.0), 4), tuple(marks), tone))
    return tuple(out)


def _scorecard(advice: Advice, scores: Mapping[str, cm.Score], dims: Mapping[str, cm.Dimension]) \
        -> cm.Scorecard | None:
    if "current_value" not in scores or "potential_value" not in scores:
        return None
    params, pb = advice.book.params, advice.book.playbook

    def threshold(name: str) -> float | None:
        return float(params[name].value) if name in params else None

    quadrant = dims.get(pb.scorecard_dimension) if pb.scorecard_dimension else None
    cells: tuple[cm.QuadrantCell, ...] = ()
    if quadrant is not None:
        cells = tuple(cm.QuadrantCell(v.value, v.label, pb.quadrants[v.value], v.current)
                      for v in quadrant.values if v.value in pb.quadrants)
    return cm.Scorecard(scores["current_value"], scores["potential_value"], threshold("current_value_high"),
                        threshold("potential_value_high"), quadrant, cells, _flight(advice))


def _pyramid(dims: Mapping[str, cm.Dimension]) -> cm.Pyramid | None:
    tier = dims.get("tier")
    if tier is None:
        return None
    return cm.Pyramid(tier.label, tier.values, tier.value, tier.value_label)


def _missing(advice: Advice) -> tuple[cm.Missing, ...]:
    missing: dict[str, set[str]] = {}
    for b in advice.blocked:
        for m in b.missing:
            if advice.env.get(m) is None:  # a metric's inputs are listed even when some are given
                missing.setdefault(m, set()).add(b.concept)
    out = []
    for m, cs in sorted(missing.items()):
        concepts = tuple(sorted(cs))
        labels = tuple(dict.fromkeys(_concept_label(advice, c) for c in concepts))
        out.append(cm.Missing(m, _label(advice, m), concepts, labels))
    return tuple(out)


def context(advice: Advice, *, explain: list[dict[str, Any]] | None = None) -> cm.PlaybookContext:
    """The documented template context (advice/contextmodel.py, docs/playbook-context.md)."""
    book, lang, pb = advice.book, advice.lang, advice.book.playbook
    dims = tuple(_dimension(advice, d) for d in book.dimensions.values())
    by_dim = {d.name: d for d in dims}
    scores = tuple(_score(advice, s) for s in book.scores.values())
    by_score = {s.name: s for s in scores}
    fs = tuple(_finding(advice, f) for f in advice.findings)
    warnings = tuple(f for f in fs if f.kind in ("warning", "conflict"))
    recs = tuple(f for f in fs if f.kind == "recommendation")
    actions = _action_plan(advice, fs)
    causes = _root_causes(advice, fs)
    rooted = {(f.rule, f.kind) for rc in causes for f in rc.findings}
    families: dict[str, list[cm.Finding]] = {}
    for f in fs:
        families.setdefault(f.family, []).append(f)
    family_order = [*pb.families, *(k for k in sorted(families) if k not in pb.families and k != "rulebook"),
                    "rulebook"]
    facts = []
    for name, fd in book.facts.items():
        if name in advice.facts.env and fd.type != "list":
            facts.append(cm.FactLine(name, fd.label.get(lang) or name, fd.group, advice.facts.env[name],
                                     _value_text(advice, name, advice.facts.env[name])))
    summary_dims = tuple(by_dim[n] for n in pb.summary_dimensions if n in by_dim) or dims
    summary_scores = tuple(by_score[n] for n in pb.summary_scores if n in by_score) or scores
    manager = advice.env.get("team.account_manager")
    return cm.PlaybookContext(
        kamrules=__version__, lang=lang, as_of=advice.as_of.isoformat(), engine=advice.engine,
        ui=i18n.texts("playbook", lang),
        account=cm.AccountInfo(advice.account.id, advice.account.name,
                               _value_text(advice, "industry", advice.env["industry"])
                               if advice.env.get("industry") is not None else "",
                               str(advice.env.get("region") or ""), str(manager) if manager else ""),
        rulebook=cm.RulebookInfo(book.id, book.version, book.digest, book.title.get(lang), tuple(book.chain)),
        dimensions=dims, classification=by_dim, final=by_dim.get("final"), tier=by_dim.get("tier"),
        scores=scores, score=by_score,
        summary=cm.Summary(summary_dims, summary_scores, _known(advice, pb.summary_figures), actions[:3]),
        standards_notes=_of(fs, "misconception.single_indicator"),
        findings=fs, warnings=warnings, recommendations=recs,
        top_actions=tuple(f for f in fs if f.remedy and f.kind != "conflict")[:3],
        warnings_by_severity=tuple(cm.SeverityGroup(s, i18n.t(f"severity.{s}", lang),
                                                    tuple(f for f in warnings if f.severity == s))
                                   for s in SEVERITIES if any(f.severity == s for f in warnings)),
        families=tuple(cm.Family(k, _family_label(advice, k), tuple(families[k])) for k in family_order
                       if k in families),
        analysis=_analysis(advice, fs),
        relationships=_relationships(advice, fs),
        service=_service(advice, fs),
        management=_management(advice, fs),
        action_plan=actions,
        action_plan_by_owner=_by_owner(advice, actions),
        root_causes=causes,
        other_warnings_by_severity=tuple(
            cm.SeverityGroup(s, i18n.t(f"severity.{s}", lang), group) for s in SEVERITIES
            if (group := tuple(f for f in warnings if f.severity == s and (f.rule, f.kind) not in rooted))),
        brief=_brief(advice, fs, causes, by_dim.get("final")),
        scorecard=_scorecard(advice, by_score, by_dim),
        pyramid=_pyramid(by_dim),
        facts=tuple(facts),
        missing=_missing(advice),
        data_checks=tuple(cm.DataCheck(**row) for row in partial.data_check_rows(book, advice.facts.checks, lang)),
        disabled=tuple(cm.DisabledRule(d.rule, d.reason, d.origin.rulebook) for d in book.disabled),
        provenance=_provenance(fs, lang),
        explain=tuple(explain or ()),
        severities=tuple(SEVERITIES),
        generated_by=_ui("generated_by", lang, v=__version__),
    )
