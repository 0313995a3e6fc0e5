"""`kamrules advise`: one account → its playbook."""
from __future__ import annotations

import sys

import click

from kamrules import __version__
from kamrules.cli.common import (
    SEVERITY_CHOICES,
    account_option,
    as_of_option,
    engine_option,
    guarded,
    lang_option,
    parse_as_of,
    read_input,
    record_options,
    rulebook_option,
    store_may_exist,
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
@record_options
@guarded
def advise(account: str, rulebook: str, fmt: str, lang: str | None, output: str | None, fail_on: str | None,
           explain: bool, as_of: str | None, engine: str, verbose: bool, account_id: str | None,
           store: str | None, record: bool, by: str | None) -> None:
    """Evaluate an account file and print its strategy playbook.

    ACCOUNT is a YAML or JSON account file, - for standard input, or a CSV export from a CRM
    (one row, or pick a row with --account ID).

    \b
    Examples:
      kamrules advise examples/accounts/huaxin-steel.yaml
      kamrules advise examples/portfolio/crm-export.csv --account HX-001
      kamrules advise account.yaml --lang en --format html -o playbook.html
      kamrules advise account.yaml --format json --fail-on high
      kamrules advise account.yaml --record --by 王经理
    """
    from kamrules.advice.render import render
    from kamrules.pipeline import advise as run_advise

    file, text = read_input(account)
    hist = None
    if record or store or store_may_exist():
        from kamrules.history import use

        u = use.in_use(store, record, by)
        if u is not None:
            hist = use.advise(u, file, rulebook, as_of=parse_as_of(as_of), lang=lang, engine=engine,
                              stdin_text=text, account_id=account_id)
    if hist is None:
        advice = run_advise(file, rulebook, as_of=parse_as_of(as_of), lang=lang, engine=engine, stdin_text=text,
                            account_id=account_id)
    else:
        advice = hist.advice
    expl = None
    if explain:
        from kamrules.advice.explain import explain_all

        expl = explain_all(advice)
    out = render(advice, fmt, explain=expl, extra=hist.extra.context if hist else None,
                 extra_json=hist.extra.json if hist else None)
    if hist is not None:
        for note in hist.commit():  # before the output: a store that refuses the review fails the run
            click.echo(note, err=True)
    if verbose:
        click.echo(f"kamrules {__version__}: engine={advice.engine} rulebook={advice.book.id} "
                   f"{advice.book.digest[:19]} as_of={advice.as_of} rules={len(advice.book.rules)} "
                   f"fired={len(advice.matches)}", err=True)
    if output:
        from kamrules.io.output import write_atomic

        write_atomic(output, out, inputs=[account, *advice.book.files])
    else:
        click.echo(out, nl=False)
    if fail_on:
        limit = SEVERITY_CHOICES.index(fail_on)
        accepted = hist.extra.accepted if hist else frozenset()  # a manager accepted these warnings
        if any(SEVERITY_CHOICES.index(f.severity) <= limit for f in advice.findings
               if not (f.kind == "warning" and f.rule in accepted)):
            sys.exit(1)


command = advise
