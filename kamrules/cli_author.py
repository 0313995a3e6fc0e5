"""The authoring commands: check, init, rules, schema (thin click layer over lint/init/schema).

Attached to the main group with `main.add_command`; cli.LazyGroup imports this module on first use.
"""
from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Sequence

import click

from .cli import guarded, main, rulebook_option
from .errors import Location, Problem, UsageError
from .model import Rulebook, Text
from .values import format_value

LANGS = ["zh", "en"]


# --------------------------------------------------------------------------- check

@click.command("check")
@click.argument("rulebooks", nargs=-1, required=True, metavar="RULEBOOK...")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1), as in CI.")
@click.option("--format", "-f", "fmt", type=click.Choice(["pretty", "json"]), default="pretty", show_default=True,
              help="pretty: one problem per line, sorted by file:line:col; json: a list of problems.")
@guarded
def check_cmd(rulebooks: tuple[str, ...], strict: bool, fmt: str) -> None:
    """Check rulebooks: every load and type error at once, plus lint.

    RULEBOOK is a rulebook or overlay file, or a built-in id (course). Lint finds duplicate
    rule ids, unknown names, rules that can never fire, redundant and shadowed rules,
    overlapping bands in a `unique` dimension, gaps between bands, cycles, messages missing a
    language, parameters without a source, template variables outside the playbook context,
    and durable_rules' limits. Findings inside the built-in course that an overlay did not
    cause are not listed (check `course` itself to see them).

    Exit status: 0 clean, 1 findings (errors; warnings too with --strict), 2 a file cannot be
    read or parsed.

    \b
    Examples:
      kamrules check examples/company/acme/acme.yaml
      kamrules check course --strict
      kamrules check my-overlay.yaml --format json
    """
    from .lint import check_rulebook

    results = [check_rulebook(ref) for ref in rulebooks]
    problems = _merge(p for r in results for p in r.problems)
    unusable = [r.ref for r in results if r.unusable]
    if fmt == "json":
        click.echo(json.dumps([p.as_dict() for p in problems], ensure_ascii=False, indent=2))
    else:
        for p in problems:
            click.echo(p.render())
        click.echo(_summary(problems, len(results), sum(r.hidden for r in results)))
    if unusable:
        click.echo(f"kamrules: cannot read {', '.join(unusable)}; nothing was checked there.", err=True)
        sys.exit(2)
    if any(r.failed(strict) for r in results):
        sys.exit(1)


def _merge(problems: Iterable[Problem]) -> list[Problem]:
    """Across rulebooks: a base shared by two overlays is reported once."""
    seen: set[tuple[str, str, int, int, str]] = set()
    out = []
    for p in problems:
        k = (p.code, p.location.file, p.location.line, p.location.col, p.message)
        if k not in seen:
            seen.add(k)
            out.append(p)
    return sorted(out, key=Problem.sort_key)


def _summary(problems: Sequence[Problem], n_books: int, hidden: int) -> str:
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    books = f"{n_books} rulebook{'s' if n_books != 1 else ''}"
    text = (f"kamrules check: {errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''} in {books}")
    if not problems:
        text = f"kamrules check: no problems in {books}"
    if hidden:
        text += f" ({hidden} finding{'s' if hidden != 1 else ''} of the built-in rulebooks not shown: " \
                "check the built-in id to see them)"
    return text


# --------------------------------------------------------------------------- init

@click.group("init")
def init_group() -> None:
    """Write starting files: an account template, or a company overlay folder.

    \b
    Examples:
      kamrules init account --lang en -o new-account.yaml
      kamrules init company acme --dir examples/company
    """


@init_group.command("account")
@rulebook_option
@click.option("--lang", type=click.Choice(LANGS), default=None,
              help="Language of the comments (default: the rulebook's).")
@click.option("-o", "--output", metavar="FILE", help="Write here (never over an existing file) instead of standard output.")
@guarded
def init_account(rulebook: str, lang: str | None, output: str | None) -> None:
    """Write a commented account template with every fact the rulebook declares.

    Facts are grouped as the rulebook groups them, each with its label, unit, type or allowed
    values and help, and its example as the value: fill in id and name and it is a valid
    account; then replace the examples with the account's own figures.

    \b
    Examples:
      kamrules init account -o huaxin.yaml
      kamrules init account --lang en --rulebook my-overlay.yaml -o account.yaml
    """
    from .init import account_template, write_new
    from .load import load_rulebook

    book = load_rulebook(rulebook)
    text = account_template(book, lang or book.lang)
    if output is None:
        click.echo(text, nl=False)
        return
    write_new({Path(output): text})
    click.echo(f"kamrules: wrote {output}", err=True)


@init_group.command("company")
@click.argument("name")
@click.option("--dir", "folder", default=".", show_default=True, metavar="DIR",
              help="The folder in which NAME/ is created.")
@click.option("--extends", "base", default="course", show_default=True, metavar="PATH_OR_NAME",
              help="The rulebook the overlay extends.")
@click.option("--lang", type=click.Choice(LANGS), default=None,
              help="Language of the comments (default: the base rulebook's).")
@guarded
def init_company(name: str, folder: str, base: str, lang: str | None) -> None:
    """Write a company overlay skeleton: NAME/NAME.yaml, NAME/NAME.test.yaml, NAME/templates/.

    The overlay extends the course (or --extends) and shows, as comments naming real
    parameters and rules, how to set a parameter, disable a rule with a reason, override part
    of a rule and lock one; it adds one working rule and a test case for it. It passes
    `kamrules check` and `kamrules test` as written. Existing files are never overwritten.

    \b
    Examples:
      kamrules init company acme
      kamrules init company acme --dir examples/company --lang en
    """
    from .init import company_files, write_new
    from .load import load_rulebook

    if not Path(folder).is_dir():
        raise UsageError([Problem("init.no-dir", f"the folder {folder} does not exist", Location(folder),
                                  hint="create it first, or choose another --dir")])
    book = load_rulebook(base)
    files = company_files(name, base, book, Path(folder), lang or book.lang)
    written = write_new(files)
    for p in written:
        click.echo(f"wrote {p}")
    overlay = written[0]
    click.echo(f"next: kamrules check {overlay}  ·  kamrules test {overlay.parent}")


# --------------------------------------------------------------------------- rules (documentation)

@click.command("rules")
@rulebook_option
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "md", "json"]), default="table", show_default=True)
@click.option("--rules", "show_rules", is_flag=True, help="Show the rules (id, concept, source, severity, title).")
@click.option("--params", "show_params", is_flag=True, help="Show the parameters (value, source, label).")
@click.option("--facts", "show_facts", is_flag=True, help="Show the facts (type, unit, labels, aliases).")
@click.option("--effective", is_flag=True,
              help="The merged result with, for every element, where it came from (rulebook, file:line), "
                   "the overlays that changed each rule, the disabled rules with their reasons, and the digest.")
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language of titles and labels.")
@guarded
def rules_cmd(rulebook: str, fmt: str, show_rules: bool, show_params: bool, show_facts: bool, effective: bool,
              lang: str | None) -> None:
    """List the rulebook's rules, parameters and facts: its documentation.

    Without --rules/--params/--facts every section is listed (with metrics, dimensions and
    scores); with them, only those sections.

    \b
    Examples:
      kamrules rules
      kamrules rules --params --format md > parameters.md
      kamrules rules --rulebook acme/acme.yaml --effective
    """
    from .load import load_rulebook

    book = load_rulebook(rulebook)
    chosen = {s for s, on in (("rules", show_rules), ("parameters", show_params), ("facts", show_facts)) if on}
    sections = chosen or {"rules", "parameters", "facts", "metrics", "dimensions", "scores", "derived"}
    data = catalog(book, lang or book.lang, sections, effective)
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render_catalog(data, fmt, lang or book.lang), nl=False)


def _origin(o: Any) -> dict[str, str]:
    return {"rulebook": o.rulebook, "at": str(o.location)}


def _texts(t: Text) -> dict[str, str]:
    return {"zh": t.zh, "en": t.en}


def catalog(book: Rulebook, lang: str, sections: set[str], effective: bool) -> dict[str, Any]:
    """The rulebook's documentation as plain data (the json format; tables are drawn from it)."""
    out: dict[str, Any] = {"rulebook": {"id": book.id, "version": book.version, "title": book.title.get(lang),
                                        "digest": book.digest, "chain": list(book.chain)}}
    if effective:
        out["rulebook"]["files"] = list(book.files)

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
        from .values import format_money

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


COLUMNS: dict[str, list[tuple[str, str]]] = {  # section → (heading, key) ; "origin" added with --effective
    "rules": [("ID", "id"), ("CONCEPT", "concept"), ("SOURCE", "source"), ("SEVERITY", "severity"), ("TITLE", "title")],
    "parameters": [("NAME", "name"), ("VALUE", "value_text"), ("SOURCE", "source"), ("LABEL", "label")],
    "facts": [("NAME", "name"), ("TYPE", "type"), ("UNIT", "unit"), ("LABEL (zh)", "label.zh"),
              ("LABEL (en)", "label.en"), ("ALIASES", "aliases")],
    "metrics": [("NAME", "name"), ("TYPE", "type"), ("FORMULA", "formula"), ("LABEL", "label")],
    "dimensions": [("NAME", "name"), ("HIT POLICY", "hit_policy"), ("VALUES", "values"), ("LABEL", "label")],
    "scores": [("NAME", "name"), ("MIN", "min"), ("MAX", "max"), ("LABEL", "label")],
    "derived": [("NAME", "name"), ("TYPE", "type"), ("LABEL", "label")],
    "disabled": [("RULE", "rule"), ("REASON", "reason"), ("BY", "by"), ("AT", "at")],
}
TITLES = {
    "rules": ("规则", "Rules"), "parameters": ("参数", "Parameters"), "facts": ("事实（客户档案字段）", "Facts"),
    "metrics": ("指标", "Metrics"), "dimensions": ("分类维度", "Dimensions"), "scores": ("评分", "Scores"),
    "derived": ("推导事实", "Derived facts"), "disabled": ("已停用的规则", "Disabled rules"),
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
        cols += [("FROM", "origin.rulebook"), ("AT", "origin.at")]
        if section == "rules":
            cols += [("CHANGED BY", "changed_by"), ("LOCKED", "locked")]
    return cols


def render_catalog(data: dict[str, Any], fmt: str, lang: str) -> str:
    book = data["rulebook"]
    head = f"{book['id']} {book['version']}: {book['title']}"
    lines = [f"# {head}" if fmt == "md" else head, ""]
    if "files" in book:  # --effective
        lines += [f"digest: {book['digest']}", f"chain: {' → '.join(book['chain'])}", ""]
    for section in COLUMNS:
        rows = data.get(section)
        if rows is None:
            continue
        title = TITLES[section][0 if lang == "zh" else 1]
        cols = _columns(section, rows)
        table = [[h for h, _ in cols]] + [[_cell(r, k) for _, k in cols] for r in rows]
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
    def esc(c: str) -> str:
        return c.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(esc(c) for c in table[0]) + " |", "|" + "---|" * len(table[0])]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in table[1:]]
    return out


# --------------------------------------------------------------------------- schema

@click.command("schema")
@click.argument("kind", type=click.Choice(["account", "rulebook", "output"]))
@rulebook_option
@guarded
def schema_cmd(kind: str, rulebook: str) -> None:
    """Print a JSON Schema (draft 2020-12) for editors and tools.

    account: generated from the rulebook's facts (a company's own facts included), with the
    Chinese labels as alternative keys; rulebook: the rulebook language; output: the
    `advise --format json` contract. Save it and point the YAML language server at it, with
    `# yaml-language-server: $schema=account.schema.json` as a file's first line, or with the
    editor's yaml.schemas setting.

    \b
    Examples:
      kamrules schema account > account.schema.json
      kamrules schema rulebook > rulebook.schema.json
      kamrules schema account --rulebook acme/acme.yaml > acme-account.schema.json
    """
    from .schema import dumps, schema

    book = None
    if kind == "account":
        from .load import load_rulebook

        book = load_rulebook(rulebook)
    click.echo(dumps(schema(kind, book)), nl=False)


for _cmd in (check_cmd, init_group, rules_cmd, schema_cmd):
    main.add_command(_cmd)
