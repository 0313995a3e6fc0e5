"""History, diff and replay for people: terminal text (with sparklines), a self-contained HTML
page (inline SVG chart, everything escaped), and JSON for scripts."""
from __future__ import annotations

import html
import json
from typing import Any, Mapping, Sequence

from kamrules.advice.contextmodel import HistorySection
from kamrules.core.i18n import t
from kamrules.core.values import format_number
from kamrules.history.store import Summary
from kamrules.rulebook.model import Rulebook
from kamrules.rulebook.vocabulary import SEVERITIES

SPARKS = "▁▂▃▄▅▆▇█"
SCORES = ("current_value", "potential_value", "health")


def sparkline(values: Sequence[float | None], lo: float = 0.0, hi: float = 100.0) -> str:
    span = (hi - lo) or 1.0
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            i = int(round((min(max(v, lo), hi) - lo) / span * (len(SPARKS) - 1)))
            out.append(SPARKS[i])
    return "".join(out)


def _label(book: Rulebook, dim: str, value: str | None, lang: str) -> str:
    if value is None:
        return "—"
    d = book.dimensions.get(dim)
    return d.value_label(value, lang) if d else value


def _counts(s: Summary) -> list[int]:
    ws = s.warnings()
    return [sum(1 for f in ws if f.severity == sev) for sev in SEVERITIES[:4]]


def review_json(s: Summary) -> dict[str, Any]:
    return {"review": s.id, "as_of": s.as_of.isoformat(), "recorded_at": s.recorded_at.isoformat(),
            "recorded_by": s.recorded_by, "classification": dict(s.dims), "scores": dict(s.scores),
            "warnings": dict(zip(SEVERITIES[:4], _counts(s))),
            "accepted": sorted({f.rule for f in s.findings if f.suppressed}),
            "rulebook": {"id": s.rulebook_id, "version": s.rulebook_version, "digest": s.rulebook_digest},
            "engine": s.engine, "kamrules": s.kamrules_version, "facts_digest": s.facts_digest,
            "result_digest": s.result_digest}


def history_json(account: str, shown: str, series: Sequence[Summary], superseded: int) -> str:
    name = series[-1].account_name if series else account
    doc = {"account": {"id": account, "name": name}, "store": shown, "superseded": superseded,
           "reviews": [review_json(s) for s in series]}
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def history_text(book: Rulebook, lang: str, account: str, shown: str, series: Sequence[Summary],
                 superseded: int) -> str:
    name = series[-1].account_name if series else account
    lines = [t("history.head", lang, name=name, id=account, n=len(series), store=shown)]
    if superseded:
        lines.append(t("history.superseded", lang, n=superseded))
    dims = [d for d in ("final", "tier") if d in book.dimensions]
    scores = [s for s in SCORES if s in book.scores]
    for sc in scores:
        vals = [s.scores.get(sc) for s in series]
        sd = book.scores[sc]
        last = vals[-1] if vals else None
        label = sd.label.get(lang) or sc
        lines.append(f"  {label}{' ' * max(1, 16 - _width(label))}{sparkline(vals, sd.min, sd.max)}  "
                     f"{'—' if last is None else format_number(last)}")
    head = [t("history.review", lang), t("history.as_of", lang), *[(book.dimensions[d].label.get(lang) or d)[:14] for d in dims],
            *[(book.scores[s].label.get(lang) or s)[:10] for s in scores], t("history.warnings", lang), t("history.rulebook", lang),
            t("history.by", lang)]
    rows = [head]
    for s in series:
        rows.append([f"#{s.id}", s.as_of.isoformat(), *[_label(book, d, s.dims.get(d), lang) for d in dims],
                     *["—" if s.scores.get(x) is None else format_number(float(s.scores[x] or 0)) for x in scores],
                     "/".join(str(n) for n in _counts(s)), s.rulebook_digest[7:19], s.recorded_by])
    widths = [max(_width(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        lines.append("  " + "  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths)).rstrip())
    return "\n".join(lines) + "\n"


def _width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


def history_html(book: Rulebook, lang: str, account: str, shown: str, series: Sequence[Summary],
                 superseded: int) -> str:
    e = html.escape
    name = series[-1].account_name if series else account
    scores = [s for s in SCORES if s in book.scores]
    colours = {"current_value": "#2563eb", "potential_value": "#16a34a", "health": "#dc2626"}
    w, h, pad = 640, 240, 36
    n = len(series)

    def x(i: int) -> float:
        return pad + (w - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float, sc: str) -> float:
        sd = book.scores[sc]
        return h - pad - (h - 2 * pad) * ((v - sd.min) / ((sd.max - sd.min) or 1))

    svg = [f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="{e(t("history.title", lang))}" '
           f'xmlns="http://www.w3.org/2000/svg">',
           f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" fill="#f8fafc" stroke="#cbd5e1"/>']
    for g in (0, 25, 50, 75, 100):
        yy = h - pad - (h - 2 * pad) * g / 100
        svg.append(f'<line x1="{pad}" x2="{w - pad}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e2e8f0"/>'
                   f'<text x="{pad - 6}" y="{yy + 4:.1f}" font-size="10" text-anchor="end">{g}</text>')
    for i, s in enumerate(series):
        svg.append(f'<text x="{x(i):.1f}" y="{h - pad + 14}" font-size="10" text-anchor="middle">'
                   f'{e(s.as_of.isoformat())}</text>')
    for k, sc in enumerate(scores):
        pts = [(x(i), y(float(v), sc)) for i, s in enumerate(series) if (v := s.scores.get(sc)) is not None]
        colour = colours.get(sc, "#334155")
        if pts:
            svg.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
            svg.extend(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in pts)
        svg.append(f'<text x="{pad + 4 + 150 * k}" y="{pad - 10}" font-size="12" fill="{colour}">'
                   f'● {e(book.scores[sc].label.get(lang) or sc)}</text>')
    svg.append("</svg>")
    dims = [d for d in ("final", "tier") if d in book.dimensions]
    head = [t("history.review", lang), t("history.as_of", lang), *[book.dimensions[d].label.get(lang) or d for d in dims],
            *[book.scores[s].label.get(lang) or s for s in scores], t("history.warnings", lang), t("history.rulebook", lang),
            t("history.by", lang)]
    rows = "".join(
        "<tr>" + "".join(f"<td>{e(c)}</td>" for c in [
            f"#{s.id}", s.as_of.isoformat(), *[_label(book, d, s.dims.get(d), lang) for d in dims],
            *["—" if s.scores.get(x_) is None else format_number(float(s.scores[x_] or 0)) for x_ in scores],
            "/".join(str(c) for c in _counts(s)), s.rulebook_digest[7:19], s.recorded_by]) + "</tr>\n"
        for s in series)
    title = f"{t('history.title', lang)} · {name} ({account})"
    return ("<!DOCTYPE html>\n"
            f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#0f172a}}"
            "svg{max-width:100%;height:auto}.wrap{overflow-x:auto}table{border-collapse:collapse}"
            "td,th{border-bottom:1px solid #e2e8f0;padding:.3rem .6rem;text-align:left;white-space:nowrap}"
            "</style></head><body>\n"
            f"<h1>{e(title)}</h1>\n<p>{e(t('history.head', lang, name=name, id=account, n=len(series), store=shown))}"
            f"{(' ' + e(t('history.superseded', lang, n=superseded))) if superseded else ''}</p>\n"
            + "".join(svg) + "\n<div class=\"wrap\"><table><thead><tr>"
            + "".join(f"<th>{e(c)}</th>" for c in head) + "</tr></thead><tbody>\n" + rows
            + "</tbody></table></div>\n</body></html>\n")


def diff_text(sections: Sequence[HistorySection], head: str, notes: Sequence[str], facts: str) -> str:
    out = [head]
    out.extend(f"  {n}" for n in notes)
    for sec in sections:
        out.append(f"{sec.heading}:")
        for line in sec.lines:
            out.append(f"  - {line.text}")
            out.extend(f"      {r}" for r in line.rules)
    if facts:
        out.append(facts)
    return "\n".join(out) + "\n"


def since_markdown(doc: Mapping[str, Any], book: Rulebook, lang: str) -> str:
    def cell(x: str) -> str:
        return x.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    def tier(v: str) -> str:
        return t("history.book_no_tier", lang) if v == "—" else _label(book, "tier", v, lang)

    def rule(r: str) -> str:
        x = book.rule(r)
        return (x.title.get(lang) or r) if x else r

    tm = doc["tier_migration"]
    out = ["", f"## {t('history.book_title', lang, since=doc['since'])}", "",
           t("history.book_compared", lang, n=doc["accounts"], k=doc["compared"], since=doc["since"]), "",
           f"### {t('history.book_migration', lang)}", ""]
    cols = [*tm["tiers"], "—"]
    rows = [r for r in [*tm["tiers"], "—"] if r in tm["matrix"]]
    used = [c for c in cols if any(tm["matrix"][r].get(c) for r in rows)]
    out.append("| | " + " | ".join(cell(tier(c)) for c in used) + " |")
    out.append("|---|" + "---:|" * len(used))
    for r in rows:
        out.append(f"| {cell(tier(r))} | " + " | ".join(str(tm["matrix"][r].get(c, 0)) for c in used) + " |")
    out += ["", t("history.book_ups_downs", lang, up=tm["upgrades"], down=tm["downgrades"])]
    for m in tm["moves"]:
        out.append(f"- {'↑' if m['direction'] == 'up' else '↓'} {cell(m['name'])} (`{m['account']}`): "
                   f"{cell(tier(m['from']))} → {cell(tier(m['to']))}")
    out += ["", f"### {t('history.book_new_critical', lang)}", ""]
    out += [f"- {cell(w['name'])} (`{w['account']}`): {cell(rule(w['rule']))}" for w in doc["new_critical_warnings"]] \
        or [t("history.book_none", lang)]
    out += ["", f"### {t('history.book_unresolved', lang)}", ""]
    out += [f"- {cell(w['name'])} (`{w['account']}`): {cell(rule(w['rule']))} "
            f"({t('history.book_since_date', lang, d=w['since'])})" for w in doc["unresolved_warnings"]] or [t("history.book_none", lang)]
    out += ["", f"### {t('history.book_resolved', lang)}", ""]
    out += [f"- {cell(w['name'])} (`{w['account']}`): {cell(rule(w['rule']))}" for w in doc["resolved_warnings"]] \
        or [t("history.book_none", lang)]
    nr = doc["not_reviewed"]
    out += ["", f"### {t('history.book_stale', lang, m=nr['months'], before=nr['before'])}", ""]
    out += [f"- {cell(a['name'])} (`{a['account']}`): {a['last_review'] or t('history.book_never', lang)}"
            for a in nr["key_accounts"]] or [t("history.book_none", lang)]
    return "\n".join(out) + "\n"
