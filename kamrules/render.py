"""Advice → playbook text (Markdown, HTML via Jinja; JSON built directly, it is a contract).

Templates are looked up in company folders first, then the built-in `playbooks/`; a company
template can `{% extends "default:playbook.md.j2" %}` the one it replaces. Every template runs
in Jinja's sandbox with StrictUndefined, against the context documented in
docs/playbook-context.md.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader, StrictUndefined, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import __version__
from .errors import InputError, Location, Problem
from .model import SEVERITIES
from .pipeline import Advice
from .resolve import Finding
from .resources import playbooks_dir
from .values import format_money, format_number, format_percent, format_value

UI: dict[str, dict[str, str]] = {
    "title": {"zh": "大客户策略手册", "en": "Key-account strategy playbook"},
    "summary": {"zh": "摘要", "en": "Summary"},
    "final_class": {"zh": "最终分类", "en": "Final class"},
    "tier": {"zh": "金字塔层级", "en": "Pyramid tier"},
    "scores": {"zh": "价值评分", "en": "Value scores"},
    "top_actions": {"zh": "最优先的三项行动", "en": "Top three actions"},
    "why": {"zh": "分类依据(三大标准)", "en": "Why: the three standards"},
    "warnings": {"zh": "预警", "en": "Warnings"},
    "recommendations": {"zh": "建议", "en": "Recommendations"},
    "remedy": {"zh": "对策", "en": "What to do"},
    "because": {"zh": "依据", "en": "Because"},
    "missing": {"zh": "缺少的数据", "en": "Missing data"},
    "missing_intro": {"zh": "以下分析因缺少数据未能完成;补齐这些字段即可解锁:",
                      "en": "These analyses could not be made; filling in these facts would unlock them:"},
    "unlocks": {"zh": "可解锁", "en": "unlocks"},
    "provenance": {"zh": "建议来源", "en": "Provenance"},
    "provenance_intro": {"zh": "deck = 课程原文;lit = 大客户管理文献;recon = 依据文献的重构(非课程原话)。",
                         "en": "deck = the course deck; lit = the KAM literature; recon = a reconstruction from the literature (not the course's words)."},
    "disabled": {"zh": "已停用的规则", "en": "Disabled rules"},
    "none": {"zh": "无", "en": "none"},
    "no_warnings": {"zh": "没有预警。", "en": "No warnings."},
    "as_of": {"zh": "评估日期", "en": "Evaluated as of"},
    "engine": {"zh": "推理引擎", "en": "Engine"},
    "rulebook": {"zh": "规则库", "en": "Rulebook"},
    "severity": {"zh": "严重度", "en": "Severity"},
    "rule": {"zh": "规则", "en": "Rule"},
    "source": {"zh": "来源", "en": "Source"},
    "facts": {"zh": "客户事实", "en": "Account facts"},
    "not_classified": {"zh": "未能分类", "en": "not classified"},
    "explain": {"zh": "附录:规则解释", "en": "Appendix: rule explanations"},
    "fired": {"zh": "已触发", "en": "fired"},
    "not_fired": {"zh": "未触发", "en": "did not fire"},
    "action_plan": {"zh": "行动计划", "en": "Action plan"},
    "owner": {"zh": "负责人", "en": "Owner"},
    "by_concept": {"zh": "按课程模块", "en": "By course module"},
}
SEVERITY_LABEL = {
    "critical": {"zh": "严重", "en": "critical"}, "high": {"zh": "高", "en": "high"},
    "medium": {"zh": "中", "en": "medium"}, "low": {"zh": "低", "en": "low"}, "info": {"zh": "提示", "en": "info"},
}
CONCEPT_FAMILY = {
    "standard": {"zh": "三大标准", "en": "The three standards"},
    "misconception": {"zh": "五大误区", "en": "The five misconceptions"},
    "law": {"zh": "一项法则", "en": "The one law"},
    "key": {"zh": "二大关键", "en": "The two keys"},
    "analysis": {"zh": "六步分析法", "en": "Six-step analysis"},
    "nine": {"zh": "九字诀(找对人、说对话、做对事)", "en": "Nine characters (right people, right words, right actions)"},
    "service": {"zh": "服务五个台阶", "en": "Five steps of service"},
    "management": {"zh": "天龙八部(大客户管理)", "en": "Eight-part management"},
    "risk": {"zh": "销售常见难题", "en": "The reps' questions (risks)"},
    "rulebook": {"zh": "规则库冲突", "en": "Rulebook conflicts"},
}


def source_kind(source: str) -> str:
    return source.split(":", 1)[0] if source else ""


def _value_text(advice: Advice, name: str, value: Any) -> str:
    book, lang = advice.book, advice.lang
    if name in book.facts:
        f = book.facts[name]
        if f.type == "enum":
            return next((t.get(lang) or v for v, t in f.values if v == value), str(value))
        if f.type == "list":
            return str(len(value)) if f.items else ", ".join(map(str, value))
        return format_value(value, f.type, lang)
    if name in book.metrics:
        return format_value(value, book.metrics[name].type, lang)
    if name in book.dimensions:
        return book.dimensions[name].value_label(str(value), lang)
    if isinstance(value, float):
        return format_number(value)
    return format_value(value, "string", lang)


def _because_text(advice: Advice, b: Any) -> str:
    lang = advice.lang
    name = b.fact
    label = _label(advice, name)

    def fmt(v: Any, t: str) -> str:
        if v is None:
            return "—"
        if t == "percent" and isinstance(v, (int, float)):
            return format_percent(float(v))
        if t == "money" and isinstance(v, (int, float)):
            return format_money(float(v), lang)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return format_number(float(v))
        return _value_text(advice, name, v) if name in advice.book.facts or name in advice.book.dimensions else str(v)

    if b.op in ("exists", "missing"):
        return f"{label}: {'有' if b.op == 'exists' else '无'}" if lang == "zh" else f"{label}: {'given' if b.op == 'exists' else 'missing'}"
    against = fmt(b.against, b.type)
    if b.param:
        plabel = advice.book.params[b.param].label.get(lang) if b.param in advice.book.params else b.param
        against = f"{plabel} {against}"
    return f"{label} = {fmt(b.value, b.type)} {b.op} {against}"


def _label(advice: Advice, name: str) -> str:
    book, lang = advice.book, advice.lang
    for table in (book.facts, book.metrics, book.dimensions, book.scores, book.derived):
        if name in table:
            return table[name].label.get(lang) or name  # type: ignore[attr-defined]
    return name


def _finding(advice: Advice, f: Finding) -> dict[str, Any]:
    lang = advice.lang
    return {
        "rule": f.rule, "concept": f.concept, "kind": f.kind, "severity": f.severity,
        "severity_label": SEVERITY_LABEL[f.severity][lang], "priority": f.priority, "title": f.title,
        "message": f.message, "remedy": f.remedy, "owner": f.owner,
        "because": [{"fact": b.fact, "label": _label(advice, b.fact), "value": b.value, "op": b.op,
                     "against": b.against, "param": b.param, "text": _because_text(advice, b)} for b in f.because],
        "source": f.source, "source_kind": source_kind(f.source), "at": f.at, "rulebook": f.rulebook,
        "family": f.concept.split(".")[0],
    }


def context(advice: Advice, *, explain: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The documented template context (docs/playbook-context.md)."""
    book, lang = advice.book, advice.lang
    dims = []
    for d in book.dimensions.values():
        c = advice.classification[d.name]
        dims.append({"name": d.name, "label": d.label.get(lang), "value": c.value,
                     "value_label": d.value_label(c.value, lang) if c.value else UI["not_classified"][lang],
                     "rules": list(c.rules), "hit_policy": d.hit_policy,
                     "values": [{"value": v, "label": t.get(lang) or v, "current": v == c.value} for v, t in d.values]})
    scores = []
    for s in book.scores.values():
        sc = advice.scores[s.name]
        v = sc.value
        band = None if v is None else ("red" if v <= 50 else "yellow" if v <= 75 else "green")
        scores.append({"name": s.name, "label": s.label.get(lang), "value": v, "min": s.min, "max": s.max,
                       "band": band, "parts": [{"rule": r, "points": p} for r, p in sc.parts]})
    fs = [_finding(advice, f) for f in advice.findings]
    warnings = [f for f in fs if f["kind"] in ("warning", "conflict")]
    recs = [f for f in fs if f["kind"] == "recommendation"]
    top = [f for f in fs if f["remedy"]][:3]
    families: dict[str, list[dict[str, Any]]] = {}
    for f in fs:
        families.setdefault(f["family"], []).append(f)
    missing: dict[str, set[str]] = {}
    for b in advice.blocked:
        for m in b.missing:
            missing.setdefault(m, set()).add(b.concept)
    facts = []
    for name, f in book.facts.items():
        if name in advice.facts.env and f.type != "list":
            facts.append({"name": name, "label": f.label.get(lang) or name, "group": f.group,
                          "value": advice.facts.env[name], "text": _value_text(advice, name, advice.facts.env[name])})
    prov: dict[str, int] = {}
    for f in fs:
        prov[f["source_kind"]] = prov.get(f["source_kind"], 0) + 1
    return {
        "kamrules": __version__, "lang": lang, "as_of": advice.as_of.isoformat(), "engine": advice.engine,
        "ui": {k: v[lang] for k, v in UI.items()},
        "account": {"id": advice.account.id, "name": advice.account.name},
        "rulebook": {"id": book.id, "version": book.version, "digest": book.digest, "title": book.title.get(lang),
                     "chain": list(book.chain)},
        "dimensions": dims, "classification": {d["name"]: d for d in dims},
        "scores": scores, "findings": fs, "warnings": warnings, "recommendations": recs, "top_actions": top,
        "families": [{"key": k, "label": CONCEPT_FAMILY.get(k, {}).get(lang, k), "findings": families[k]}
                     for k in CONCEPT_FAMILY if k in families],
        "facts": facts,
        "missing": [{"fact": m, "label": _label(advice, m), "unlocks": sorted(c)} for m, c in sorted(missing.items())],
        "disabled": [{"rule": d.rule, "reason": d.reason, "by": d.origin.rulebook} for d in book.disabled],
        "provenance": [{"kind": k, "count": prov[k]} for k in sorted(prov)],
        "explain": explain or [],
        "severities": list(SEVERITIES),
    }


def environment(template_dirs: Iterable[str] = ()) -> ImmutableSandboxedEnvironment:
    default = FileSystemLoader(str(playbooks_dir()))
    loaders: list[Any] = [FileSystemLoader(d) for d in template_dirs if Path(d).is_dir()]
    loader = ChoiceLoader([PrefixLoader({"default": default}, delimiter=":"), *loaders, default])
    env = ImmutableSandboxedEnvironment(loader=loader, undefined=StrictUndefined, autoescape=False,
                                        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["pct"] = lambda x: "—" if x is None else format_percent(float(x))
    env.filters["num"] = lambda x: "—" if x is None else format_number(float(x))
    return env


def render_text(advice: Advice, fmt: str, *, explain: list[dict[str, Any]] | None = None) -> str:
    env = environment(advice.book.templates)
    if fmt == "html":
        env.autoescape = True
    ctx = context(advice, explain=explain)
    env.filters["money"] = lambda x: "—" if x is None else format_money(float(x), advice.lang)
    name = f"playbook.{fmt}.j2"
    try:
        return env.get_template(name).render(ctx)
    except SecurityError as e:
        raise _template_problem(e, name, "template.unsafe", "the template tried something the sandbox forbids",
                                "templates may read the documented context only (docs/playbook-context.md)") from None
    except TemplateError as e:
        raise _template_problem(e, name, "template.error", f"the template failed: {e.message or e}",
                                "check the variable names against docs/playbook-context.md") from None


def _template_problem(e: Exception, name: str, code: str, message: str, hint: str) -> InputError:
    tb = e.__traceback__
    file, line = getattr(e, "filename", None) or name, getattr(e, "lineno", 0) or 0
    while tb is not None:  # the innermost frame that belongs to a template names file and line
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            file, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
        tb = tb.tb_next
    return InputError([Problem(code, f"{message}: {e}" if code == "template.unsafe" else message,
                               Location(str(file), int(line)), hint=hint)])


def to_json(advice: Advice, *, explain: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    book = advice.book
    cls = advice.classification

    def std(dim: str) -> str | None:
        return cls[dim].value if dim in cls else None

    out: dict[str, Any] = {
        "kamrules": __version__,
        "account": {"id": advice.account.id, "name": advice.account.name},
        "rulebook": {"id": book.id, "version": book.version, "digest": book.digest},
        "engine": advice.engine,
        "as_of": advice.as_of.isoformat(),
        "lang": advice.lang,
        "classification": {
            "final": std("final"),
            "by_standard": {k: std(k) for k in ("single_indicator", "pyramid", "scorecard") if k in cls}
            | ({"pyramid": std("tier")} if "tier" in cls and "pyramid" not in cls else {}),
            "dimensions": {d: c.value for d, c in cls.items()},
        },
        "scores": {s: sc.value for s, sc in advice.scores.items()},
        "findings": [
            {"rule": f.rule, "concept": f.concept, "kind": f.kind, "severity": f.severity, "priority": f.priority,
             "title": f.title, "message": f.message, "remedy": f.remedy,
             "because": [{"fact": b.fact, "value": b.value, "op": b.op, "against": b.against,
                          **({"param": b.param} if b.param else {})} for b in f.because],
             "source": f.source, "at": f.at}
            for f in advice.findings
        ],
        "missing_facts": sorted({m for b in advice.blocked for m in b.missing}),
        "blocked": [{"rule": b.rule, "concept": b.concept, "missing": list(b.missing)} for b in advice.blocked],
        "disabled": [{"rule": d.rule, "reason": d.reason, "by": d.origin.rulebook} for d in book.disabled],
    }
    if explain is not None:
        out["explain"] = explain
    return out


def render(advice: Advice, fmt: str, *, explain: list[dict[str, Any]] | None = None) -> str:
    if fmt == "json":
        return json.dumps(to_json(advice, explain=explain), ensure_ascii=False, indent=2, default=str) + "\n"
    return render_text(advice, fmt, explain=explain)
