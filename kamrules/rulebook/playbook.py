"""The rulebook's `playbook:` section → PlaybookDef.

Each section (analysis, management, service …) is taken whole from the last rulebook in the
extends chain that gives it, so an overlay replaces, say, the analysis steps without repeating
the rest. Names the section refers to (facts, metrics, dimensions, scores, parameters) are
checked against the effective rulebook: a typo is a load error with file:line, never a silently
empty part of the playbook.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from kamrules.core.errors import Collector, Location, suggest
from kamrules.core.i18n import Text
from kamrules.rulebook.model import (
    AnalysisStep,
    BriefDef,
    Gauge,
    Horizon,
    Labelled,
    PlaybookDef,
    TalkingPoints,
)
from kamrules.rulebook.vocabulary import HORIZON_DAYS, HORIZONS, OWNER_ROLES


def merge(sections: Iterable[tuple[Mapping[str, Any], Mapping[str, Location]]]) -> tuple[dict[str, Any], dict[str, Location]]:
    """Sections of every layer, parents first → the effective sections and where each came from."""
    merged: dict[str, Any] = {}
    where: dict[str, Location] = {}
    for data, locs in sections:
        for k, v in data.items():
            merged[k] = v
            where[k] = locs[k]
    return merged, where


def _text(v: Any) -> Text:
    return v if isinstance(v, Text) else Text()


def _names(v: Any) -> tuple[str, ...]:
    return tuple(x for x in v if isinstance(x, str)) if isinstance(v, list) else ()


def build(data: Mapping[str, Any]) -> PlaybookDef:
    summary = data.get("summary") or {}
    rel = data.get("relationships") or {}
    service = data.get("service") or {}
    card = data.get("scorecard") or {}
    folio = data.get("portfolio") or {}
    return PlaybookDef(
        summary_dimensions=_names(summary.get("dimensions")), summary_scores=_names(summary.get("scores")),
        summary_figures=_names(summary.get("figures")),
        families={k: _text(v) for k, v in (data.get("families") or {}).items()},
        concepts={k: _text(v) for k, v in (data.get("concepts") or {}).items()},
        analysis=tuple(AnalysisStep(s["key"], _text(s.get("label")), _text(s.get("ask")), _names(s.get("known")),
                                    s.get("date") or "")
                       for s in data.get("analysis") or [] if isinstance(s, dict) and isinstance(s.get("key"), str)),
        buying_roles=_names(data.get("buying_roles")),
        relationship_metrics=_names(rel.get("metrics")), relationship_gaps=_names(rel.get("gaps")),
        management=tuple(Labelled(m["key"], _text(m.get("label"))) for m in data.get("management") or []
                         if isinstance(m, dict) and isinstance(m.get("key"), str)),
        service_fact=service.get("fact") or "", service_steps=tuple(_text(s) for s in service.get("steps") or []),
        scorecard_dimension=card.get("dimension") or "",
        quadrants={k: v for k, v in (card.get("quadrants") or {}).items() if isinstance(v, str)},
        flight=tuple(Gauge(g["key"], _text(g.get("label")), g["metric"], g.get("kind") or "scale",
                           g.get("good") or "", g.get("low") or "", g.get("high") or "")
                     for g in card.get("flight") or []
                     if isinstance(g, dict) and isinstance(g.get("key"), str) and isinstance(g.get("metric"), str)),
        due_days={k: v for k, v in (data.get("due_days") or {}).items() if isinstance(v, int)},
        portfolio_dimensions=_names(folio.get("dimensions")), portfolio_scores=_names(folio.get("scores")),
        horizons=_horizons(data.get("horizons") or {}),
        owners=_owners(data.get("owners") or {}),
        brief=_brief(data.get("brief") or {}),
    )


def _horizons(data: Mapping[str, Any]) -> dict[str, Horizon]:
    """Every horizon, in the vocabulary's order: the section's days and label where it gives
    them, else the built-in days (so a rule's horizon always has a due date)."""
    out = {}
    for k in HORIZONS:
        spec = data.get(k)
        spec = spec if isinstance(spec, dict) else {}
        days = spec.get("days")
        out[k] = Horizon(k, days if isinstance(days, int) else HORIZON_DAYS[k], _text(spec.get("label")))
    return out


def _owners(data: Mapping[str, Any]) -> dict[str, Text]:
    """Owner roles in the section's order, then any it leaves out (the plan groups in this order)."""
    order = [k for k in data if k in OWNER_ROLES] + [k for k in OWNER_ROLES if k not in data]
    return {k: _text(data.get(k)) for k in order}


def _brief(data: Mapping[str, Any]) -> BriefDef:
    tp = data.get("talking_points") or {}
    n = data.get("causes")
    return BriefDef(
        verdict_tags=_names(data.get("verdict")), ask_tags=_names(data.get("ask")),
        causes=n if isinstance(n, int) and n >= 0 else 3,
        walk_away={k: v for k, v in (data.get("walk_away") or {}).items() if isinstance(v, str)},
        talking_points={role: TalkingPoints(role, _text(v.get("wants")), _text(v.get("say")), _text(v.get("ask")))
                        for role, v in tp.items() if isinstance(v, dict)},
        stances={k: _text(v) for k, v in (data.get("stances") or {}).items()})


def check_names(pb: PlaybookDef, where: Mapping[str, Location], *, values: set[str], dimensions: set[str],
                scores: set[str], params: set[str], out: Collector) -> None:
    """Every name a section uses must be declared (values = facts, metrics, derived facts)."""

    def need(section: str, name: str, pool: set[str], what: str) -> None:
        if name and name not in pool:
            out.add("rulebook.playbook-name", f"the playbook's {section} names the {what} '{name}', which is not declared",
                    where.get(section, Location("playbook")), f"playbook.{section}",
                    hint=suggest(name, pool) or f"declare it, or remove it from playbook.{section}")

    anything = values | dimensions | scores
    for n in pb.summary_dimensions:
        need("summary", n, dimensions, "dimension")
    for n in pb.summary_scores:
        need("summary", n, scores, "score")
    for n in pb.summary_figures:
        need("summary", n, values, "fact or metric")
    for step in pb.analysis:
        for n in step.known:
            need("analysis", n, anything, "fact or metric")
        need("analysis", step.date, values, "fact")
    for n in pb.relationship_metrics:
        need("relationships", n, values, "fact or metric")
    need("service", pb.service_fact, values, "fact")
    need("scorecard", pb.scorecard_dimension, dimensions, "dimension")
    for g in pb.flight:
        need("scorecard", g.metric, values, "fact or metric")
        for p in (g.good, g.low, g.high):
            need("scorecard", p, params, "parameter")
    for n in pb.portfolio_dimensions:
        need("portfolio", n, dimensions, "dimension")
    for n in pb.portfolio_scores:
        need("portfolio", n, scores, "score")
    for n in pb.brief.walk_away.values():
        need("brief", n, values, "fact or metric")
