"""The portfolio dashboard: one self-contained HTML file (inline CSS, SVG and a few lines of
script; nothing from the network) rendered by playbooks/portfolio.html.j2.

What it shows, from the rows of a Portfolio (portfolio.py) and nothing else:
* the value pyramid by rank within the portfolio, with counts and revenue/profit share per
  tier (rank_pyramid below);
* the Pareto curve (cumulative revenue) and the whale curve (cumulative profit, when some
  account has a profit figure);
* current × potential value with the scorecard's 2×2 policy quadrants;
* a tier × warning heat table (how many accounts of each tier carry each warning);
* every account in a table that sorts and filters in the browser (and is a plain table
  without script), linking to its playbook when `--playbooks DIR` wrote them.

The pyramid by rank and the profit ranking are computed here, from the rows, only because the
portfolio metrics (issue 10 items 3–4) are not on main yet: rank_pyramid() and profit_metric()
are the two functions to replace by that module's results. They follow the same conventions
(Curry's 1/4/15/80 bands; ranked by profit after cost to serve when every ranked account has
it, else by revenue; an account that loses money is lead).

Everything shown that comes from the accounts or the rulebook passes textsafe.html and
Jinja's autoescape (the environment of advice/render.py, confined to the template folders).
The chart geometry comes from charts.py.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from kamrules import __version__
from kamrules.advice.render import environment, render_template
from kamrules.core import i18n, textsafe
from kamrules.core.values import format_money, format_percent
from kamrules.language.sandbox import PLAYBOOK
from kamrules.portfolio import charts
from kamrules.portfolio.portfolio import (HEADINGS, NONE, PROGRAMME, Portfolio, Row, _concentration_head,
                                          _pareto_text)
from kamrules.rulebook.model import SEVERITIES

TEMPLATE = "portfolio.html.j2"
# Curry & Curry (2000): the top 1 %, the next 4 %, the next 15 %, the other 80 % (course.portfolio's bands)
BANDS: tuple[tuple[str, float], ...] = (("platinum", 0.01), ("gold", 0.04), ("silver", 0.15), ("iron", 0.80))
LOSS_TIER = "lead"  # Zeithaml, Rust & Lemon: the accounts that cost more than they bring
UNRANKED = ""  # accounts with neither figure: a column of their own
PROFIT_METRICS = ("margin_after_cts", "margin")  # preferred first
METRIC_LABELS = {"margin_after_cts": "dashboard.metric_margin_after_cts", "margin": "dashboard.metric_margin"}
RANKED_BY = {"profit": "dashboard.ranked_by_profit", "revenue": "dashboard.ranked_by_revenue",
             "": "dashboard.ranked_by_none"}
HEAT_ROWS = 15  # the most frequent warnings


# --------------------------------------------------------------------------- ranking (to be replaced by folio's)

def profit_metric(rows: Sequence[Row]) -> str | None:
    """The profit figure the book has most of (ties: the one after cost to serve); None when no
    account has one."""
    best, known = None, 0
    for m in PROFIT_METRICS:
        k = sum(1 for r in rows if r.figures.get(m) is not None)
        if k > known:
            best, known = m, k
    return best


def _profit(r: Row, metric: str | None) -> float | None:
    return r.figures.get(metric) if metric else None


@dataclass(frozen=True)
class Ranking:
    by: str  # "profit" | "revenue" | ""
    tier: Mapping[str, str]  # account id → tier value (UNRANKED when it has no figure)
    order: tuple[str, ...]  # the tiers, top first


def rank_pyramid(rows: Sequence[Row], metric: str | None) -> Ranking:
    """Every account's tier by its rank in this portfolio. By profit when every account with
    a revenue has a profit figure (and some has), else by revenue. The band edges are the
    cumulative shares times the number ranked, rounded half up (10 accounts: no platinum, one
    gold, one silver, eight iron). Ties rank by id."""
    with_revenue = [r for r in rows if r.revenue is not None]
    by_profit = metric is not None and bool(with_revenue) and all(_profit(r, metric) is not None
                                                                   for r in with_revenue)
    measure = {r.id: (_profit(r, metric) if by_profit else r.revenue) for r in rows}
    ranked = sorted((r for r in rows if measure[r.id] is not None), key=lambda r: (-(measure[r.id] or 0.0), r.id))
    tier: dict[str, str] = {r.id: UNRANKED for r in rows}
    losing = [r for r in ranked if by_profit and (measure[r.id] or 0.0) < 0]
    positive = [r for r in ranked if r not in losing] if losing else ranked
    n, edge, start = len(positive), 0.0, 0
    for value, share in BANDS:
        edge += share
        end = n if value == BANDS[-1][0] else min(n, math.floor(edge * n + 0.5))
        for r in positive[start:end]:
            tier[r.id] = value
        start = max(start, end)
    for r in losing:
        tier[r.id] = LOSS_TIER
    # lead exists only where profits rank: by revenue no account shows as losing money
    return Ranking("profit" if by_profit else "revenue" if ranked else "", tier,
                   (*(v for v, _ in BANDS), *([LOSS_TIER] if by_profit else [])))


# --------------------------------------------------------------------------- the context

@dataclass(frozen=True)
class Tier:
    value: str
    label: str
    count: int
    share: str  # of the accounts
    revenue_share: str
    profit_share: str
    course: int  # accounts the rulebook's own thresholds put in this tier
    band: charts.Band | None


@dataclass(frozen=True)
class HeatCell:
    count: int
    level: int


@dataclass(frozen=True)
class HeatRow:
    rule: str
    title: str
    severity: str
    severity_label: str
    total: int
    cells: tuple[HeatCell, ...]


@dataclass(frozen=True)
class Cell:
    text: str
    sort: str  # data-v: a number as text, or "" (text columns sort by their text)
    cls: str = "nw"  # "num" for numbers (right-aligned); set here, not looked up per cell in the template


@dataclass(frozen=True)
class AccountRow:
    id: str
    name: str
    href: str  # the playbook, or ""
    final: str  # value code, for the filter
    cells: tuple[Cell, ...]  # after id and name, in `columns` order
    top: str
    top_severity: str
    top_severity_label: str


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool


@dataclass(frozen=True)
class Option:
    value: str
    label: str


def _severity(severity: str, lang: str) -> str:
    return i18n.t(f"severity.{severity}", lang) if severity in SEVERITIES else severity


def _fmt_money(v: float | None, lang: str) -> str:
    return NONE if v is None else format_money(v, lang)


def _share(part: float, whole: float) -> str:
    return format_percent(part / whole) if whole > 0 else NONE


def context(p: Portfolio, links: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What portfolio.html.j2 reads (plain data; text neutralised by render())."""
    lang, book, rows = p.lang, p.book, p.rows
    links = links or {}
    metric = profit_metric(rows)
    ranking = rank_pyramid(rows, metric)
    tiers_dim = book.dimensions.get("tier")

    def tier_label(v: str) -> str:
        if v == UNRANKED:
            return i18n.t("dashboard.unranked", lang)
        return tiers_dim.value_label(v, lang) if tiers_dim else v

    total_rev = sum(r.revenue for r in rows if r.revenue is not None and r.revenue > 0)
    profits = [(_profit(r, metric)) for r in rows]
    total_profit = sum(v for v in profits if v is not None)
    order = [*ranking.order, *([UNRANKED] if UNRANKED in ranking.tier.values() else [])]
    bands = charts.pyramid(len(ranking.order))
    tiers = []
    for i, v in enumerate(order):
        members = [r for r in rows if ranking.tier[r.id] == v]
        rev = sum(r.revenue for r in members if r.revenue is not None and r.revenue > 0)
        prof = sum(v2 for r in members if (v2 := _profit(r, metric)) is not None)
        tiers.append(Tier(v, tier_label(v), len(members), _share(len(members), len(rows)),
                          _share(rev, total_rev), _share(prof, total_profit) if metric else NONE,
                          sum(1 for r in rows if r.dims.get("tier") == v),
                          bands[i] if i < len(bands) else None))
    revenues = [r.revenue for r in rows if r.revenue is not None]
    pareto = charts.curve(revenues, share=True)
    profit_values = [v for v in profits if v is not None]
    whale = charts.curve(profit_values, share=False) if profit_values else None
    return {
        "kamrules": __version__,
        "lang": lang,
        "ui": i18n.texts("dashboard", lang),
        "title": i18n.t("portfolio.title", lang),
        "meta": i18n.t("portfolio.meta", lang, book=book.id, version=book.version,
                       as_of=p.as_of.isoformat() if p.as_of else i18n.t("portfolio.own_dates", lang), engine=p.engine,
                       n=len(rows)),
        "cards": _cards(p, ranking),
        "summary": _summary(p),
        "ranked_by": i18n.t(RANKED_BY[ranking.by], lang),
        "profit_label": i18n.t(METRIC_LABELS[metric], lang) if metric else "",
        "tiers": tiers,
        "pareto": pareto,
        "pareto_note": _pareto_text(p),
        "whale": whale,
        "whale_total": _fmt_money(whale.total, lang) if whale else "",
        "whale_peak": _fmt_money(whale.peak_value, lang) if whale else "",
        "whale_peak_share": format_percent(whale.peak_value / whale.total) if whale and whale.total > 0 else "",
        "whale_losing": sum(1 for v in profit_values if v < 0),
        "whale_missing": len(rows) - len(profit_values),
        "whale_y": [(t.at, _fmt_money(t.value, lang)) for t in whale.y_ticks] if whale else [],
        "scatter": _scatter(p),
        "heat": _heat(p, ranking, order),
        "heat_tiers": [tier_label(v) for v in order],
        "columns": _columns(p, metric),
        "accounts": [_account(p, r, ranking, tier_label, metric, links.get(r.id, "")) for r in rows],
        "finals": [Option(v, t.get(lang) or v) for v, t in book.dimensions["final"].values]
        if "final" in book.dimensions else [],
        "has_links": bool(links),
    }


def _cards(p: Portfolio, ranking: Ranking) -> list[tuple[str, str]]:
    lang, s = p.lang, p.summary
    out = [(i18n.t("dashboard.accounts", lang), f"{len(p.rows):,}")]
    final = p.book.dimensions.get("final")
    for v, n in s.by_final:
        out.append((final.value_label(v, lang) if final else v, f"{n:,}"))
    if s.pareto is not None:
        out.append((i18n.t("dashboard.top20", lang), format_percent(s.pareto.revenue_share)))
    return out


def _summary(p: Portfolio) -> list[tuple[str, str]]:
    lang, s = p.lang, p.summary
    out = [(i18n.t("portfolio.pareto", lang), _pareto_text(p)),
           (i18n.t("portfolio.concentration", lang), _concentration_head(p))]
    pg = s.programme
    if pg is not None:
        out.append((i18n.t("portfolio.programme", lang), i18n.t(PROGRAMME[pg.verdict], lang, n=pg.key_accounts,
                                                                lo=pg.size_min, hi=pg.size_max, many=pg.too_many)))
    if p.invalid:
        out.append((i18n.t("dashboard.skipped", lang), i18n.t("portfolio.skipped", lang, n=p.invalid)))
    return out


def _scatter(p: Portfolio) -> dict[str, Any] | None:
    book, lang = p.book, p.lang
    if "current_value" not in book.scores or "potential_value" not in book.scores:
        return None
    pb = book.playbook
    dim = book.dimensions.get(pb.scorecard_dimension) if pb.scorecard_dimension else None
    labels = {v: t.get(lang) or v for v, t in dim.values} if dim else {}

    def param(name: str) -> float | None:
        v = book.params[name].value if name in book.params else None
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    cur, pot = book.scores["current_value"], book.scores["potential_value"]
    chart = charts.scatter([(r.scores.get("current_value"), r.scores.get("potential_value")) for r in p.rows],
                           x_max=cur.max, y_max=pot.max, x_split=param("current_value_high"),
                           y_split=param("potential_value_high"), quadrants=dict(pb.quadrants) if dim else {},
                           labels=labels)
    return {"chart": chart, "x_label": cur.label.get(lang) or "current_value",
            "y_label": pot.label.get(lang) or "potential_value", "labels": labels}


def _heat(p: Portfolio, ranking: Ranking, order: Sequence[str]) -> list[HeatRow]:
    by_rule: dict[str, tuple[str, str, list[str]]] = {}
    for r in p.rows:
        for h in r.warning_heads:
            entry = by_rule.setdefault(h.rule, (h.title, h.severity, []))
            entry[2].append(ranking.tier[r.id])
    sizes = {v: sum(1 for t in ranking.tier.values() if t == v) for v in order}
    ranked = sorted(by_rule.items(), key=lambda kv: (-len(kv[1][2]), SEVERITIES.index(kv[1][1])
                                                     if kv[1][1] in SEVERITIES else 9, kv[0]))[:HEAT_ROWS]
    out = []
    for rule, (title, sev, tiers) in ranked:
        cells = tuple(HeatCell(n := sum(1 for t in tiers if t == v), charts.heat_level(n, sizes[v])) for v in order)
        out.append(HeatRow(rule, title, sev, _severity(sev, p.lang), len(tiers), cells))
    return out


def _columns(p: Portfolio, metric: str | None) -> list[Column]:
    lang, book = p.lang, p.book
    cols = []
    if "final" in book.dimensions:
        cols.append(Column("final", i18n.t(HEADINGS["final"], lang), False))
    cols.append(Column("rank_tier", i18n.t("dashboard.rank_tier", lang), False))
    for d in ("tier", "scorecard"):
        if d in book.dimensions:
            cols.append(Column(d, i18n.t(HEADINGS[d], lang), False))
    if "revenue" in book.facts:
        cols.append(Column("revenue", i18n.t(HEADINGS["revenue"], lang), True))
    if metric:
        cols.append(Column("profit", i18n.t(METRIC_LABELS[metric], lang), True))
    cols += [Column(s, i18n.t(HEADINGS[s], lang), True) for s in ("current_value", "potential_value", "health")
             if s in book.scores]
    cols.append(Column("warnings", i18n.t("portfolio.warnings", lang), True))
    return cols


def _num(v: float | None) -> str:
    return "" if v is None else repr(round(float(v), 4) + 0.0)


def _account(p: Portfolio, r: Row, ranking: Ranking, tier_label: Any, metric: str | None, href: str) -> AccountRow:
    lang, book = p.lang, p.book
    cells = []
    if "final" in book.dimensions:
        v = r.dims.get("final")
        cells.append(Cell(book.dimensions["final"].value_label(v, lang) if v else NONE,
                          str([x for x, _ in book.dimensions["final"].values].index(v)) if v else "9"))
    t = ranking.tier[r.id]
    cells.append(Cell(tier_label(t) if t != UNRANKED else NONE, str(ranking.order.index(t)) if t != UNRANKED else "9"))
    for d in ("tier", "scorecard"):
        if d in book.dimensions:
            v = r.dims.get(d)
            vals = [x for x, _ in book.dimensions[d].values]
            cells.append(Cell(book.dimensions[d].value_label(v, lang) if v else NONE,
                              str(vals.index(v)) if v in vals else "9"))
    if "revenue" in book.facts:
        cells.append(Cell(_fmt_money(r.revenue, lang), _num(r.revenue), "num"))
    if metric:
        money = _profit(r, metric)
        cells.append(Cell(_fmt_money(money, lang), _num(money), "num"))
    for s in ("current_value", "potential_value", "health"):
        if s in book.scores:
            score = r.scores.get(s)
            cells.append(Cell(NONE if score is None else f"{score:.0f}", _num(score), "num"))
    n = sum(r.warnings.values())
    worst = next((s for s in SEVERITIES if r.warnings.get(s)), "")
    cells.append(Cell(" · ".join(f"{k} {_severity(s, lang)}" for s, k in r.warnings.items() if k) or NONE,
                      # most warnings first when sorted down; the worst severity breaks ties
                      str(n * 10 + (len(SEVERITIES) - SEVERITIES.index(worst) if worst else 0)), "num"))
    top = r.top
    return AccountRow(r.id, r.name, href, r.dims.get("final") or "", tuple(cells), top.title if top else "",
                      top.severity if top else "", _severity(top.severity, lang) if top else "")


# --------------------------------------------------------------------------- rendering

def render(p: Portfolio, links: Mapping[str, str] | None = None) -> str:
    """The dashboard's HTML. Template errors are the template's (a company overlay may replace
    portfolio.html.j2): reported at its file and line, exit 2."""
    env = environment(p.book.templates)
    env.autoescape = True
    # a playbook's bounds, grown with the number of accounts: one table row is ~1 kB of output
    # and a dozen loop iterations; the charts are bounded by charts.MAX_POINTS
    n = len(p.rows)
    env.limits = dataclasses.replace(PLAYBOOK, seconds=PLAYBOOK.seconds + n / 200, output=PLAYBOOK.output + 4000 * n,
                                     iterations=PLAYBOOK.iterations + 100 * n)
    ctx = textsafe.deep(context(p, links), textsafe.html)
    env.filters["money"] = lambda x: NONE if x is None else format_money(float(x), p.lang)
    env.filters["pct"] = lambda x: NONE if x is None else format_percent(float(x))
    return render_template(env, TEMPLATE, ctx, reads="the dashboard's context only (docs/portfolio.md)",
                           names_doc='docs/portfolio.md, "The dashboard"')
