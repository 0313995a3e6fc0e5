"""The reports of a rule-test run: pretty text for a terminal, and JSON for scripts."""
from __future__ import annotations

from typing import Any

from kamrules.advice import explain as ex
from kamrules.authoring.ruletests.records import CaseResult, Coverage, Report
from kamrules.core import textsafe


def pretty(report: Report, *, coverage: bool = False, min_coverage: float | None = None) -> str:
    lines: list[str] = []
    for f in report.files:
        if f.problems:
            lines.append(textsafe.line(f"ERROR {f.file}: the test file cannot be used"))
            lines += ["      " + line for p in f.problems for line in p.render().splitlines()]
        for c in f.cases:
            lines.append(textsafe.line(f"{c.status:<5} {c.location.file}:{c.location.line}  {c.name}"))
            lines += _case_details(c)
    n = report.counts()
    summary = (f"{n['cases']} case{'s' if n['cases'] != 1 else ''}: {n['passed']} passed, {n['failed']} failed, "
               f"{n['errors']} error{'s' if n['errors'] != 1 else ''}")
    if n["file_errors"]:
        summary += f"; {n['file_errors']} test file{'s' if n['file_errors'] != 1 else ''} unusable"
    lines += ["", f"{summary} (engines: {', '.join(report.engines)})"]
    if coverage or min_coverage is not None:
        lines += [""] + coverage_lines(report.coverage, detailed=coverage)
    if min_coverage is not None:
        pct = report.coverage.rule_percent()
        verdict = "ok" if pct >= min_coverage else "FAIL"
        lines.append(f"rule coverage {pct:.1f}% (minimum {min_coverage:g}%): {verdict}")
    return "\n".join(lines) + "\n"


def _case_details(c: CaseResult) -> list[str]:
    pad = "      "
    lines: list[str] = []
    for f in c.failures:
        lines.append(textsafe.line(f"{pad}{f.message}"))  # case names and values are input: one line each
    for p in c.problems:
        lines += [pad + line for line in p.render().splitlines()]
    if c.explanations:
        lines.append(f"{pad}explanation:")
        lines += ex.pretty_lines(c.explanations, indent=pad + "  ")
    return lines


def coverage_lines(cov: Coverage, *, detailed: bool = True) -> list[str]:
    data = cov.as_dict()
    lines = []
    for b in data["rulebooks"]:
        rb = b["rulebook"]
        lines.append(f"coverage of rulebook {rb['id']} {rb['version']}:")
        r, c, v = b["rules"], b["conditions"], b["dimension_values"]
        lines.append(f"  rules fired in some test: {r['covered']}/{r['total']} ({r['percent']:g}%)")
        if detailed:
            lines += [f"    never fired: {x['rule']} ({x['at']})" for x in r["never_fired"]]
        lines.append(f"  conditions seen both true and false: {c['covered']}/{c['total']} ({c['percent']:g}%)")
        if detailed:
            lines += [f"    {x['rule']}: {x['condition']} (seen: {', '.join(x['seen']) or 'never evaluated'})"
                      for x in c["not_both"]]
        lines.append(f"  dimension values produced: {v['covered']}/{v['total']} ({v['percent']:g}%)")
        if detailed:
            lines += [f"    {x['dimension']}: never {x['value']}" for x in v["never_produced"]]
    if len(data["rulebooks"]) > 1:
        r, c, v = data["rules"], data["conditions"], data["dimension_values"]
        lines.append(f"all rulebooks (each rule counted once, where it is defined): rules {r['covered']}/{r['total']} "
                     f"({r['percent']:g}%), conditions {c['covered']}/{c['total']} ({c['percent']:g}%), "
                     f"dimension values {v['covered']}/{v['total']} ({v['percent']:g}%)")
    return lines


def to_json(report: Report, *, coverage: bool = False, min_coverage: float | None = None) -> dict[str, Any]:
    from kamrules import __version__

    out: dict[str, Any] = {
        "kamrules": __version__,
        "engines": list(report.engines),
        "summary": report.counts(),
        "files": [{"file": f.file, "rulebook": f.rulebook, "problems": [p.as_dict() for p in f.problems],
                   "cases": [c.as_dict() for c in f.cases]} for f in report.files],
    }
    if coverage or min_coverage is not None:
        out["coverage"] = report.coverage.as_dict()
    if min_coverage is not None:
        out["min_coverage"] = {"minimum": min_coverage, "rules_percent": round(report.coverage.rule_percent(), 1),
                               "ok": report.coverage.rule_percent() >= min_coverage}
    out["exit_code"] = report.exit_code(min_coverage)
    return out
