"""`kamrules advise`: one account → its playbook."""
from __future__ import annotations

import datetime as _dt
import sys
from typing import Any

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
    mapping_option,
    parse_as_of,
    read_input,
    read_mapped,
    record_options,
    rulebook_option,
    store_may_exist,
)
from kamrules.core.errors import AccountError, Location, Problem, UsageError


@click.command("advise")
@click.argument("files", metavar="ACCOUNT...", nargs=-1, required=True)
@rulebook_option
@click.option("--format", "-f", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True)
@lang_option
@click.option("-o", "--output", metavar="FILE", help="Write here (atomically) instead of standard output.")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default=None,
              help="Exit 1 when a finding at or above this severity exists (for scripts and CI).")
@click.option("--explain", is_flag=True, help="Append the rule-by-rule explanation to the playbook.")
@click.option("--brief", is_flag=True,
              help="Only the meeting brief (Markdown, about 40 lines): verdict, root causes, who is in the room "
                   "and what to say, what to ask for, the walk-away price.")
@as_of_option
@engine_option
@click.option("--verbose", "-v", is_flag=True, help="Say which engine and rulebook ran, on standard error.")
@account_option
@mapping_option
@record_options
@guarded
def advise(files: tuple[str, ...], rulebook: str, fmt: str, lang: str | None, output: str | None,
           fail_on: str | None, explain: bool, as_of: str | None, engine: str, verbose: bool,
           account_id: str | None, mapping: str | None, strict: bool, store: str | None, record: bool,
           by: str | None, brief: bool) -> None:
    """Evaluate an account file and print its strategy playbook.

    ACCOUNT is a YAML or JSON account file, - for standard input, or a CSV export from a CRM
    (one row, or pick a row with --account ID). With --mapping, the ACCOUNT files are CRM
    exports (accounts and deals tables) as the mapping describes them; pick the account with
    --account ID.

    \b
    Examples:
      kamrules advise examples/accounts/huaxin-steel.yaml
      kamrules advise examples/portfolio/crm-export.csv --account HX-001
      kamrules advise account.yaml --lang en --format html -o playbook.html
      kamrules advise account.yaml --format json --fail-on high
      kamrules advise account.yaml --record --by 王经理
      kamrules advise accounts.csv deals.csv --mapping crm.yaml --account HX-001
      kamrules advise account.yaml --brief --as-of 2026-06-30
    """
    from kamrules.advice.render import render
    from kamrules.authoring.gate import refuse_what_check_refuses

    if brief and (fmt != "md" or explain):
        raise UsageError([Problem("cli.brief-format", "--brief is the Markdown meeting brief: it goes without "
                                  f"{'--explain' if explain else '--format ' + fmt}", Location("<command line>"),
                                  hint="drop --brief for the full playbook in html or json")])
    refuse_what_check_refuses(rulebook)  # what check calls wrong is refused here too (authoring/gate.py)
    hist: Any = None  # the review store's part (history/use.py), when a store is in use
    if mapping and record:
        raise UsageError([Problem("cli.record-mapping", "--record with --mapping is not supported yet",
                                  Location("--record"), hint="record mapped exports with 'kamrules portfolio … "
                                                            "--mapping FILE --record'")])
    if mapping:
        advice = _mapped(files, mapping, rulebook, parse_as_of(as_of), lang, engine, account_id, strict)
    else:
        if len(files) > 1:
            raise UsageError([Problem("cli.one-account", f"advise reads one account file, not {len(files)}",
                                      Location(files[1]), hint="several exports go with --mapping FILE; many "
                                                               "accounts with 'kamrules portfolio'")])
        from kamrules.pipeline import advise as run_advise

        file, text = read_input(files[0])
        if record or store or store_may_exist():
            from kamrules.history import use

            u = use.in_use(store, record, by)
            if u is not None:
                hist = use.advise(u, file, rulebook, as_of=parse_as_of(as_of), lang=lang, engine=engine,
                                  stdin_text=text, account_id=account_id)
        if hist is None:
            advice = run_advise(file, rulebook, as_of=parse_as_of(as_of), lang=lang, engine=engine,
                                stdin_text=text, account_id=account_id)
        else:
            advice = hist.advice
    expl = None
    if explain:
        from kamrules.advice.explain import explain_all

        expl = explain_all(advice)
    out = render(advice, fmt, explain=expl, extra=hist.extra.context if hist else None,
                 extra_json=hist.extra.json if hist else None, brief=brief)
    if hist is not None:
        for note in hist.commit():  # before the output: a store that refuses the review fails the run
            echo(note, err=True)
    if verbose:
        echo(f"kamrules {__version__}: engine={advice.engine} rulebook={advice.book.id} "
             f"{advice.book.digest[:19]} as_of={advice.as_of} rules={len(advice.book.rules)} "
             f"fired={len(advice.matches)}", err=True)
    from kamrules.io.output import write_atomic, write_stdout

    if output:
        # the account, every rulebook and every template this run read are refused too (io/output.py)
        write_atomic(output, out, inputs=[*files, *advice.book.files, *(f.folder for f in advice.book.templates),
                                          *([mapping] if mapping else [])])
    else:
        write_stdout(out)
    if fail_on:
        limit = SEVERITY_CHOICES.index(fail_on)
        accepted = hist.extra.accepted if hist else frozenset()  # a manager accepted these warnings
        if any(SEVERITY_CHOICES.index(f.severity) <= limit for f in advice.findings
               if not (f.kind == "warning" and f.rule in accepted)):
            sys.exit(1)


def _mapped(files: tuple[str, ...], mapping: str, rulebook: str, as_of: _dt.date | None, lang: str | None,
            engine: str, account_id: str | None, strict: bool) -> Any:
    """One account of mapped CRM exports: every row is read (an account's figures come from all
    its deals), the one named by --account is evaluated."""
    from kamrules.core.errors import suggest
    from kamrules.pipeline import evaluate, rulebook as load_rulebook

    book = load_rulebook(rulebook)
    date = as_of or _dt.date.today()
    intake = read_mapped(files, mapping, book, date, strict)
    ids = [a.id for a, _ in intake.accounts]
    shown = ", ".join(ids[:20]) + (f", … ({len(ids) - 20} more)" if len(ids) > 20 else "")
    if account_id is None:
        if len(ids) != 1:
            raise UsageError([Problem("cli.account-needed", f"the exports hold {len(ids)} accounts; advise is about "
                                      "one", Location(files[0]), expected="--account ID",
                                      hint=f"pick one with --account ID ({shown or 'no valid account'}), or "
                                           "evaluate them all with 'kamrules portfolio'")])
        account_id = ids[0]
    chosen = next((a for a, _ in intake.accounts if a.id == account_id), None)
    if chosen is None:
        left = intake.rejected.get(account_id)
        if left:  # the account's row was left out: say why
            from dataclasses import replace

            raise AccountError([replace(p, severity="error") for p in left])
        raise UsageError([Problem("cli.account-unknown", f"no account with the id '{account_id}' in the exports",
                                  Location("--account"), account_id, "one of: " + (shown or "no valid account"),
                                  suggest(account_id, ids) or "ids are matched exactly")])
    return evaluate(chosen, book, as_of=date, lang=lang, engine=engine)


command = advise
