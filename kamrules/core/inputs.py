"""Every file this command has read, by identity (device, inode), so that an output is never
written over one of them: an account, its company profile, each rulebook of the extends chain
(read, or verified from the cache), a CSV export, a company template.

Readers note what they open (yamlio.read_text, the template loader, the rulebook cache check);
io/output.py asks. The CLI starts every command with an empty record (reset), so a test run or
a long-lived caller never carries one command's inputs into the next.
"""
from __future__ import annotations

import os

_SEEN: dict[tuple[int, int], str] = {}


def note(path: str, st: os.stat_result | None = None) -> None:
    """Record `path` (its stat result when the caller has the open file's fstat)."""
    try:
        st = st or os.stat(path)
    except OSError:
        return
    _SEEN.setdefault((st.st_dev, st.st_ino), path)


def note_fd(path: str, fd: int) -> None:
    try:
        note(path, os.fstat(fd))
    except OSError:
        pass


def which(st: os.stat_result) -> str | None:
    """The input that is this file, if any."""
    return _SEEN.get((st.st_dev, st.st_ino))


def reset() -> None:
    _SEEN.clear()
