"""`kamrules test`: run YAML rule tests on every engine."""
from __future__ import annotations

import sys

import click

from kamrules.cli.common import echo, guarded, lang_option
from kamrules.core import textsafe


@click.command("test")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--coverage", is_flag=True,
              help="Also report rules that fired in no test, conditions never seen both true and false, "
                   "and dimension values never produced.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="N",
              help="Exit 1 when fewer than N% of the rules fired in some test.")
@click.option("--format", "-f", "fmt", type=click.Choice(["pretty", "json"]), default="pretty", show_default=True,
              help="pretty for a terminal, json for scripts.")
@click.option("--invariants", "invariants", type=click.IntRange(0), default=None, metavar="N",
              help="Check the rulebook's invariants on N generated accounts on every engine (default 25; 0: off). "
                   "A broken invariant is a FAIL with its minimal counterexample.")
@lang_option
@guarded
def test_cmd(paths: tuple[str, ...], coverage: bool, min_coverage: float | None, fmt: str,
             lang: str | None, invariants: int | None) -> None:
    """Run rule tests (*.test.yaml) on every engine and compare what they conclude.

    PATH is a test file or a folder searched for *.test.yaml (default: the current folder).
    Each case prints PASS, FAIL or ERROR with its file:line; a failing case shows what was
    expected, what came out, and the explanation of the rules involved. A case fails too when
    durable_rules and the reference evaluator disagree. Each invariant of a tested rulebook
    (`invariants:`) is checked on generated accounts and reported as a case of its own.

    Exit status: 0 all passed · 1 a case failed (or coverage is below --min-coverage) ·
    2 a test file or a case's facts could not be used.

    \b
    Examples:
      kamrules test
      kamrules test rules/course --coverage
      kamrules test rules/course --min-coverage 90 --format json
      kamrules test rules/course --invariants 100
    """
    from kamrules.authoring.ruletests.report import pretty, to_json
    from kamrules.authoring.ruletests.runner import run

    from kamrules.authoring.ruletests.runner import DEFAULT_INVARIANT_EXAMPLES

    report = run(list(paths), lang=lang, coverage=coverage or min_coverage is not None,
                 invariants=DEFAULT_INVARIANT_EXAMPLES if invariants is None else invariants)
    if fmt == "json":
        echo(textsafe.json_dumps(to_json(report, coverage=coverage, min_coverage=min_coverage), default=str))
    else:
        echo(pretty(report, coverage=coverage, min_coverage=min_coverage), nl=False)
    code = report.exit_code(min_coverage)
    if code:
        sys.exit(code)


command = test_cmd
