"""Rulebook files → one effective, checked Rulebook.

Three passes, each collecting every problem before it stops:
1. read each file of the `extends` graph and validate its structure (read.py);
2. layer them, parents first (layering.py);
3. check the effective rulebook: names, types, expressions, message variables, strata (check.py).
"""
from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from kamrules.core import yamlio
from kamrules.core.errors import Collector, InputError, Location, RulebookError, suggest
from kamrules.core.resources import builtin_rulebook_path
from kamrules.rulebook.model import Rulebook

if TYPE_CHECKING:
    from kamrules.rulebook.read import RawBook

# Reading, layering and checking (read.py, layering.py, check.py and the condition parser behind
# them) are imported when a rulebook is not in the cache: a warm `kamrules advise` never needs them.

# --------------------------------------------------------------------------- the extends graph

# How an `extends:` entry (or a rule test's `rulebook:`) names a rulebook:
# - a path (it has a / or ends in .yaml/.yml/.json): relative to the file that names it;
# - an id (course, course.standards): a rulebook BESIDE the naming file that declares that id
#   (`rulebook: course.standards`) first, else the built-in rulebook of that id. So a copy of
#   rules/course/ uses its own parts (copy-and-edit works), while an overlay that extends
#   `course` from its own folder gets the built-in course and its built-in parts. Two files
#   beside it declaring the same id are refused (rulebook.ambiguous-id), and so is one extends
#   graph holding two different files of one id (rulebook.duplicate-id: a partial copy, whose
#   untouched parts still extend the built-in ones).
# An id given on the command line (--rulebook course) is always the built-in one.

def is_path_ref(ref: str) -> bool:
    return ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or "\\" in ref


def resolve_ref(ref: str, from_file: str | None) -> Path | None:
    """The file a reference names (see above), or None. Ambiguous ids resolve to None here;
    `beside` says why."""
    if is_path_ref(ref):
        base = Path(from_file).parent if from_file else Path.cwd()
        p = (base / ref)
        return p if p.is_file() else None
    if from_file is not None:
        here = beside(ref, from_file)
        if here:
            return here[0] if len(here) == 1 else None
    return builtin_rulebook_path(ref)


def beside(ref: str, from_file: str) -> list[Path]:
    """The files in from_file's folder (itself excepted) that declare the rulebook id ref."""
    folder = Path(from_file).parent
    me = _realpath(from_file)
    return [p for p in _declared_ids(folder).get(ref, []) if _realpath(str(p)) != me]


# One load of a rulebook resolves ~25 references between the files of one folder (the course's
# parts extend each other by id), each of them listing and stat'ing the folder and resolving real
# paths: within one load (`_one_scan`) the folder is scanned once and each real path resolved once.
_SCAN: list[dict[str, object]] = []


@contextlib.contextmanager
def _one_scan() -> Iterator[None]:
    _SCAN.append({})
    try:
        yield
    finally:
        _SCAN.pop()


def _realpath(path: str) -> str:
    if not _SCAN:
        return os.path.realpath(path)
    memo = _SCAN[-1]
    hit = memo.get("real:" + path)
    if not isinstance(hit, str):
        hit = memo["real:" + path] = os.path.realpath(path)
    return hit


_RULEBOOK_SUFFIXES = (".yaml", ".yml", ".json")
_MAX_SCANNED = 500  # files of one folder read for their `rulebook:` id (a folder of exports is not rulebooks)
_ID_LINE = re.compile(r'^(?:rulebook|"rulebook")\s*:\s*["\']?([\w.\-]+)', re.M)
_FOLDERS: dict[str, tuple[tuple[tuple[str, int, int], ...], dict[str, list[Path]]]] = {}


def _declared_ids(folder: Path) -> dict[str, list[Path]]:
    """id → the rulebook files of a folder that declare it (their top-level `rulebook:` key),
    remembered per folder while no file of it changes."""
    if _SCAN:
        memo = _SCAN[-1]
        hit = memo.get("ids:" + str(folder))
        if not isinstance(hit, dict):
            hit = memo["ids:" + str(folder)] = _scan_ids(folder)
        return hit
    return _scan_ids(folder)


def _scan_ids(folder: Path) -> dict[str, list[Path]]:
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(_RULEBOOK_SUFFIXES) and not n.endswith(".test.yaml"))
    except OSError:
        return {}
    stamp = []
    for n in names[:_MAX_SCANNED]:
        try:
            st = os.stat(folder / n)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):  # never a FIFO or a device: reading one could hang
            stamp.append((n, st.st_mtime_ns, st.st_size))
    key = str(folder.resolve())
    hit = _FOLDERS.get(key)
    if hit is not None and hit[0] == tuple(stamp):
        return hit[1]
    ids: dict[str, list[Path]] = {}
    for n, _, _ in stamp:
        found = _declared_id(folder / n)
        if found:
            ids.setdefault(found, []).append(folder / n)
    if len(_FOLDERS) > 64:
        _FOLDERS.clear()
    _FOLDERS[key] = (tuple(stamp), ids)
    return ids


def declared_id(path: Path) -> str:
    """The rulebook id a file declares ('' when it is no rulebook: an account, a mapping)."""
    return _declared_id(path)


def rulebook_files(folder: Path) -> list[Path]:
    """The rulebook files under a folder, as `kamrules check FOLDER` checks them: every
    .yaml/.yml/.json that declares a `rulebook:` id, rule tests (*.test.yaml) left out as
    `kamrules test` leaves out everything else; regular files only, hidden folders skipped."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            p = Path(root) / name
            if (name.endswith(_RULEBOOK_SUFFIXES) and not name.endswith((".test.yaml", ".test.yml"))
                    and p.is_file() and not p.is_symlink() and _declared_id(p)):
                found.append(p)
    return found


def _declared_id(path: Path) -> str:
    """The id a rulebook file declares, read from its text without parsing it (a file that is
    not a rulebook has no top-level `rulebook:` key)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            head = fh.read(256 * 1024)
    except OSError:
        return ""
    return _id_in(head)


_FIRST_LINES = 4096  # bytes of a file's head tried first for its `rulebook:` line


def _id_in(head: bytes) -> str:
    """What `_ID_LINE.search(head.decode("utf-8", "replace"))` finds, decoding only the first
    complete lines when the key is there (it is near the top of every rulebook): decoding the
    course's whole files was ~2 M instructions of every uncached load (callgrind).

    The same answer: the lines before the last newline of the first 4 kB decode as they do in the
    whole text (a newline byte is never inside a UTF-8 sequence), and a match found there ends
    before that newline (`[\w.\-]` never takes it), so the search of the whole text, which tries
    the same starts in the same order, stops at the same match; an earlier start that failed
    here failed before the end of these lines, as a start that reached them would have matched.
    No match there: the whole head is searched. tests/test_declared_id.py compares the two."""
    cut = head.rfind(b"\n", 0, _FIRST_LINES)
    if cut >= 0:
        m = _ID_LINE.search(head[: cut + 1].decode("utf-8", "replace"))
        if m:
            return m.group(1)
    m = _ID_LINE.search(head.decode("utf-8", "replace"))
    return m.group(1) if m else ""


def display_path(path: Path) -> str:
    """Stable names in messages and outputs: rules/course/x.yaml for built-ins, else relative to cwd.

    Within one load (`_one_scan`) each path's name is found once: a load of the course asks ~37
    times for 12 names, each ~190,000 instructions of pathlib (7 M, callgrind)."""
    if not _SCAN:
        return _display_path(path)
    memo = _SCAN[-1]
    hit = memo.get("display:" + str(path))
    if not isinstance(hit, str):
        hit = memo["display:" + str(path)] = _display_path(path)
    return hit


def _display_path(path: Path) -> str:
    from kamrules.core.resources import rules_dir

    # real paths through _realpath (what Path.resolve does, remembered within one load: a load
    # names ~40 files, and resolving the two bases for each was ~7 ms of an uncached start)
    p = Path(_realpath(str(path)))
    for base, prefix in ((Path(_realpath(str(rules_dir()))), "rules"), (Path(_realpath(os.getcwd())), "")):
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        return f"{prefix}/{rel.as_posix()}" if prefix else rel.as_posix()
    return str(path)


class Files:
    """Where rulebook files come from: the disk (built-in ids and paths), by default."""

    def locate(self, ref: str, from_file: str | None) -> str | None:
        p = resolve_ref(ref, from_file)
        return None if p is None else str(p)

    def beside(self, ref: str, from_file: str) -> list[str]:
        """The files beside from_file that declare the rulebook id ref (shown to the user)."""
        return [] if is_path_ref(ref) else [display_path(h) for h in beside(ref, from_file)]

    def ids_beside(self, from_file: str) -> list[str]:
        """The rulebook ids the files beside from_file declare (for suggestions)."""
        return sorted(_declared_ids(Path(from_file).parent))

    def key(self, path: str) -> str:
        return _realpath(str(Path(path)))  # str(Path(path).resolve()), remembered within one load

    def read(self, path: str) -> tuple[str, str, str]:
        """(text, encoding, the document's display name)"""
        text, encoding = yamlio.read_text(path)
        return text, encoding, display_path(Path(path))


class StoredFiles(Files):
    """Rulebook files from a snapshot: display path → text, as the review store keeps them, so a
    past review's rulebook loads exactly as it was (same names in messages, same digest), even
    when the files on disk, built-in ones included, have changed since."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def locate(self, ref: str, from_file: str | None) -> str | None:
        import posixpath

        if is_path_ref(ref):
            base = posixpath.dirname(from_file) if from_file else ""
            cand = posixpath.normpath(posixpath.join(base, ref.replace("\\", "/")))
        else:
            here = self.beside(ref, from_file) if from_file else []
            if here:  # as on disk: an id names the rulebook beside the file first
                return here[0] if len(here) == 1 else None
            parts = ref.split(".")
            cand = f"rules/{parts[0]}/" + (f"{parts[0]}.yaml" if len(parts) == 1 else "/".join(parts[1:]) + ".yaml")
        return cand if cand in self.files else None

    def beside(self, ref: str, from_file: str) -> list[str]:
        import posixpath

        if is_path_ref(ref):
            return []
        folder = posixpath.dirname(from_file)
        return sorted(name for name, text in self.files.items()
                      if name != from_file and posixpath.dirname(name) == folder
                      and any(m.group(1) == ref for m in _ID_LINE.finditer(text)))

    def ids_beside(self, from_file: str) -> list[str]:
        import posixpath

        folder = posixpath.dirname(from_file)
        return sorted({m.group(1) for name, text in self.files.items() if posixpath.dirname(name) == folder
                       for m in _ID_LINE.finditer(text)})

    def key(self, path: str) -> str:
        return path

    def read(self, path: str) -> tuple[str, str, str]:
        return self.files[path], "utf-8", path


def read_chain(ref: str, out: Collector, files: Files | None = None) -> list[RawBook]:
    """Every rulebook of the extends graph, parents before children, each once."""
    from kamrules.rulebook.read import Reader

    src = files or Files()
    order: list[RawBook] = []
    seen: dict[str, RawBook] = {}
    by_id: dict[str, RawBook] = {}
    stack: list[str] = []

    def visit(path: str, via: Location | None) -> RawBook | None:
        key = src.key(path)
        if key in seen:
            return seen[key]
        if key in stack:
            cycle = " → ".join(Path(s).name for s in stack[stack.index(key):] + [key])
            out.add("rulebook.extends-cycle", f"rulebooks extend each other in a cycle: {cycle}",
                    via or Location(str(path)), hint="remove one of the extends")
            return None
        stack.append(key)
        try:
            # open the real path; name the document by its stable display path
            text, encoding, name = src.read(path)
            doc = yamlio.load(name, text=text, encoding=encoding)
        except InputError as e:
            out.extend(e.problems)
            stack.pop()
            return None
        book = Reader(doc, out).read()
        book.real = str(path)
        for parent_ref, loc in book.extends:
            here = src.beside(parent_ref, str(path))
            if len(here) > 1:
                out.add("rulebook.ambiguous-id",
                        f"{len(here)} files beside {book.file} are the rulebook '{parent_ref}': "
                        + ", ".join(here), loc, f"extends[{parent_ref}]",
                        "one file per rulebook id in a folder",
                        "keep one of them, give the other its own id, or extend it by its path (./file.yaml)")
                continue
            p = src.locate(parent_ref, str(path))
            if p is None and parent_ref == book.id:
                # an id resolves beside the file, the file itself excepted: naming its own id
                # is a cycle of one, not a rulebook that cannot be found
                out.add("rulebook.extends-cycle", f"the rulebook '{book.id}' extends itself", loc,
                        f"extends[{parent_ref}]", hint="remove it from extends: name the rulebook this one builds on")
                continue
            if p is None:
                from kamrules.core.resources import builtin_rulebooks

                here_ids = [] if is_path_ref(parent_ref) else src.ids_beside(str(path))
                out.add("rulebook.extends-missing", f"cannot find the rulebook '{parent_ref}'", loc,
                        f"extends[{parent_ref}]",
                        "a built-in id, the id of a rulebook file beside this one, or a path relative to this file",
                        suggest(parent_ref, [*here_ids, *builtin_rulebooks()]))
                continue
            visit(p, loc)
        stack.pop()
        seen[key] = book
        other = by_id.get(book.id)
        if other is not None:
            # point at the user's copy rather than at a built-in part
            mine = book if _builtin(other) or not _builtin(book) else other
            out.add("rulebook.duplicate-id",
                    f"two files of the extends graph are the rulebook '{book.id}': {other.file} and {book.file}",
                    mine.doc.loc(("rulebook",)), "rulebook", "one file per rulebook id",
                    "the parts of a rulebook extend each other by id, and an id resolves to the file beside the one "
                    "that names it: copy the whole folder (every part), or give your copy its own id and extend that")
            return other  # layered once: the second file would only repeat every rule as a duplicate
        by_id[book.id] = book
        order.append(book)
        return book

    path = src.locate(ref, None)
    if path is None:
        from kamrules.core.resources import builtin_rulebooks

        out.add("rulebook.not-found", f"no rulebook file or built-in rulebook named '{ref}'", Location(ref),
                hint=suggest(ref, builtin_rulebooks()) or "built-in: " + ", ".join(builtin_rulebooks()))
        return []
    visit(path, None)
    return order


def _builtin(book: RawBook) -> bool:
    from kamrules.core.resources import rules_dir

    return Path(book.real).resolve().is_relative_to(rules_dir().resolve())


def load_rulebook(ref: str = "course") -> Rulebook:
    """Load, layer and check a rulebook by built-in id or path. Raises RulebookError.

    A checked rulebook is cached on disk (core/cache.py: signed entries in a private folder).
    An entry is used only when everything it was made from is still the same: every file of
    the extends graph (real path and content), how every reference of the graph resolves,
    and every templates setting (the folder it confines to). Any doubt: load afresh."""
    from kamrules.core import cache

    # a built-in id resolves, and its files are named (rules/…), the same from any folder: one
    # entry serves every working directory. A path is read from the working directory: its key.
    ck = cache.key("rulebook", ref, str(Path.cwd()) if is_path_ref(ref) else "")
    with _one_scan():
        book = _verified(cache.get("rulebook", ck), ref)
    if book is not None:
        return book
    with _one_scan():
        book, chain = _load_fresh(ref)
        if cache.cache_path() is None:
            return book  # no cache: nothing to record (hashing every file again for nothing)
        try:
            cache.put("rulebook", ck, (_dependencies(ref, chain, book), book))
        except OSError:
            pass  # a file vanished since it was read: just no cache entry
    return book


Dependency = tuple[str, str, str, str]  # (kind, a, b, expected)


def _dependencies(ref: str, chain: list[RawBook], book: Rulebook) -> list[Dependency]:
    from kamrules.core import cache

    deps: list[Dependency] = [("ref", ref, "", str(resolve_ref(ref, None)))]
    for b in chain:
        deps.append(("file", b.real, os.path.realpath(b.real), cache.file_hash(b.real)))
        deps += [("ref", parent, b.real, str(resolve_ref(parent, b.real))) for parent, _ in b.extends]
    deps += [("templates", f.overlay, f.setting, repr(f)) for f in book.templates]
    return deps


def _verified(hit: object, ref: str) -> Rulebook | None:
    """The cached rulebook if the entry has the right shape and every dependency still holds."""
    from kamrules.core import cache, inputs
    from kamrules.rulebook.templates import confine

    if not (isinstance(hit, tuple) and len(hit) == 2 and isinstance(hit[1], Rulebook) and isinstance(hit[0], list)):
        return None
    deps, book = hit[0], hit[1]
    assert isinstance(book, Rulebook)
    try:
        if not deps or deps[0][:2] != ("ref", ref):
            return None
        for kind, a, b, expected in deps:
            if kind == "ref":
                ok = str(resolve_ref(a, b or None)) == expected
            elif kind == "file":
                ok = os.path.realpath(a) == b and cache.file_hash(a) == expected
                inputs.note(a)  # an output must never replace it (io/output.py)
            elif kind == "templates":
                ok = repr(confine(a, b, Location(a))) == expected
            else:
                ok = False
            if not ok:
                return None
    except (OSError, ValueError, TypeError):
        return None
    return book


def load_stored(entry: str, files: dict[str, str]) -> Rulebook:
    """A rulebook from a snapshot of its files (display path → text), loaded exactly as it was
    (the review store's replay). Not cached: a snapshot is loaded once per replay."""
    return _load_fresh(entry, StoredFiles(files))[0]


def _load_fresh(ref: str, files: Files | None = None) -> tuple[Rulebook, list[RawBook]]:
    from kamrules.rulebook.check import check
    from kamrules.rulebook.layering import layer

    out = Collector()
    chain = read_chain(ref, out, files)
    if out:
        raise RulebookError(out.problems)
    layered = layer(chain, out)
    book = check(ref, chain, layered, out)
    errors = [p for p in out.problems if p.severity == "error"]
    if errors:
        raise RulebookError(errors)
    return book, chain
