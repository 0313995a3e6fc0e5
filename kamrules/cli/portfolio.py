"""`kamrules portfolio`: many accounts, one row each, and the portfolio summary."""
from __future__ import annotations

import sys

import click

from kamrules.cli.common import (
    SEVERITY_CHOICES,
    as_of_option,
    echo,
    engine_option,
    guarded,
    lang_option,
    mapping_option,
    parse_as_of,
    read_mapped,
    record_options,
    rulebook_option,
    shown_problems,
    store_may_exist,
)
from kamrules.core.errors import AccountError, Location, Problem, UsageError, render_problems


def expand_inputs(files: tuple[str, ...]) -> list[str]:
    from kamrules.portfolio.portfolio import expand

    return expand(files)


@click.command("portfolio")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@rulebook_option
@click.option("--format", "-f", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True,
              help="md: a table and a summary; csv: one row per account for Excel (UTF-8 with BOM); "
                   "json: for scripts.")
@lang_option
@as_of_option
@engine_option
@click.option("-o", "--output", metavar="FILE", help="Write here (atomically) instead of standard output.")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default=None,
              help="Exit 1 when some account has a finding at or above this severity.")
@click.option("--skip-invalid", is_flag=True,
              help="Report invalid accounts on standard error and go on with the others "
                   "(default: list every problem and stop, exit 2).")
@mapping_option
@record_options
@click.option("--since", metavar="YYYY-MM-DD", default=None,
              help="Compare with the reviews recorded on or before this date: tier migration, new critical "
                   "warnings, warnings unresolved across reviews, key accounts not reviewed (md, json).")
@click.option("--stale-months", type=click.IntRange(1, 120), default=3, show_default=True, metavar="N",
              help="With --since: list key accounts whose last review is older than N months.")
@click.option("--calibrate", metavar="FILE", default=None,
              help="Also write a parameters overlay whose single-indicator and tier thresholds come from this "
                   "portfolio's own distribution; use it later with advise -r FILE.")
@guarded
def portfolio_cmd(files: tuple[str, ...], rulebook: str, fmt: str, lang: str | None, as_of: str | None,
                  engine: str, output: str | None, fail_on: str | None, skip_invalid: bool, mapping: str | None,
                  strict: bool, store: str | None, record: bool, by: str | None, since: str | None,
                  stale_months: int, calibrate: str | None) -> None:
    """Evaluate many accounts and print one row per account, with a portfolio summary.

    FILE is a YAML/JSON account file, a CSV export from a CRM (every row an account; Chinese
    or English headers, comma, semicolon or tab separated, UTF-8 or GBK), or a folder of them.
    Rows are sorted by final class (key → medium → small → unprofitable), then health (worst
    first), then id. The summary counts the classes and gives the Pareto view (share of revenue
    from the top 20% of accounts) and concentration (accounts ≥ 10% of company revenue).

    With --mapping, the FILEs are CRM exports as the mapping describes them: an accounts table
    and a deals table (CSV, Excel .xlsx or JSON Lines), joined and aggregated into account
    facts. Where every row went (evaluated, joined, duplicate, rejected — each with file:line
    and why) is reported on standard error, and as "rows" in --format json.

    \b
    Examples:
      kamrules portfolio examples/portfolio/crm-export.csv --as-of 2026-06-30
      kamrules portfolio accounts.csv deals.xlsx --mapping crm.yaml --as-of 2026-06-30
      kamrules portfolio examples/accounts/ --lang en
      kamrules portfolio export.csv more/*.yaml --format csv -o portfolio.csv
      kamrules portfolio export.csv --skip-invalid --fail-on high --format json
      kamrules portfolio export.csv --calibrate calibrated.yaml --as-of 2026-06-30
      kamrules portfolio export.csv --record --since 2026-03-31
    """
    from kamrules.authoring.gate import checked_rulebook
    from kamrules.portfolio import portfolio

    date = parse_as_of(as_of)
    book = checked_rulebook(rulebook)
    if calibrate:
        from kamrules.portfolio.calibrate import check_calibratable

        check_calibratable(book, calibrate, rulebook)
    intake = None
    if mapping:
        import datetime as _dt

        date = date or _dt.date.today()  # periods and evaluation count from the same day
        intake = read_mapped(files, mapping, book, date, strict)
        left_out = tuple(p for p in intake.report.problems if p.location.file in
                         {f.file for f in intake.report.files if f.table == "accounts"})
        inputs = portfolio.Inputs(tuple(portfolio.Source(a, where) for a, where in intake.accounts), left_out,
                                  intake.report.rejected_accounts)
    else:
        inputs = portfolio.collect(files, book)
    if inputs.problems and not skip_invalid and intake is None:
        raise AccountError(inputs.problems)
    if inputs.problems and intake is None:
        echo(render_problems(inputs.problems, shown_problems()), err=True)
        echo(f"kamrules: skipped {inputs.invalid} invalid account{'s' if inputs.invalid != 1 else ''}.",
             err=True)
    if not inputs.sources:
        raise UsageError([Problem("portfolio.empty", "there is no valid account to evaluate", Location(files[0]),
                                  hint="pass account files, CSV exports or folders holding them")])
    since_date = parse_as_of(since) if since else None
    if since_date is not None and fmt == "csv":
        raise UsageError([Problem("portfolio.since-csv", "--since adds sections a CSV file cannot hold",
                                  Location("--since"), hint="use --format md or json with --since")])
    hist = None
    if record or store or since_date or store_may_exist():
        from kamrules.history import use

        u = use.in_use(store, record, by)
        if u is None and since_date is not None:
            raise UsageError([Problem("portfolio.no-store", "--since needs a review store, and there is none yet",
                                      Location("--since"), hint="record reviews first: kamrules portfolio … --record")])
        if u is not None:
            hist = use.open_session(u, book)
    try:
        if hist is None:
            result = portfolio.build(inputs, book, as_of=date, lang=lang, engine=engine)
        else:
            from kamrules.history import use

            hist.keep_current = since_date is not None
            hist.preload([s.account.id for s in inputs.sources])
            result = portfolio.build(inputs, book, as_of=date, lang=lang, engine=engine, evaluator=hist.evaluate,
                                     overrides=use.portfolio_overrides(hist, date))
        text = portfolio.render(result, fmt)
        overlay = None
        if calibrate:  # before a store records anything: too few accounts stops the run
            import datetime as _dt

            from kamrules.portfolio.calibrate import calibrated_overlay

            overlay = calibrated_overlay(result.measures, book, rulebook, calibrate, list(files),
                                         date or _dt.date.today(), result.lang)
        if hist is not None and since_date is not None:
            from kamrules.history import use, views

            doc = use.since_portfolio(hist, since_date, stale_months)
            if fmt == "json":
                import json

                data = json.loads(text)
                data["since"] = doc
                text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
            else:
                text += views.since_markdown(doc, book, result.lang)
        if hist is not None:  # before the output: a store that refuses the reviews fails the run
            ids = hist.commit()
            for n in hist.store.notes:
                echo(f"kamrules: {n}", err=True)
            if ids:
                from kamrules.history.use import recorded_note

                echo(recorded_note(hist, ids), err=True)
    finally:
        if hist is not None:
            hist.store.close()
    if intake is not None and fmt == "json":
        from kamrules.io.crm.report import with_rows

        text = with_rows(text, intake.report)
    from kamrules.io.output import write_atomic, write_stdout

    if overlay is not None and calibrate:
        from kamrules.core.i18n import t

        write_atomic(calibrate, overlay.text, inputs=[*expand_inputs(files), *book.files])
        for line in overlay.notes:
            echo(line, err=True)
        echo(t("portfolio.calibrated", result.lang, file=calibrate, n=overlay.calibrated), err=True)
    if output:
        from kamrules.portfolio.portfolio import expand

        write_atomic(output, text, inputs=[*expand(files), *book.files, *(f.folder for f in book.templates),
                                           *([mapping] if mapping else [])])
    else:
        write_stdout(text)
    if fail_on and portfolio.fails(result, fail_on):
        sys.exit(1)


command = portfolio_cmd
