"""`kamrules portfolio --calibrate FILE`: thresholds from the portfolio's own distribution.

The course's single-indicator and pyramid thresholds are absolute amounts for one supplier's
scale (course.standards: "calibrate: key ≈ your top 20% of customers by revenue"). The rulebook's
`playbook.portfolio.calibrate` says which parameter is the value of which fact or metric at which
top share of the accounts; this module computes those values and writes a parameters overlay
that extends the rulebook used, each value sourced "calibrated from FILE as of DATE", so a later
`kamrules advise -r FILE` classifies against this book.

The value at the top share t of n accounts (largest first) is the value of the account at rank
k = ceil(t · n) (at least 1): exactly the top k accounts, and those tied with the k-th, are at or
above it, which is what a `>= params.x` threshold needs.
"""
from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from kamrules.core.errors import Location, Problem, UsageError
from kamrules.portfolio.rank import Measures
from kamrules.rulebook.model import Calibration, Rulebook

MIN_ACCOUNTS = 5  # fewer accounts than this give no distribution to speak of


@dataclass(frozen=True)
class Calibrated:
    param: str
    of: str
    top: float
    accounts: int  # accounts that give `of`
    rank: int  # the k-th account's value is the threshold; 0 when not calibrated
    value: float | None  # None: too few accounts give `of`
    was: float | None  # the rulebook's value


@dataclass(frozen=True)
class CalibrationResult:
    """Every calibrated parameter of one run (the overlay's content)."""

    params: tuple[Calibrated, ...]
    accounts: int  # accounts in the portfolio


def value_at_top(values: Sequence[float], top: float) -> tuple[int, float]:
    """(k, value of the k-th largest) for the top share `top` of `values` (not empty)."""
    ranked = sorted(values, reverse=True)
    k = min(len(ranked), max(1, math.ceil(top * len(ranked) - 1e-9)))
    return k, ranked[k - 1]


def calibrate(ms: Sequence[Measures], cals: Sequence[Calibration], book: Rulebook) -> CalibrationResult:
    out = []
    for c in cals:
        values = [m.values[c.of] for m in ms if c.of in m.values]
        p = book.params.get(c.param)
        was = float(p.value) if p is not None and isinstance(p.value, (int, float)) \
            and not isinstance(p.value, bool) else None
        if len(values) < MIN_ACCOUNTS:
            out.append(Calibrated(c.param, c.of, c.top, len(values), 0, None, was))
            continue
        k, v = value_at_top(values, c.top)
        if p is not None and p.type == "integer":
            v = float(math.floor(v))
        out.append(Calibrated(c.param, c.of, c.top, len(values), k, v, was))
    return CalibrationResult(tuple(out), len(ms))


def _number_text(v: float, type_: str) -> str:
    if type_ == "percent":
        return f"{v * 100:.6g}%"
    if type_ in ("money", "integer"):
        return str(int(round(v)))
    return repr(round(v, 6))


def _plain(text: str) -> str:
    """A file name or a rulebook reference inside one YAML line: no control, no quote that would
    end the string."""
    return "".join(ch if ch.isprintable() else "?" for ch in text).replace("\\", "/").replace('"', "'")


def base_ref(ref: str, overlay: str) -> str:
    """How the overlay names the rulebook it extends: a built-in by its id, a file relative to
    the overlay (rulebook references are resolved from the file that names them)."""
    if ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or "\\" in ref:
        return Path(os.path.relpath(Path(ref).resolve(), Path(overlay).resolve().parent)).as_posix()
    return ref


def overlay_text(result: CalibrationResult, book: Rulebook, *, ref: str, overlay: str, inputs: Sequence[str],
                 as_of: _dt.date) -> str:
    """The overlay, deterministic: the same portfolio and date give the same bytes."""
    names = ", ".join(_plain(Path(f).name) for f in inputs) or "?"
    source = f"company:calibrated from {names} as of {as_of.isoformat()}"
    bid = f"{book.id}.calibrated" if len(book.id) < 70 else "calibrated"
    lines = [
        f"# Written by `kamrules portfolio --calibrate` from {len(inputs)} file(s), {result.accounts} accounts,",
        f"# as of {as_of.isoformat()}. Each threshold is the value of a fact or metric at a top share",
        "# of this portfolio's accounts (the rulebook's playbook.portfolio.calibrate). Use it with",
        "# `kamrules advise ACCOUNT -r THIS_FILE`; edit or delete a line to keep the rulebook's value.",
        f"rulebook: {bid}",
        f"version: {book.version}",
        "title: {zh: 按本客户组合校准的门槛, en: Thresholds calibrated from this portfolio}",
        f'extends: ["{_plain(base_ref(ref, overlay))}"]',
        "",
        "parameters:",
    ]
    for c in result.params:
        p = book.params[c.param]
        if c.value is None:
            lines.append(f"  # {c.param}: not calibrated — {c.accounts} account(s) give {c.of}, "
                         f"fewer than {MIN_ACCOUNTS}")
            continue
        was = "" if c.was is None else f"; was {_number_text(c.was, p.type)}"
        lines.append(f"  {c.param}: {{value: {_number_text(c.value, p.type)}, source: \"{source}\"}}"
                     f"  # top {c.top:.0%} of {c.accounts} accounts by {c.of} (rank {c.rank}){was}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the command's side

@dataclass(frozen=True)
class Overlay:
    text: str
    calibrated: int  # parameters written
    notes: tuple[str, ...]  # parameters left out, one line each (standard error)


def check_calibratable(book: Rulebook, target: str, ref: str) -> None:
    """Before any account is read: a rulebook without a calibrate section cannot be calibrated,
    and the overlay must not overwrite the rulebook it extends."""
    if not book.playbook.portfolio.calibrate:
        raise UsageError([Problem(
            "portfolio.calibrate-nothing", f"the rulebook '{book.id}' says nothing to calibrate",
            Location(target), "playbook.portfolio.calibrate",
            "a rulebook whose playbook.portfolio.calibrate names parameters",
            "add playbook: {portfolio: {calibrate: {key_revenue_min: {of: revenue, top: 20%}}}} to an overlay")])


def calibrated_overlay(ms: Sequence[Measures], book: Rulebook, ref: str, target: str, inputs: Sequence[str],
                       as_of: _dt.date, lang: str) -> Overlay:
    """The overlay's text; UsageError (nothing written) when no parameter could be calibrated."""
    from kamrules.core.i18n import t

    result = calibrate(ms, book.playbook.portfolio.calibrate, book)
    done = [c for c in result.params if c.value is not None]
    if not done:
        raise UsageError([Problem(
            "portfolio.calibrate-too-few", f"no threshold can be calibrated: each needs at least {MIN_ACCOUNTS} "
            "accounts that give its fact or metric (" + ", ".join(f"{c.of}: {c.accounts}" for c in result.params) + ")",
            Location(target), "--calibrate", f"at least {MIN_ACCOUNTS} accounts with revenue",
            "calibrate from a larger export, or set the thresholds by hand in a company overlay")])
    notes = tuple(t("portfolio.not_calibrated", lang, param=c.param, n=c.accounts, of=c.of)
                  for c in result.params if c.value is None)
    return Overlay(overlay_text(result, book, ref=ref, overlay=target, inputs=inputs, as_of=as_of), len(done), notes)
