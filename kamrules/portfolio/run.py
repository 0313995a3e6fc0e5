"""The run loop of `kamrules portfolio`: tasks → workers → fold → Portfolio.

One loop for every kind of input (portfolio/stream.py makes the tasks) and any number of
workers (portfolio/pool.py): results arrive in input order, so the fold — and the output — is
the same whatever N is. A task whose worker died twice is not lost: its accounts are listed as
failed (problem `portfolio.worker-failed`, counted with the invalid ones), and a death that a
retry recovered from is a note on standard error. In the first pass of a ranked run (measure)
such a task fails the run instead: the ranking of a book with accounts missing is wrong.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

from kamrules.core.errors import InputError, Location, Problem
from kamrules.portfolio import pool, rank, spill
from kamrules.portfolio.fold import Fold
from kamrules.portfolio.overview import RowView
from kamrules.portfolio.portfolio import Portfolio, Row, sort_key, summarise
from kamrules.portfolio.stream import (Accounts, AccountFile, CsvSlice, Evaluate, Invalid, Kept, Pass, Progress,
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
        return (f"lines {task.first_line}–{_last_line(task)} of {task.file}", Location(task.file, task.first_line), n)
    if isinstance(task, AccountFile):
        return task.file, Location(task.file), 1
    if isinstance(task, Kept):
        if not task.first:
            return task.file, Location(task.file), task.count
        return f"lines {task.first}–{task.last} of {task.file}", Location(task.file, task.first), task.count
    where = task.accounts[0][1] if task.accounts else Location("-")
    files = {w.file for _, w in task.accounts}
    lines = [w.line for _, w in task.accounts if w.line]
    if len(files) == 1 and len(lines) == len(task.accounts) and lines:  # rows of one export: name their lines
        return (f"lines {min(lines)}–{max(lines)} of {where.file}", where, len(task.accounts))
    return f"{len(task.accounts)} accounts from {where}", where, len(task.accounts)


def _last_line(task: CsvSlice) -> int:
    return max(task.first_line + task.text.count("\n") - 1, task.first_line)


def measure(tasks: Iterable[Task], book: Rulebook, workers: pool.Workers[Any, TaskResult],
            progress: Progress | None = None, notes: list[str] | None = None, keep: spill.Spill | None = None
            ) -> tuple[rank.Measured, list[Task]]:
    """The first pass of a ranked run, streamed: every task's accounts measured in the workers, a
    few floats per account kept here (rank.Measured). A task whose worker died is measured again
    by another (pool.RETRIES; a note in `notes`); one whose worker died on every attempt fails the
    run (InputError, after the pass, naming every such task): without its accounts the book's
    ranking — every account's rank, tier and ABC class — would be wrong, and wrong in silence.

    Also the second pass's tasks, in order: with `keep`, the accounts a worker read from a file (a
    CSV slice, an account file) are kept there and the task names them (stream.Kept), so the
    second pass reads no input again; any other task (accounts read here, or one whose accounts
    could not be written) is given again as it is."""
    measured = rank.Measured(rank.wanted(book.playbook.portfolio))
    failed: list[Problem] = []
    again: list[Task] = []

    def first(i: int, t: Task) -> Task:
        spot = keep.spot(i) if keep is not None and isinstance(t, (CsvSlice, AccountFile)) else None
        return dataclasses.replace(t, pass_=Pass(measure=True, keep=spot))
    for done in workers.run(first(i, t) for i, t in enumerate(tasks)):
        start = len(measured.rows)
        if isinstance(done.result, pool.Failed):
            what, where, n = describe(done.task)
            failed.append(Problem(
                "portfolio.worker-failed", f"a worker process died on each of {done.result.attempts} attempts "
                f"({done.result.reason}) while measuring {what} for the ranking of the book: the book cannot be "
                f"ranked without its {n:,} account{'s' if n != 1 else ''}", where,
                hint="evaluate these accounts alone to see why (a crash, or the machine running out of memory)"))
        else:
            if done.attempts > 1 and notes is not None:
                what, _, _ = describe(done.task)
                notes.append(f"a worker process died while measuring {what}; it was measured again, by another")
            for item in done.result.items:
                if item is not None:
                    measured.add(*item)
        task, spot = done.task, done.task.pass_.keep
        if spot is not None and not isinstance(done.result, pool.Failed) and done.result.kept:
            n = len(done.result.items)
            if isinstance(task, CsvSlice):
                again.append(Kept(spot, task.file, task.first_line, _last_line(task), n, task.progress))
            else:
                again.append(Kept(spot, task.file, 0, 0, n, _share(task)))
        else:
            again.append(task)
        measured.spans.append((start, len(measured.rows)))
        if progress is not None:
            progress.update(_share(done.task) / 2, len(measured.ids))
    if failed:
        if progress is not None:
            progress.close()
        raise InputError(failed)
    return measured, again


def ranked_tasks(tasks: Iterable[Task], measured: rank.Measured, ranking: rank.Ranking,
                 book: Rulebook) -> Iterator[Task]:
    """The second pass's tasks: the same tasks again, in the same order, each with the portfolio
    facts of the accounts the first pass found in it — for a kept task, by position (its accounts
    are the first pass's, in its order: no id is decoded or sent); for any other, by id."""
    ids = measured.ids
    for i, t in enumerate(tasks):
        if isinstance(t, Kept):  # the first pass's accounts in its order: placements by position, no id
            placed = tuple(ranking.placed(k) for k in measured.task_indexes(i))
            yield dataclasses.replace(t, pass_=Pass(ranked=(ranking.size, ranking.by), placed=placed))
            continue
        given: dict[str, dict[str, Any]] = {}
        for k in measured.task_indexes(i):  # ranking.at(k): the ranking was made from measured.view()
            p = ranking.at(k)
            if p is not None:
                given[ids[k]] = rank.supplied_facts(book, ranking, p)
        yield dataclasses.replace(t, pass_=Pass(given=given))


def run(tasks: Iterable[Task], tally: Tally, book: Rulebook, *, as_of: _dt.date | None, lang: str | None,
        engine: str, workers: int | pool.Workers[Any, TaskResult] = 1, summary_only: bool = False,
        progress: Progress | None = None, views: bool = False, progress_from: float = 0.0,
        measured: rank.Measured | None = None) -> Outcome:
    """views: with summary_only, also keep what the overview reads of each account (Outcome.views).
    workers: a number, or the workers of a first pass (they serve this one too). measured: the
    first pass of these tasks (ranked_tasks): each account is folded by its index there."""
    lang = lang or book.lang
    fold = Fold(book, keep_rows=not summary_only, views=views, known=measured.ids if measured else None)
    if summary_only:  # the workers send the rows folded (fold.Part): no Row crosses a pipe
        tasks = (dataclasses.replace(t, pass_=dataclasses.replace(t.pass_, folded=True, views=fold.views))
                 for t in tasks)
    with contextlib.ExitStack() as stack:
        if isinstance(workers, int):
            workers = stack.enter_context(pool.Workers(Evaluate(book, as_of, lang, engine), workers))
        return _run(tasks, tally, book, fold, as_of=as_of, lang=lang, engine=engine, workers=workers,
                    summary_only=summary_only, progress=progress, progress_from=progress_from, measured=measured)


def _run(tasks: Iterable[Task], tally: Tally, book: Rulebook, fold: Fold, *, as_of: _dt.date | None,
         lang: str, engine: str, workers: pool.Workers[Any, TaskResult], summary_only: bool,
         progress: Progress | None, progress_from: float, measured: rank.Measured | None = None) -> Outcome:
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
            known = _Known(measured, done.index, isinstance(done.task, Kept)) if measured is not None else None
            for item in done.result.items:
                if isinstance(item, Invalid):
                    skipped.extend(item.problems)
                    invalid += 1
                elif isinstance(item, Row) and not fold.add(item, known.index(item.id) if known else None):
                    invalid += 1
            part = done.result.part
            if part is not None:
                invalid += fold.merge(part, [known.index(i) for i in part.ids] if known else None)
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
    result = Portfolio(book, lang, engine_name, common, rows, summarise(rows if not summary_only else fold.columns(), book), tuple(problems),
                       invalid + tally.invalid, count=len(fold), summary_only=summary_only,
                       severities=frozenset(fold.severities))
    if fold.views:
        return Outcome(result, tuple(notes), fold.row_views(), tuple(sorted(fold.checked, key=sort_key(book))),
                       fold.at_or_above)
    return Outcome(result, tuple(notes), at_or_above=fold.at_or_above if summary_only else None)


class _Known:
    """The index in the first pass's ids of each account of one task of the second pass: the task's
    valid accounts come back in the order the first pass read them (the same rows, read by the same
    code), so they are matched in order; one that does not match (the file changed between the
    passes) is looked up, and an id the first pass never saw has none."""

    def __init__(self, measured: rank.Measured, task: int, kept: bool = False) -> None:
        self.m = measured
        self.expected = measured.task_indexes(task)
        self.next = 0
        self.kept = kept  # the accounts the first pass kept: the same, in its order, by construction

    def index(self, ident: str) -> int | None:
        exp, k = self.expected, self.next
        if k < len(exp) and (self.kept or self.m.ids[exp[k]] == ident):
            self.next = k + 1
            return exp[k]
        return self.m.index_of(ident)


def _share(task: Task) -> float:
    if isinstance(task, (CsvSlice, AccountFile, Accounts, Kept)):
        return task.progress
    return 0.0  # pragma: no cover
