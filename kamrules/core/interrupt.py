"""Ctrl-C that cannot be lost.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives —
also inside a finaliser or a weakref callback (SQLAlchemy registers some, the cyclic collector
runs them), where it is printed as "Exception ignored in …" and dropped. The run then went on:
a `kamrules portfolio --record` interrupted that way recorded its 1,500 reviews, wrote its
output and exited 0 (seen in CI, Python 3.13). So while a command runs (cli/common.guarded), the
handler also remembers the signal, and each point of no return — the review store's commit, the
atomic replace of an output file — asks `check()` first.

A Ctrl-C before a command's guard is in place (while the program imports click and the command's
module) is answered the same way (`exit_interrupted`): the message and exit code 130, never a
traceback or click's "Aborted!" with exit 1. Only one that lands before Python itself is running
our code (interpreter start-up) still ends the process by the signal.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any, Iterator, NoReturn

# The C module under `signal`, not `signal` itself: importing `signal` builds its three IntEnum
# classes (Signals, Handlers, Sigmasks) from every name of _signal, ~3.4 M instructions of every
# start (callgrind), while this module only installs and restores one handler of SIGINT. `signal`'s
# functions only convert enum members to and from ints around these (a previous handler that was
# SIG_DFL comes back an int, not Handlers.SIG_DFL, and is given back to signal() as it came).
# mypy has no stubs for _signal: it reads `signal`, whose functions these are.
if TYPE_CHECKING:
    import signal as _signal
else:
    import _signal

MESSAGE = "kamrules: interrupted; nothing was written."
EXIT_CODE = 130  # 128 + SIGINT, the shells' convention

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
        _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler
    previous: Any = None
    if mine:
        _pending = False
        previous = _signal.signal(_signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        if mine:
            _signal.signal(_signal.SIGINT, previous)
            _pending = False


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came since the command started, even one that was
    raised where Python could only drop it."""
    if _pending:
        raise KeyboardInterrupt


def exit_interrupted() -> NoReturn:
    """The one answer to Ctrl-C: the message on standard error (if it can still be written) and
    exit code 130. SystemExit passes through click, which would turn KeyboardInterrupt into exit 1."""
    try:
        print(MESSAGE, file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):  # a closed or missing standard error: the code says it
        pass
    # CPython (3.10 – 3.13 at least, measured) marks a KeyboardInterrupt "unhandled" when it leaves
    # code run by exec() of a string — dataclasses and namedtuple make their methods that way, so a
    # Ctrl-C during an import often lands there — even if it is handled afterwards; under
    # `python -m kamrules` the process then kills itself with SIGINT at exit instead of exiting 130.
    # Each exec() of a string starts by clearing that mark: this one, of nothing, clears it.
    exec("")  # noqa: S102 - a constant empty program
    raise SystemExit(EXIT_CODE)
