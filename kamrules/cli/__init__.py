"""The command line: one module per command, each a thin click layer over the library."""
from __future__ import annotations

import atexit
import gc

from kamrules.cli.main import main

__all__ = ["main", "run"]

# Python's cyclic garbage collector runs a collection every 700 container objects allocated and
# not freed. A cold `kamrules advise` allocates 70,000-100,000 that all live to the end (modules,
# classes, the rulebook, compiled templates), so about a hundred collections traverse them again
# and again and find nothing: 15-20 % of the run's CPU time (measured, docs/performance.md).
# The command line collects every 100,000 instead (as mypy does for the same reason): a one-account
# run never collects, a long portfolio run still does, and cyclic garbage stays bounded.
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
GC_THRESHOLD = 100_000


def run() -> None:
    """The `kamrules` program: the console script and `python -m kamrules`."""
    atexit.register(gc.freeze)
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, gen1, gen2)
    main()
