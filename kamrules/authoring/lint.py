"""The lint passes of `kamrules check`: what a loader cannot see one rule at a time.

Rules that can never fire, rules made redundant or shadowed by another, overlapping bands in a
`unique` dimension, gaps between bands (all read with the constraint algebra,
`authoring.algebra`, so a finding is reported only when it is proved), messages missing a
language, template variables and filters outside the documented playbook context, and
durable_rules' limits; and the rulebook's advice invariants (authoring.invariants). `check_rulebook` (authoring.check) runs them after loading.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from kamrules.authoring.algebra import (
    Analysis,
    Band,
    bands,
    describe,
    fmt_span,
    gaps,
    is_integer,
    overlap,
    rule_implies,
    to_dnf,
)
from kamrules.authoring import invariants
from kamrules.core.errors import Location, Problem, suggest
from kamrules.language import ir
from kamrules.rulebook.model import DimensionDef, Message, Rulebook, RuleDef, TableDef, Text


def lint(book: Rulebook, *, skip: frozenset[str] = frozenset(), engine: bool = True) -> list[Problem]:
    """Lint findings for a checked rulebook; rules in `skip` (load errors) are left out."""
    rules = [r for r in book.rules if r.id not in skip]
    an = Analysis(book)
    out: list[Problem] = []
    out += never_fires(rules, an)
    live = [r for r in rules if an.dnf(r) != []]
    out += redundant_rules(live, an)
    out += shadowed_rules(live, book, an)
    out += unique_overlaps(live, book, an)
    out += band_gaps(live, book, an)
    out += table_checks(book, an, skip)
    out += invariants.check(book, skip)
    out += message_languages(book.rules)
    out += template_variables(book) if engine else []
    out += engine_limits(book) if engine else []
    return out


def _problem(code: str, message: str, loc: Location, path: str, hint: str, severity: str,
             expected: str = "") -> Problem:
    return Problem(code, message, loc, path, expected, hint, severity)


def never_fires(rules: Sequence[RuleDef], an: Analysis) -> list[Problem]:
    """Rules none of whose alternatives can hold (contradictory bounds, constant false, …)."""
    out = []
    for r in rules:
        conjs = an.conjs(r)
        if conjs is None or any(not c.conflict for c in conjs):
            continue
        match ir.nnf(r.cond):
            case ir.Truth():
                why = "its condition is the constant false"
            case _ if len(conjs) == 1:
                why = conjs[0].conflict
            case _:
                why = "none of its alternatives can hold; the first: " + conjs[0].conflict
        out.append(_problem("lint.never-fires", f"rule '{r.id}' can never fire: {why}", r.when_location,
                            f"rules[{r.id}].when",
                            "check the direction of < and >, and the parameter values; to switch a rule off "
                            "use 'disable:' with a reason", "error"))
    return out


def outputs(r: RuleDef) -> tuple[Any, ...]:
    """What a rule concludes, for comparing two rules' outputs."""
    def msg(m: Message | None) -> Any:  # where a message is written is not part of what it says
        return None if m is None else (m.severity, m.message, m.remedy, m.owner)

    return (tuple(sorted(r.classify)), tuple(r.score), tuple(sorted(r.derive, key=repr)), msg(r.warn), msg(r.recommend))


def _first_in_file(a: RuleDef, b: RuleDef) -> bool:
    return (a.origin.location.file, a.origin.location.line, a.id) <= (b.origin.location.file, b.origin.location.line, b.id)


def redundant_rules(rules: Sequence[RuleDef], an: Analysis) -> list[Problem]:
    """A rule whose condition implies another's with the same outputs adds nothing (or counts twice)."""
    groups: dict[str, list[RuleDef]] = {}
    for r in rules:
        groups.setdefault(repr(outputs(r)), []).append(r)
    out = []
    for group in groups.values():
        reported: set[str] = set()
        for b in group:
            for a in group:
                if a.id == b.id or a.id in reported or not rule_implies(an, b, a):
                    continue
                same = rule_implies(an, a, b)
                if same and not _first_in_file(a, b):
                    continue  # report the later of two equivalent rules, once
                what = "the same condition as" if same else "a condition that implies the one of"
                out.append(_problem(
                    "lint.redundant-rule",
                    f"rule '{b.id}' has {what} rule '{a.id}' ({a.origin.location}) and the same outputs: "
                    f"whenever it fires, '{a.id}' fires too",
                    b.origin.location, f"rules[{b.id}]",
                    "remove one of them (a score would be counted twice), or give them different outputs", "warning"))
                reported.add(b.id)
                break
    return out


def _beats(dim: DimensionDef, a: RuleDef, av: str, b: RuleDef, bv: str) -> bool:
    if dim.hit_policy == "priority":
        order = [v for v, _ in dim.values]
        return av in order and bv in order and order.index(av) < order.index(bv)
    return (-a.priority, a.id) < (-b.priority, b.id)  # resolve.classifications' order for `first`


def shadowed_rules(rules: Sequence[RuleDef], book: Rulebook, an: Analysis) -> list[Problem]:
    """Under a first / priority hit policy, a value that a winning rule always takes over."""
    out = []
    for dim in book.dimensions.values():
        if dim.hit_policy not in ("first", "priority"):
            continue
        members = [(r, v) for r in rules for d, v in r.classify if d == dim.name]
        for b, bv in members:
            for a, av in members:
                if a.id == b.id or av == bv or not _beats(dim, a, av, b, bv) or not rule_implies(an, b, a):
                    continue
                why = (f"'{av}' is listed before '{bv}'" if dim.hit_policy == "priority"
                       else f"'{a.id}' has priority {a.priority} vs {b.priority}" if a.priority != b.priority
                       else f"at equal priority '{a.id}' comes first")
                out.append(_problem(
                    "lint.shadowed-rule",
                    f"rule '{b.id}' classifies {dim.name} = {bv}, but whenever it fires rule '{a.id}' "
                    f"({a.origin.location}) fires too and wins ({dim.hit_policy} hit policy: {why}), "
                    f"so {dim.name} is never {bv} because of it",
                    b.origin.location, f"rules[{b.id}].then.classify.{dim.name}",
                    "narrow the winning rule's condition, or change the priorities / the order of the values",
                    "warning"))
                break
    return out


def unique_overlaps(rules: Sequence[RuleDef], book: Rulebook, an: Analysis) -> list[Problem]:
    """Two rules of a `unique` dimension that can match together, proved on a term both constrain."""
    out = []
    for dim in book.dimensions.values():
        if dim.hit_policy != "unique":
            continue
        members = [r for r in rules if any(d == dim.name for d, _ in r.classify)]
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if a.table and a.table == b.table and book.tables[a.table].hit_policy == "unique":
                    continue  # rows of one unique table: table_checks reports them, naming the table
                witness = overlap(an, a, b)
                if witness is None:
                    continue
                first, second = (a, b) if _first_in_file(a, b) else (b, a)
                out.append(_problem(
                    "lint.unique-overlap",
                    f"rules '{first.id}' and '{second.id}' both classify {dim.name} (hit policy unique) "
                    f"and can match the same account: {witness}",
                    second.origin.location, f"rules[{second.id}].when",
                    f"make the bands disjoint (e.g. < vs >=), or change {dim.name}'s hit_policy to first or priority",
                    "error"))
    return out


def band_gaps(rules: Sequence[RuleDef], book: Rulebook, an: Analysis) -> list[Problem]:
    """Rules that classify one dimension by bands of one term, leaving an interval between them."""
    out = []
    for dim in book.dimensions.values():
        by_term: dict[ir.Term, list[Band[RuleDef]]] = {}
        for r in rules:
            if not any(d == dim.name for d, _ in r.classify):
                continue
            if r.table and book.tables[r.table].complete:
                continue  # a complete table's gaps are table_checks' to report
            read = bands(an, r)
            if read is not None:
                by_term.setdefault(read[0], []).extend(Band(r, s) for s in read[1])
        for term, found in by_term.items():
            if len({b.owner.id for b in found}) >= 2:
                out += _gaps(dim.name, term, found)
    return out


def _gaps(dim: str, term: ir.Term, found: list[Band[RuleDef]]) -> list[Problem]:
    name = ir.show(term)
    out = []
    for g in gaps(found, is_integer(term)):
        below, above = g.below, g.above
        out.append(_problem(
            "lint.band-gap",
            f"rules classifying {dim} by {name} leave a gap: no rule covers {fmt_span(name, g.span, term.type)} "
            f"(between '{below.owner.id}': {fmt_span(name, below.span, term.type)} and "
            f"'{above.owner.id}': {fmt_span(name, above.span, term.type)})",
            below.owner.when_location, f"rules[{below.owner.id}].when",
            "check < against <= at the band edges, or add a rule for the missing band", "warning"))
    return out


def table_checks(book: Rulebook, an: Analysis, skip: frozenset[str] = frozenset()) -> list[Problem]:
    """Decision tables: rows of a `unique` table that can match together, gaps in a `complete`
    table, and hit policies that cannot work with their outputs."""
    out: list[Problem] = []
    for t in book.tables.values():
        rows = [r for r in (book.rule(i) for i in t.rows) if r is not None and r.id not in skip]
        if not rows or len(rows) != len(t.rows):
            continue  # rows with load errors (or disabled by an overlay): nothing sound to say
        out += _table_policy(book, t)
        if t.hit_policy == "unique":
            out += _table_overlaps(t, rows, an)
        if t.complete:
            out += _table_gaps(t, rows, an)
    return out


def _table_problem(t: TableDef, code: str, message: str, hint: str, severity: str = "error") -> Problem:
    return _problem(code, message, t.origin.location, f"tables[{t.id}]", hint, severity)


def _table_policy(book: Rulebook, t: TableDef) -> list[Problem]:
    out = []
    for col in t.outputs:
        kind, _, name = col.partition(".")
        dim = book.dimensions.get(name)
        if t.hit_policy == "priority" and kind == "score":
            out.append(_table_problem(
                t, "lint.table-policy", f"table '{t.id}' has hit policy priority but outputs the score {name}: "
                "every matching row would add its points", "use collect to add every matching row's points, or "
                "first for the first matching row only"))
        if t.hit_policy == "priority" and dim is not None and dim.hit_policy != "priority":
            out.append(_table_problem(
                t, "lint.table-policy", f"table '{t.id}' has hit policy priority, but its output {name} has hit "
                f"policy {dim.hit_policy}: the value order cannot decide", f"give {name} hit_policy: priority, or "
                "make the table first or unique"))
        if t.hit_policy == "collect" and dim is not None and dim.hit_policy == "unique":
            out.append(_table_problem(
                t, "lint.table-policy", f"table '{t.id}' collects every matching row, but its output {name} has "
                "hit policy unique: two matching rows are a conflict", "make the table unique or first", "warning"))
    return out


def _table_overlaps(t: TableDef, rows: Sequence[RuleDef], an: Analysis) -> list[Problem]:
    out = []
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            witness = overlap(an, a, b)
            if witness is not None:
                out.append(_problem(
                    "lint.table-overlap", f"rows '{a.id}' and '{b.id}' of table '{t.id}' (hit policy unique) can "
                    f"match the same account: {witness}", b.when_location, f"rules[{b.id}].when",
                    "make the rows disjoint (e.g. < against >=), or make the table first or collect", "error"))
    return out


def _cells(t: TableDef, r: RuleDef) -> ir.Cond:
    """A row's condition without the table's precondition, which every row repeats (keeping it
    would multiply the disjunctive form by itself once per row)."""
    match t.cond:
        case ir.And():
            pre = t.cond.items
        case _:
            pre = (t.cond,)
    match r.cond:
        case ir.And() if r.cond.items[:len(pre)] == pre:
            rest = r.cond.items[len(pre):]
            return rest[0] if len(rest) == 1 else ir.And(rest) if rest else ir.Truth(True)
        case _:
            return r.cond


def _table_gaps(t: TableDef, rows: Sequence[RuleDef], an: Analysis) -> list[Problem]:
    """Values the precondition allows that no row covers: the disjuncts of `pre and not (any row)`
    the algebra cannot refute."""
    dnf = to_dnf(ir.And((t.cond, ir.Not(ir.Or(tuple(_cells(t, r) for r in rows))))))
    if dnf is None:
        return [_table_problem(t, "lint.table-unchecked", f"table '{t.id}' is too large to check for gaps",
                               "split it, or drop complete: true", "warning")]
    out = []
    for lits in dnf:
        c = an.conj(lits)
        if c.conflict:
            continue
        if c.opaque:  # the algebra cannot read these literals: the gap may not be real
            out.append(_table_problem(
                t, "lint.table-unchecked", f"table '{t.id}' may leave a gap (not proved: it compares terms the "
                f"check cannot read): {describe(c)}", "check the rows by hand, or drop complete: true", "warning"))
            continue
        out.append(_table_problem(
            t, "lint.table-gap", f"table '{t.id}' is declared complete, but no row covers {describe(c)}",
            "add a row for these values (or a catch-all row of \"-\" cells), or drop complete: true"))
    return out


_WORDS = re.compile(r"[^\W\d_]", re.UNICODE)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def _words(s: str) -> bool:
    return bool(_WORDS.search(_JINJA.sub("", s)))


def message_languages(rules: Iterable[RuleDef]) -> list[Problem]:
    out = []
    for r in rules:
        for kind in ("warn", "recommend"):
            msg: Message | None = getattr(r, kind)
            if msg is None:
                continue
            for part in ("message", "remedy"):
                text: Text = getattr(msg, part)
                issue = _language_issue(text)
                if issue:
                    out.append(_problem(
                        "lint.message-lang", f"rule '{r.id}': the {kind} {part} {issue}", r.origin.location,
                        f"rules[{r.id}].then.{kind}.{part}",
                        "readers of the other language see this text untranslated", "warning",
                        expected=f"{part}: {{zh: …, en: …}}"))
    return out


def _language_issue(t: Text) -> str:
    if not t.zh and not t.en:
        return ""
    if not t.zh:
        return "has no Chinese (zh) text"
    if not t.en:
        return "has no English (en) text"
    if t.zh == t.en and _words(t.zh):
        return "is one text for both languages"
    return ""


# --------------------------------------------------------------------------- templates and engine

def template_variables(book: Rulebook) -> list[Problem]:
    """Company templates may use only the documented playbook context (context.context); and
    what the loader would refuse (links out of the overlay, FIFOs, non-UTF-8) is reported."""
    from kamrules.rulebook.templates import scan

    scanned = scan(book.templates)  # a bounded walk of the overlays' own folders
    out = list(scanned.problems)
    if not scanned.templates:
        return out
    from jinja2 import TemplateSyntaxError, meta, nodes

    from kamrules.advice.render import environment

    env = environment(book.templates)
    allowed = context_names(book) | set(env.globals)
    filters = set(env.filters) | {"money"}  # render_text adds money per language
    for where, _, source in scanned.templates:
        try:
            tree = env.parse(source)
        except TemplateSyntaxError as e:
            out.append(_problem("lint.template-syntax", f"template error: {e.message}", Location(where, e.lineno or 0),
                                "", "check {{ … }} and {% … %} pairs", "error"))
            continue
        except RecursionError:
            out.append(_problem("lint.template-syntax", "the template is nested too deeply to read", Location(where, 1),
                                "", "flatten the nesting", "error"))
            continue
        unknown = meta.find_undeclared_variables(tree) - allowed
        seen: set[str] = set()
        for n in tree.find_all(nodes.Name):
            if n.ctx == "load" and n.name in unknown and n.name not in seen:
                seen.add(n.name)
                out.append(_problem(
                    "lint.template-var", f"the template uses '{n.name}', which is not in the playbook context",
                    Location(where, n.lineno), n.name,
                    suggest(n.name, allowed) or "see docs/playbook-context.md for the names a template can use",
                    "error"))
        for flt in tree.find_all(nodes.Filter):
            if flt.name not in filters:
                out.append(_problem("lint.template-filter", f"the template uses the unknown filter '{flt.name}'",
                                    Location(where, flt.lineno), flt.name,
                                    suggest(flt.name, filters) or "filters: " + ", ".join(sorted(filters)), "error"))
    return out


def context_names(book: Rulebook) -> set[str]:
    """The top-level names a playbook template can read: the fields of the typed context."""
    import dataclasses

    from kamrules.advice.contextmodel import PlaybookContext

    return {f.name for f in dataclasses.fields(PlaybookContext)}


def engine_limits(book: Rulebook) -> list[Problem]:
    from kamrules.engine.compile import compile_rulebook
    from kamrules.engine.compile import engine_limits as limits

    where = {r.id: r.when_location for r in book.rules}
    top = Location(book.files[-1]) if book.files else Location(book.id)
    out = []
    for rid, text in limits(compile_rulebook(book)):
        out.append(_problem("lint.engine-limit", f"durable_rules cannot run this: {text}",
                            where.get(rid, top), f"rules[{rid}]" if rid else "",
                            "the reference engine has no such limit (--engine reference); to use durable_rules, "
                            "split the rule or the rulebook", "error"))
    return out
