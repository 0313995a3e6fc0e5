"""Advice → the documented template context (docs/playbook-context.md).

Everything a playbook shows is decided here, in Python, so templates (the built-in ones and a
company's overrides) only lay it out.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Iterable, Mapping

from kamrules import __version__
from kamrules.advice import partial
from kamrules.advice.model import Advice, Finding
from kamrules.advice.texts import (
    CONCEPT_FAMILY,
    CONCEPT_LABEL,
    SEVERITY_LABEL,
    SOURCE_KIND,
    SOURCE_ORDER,
    UI,
)
from kamrules.core.values import format_number, format_value
from kamrules.rulebook.model import SEVERITIES

# Course structure the default playbooks walk; each part appears only when the rulebook declares
# the facts or concepts it needs, so a company rulebook without them gets a shorter playbook.
ANALYSIS_STEPS = ("industry", "competition", "needs", "solution", "service_capability", "planning")
STEP_KNOWN = {  # facts and metrics that tell what is already known for each step
    "industry": ("industry", "region", "customer_annual_sales", "growth_rate", "listed"),
    "competition": ("competition.competitors", "competition.in_tender", "competition.price_pressure",
                    "share_of_wallet"),
    "needs": ("strategic_fit", "contact_count", "roles_covered", "satisfaction"),
    "solution": ("open_opportunities", "forecast_revenue", "reference_value"),
    "service_capability": ("service_step", "delivery_issues", "delivery_issue_owner", "cost_to_serve_rate"),
    "planning": ("team.account_plan", "team.plan_reviewed", "team.account_manager", "team.executive_sponsor"),
}
MANAGEMENT_PARTS = ("strategy", "tiering", "organisation", "people", "coaching", "performance", "incentives",
                    "process")
BUYING_ROLES = ("economic_buyer", "user_buyer", "technical_buyer", "coach")  # Miller Heiman's four
RELATIONSHIP_GAP_CONCEPTS = ("risk.key_person", "risk.executive_access")
RELATIONSHIP_METRICS = ("contact_count", "roles_covered", "executive_contacts", "supporters", "opponents",
                        "new_in_role_contacts", "uncovered_contacts")
SERVICE_STEPS = 5
SUMMARY_DIMS = ("final", "tier", "scorecard", "service_level")
SUMMARY_SCORES = ("current_value", "potential_value", "health")
KEY_FIGURES = ("revenue", "revenue_growth", "gross_margin", "margin_after_cts", "margin_after_cts_rate",
               "cost_to_serve_rate", "share_of_wallet", "revenue_share", "discount_rate", "satisfaction")
QUADRANT = {"invest": "tr", "develop": "tl", "maintain": "br", "reduce_cost": "bl"}  # the 2×2 policy
DUE_DAYS = {"critical": 14, "high": 30, "medium": 90, "low": 180, "info": 180}  # suggested, see action_plan_intro
_OP_WORD = {">": "op_gt", ">=": "op_ge", "<": "op_lt", "<=": "op_le", "!=": "op_ne"}
_DAYS_SINCE = re.compile(r"^days_since\((?P<name>[\w.]+)\)$")


def source_kind(source: str) -> str:
    return source.split(":", 1)[0] if source else ""


def source_label(source: str, lang: str) -> str:
    """deck → 课程原文 / course deck; lit:Gainsight → 文献：Gainsight; recon → a reconstruction."""
    kind, _, name = source.partition(":")
    base = SOURCE_KIND.get(kind, {}).get(lang, kind)
    if name:
        return f"{base}：{name}" if lang == "zh" else f"{base}: {name}"
    return base


def _ui(key: str, lang: str, **kw: Any) -> str:
    return UI[key][lang].format(**kw) if kw else UI[key][lang]


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


def _value_text(advice: Advice, name: str, value: Any) -> str:
    book, lang = advice.book, advice.lang
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _ui("yes" if value else "no", lang)
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


def _finding(advice: Advice, f: Finding) -> dict[str, Any]:
    lang = advice.lang
    rule = advice.book.rule(f.rule)
    lits: list[Any] = list(f.because)
    if rule is not None and rule.cond is not None:
        traced = _evidence(advice, rule)
        if len(traced) == len(lits):
            lits = traced
    return {
        "rule": f.rule, "concept": f.concept, "kind": f.kind, "severity": f.severity,
        "severity_label": SEVERITY_LABEL[f.severity][lang], "priority": f.priority, "title": f.title,
        "message": f.message, "remedy": f.remedy, "owner": _owner_text(advice, f.owner),
        "because": [{"fact": b.fact, "label": _label(advice, b.fact), "value": b.value, "op": b.op,
                     "against": b.against, "param": b.param, "text": _because_text(advice, lit)}
                    for b, lit in zip(f.because, lits)],
        "source": f.source, "source_kind": source_kind(f.source), "source_label": source_label(f.source, lang),
        "at": f.at, "rulebook": f.rulebook, "family": f.concept.split(".")[0],
        "concept_label": CONCEPT_LABEL.get(f.concept, {}).get(lang, f.concept),
    }


# ----------------------------------------------------------------------------- context parts

def _dimension(advice: Advice, d: Any) -> dict[str, Any]:
    """A classification dimension with its verdict and the evidence of the rules that gave it."""
    lang = advice.lang
    c = advice.classification[d.name]
    rules = list(dict.fromkeys(c.rules))  # one entry per rule, even if it matched twice
    evidence = []
    for rid in rules:
        r = advice.book.rule(rid)
        if r is None:
            continue
        evidence.append({"rule": rid, "title": r.title.get(lang) or rid, "source": r.source,
                         "source_kind": source_kind(r.source), "source_label": source_label(r.source, lang),
                         "because": [_because_text(advice, lit) for lit in _evidence(advice, r)]})
    return {"name": d.name, "label": d.label.get(lang) or d.name, "value": c.value,
            "value_label": d.value_label(c.value, lang) if c.value else UI["not_classified"][lang],
            "rules": rules, "hit_policy": d.hit_policy, "evidence": evidence,
            "values": [{"value": v, "label": t.get(lang) or v, "current": v == c.value} for v, t in d.values]}


def _score(advice: Advice, s: Any) -> dict[str, Any]:
    lang = advice.lang
    sc = advice.scores[s.name]
    v = sc.value
    band = None if v is None else ("red" if v <= 50 else "yellow" if v <= 75 else "green")
    parts = []
    for rid, points in sc.parts:
        r = advice.book.rule(rid)
        parts.append({"rule": rid, "points": points, "title": (r.title.get(lang) or rid) if r else rid,
                      "source_label": source_label(r.source, lang) if r else ""})
    span = (s.max - s.min) or 1.0
    band_dim = advice.book.dimensions.get(f"{s.name}_band")  # e.g. health → health_band (green/yellow/red)
    band_value = advice.classification[band_dim.name].value if band_dim is not None else None
    band_label = band_dim.value_label(band_value, lang) if band_dim is not None and band_value else ""
    return {"name": s.name, "label": s.label.get(lang) or s.name, "value": v, "min": s.min, "max": s.max, "band": band,
            "band_label": band_label,
            "text": "—" if v is None else format_number(v), "ratio": None if v is None else (v - s.min) / span,
            "parts": parts}


def _figure(advice: Advice, name: str) -> dict[str, Any] | None:
    book = advice.book
    if name not in book.facts and name not in book.metrics:
        return None
    v = advice.env.get(name)
    return {"name": name, "label": _label(advice, name), "value": v, "text": _value_text(advice, name, v)}


def _known(advice: Advice, names: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    for n in names:
        fig = _figure(advice, n)
        if fig is not None and fig["value"] is not None:
            out.append(fig)
    return out


def _analysis(advice: Advice, fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    book, lang = advice.book, advice.lang
    tracked = [k for k in ANALYSIS_STEPS if f"analyses.{k}" in book.facts]
    concepts = {r.concept for r in book.rules}
    if not tracked and not any(f"analysis.{k}" in concepts for k in ANALYSIS_STEPS):
        return []
    max_age = book.params.get("analysis_max_age_days")
    steps = []
    for i, k in enumerate(ANALYSIS_STEPS, 1):
        concept = f"analysis.{k}"
        found = [f for f in fs if f["concept"] == concept]
        date = advice.env.get(f"analyses.{k}") if k in tracked else None
        age = (advice.as_of - date).days if isinstance(date, _dt.date) else None
        if k not in tracked:
            status = "untracked"
        elif date is None:
            status = "missing"
        elif (max_age is not None and age is not None and age > max_age.value) or (max_age is None and found):
            status = "stale"
        else:
            status = "current"
        steps.append({"key": k, "n": i, "label": _ui(f"step_{k}", lang), "concept": concept,
                      "date": date.isoformat() if isinstance(date, _dt.date) else None, "age_days": age,
                      "age_text": _ui("days_ago", lang, n=format_number(age)) if age is not None else "",
                      "status": status, "status_label": _ui(f"status_{status}", lang),
                      "find_out": _ui(f"ask_{k}", lang), "known": _known(advice, STEP_KNOWN[k]),
                      "findings": found})
    return steps


def _relationships(advice: Advice, fs: list[dict[str, Any]]) -> dict[str, Any] | None:
    book, lang = advice.book, advice.lang
    if "contacts" not in book.facts:
        return None
    fields = {f.name: f for f in book.facts["contacts"].items}
    columns = [{"name": n, "label": fields[n].label.get(lang) or n} for n in
               ("name", "title", "role", "level", "support", "rating", "covered_by", "new_in_role") if n in fields]

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

    contacts = [{**{n: c.get(n) for n in fields}, "cells": [cell(c, col["name"]) for col in columns],
                 "support": c.get("support") or "", "uncovered": c.get("covered_by") is None}
                for c in advice.env.get("contacts") or ()]
    roles = []
    if "role" in fields:
        present = [c.get("role") for c in advice.env.get("contacts") or ()]
        for v, t in fields["role"].values:
            n = present.count(v)
            roles.append({"role": v, "label": t.get(lang) or v, "count": n, "covered": n > 0,
                          "required": v in BUYING_ROLES})
    gaps = [f for f in fs if f["family"] == "nine" or f["concept"] in RELATIONSHIP_GAP_CONCEPTS]
    return {"columns": columns, "contacts": contacts, "roles": roles, "gaps": gaps,
            "metrics": _known(advice, RELATIONSHIP_METRICS)}


def _service(advice: Advice, fs: list[dict[str, Any]]) -> dict[str, Any] | None:
    lang = advice.lang
    if "service_step" not in advice.book.facts:
        return None
    raw = advice.env.get("service_step")
    current = int(raw) if isinstance(raw, (int, float)) else None
    steps = [{"n": n, "label": _ui(f"ladder_{n}", lang), "step_label": _ui("step_n", lang, n=n),
              "current": n == current, "next": current is not None and n == current + 1}
             for n in range(1, SERVICE_STEPS + 1)]
    return {"step": current, "steps": steps,
            "current": steps[current - 1] if current else None,
            "next": steps[current] if current and current < SERVICE_STEPS else None,
            "cost": _known(advice, ("cost_to_serve", "cost_to_serve_rate")),
            "findings": [f for f in fs if f["concept"] == "service.step"]}


def _management(advice: Advice, fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lang = advice.lang
    concepts = [r.concept for r in advice.book.rules]
    if not any(c.startswith("management.") for c in concepts):
        return []
    parts = []
    for k in MANAGEMENT_PARTS:
        concept = f"management.{k}"
        found = [f for f in fs if f["concept"] == concept]
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
        parts.append({"key": k, "concept": concept, "label": _ui(f"mgmt_{k}", lang), "status": status,
                      "status_label": _ui(f"mgmt_{status}", lang), "findings": found,
                      "missing": [{"fact": m, "label": _label(advice, m)} for m in missing]})
    return parts


def _action_plan(advice: Advice, fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lang = advice.lang
    manager = advice.env.get("team.account_manager")
    plan: list[dict[str, Any]] = []
    for f in fs:
        action = f["remedy"] or (f["message"] if f["kind"] == "recommendation" else "")
        if not action or f["kind"] == "conflict":
            continue
        owner = f["owner"] or (str(manager) if manager else _ui("unassigned", lang))
        due = advice.as_of + _dt.timedelta(days=DUE_DAYS[f["severity"]])
        plan.append({"n": len(plan) + 1, "action": action, "title": f["title"], "owner": owner,
                     "due": due.isoformat(), "severity": f["severity"], "severity_label": f["severity_label"],
                     "rule": f["rule"], "concept": f["concept"], "source_label": f["source_label"]})
    return plan


def _provenance(fs: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    kinds: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for f in fs:
        kinds.setdefault(f["source_kind"], {}).setdefault(f["source"], []).append(f)
    order = [k for k in SOURCE_ORDER if k in kinds] + sorted(k for k in kinds if k not in SOURCE_ORDER)
    out = []
    for k in order:
        sources: list[dict[str, Any]] = [{"source": s, "label": source_label(s, lang), "name": s.partition(":")[2], "count": len(items),
                    "findings": [{"rule": f["rule"], "title": f["title"], "kind": f["kind"]} for f in items]}
                   for s, items in sorted(kinds[k].items())]
        count = sum(s["count"] for s in sources)
        out.append({"kind": k, "label": SOURCE_KIND.get(k, {}).get(lang, k), "count": count,
                    "count_text": _ui("n_finding" if count == 1 else "n_findings", lang, n=count), "sources": sources})
    return out


def _flight(advice: Advice) -> list[dict[str, Any]]:
    """The scorecard's flight image [recon reading]: altitude = scale (revenue against the
    key-account floor), speed = growth (against the fast-growth threshold), fuel = cost to serve
    (against the low / high fuel thresholds). Ratios place a value on a 0..1 gauge."""
    env, params, lang = advice.env, advice.book.params, advice.lang

    def p(name: str) -> float | None:
        return float(params[name].value) if name in params else None

    def mark(ratio: float, name: str) -> dict[str, Any]:
        return {"ratio": round(min(max(ratio, 0.0), 1.0), 4), "label": params[name].label.get(lang) or name,
                "text": _value_text(advice, "", params[name].value) if params[name].type not in ("money", "percent")
                else format_value(params[name].value, params[name].type, lang)}

    out = []
    specs = (("altitude", "revenue"), ("speed", "revenue_growth"), ("fuel", "cost_to_serve_rate"))
    for key, metric in specs:
        fig = _figure(advice, metric)
        if fig is None:
            continue
        v = env.get(metric)
        ratio: float | None = None
        marks: list[dict[str, Any]] = []
        tone = ""
        if key == "altitude" and (ref := p("key_revenue_min")):
            marks = [mark(0.5, "key_revenue_min")]
            if v is not None:
                ratio, tone = float(v) / (2 * ref), "good" if v >= ref else "warn"
        elif key == "speed" and (ref := p("growth_fast")):
            marks = [mark(0.5 + ref / (4 * ref), "growth_fast")]
            if v is not None:
                ratio = 0.5 + float(v) / (4 * ref)
                tone = "good" if v >= ref else "warn" if v >= 0 else "bad"
        elif key == "fuel" and (high := p("fuel_high")):
            low = p("fuel_low")
            marks = ([mark(low / (2 * high), "fuel_low")] if low is not None else []) + [mark(0.5, "fuel_high")]
            if v is not None:
                ratio = float(v) / (2 * high)
                tone = "good" if low is not None and v <= low else "warn" if v <= high else "bad"
        out.append({"key": key, "label": _ui(f"flight_{key}", lang), "metric": metric,
                    "metric_label": fig["label"], "value": v, "text": fig["text"],
                    "ratio": None if ratio is None else round(min(max(ratio, 0.0), 1.0), 4),
                    "marks": marks, "tone": tone})
    return out


def _scorecard(advice: Advice, scores: Mapping[str, dict[str, Any]], dims: Mapping[str, dict[str, Any]]) \
        -> dict[str, Any] | None:
    if "current_value" not in scores or "potential_value" not in scores:
        return None
    params = advice.book.params

    def threshold(name: str) -> float | None:
        return float(params[name].value) if name in params else None

    quadrant = dims.get("scorecard")
    cells = []
    if quadrant is not None:
        cells = [{"value": v["value"], "label": v["label"], "pos": QUADRANT[v["value"]], "current": v["current"]}
                 for v in quadrant["values"] if v["value"] in QUADRANT]
    return {"current": scores["current_value"], "potential": scores["potential_value"],
            "current_high": threshold("current_value_high"), "potential_high": threshold("potential_value_high"),
            "quadrant": quadrant, "cells": cells, "flight": _flight(advice)}


def _pyramid(dims: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    tier = dims.get("tier")
    if tier is None:
        return None
    return {"label": tier["label"], "levels": tier["values"], "current": tier["value"],
            "current_label": tier["value_label"]}


def _missing(advice: Advice) -> list[dict[str, Any]]:
    lang = advice.lang
    missing: dict[str, set[str]] = {}
    for b in advice.blocked:
        for m in b.missing:
            if advice.env.get(m) is None:  # a metric's inputs are listed even when some are given
                missing.setdefault(m, set()).add(b.concept)
    out = []
    for m, cs in sorted(missing.items()):
        concepts = sorted(cs)
        labels = list(dict.fromkeys(CONCEPT_LABEL.get(c, {}).get(lang, c) for c in concepts))
        out.append({"fact": m, "label": _label(advice, m), "unlocks": concepts, "unlock_labels": labels})
    return out


def context(advice: Advice, *, explain: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The documented template context (docs/playbook-context.md)."""
    book, lang = advice.book, advice.lang
    dims = [_dimension(advice, d) for d in book.dimensions.values()]
    by_dim = {d["name"]: d for d in dims}
    scores = [_score(advice, s) for s in book.scores.values()]
    by_score = {s["name"]: s for s in scores}
    fs = [_finding(advice, f) for f in advice.findings]
    warnings = [f for f in fs if f["kind"] in ("warning", "conflict")]
    recs = [f for f in fs if f["kind"] == "recommendation"]
    plan = _action_plan(advice, fs)
    families: dict[str, list[dict[str, Any]]] = {}
    for f in fs:
        families.setdefault(f["family"], []).append(f)
    facts = []
    for name, fd in book.facts.items():
        if name in advice.facts.env and fd.type != "list":
            facts.append({"name": name, "label": fd.label.get(lang) or name, "group": fd.group,
                          "value": advice.facts.env[name], "text": _value_text(advice, name, advice.facts.env[name])})
    summary_dims = [by_dim[n] for n in SUMMARY_DIMS if n in by_dim] or dims
    summary_scores = [by_score[n] for n in SUMMARY_SCORES if n in by_score] or scores
    provenance = _provenance(fs, lang)
    manager = advice.env.get("team.account_manager")
    return {
        "kamrules": __version__, "lang": lang, "as_of": advice.as_of.isoformat(), "engine": advice.engine,
        "ui": {k: v[lang] for k, v in UI.items()},
        "account": {"id": advice.account.id, "name": advice.account.name,
                    "industry": _value_text(advice, "industry", advice.env["industry"])
                    if advice.env.get("industry") is not None else "",
                    "region": str(advice.env.get("region") or ""),
                    "account_manager": str(manager) if manager else ""},
        "rulebook": {"id": book.id, "version": book.version, "digest": book.digest, "title": book.title.get(lang),
                     "chain": list(book.chain)},
        "dimensions": dims, "classification": by_dim,
        "final": by_dim.get("final"), "tier": by_dim.get("tier"),
        "scores": scores, "score": by_score,
        "summary": {"dimensions": summary_dims, "scores": summary_scores,
                    "figures": _known(advice, KEY_FIGURES), "actions": plan[:3]},
        "standards_notes": [f for f in fs if f["concept"] == "misconception.single_indicator"],
        "findings": fs, "warnings": warnings, "recommendations": recs,
        "top_actions": [f for f in fs if f["remedy"] and f["kind"] != "conflict"][:3],
        "warnings_by_severity": [{"severity": s, "label": SEVERITY_LABEL[s][lang],
                                  "findings": [f for f in warnings if f["severity"] == s]}
                                 for s in SEVERITIES if any(f["severity"] == s for f in warnings)],
        "families": [{"key": k, "label": CONCEPT_FAMILY.get(k, {}).get(lang, k), "findings": families[k]}
                     for k in CONCEPT_FAMILY if k in families],
        "analysis": _analysis(advice, fs),
        "relationships": _relationships(advice, fs),
        "service": _service(advice, fs),
        "management": _management(advice, fs),
        "action_plan": plan,
        "scorecard": _scorecard(advice, by_score, by_dim),
        "pyramid": _pyramid(by_dim),
        "facts": facts,
        "missing": _missing(advice),
        "data_checks": partial.data_check_rows(book, advice.facts.checks, lang),
        "disabled": [{"rule": d.rule, "reason": d.reason, "by": d.origin.rulebook} for d in book.disabled],
        "provenance": provenance,
        "explain": explain or [],
        "severities": list(SEVERITIES),
        "generated_by": _ui("generated_by", lang, v=__version__),
    }
