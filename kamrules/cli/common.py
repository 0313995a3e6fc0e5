"""What every command shares: the error guard that turns library errors into exit codes, and the
common options.

Exit codes: 0 ok · 1 findings at or above --fail-on (or lint findings / failing tests) ·
2 bad input (all problems listed, nothing written) · 3 internal fault (short report) · 130 Ctrl-C.
"""
from __future__ import annotations

import datetime as _dt
import errno
import functools
import io
import os
import sys
from typing import Any, Callable, TypeVar

import click

from kamrules.core import interrupt, settings, textsafe
from kamrules.core.errors import (
    EngineError,
    InputError,
    KamrulesError,
    Location,
    Problem,
    UsageError,
    grouped,
    render_problems,
)
from kamrules.core.values import ValueProblem

F = TypeVar("F", bound=Callable[..., Any])


def echo(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Everything a command prints goes through here, so text from input (names, cells, file
    names, rulebook labels) never reaches a terminal raw: controls, escape sequences and bidi
    overrides are shown as visible escapes (textsafe.terminal). Outputs already written for
    their medium (JSON, Markdown, CSV) hold no such characters and pass unchanged."""
    click.echo(textsafe.terminal(text), err=err, nl=nl)


def shown_problems() -> int:
    """How many problems a report lists (KAMRULES_MAX_PROBLEMS); the default when the setting is
    itself the problem being reported."""
    try:
        return settings.max_problems()
    except UsageError:
        return settings.MAX_PROBLEMS.default


def _report_bug(e: BaseException) -> None:
    import traceback  # only when kamrules fails (with textwrap, ~3 ms of every start)

    tb = traceback.extract_tb(e.__traceback__)
    where = f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else "?"
    echo(f"kamrules: internal error: {type(e).__name__}: {textsafe.line(str(e))} (at {where})", err=True)
    echo("This is a bug in kamrules, not in your file. Please report it with the command you ran "
         "(set KAMRULES_DEBUG=1 for the full traceback).", err=True)
    if os.environ.get("KAMRULES_DEBUG"):
        traceback.print_exception(e)


def guarded(fn: F) -> F:
    """Library errors become exit codes here, and only here."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from kamrules.core import inputs

        inputs.reset()  # what this command reads is what its output must not replace (io/output.py)
        if sys.stdout is None:  # started with standard output closed: writing to it must fail, not vanish
            sys.stdout = _ClosedStdout()
        try:
            for limit in settings.LIMITS:  # a bad KAMRULES_* setting is a usage error, whatever the command
                settings.value(limit)
            try:
                with interrupt.remembered():  # a Ctrl-C that Python drops is still honoured (core/interrupt)
                    result = fn(*args, **kwargs)
                if sys.stdout is not None:
                    sys.stdout.flush()  # a full device or a closed pipe must fail here, not at exit
                return result
            except OSError as e:
                if not _stdout_error(e):
                    raise
                from kamrules.io.output import stdout_failed

                raise stdout_failed(e.strerror or str(e)) from None
        except InputError as e:
            echo(e.render(limit=shown_problems()), err=True)
            n = len(e.problems)
            echo(f"kamrules: {n:,} problem{'s' if n != 1 else ''}; nothing was written.", err=True)
            sys.exit(2)
        except EngineError as e:
            echo(f"kamrules: rule evaluation failed: {textsafe.line(str(e))}", err=True)
            sys.exit(3)
        except KamrulesError as e:
            echo(f"kamrules: {textsafe.line(str(e))}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            interrupt.exit_interrupted()
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except RecursionError as e:
            echo("kamrules: the input is nested too deeply to process.", err=True)
            _report_bug(e) if os.environ.get("KAMRULES_DEBUG") else None
            sys.exit(2)
        except Exception as e:  # an unexpected bug: short report, exit 3
            _report_bug(e)
            sys.exit(3)
    return wrapper  # type: ignore[return-value]


class _ClosedStdout(io.TextIOBase):
    """Stands in for a standard output that was closed before kamrules started (Python then
    sets sys.stdout to None and click.echo silently drops the output)."""

    encoding = "utf-8"
    errors = "strict"

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


def _stdout_error(e: OSError) -> bool:
    """An OSError from writing standard output (click.echo to a closed pipe or a full
    device): file reads and -o writes report their own errors, with the file's name."""
    return isinstance(e, BrokenPipeError) or (
        e.filename is None and e.errno in (errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF))


# --------------------------------------------------------------------------- shared options

def rulebook_option(fn: F) -> F:
    return click.option("--rulebook", "-r", default="course", show_default=True, metavar="PATH_OR_NAME",
                        help="A built-in rulebook id (course) or a rulebook/overlay file.")(fn)


def engine_option(fn: F) -> F:
    return click.option("--engine", type=click.Choice(["auto", "durable", "reference"]), default="auto",
                        show_default=True,
                        help="durable = durable_rules (Rete); reference = pure Python. auto picks durable "
                             "when it imports (Python ≤ 3.12).")(fn)


def as_of_option(fn: F) -> F:
    return click.option("--as-of", "as_of", metavar="YYYY-MM-DD", default=None,
                        help="Evaluation date for staleness rules (default: the account's as_of, else today).")(fn)


def lang_option(fn: F) -> F:
    return click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
                        help="Output language (default: the rulebook's).")(fn)


def account_option(fn: F) -> F:
    return click.option("--account", "account_id", metavar="ID", default=None,
                        help="With a CSV export of several accounts: the id of the one to use.")(fn)


def parse_as_of(value: str | None) -> _dt.date | None:
    """--as-of takes the date forms an account file takes (2026-06-30, 2026/6/30, 2026年6月30日)."""
    from kamrules.core.values import RangeProblem, parse_date

    if value is None:
        return None
    try:
        return parse_date(value)  # within the plausible dates: as_of + a due-date horizon must not overflow
    except RangeProblem as e:
        raise UsageError([Problem("cli.as-of", f"--as-of {value}: {e.message}", Location("--as-of"),
                                  expected=e.expected, hint=e.hint)]) from None
    except ValueProblem:
        raise UsageError([Problem("cli.as-of", f"--as-of {value!r} is not a date", Location("--as-of"),
                                  expected="a date like 2026-06-30 (or 2026/6/30, 2026年6月30日, as in account files)"
                                  )]) from None


def read_input(path: str) -> tuple[str, str | None]:
    """'-' reads standard input."""
    if path == "-":
        from kamrules.core.settings import max_file_bytes
        from kamrules.core.yamlio import decode, too_large

        limit = max_file_bytes()
        data = sys.stdin.buffer.read(limit + 1)  # never more than the limit in memory
        if len(data) > limit:
            raise too_large("<stdin>", None, limit)
        text, _ = decode(data, "<stdin>")
        return "<stdin>", text
    return path, None


SEVERITY_CHOICES = ["critical", "high", "medium", "low", "info"]


def mapping_option(fn: F) -> F:
    fn = click.option("--strict", is_flag=True,
                      help="With --mapping: stop (exit 2, nothing written) when any export row is left out "
                           "(rejected, duplicate id, deal without a known account) instead of reporting it "
                           "and going on.")(fn)
    return click.option("--mapping", metavar="FILE", default=None,
                        help="A CRM mapping file (docs/crm-mapping.md, `kamrules init mapping`): the FILEs are the "
                             "accounts and deals exports it describes (CSV, .xlsx, JSON Lines).")(fn)


def read_mapped(files: tuple[str, ...], mapping: str, book: Any, as_of: _dt.date, strict: bool) -> Any:
    """The accounts of mapped CRM exports; where every row went goes to standard error."""
    from kamrules.io.crm.intake import read_mapped as read

    intake = read(files, mapping, book, as_of)
    if intake.unjoined is not None:  # before the thousands of deals it would list one by one
        from kamrules.io.crm.mapping import MappingError

        raise MappingError([intake.unjoined])
    report = intake.report
    refused = report.refused()
    if strict and refused:
        from dataclasses import replace

        from kamrules.core.errors import AccountError

        for line in report.summary_lines():
            echo(textsafe.line(f"kamrules: {line}"), err=True)
        raise AccountError([replace(p, severity="error") for p in refused])
    left_out = sorted((*report.problems, *report.cells), key=lambda p: p.sort_key())
    if left_out:  # alike rows as one (the JSON output's rows.left_out lists every one)
        echo(render_problems(grouped(left_out), shown_problems()), err=True)
    for line in report.summary_lines():
        echo(textsafe.line(f"kamrules: {line}"), err=True)
    return intake


# --------------------------------------------------------------------------- the review store

def store_option(fn: F) -> F:
    return click.option("--store", metavar="URL_OR_PATH", default=None,
                        help="The review store: a PostgreSQL URL, sqlite:///FILE or a file path (default: "
                             "KAMRULES_STORE, else the project's .kamrules/, else the user's data directory; "
                             "docs/history.md).")(fn)


def record_options(fn: F) -> F:
    fn = click.option("--by", "by", metavar="NAME", default=None,
                      help="Who records (default: KAMRULES_USER, else the operating-system user).")(fn)
    fn = click.option("--record", is_flag=True,
                      help="Record this review in the review store (history, diff, replay).")(fn)
    return store_option(fn)


def store_may_exist() -> bool:
    """Cheap: is a review store configured or present? (No database library is imported when not.)"""
    from kamrules.history import location

    if os.environ.get(location.ENV_STORE) or location.project_folder() is not None:
        return True
    return (location.user_data_dir() / location.STORE_FILE).exists()
