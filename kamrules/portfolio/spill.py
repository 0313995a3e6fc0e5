"""A ranked run's accounts kept on disk between its two passes, so the inputs are read once.

A rulebook that ranks the book reads its inputs twice (portfolio/run.py): every account is
measured, the book ranked, then every account evaluated knowing its tier. Reading and validating a
CSV row costs a worker ≈ 0.15 ms, the same again in the second pass, and the main process read and
sliced the whole file a second time. Instead, the worker that reads a task's accounts in the first
pass writes them here, and the second pass's task names the file: ≈ 130 bytes an account of a CRM
export, read back in a few µs (pickle of the values, and of the locations as plain numbers: a
`Location` is made only where one is read, rulebook/model.Places).

Trust. The folder is made for the run by `tempfile.mkdtemp` (only this user may enter it) and
removed when the run ends, interrupted or not. Every file carries an HMAC-SHA256 under a key made
for the run (os.urandom): the key lives in this process's memory and reaches the workers through
their pipes, never a disk. A file is verified before it is unpickled (unpickling runs code), and
one that does not verify — changed, cut short — stops the run with an error rather than evaluate
accounts nobody read.

A file that cannot be written (a full disk) is no error: that task is read from its input again
in the second pass, as before this module (`Kept` is then not used for it).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterable

from kamrules.core.errors import InputError, Location, Problem
from kamrules.rulebook.model import Account, Places

_TAG = 32  # bytes of HMAC-SHA256 at the start of each file


@dataclass(frozen=True)
class Spot:
    """Where one task's accounts are kept, and the run's key that signs them."""

    path: str
    key: bytes = field(repr=False)  # never in a repr, a log or a report


class Spill:
    """The run's folder of kept tasks (a context manager: the folder goes when the run ends).
    Without a temporary folder to write in, nothing is kept: every task is read again."""

    def __init__(self) -> None:
        self.folder: str | None
        try:
            self.folder = tempfile.mkdtemp(prefix="kamrules-kept-")
        except OSError:
            self.folder = None
        self.key = os.urandom(32)

    def spot(self, task: int) -> Spot | None:
        return None if self.folder is None else Spot(os.path.join(self.folder, f"{task}.kept"), self.key)

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pack(item: Any) -> Any:
    """An (Account, Location) as plain values when its locations are all in its own file (a CSV
    row, a YAML file): pickle then writes numbers instead of a dataclass per fact. Anything else
    (an invalid record's problems, an account with locations elsewhere) as it is."""
    if type(item) is not tuple or len(item) != 2 or type(item[0]) is not Account:
        return item
    account, where = item
    file = account.file
    locs = account.locations
    if type(where) is not Location or where.file != file:
        return item
    if type(locs) is Places:  # a CSV row's (io/account.FlatReader): numbers already
        if locs.file != file:
            return item
        at = locs.at
    elif type(locs) is dict:
        at = {}
        for k, loc in locs.items():
            if type(loc) is not Location or loc.file != file:
                return item
            at[k] = (loc.line, loc.col)
    else:
        return item
    return (account.id, account.name, file, account.values, at, account.as_of, where.line, where.col)


def _unpack(item: Any) -> Any:
    if type(item) is not tuple or len(item) != 8:
        return item
    ident, name, file, values, at, as_of, line, col = item
    return Account(ident, name, file, values, Places(file, at), as_of), Location(file, line, col)


def write(spot: Spot, items: Iterable[Any]) -> bool:
    """Keep a task's accounts (each an (Account, Location) or what the pass made of an invalid
    record). False when the file cannot be written: the caller reads the task again instead."""
    body = pickle.dumps([_pack(i) for i in items], protocol=pickle.HIGHEST_PROTOCOL)
    tag = hmac.new(spot.key, body, hashlib.sha256).digest()
    part = spot.path + ".part"
    try:
        with open(part, "wb") as fh:  # then renamed: a worker that dies while writing leaves no file
            fh.write(tag)
            fh.write(body)
        os.replace(part, spot.path)
    except OSError:
        try:
            os.unlink(part)
        except OSError:
            pass
        return False
    return True


def read(spot: Spot) -> list[Any]:
    """What `write` kept, verified before it is unpickled."""
    try:
        with open(spot.path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise _changed(spot, f"it cannot be read ({e.strerror or e})") from None
    tag, body = data[:_TAG], data[_TAG:]
    if len(tag) < _TAG or not hmac.compare_digest(tag, hmac.new(spot.key, body, hashlib.sha256).digest()):
        raise _changed(spot, "it is not what this run wrote")
    return [_unpack(i) for i in pickle.loads(body)]  # noqa: S301 - verified above: written by this run


def _changed(spot: Spot, why: str) -> InputError:
    return InputError([Problem(
        "portfolio.kept-changed", f"the accounts this run kept between its two passes in {spot.path} changed "
        f"during the run: {why}", Location(spot.path),
        expected="the temporary files of a run left alone until it ends",
        hint="run it again; if it happens again, something on this machine is changing files in the "
             "temporary folder (TMPDIR)")])
