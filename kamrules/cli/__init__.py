"""The command line: one module per command, each a thin click layer over the library."""
from __future__ import annotations

import atexit
import gc

TYPE_CHECKING = False  # not typing's: see kamrules/__init__.py
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main", "run"]

# Python's cyclic garbage collector runs a collection every 700 container objects allocated and
# not freed. A cold `kamrules advise` allocates 70,000-100,000 that all live to the end (modules,
# classes, the rulebook, compiled templates), so about a hundred collections traverse them again
# and again and find nothing: 15-20 % of the run's CPU time (measured, docs/performance.md).
# The command line collects every 200,000 instead (as mypy does for the same reason): a one-account
# run never collects, a long portfolio run still does, and cyclic garbage stays bounded. (It was
# 100,000 until a one-account advise outgrew it: ~114,000 at the output with --explain in html,
# and one collection of ~43 M instructions (callgrind) while the playbook's template compiled,
# cached or not; the 23,000 objects it freed change the peak RSS by ~0.2 MiB.)
#
# At exit, the interpreter collects again while it tears the modules down, traversing every object
# still alive several times: ~90 ms of a cold advise's CPU time (measured: 385 → 296 ms, median of
# 9), for memory the operating system takes back anyway. gc.freeze() moves every object into the
# permanent generation, which those last collections skip. It runs after the exit handlers that what
# a command imports registers (it is registered first; they run last to first): whatever closes or
# flushes at exit has done so. Objects are
# still released as usual; only cyclic garbage that nothing would ever use again is left to the
# operating system, as CPython already allows (it does not promise finalizers at exit).
# Only the program sets these; kamrules used as a library leaves the collector alone.
GC_THRESHOLD = 200_000


def run() -> None:
    """The `kamrules` program: the console script and `python -m kamrules`."""
    atexit.register(gc.freeze)
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, gen1, gen2)
    try:
        group = _group()  # click and the group: most of the start-up, while Ctrl-C is still Python's
    except KeyboardInterrupt:
        from kamrules.core import interrupt

        interrupt.exit_interrupted()
    group()


# The click group is imported on first use, not with this package: the console script and
# `python -m kamrules` import this package before run() can answer a Ctrl-C, so what they import
# must be light (a Ctrl-C there would print a traceback).
def _group() -> Any:
    group = globals().get("main")
    if group is None:
        from kamrules.cli.group import main as group

        globals()["main"] = group
    return group


def __getattr__(name: str) -> Any:
    if name == "main":
        return _group()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
