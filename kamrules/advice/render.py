"""Advice → playbook text (Markdown, HTML via Jinja; JSON built directly, it is a contract).

Templates are looked up in company folders first, then the built-in `playbooks/`; a company
template can `{% extends "default:playbook.md.j2" %}` the one it replaces. Company templates
are read only from the overlay's own folder tree (rulebook/templates.py) and every template
runs in the bounded sandbox (language/sandbox.py) with StrictUndefined, against the context
documented in docs/playbook-context.md. Whatever a template does wrong, from a typo to a loop
without end, is reported at its file and line (exit 2).
"""
from __future__ import annotations

import dataclasses

from typing import Any, Iterable, Mapping

from jinja2 import ChoiceLoader, PrefixLoader, StrictUndefined, TemplateError
from jinja2.exceptions import SecurityError

from kamrules import __version__
from kamrules.advice import contextmodel, partial, plan
from kamrules.advice.context import context
from kamrules.advice.model import Advice, Because, Finding
from kamrules.core import textsafe
from kamrules.core.errors import InputError, Location, Problem
from kamrules.core.resources import playbooks_dir
from kamrules.core.values import format_money, format_number, format_percent
from kamrules.language.sandbox import PLAYBOOK, BoundedEnvironment, LimitExceeded, SignedBytecodeCache
from kamrules.rulebook.model import TemplateFolder
from kamrules.rulebook.templates import ConfinedLoader, TemplateFileError, builtin_folder, display


EXTRA_KEYS = ("history", "overrides")  # context keys another stage may supply (the review store)

# The top-level names the portfolio dashboard's template (portfolio.html.j2) reads, for the
# lint of company templates (authoring/lint.py sits beside the portfolio stage and cannot import
# it); portfolio/dashboard.py builds the context and tests/test_dashboard.py checks they agree.
DASHBOARD_TEMPLATE = "portfolio.html.j2"
DASHBOARD_NAMES = frozenset({
    "kamrules", "lang", "ui", "title", "meta", "cards", "summary", "ranked_by", "profit_label", "tiers",
    "pareto", "pareto_note", "whale", "whale_total", "whale_peak", "whale_peak_share",
    "whale_losing", "whale_missing", "whale_y", "scatter", "heat", "heat_tiers", "columns", "accounts", "finals",
    "has_links", "verdicts", "pyramid_note", "checks", "since"})


def environment(folders: Iterable[TemplateFolder] = ()) -> BoundedEnvironment:
    default = ConfinedLoader([builtin_folder(str(playbooks_dir()))])
    loader = ChoiceLoader([PrefixLoader({"default": default}, delimiter=":"), ConfinedLoader(list(folders)), default])
    from kamrules.core import cache

    # compiled templates in the signed cache, keyed by real path, content and options
    bcc = SignedBytecodeCache() if cache.cache_path() is not None else None
    env = BoundedEnvironment(limits=PLAYBOOK, loader=loader, undefined=StrictUndefined, autoescape=False,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, bytecode_cache=bcc)
    env.read_records(contextmodel.TYPES)  # the context's fields are read as plain data
    env.filters["pct"] = lambda x: "—" if x is None else format_percent(float(x))
    env.filters["num"] = lambda x: "—" if x is None else format_number(float(x))
    return env


def render_text(advice: Advice, fmt: str, *, explain: list[dict[str, Any]] | None = None,
                extra: Mapping[str, Any] | None = None, brief: bool = False) -> str:
    """`extra`: context keys another stage supplies (the review store's `history` and
    `overrides`, docs/playbook-context.md); only documented keys are accepted. `brief`: the
    meeting brief alone (brief.<fmt>.j2)."""
    env = environment(advice.book.templates)
    if fmt == "html":
        env.autoescape = True
    # every string of the context is input or derived from it (names, messages, labels from
    # overlays): neutralised here, where it meets the medium; the template's own text is not
    raw = context(advice, explain=explain)
    if extra:
        unknown = set(extra) - set(EXTRA_KEYS)
        if unknown:
            raise ValueError(f"unknown playbook context key {sorted(unknown)[0]!r}")
        raw = dataclasses.replace(raw, **extra)
    ctx = textsafe.deep(raw, textsafe.html if fmt == "html" else textsafe.markdown)
    env.filters["money"] = lambda x: "—" if x is None else format_money(float(x), advice.lang)
    name = f"brief.{fmt}.j2" if brief else f"playbook.{fmt}.j2"
    # the top-level fields are the template's names
    return render_template(env, name, vars(ctx), reads="the documented context only (docs/playbook-context.md)",
                           names_doc="docs/playbook-context.md")


def render_template(env: BoundedEnvironment, name: str, ctx: Mapping[str, Any], *, reads: str, names_doc: str) -> str:
    """Render the template `name` with `ctx`. Whatever the template does wrong, from a typo to a
    loop without end, is the template's (a company overlay may replace it): an InputError at its
    file and line (exit 2). The playbook and the portfolio dashboard both render through here;
    `reads` says what a template may read, `names_doc` where its names are documented."""
    try:
        return env.get_template(name).render(ctx)
    except TemplateFileError as e:
        raise InputError([e.problem()]) from None
    except LimitExceeded as e:
        raise _template_problem(e, name, "template.limit", f"the template went past a limit: {e}",
                                "templates are bounded in time, size, loops and nesting (docs/security.md)") from None
    except SecurityError as e:
        raise _template_problem(e, name, "template.unsafe", "the template tried something the sandbox forbids",
                                f"templates may read {reads}") from None
    except TemplateError as e:
        raise _template_problem(e, name, "template.error", f"the template failed: {e.message or e}",
                                f"check the variable names against {names_doc}") from None
    except RecursionError as e:
        raise _template_problem(e, name, "template.limit", "the template is nested too deeply",
                                "templates are bounded in time, size, loops and nesting (docs/security.md)") from None
    except (ArithmeticError, LookupError, TypeError, ValueError, MemoryError) as e:
        # raised by the template's own expressions and filters: its fault, at its line
        raise _template_problem(e, name, "template.error", f"the template failed: {type(e).__name__}: {e}",
                                "check the expression on that line") from None


def _template_problem(e: BaseException, name: str, code: str, message: str, hint: str) -> InputError:
    tb = e.__traceback__
    file, line = getattr(e, "filename", None) or name, getattr(e, "lineno", 0) or 0
    while tb is not None:  # the innermost frame that belongs to a template names file and line
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            file, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
        tb = tb.tb_next
    return InputError([Problem(code, f"{message}: {e}" if code == "template.unsafe" else message,
                               Location(display(str(file)), int(line)), hint=hint)])


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
        # the points each rule added to each score (why a score is what it is, and why it moved)
        "score_parts": {s: [{"rule": r, "points": p} for r, p in sc.parts] for s, sc in advice.scores.items()},
        "findings": [_finding(f, advice) for f in advice.findings],
        "causes": [{"id": rc.cause.id, "title": rc.cause.title.get(advice.lang) or rc.cause.id,
                    "explanation": rc.cause.explanation.get(advice.lang),
                    "symptoms": [f.rule for f in rc.findings]} for rc in plan.root_causes(advice)],
        "missing_facts": sorted({m for b in advice.blocked for m in b.missing}),
        "data_checks": [{k: row[k] for k in ("fact", "value", "plausible", "text")}
                        for row in partial.data_check_rows(book, advice.facts.checks, advice.lang)],
        "blocked": [{"rule": b.rule, "concept": b.concept, "missing": list(b.missing)} for b in advice.blocked],
        "disabled": [{"rule": d.rule, "reason": d.reason, "by": d.origin.rulebook} for d in book.disabled],
    }
    if advice.suppressed:
        withdrawn = advice.suppressed_findings
        out["suppressed"] = [
            {"rule": s.rule, "concept": s.concept, "by": list(s.by),
             "findings": [_finding(f) for f in withdrawn if f.rule == s.rule],
             "classify": dict(s.classify), "score": dict(s.score), "derive": dict(s.derive)}
            for s in advice.suppressed]
    wa = plan.walk_away(advice)
    if wa is not None:
        out["walk_away"] = {"max_discount": round(wa.max_discount, 6), "floor_revenue": round(wa.floor_revenue, 2),
                            "discount": wa.discount, "revenue": wa.revenue,
                            "margin_after_cts": round(wa.margin_after_cts, 2)}
    if explain is not None:
        out["explain"] = explain
    return out


def _finding(f: Finding, advice: Advice | None = None) -> dict[str, Any]:
    out = {"rule": f.rule, "concept": f.concept, "kind": f.kind, "severity": f.severity, "priority": f.priority,
           "title": f.title, "message": f.message, "remedy": f.remedy,
           "because": [{"fact": b.fact, "value": b.value, "op": b.op, "against": b.against,
                        **({"param": b.param} if b.param else {}), **_bounded(b)} for b in f.because],
           "source": f.source, "at": f.at, **({"suppressed_by": f.suppressed_by} if f.suppressed_by else {})}
    if advice is not None:
        rule = advice.book.rule(f.rule)
        if rule is not None and rule.threshold:
            out["threshold"] = rule.threshold
        if rule is not None and rule.words.zh:
            out["words"] = rule.words.zh
        cause = plan.cause_of(advice, f)
        if cause:
            out["cause"] = cause
        act = plan.action(advice, f)
        if act is not None:
            out["action"] = {"owner_role": act.role, "owner": act.name or None, "horizon": act.horizon or None,
                             "due": act.due.isoformat()}
    return out


def _bounded(b: Because) -> dict[str, Any]:
    """A comparison decided by bounds says so, with where its unknown side lies."""
    if not b.bounded:
        return {}
    out: dict[str, Any] = {"bounded": True, "interval": list(b.interval) if b.interval else [None, None]}
    if b.against_interval is not None and b.against_interval[0] != b.against_interval[1]:
        out["against_interval"] = list(b.against_interval)
    return out


def render(advice: Advice, fmt: str, *, explain: list[dict[str, Any]] | None = None,
           extra: Mapping[str, Any] | None = None, extra_json: Mapping[str, Any] | None = None,
           brief: bool = False) -> str:
    """`extra_json`: keys added to the JSON output (the review store's `history`, `overrides`)."""
    if fmt == "json":
        doc = to_json(advice, explain=explain)
        doc.update(extra_json or {})
        return textsafe.json_dumps(doc, default=str) + "\n"
    return render_text(advice, fmt, explain=explain, extra=extra, brief=brief)
