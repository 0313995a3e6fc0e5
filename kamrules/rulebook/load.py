"""Rulebook files → one effective, checked Rulebook.

Three passes, each collecting every problem before it stops:
1. read each file of the `extends` graph and validate its structure (read.py);
2. layer them, parents first (layering.py);
3. check the effective rulebook: names, types, expressions, message variables, strata (check.py).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from kamrules.core import yamlio
from kamrules.core.errors import Collector, InputError, Location, RulebookError, suggest
from kamrules.core.resources import builtin_rulebook_path
from kamrules.rulebook.model import Rulebook

if TYPE_CHECKING:
    from kamrules.rulebook.read import RawBook

# Reading, layering and checking (read.py, layering.py, check.py and the condition parser behind
# them) are imported when a rulebook is not in the cache: a warm `kamrules advise` never needs them.

# --------------------------------------------------------------------------- the extends graph

def resolve_ref(ref: str, from_file: str | None) -> Path | None:
    if ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or "\\" in ref:
        base = Path(from_file).parent if from_file else Path.cwd()
        p = (base / ref)
        return p if p.is_file() else None
    return builtin_rulebook_path(ref)


def display_path(path: Path) -> str:
    """Stable names in messages and outputs: rules/course/x.yaml for built-ins, else relative to cwd."""
    from kamrules.core.resources import rules_dir

    p = path.resolve()
    for base, prefix in ((rules_dir().resolve(), "rules"), (Path.cwd().resolve(), "")):
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

    def key(self, path: str) -> str:
        return str(Path(path).resolve())

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

        if ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or "\\" in ref:
            base = posixpath.dirname(from_file) if from_file else ""
            cand = posixpath.normpath(posixpath.join(base, ref.replace("\\", "/")))
        else:
            parts = ref.split(".")
            cand = f"rules/{parts[0]}/" + (f"{parts[0]}.yaml" if len(parts) == 1 else "/".join(parts[1:]) + ".yaml")
        return cand if cand in self.files else None

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
            p = src.locate(parent_ref, str(path))
            if p is None:
                from kamrules.core.resources import builtin_rulebooks

                out.add("rulebook.extends-missing", f"cannot find the rulebook '{parent_ref}'", loc,
                        f"extends[{parent_ref}]", "a built-in id or a path relative to this file",
                        suggest(parent_ref, builtin_rulebooks()))
                continue
            visit(p, loc)
        stack.pop()
        seen[key] = book
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


def load_rulebook(ref: str = "course") -> Rulebook:
    """Load, layer and check a rulebook by built-in id or path. Raises RulebookError.

    A checked rulebook is cached on disk (core/cache.py: signed entries in a private folder).
    An entry is used only when everything it was made from is still the same: every file of
    the extends graph (real path and content), how every reference of the graph resolves,
    and every templates setting (the folder it confines to). Any doubt: load afresh."""
    from kamrules.core import cache

    ck = cache.key("rulebook", ref, str(Path.cwd()))
    book = _verified(cache.get("rulebook", ck), ref)
    if book is not None:
        return book
    book, chain = _load_fresh(ref)
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
