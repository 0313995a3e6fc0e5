"""`kamrules portfolio`: many accounts, one row each, and the portfolio summary."""
from __future__ import annotations

import dataclasses
import itertools
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable

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
from kamrules.core.errors import AccountError, Location, Problem, UsageError, grouped, render_problems

if TYPE_CHECKING:
    from kamrules.io.crm.intake import Intake


def expand_inputs(files: tuple[str, ...]) -> list[str]:
    from kamrules.portfolio.portfolio import expand

    return expand(files)


@click.command("portfolio")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@rulebook_option
@click.option("--format", "-f", "fmt", type=click.Choice(["md", "csv", "json", "html"]), default="md",
              show_default=True,
              help="md: a table and a summary; csv: one row per account for Excel (UTF-8 with BOM); "
                   "json: for scripts; html: the dashboard, one self-contained page (charts, sortable table).")
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
                   "warnings, warnings unresolved across reviews, warnings cleared, key accounts not reviewed "
                   "(md, json, html).")
@click.option("--stale-months", type=click.IntRange(1, 120), default=3, show_default=True, metavar="N",
              help="With --since: list key accounts whose last review is older than N months.")
@click.option("--workers", "-j", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Evaluate in N processes (default: the number of cores). The output is the same for any N. "
                   "With a review store the run stays in one process (the store's session is not shared).")
@click.option("--summary-only", is_flag=True,
              help="Output the summary alone, without the table of accounts (md or json): the run then keeps "
                   "a few numbers per account instead of every row.")
@click.option("--playbooks", metavar="DIR", default=None,
              help="Also write each account's HTML playbook into DIR (created if missing; safe file names "
                   "from the ids); the html dashboard links to them.")
@click.option("--calibrate", metavar="FILE", default=None,
              help="Also write a parameters overlay whose single-indicator and tier thresholds come from this "
                   "portfolio's own distribution; use it later with advise -r FILE.")
@guarded
def portfolio_cmd(files: tuple[str, ...], rulebook: str, fmt: str, lang: str | None, as_of: str | None,
                  engine: str, output: str | None, fail_on: str | None, skip_invalid: bool, mapping: str | None,
                  strict: bool, store: str | None, record: bool, by: str | None, since: str | None,
                  stale_months: int, workers: int | None, summary_only: bool, playbooks: str | None,
                  calibrate: str | None) -> None:
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
      kamrules portfolio export.csv --format html -o dashboard/index.html --playbooks dashboard/accounts/
    """
    from kamrules.authoring.gate import checked_rulebook
    from kamrules.portfolio import overview, pool, portfolio, rank, stream
    from kamrules.portfolio.run import measure, ranked_tasks, run
    from kamrules.portfolio.spill import Spill

    if summary_only and fmt == "csv":
        raise UsageError([Problem("portfolio.summary-csv", "--summary-only has no CSV form (a CSV is one row per "
                                  "account)", Location("--summary-only"), hint="use --format md or --format json")])
    if summary_only and (fmt == "html" or playbooks):
        raise UsageError([Problem("portfolio.summary-html", "the dashboard and --playbooks need every account's row, "
                                  "which --summary-only does not keep", Location("--summary-only"),
                                  hint="leave out --summary-only, or use --format md or json without --playbooks")])
    date = parse_as_of(as_of)
    book = checked_rulebook(rulebook)
    if calibrate:
        from kamrules.portfolio.calibrate import check_calibratable

        check_calibratable(book, calibrate, rulebook)
    since_date = parse_as_of(since) if since else None
    if since_date is not None and fmt == "csv":
        raise UsageError([Problem("portfolio.since-csv", "--since adds sections a CSV file cannot hold",
                                  Location("--since"), hint="use --format md, json or html with --since")])
    hist = None
    if record or store or since_date or store_may_exist():
        from kamrules.history import use

        u = use.in_use(store, record, by)
        if u is None and since_date is not None:
            raise UsageError([Problem("portfolio.no-store", "--since needs a review store, and there is none yet",
                                      Location("--since"), hint="record reviews first: kamrules portfolio … --record")])
        if u is not None:
            hist = use.open_session(u, book)
    intake = None
    at_or_above: Callable[[int], list[str]] | None = None  # the pooled run's accounts at a severity
    try:
        if mapping:
            import datetime as _dt

            date = date or _dt.date.today()  # periods and evaluation count from the same day
            intake = read_mapped(files, mapping, book, date, strict)
        ranked_book = rank.ranks(book) or bool(calibrate)
        if hist is None:
            # no store: the pooled run (any number of workers, the same bytes), streamed from the inputs
            tally = stream.Tally()
            make: Callable[[stream.Tally], Iterable[stream.Task]]
            if intake is not None:
                tally.problems.extend(p for p in intake.report.problems if p.location.file in
                                      {f.file for f in intake.report.files if f.table == "accounts"})
                tally.invalid = intake.report.rejected_accounts
                accounts = intake.accounts
                make = lambda _: stream.account_tasks(accounts)  # noqa: E731
            else:
                paths = portfolio.expand(files)
                make = lambda t: stream.tasks(paths, book, t)  # noqa: E731
            progress = stream.Progress()
            n_workers = workers or pool.default_workers()
            first_notes: list[str] = []  # worker deaths a retry recovered from, in the first pass
            if ranked_book:
                # two passes over the inputs, both streamed through the same workers: every account is
                # measured and the book ranked (a few numbers per account kept here), then each account
                # is evaluated knowing its portfolio tier (read from where the first pass kept it)
                with pool.Workers(stream.Evaluate(book, date, lang or book.lang, engine), n_workers) as w, \
                        Spill() as kept:
                    # the first pass reads the inputs (their problems are the tally's) and keeps what it
                    # read for the second; a worker that died on every attempt: InputError
                    measured, again = measure(make(tally), book, w, progress, first_notes, kept)
                    ranked = rank.ranking(measured.view(), book.playbook.portfolio)
                    outcome = run(ranked_tasks(again, measured, ranked, book), tally, book, as_of=date,
                                  lang=lang, engine=engine, workers=w, summary_only=summary_only, progress=progress,
                                  views=summary_only, progress_from=0.5, measured=measured)
                result = outcome.portfolio
                row_views = outcome.views if outcome.views is not None else overview.row_views(result.rows)
                view = overview.overview(row_views, ranked, measured.view(), book)
                # --summary-only keeps the rows with data checks only: the Markdown summary lists them
                result = dataclasses.replace(result, overview=view, measures=measured.view(),
                                             rows=outcome.checked if summary_only else result.rows)
            else:
                outcome = run(make(tally), tally, book, as_of=date, lang=lang, engine=engine, workers=n_workers,
                              summary_only=summary_only, progress=progress)
                result = outcome.portfolio
            at_or_above = outcome.at_or_above
            for note in (*first_notes, *outcome.notes):
                echo(f"kamrules: {note}", err=True)
            failed = [p for p in result.skipped if p.code == "portfolio.worker-failed"]
            problems = tuple(p for p in result.skipped if p.code != "portfolio.worker-failed")
            invalid = result.invalid
        else:
            # a review store: one process, the store's session reads the previous reviews and records these
            if intake is not None:
                left_out = tuple(p for p in intake.report.problems if p.location.file in
                                 {f.file for f in intake.report.files if f.table == "accounts"})
                inputs = portfolio.Inputs(tuple(portfolio.Source(a, where) for a, where in intake.accounts),
                                          left_out, intake.report.rejected_accounts)
            else:
                inputs = portfolio.collect(files, book)
            failed, problems, invalid = [], inputs.problems, inputs.invalid
        if problems and not skip_invalid and intake is None:
            raise AccountError(problems)
        if failed:
            echo(render_problems(failed, shown_problems()), err=True)
        if problems and intake is None:  # alike rows as one ('不详' under 员工人数 on 300 rows); JSON: every one
            echo(render_problems(grouped(problems), shown_problems()), err=True)
            echo(f"kamrules: skipped {invalid} invalid account{'s' if invalid != 1 else ''}.", err=True)
        if not (result.accounts if hist is None else inputs.sources):
            raise UsageError([Problem("portfolio.empty", "there is no valid account to evaluate", Location(files[0]),
                                      hint="pass account files, CSV exports or folders holding them")])
        if hist is not None:
            from kamrules.history import use

            hist.keep_current = since_date is not None
            hist.preload([s.account.id for s in inputs.sources])
            result = portfolio.build(inputs, book, as_of=date, lang=lang, engine=engine, evaluator=hist.evaluate,
                                     overrides=use.portfolio_overrides(hist, date))
            if summary_only:  # the same summary; the rows were needed for the reviews anyway
                result = dataclasses.replace(result, summary_only=True)
        from kamrules.portfolio.portfolio import expand

        read = [*expand(files), *book.files, *(f.folder for f in book.templates), *([mapping] if mapping else [])]
        plan = None
        if playbooks:
            from kamrules.portfolio import playbooks as pb

            plan = pb.plan(playbooks, [r.id for r in result.rows], page=output, inputs=read)
        doc = None
        if hist is not None and since_date is not None:
            from kamrules.history import use

            doc = use.since_portfolio(hist, since_date, stale_months)
        # the output as pieces, made as they are written (write_atomic, write_stdout): a summary that
        # lists every account, or the table of every account, is never held whole as text
        text: Iterable[str]
        data: dict[str, Any] | None = None
        if fmt == "html":
            from kamrules.portfolio import dashboard

            text = [dashboard.render(result, plan.links(output) if plan else None, since=doc)]
        elif fmt == "json":
            data = portfolio.json_data(result)  # written below, with what is added to it
            text = ()
        else:
            text = portfolio.pieces(result, fmt)
        overlay = None
        if calibrate:  # before a store records anything: too few accounts stops the run
            import datetime as _dt

            from kamrules.portfolio.calibrate import calibrated_overlay

            overlay = calibrated_overlay(result.measures, book, rulebook, calibrate, list(files),
                                         date or _dt.date.today(), result.lang)
        if doc is not None and fmt != "html":
            from kamrules.history import views

            if data is not None:
                data["since"] = doc
            else:
                text = itertools.chain(text, [views.since_markdown(doc, book, result.lang)])
        if hist is not None:  # before the output: a store that refuses the reviews fails the run
            # ...and after the text is made: a run that fails while making it records nothing (the
            # store's run holds every row anyway, so the whole text costs little more)
            if data is not None:
                _add_rows(data, intake)
                text, data = list(portfolio.json_pieces(data)), None
            else:
                text = list(text)
            ids = hist.commit()
            for n in hist.store.notes:
                echo(f"kamrules: {n}", err=True)
            if ids:
                from kamrules.history.use import recorded_note

                echo(recorded_note(hist, ids), err=True)
    finally:
        if hist is not None:
            hist.store.close()
    if data is not None:
        _add_rows(data, intake)
        text = portfolio.json_pieces(data)
    from kamrules.io.output import write_atomic, write_stdout

    if plan is not None:
        # the playbooks are evaluated again here, one by one (the pooled run keeps rows, not advice)
        if hist is not None:
            sources = inputs.sources
        elif intake is not None:
            sources = tuple(portfolio.Source(a, where) for a, where in intake.accounts)
        else:
            sources = portfolio.collect(files, book).sources
        pb.write(plan, sources, book, as_of=date, lang=lang, engine=engine, inputs=read)
    if overlay is not None and calibrate:
        from kamrules.core.i18n import t

        write_atomic(calibrate, overlay.text, inputs=[*expand(files), *book.files])
        for line in overlay.notes:
            echo(line, err=True)
        echo(t("portfolio.calibrated", result.lang, file=calibrate, n=overlay.calibrated), err=True)
    if output:
        write_atomic(output, text, inputs=read)
    else:
        write_stdout(text)
    if fail_on and portfolio.fails(result, fail_on):
        # say why the exit is 1 (the table may be in a file): which accounts have such a finding
        from kamrules.core import textsafe
        from kamrules.rulebook.model import SEVERITIES

        limit = SEVERITIES.index(fail_on)
        hit = at_or_above(limit) if at_or_above is not None else \
            [r.id for r in result.rows if any(SEVERITIES.index(s) <= limit for s in r.severities)]
        shown = ", ".join(hit[:10]) + (f", … ({len(hit) - 10} more)" if len(hit) > 10 else "")
        echo(textsafe.line(f"kamrules: exit 1 (--fail-on {fail_on}): {len(hit)} account{'s' if len(hit) != 1 else ''} "
                           f"with a finding at {fail_on} or above: {shown}"), err=True)
        sys.exit(1)


def _add_rows(data: dict[str, Any], intake: Intake | None) -> None:
    """Where every input row of a mapped export went, beside the summary."""
    if intake is not None:
        data["rows"] = intake.report.as_dict()


command = portfolio_cmd
