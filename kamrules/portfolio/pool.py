"""Worker processes for a portfolio run: tasks in, results out in input order.

    tasks ──▶ main ──task──▶ worker 1 ──result──▶ main ──(reorder by index)──▶ caller
                     └─task──▶ worker 2 ──result──┘

Why processes and not threads: durable_rules is neither thread-safe nor fork-safe once it has
a Host (DESIGN §3), and the reference evaluator is pure Python (the GIL). Each worker is forked
before it evaluates anything, so it builds its own engine (`DurableBackend.shared()` checks the
pid) and inherits the loaded rulebook instead of loading it again.

Each worker holds exactly one task at a time, so when a worker dies (killed, out of memory,
a crash inside the C extension) the main process knows which task it held: that task is given
to a fresh worker once more, and if it kills that one too it comes back as `Failed` — in its
place in the order, so nothing is lost and nothing is counted twice. An exception raised by the
handler is not a death: it is re-raised in the main process (the same error a one-process run
raises).

Results are yielded in task order whatever the number of workers, so what the caller folds —
and so the output — is the same bytes for any N. At most `window` tasks are in flight or waiting
to be yielded, so memory does not grow with the number of tasks.

Workers ignore SIGINT: Ctrl-C reaches the whole process group, and only the main process
decides what to do (stop every worker, write nothing).
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import traceback
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

RETRIES = 1  # a task whose worker died is tried this many more times

# Evaluating accounts leaves cyclic garbage: an account that misses a figure gets its bounds in
# its fact environment, which the bounds read (engine/facts.py), so both are freed only by the
# cyclic collector. The command line collects every 100,000 allocations (kamrules/cli: a short
# run's objects live to its end); at that pace a process evaluating accounts carried ≈ 15 MiB of
# such garbage (10,000 accounts in one process: 49 vs 33 MiB of RSS, the same CPU time within
# the noise — docs/performance.md). Accounts are evaluated at Python's own pace.
EVALUATION_GC_THRESHOLD = (700, 10, 10)


@contextlib.contextmanager
def evaluation_gc() -> Iterator[None]:
    """Python's own collection pace while accounts are evaluated in this process; the caller's after."""
    before = gc.get_threshold()
    gc.set_threshold(*EVALUATION_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@dataclass(frozen=True)
class Failed:
    """A task whose worker died on every attempt."""

    attempts: int
    reason: str  # "killed by signal 9", "exit code 1"


@dataclass(frozen=True)
class Done(Generic[T, R]):
    index: int
    task: T
    result: R | Failed
    attempts: int = 1  # > 1: a worker died on it before


class _RemoteError(Exception):
    """A handler error that could not be pickled: its traceback, as text."""


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _serve(conn: Connection, handler: Callable[[Any], Any]) -> None:
    # what the worker inherited (modules, the rulebook) is never collected again: frozen, so that
    # collections at the evaluation's pace traverse only what the worker allocates
    gc.freeze()
    gc.set_threshold(*EVALUATION_GC_THRESHOLD)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by the parent for the fork
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        index, task = msg
        try:
            out: tuple[str, int, Any] = ("ok", index, handler(task))
        except BaseException as e:  # noqa: BLE001 - sent back and raised in the main process
            out = ("error", index, e)
        try:
            conn.send(out)
        except Exception:  # the exception (or a result) does not pickle
            conn.send(("error", index, _RemoteError(traceback.format_exc())))


class _Worker:
    def __init__(self, ctx: Any, handler: Callable[[Any], Any]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, handler), daemon=True)
        # Ctrl-C between the fork and the worker's SIG_IGN would end the worker with a traceback:
        # the child starts with SIGINT blocked; one that arrives meanwhile reaches the parent
        # when it unblocks here, and is raised there as usual
        before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
        child.close()
        self.task: int | None = None  # the index of the task it holds

    def stop(self, *, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.proc.join(timeout=None if kill else 5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _death(proc: Any) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def run(tasks: Iterable[T], handler: Callable[[T], R], workers: int, *, window: int = 0) -> Iterator[Done[T, R]]:
    """`handler(task)` for every task, results in task order. workers ≤ 1 (or no fork on this
    platform): in this process, one after another."""
    with Workers(handler, workers, window=window) as w:
        yield from w.run(tasks)


class Workers(Generic[T, R]):
    """Worker processes that outlive one pass over the tasks: a ranked portfolio reads its inputs
    twice (measure, then evaluate), and the workers forked for the first pass serve the second.
    They are forked when the first pass starts, while the main process is small — a fork later,
    after the first pass has gathered the book's ranking, would give every worker a copy of it.
    Close it (or use it as a context manager) to stop them."""

    def __init__(self, handler: Callable[[T], R], workers: int, *, window: int = 0) -> None:
        self.handler = handler
        self.pool: _Pool[T, R] | None = None
        if workers > 1 and can_fork():
            self.pool = _Pool(handler, workers, window or 4 * workers)

    def run(self, tasks: Iterable[T]) -> Iterator[Done[T, R]]:
        if self.pool is None:
            for i, t in enumerate(tasks):
                with evaluation_gc():  # not around the yield: the caller's work keeps its own pace
                    result = self.handler(t)
                yield Done(i, t, result)
            return
        yield from self.pool.run(tasks)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def __enter__(self) -> Workers[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Pool(Generic[T, R]):
    def __init__(self, handler: Callable[[T], R], workers: int, window: int) -> None:
        self.ctx = multiprocessing.get_context("fork")
        self.handler = handler
        self.n = workers
        self.window = max(window, workers)
        self.workers: list[_Worker] = []  # kept from one run to the next

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers.clear()

    def run(self, tasks: Iterable[T]) -> Iterator[Done[T, R]]:
        source = iter(tasks)
        exhausted = False
        pending: dict[int, T] = {}  # given out or waiting for a worker, by index
        attempts: dict[int, int] = {}
        retry: deque[int] = deque()
        done: dict[int, tuple[R | Failed, int]] = {}
        next_in = next_out = 0
        pool = self.workers
        try:
            while True:
                # hand out work: retries first, then new tasks while the window allows
                idle = [w for w in pool if w.task is None]
                while len(pool) < self.n and (retry or (not exhausted and next_in - next_out < self.window)):
                    w = _Worker(self.ctx, self.handler)
                    pool.append(w)
                    idle.append(w)
                for w in idle:
                    if retry:
                        i = retry.popleft()
                    elif not exhausted and next_in - next_out < self.window:
                        try:
                            task = next(source)
                        except StopIteration:
                            exhausted = True
                            break
                        i, next_in = next_in, next_in + 1
                        pending[i] = task
                    else:
                        break
                    attempts[i] = attempts.get(i, 0) + 1
                    w.task = i
                    w.conn.send((i, pending[i]))
                while next_out in done:
                    result, tries = done.pop(next_out)
                    yield Done(next_out, pending.pop(next_out), result, tries)
                    attempts.pop(next_out, None)
                    next_out += 1
                busy = [w for w in pool if w.task is not None]
                if not busy:
                    if exhausted and not retry and next_out == next_in:
                        return
                    continue
                ready = wait([*(w.conn for w in busy), *(w.proc.sentinel for w in busy)])
                for w in busy:
                    if w.conn in ready:
                        try:
                            status, i, value = w.conn.recv()
                        except (EOFError, OSError):
                            self._died(w, pool, done, retry, attempts)
                            continue
                        w.task = None
                        if status == "error":
                            raise value
                        done[i] = (value, attempts[i])
                    elif w.proc.sentinel in ready:
                        self._died(w, pool, done, retry, attempts)
        except BaseException:
            for w in pool:
                w.stop(kill=True)
            pool.clear()
            raise

    @staticmethod
    def _died(w: _Worker, pool: list[_Worker], done: dict[int, Any], retry: deque[int],
              attempts: dict[int, int]) -> None:
        w.proc.join()
        i = w.task
        reason = _death(w.proc)
        w.conn.close()
        pool.remove(w)
        if i is None:
            return
        if attempts[i] <= RETRIES:
            retry.append(i)
        else:
            done[i] = (Failed(attempts[i], reason), attempts[i])
