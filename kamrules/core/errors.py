"""The error tree: every problem a user can meet, with where it is and what to do.

Library code raises these; only the CLI turns them into exit codes and text.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from kamrules.core import textsafe
from kamrules.core.i18n import is_chinese
from kamrules.core.record import dataclass


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int = 0  # 1-based; 0 = unknown
    col: int = 0  # 1-based; 0 = unknown

    def __str__(self) -> str:
        if self.line and self.col:
            return f"{self.file}:{self.line}:{self.col}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input. Many are collected and reported together."""

    code: str  # stable machine code, e.g. "account.unknown-key"
    message: str
    location: Location
    path: str = ""  # path to the bad key, e.g. "contacts[2].role"
    expected: str = ""
    hint: str = ""
    severity: str = "error"  # error | warning (lint)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.location.file, self.location.line, self.location.col, self.path, self.code)

    def render(self) -> str:
        """One problem as text for a terminal. File names, paths and messages quote input (a key,
        a cell, a name), so each is neutralised: no control reaches the terminal, and no line
        break lets a value pass for a problem line of its own."""
        head = f"{textsafe.line(str(self.location))}: {self.severity}[{self.code}]"
        if self.path:
            head += f" at {textsafe.line(self.path)}"
        lines = [f"{head}: {textsafe.line(self.message)}"]
        if self.expected:
            lines.append(f"    expected: {textsafe.block(self.expected, ' ' * 14)}")
        if self.hint:
            lines.append(f"    hint: {textsafe.block(self.hint, ' ' * 10)}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "col": self.location.col,
            "path": self.path,
            "expected": self.expected,
            "hint": self.hint,
        }


class KamrulesError(Exception):
    """Root of everything kamrules raises on purpose."""

    exit_code = 3


class InputError(KamrulesError):
    """Bad input (account file, rulebook, options): exit 2, all problems at once."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(sorted(problems, key=Problem.sort_key))
        n = len(self.problems)
        # the text is rendered when asked for: a file with 100,000 unknown keys has 100,000 problems
        super().__init__(f"{n:,} problem{'s' if n != 1 else ''}")

    def __str__(self) -> str:
        return self.render()

    def render(self, limit: int | None = None) -> str:
        return render_problems(self.problems, limit)


def render_problems(problems: Sequence[Problem], limit: int | None = None) -> str:
    """Problems as text, at most `limit` of them, saying how many more there are."""
    shown = problems if limit is None else problems[:limit]
    lines = [p.render() for p in shown]
    rest = len(problems) - len(shown)
    if rest:
        lines.append(f"… and {rest:,} more problem{'s' if rest != 1 else ''} (the first {len(shown):,} are shown; "
                     "set KAMRULES_MAX_PROBLEMS to see more)")
    return "\n".join(lines)


def grouped(problems: Sequence[Problem], *, at_least: int = 3, lines_shown: int = 8) -> list[Problem]:
    """For a terminal report: problems that differ only in the row they point at (a deals export
    naming the same missing account on 300 rows) as one each, at the first, naming the lines. A
    reader takes in seven lines where 900 would bury the table. Fewer than `at_least` alike stay
    as they are; the order is the order of each group's first. Machine outputs keep every problem."""
    groups: dict[tuple[str, ...], list[Problem]] = {}
    for p in problems:
        key = (p.code, p.message, p.location.file, p.path, p.expected, p.hint, p.severity)
        groups.setdefault(key, []).append(p)
    out: list[Problem] = []
    for same in groups.values():
        if len(same) < at_least:
            out.extend(same)
            continue
        first = same[0]
        lines = [str(p.location.line) for p in same[:lines_shown]]
        more = ", …" if len(same) > lines_shown else ""
        out.append(Problem(first.code, f"{first.message} — {len(same):,} rows like this one, on lines "
                           f"{', '.join(lines)}{more}", first.location, first.path, first.expected, first.hint,
                           first.severity))
    return sorted(out, key=Problem.sort_key)


class AccountError(InputError):
    pass


class RulebookError(InputError):
    pass


class UsageError(InputError):
    """A bad option or path on the command line."""


class EngineError(KamrulesError):
    """A fault while evaluating rules (an action raised, the firing budget ran out): exit 3."""

    def __init__(self, message: str, *, rule: str = "", account: str = "") -> None:
        self.rule = rule
        self.account = account
        super().__init__(message)


class Collector:
    """Collects problems so a loader can report every mistake in one run."""

    def __init__(self, *, hint_limit: int | None = None) -> None:
        self.problems: list[Problem] = []
        self.hint_limit = hint_limit  # see worth_a_hint

    def worth_a_hint(self) -> bool:
        """Whether a costly hint ('did you mean', a search over every name) is worth computing for
        the next problem: reports list only the first KAMRULES_MAX_PROBLEMS, and a file with
        100,000 unknown keys would otherwise spend minutes on suggestions nobody sees."""
        return self.hint_limit is None or len(self.problems) < self.hint_limit

    def add(self, code: str, message: str, location: Location, path: str = "",
            expected: str = "", hint: str = "") -> None:
        self.problems.append(Problem(code, message, location, path, expected, hint))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self, cls: type[InputError] = InputError) -> None:
        if self.problems:
            raise cls(self.problems)


def suggest(name: str, choices: Iterable[str]) -> str:
    """A 'did you mean' hint, or '' when nothing is close. In the language of the input: a
    Chinese name gets the hint in Chinese (the candidates are whatever the caller offers, so a
    caller with labels offers the Chinese ones for Chinese input)."""
    close = nearest(name, choices)
    return did_you_mean(name, close) if close else ""


def nearest(name: str, choices: Iterable[str]) -> str:
    """The choice closest to name ('' when none is close): exact spelling first, then any case."""
    import difflib  # only when a name is wrong

    pool = sorted(set(choices))
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        close = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)]
    if not close and is_chinese(name):
        # a Chinese character carries a word: 态渡 for 态度 is one character of two (ratio 0.5)
        close = difflib.get_close_matches(name, [c for c in pool if is_chinese(c)], n=1, cutoff=0.5)
    return close[0] if close else ""


def did_you_mean(name: str, candidate: str) -> str:
    """The suggestion sentence, in the language the user wrote name in."""
    return f"是否应为 '{candidate}'？" if is_chinese(name) else f"did you mean '{candidate}'?"
