"""A rulebook's documentation as data (rules, parameters, facts, metrics, dimensions, scores), and
as text tables: what `kamrules rules` prints."""
from __future__ import annotations

import unicodedata
from typing import Any

from kamrules.core import i18n, textsafe
from kamrules.core.values import format_value
from kamrules.rulebook.model import Rulebook, Text


def _origin(o: Any) -> dict[str, str]:
    return {"rulebook": o.rulebook, "at": str(o.location)}


def _texts(t: Text) -> dict[str, str]:
    return {"zh": t.zh, "en": t.en}


def catalog(book: Rulebook, lang: str, sections: set[str], effective: bool) -> dict[str, Any]:
    """The rulebook's documentation as plain data (the json format; tables are drawn from it)."""
    out: dict[str, Any] = {"rulebook": {"id": book.id, "version": book.version, "title": book.title.get(lang),
                                        "digest": book.digest, "chain": list(book.chain)}}
    if effective:
        from kamrules.core.resources import is_builtin_display

        out["rulebook"]["files"] = list(book.files)
        # where each part came from: a copy of rules/course/ uses its own files, an overlay the built-in course
        out["rulebook"]["parts"] = [{"id": i, "file": f, "builtin": is_builtin_display(f)}
                                    for i, f in zip(book.chain, book.files)]

    def with_origin(row: dict[str, Any], o: Any) -> dict[str, Any]:
        if effective:
            row["origin"] = _origin(o)
        return row

    if "rules" in sections:
        rows = []
        for r in sorted(book.rules, key=lambda r: (r.origin.location.file, r.origin.location.line, r.id)):
            msg = r.warn or r.recommend
            row = {"id": r.id, "concept": r.concept, "source": r.source,
                   "severity": msg.severity if msg else "", "title": r.title.get(lang), "priority": r.priority,
                   "when": r.when, "does": _does(r)}
            if effective:
                row["changed_by"] = list(r.changed_by)
                row["locked"] = r.locked
            rows.append(with_origin(row, r.origin))
        out["rules"] = rows
        if effective:
            out["disabled"] = [{"rule": d.rule, "reason": d.reason, "by": d.origin.rulebook, "at": str(d.origin.location)}
                               for d in book.disabled]
    if "parameters" in sections:
        out["parameters"] = [with_origin({"name": p.name, "type": p.type, "value": p.value,
                                          "value_text": _value_text(p.value, p.type, lang), "source": p.source,
                                          "label": p.label.get(lang)}, p.origin)
                             for p in sorted(book.params.values(), key=lambda p: p.name)]
    if "facts" in sections:
        out["facts"] = [with_origin(_fact_row(f), f.origin) for f in book.facts.values()]
    if "metrics" in sections:
        out["metrics"] = [with_origin({"name": m.name, "type": m.type, "formula": m.formula,
                                       "label": m.label.get(lang)}, m.origin) for m in book.metrics.values()]
    if "dimensions" in sections:
        out["dimensions"] = [with_origin({"name": d.name, "hit_policy": d.hit_policy,
                                          "values": [v for v, _ in d.values], "label": d.label.get(lang)}, d.origin)
                             for d in book.dimensions.values()]
    if "scores" in sections:
        out["scores"] = [with_origin({"name": s.name, "min": s.min, "max": s.max, "label": s.label.get(lang)}, s.origin)
                         for s in book.scores.values()]
    if "derived" in sections and book.derived:
        out["derived"] = [with_origin({"name": d.name, "type": d.type, "label": d.label.get(lang)}, d.origin)
                          for d in book.derived.values()]
    return out


def _value_text(v: Any, type_: str, lang: str) -> str:
    if type_ == "money":
        from kamrules.core.values import format_money

        return format_money(float(v), lang, exact=True)
    return format_value(v, type_, lang)


def _does(r: Any) -> list[str]:
    parts = [f"classify {d} = {v}" for d, v in r.classify]
    parts += [f"score {s} += {e}" for s, e in r.score]
    parts += [f"derive {n}" for n, _ in r.derive]
    parts += ["warn"] if r.warn else []
    parts += ["recommend"] if r.recommend else []
    return parts


def _fact_row(f: Any) -> dict[str, Any]:
    type_ = f.type
    if f.type == "enum":
        type_ = "enum(" + "|".join(f.value_names) + ")"
    elif f.type == "list":
        type_ = "list of {" + ", ".join(i.name for i in f.items) + "}" if f.items else f"list of {f.item_type or 'string'}"
    return {"name": f.name, "type": type_, "unit": f.unit, "label": _texts(f.label), "aliases": list(f.aliases),
            "group": f.group, "required": f.required}


# section → (heading: its catalogue key, key of the value); "origin" is added with --effective
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "rules": [("rules.head_id", "id"), ("rules.head_concept", "concept"), ("rules.head_source", "source"),
              ("rules.head_severity", "severity"), ("rules.head_title", "title")],
    "parameters": [("rules.head_name", "name"), ("rules.head_value", "value_text"),
                   ("rules.head_source", "source"), ("rules.head_label", "label")],
    "facts": [("rules.head_name", "name"), ("rules.head_type", "type"), ("rules.head_unit", "unit"),
              ("rules.head_label_zh", "label.zh"), ("rules.head_label_en", "label.en"),
              ("rules.head_aliases", "aliases")],
    "metrics": [("rules.head_name", "name"), ("rules.head_type", "type"), ("rules.head_formula", "formula"),
                ("rules.head_label", "label")],
    "dimensions": [("rules.head_name", "name"), ("rules.head_hit_policy", "hit_policy"),
                   ("rules.head_values", "values"), ("rules.head_label", "label")],
    "scores": [("rules.head_name", "name"), ("rules.head_min", "min"), ("rules.head_max", "max"),
               ("rules.head_label", "label")],
    "derived": [("rules.head_name", "name"), ("rules.head_type", "type"), ("rules.head_label", "label")],
    "disabled": [("rules.head_rule", "rule"), ("rules.head_reason", "reason"), ("rules.head_by", "by"),
                 ("rules.head_at", "at")],
}
SECTION_TITLES = {
    "rules": "rules.section_rules", "parameters": "rules.section_parameters", "facts": "rules.section_facts",
    "metrics": "rules.section_metrics", "dimensions": "rules.section_dimensions", "scores": "rules.section_scores",
    "derived": "rules.section_derived", "disabled": "rules.section_disabled",
}


def _cell(row: dict[str, Any], key: str) -> str:
    value: Any = row
    for part in key.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    if isinstance(value, bool):
        return "locked" if value and key == "locked" else ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _columns(section: str, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    cols = list(COLUMNS[section])
    if rows and "origin" in rows[0]:
        cols += [("rules.head_from", "origin.rulebook"), ("rules.head_at", "origin.at")]
        if section == "rules":
            cols += [("rules.head_changed_by", "changed_by"), ("rules.head_locked", "locked")]
    return cols


def render_catalog(data: dict[str, Any], fmt: str, lang: str) -> str:
    book = data["rulebook"]
    # titles, labels and messages may come from an overlay: each cell is neutralised for the
    # medium (Markdown, or one line of a terminal table)
    cell = textsafe.markdown if fmt == "md" else textsafe.line
    head = cell(f"{book['id']} {book['version']}: {book['title']}")
    lines = [f"# {head}" if fmt == "md" else head, ""]
    if "files" in book:  # --effective
        lines += [f"digest: {book['digest']}", f"chain: {cell(' → '.join(book['chain']))}"]
        width = max((len(p["id"]) for p in book["parts"]), default=0)
        built_in = i18n.t("rules.built_in", lang)
        parts = [f"{p['id'].ljust(width)}  {p['file']}{built_in if p['builtin'] else ''}" for p in book["parts"]]
        if fmt == "md":
            lines += ["", *(f"- {cell(r)}" for r in parts), ""]
        else:
            lines += [*(f"  {cell(r)}" for r in parts), ""]
    for section in COLUMNS:
        rows = data.get(section)
        if rows is None:
            continue
        title = i18n.t(SECTION_TITLES[section], lang)
        cols = _columns(section, rows)
        # a terminal table keeps its short English headings (scripts and older docs match them); md is for people
        heads = [i18n.t(h, lang if fmt == "md" else "en") for h, _ in cols]
        table = [heads] + [[cell(_cell(r, k)) for _, k in cols] for r in rows]
        if fmt == "md":
            lines += [f"## {title} ({len(rows)})", ""] + _md_table(table) + [""]
        else:
            lines += [f"{title} ({len(rows)})"] + _text_table(table) + [""]
    return "\n".join(lines).rstrip() + "\n"


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


def _text_table(table: list[list[str]]) -> list[str]:
    if len(table) == 1:
        return ["  —"]
    widths = [max(_width(row[i]) for row in table) for i in range(len(table[0]))]
    out = []
    for row in table:
        cells = [c + " " * (w - _width(c)) for c, w in zip(row, widths)]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def _md_table(table: list[list[str]]) -> list[str]:
    # the cells are already escaped for Markdown (render_catalog)
    out = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    out += ["| " + " | ".join(row) + " |" for row in table[1:]]
    return out
