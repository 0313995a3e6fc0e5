"""The command line: one module per command, each a thin click layer over the library."""
from __future__ import annotations

import gc

from kamrules.cli.main import main

__all__ = ["main", "run"]

# Python's cyclic garbage collector runs a collection every 700 container objects allocated and
# not freed. A cold `kamrules advise` allocates 70,000-100,000 that all live to the end (modules,
# classes, the rulebook, compiled templates), so about a hundred collections traverse them again
# and again and find nothing: 15-20 % of the run's CPU time (measured, docs/performance.md).
# The command line collects every 100,000 instead (as mypy does for the same reason): a one-account
# run never collects, a long portfolio run still does, and cyclic garbage stays bounded.
# Only the program sets this; kamrules used as a library leaves the collector alone.
GC_THRESHOLD = 100_000


def run() -> None:
    """The `kamrules` program: the console script and `python -m kamrules`."""
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, gen1, gen2)
    main()
