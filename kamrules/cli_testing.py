"""The `explain` and `test` commands: thin click wrappers over explain.py and testing.py.

Imported for its side effect (it attaches the commands to `kamrules.cli.main`) by cli.LazyGroup.
"""
from __future__ import annotations

import json
import sys

import click

from .cli import account_option, as_of_option, engine_option, guarded, lang_option, main, parse_as_of, read_input, rulebook_option


@click.command("explain")
@click.argument("account", metavar="ACCOUNT")
@rulebook_option
@click.option("--rule", "rules", multiple=True, metavar="ID",
              help="Explain only this rule (repeat for several). An unknown id is an error with 'did you mean'.")
@click.option("--why-not", is_flag=True, help="Only the rules that did not fire, nearest misses first.")
@click.option("--brief", is_flag=True, help="Only the deciding conditions, not every condition's outcome.")
@click.option("--format", "-f", "fmt", type=click.Choice(["pretty", "json"]), default="pretty", show_default=True,
              help="pretty for a terminal, json for scripts.")
@lang_option
@as_of_option
@engine_option
@account_option
@guarded
def explain_cmd(account: str, rulebook: str, rules: tuple[str, ...], why_not: bool, brief: bool, fmt: str,
                lang: str | None, as_of: str | None, engine: str, account_id: str | None) -> None:
    """Explain, rule by rule, why each rule fired or did not.

    For every rule: each condition's outcome, with the account's value and the threshold
    (and the parameter it comes from). Rules that did not fire come nearest miss first:
    the fewest conditions to change, then the smallest gap ("would fire if discount_rate >
    15%: it is 12%"); a condition on a missing fact says which fact to fill in.

    \b
    Examples:
      kamrules explain examples/accounts/huaxin-steel.yaml
      kamrules explain account.yaml --why-not --lang en
      kamrules explain account.yaml --rule over-concession-discount --format json
    """
    from .explain import explain, find_rule, json_report, pretty_report
    from .pipeline import advise

    file, text = read_input(account)
    advice = advise(file, rulebook, as_of=parse_as_of(as_of), lang=lang, engine=engine, stdin_text=text,
                    account_id=account_id)
    wanted = [find_rule(advice.book, r) for r in rules] if rules else None
    explanations = explain(advice, rules=wanted, why_not=why_not)
    if fmt == "json":
        click.echo(json.dumps(json_report(advice, explanations), ensure_ascii=False, indent=2, default=str))
    else:
        # a filtered view (--rule, --why-not) leaves out the groups it filtered away
        click.echo(pretty_report(advice, explanations, details=not brief, show_empty=not (rules or why_not)), nl=False)


@click.command("test")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--coverage", is_flag=True,
              help="Also report rules that fired in no test, conditions never seen both true and false, "
                   "and dimension values never produced.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="N",
              help="Exit 1 when fewer than N% of the rules fired in some test.")
@click.option("--format", "-f", "fmt", type=click.Choice(["pretty", "json"]), default="pretty", show_default=True,
              help="pretty for a terminal, json for scripts.")
@lang_option
@guarded
def test_cmd(paths: tuple[str, ...], coverage: bool, min_coverage: float | None, fmt: str,
             lang: str | None) -> None:
    """Run rule tests (*.test.yaml) on every engine and compare what they conclude.

    PATH is a test file or a folder searched for *.test.yaml (default: the current folder).
    Each case prints PASS, FAIL or ERROR with its file:line; a failing case shows what was
    expected, what came out, and the explanation of the rules involved. A case fails too when
    durable_rules and the reference evaluator disagree.

    Exit status: 0 all passed · 1 a case failed (or coverage is below --min-coverage) ·
    2 a test file or a case's facts could not be used.

    \b
    Examples:
      kamrules test
      kamrules test rules/course --coverage
      kamrules test examples/company --min-coverage 90 --format json
    """
    from .testing import pretty, run, to_json

    report = run(list(paths), lang=lang)
    if fmt == "json":
        click.echo(json.dumps(to_json(report, coverage=coverage, min_coverage=min_coverage), ensure_ascii=False,
                              indent=2, default=str))
    else:
        click.echo(pretty(report, coverage=coverage, min_coverage=min_coverage), nl=False)
    code = report.exit_code(min_coverage)
    if code:
        sys.exit(code)


main.add_command(explain_cmd, name="explain")
main.add_command(test_cmd, name="test")
