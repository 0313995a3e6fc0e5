"""Writing results (-o of advise, portfolio and init; standard output), safely.

What `-o PATH` does, by what is at PATH (docs/security.md):
* nothing: a new file, written to a temporary file beside it and renamed into place;
* a regular file: replaced the same way (atomically; its permission bits are kept);
* a symbolic link: followed, and its target written as above, so the link stays a link. Not
  followed (output.symlink-unsafe) when it sits in a world-writable sticky folder such as /tmp
  and belongs neither to you nor to the folder's owner: the kernel's protected_symlinks rule,
  which stops another user from pointing your output at your own files;
* a FIFO, /dev/null, or the terminal or pipe of this process's own standard output or error:
  written into, never replaced (a FIFO nobody reads is refused at once, not waited on);
* any other device, a socket, a folder: refused.
It is never written over an input of the command: any file this command has read (the
account, its company profile, every rulebook of the chain, CSV exports, templates:
core/inputs.py), any file the caller names, and any existing file inside an input folder (the
overlay's templates folder). The temporary file has a short name of its own, so any file name
the file system allows works. Every failure (a full disk, a read-only folder, a closed pipe)
is exit 2 with the reason and "nothing was written"; no temporary file is left behind.

The text may come in pieces (an iterable of str, made as it is written: a portfolio's summary
lists every account), so that it is never held whole. A regular file gets the pieces as they
come, in its temporary file: an error while they are made (or Ctrl-C) removes that file and
replaces nothing. A FIFO, a device and standard output get nothing until the last piece is
made: the pieces are gathered in a spooled temporary file first (in memory while small), so
an error still writes nothing there.
"""
from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from typing import IO, Iterable, Iterator

from kamrules.core import interrupt, textsafe
from kamrules.core import inputs as read_inputs
from kamrules.core.errors import Location, Problem, UsageError

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_MAX_LINKS = 40


def _refuse(code: str, message: str, target: str, hint: str = "") -> UsageError:
    return UsageError([Problem(code, message, Location(target), hint=hint)])


def _write_failed(target: str, e: OSError) -> UsageError:
    return _refuse("output.write-failed", f"cannot write {target}: {e.strerror or e}; nothing was written", target,
                   "check free space and permissions")


SPOOL = 8 << 20  # characters a spool keeps in memory before it moves to a temporary file
_BLOCK = 1 << 20  # characters copied at a time out of a spool


def write_atomic(target: str, text: str | Iterable[str], *, inputs: Iterable[str] = ()) -> None:
    """Write `text` (UTF-8; a str, or its pieces) to `target` as described above. Raises UsageError."""
    pieces: Iterable[str] = (text,) if isinstance(text, str) else text
    _check_links(target)
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None  # nothing there, or a link to nothing: its target is created
    except OSError as e:
        raise _write_failed(target, e) from None
    if st is not None:
        _check_not_input(target, st, inputs)
    if st is None or stat.S_ISREG(st.st_mode):
        _replace(os.path.realpath(target), pieces, st, target)
    elif stat.S_ISDIR(st.st_mode):
        raise _refuse("output.is-dir", "the output path is a folder", target, "give a file name, e.g. -o playbook.md")
    elif stat.S_ISFIFO(st.st_mode) or (stat.S_ISCHR(st.st_mode) and _writable_device(st)):
        with _spooled(pieces, target) as spool:
            _write_into(target, _blocks(spool), st)
    else:
        kind = ("a block device" if stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device")
        raise _refuse("output.special-file", f"{target} is {kind}; kamrules writes only to files, FIFOs, /dev/null "
                      "and its own standard output", target, "choose a file name")


def check_target(target: str, inputs: Iterable[str] = ()) -> None:
    """What write_atomic checks before it writes, for a caller that writes many files and
    checks them all first (portfolio --playbooks): the links on the way, and that an existing
    target is not an input of the command. Raises UsageError."""
    _check_links(target)
    try:
        st = os.stat(target)
    except OSError:
        return  # nothing there: write_atomic reports a real failure when it writes
    _check_not_input(target, st, inputs)


def _check_links(target: str) -> None:
    """Every symbolic link on the way to the target (the last component, and the links it
    leads to) must pass the protected_symlinks rule."""
    path = target
    for _ in range(_MAX_LINKS):
        try:
            lst = os.lstat(path)
        except OSError:
            return  # nothing (more) there; os.stat/open report real failures
        if not stat.S_ISLNK(lst.st_mode):
            return
        folder = os.path.dirname(os.path.abspath(path))
        try:
            fst = os.stat(folder)
        except OSError:
            return
        sticky_shared = fst.st_mode & stat.S_ISVTX and fst.st_mode & stat.S_IWOTH
        if sticky_shared and lst.st_uid not in (os.geteuid(), fst.st_uid):
            raise _refuse("output.symlink-unsafe", f"{path} is a symbolic link in the shared folder {folder}, made by "
                          "another user; kamrules does not follow it", target,
                          "remove the link, or write somewhere that only you control")
        try:
            link = os.readlink(path)
        except OSError:
            return
        if not os.path.isabs(link) and not link.startswith(("/", "pipe:", "socket:", "anon_inode:")):
            link = os.path.join(folder, link)
        if not os.path.isabs(link):
            return  # /proc magic link to a pipe or socket: nothing further on disk
        path = link


def _check_not_input(target: str, st: os.stat_result, inputs: Iterable[str]) -> None:
    hit = read_inputs.which(st)
    real = os.path.realpath(target)
    for i in inputs:
        if hit is not None:
            break
        if i in ("-", ""):
            continue
        try:
            ist = os.stat(i)
        except OSError:
            continue
        if (ist.st_dev, ist.st_ino) == (st.st_dev, st.st_ino):
            hit = i
        elif stat.S_ISDIR(ist.st_mode) and stat.S_ISREG(st.st_mode):  # every file in an input folder
            root = os.path.realpath(i)
            if real.startswith(root.rstrip(os.sep) + os.sep):
                hit = os.path.join(i, os.path.relpath(real, root))
    if hit is not None:
        raise _refuse("output.over-input", f"refusing to write over the input file {hit}", target,
                      "choose another -o path")


def _writable_device(st: os.stat_result) -> bool:
    """/dev/null, or the very terminal or pipe this process writes its standard output or
    error to (-o /dev/stdout). Not /dev/mem, a disk or a tape drive."""
    try:
        if st.st_rdev == os.stat(os.devnull).st_rdev:
            return True
    except OSError:
        pass
    for fd in (1, 2):
        try:
            own = os.fstat(fd)
        except OSError:
            continue
        if (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino):
            return True
    return False


def _spooled(pieces: Iterable[str], target: str) -> IO[str]:
    """Every piece made, kept in a spooled temporary file (memory while small; unlinked at once
    on disk), rewound: what is written into a FIFO, a device or standard output, once whole."""
    spool: IO[str] = tempfile.SpooledTemporaryFile(max_size=SPOOL, mode="w+", encoding="utf-8",  # noqa: SIM115
                                                   errors="surrogateescape", newline="")
    try:
        for piece in pieces:
            spool.write(piece)
        spool.seek(0)
    except BaseException as e:
        spool.close()
        if isinstance(e, OSError):  # no room for the spool
            raise _write_failed(target, e) from None
        raise
    return spool


def _blocks(spool: IO[str]) -> Iterator[bytes]:
    while block := spool.read(_BLOCK):
        yield block.encode("utf-8", "surrogateescape")


def _write_into(target: str, data: Iterable[bytes], st: os.stat_result) -> None:
    """Write into a FIFO or a character device: no O_CREAT, no O_TRUNC, never replaced."""
    try:
        fd = os.open(target, os.O_WRONLY | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENXIO and stat.S_ISFIFO(st.st_mode):
            raise _refuse("output.no-reader", f"{target} is a FIFO that nothing reads from; nothing was written",
                          target, "start the reader first") from None
        raise _write_failed(target, e) from None
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise _refuse("output.changed", f"{target} changed while it was opened; nothing was written", target)
        os.set_blocking(fd, True)
        for block in data:
            view = memoryview(block)
            while view:
                view = view[os.write(fd, view):]
    except OSError as e:
        raise _write_failed(target, e) from None
    finally:
        os.close(fd)


def _replace(dest: str, pieces: Iterable[str], st: os.stat_result | None, target: str) -> None:
    parent = os.path.dirname(dest) or "."
    if not os.path.isdir(parent):
        raise _refuse("output.no-dir", f"the folder {os.path.dirname(target) or parent} does not exist", target)
    try:
        # a short name of our own: the target's name may already be as long as the file system allows
        fd, tmp = tempfile.mkstemp(prefix=".kamrules-", suffix=".tmp", dir=parent)
    except OSError as e:
        raise _write_failed(target, e) from None
    try:
        # newline="": the text's line endings as they are (CRLF in a CSV export)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="", buffering=1 << 16) as fh:
            for piece in pieces:
                fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would have,
        # or keep the mode of the file it replaces
        os.chmod(tmp, st.st_mode & 0o7777 if st is not None else _default_mode())
        interrupt.check()  # the point of no return: a Ctrl-C that was dropped on the way stops it here
        os.replace(tmp, dest)
    except BaseException as e:  # including KeyboardInterrupt: leave nothing behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):  # a full disk or a read-only folder is the user's to fix
            raise _write_failed(target, e) from None
        raise


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# --------------------------------------------------------------------------- standard output

def write_stdout(text: str | Iterable[str]) -> None:
    """The command's result (a str, or its pieces) on standard output. A closed or full output
    is exit 2 with a message, never exit 0 with the result lost. Like every line the CLI prints,
    it passes textsafe.terminal: a no-op on a result written for its medium, and the last guard
    against a control character from input (a company template's own text included) reaching a
    terminal. Pieces are all made (spooled) before the first is written: an error while they are
    made writes nothing."""
    stream = sys.stdout
    if stream is None:  # started with standard output closed (>&-)
        raise stdout_failed("standard output is closed")
    spool = None
    if isinstance(text, str):
        pieces: Iterable[str] = (text,)
    else:
        spool = _spooled(text, "<stdout>")
        pieces = _terminal_pieces(iter(lambda: spool.read(_BLOCK), ""))
    try:
        for text in pieces:
            stream.write(textsafe.terminal(text))
        stream.flush()
    except (OSError, ValueError) as e:
        raise stdout_failed(e.strerror if isinstance(e, OSError) and e.strerror else str(e)) from None
    finally:
        if spool is not None:
            spool.close()


def _terminal_pieces(blocks: Iterable[str]) -> Iterator[str]:
    """The text of `blocks` cut where textsafe.terminal treats each piece as it treats the whole:
    no piece but the first starts with a BOM (kept only as the output's first character), and none
    but the last ends with a \\r that a \\n may follow (a lone CR is shown, \\r\\n is not)."""
    carry = ""
    for block in blocks:
        text = carry + block
        cut = len(text) - 1  # the next piece starts with a character of this one: never a BOM
        while cut > 0 and (text[cut] == "\ufeff" or text[cut - 1] == "\r"):
            cut -= 1
        if cut <= 0:
            carry = text
            continue
        yield text[:cut]
        carry = text[cut:]
    if carry:
        yield carry


def stdout_failed(reason: str) -> UsageError:
    """Also used by the CLI guard when click.echo hits a closed pipe or a full device."""
    _silence_stdout()
    return _refuse("output.stdout-failed", f"cannot write to standard output: {reason}; the output is lost",
                   "<stdout>", "write to a file with -o, or check what reads the output")


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so the interpreter's last flush at exit does not
    fail a second time (and turn exit 2 into 120)."""
    try:
        fd = sys.stdout.fileno() if sys.stdout is not None else -1
    except (OSError, ValueError, AttributeError):
        return
    if fd < 0:
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass
