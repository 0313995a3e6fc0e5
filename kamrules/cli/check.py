"""`kamrules check`: every load and lint problem of rulebooks, at once."""
from __future__ import annotations

import sys
from typing import Iterable, Sequence

import click

from kamrules.cli.common import echo, guarded, shown_problems
from kamrules.core import textsafe
from kamrules.core.errors import Problem, render_problems


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
    from kamrules.authoring.lint import check_rulebook

    results = [check_rulebook(ref) for ref in rulebooks]
    problems = _merge(p for r in results for p in r.problems)
    unusable = [r.ref for r in results if r.unusable]
    if fmt == "json":
        echo(textsafe.json_dumps([p.as_dict() for p in problems]))
    else:  # JSON lists every problem (it is for scripts); the text lists the first KAMRULES_MAX_PROBLEMS
        if problems:
            echo(render_problems(problems, shown_problems()))
        echo(_summary(problems, len(results), sum(r.hidden for r in results)))
    if unusable:
        echo(textsafe.line(f"kamrules: cannot read {', '.join(unusable)}; nothing was checked there."), err=True)
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


command = check_cmd
