"""`kamrules portfolio --playbooks DIR`: one HTML playbook per account, linked from the dashboard.

File names come from account ids, which are input (a CRM cell can hold `../../etc/passwd`,
`CON`, `a/b`, 500 characters or a right-to-left override). A file name here is:
* the id in NFC with every character that is not a letter, digit, `-`, `_` or `.` replaced by
  `-` (path separators, controls, bidi marks, quotes, spaces), runs of `-` collapsed, leading
  dots and dashes and trailing dots, dashes and spaces dropped (no hidden files, nothing
  Windows would silently trim), cut at MAX_STEM characters;
* `_`-prefixed when it is a name Windows reserves (CON, PRN, AUX, NUL, COM1–9, LPT1–9, with
  any extension), `account` when nothing is left;
* unique without regard to case (two ids that differ only in case, or that clean up to the
  same name, would overwrite each other on Windows and macOS): every account whose name is
  shared gets `-` and the first 8 hex digits of the SHA-256 of its id, so the name does not
  depend on which other accounts are in the run; a clash left after that (astronomically
  unlikely, or made on purpose) takes the next free `-2`, `-3` … in id order.
Then `.html`.

Writing: the folder is created when missing; every target is checked before anything is
written — an existing target that is not a regular file (a symbolic link, a folder, a FIFO, a
device) is refused, and so is one that is an input of the run (io/output.py); then each
playbook is written atomically by io/output.write_atomic.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence
from urllib.parse import quote

from kamrules.core.errors import Location, Problem, UsageError
from kamrules.io.output import check_target, write_atomic
from kamrules.portfolio.portfolio import Source
from kamrules.rulebook.model import Rulebook

MAX_STEM = 80  # characters; CJK is 3 bytes each in UTF-8, so with a suffix well under 255 bytes
_UNSAFE = re.compile(r"[^\w.\-]+")  # \w: letters and digits of any script, and _
_RESERVED = re.compile(r"(?i)^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$")


def stem(account_id: str) -> str:
    """The cleaned-up name of one id (before making names unique)."""
    text = unicodedata.normalize("NFC", account_id)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc", "Co", "Cs", "Cn"))
    text = re.sub(r"-{2,}", "-", _UNSAFE.sub("-", text))
    text = text.lstrip(".-").rstrip(". -")
    text = text[:MAX_STEM].rstrip(". -")
    if not text:
        return "account"
    return "_" + text if _RESERVED.match(text) else text


def _digest(account_id: str) -> str:
    return hashlib.sha256(account_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def file_names(ids: Iterable[str]) -> dict[str, str]:
    """account id → file name, unique without regard to case, deterministic (see above)."""
    ordered = sorted(set(ids))
    stems = {i: stem(i) for i in ordered}
    shared: dict[str, int] = {}
    for s in stems.values():
        shared[s.casefold()] = shared.get(s.casefold(), 0) + 1
    wanted = {i: (f"{s}-{_digest(i)}" if shared[s.casefold()] > 1 else s) for i, s in stems.items()}
    taken: set[str] = set()
    out: dict[str, str] = {}
    for i in ordered:
        name, k = wanted[i], 2
        while name.casefold() in taken:
            name, k = f"{wanted[i]}-{k}", k + 1
        taken.add(name.casefold())
        out[i] = name + ".html"
    return out


@dataclass(frozen=True)
class Plan:
    folder: str
    names: Mapping[str, str]  # account id → file name

    def links(self, page: str | None) -> dict[str, str]:
        """account id → the href from the page at `page` (None: standard output, read from the
        working folder) to its playbook, URL-quoted."""
        base = os.path.dirname(os.path.abspath(page)) if page else os.getcwd()
        rel = os.path.relpath(os.path.abspath(self.folder), base)
        prefix = "" if rel == "." else quote(rel.replace(os.sep, "/")) + "/"
        return {i: prefix + quote(n) for i, n in self.names.items()}

    def path(self, account_id: str) -> str:
        return os.path.join(self.folder, self.names[account_id])


def _refuse(code: str, message: str, where: str, hint: str) -> UsageError:
    return UsageError([Problem(code, message, Location(where), hint=hint)])


def plan(folder: str, ids: Sequence[str], *, page: str | None, inputs: Iterable[str]) -> Plan:
    """Check the folder and every target before anything is written; raises UsageError."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _refuse("output.playbooks-folder", f"cannot use {folder}: {e.strerror or e}", folder,
                      "give a folder you can write to") from None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise _refuse("output.playbooks-folder", f"{folder} exists and is not a folder", folder,
                      "give a folder name for --playbooks, e.g. --playbooks playbooks/")
    p = Plan(folder, file_names(ids))
    listed = list(inputs)
    page_real = os.path.realpath(page) if page else None
    problems = []
    for i in sorted(p.names):
        target = p.path(i)
        if page_real is not None and os.path.realpath(target) == page_real:
            problems.append(Problem("output.playbook-is-dashboard", f"the playbook of '{i}' would be written over the "
                                    f"dashboard {page}", Location(target),
                                    hint="write the dashboard outside the --playbooks folder, or under another name"))
            continue
        try:
            lst = os.lstat(target)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise _refuse("output.write-failed", f"cannot use {target}: {e.strerror or e}", target,
                          "check the folder's permissions") from None
        if not stat.S_ISREG(lst.st_mode):
            kind = ("a symbolic link" if stat.S_ISLNK(lst.st_mode) else "a folder" if stat.S_ISDIR(lst.st_mode)
                    else "not a regular file")
            problems.append(Problem("output.not-a-regular-file", f"{target} is {kind}; playbooks replace regular "
                                    "files only", Location(target), hint="remove it, or choose another folder"))
            continue
        try:
            check_target(target, listed)
        except UsageError as e:
            problems.extend(e.problems)
    if problems:
        raise UsageError(problems)
    return p


def write(p: Plan, sources: Sequence[Source], book: Rulebook, *, as_of: _dt.date | None, lang: str | None,
          engine: str, inputs: Iterable[str]) -> int:
    """Evaluate and render each account's HTML playbook into the planned files. Accounts are
    evaluated again here: a portfolio row keeps only headlines, and rendering a playbook
    costs far more than evaluating the account (docs/portfolio.md, "The dashboard")."""
    from kamrules.advice.render import render
    from kamrules.pipeline import evaluate

    os.makedirs(p.folder, exist_ok=True)
    listed = list(inputs)
    n = 0
    for s in sources:
        if s.account.id not in p.names:
            continue
        advice = evaluate(s.account, book, as_of=as_of, lang=lang, engine=engine)
        write_atomic(p.path(s.account.id), render(advice, "html"), inputs=listed)
        n += 1
    return n
