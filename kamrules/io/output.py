"""Writing results: atomically (temporary file + rename), never over an input file."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from kamrules.core.errors import Location, Problem, UsageError


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def write_atomic(target: str, text: str, *, inputs: Iterable[str] = ()) -> None:
    path = Path(target)
    for i in inputs:
        if i != "-" and (_same(path, Path(i)) or path.resolve() == Path(i).resolve()):
            raise UsageError([Problem("output.over-input", f"refusing to write over the input file {i}",
                                      Location(target), hint="choose another -o path")])
    if path.is_dir():
        raise UsageError([Problem("output.is-dir", "the output path is a folder", Location(target),
                                  hint="give a file name, e.g. -o playbook.md")])
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError([Problem("output.no-dir", f"the folder {parent} does not exist", Location(target))])
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(parent))
    except OSError as e:
        raise _write_failed(target, e) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would have,
        # or keep the mode of the file it replaces
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException as e:  # including KeyboardInterrupt: leave nothing behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):  # a full disk or a read-only folder is the user's to fix
            raise _write_failed(target, e) from None
        raise


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _write_failed(target: str, e: OSError) -> UsageError:
    return UsageError([Problem("output.write-failed", f"cannot write {target}: {e.strerror or e}; nothing was written",
                               Location(target), hint="check free space and permissions")])
