"""`kamrules check`: every load problem of a rulebook at once, plus lint over the effective rules.

Loading (read → layer → check) already collects every structural, name, type, cycle and
parameter-source problem; this module reuses it, adds the lint passes (`authoring.lint`),
drops duplicates, and hides what a built-in base rulebook already reports on its own, so a
company checking its overlay sees what *it* wrote or caused. The command itself (cli/check.py)
only prints what `check_rulebook`, `merged` and `summary` return.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from kamrules.authoring.lint import lint
from kamrules.core.errors import Collector, Problem

UNUSABLE_PREFIXES = ("file.", "yaml.")
# the extends graph itself cannot be built: checking what is left would only report what follows from it
GRAPH_CODES = frozenset({"rulebook.ambiguous-id", "rulebook.duplicate-id"})
UNUSABLE_CODES = frozenset({"rulebook.not-found"}) | GRAPH_CODES


@dataclass(frozen=True)
class CheckResult:
    ref: str
    problems: tuple[Problem, ...]
    unusable: bool = False  # the input could not be read at all (exit 2)
    hidden: int = 0  # findings inside built-in rulebooks that the overlay did not cause
    parts: tuple[tuple[str, str], ...] = ()  # (rulebook id, file) of the extends graph, base first

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity != "error")

    def failed(self, strict: bool) -> bool:
        return self.errors > 0 or (strict and self.warnings > 0)

    @property
    def why_unusable(self) -> str:
        """Why nothing else was checked (for the closing line of `kamrules check`)."""
        if any(p.code in GRAPH_CODES for p in self.problems) and not any(
                p.code.startswith(UNUSABLE_PREFIXES) for p in self.problems):
            return f"the extends graph of {self.ref} cannot be built"
        return f"cannot read {self.ref}"


def is_unusable(p: Problem) -> bool:
    return p.code.startswith(UNUSABLE_PREFIXES) or p.code in UNUSABLE_CODES


def check_rulebook(ref: str) -> CheckResult:
    """Load `ref` collecting every problem, lint it, and hide the built-in base's own findings.

    A company that checks its overlay should see what *it* wrote or caused: findings that the
    built-in rulebooks it extends already have on their own are counted in `hidden`, not listed.
    """
    problems, unusable, bases, parts = _problems(ref)
    if unusable:
        return CheckResult(ref, tuple(sorted(dedupe(problems), key=Problem.sort_key)), True, parts=parts)
    baseline: set[tuple[str, str, int, int, str]] = set()
    for base in bases:
        baseline |= {_key(p) for p in _builtin_problems(base)}
    kept = [p for p in dedupe(problems) if _key(p) not in baseline]
    return CheckResult(ref, tuple(sorted(kept, key=Problem.sort_key)), False, len(dedupe(problems)) - len(kept),
                       parts)


def parts_text(result: CheckResult) -> str:
    """Where each part of a checked rulebook came from: a copy of rules/course/ must be seen to
    use its own files, and an overlay to extend the built-in course."""
    if len(result.parts) < 2:
        return ""
    from kamrules.core import textsafe
    from kamrules.core.resources import is_builtin_display

    width = max(len(i) for i, _ in result.parts)
    lines = [textsafe.line(f"{result.ref}: {len(result.parts)} rulebooks, base first")]
    lines += [f"  {i.ljust(width)}  {textsafe.line(f)}{'  (built-in)' if is_builtin_display(f) else ''}"
              for i, f in result.parts]
    return "\n".join(lines)


def merged(results: Iterable[CheckResult]) -> list[Problem]:
    """The problems of several checks, sorted; a base shared by two overlays is reported once."""
    return sorted(dedupe(p for r in results for p in r.problems), key=Problem.sort_key)


def summary(problems: Sequence[Problem], n_books: int, hidden: int) -> str:
    """The closing line of `kamrules check`."""
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    books = f"{n_books} rulebook{'s' if n_books != 1 else ''}"
    text = (f"kamrules check: {errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''} in {books}")
    if not problems:
        text = f"kamrules check: no problems in {books}"
    if hidden:
        text += f" ({hidden} finding{'s' if hidden != 1 else ''} of the built-in rulebooks not shown: " \
                "check the built-in id to see them)"
    return text


def _key(p: Problem) -> tuple[str, str, int, int, str]:
    return (p.code, p.location.file, p.location.line, p.location.col, p.message)


def dedupe(problems: Iterable[Problem]) -> list[Problem]:
    """The first of each problem (same code, place and message), in the given order."""
    seen: set[tuple[str, str, int, int, str]] = set()
    out = []
    for p in problems:
        if _key(p) not in seen:
            seen.add(_key(p))
            out.append(p)
    return out


@lru_cache(maxsize=8)
def _builtin_problems(path: str) -> tuple[Problem, ...]:
    return tuple(_problems(path)[0])


def _problems(ref: str) -> tuple[list[Problem], bool, list[str], tuple[tuple[str, str], ...]]:
    """(problems, unusable, built-in bases extended by a non-built-in rulebook of the chain,
    the chain's (id, file) parts)."""
    from kamrules.rulebook.check import check
    from kamrules.rulebook.layering import layer
    from kamrules.rulebook.load import read_chain

    out = Collector()
    chain = read_chain(ref, out)
    parts = tuple((b.id, b.file) for b in chain)
    if not chain or any(is_unusable(p) for p in out.problems):
        return out.problems, True, [], parts
    layered = layer(chain, out)
    book = check(ref, chain, layered, out)
    errors = [p for p in out.problems if p.severity == "error"]
    out.extend(lint(book, skip=_broken_rules(errors), engine=not errors))
    return out.problems, False, _builtin_bases(chain), parts


def _broken_rules(errors: Sequence[Problem]) -> frozenset[str]:
    """Rules with a load error: their condition is a placeholder, so lint must not read it."""
    ids = set()
    for p in errors:
        m = re.match(r"rules\[([^\]]+)\]", p.path) or re.match(r"override\.([^.]+)", p.path)
        if m:
            ids.add(m[1])
    return frozenset(ids)


def _builtin_bases(chain: Sequence[Any]) -> list[str]:
    from kamrules.core.resources import rules_dir
    from kamrules.rulebook.load import resolve_ref

    root = rules_dir().resolve()

    def builtin(p: Path) -> bool:
        return p.resolve().is_relative_to(root)

    bases = []
    for book in chain:
        if builtin(Path(book.file)):
            continue
        for ref, _ in book.extends:
            p = resolve_ref(ref, book.file)
            if p is not None and builtin(p) and str(p) not in bases:
                bases.append(str(p))
    return bases
