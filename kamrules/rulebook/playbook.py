"""The rulebook's `playbook:` section → PlaybookDef.

Each section (analysis, management, service …) is taken whole from the last rulebook in the
extends chain that gives it, so an overlay replaces, say, the analysis steps without repeating
the rest. Names the section refers to (facts, metrics, dimensions, scores, parameters) are
checked against the effective rulebook: a typo is a load error with file:line, never a silently
empty part of the playbook.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from kamrules.core.errors import Collector, Location, suggest
from kamrules.core.i18n import Text
from kamrules.core.values import ValueProblem, parse_percent_setting
from kamrules.rulebook.model import (
    AnalysisStep,
    BriefDef,
    Calibration,
    FactDef,
    Gauge,
    Horizon,
    Labelled,
    PlaybookDef,
    PortfolioDef,
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
    ready = service.get("ready") or {}
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
        service_ready=ready.get("dimension") or "", service_ready_values=_names(ready.get("values")),
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
        portfolio=_portfolio(folio),
    )


def _share(v: Any) -> float | None:
    """A percent of the section (20% or 0.2); None when it does not read (check_names reports it)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        return parse_percent_setting(v)
    except ValueProblem:
        return None


def _portfolio(folio: Mapping[str, Any]) -> PortfolioDef:
    rank = folio.get("rank") or {}
    pyramid = folio.get("pyramid") or {}
    abc = folio.get("abc") or {}
    verdicts = folio.get("verdicts") or {}
    default = PortfolioDef()

    def share(data: Mapping[str, Any], key: str, fallback: float) -> float:
        got = _share(data.get(key))
        return fallback if got is None else got

    bands = tuple((str(k), _share(v) or 0.0) for k, v in (pyramid.get("bands") or {}).items())
    calibrate = tuple(Calibration(str(k), str(v.get("of") or ""), _share(v.get("top")) or 0.0)
                      for k, v in (folio.get("calibrate") or {}).items() if isinstance(v, dict))
    return PortfolioDef(
        dimensions=_names(folio.get("dimensions")), scores=_names(folio.get("scores")),
        rank_profit=str(rank.get("profit") or ""), rank_revenue=str(rank.get("revenue") or default.rank_revenue),
        rank_by=str(rank.get("by") or "auto"),
        pyramid_fact=str(pyramid.get("fact") or ""), pyramid_bands=bands, pyramid_source=str(pyramid.get("source") or ""),
        abc=(share(abc, "a", default.abc[0]), share(abc, "b", default.abc[1])),
        calibrate=calibrate, checks=_names(folio.get("checks")),
        one_class=share(verdicts, "one_class", default.one_class),
        pareto_holds=share(verdicts, "pareto_holds", default.pareto_holds),
        pareto_flat=share(verdicts, "pareto_flat", default.pareto_flat),
        hhi_moderate=share(verdicts, "hhi_moderate", default.hhi_moderate),
        hhi_high=share(verdicts, "hhi_high", default.hhi_high),
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
                scores: set[str], params: set[str], out: Collector, facts: Mapping[str, FactDef] | None = None,
                param_types: Mapping[str, str] | None = None, raw: Mapping[str, Any] | None = None,
                dimension_values: Mapping[str, Sequence[str]] | None = None) -> None:
    """Every name a section uses must be declared (values = facts, metrics, derived facts)."""
    dimension_values = dimension_values or {}

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
    need("service", pb.service_ready, dimensions, "dimension")
    if pb.service_ready and (pb.service_ready_values or pb.service_steps):
        known = dimension_values.get(pb.service_ready)
        if len(pb.service_ready_values) != len(pb.service_steps):
            out.add("rulebook.playbook-name", f"the playbook's service.ready lists {len(pb.service_ready_values)} "
                    f"values for {len(pb.service_steps)} steps", where.get("service", Location("playbook")),
                    "playbook.service.ready.values", f"one value of '{pb.service_ready}' per step, from the bottom")
        for v in pb.service_ready_values:
            if known is not None and v not in known:
                out.add("rulebook.playbook-name", f"the playbook's service.ready names the value '{v}', which "
                        f"'{pb.service_ready}' does not have", where.get("service", Location("playbook")),
                        "playbook.service.ready.values", "one of " + ", ".join(known),
                        suggest(v, known) or "")
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
    _check_portfolio(pb.portfolio, (raw or {}).get("portfolio") or {}, where.get("portfolio", Location("playbook")),
                     values=values, facts=facts or {}, param_types=param_types or {}, out=out)


def _check_portfolio(pf: PortfolioDef, raw: Mapping[str, Any], loc: Location, *, values: set[str],
                     facts: Mapping[str, FactDef], param_types: Mapping[str, str], out: Collector) -> None:
    """The section's names, percents and bands: a mistake here is a load error, never a silently
    empty pyramid."""

    def bad(path: str, message: str, hint: str = "", expected: str = "") -> None:
        out.add("rulebook.playbook-portfolio", message, loc, f"playbook.portfolio.{path}", expected, hint)

    def need_value(path: str, name: str) -> None:
        if name and name not in values:
            bad(path, f"the portfolio section names '{name}', which is not a declared fact or metric",
                suggest(name, values) or "declare it, or name another fact or metric")

    need_value("rank.profit", pf.rank_profit)
    if (raw.get("rank") or {}).get("revenue") is not None:  # the default "revenue" may be absent: no ranking then
        need_value("rank.revenue", pf.rank_revenue)
    for section, keys in (("abc", ("a", "b")), ("verdicts", ("one_class", "pareto_holds", "pareto_flat",
                                                              "hhi_moderate", "hhi_high"))):
        for k in keys:
            v = (raw.get(section) or {}).get(k)
            if v is not None and (_share(v) is None or not 0 < (_share(v) or 0) <= 1):
                bad(f"{section}.{k}", f"'{v}' is not a percent between 0 and 100%", expected="e.g. 80%")
    if pf.abc[0] >= pf.abc[1]:
        bad("abc", f"A ends at {pf.abc[0]:.0%} and B at {pf.abc[1]:.0%}: B must end after A", expected="a: 80%, b: 95%")
    bands = (raw.get("pyramid") or {}).get("bands") or {}
    if pf.pyramid_fact or bands:
        fact = facts.get(pf.pyramid_fact)
        if fact is None:
            bad("pyramid.fact", f"the pyramid by rank needs a supplied enum fact; '{pf.pyramid_fact}' is not declared",
                suggest(pf.pyramid_fact, [f.name for f in facts.values() if f.supplied]) or
                "declare it: {type: enum, supplied: portfolio, values: [...]}")
        elif fact.type != "enum" or fact.supplied != "portfolio":
            bad("pyramid.fact", f"'{fact.name}' must be an enum fact with supplied: portfolio",
                "the portfolio stage gives it its value; an account cannot")
        else:
            for tier, share in bands.items():
                if tier not in fact.value_names:
                    bad(f"pyramid.bands.{tier}", f"'{tier}' is not a value of '{fact.name}'",
                        suggest(str(tier), fact.value_names) or "values: " + ", ".join(fact.value_names))
        shares = [_share(v) for v in bands.values()]
        if not bands or any(s is None or s <= 0 or s > 1 for s in shares):
            bad("pyramid.bands", "each band needs a share of accounts above 0 and at most 100%",
                expected="{platinum: 1%, gold: 4%, iron: 15%, lead: 80%}")
        elif abs(sum(s or 0 for s in shares) - 1) > 1e-9:
            bad("pyramid.bands", f"the bands add up to {sum(s or 0 for s in shares):.4%}, not 100%",
                "every account falls in one band: the shares must add up to 100%")
    for c in pf.calibrate:
        raw_c = (raw.get("calibrate") or {}).get(c.param) or {}
        if c.param not in param_types:
            bad(f"calibrate.{c.param}", f"'{c.param}' is not a declared parameter",
                suggest(c.param, param_types) or "name a parameter of the rulebook")
        elif param_types[c.param] not in ("money", "number", "integer", "percent"):
            bad(f"calibrate.{c.param}", f"'{c.param}' is a {param_types[c.param]} parameter; only numbers calibrate")
        need_value(f"calibrate.{c.param}.of", c.of)
        top = _share(raw_c.get("top"))
        if top is None or not 0 < top < 1:
            bad(f"calibrate.{c.param}.top", f"top: {raw_c.get('top')} is not a share between 0 and 100%",
                expected="e.g. top: 20%")
