"""Company templates come from the overlay's own folder tree, and from nowhere else.

A company overlay is a file people share. Its `templates:` setting once could name any folder
(`/`, `/etc`, `../../..`), and a symbolic link inside a templates folder was followed, so an
overlay could pull `/etc/passwd` or an SSH key into the playbook a rep sends to a customer.
Three layers keep templates inside the overlay's folder (docs/security.md):

1. confine(): the setting must be a relative path without `..`, naming an existing folder
   whose real path is inside the overlay's folder (real path): a `rulebook.templates` error
   at the setting's file:line otherwise, when the rulebook loads (advise, check, …).
2. ConfinedLoader: every template Jinja opens (the playbook, and whatever it extends, includes
   or imports) is opened by its real path only if that is inside the overlay's folder, only if
   it is a regular file (a FIFO or a device is refused, never waited on), at most
   MAX_TEMPLATE_BYTES, and only if it is UTF-8 text: otherwise a TemplateFileError naming the
   file (template.outside, template.not-a-file, template.too-large, template.encoding).
3. scan(): what `kamrules check` reads of a templates folder, in a bounded walk (at most
   MAX_ENTRIES entries, MAX_DEPTH folders deep, symbolic links never followed into folders),
   reporting every link that leads outside and every file the loader would refuse.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from jinja2 import BaseLoader, Environment, TemplateError, TemplateNotFound
from jinja2.loaders import split_template_path

from kamrules.core import inputs
from kamrules.core.errors import Collector, Location, Problem
from kamrules.core.record import dataclass
from kamrules.rulebook.model import TemplateFolder

if TYPE_CHECKING:  # a type only: rendering a playbook must not import the rulebook reader and its grammar
    from kamrules.rulebook.read import RawBook

MAX_TEMPLATE_BYTES = 1024 * 1024  # a playbook template is a few kB
MAX_ENTRIES = 2000
MAX_DEPTH = 8
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def display(path: str) -> str:
    """A file name for messages: relative to the working folder when inside it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return path


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


# --------------------------------------------------------------------------- 1. the setting

def confine(overlay: str, setting: str, at: Location) -> TemplateFolder | Problem:
    """The templates folder of the overlay file `overlay`, or the problem with its setting."""

    def bad(message: str, hint: str = "write a folder path relative to the overlay file, e.g. templates: templates"
            ) -> Problem:
        return Problem("rulebook.templates", message, at, "templates", "a folder inside the overlay's folder", hint)

    if "\x00" in setting:
        return bad("the templates setting contains a NUL character")
    if PurePosixPath(setting).is_absolute() or PureWindowsPath(setting).anchor:
        return bad(f"templates must be a folder inside the overlay's folder, not the absolute path {setting!r}")
    if ".." in re.split(r"[/\\]", setting):
        return bad(f"templates {setting!r} goes up out of the overlay's folder ('..'); "
                   "templates must live in the overlay's own folder tree")
    root = os.path.realpath(os.path.dirname(os.path.abspath(overlay)))
    folder = os.path.normpath(os.path.join(root, setting))
    real = os.path.realpath(folder)
    if not inside(real, root):
        return bad(f"templates {setting!r} leads outside the overlay's folder through a symbolic link "
                   f"(to {real})", "copy the templates into the overlay's folder instead of linking them")
    if not os.path.isdir(real):
        what = "is not a folder" if os.path.lexists(real) else "does not exist"
        return bad(f"the templates folder {setting!r} {what} (next to {display(overlay)})",
                   "create it, or remove the templates setting")
    return TemplateFolder(folder=folder, root=root, overlay=overlay, setting=setting)


# --------------------------------------------------------------------------- 2. reading one template

class TemplateFileError(TemplateError):
    """A template file the loader refuses; reported at the file (exit 2)."""

    def __init__(self, code: str, message: str, file: str, line: int = 0, hint: str = "") -> None:
        super().__init__(message)
        self.code, self.file, self.line, self.hint = code, file, line, hint

    def problem(self) -> Problem:
        return Problem(self.code, str(self.message), Location(display(self.file), self.line), hint=self.hint)


def read_template(path: str, root: str) -> tuple[str, str, int] | None:
    """(text, real path, mtime) of the template at `path`, None when there is none; raises
    TemplateFileError for a file that must not be used."""
    if not os.path.lexists(path):
        return None
    real = os.path.realpath(path)
    if not inside(real, root):
        raise TemplateFileError("template.outside", f"the template {display(path)} leads outside the overlay's "
                                f"folder (to {real}); templates are read only from the overlay's own folder tree",
                                path, hint="copy the file into the overlay's folder instead of linking it")
    try:
        fd = os.open(real, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC)
    except FileNotFoundError:
        return None  # a dangling link inside the folder: as if there were no such template
    except OSError as e:
        raise TemplateFileError("template.unreadable", f"cannot read the template: {e.strerror or e}", path) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return None
        if not stat.S_ISREG(st.st_mode):
            raise TemplateFileError("template.not-a-file", "this template is not a regular file (a FIFO, device "
                                    "or socket); templates must be plain text files", path)
        if st.st_size > MAX_TEMPLATE_BYTES:
            raise TemplateFileError("template.too-large", f"the template is {st.st_size / 1048576:.1f} MiB; "
                                    f"the limit is {MAX_TEMPLATE_BYTES // 1048576} MiB", path)
        raw = os.read(fd, MAX_TEMPLATE_BYTES + 1)
        inputs.note(real, st)
    except OSError as e:
        raise TemplateFileError("template.unreadable", f"cannot read the template: {e.strerror or e}", path) from None
    finally:
        os.close(fd)
    return decode(raw, path), real, st.st_mtime_ns


def decode(raw: bytes, path: str) -> str:
    """Templates are UTF-8 (a BOM is allowed). GBK or Latin-1 would render as mojibake or not
    at all: say which file and line instead."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        raise TemplateFileError("template.encoding", "this template is not a text file (it contains NUL bytes)",
                                path, raw[:raw.index(b"\x00")].count(b"\n") + 1, "save it as UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise TemplateFileError("template.encoding", f"the template is not UTF-8 text (byte 0x{raw[e.start]:02x} "
                                f"on line {line})", path, line,
                                "save it as UTF-8 (it may have been saved as GBK or Latin-1)") from None


class ConfinedLoader(BaseLoader):
    """Jinja loader over template folders, each read only inside its root (see read_template)."""

    def __init__(self, folders: Sequence[TemplateFolder]) -> None:
        self.folders = tuple(folders)

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # refuses '..'
        for f in self.folders:
            path = os.path.join(f.folder, *pieces)
            found = read_template(path, f.root)
            if found is None:
                continue
            text, real, mtime = found

            def uptodate(path: str = path, real: str = real, mtime: int = mtime) -> bool:
                try:
                    return os.path.realpath(path) == real and os.stat(real).st_mtime_ns == mtime
                except OSError:
                    return False

            return text, real, uptodate
        raise TemplateNotFound(template)

    def list_templates(self) -> list[str]:
        return sorted({name for f in self.folders for name, _ in _walk(f)[0]})


def builtin_folder(path: str) -> TemplateFolder:
    real = os.path.realpath(path)
    return TemplateFolder(folder=real, root=real, overlay="<built-in>", setting=".")


# --------------------------------------------------------------------------- 3. what check reads

@dataclass(frozen=True)
class Scan:
    templates: tuple[tuple[str, str, str], ...]  # (display path, template name, source) of every *.j2
    problems: tuple[Problem, ...]


def scan(folders: Iterable[TemplateFolder]) -> Scan:
    """Every *.j2 template of the folders with its text, and every problem the loader would
    meet, in a bounded walk of each folder."""
    found: list[tuple[str, str, str]] = []
    problems: list[Problem] = []
    for f in folders:
        names, walked = _walk(f)
        problems += walked
        for name, path in names:
            try:
                got = read_template(path, f.root)
            except TemplateFileError as e:
                problems.append(_lint(e.problem()))
                continue
            if got is not None:
                found.append((display(path), name, got[0]))
    return Scan(tuple(found), tuple(problems))


def _lint(p: Problem, severity: str = "error") -> Problem:
    return Problem(p.code, p.message, p.location, p.path, p.expected, p.hint, severity)


def _walk(f: TemplateFolder) -> tuple[list[tuple[str, str]], list[Problem]]:
    """(template name, path) of every *.j2 file; links are checked, not followed into folders."""
    out: list[tuple[str, str]] = []
    problems: list[Problem] = []
    seen = 0
    stack: list[tuple[str, str, int]] = [(f.folder, "", 0)]
    if not inside(os.path.realpath(f.folder), f.root):
        return out, problems  # confine() reports it
    while stack:
        folder, prefix, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                problems.append(_lint(Problem("template.too-many-files", f"the templates folder has more than "
                                              f"{MAX_ENTRIES:,} entries; the rest was not checked",
                                              Location(display(f.folder)),
                                              hint="keep only templates in the templates folder"), "warning"))
                return out, problems
            name = f"{prefix}{e.name}"
            try:
                if e.is_symlink():
                    real = os.path.realpath(e.path)
                    if not inside(real, f.root):
                        problems.append(_lint(Problem(
                            "template.outside", f"{display(e.path)} is a symbolic link to {real}, outside the "
                            "overlay's folder; templates are read only from the overlay's own folder tree",
                            Location(display(e.path)), hint="copy the file into the overlay's folder instead")))
                    elif os.path.isfile(real) and e.name.endswith(".j2"):
                        out.append((name, e.path))
                elif e.is_dir(follow_symlinks=False):
                    if depth + 1 < MAX_DEPTH:
                        stack.append((e.path, f"{name}/", depth + 1))
                elif e.is_file(follow_symlinks=False):
                    if e.name.endswith(".j2"):
                        out.append((name, e.path))
                else:
                    problems.append(_lint(Problem("template.not-a-file", f"{display(e.path)} is not a regular file "
                                                  "(a FIFO, device or socket); a templates folder holds text files",
                                                  Location(display(e.path)), hint="remove it")))
            except OSError:
                continue
    return out, problems


def chain_folders(chain: Sequence[RawBook], out: Collector) -> tuple[TemplateFolder, ...]:
    """The confined templates folders of an extends chain, nearest overlay first; a setting
    that breaks the rules above is an error at its file:line."""
    folders = []
    for b in reversed(chain):
        if b.templates:
            f = confine(b.real or b.file, b.templates, b.doc.value_loc(("templates",)))
            if isinstance(f, Problem):
                out.extend([f])
            else:
                folders.append(f)
    return tuple(folders)
