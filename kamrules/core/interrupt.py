"""Ctrl-C that cannot be lost.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives —
also inside a finaliser or a weakref callback (SQLAlchemy registers some, the cyclic collector
runs them), where it is printed as "Exception ignored in …" and dropped. The run then went on:
a `kamrules portfolio --record` interrupted that way recorded its 1,500 reviews, wrote its
output and exited 0 (seen in CI, Python 3.13). So while a command runs (cli/common.guarded), the
handler also remembers the signal, and each point of no return — the review store's commit, the
atomic replace of an output file — asks `check()` first.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Any, Iterator

_pending = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _pending
    _pending = True
    raise KeyboardInterrupt


@contextlib.contextmanager
def remembered() -> Iterator[None]:
    """SIGINT is remembered while the block runs (main thread, default handler only: a handler
    someone else installed, or an enclosing block's, is left alone); the previous handler is back
    afterwards."""
    global _pending
    mine = threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    previous: Any = None
    if mine:
        _pending = False
        previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        if mine:
            signal.signal(signal.SIGINT, previous)
            _pending = False


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came since the command started, even one that was
    raised where Python could only drop it."""
    if _pending:
        raise KeyboardInterrupt
