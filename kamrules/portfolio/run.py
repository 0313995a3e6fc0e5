"""The run loop of `kamrules portfolio`: tasks → workers → fold → Portfolio.

One loop for every kind of input (portfolio/stream.py makes the tasks) and any number of
workers (portfolio/pool.py): results arrive in input order, so the fold — and the output — is
the same whatever N is. A task whose worker died twice is not lost: its accounts are listed as
failed (problem `portfolio.worker-failed`, counted with the invalid ones), and a death that a
retry recovered from is a note on standard error.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Iterable

from kamrules.core.errors import Location, Problem
from kamrules.portfolio import pool
from kamrules.portfolio.fold import Fold
from kamrules.portfolio.portfolio import Portfolio, Row, sort_key, summarise
from kamrules.portfolio.stream import Accounts, AccountFile, CsvSlice, Evaluate, Invalid, Progress, Tally, Task
from kamrules.rulebook.model import Rulebook


@dataclass(frozen=True)
class Outcome:
    portfolio: Portfolio
    notes: tuple[str, ...]  # worker deaths a retry recovered from


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


def run(tasks: Iterable[Task], tally: Tally, book: Rulebook, *, as_of: _dt.date | None, lang: str | None,
        engine: str, workers: int = 1, summary_only: bool = False, progress: Progress | None = None) -> Outcome:
    lang = lang or book.lang
    fold = Fold(book, keep_rows=not summary_only)
    skipped: list[Problem] = []
    invalid = 0
    notes: list[str] = []
    engine_name = engine
    handler = Evaluate(book, as_of, lang, engine)
    try:
        for done in pool.run(tasks, handler, workers):
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
                progress.update(_share(done.task), len(fold))
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
    return Outcome(result, tuple(notes))


def _share(task: Task) -> float:
    if isinstance(task, (CsvSlice, AccountFile, Accounts)):
        return task.progress
    return 0.0  # pragma: no cover
