"""Where every input row went: read, evaluated, joined, or left out — and why.

The numbers add up by construction, and the tests hold them to it:

    account rows = accounts evaluated + duplicate ids + rejected accounts
    deal rows    = joined + without an account + naming an unknown account
                   + of rejected accounts + duplicates + rejected deals

Every row left out has a Problem with its file:line:col and the reason, so nothing is dropped
in silence. The CLI prints the report on standard error; `portfolio --format json` carries it
as "rows" (as_dict).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from kamrules.core.errors import Problem

# Problems that say a row was left out; --strict refuses every one of them except an exact
# repeat of a row already read (an export artefact that loses nothing).
HARMLESS = frozenset({"crm.duplicate-row"})


@dataclass(frozen=True)
class FileRows:
    file: str  # as locations name it: path, or path[sheet]
    table: str  # accounts | deals
    rows: int  # data rows below the header
    blank: int = 0
    above_header: int = 0  # a report title above the header
    unused_columns: tuple[str, ...] = ()  # headers the mapping neither maps nor ignores

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "table": self.table, "rows": self.rows, "blank": self.blank,
                "above_header": self.above_header, "unused_columns": list(self.unused_columns)}


@dataclass(frozen=True)
class Report:
    files: tuple[FileRows, ...]
    account_rows: int = 0
    accounts: int = 0  # evaluated
    duplicate_ids: int = 0  # rows repeating an id already read (identical rows included)
    identical_rows: int = 0  # of those, exact repeats
    rejected_accounts: int = 0
    deal_rows: int = 0
    joined: int = 0
    accounts_with_deals: int = 0
    without_account: int = 0
    unknown_account: int = 0
    of_rejected_accounts: int = 0
    duplicate_deals: int = 0
    rejected_deals: int = 0
    by_status: Mapping[str, int] = field(default_factory=dict)  # joined deals
    notes: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()  # every row left out, with where and why
    cells: tuple[Problem, ...] = ()  # cells left out of rows that count (a bad value of an optional fact)

    @property
    def has_deals(self) -> bool:
        return any(f.table == "deals" for f in self.files)

    def balanced(self) -> bool:
        """Every row is in exactly one bucket."""
        accounts = self.account_rows == self.accounts + self.duplicate_ids + self.rejected_accounts
        deals = self.deal_rows == (self.joined + self.without_account + self.unknown_account
                                   + self.of_rejected_accounts + self.duplicate_deals + self.rejected_deals)
        return accounts and deals

    def refused(self) -> list[Problem]:
        """What --strict stops on: every row and cell left out, except exact repeats of a row."""
        return [p for p in (*self.problems, *self.cells) if p.code not in HARMLESS]

    def cell_counts(self) -> dict[str, int]:
        tables = {f.file: f.table for f in self.files}
        out: dict[str, int] = {}
        for p in self.cells:
            t = tables.get(p.location.file, "")
            out[t] = out.get(t, 0) + 1
        return out

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "files": [f.as_dict() for f in self.files],
            "accounts": {"rows": self.account_rows, "evaluated": self.accounts, "duplicate_ids": self.duplicate_ids,
                         "identical_rows": self.identical_rows, "rejected": self.rejected_accounts},
        }
        if self.has_deals:
            out["deals"] = {"rows": self.deal_rows, "joined": self.joined,
                            "accounts_with_deals": self.accounts_with_deals, "without_account": self.without_account,
                            "unknown_account": self.unknown_account, "of_rejected_accounts": self.of_rejected_accounts,
                            "duplicates": self.duplicate_deals, "rejected": self.rejected_deals,
                            "joined_by_status": dict(self.by_status)}
        out["notes"] = list(self.notes)
        out["left_out"] = [p.as_dict() for p in self.problems]
        out["cells_left_out"] = [p.as_dict() for p in self.cells]
        return out

    def summary_lines(self) -> list[str]:
        """The report in a few lines, for standard error."""
        lines = []
        for f in self.files:
            extra = []
            if f.blank:
                extra.append(_n(f.blank, "blank row"))
            if f.above_header:
                extra.append(_n(f.above_header, "row") + " above the header")
            text = f"read {f.file} ({f.table}): {_n(f.rows, 'row')}"
            if extra:
                text += " (skipped " + ", ".join(extra) + ")"
            if f.unused_columns:
                shown = ", ".join(f.unused_columns[:8]) + (", …" if len(f.unused_columns) > 8 else "")
                text += f"; columns not used: {shown}"
            lines.append(text)
        acc = f"accounts: {_n(self.account_rows, 'row')} → {self.accounts:,} evaluated"
        if self.duplicate_ids:
            acc += f" · {_n(self.duplicate_ids, 'duplicate id')}"
            if self.identical_rows:
                acc += f" ({self.identical_rows:,} identical)"
        acc += f" · {self.rejected_accounts:,} rejected"
        cells = self.cell_counts()
        if cells.get("accounts"):
            acc += f"; {_n(cells['accounts'], 'bad cell')} left out of accounts that count"
        lines.append(acc)
        if self.has_deals:
            lines.append(
                f"deals: {_n(self.deal_rows, 'row')} → {self.joined:,} joined to {_n(self.accounts_with_deals, 'account')}"
                f" · {self.without_account:,} without an account · {self.unknown_account:,} naming an unknown account"
                f" · {self.of_rejected_accounts:,} of rejected accounts · {_n(self.duplicate_deals, 'duplicate')}"
                f" · {self.rejected_deals:,} rejected"
                + (f"; {_n(cells['deals'], 'bad cell')} left out of deals that count" if cells.get("deals") else ""))
        lines += [f"note: {n}" for n in self.notes]
        return lines


def _n(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"

