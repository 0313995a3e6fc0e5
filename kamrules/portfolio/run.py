"""The run loop of `kamrules portfolio`: tasks → workers → fold → Portfolio.

One loop for every kind of input (portfolio/stream.py makes the tasks) and any number of
workers (portfolio/pool.py): results arrive in input order, so the fold — and the output — is
the same whatever N is. A task whose worker died twice is not lost: its accounts are listed as
failed (problem `portfolio.worker-failed`, counted with the invalid ones), and a death that a
retry recovered from is a note on standard error.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

from kamrules.core.errors import Location, Problem
from kamrules.portfolio import pool, rank
from kamrules.portfolio.fold import Fold
from kamrules.portfolio.overview import RowView
from kamrules.portfolio.portfolio import Portfolio, Row, sort_key, summarise
from kamrules.portfolio.stream import (MEASURE, Accounts, AccountFile, CsvSlice, Evaluate, Invalid, Pass, Progress,
                                       TaskResult, Tally, Task)
from kamrules.rulebook.model import Rulebook


@dataclass(frozen=True)
class Outcome:
    portfolio: Portfolio
    notes: tuple[str, ...]  # worker deaths a retry recovered from
    views: Sequence[RowView] | None = None  # views=True: what the overview reads of each account
    checked: tuple[Row, ...] = ()  # views=True: the rows with data checks, sorted as a table
    # the ids of the accounts with a finding at SEVERITIES[limit] or above, in the table's order
    # (--fail-on's message; with --summary-only there is no table to read them from)
    at_or_above: Callable[[int], list[str]] | None = None


def describe(task: Task) -> tuple[str, Location, int]:
    """What a task held, for a report: words, where it starts, how many accounts."""
    if isinstance(task, CsvSlice):
        n = sum(1 for line in task.text.splitlines() if line.strip())
        last = task.first_line + task.text.count("\n") - 1
        return (f"lines {task.first_line}–{max(last, task.first_line)} of {task.file}",
                Location(task.file, task.first_line), n)
    if isinstance(task, AccountFile):
        return task.file, Location(task.file), 1
    where = task.accounts[0][1] if task.accounts else Location("-")
    files = {w.file for _, w in task.accounts}
    lines = [w.line for _, w in task.accounts if w.line]
    if len(files) == 1 and len(lines) == len(task.accounts) and lines:  # rows of one export: name their lines
        return (f"lines {min(lines)}–{max(lines)} of {where.file}", where, len(task.accounts))
    return f"{len(task.accounts)} accounts from {where}", where, len(task.accounts)


def measure(tasks: Iterable[Task], book: Rulebook, workers: pool.Workers[Any, TaskResult],
            progress: Progress | None = None) -> rank.Measured:
    """The first pass of a ranked run, streamed: every task's accounts measured in the workers, a
    few floats per account kept here (rank.Measured). A task whose worker died on every attempt
    is measured as empty: its accounts are not ranked, and the second pass reports them."""
    measured = rank.Measured(rank.wanted(book.playbook.portfolio))
    for done in workers.run(dataclasses.replace(t, pass_=MEASURE) for t in tasks):
        start = len(measured.row_ids)
        if not isinstance(done.result, pool.Failed):
            for item in done.result.items:
                if item is not None:
                    measured.add(*item)
        measured.spans.append((start, len(measured.row_ids)))
        if progress is not None:
            progress.update(_share(done.task) / 2, len(measured.ids))
    measured.done()
    return measured


def ranked_tasks(tasks: Iterable[Task], measured: rank.Measured, ranking: rank.Ranking,
                 book: Rulebook) -> Iterator[Task]:
    """The second pass's tasks: the same tasks again, in the same order, each with the portfolio
    facts of the accounts the first pass found in it."""
    for i, t in enumerate(tasks):
        given: dict[str, dict[str, Any]] = {}
        for ident in measured.task_ids(i):
            p = ranking.of(ident)
            if p is not None:
                given[ident] = rank.supplied_facts(book, ranking, p)
        yield dataclasses.replace(t, pass_=Pass(given=given))


def run(tasks: Iterable[Task], tally: Tally, book: Rulebook, *, as_of: _dt.date | None, lang: str | None,
        engine: str, workers: int | pool.Workers[Any, TaskResult] = 1, summary_only: bool = False,
        progress: Progress | None = None, views: bool = False, progress_from: float = 0.0) -> Outcome:
    """views: with summary_only, also keep what the overview reads of each account (Outcome.views).
    workers: a number, or the workers of a first pass (they serve this one too)."""
    lang = lang or book.lang
    fold = Fold(book, keep_rows=not summary_only, views=views)
    with contextlib.ExitStack() as stack:
        if isinstance(workers, int):
            workers = stack.enter_context(pool.Workers(Evaluate(book, as_of, lang, engine), workers))
        return _run(tasks, tally, book, fold, as_of=as_of, lang=lang, engine=engine, workers=workers,
                    summary_only=summary_only, progress=progress, progress_from=progress_from)


def _run(tasks: Iterable[Task], tally: Tally, book: Rulebook, fold: Fold, *, as_of: _dt.date | None,
         lang: str, engine: str, workers: pool.Workers[Any, TaskResult], summary_only: bool,
         progress: Progress | None, progress_from: float) -> Outcome:
    skipped: list[Problem] = []
    invalid = 0
    notes: list[str] = []
    engine_name = engine
    try:
        for done in workers.run(tasks):
            if isinstance(done.result, pool.Failed):
                what, where, n = describe(done.task)
                skipped.append(Problem(
                    "portfolio.worker-failed", f"a worker process died on each of {done.result.attempts} attempts "
                    f"({done.result.reason}) while evaluating {what}: its {n:,} account{'s' if n != 1 else ''} "
                    "are left out", where, hint="evaluate these accounts alone to see why (a crash, or the "
                    "machine running out of memory)"))
                invalid += n
                continue
            if done.attempts > 1:
                what, _, _ = describe(done.task)
                notes.append(f"a worker process died while evaluating {what}; it was evaluated again, by another")
            if done.result.engine:
                engine_name = done.result.engine
            for item in done.result.items:
                if isinstance(item, Invalid):
                    skipped.extend(item.problems)
                    invalid += 1
                elif isinstance(item, Row) and not fold.add(item):
                    invalid += 1
            if progress is not None:
                progress.update(progress_from + (1 - progress_from) * _share(done.task), len(fold))
    finally:
        if progress is not None:
            progress.close()
    rows: tuple[Row, ...] = ()
    if not summary_only:
        rows = tuple(sorted(fold.rows, key=sort_key(book)))
    dates = set(fold.dates)
    common = as_of or (dates.pop() if len(dates) == 1 else None)
    problems = sorted([*tally.problems, *skipped, *fold.duplicates], key=Problem.sort_key)
    result = Portfolio(book, lang, engine_name, common, rows, summarise(rows if not summary_only else fold.view(), book), tuple(problems),
                       invalid + tally.invalid, count=len(fold), summary_only=summary_only,
                       severities=frozenset(fold.severities))
    if fold.views:
        return Outcome(result, tuple(notes), fold.row_views(), tuple(sorted(fold.checked, key=sort_key(book))),
                       fold.at_or_above)
    return Outcome(result, tuple(notes), at_or_above=fold.at_or_above if summary_only else None)


def _share(task: Task) -> float:
    if isinstance(task, (CsvSlice, AccountFile, Accounts)):
        return task.progress
    return 0.0  # pragma: no cover
