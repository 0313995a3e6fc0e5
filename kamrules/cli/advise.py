"""`kamrules advise`: one account → its playbook."""
from __future__ import annotations

import sys

import click

from kamrules import __version__
from kamrules.cli.common import (
    SEVERITY_CHOICES,
    account_option,
    as_of_option,
    echo,
    engine_option,
    guarded,
    lang_option,
    parse_as_of,
    read_input,
    rulebook_option,
)


@click.command("advise")
@click.argument("account", metavar="ACCOUNT")
@rulebook_option
@click.option("--format", "-f", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True)
@lang_option
@click.option("-o", "--output", metavar="FILE", help="Write here (atomically) instead of standard output.")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default=None,
              help="Exit 1 when a finding at or above this severity exists (for scripts and CI).")
@click.option("--explain", is_flag=True, help="Append the rule-by-rule explanation to the playbook.")
@as_of_option
@engine_option
@click.option("--verbose", "-v", is_flag=True, help="Say which engine and rulebook ran, on standard error.")
@account_option
@guarded
def advise(account: str, rulebook: str, fmt: str, lang: str | None, output: str | None, fail_on: str | None,
           explain: bool, as_of: str | None, engine: str, verbose: bool, account_id: str | None) -> None:
    """Evaluate an account file and print its strategy playbook.

    ACCOUNT is a YAML or JSON account file, - for standard input, or a CSV export from a CRM
    (one row, or pick a row with --account ID).

    \b
    Examples:
      kamrules advise examples/accounts/huaxin-steel.yaml
      kamrules advise examples/portfolio/crm-export.csv --account HX-001
      kamrules advise account.yaml --lang en --format html -o playbook.html
      kamrules advise account.yaml --format json --fail-on high
    """
    from kamrules.advice.render import render
    from kamrules.authoring.gate import refuse_what_check_refuses
    from kamrules.pipeline import advise as run_advise

    file, text = read_input(account)
    refuse_what_check_refuses(rulebook)  # what check calls wrong is refused here too (authoring/gate.py)
    advice = run_advise(file, rulebook, as_of=parse_as_of(as_of), lang=lang, engine=engine, stdin_text=text,
                        account_id=account_id)
    expl = None
    if explain:
        from kamrules.advice.explain import explain_all

        expl = explain_all(advice)
    out = render(advice, fmt, explain=expl)
    if verbose:
        echo(f"kamrules {__version__}: engine={advice.engine} rulebook={advice.book.id} "
             f"{advice.book.digest[:19]} as_of={advice.as_of} rules={len(advice.book.rules)} "
             f"fired={len(advice.matches)}", err=True)
    from kamrules.io.output import write_atomic, write_stdout

    if output:
        # the account, every rulebook and every template this run read are refused too (io/output.py)
        write_atomic(output, out, inputs=[account, *advice.book.files, *(f.folder for f in advice.book.templates)])
    else:
        write_stdout(out)
    if fail_on:
        limit = SEVERITY_CHOICES.index(fail_on)
        if any(SEVERITY_CHOICES.index(f.severity) <= limit for f in advice.findings):
            sys.exit(1)


command = advise
