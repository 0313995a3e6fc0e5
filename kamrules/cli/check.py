"""`kamrules check`: every load and lint problem of rulebooks, at once."""
from __future__ import annotations

import sys

import click

from kamrules.cli.common import echo, guarded, shown_problems
from kamrules.core import textsafe
from kamrules.core.errors import render_problems


@click.command("check")
@click.argument("rulebooks", nargs=-1, required=True, metavar="RULEBOOK...")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1), as in CI.")
@click.option("--format", "-f", "fmt", type=click.Choice(["pretty", "json"]), default="pretty", show_default=True,
              help="pretty: one problem per line, sorted by file:line:col; json: a list of problems.")
@guarded
def check_cmd(rulebooks: tuple[str, ...], strict: bool, fmt: str) -> None:
    """Check rulebooks: every load and type error at once, plus lint.

    RULEBOOK is a rulebook or overlay file, a folder (every rulebook file in it, rule tests
    *.test.yaml left out, as `kamrules test` reads only those), or a built-in id (course). Lint finds duplicate
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
      kamrules check examples/company/
      kamrules check course --strict
      kamrules check my-overlay.yaml --format json
    """
    from kamrules.authoring.check import check_rulebook, merged, parts_text, summary

    results = [check_rulebook(ref) for ref in _expand(rulebooks)]
    problems = merged(results)
    unusable = [r for r in results if r.unusable]
    if fmt == "json":
        echo(textsafe.json_dumps([p.as_dict() for p in problems]))
    else:  # JSON lists every problem (it is for scripts); the text lists the first KAMRULES_MAX_PROBLEMS
        if problems:
            echo(render_problems(problems, shown_problems()))
        for r in results:  # where each part came from: a copied course must be seen to use its own files
            text = parts_text(r)
            if text:
                echo(text)
        echo(summary(problems, len(results), sum(r.hidden for r in results)))
    if unusable:
        for r in unusable:
            echo(textsafe.line(f"kamrules: {r.why_unusable}; nothing was checked there."), err=True)
        sys.exit(2)
    if any(r.failed(strict) for r in results):
        sys.exit(1)


command = check_cmd


def _expand(refs: tuple[str, ...]) -> list[str]:
    """A folder stands for the rulebook files in it; a folder with none is a usage error."""
    import os
    from pathlib import Path

    from kamrules.core.errors import Location, Problem, UsageError
    from kamrules.rulebook.load import rulebook_files

    out: list[str] = []
    for ref in refs:
        if not os.path.isdir(ref):
            out.append(ref)
            continue
        found = rulebook_files(Path(ref))
        if not found:
            raise UsageError([Problem("cli.no-rulebooks", f"no rulebook file in the folder {ref}", Location(ref),
                                      expected="a .yaml file with a top-level 'rulebook:' id",
                                      hint="rule tests (*.test.yaml) are run by 'kamrules test', not checked")])
        out += [str(p) for p in found]
    return out
