"""The portfolio dashboard: one self-contained HTML file (inline CSS, SVG and a few lines of
script; nothing from the network) rendered by playbooks/portfolio.html.j2.

What it shows comes from the portfolio's overview (overview.py: the ranking, the pyramid's bands,
ABC, the profit measure, concentration, the whale curve, the data checks and the verdicts — the
very objects the Markdown and JSON summaries print) and the rows of the run:
* the verdicts in words and the summary's sentences;
* the value pyramid by rank within the portfolio (the rulebook's bands; ABC when it declares
  none), with counts and revenue/profit share per tier;
* the Pareto curve (cumulative revenue) and the whale curve (cumulative profit), drawn from the
  overview's concentration and whale curve;
* current × potential value with the scorecard's 2×2 policy quadrants;
* a tier × warning heat table (how many accounts of each tier carry each warning);
* the data checks (implausible ranges and data-check rules, one list);
* with `--since`, what changed since a date (the review store's comparison: tier moves, new
  critical warnings, warnings unresolved across reviews, warnings cleared, key accounts not reviewed);
* every account in a table that sorts and filters in the browser (and is a plain table
  without script), linking to its playbook when `--playbooks DIR` wrote them.

Nothing here ranks, bands or measures on its own: a number on the page that the summary also
prints is the summary's number.

Everything shown that comes from the accounts or the rulebook passes textsafe.html and
Jinja's autoescape (the environment of advice/render.py, confined to the template folders).
The chart geometry comes from charts.py.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from kamrules import __version__
from kamrules.advice import partial
from kamrules.advice.render import environment, render_template
from kamrules.core import i18n, textsafe
from kamrules.core.values import format_money, format_percent
from kamrules.language.sandbox import PLAYBOOK
from kamrules.portfolio import charts, overview, verdicts
from kamrules.portfolio.portfolio import (HEADINGS, NONE, PROGRAMME, Portfolio, Row, _concentration_head,
                                          _pareto_text)
from kamrules.rulebook.model import SEVERITIES

TEMPLATE = "portfolio.html.j2"
UNRANKED = ""  # accounts without the ranked measure: a column of their own
HEAT_ROWS = 15  # the most frequent warnings
SHOWN = 10  # accounts named under a verdict (the Markdown summary's SHOWN_HITS)


# --------------------------------------------------------------------------- the context

@dataclass(frozen=True)
class Tier:
    value: str
    label: str
    count: int
    share: str  # of the accounts
    revenue_share: str
    profit_share: str
    course: str  # accounts the rulebook's own thresholds put in this tier ("" when the groups are not tiers)
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


@dataclass(frozen=True)
class VerdictLine:
    level: str  # ok | note | warn
    topic: str
    text: str
    items: tuple[str, ...]  # the accounts it names (whale destroyers, key accounts without profit)
    anchor: str  # a section of the page that lists them ("checks"), or ""


@dataclass(frozen=True)
class CheckRow:
    id: str
    name: str
    href: str
    what: str
    figures: str
    why: str


@dataclass(frozen=True)
class SinceRow:
    id: str
    name: str
    href: str
    move: str  # "Gold → Silver", or ""
    direction: str  # up | down | ""
    new: tuple[str, ...]  # new critical warnings (titles)
    unresolved: tuple[str, ...]  # critical/high warnings unresolved across reviews, with since when
    resolved: tuple[str, ...]  # critical/high warnings of the earlier review that no longer fire
    last_review: str  # a key account not reviewed for the months asked: its last review (or never)


def _severity(severity: str, lang: str) -> str:
    return i18n.t(f"severity.{severity}", lang) if severity in SEVERITIES else severity


def _fmt_money(v: float | None, lang: str) -> str:
    return NONE if v is None else format_money(v, lang)


def _pct(v: float | None) -> str:
    return NONE if v is None else format_percent(v)


@dataclass(frozen=True)
class Grouping:
    """The pyramid the dashboard draws: the overview's tiers by rank, or its ABC classes when the
    rulebook declares no pyramid bands; each account's group (UNRANKED without the measure)."""

    bands: tuple[overview.Band, ...]
    attr: str  # "tier" or "abc"
    of: Mapping[str, str]  # account id → group
    order: tuple[str, ...]  # the groups, top first, UNRANKED last when some account is not ranked
    label: Callable[[str], str]


def grouping(p: Portfolio, o: overview.Overview) -> Grouping:
    lang, book = p.lang, p.book
    bands, attr = (o.tiers, "tier") if o.tiers else (o.abc, "abc")
    of = {r.id: getattr(pl, attr) if (pl := o.ranking.of(r.id)) is not None else UNRANKED for r in p.rows}
    order = (*(b.name for b in bands), *((UNRANKED,) if o.unranked is not None else ()))
    names = overview.labeller(book, lang)
    fact = book.playbook.portfolio.pyramid_fact

    def label(v: str) -> str:
        if v == UNRANKED:
            return i18n.t("dashboard.unranked", lang)
        return names(fact, v) if attr == "tier" and fact else v

    return Grouping(bands, attr, of, order, label)


def context(p: Portfolio, links: Mapping[str, str] | None = None,
            since: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What portfolio.html.j2 reads (plain data; text neutralised by render()). `since`: the
    review store's comparison (history.use.since_portfolio), when `--since` asked for it."""
    lang, book, rows = p.lang, p.book, p.rows
    links = links or {}
    o = p.overview if p.overview is not None else overview.of_rows(rows, book)
    g = grouping(p, o)
    bands = charts.pyramid(len(g.bands))
    tiers = []
    for i, b in enumerate((*g.bands, *((o.unranked,) if o.unranked is not None else ()))):
        tiers.append(Tier(b.name, g.label(b.name), b.accounts, _pct(b.accounts / len(rows)) if rows else NONE,
                          _pct(b.revenue_share), _pct(b.profit_share),
                          _course(rows, b.name) if g.attr == "tier" else "",
                          bands[i] if i < len(bands) else None))
    c, w = o.concentration, o.whale
    pareto = charts.ranked_curve(c.curve, share=True, total=c.total) if c is not None and c.accounts >= 2 else None
    whale = charts.ranked_curve(w.cumulative, share=False, peak_rank=w.peak_rank) if w is not None else None
    said = {v.topic: v for v in o.verdicts}
    label = overview.labeller(book, lang)
    return {
        "kamrules": __version__,
        "lang": lang,
        "ui": i18n.texts("dashboard", lang),
        "title": i18n.t("portfolio.title", lang),
        "meta": i18n.t("portfolio.meta", lang, book=book.id, version=book.version,
                       as_of=p.as_of.isoformat() if p.as_of else i18n.t("portfolio.own_dates", lang), engine=p.engine,
                       n=len(rows)),
        "cards": _cards(p, o),
        "summary": _summary(p),
        "verdicts": _verdicts(p, o),
        "ranked_by": _ranked_by(p, o, g),
        "pyramid_note": [overview.abc_text(o, lang)] if o.ranking.size and g.attr == "tier" else [],
        "profit_label": overview.measure_label(book, o.profit, lang) if o.profit else "",
        "tiers": tiers,
        "pareto": pareto,
        "pareto_note": verdicts.text(said["pareto"], lang, label) if "pareto" in said else _pareto_text(p),
        "whale": whale,
        "whale_total": _fmt_money(w.total, lang) if w else "",
        "whale_peak": _fmt_money(w.peak, lang) if w else "",
        "whale_peak_share": format_percent(w.peak_share) if w and w.peak_share is not None else "",
        "whale_losing": len(w.destroyers) if w else 0,
        "whale_missing": w.without_profit if w else 0,
        "whale_y": [(t.at, _fmt_money(t.value, lang)) for t in whale.y_ticks] if whale else [],
        "scatter": _scatter(p),
        "heat": _heat(p, g),
        "heat_tiers": [g.label(v) for v in g.order],
        "checks": [CheckRow(x.id, x.name, links.get(x.id, ""), *overview.check_text(x, book, lang))
                   for x in o.data_checks],
        "since": _since(p, since, links) if since is not None else None,
        "columns": _columns(p, o, g),
        "accounts": [_account(p, o, g, r, links.get(r.id, "")) for r in rows],
        "finals": [Option(v, t.get(lang) or v) for v, t in book.dimensions["final"].values]
        if "final" in book.dimensions else [],
        "has_links": bool(links),
    }


def _course(rows: Sequence[Row], tier: str) -> str:
    """How many accounts the rulebook's absolute thresholds put in this tier (its `tier`
    dimension), beside the count by rank; not for the accounts that are not ranked."""
    return str(sum(1 for r in rows if r.dims.get("tier") == tier)) if tier != UNRANKED else NONE


def _ranked_by(p: Portfolio, o: overview.Overview, g: Grouping) -> list[str]:
    """The summary's own sentences on the ranking: what ranks the accounts, the bands, who is left out."""
    lang, pf = p.lang, p.book.playbook.portfolio
    if not o.ranking.size:
        return [i18n.t("dashboard.ranked_by_none", lang)]
    out = [overview.pyramid_intro(o, lang, p.book) if g.attr == "tier" else overview.abc_text(o, lang)]
    if o.ranking.by == "revenue" and o.profit and pf.rank_by == "auto":
        out.append(i18n.t("dashboard.by_revenue_auto", lang, profit=partial.label(p.book, o.profit, lang)))
    if o.ranking.unranked:
        out.append(overview.unranked_text(o, lang))
    return out


def _cards(p: Portfolio, o: overview.Overview) -> list[tuple[str, str]]:
    lang, s = p.lang, p.summary
    out = [(i18n.t("dashboard.accounts", lang), f"{len(p.rows):,}")]
    final = p.book.dimensions.get("final")
    for v, n in s.by_final:
        out.append((final.value_label(v, lang) if final else v, f"{n:,}"))
    if o.concentration is not None:
        out.append((i18n.t("dashboard.top20", lang), format_percent(o.concentration.top_share)))
    if o.data_checks:
        out.append((i18n.t("dashboard.checks", lang), f"{len(o.data_checks):,}"))
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


def _verdicts(p: Portfolio, o: overview.Overview) -> list[VerdictLine]:
    """The overview's verdicts, in the summary's words, with the accounts the summary names."""
    lang, book = p.lang, p.book
    label = overview.labeller(book, lang)
    names = {r.id: r.name for r in p.rows}
    out = []
    for v in o.verdicts:
        items: tuple[str, ...] = ()
        if v.topic == "whale" and o.whale is not None:
            items = tuple(f"{names.get(i, i)} ({i}) {format_money(x, lang)}" for i, x in o.whale.destroyers[:SHOWN])
            if len(o.whale.destroyers) > SHOWN:
                items += (f"… (+{len(o.whale.destroyers) - SHOWN})",)
        elif v.topic == "key_without_profit":
            items = tuple(f"{f.name} ({f.id})" for f in o.key_without_profit)
        out.append(VerdictLine(v.level, v.topic, verdicts.text(v, lang, label), items,
                               "checks" if v.topic == "data_checks" else ""))
    return out


def _since(p: Portfolio, doc: Mapping[str, Any], links: Mapping[str, str]) -> dict[str, Any]:
    """The review store's comparison with `--since` (the summary's section), per account."""
    lang, book = p.lang, p.book
    dim = book.dimensions.get("tier")

    def tier(v: str | None) -> str:
        if not v or v == "—":
            return i18n.t("history.book_no_tier", lang)
        return dim.value_label(v, lang) if dim else v

    def title(rule: str) -> str:
        r = book.rule(rule)
        return (r.title.get(lang) or rule) if r else rule

    per: dict[str, dict[str, Any]] = {}

    def entry(x: Mapping[str, Any]) -> dict[str, Any]:
        return per.setdefault(str(x["account"]), {"name": str(x["name"]), "move": "", "direction": "", "new": [],
                                                  "unresolved": [], "resolved": [], "last": ""})

    tm = doc["tier_migration"]
    for m in tm["moves"]:
        e = entry(m)
        e["move"], e["direction"] = f"{tier(m['from'])} → {tier(m['to'])}", m["direction"]
    for x in doc["new_critical_warnings"]:
        entry(x)["new"].append(title(x["rule"]))
    for x in doc["unresolved_warnings"]:
        entry(x)["unresolved"].append(f"{title(x['rule'])} ({i18n.t('history.book_since_date', lang, d=x['since'])})")
    for x in doc["resolved_warnings"]:
        entry(x)["resolved"].append(title(x["rule"]))
    for x in doc["not_reviewed"]["key_accounts"]:
        entry(x)["last"] = x["last_review"] or i18n.t("history.book_never", lang)
    order = {r.id: i for i, r in enumerate(p.rows)}  # the account table's order: key accounts first, worst health
    accounts = [SinceRow(i, e["name"], links.get(i, ""), e["move"], e["direction"], tuple(e["new"]),
                         tuple(e["unresolved"]), tuple(e["resolved"]), e["last"])
                for i, e in sorted(per.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))]
    cols = [*tm["tiers"], "—"]
    matrix_rows = [r for r in cols if r in tm["matrix"]]
    used = [c for c in cols if any(tm["matrix"][r].get(c) for r in matrix_rows)]
    nr = doc["not_reviewed"]
    return {
        "title": i18n.t("history.book_title", lang, since=doc["since"]),
        "compared": i18n.t("history.book_compared", lang, n=doc["accounts"], k=doc["compared"], since=doc["since"]),
        "migration": i18n.t("history.book_migration", lang),
        "ups_downs": i18n.t("history.book_ups_downs", lang, up=tm["upgrades"], down=tm["downgrades"]),
        "matrix_cols": [tier(c) for c in used],
        "matrix": [(tier(r), [int(tm["matrix"][r].get(c, 0)) for c in used]) for r in matrix_rows],
        "stale": i18n.t("history.book_stale", lang, m=nr["months"], before=nr["before"]),
        "accounts": accounts,
    }


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


def _heat(p: Portfolio, g: Grouping) -> list[HeatRow]:
    by_rule: dict[str, tuple[str, str, list[str]]] = {}
    for r in p.rows:
        for h in r.warning_heads:
            entry = by_rule.setdefault(h.rule, (h.title, h.severity, []))
            entry[2].append(g.of[r.id])
    sizes = {v: sum(1 for t in g.of.values() if t == v) for v in g.order}
    ranked = sorted(by_rule.items(), key=lambda kv: (-len(kv[1][2]), SEVERITIES.index(kv[1][1])
                                                     if kv[1][1] in SEVERITIES else 9, kv[0]))[:HEAT_ROWS]
    out = []
    for rule, (title, sev, tiers) in ranked:
        cells = tuple(HeatCell(n := sum(1 for t in tiers if t == v), charts.heat_level(n, sizes[v])) for v in g.order)
        out.append(HeatRow(rule, title, sev, _severity(sev, p.lang), len(tiers), cells))
    return out


def _columns(p: Portfolio, o: overview.Overview, g: Grouping) -> list[Column]:
    lang, book = p.lang, p.book
    cols = []
    if "final" in book.dimensions:
        cols.append(Column("final", i18n.t(HEADINGS["final"], lang), False))
    if g.attr == "tier":
        cols.append(Column("rank_tier", i18n.t("dashboard.rank_tier", lang), False))
    if o.ranking.size:
        cols.append(Column("abc", i18n.t("portfolio.col_abc", lang), False))
    for d in ("tier", "scorecard"):
        if d in book.dimensions:
            cols.append(Column(d, i18n.t(HEADINGS[d], lang), False))
    if "revenue" in book.facts:
        cols.append(Column("revenue", i18n.t(HEADINGS["revenue"], lang), True))
    if o.profit:
        cols.append(Column("profit", overview.measure_label(book, o.profit, lang), True))
    cols += [Column(s, i18n.t(HEADINGS[s], lang), True) for s in ("current_value", "potential_value", "health")
             if s in book.scores]
    cols.append(Column("warnings", i18n.t("portfolio.warnings", lang), True))
    return cols


def _num(v: float | None) -> str:
    return "" if v is None else repr(round(float(v), 4) + 0.0)


def _account(p: Portfolio, o: overview.Overview, g: Grouping, r: Row, href: str) -> AccountRow:
    lang, book = p.lang, p.book
    cells = []
    if "final" in book.dimensions:
        v = r.dims.get("final")
        cells.append(Cell(book.dimensions["final"].value_label(v, lang) if v else NONE,
                          str([x for x, _ in book.dimensions["final"].values].index(v)) if v else "9"))
    placed = o.ranking.of(r.id)
    if g.attr == "tier":
        t = g.of[r.id]
        cells.append(Cell(g.label(t) if t != UNRANKED else NONE, str(g.order.index(t)) if t != UNRANKED else "9"))
    if o.ranking.size:
        # sorts by rank: A before B before C, and within a class the higher-ranked first
        cells.append(Cell(placed.abc if placed else NONE, str(placed.rank) if placed else ""))
    for d in ("tier", "scorecard"):
        if d in book.dimensions:
            v = r.dims.get(d)
            vals = [x for x, _ in book.dimensions[d].values]
            cells.append(Cell(book.dimensions[d].value_label(v, lang) if v else NONE,
                              str(vals.index(v)) if v in vals else "9"))
    if "revenue" in book.facts:
        cells.append(Cell(_fmt_money(r.revenue, lang), _num(r.revenue), "num"))
    if o.profit:
        money = r.figures.get(o.profit)
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

def render(p: Portfolio, links: Mapping[str, str] | None = None, since: Mapping[str, Any] | None = None) -> str:
    """The dashboard's HTML. Template errors are the template's (a company overlay may replace
    portfolio.html.j2): reported at its file and line, exit 2. `since`: the review store's
    comparison with `--since` (history.use.since_portfolio)."""
    env = environment(p.book.templates)
    env.autoescape = True
    # a playbook's bounds, grown with the number of accounts: one table row is ~1 kB of output
    # and a dozen loop iterations; the charts are bounded by charts.MAX_POINTS
    n = len(p.rows)
    env.limits = dataclasses.replace(PLAYBOOK, seconds=PLAYBOOK.seconds + n / 200, output=PLAYBOOK.output + 4000 * n,
                                     iterations=PLAYBOOK.iterations + 100 * n)
    ctx = textsafe.deep(context(p, links, since), textsafe.html)
    env.filters["money"] = lambda x: NONE if x is None else format_money(float(x), p.lang)
    env.filters["pct"] = lambda x: NONE if x is None else format_percent(float(x))
    return render_template(env, TEMPLATE, ctx, reads="the dashboard's context only (docs/portfolio.md)",
                           names_doc='docs/portfolio.md, "The dashboard"')
