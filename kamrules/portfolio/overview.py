"""The portfolio's own picture: every metric and verdict of one run, in one frozen object.

`overview` gathers the metrics (metrics.py) and the verdicts (verdicts.py) from the evaluated
rows and the first pass's ranking (`of_rows` ranks the rows themselves when the run had no first
pass); `to_json` is its declared JSON shape (docs/portfolio.md, "The JSON summary"), `markdown`
its lines in the Markdown summary. The HTML dashboard (dashboard.py) reads the same object: one
ranking, one set of bands, one profit measure, one list of data checks and one set of verdicts
for every output. Nothing here evaluates an account.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from kamrules.advice import partial
from kamrules.core.i18n import t
from kamrules.core.textsafe import Stream
from kamrules.core.textsafe import markdown as md
from kamrules.core.values import format_money, format_percent, format_value
from kamrules.engine.facts import DataCheck
from kamrules.language import ir
from kamrules.portfolio import metrics, rank, verdicts
from kamrules.portfolio.rank import Measures, Ranking
from kamrules.rulebook.model import Rulebook

SPREAD_DIMENSIONS = ("final", "single_indicator", "tier")  # where absolute thresholds decide
SHOWN_HITS = 10  # rules listed in the Markdown summary (JSON: all)


@dataclass(frozen=True)
class RowView:
    """What the overview reads of one evaluated account (portfolio.Row gives it)."""

    id: str
    name: str
    classes: Mapping[str, str | None]  # dimension → value
    fired: tuple[str, ...]
    manager: str | None
    checks: tuple[DataCheck, ...] = ()  # values outside their fact's plausible range
    figures: Mapping[str, float | None] = field(default_factory=dict)  # figure_names(): measures, data-check figures


@dataclass(frozen=True)
class Band:
    name: str  # tier, or A/B/C ("" for the accounts not ranked)
    accounts: int
    share: float  # of the ranked measure's positive total
    revenue_share: float | None = None  # of the book's positive revenue (None: no account has one)
    profit_share: float | None = None  # of the book's profit (None: no profit measure, or the book earns nothing)


@dataclass(frozen=True)
class Overview:
    ranking: Ranking
    tiers: tuple[Band, ...]  # in the bands' order
    abc: tuple[Band, ...]  # A, B, C
    concentration: metrics.Concentration | None  # of revenue
    whale: metrics.Whale | None
    spreads: tuple[metrics.Spread, ...]
    managers: metrics.Managers
    key_without_profit: tuple[metrics.Flagged, ...]
    data_checks: tuple[metrics.Check, ...]
    hits: metrics.HitStats
    verdicts: tuple[verdicts.Verdict, ...]
    unranked: Band | None = None  # the accounts without the ranked measure, as a band of their own
    profit: str = ""  # the profit measure (playbook.portfolio.rank.profit; "" = none declared)
    revenue: str = "revenue"  # the revenue measure


def _band(name: str, share: float, members: Sequence[int], rev: Sequence[float], profit: Sequence[float] | None,
          totals: tuple[float, float | None]) -> Band:
    """A band's accounts (indexes into the measures, in the band's order) and their shares of the
    book's revenue and profit (totals: the positive revenue of every account, the profit of every
    account that gives one). Columns, NaN where missing: no account is rebuilt for this."""
    rev_total, profit_total = totals
    # NaN > 0 is false: the missing ones drop out with the others that are not positive
    rv = sum(v for v in map(rev.__getitem__, members) if v > 0)
    pv = sum(v for v in map(profit.__getitem__, members) if v == v) if profit is not None else 0.0
    return Band(name, len(members), share, rv / rev_total if rev_total > 0 else None,
                pv / profit_total if profit_total is not None and profit_total > 0 else None)


def _bands(names: Sequence[str], ranking: Ranking, attr: str, rev: Sequence[float], profit: Sequence[float] | None,
           totals: tuple[float, float | None]) -> tuple[Band, ...]:
    ps = ranking.placements
    assert isinstance(ps, rank.Placements), "rankings are made by rank.rank_columns"
    values, order = ps.values, ps.order
    codes = ps.tiers if attr == "tier" else ps.abc
    labels = ps.tier_names if attr == "tier" else ("A", "B", "C")
    total = sum(v for v in values if v > 0)
    out = []
    by_code: list[list[int]] = [[] for _ in labels]  # each code's ranks, in one pass
    for k, c in enumerate(codes):
        by_code[c].append(k)
    for n in names:  # each band's accounts in rank order, as the placements list them
        mine = [by_code[c] for c, label in enumerate(labels) if label == n]
        ks = mine[0] if len(mine) == 1 else sorted(k for got in mine for k in got)  # labels are unique: one
        share = sum(v for v in map(values.__getitem__, ks) if v > 0) / total if total > 0 else 0.0
        out.append(_band(n, share, list(map(order.__getitem__, ks)), rev, profit, totals))
    return tuple(out)


def _concentration(ranking: Ranking, ids: Sequence[str], rev_col: Sequence[float], rev: str,
                   share: float) -> metrics.Concentration | None:
    """Of revenue. A ranking by revenue has the accounts in the order concentration wants them
    (largest first, ties by id): its positive values, a prefix of it, are read in place."""
    ps = ranking.placements
    if ranking.measure == rev and isinstance(ps, rank.Placements):
        m = sum(1 for v in ps.values if v > 0)  # sorted largest first: the positive ones lead
        # the values' prefix copied (8 bytes each): the sums then run in C, not through a view
        return metrics.concentration_ranked(_Prefix(ps.order, ids, m), ps.values[:m], share)
    return metrics.concentration(((ids[i], v) for i, v in enumerate(rev_col) if v == v), share)


class _Prefix(Sequence[Any]):
    """items[index[j]] for the first n js: a view, nothing copied."""

    def __init__(self, index: Sequence[int], items: Sequence[Any], n: int) -> None:
        self.at, self.items, self.n = index, items, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, j: Any) -> Any:
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(self.n))]
        if not -self.n <= j < self.n:
            raise IndexError(j)
        return self.items[self.at[j % self.n]]

    def __iter__(self) -> Iterator[Any]:
        items, index = self.items, self.at
        for j in range(self.n):
            yield items[index[j]]


_READS: dict[tuple[str, str], tuple[str, ...]] = {}  # (rulebook digest, rule) → the figures it reads


def check_reads(book: Rulebook, rule_id: str) -> tuple[str, ...]:
    """The facts and metrics a data-check rule's condition reads, in order: the figures its check shows."""
    key = (book.digest, rule_id)
    got = _READS.get(key)
    if got is None:
        r = book.rule(rule_id)
        got = tuple(dict.fromkeys(x.name for x in ir.refs(r.cond) if x.kind in ("fact", "metric"))) if r else ()
        if book.digest:
            _READS[key] = got
    return got


_FIGURES: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {}  # digest → (the ranking's measures, check rules)


def figure_names(book: Rulebook, fired: Iterable[str]) -> tuple[str, ...]:
    """What a portfolio row keeps of an account's figures: the ranking's measures (revenue, profit,
    the calibrated ones) and the figures of the data-check rules that fired for it."""
    known = _FIGURES.get(book.digest) if book.digest else None
    if known is None:
        pf = book.playbook.portfolio
        known = (rank.wanted(pf), frozenset(pf.checks))
        if book.digest:
            _FIGURES[book.digest] = known
    wanted, checks = known
    hits = [r for r in fired if r in checks]
    if not hits:  # most accounts: no data check fired
        return wanted
    return tuple(dict.fromkeys([*wanted, *(n for r in hits for n in check_reads(book, r))]))


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _checks(rows: Iterable[RowView], book: Rulebook) -> tuple[metrics.Check, ...]:
    wanted = set(book.playbook.portfolio.checks)

    def rule_hits(r: RowView) -> list[metrics.RuleHit]:
        return [(rid, [(n, v) for n in check_reads(book, rid) if (v := _number(r.figures.get(n))) is not None])
                for rid in r.fired if rid in wanted]

    return metrics.data_checks((r.id, r.name, rule_hits(r), [(c.fact, c.value, c.low, c.high) for c in r.checks])
                               for r in rows)


def _param(book: Rulebook, name: str, default: float) -> float:
    p = book.params.get(name)
    return float(p.value) if p is not None and isinstance(p.value, (int, float)) else default


_FINAL = SPREAD_DIMENSIONS.index("final")
Group = tuple[tuple["str | None", ...], "str | None", tuple[str, ...], int]  # classes, manager, fired, accounts


def _groups(rows: Sequence[RowView]) -> Sequence[Group]:
    """The accounts grouped by what the overview counts of them — their classes in
    SPREAD_DIMENSIONS, their manager, the rules that fired —, one group per combination with its
    number of accounts. A streamed run's columns (fold._RowViews.counted) group without making a
    RowView per account: a 100,000-account book has a few thousand groups."""
    counted: Callable[[Sequence[str]], Sequence[Group]] | None = getattr(rows, "counted", None)
    if counted is not None:
        return counted(SPREAD_DIMENSIONS)
    by = Counter((tuple(r.classes.get(d) for d in SPREAD_DIMENSIONS), r.manager, r.fired) for r in rows)
    return [(cls, m, fired, n) for (cls, m, fired), n in by.items()]


def _counts(groups: Sequence[Group], k: int) -> Counter[str | None]:
    counts: Counter[str | None] = Counter()
    for cls, _, _, n in groups:
        counts[cls[k]] += n
    return counts


def _named(rows: Sequence[RowView]) -> Sequence[RowView]:
    """The accounts the overview may name — key accounts, accounts with a data check —, or all
    of them: a streamed run's columns (fold._RowViews.named) keep only those few."""
    named: Callable[[], Iterable[RowView]] | None = getattr(rows, "named", None)
    return rows if named is None else list(named())


def overview(rows: Sequence[RowView], ranking: Ranking, ms: Sequence[Measures], book: Rulebook) -> Overview:
    """ranking: rank.ranking(ms, …) (Ranking.at(i) is ms[i]'s place). rows and ms may be columns
    rebuilt one account at a time (a streamed run): they are read in passes, and what is kept per
    account while reading is a few numbers, never a dict or a set of every account."""
    pf = book.playbook.portfolio
    rev = pf.rank_revenue
    rev_col = rank.column(ms, rev)
    profit_col = rank.column(ms, pf.rank_profit) if pf.rank_profit else None
    ids = ranking.ids
    conc = _concentration(ranking, ids, rev_col, rev, _param(book, "pareto_customer_share", 0.2))
    whale = None
    if profit_col is not None:
        with_profit = sum(1 for v in profit_col if v == v)
        whale = metrics.whale(((ids[i], v) for i, v in enumerate(profit_col) if v == v), len(ms) - with_profit)
    groups = _groups(rows)
    spreads = tuple(metrics.spread_counted(d, _counts(groups, k)) for k, d in enumerate(SPREAD_DIMENSIONS)
                    if d in book.dimensions)
    mgrs = metrics.managers_counted((m, cls[_FINAL] == "key", n) for cls, m, _, n in groups)
    few = _named(rows)
    kwp: tuple[metrics.Flagged, ...] = ()
    if profit_col is not None:
        keys = {r.id: r.name for r in few if r.classes.get("final") == "key"}  # the programme: a few
        has_profit = {ids[i] for i, v in enumerate(profit_col) if v == v and ids[i] in keys}
        kwp = metrics.key_without_profit((i, name, True, i in has_profit) for i, name in keys.items())
    checks = _checks(few, book)
    classes = [v for v, _ in book.dimensions["final"].values] if "final" in book.dimensions else []
    hits = metrics.rule_hits_counted(((cls[_FINAL], fired, n) for cls, _, fired, n in groups),
                                     [r.id for r in book.rules], classes)
    profit = pf.rank_profit
    rev_total = sum(v for v in rev_col if v == v and v > 0)
    totals = (rev_total, whale.total if whale is not None else None)
    tiers = _bands([n for n, _ in pf.pyramid_bands], ranking, "tier", rev_col, profit_col, totals) \
        if pf.pyramid_bands else ()
    abc = _bands(("A", "B", "C"), ranking, "abc", rev_col, profit_col, totals) if ranking.size else ()
    unranked = None
    if ranking.unranked:  # in the order of their ids, as ranking.unranked lists them
        members = sorted(ranking.unplaced(), key=ids.__getitem__)
        unranked = _band("", 0.0, members, rev_col, profit_col, totals)
    can_calibrate = bool(pf.calibrate)
    found = [
        verdicts.pareto(conc, pf), verdicts.concentration(conc, pf),
        verdicts.dependence(conc, _param(book, "major_customer_share", 0.1)),
        verdicts.whale(whale, bool(pf.rank_profit)),
        *(verdicts.one_class(s, pf, can_calibrate) for s in spreads),
        verdicts.managers(mgrs), verdicts.key_without_profit(kwp), verdicts.data_checks(checks),
    ]
    return Overview(ranking, tiers, abc, conc, whale, spreads, mgrs, kwp, checks, hits,
                    tuple(v for v in found if v is not None), unranked, profit, rev)


def of_rows(rows: Sequence[Any], book: Rulebook) -> Overview:
    """The overview of a run that ranked nothing first (the rulebook's rules do not read the
    ranking): the rows keep the ranking's measures (figure_names), so the ranking is the same
    one the first pass would have made."""
    wanted = rank.wanted(book.playbook.portfolio)
    ms = tuple(Measures(r.id, {n: x for n in wanted if (x := _number(r.figures.get(n))) is not None}) for r in rows)
    return overview(row_views(rows), rank.ranking(ms, book.playbook.portfolio), ms, book)


# --------------------------------------------------------------------------- outputs

def labeller(book: Rulebook, lang: str) -> Callable[[str, str], str]:
    """label(dimension, value): a dimension's label ("" value) or a value's (facts' enum values too)."""

    def label(dim: str, value: str) -> str:
        d = book.dimensions.get(dim)
        if d is not None:
            return d.value_label(value, lang) if value else (d.label.get(lang) or dim)
        f = book.facts.get(dim)
        if f is not None and value:
            return next((x.get(lang) for v, x in f.values if v == value and x.get(lang)), value)
        return value or dim
    return label


class _RankedJson:
    """Every ranked account's JSON object, top first, made from the placements' columns: a
    Placement made per account only to be read back into a dict was half of the time a
    100,000-account summary spent writing its ranking, after the workers are done. Iterable
    more than once (a Stream is iterated once per writing)."""

    def __init__(self, ps: Sequence[rank.Placement]) -> None:
        self.ps = ps

    def __iter__(self) -> Iterator[dict[str, Any]]:
        ps = self.ps
        if not isinstance(ps, rank.Placements):  # pragma: no cover - rankings are made by rank_columns
            yield from ({"id": p.id, "rank": p.rank, "rank_share": p.rank_share, "value": p.value,
                         "tier": p.tier or None, "abc": p.abc} for p in ps)
            return
        ids, names, abc, n = ps.ids, ps.tier_names, rank.ABC, len(ps.order)
        for k, (i, v, t, a) in enumerate(zip(ps.order, ps.values, ps.tiers, ps.abc), start=1):
            yield {"id": ids[i], "rank": k, "rank_share": k / n, "value": v, "tier": names[t] or None,
                   "abc": abc[a]}


def to_json(o: Overview, lang: str, book: Rulebook) -> dict[str, Any]:
    """The declared shape (docs/portfolio.md): numbers as numbers, shares as fractions 0–1."""
    label = labeller(book, lang)
    c, w = o.concentration, o.whale
    return {
        "ranking": {
            "by": o.ranking.by or None, "measure": o.ranking.measure, "ranked": o.ranking.size,
            "unranked": Stream(o.ranking.unranked),
            "tiers": [{"tier": b.name, "accounts": b.accounts, "share": b.share, "revenue_share": b.revenue_share,
                       "profit_share": b.profit_share} for b in o.tiers],
            "abc": [{"class": b.name, "accounts": b.accounts, "share": b.share} for b in o.abc],
            # every ranked account: written as it is made (textsafe.Stream), never held as a list
            "accounts": Stream(_RankedJson(o.ranking.placements)),
        },
        "concentration": None if c is None else {
            "accounts": c.accounts, "revenue_total": c.total, "top1": c.top1, "top1_id": c.top1_id, "top5": c.top5,
            "top_accounts": c.top_share_accounts, "top_accounts_share": c.accounts_share, "top_share": c.top_share,
            "hhi": c.hhi},
        "whale": None if w is None else {
            "accounts": len(w.ids), "without_profit": w.without_profit, "total": w.total, "peak": w.peak,
            "peak_rank": w.peak_rank, "peak_share": w.peak_share,
            "curve": Stream(range(len(w.ids)), lambda k: {"id": w.ids[k], "cumulative": w.cumulative[k]}),
            "destroyers": Stream(w.destroyers, lambda d: {"id": d[0], "profit": d[1]}), "destroyed": w.destroyed},
        "spreads": [{"dimension": s.dimension, "classified": s.classified, "dominant": s.dominant or None,
                     "dominant_share": s.dominant_share, "counts": dict(s.counts)} for s in o.spreads],
        "managers": {"unassigned": o.managers.unassigned, "mean_accounts": o.managers.mean_accounts,
                     "loads": [{"manager": m.manager, "accounts": m.accounts, "key_accounts": m.key_accounts}
                               for m in o.managers.loads]},
        "key_without_profit": [{"id": f.id, "name": f.name} for f in o.key_without_profit],
        "data_checks": [_check_json(c, book, lang) for c in o.data_checks],
        "rule_hits": {"accounts": o.hits.accounts, "never": list(o.hits.never), "always": list(o.hits.always),
                      "rules": [{"rule": h.rule, "fired": h.fired, "by_class": dict(h.by_class)}
                                for h in o.hits.rules]},
        "verdicts": [{"topic": v.topic, "code": v.code, "level": v.level, "text": verdicts.text(v, lang, label)}
                     for v in o.verdicts],
    }


def _by(o: Overview, lang: str) -> str:
    return t("portfolio.by_profit" if o.ranking.by == "profit" else "portfolio.by_revenue", lang)


def markdown(o: Overview, lang: str, book: Rulebook, names: Mapping[str, str]) -> list[str]:
    """The summary's section on the portfolio itself (Markdown lines; input text neutralised)."""
    label = labeller(book, lang)
    colon = "：" if lang == "zh" else ": "
    out = [f"### {t('portfolio.heading', lang)}", "", f"**{t('portfolio.verdicts', lang)}**", ""]
    for v in o.verdicts:
        out.append(f"- {md(verdicts.text(v, lang, label))}")
        if v.topic == "whale" and o.whale is not None and o.whale.destroyers:
            shown = ", ".join(f"{md(names.get(i, i))} (`{md(i)}`) {format_money(p, lang)}"
                              for i, p in o.whale.destroyers[:SHOWN_HITS])
            more = f" … (+{len(o.whale.destroyers) - SHOWN_HITS})" if len(o.whale.destroyers) > SHOWN_HITS else ""
            out.append(f"  - {t('portfolio.destroyers', lang)}{colon}{shown}{more}")
        if v.topic == "key_without_profit":
            out.append("  - " + ", ".join(f"{md(f.name)} (`{md(f.id)}`)" for f in o.key_without_profit))
        if v.topic == "data_checks":
            for c in o.data_checks:
                what, figures, why = check_text(c, book, lang)
                out.append(f"  - {md(c.name)} (`{md(c.id)}`){colon}"
                           + md(t("portfolio.check_row", lang, what=what, figures=figures, why=why)))
    r = o.ranking
    if r.size:
        by = _by(o, lang)
        out += ["", f"**{t('portfolio.pyramid', lang)}**", ""]
        if o.tiers:
            out.append(pyramid_intro(o, lang, book))
            out.append("")
            for b in o.tiers:
                out.append("- " + t("portfolio.tier_row", lang, tier=label(_pyramid_fact(book), b.name), n=b.accounts,
                                    by=by, share=format_percent(b.share)))
        out.append(f"- {abc_text(o, lang)}")
        if r.unranked:
            out.append("- " + unranked_text(o, lang))
    h = o.hits
    out += ["", f"**{t('portfolio.rule_hits', lang)}**", "", t("portfolio.rule_hits_intro", lang, n=h.accounts), ""]
    for x in [x for x in h.rules if x.fired][:SHOWN_HITS]:
        out.append("- " + md(t("portfolio.rule_hit_row", lang, rule=x.rule, fired=x.fired,
                               share=format_percent(x.share(h.accounts)))) + " · " + " · ".join(
            f"{md(label('final', c) if c else t('portfolio.unclassified', lang))} {n}" for c, n in x.by_class))
    if h.always:
        out.append("- " + md(t("portfolio.rules_always", lang, n=len(h.always), rules=", ".join(h.always))))
    if h.never:
        out.append("- " + md(t("portfolio.rules_never", lang, n=len(h.never), rules=", ".join(h.never))))
    return out


def pyramid_intro(o: Overview, lang: str, book: Rulebook) -> str:
    """"10 accounts ranked by revenue; bands: Platinum 1% / Gold 4% / …" (the rulebook's bands)."""
    label = labeller(book, lang)
    bands = " / ".join(f"{label(_pyramid_fact(book), n)} {format_percent(s)}"
                       for n, s in book.playbook.portfolio.pyramid_bands)
    return t("portfolio.pyramid_intro", lang, n=o.ranking.size, by=_by(o, lang), bands=bands)


def abc_text(o: Overview, lang: str) -> str:
    colon = "：" if lang == "zh" else ": "
    by = _by(o, lang)
    return f"{t('portfolio.abc', lang)}{colon}" + " · ".join(
        t("portfolio.abc_row", lang, cls=b.name, n=b.accounts, by=by, share=format_percent(b.share)) for b in o.abc)


def unranked_text(o: Overview, lang: str) -> str:
    return t("portfolio.pyramid_unranked", lang, n=len(o.ranking.unranked), by=_by(o, lang))


def measure_label(book: Rulebook, name: str, lang: str) -> str:
    """A fact's or metric's declared label, as declared (a heading, not inside a sentence)."""
    d = book.facts.get(name) or book.metrics.get(name)
    return (d.label.get(lang) or name) if d is not None else name


def csv_heads(o: Overview, lang: str) -> list[str]:
    """The CSV export's extra columns: the account's place in the book (none when nothing ranked)."""
    if not o.ranking.size:
        return []
    return [t("portfolio.col_rank", lang), t("portfolio.col_tier", lang), t("portfolio.col_abc", lang)]


def csv_cells(o: Overview, account_id: str, lang: str, book: Rulebook) -> list[Any]:
    if not o.ranking.size:
        return []
    p = o.ranking.of(account_id)
    if p is None:
        return ["", "", ""]
    tier = labeller(book, lang)(_pyramid_fact(book), p.tier) if p.tier else ""
    return [p.rank, tier, p.abc]


def _pyramid_fact(book: Rulebook) -> str:
    return book.playbook.portfolio.pyramid_fact


def _title(book: Rulebook, rule: str, lang: str) -> str:
    r = next((x for x in book.rules if x.id == rule), None)
    return (r.title.get(lang) or rule) if r is not None else rule


def row_views(rows: Iterable[Any]) -> list[RowView]:
    """portfolio.Row → RowView (duck-typed: the portfolio module is the caller)."""
    return [RowView(r.id, r.name, r.classes, r.fired, r.manager, r.checks, r.figures) for r in rows]


# --------------------------------------------------------------------------- data checks in words

def _type(book: Rulebook, name: str) -> str:
    d = book.facts.get(name) or book.metrics.get(name)
    return d.type if d is not None else "number"


def figure_text(book: Rulebook, name: str, value: float, lang: str) -> str:
    return format_value(value, _type(book, name), lang)


def check_text(c: metrics.Check, book: Rulebook, lang: str) -> tuple[str, str, str]:
    """(what looks wrong, the figures, why) of one data check, in words (input text not neutralised)."""
    sep = "；" if lang == "zh" else "; "
    if c.rules:
        what = sep.join(_title(book, r, lang) for r in c.rules)
    else:
        lab = partial.label(book, c.figures[0][0], lang)
        what = t("portfolio.check_range_what", lang, label=lab if lang == "zh" else lab[:1].upper() + lab[1:])
    figures = ("，" if lang == "zh" else ", ").join(
        f"{partial.label(book, n, lang)} {figure_text(book, n, v, lang)}" for n, v in c.figures)
    why = [t("portfolio.check_why_rule", lang, rule=r) for r in c.rules]
    if c.plausible is not None:
        lo, hi = c.plausible
        why.append(t("portfolio.check_why_range", lang,
                     r=partial.range_text(lo, hi, _type(book, c.figures[0][0]), lang)))
    return what, figures, sep.join(why)


def _check_json(c: metrics.Check, book: Rulebook, lang: str) -> dict[str, Any]:
    what, _, why = check_text(c, book, lang)
    return {"id": c.id, "name": c.name, "what": what,
            "figures": [{"name": n, "label": partial.label(book, n, lang), "value": v,
                         "text": figure_text(book, n, v, lang)} for n, v in c.figures],
            "rules": list(c.rules), "plausible": list(c.plausible) if c.plausible is not None else None, "why": why}
