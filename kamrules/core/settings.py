"""Limits a user can change through the environment: declared once, read when used, validated.

Read when used rather than at import, so a bad setting is a usage error (exit 2, naming the
variable and what it accepts) wherever it is first needed — not an exception while Python
imports kamrules (exit 3 or a traceback). The defaults are documented in the README.
"""
from __future__ import annotations

import os

from kamrules.core.errors import Location, Problem, UsageError
from kamrules.core.lazyre import LazyPattern
from kamrules.core.record import dataclass


@dataclass(frozen=True)
class Limit:
    env: str
    default: int
    minimum: int
    maximum: int
    what: str  # shown in messages: "bytes", "rows", "problems"
    units: bool = False  # accept K, M, G (KiB, MiB, GiB) suffixes


MAX_FILE_BYTES = Limit("KAMRULES_MAX_FILE_BYTES", 10 * 1024 * 1024, 1, 2 ** 31, "bytes", units=True)
MAX_ROWS = Limit("KAMRULES_MAX_ROWS", 20_000, 1, 10_000_000, "rows")
MAX_PROBLEMS = Limit("KAMRULES_MAX_PROBLEMS", 100, 1, 10_000_000, "problems")
# A portfolio streams its CSV exports (kamrules/portfolio/stream.py): its memory does not grow
# with the file, so neither MAX_FILE_BYTES nor MAX_ROWS (which bound what is held in memory at
# once) applies to them; this bounds the accounts of one run, every file together.
MAX_ACCOUNTS = Limit("KAMRULES_MAX_ACCOUNTS", 1_000_000, 1, 100_000_000, "accounts")
LIMITS = (MAX_FILE_BYTES, MAX_ROWS, MAX_PROBLEMS, MAX_ACCOUNTS)

_UNITS = {"": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2, "mb": 1024 ** 2, "mib": 1024 ** 2,
          "g": 1024 ** 3, "gb": 1024 ** 3, "gib": 1024 ** 3}
_VALUE = LazyPattern(r"^(\d[\d_,]*)\s*([a-z]*)$")  # compiled when a limit is set (core/lazyre.py)


def value(limit: Limit) -> int:
    """The limit's value: the environment's when set, else the default. UsageError when invalid."""
    raw = os.environ.get(limit.env)
    if raw is None or not raw.strip():
        return limit.default
    m = _VALUE().match(raw.strip().lower())
    unit = m[2] if m else ""
    if m is None or unit not in _UNITS or (unit and not limit.units):
        expected = f"a whole number of {limit.what} from {limit.minimum:,} to {limit.maximum:,}"
        if limit.units:
            expected += " (K, M or G may follow: 20M)"
        raise UsageError([Problem("env.value", f"{limit.env}={raw!r} is not a number of {limit.what}",
                                  Location(limit.env), expected=expected,
                                  hint=f"unset it to use the default, {limit.default:,}")])
    n = int(m[1].replace("_", "").replace(",", "")) * _UNITS[unit]
    if not limit.minimum <= n <= limit.maximum:
        raise UsageError([Problem("env.value", f"{limit.env}={raw!r} is outside {limit.minimum:,}–{limit.maximum:,}",
                                  Location(limit.env),
                                  expected=f"a whole number of {limit.what} from {limit.minimum:,} to {limit.maximum:,}",
                                  hint=f"unset it to use the default, {limit.default:,}")])
    return n


def max_file_bytes() -> int:
    return value(MAX_FILE_BYTES)


def max_rows() -> int:
    return value(MAX_ROWS)


def max_problems() -> int:
    return value(MAX_PROBLEMS)


def max_accounts() -> int:
    return value(MAX_ACCOUNTS)
