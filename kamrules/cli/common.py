"""What every command shares: the error guard that turns library errors into exit codes, and the
common options.

Exit codes: 0 ok · 1 findings at or above --fail-on (or lint findings / failing tests) ·
2 bad input (all problems listed, nothing written) · 3 internal fault (short report) · 130 Ctrl-C.
"""
from __future__ import annotations

import datetime as _dt
import functools
import os
import sys
import traceback
from typing import Any, Callable, TypeVar

import click

from kamrules.core.errors import (
    EngineError,
    InputError,
    KamrulesError,
    Location,
    Problem,
    UsageError,
)

F = TypeVar("F", bound=Callable[..., Any])


def _report_bug(e: BaseException) -> None:
    tb = traceback.extract_tb(e.__traceback__)
    where = f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else "?"
    click.echo(f"kamrules: internal error: {type(e).__name__}: {e} (at {where})", err=True)
    click.echo("This is a bug in kamrules, not in your file. Please report it with the command you ran "
               "(set KAMRULES_DEBUG=1 for the full traceback).", err=True)
    if os.environ.get("KAMRULES_DEBUG"):
        traceback.print_exception(e)


def guarded(fn: F) -> F:
    """Library errors become exit codes here, and only here."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as e:
            click.echo(e.render(), err=True)
            n = len(e.problems)
            click.echo(f"kamrules: {n} problem{'s' if n != 1 else ''}; nothing was written.", err=True)
            sys.exit(2)
        except EngineError as e:
            click.echo(f"kamrules: rule evaluation failed: {e}", err=True)
            sys.exit(3)
        except KamrulesError as e:
            click.echo(f"kamrules: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("kamrules: interrupted; nothing was written.", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except RecursionError as e:
            click.echo("kamrules: the input is nested too deeply to process.", err=True)
            _report_bug(e) if os.environ.get("KAMRULES_DEBUG") else None
            sys.exit(2)
        except Exception as e:  # an unexpected bug: short report, exit 3
            _report_bug(e)
            sys.exit(3)
    return wrapper  # type: ignore[return-value]


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
    if value is None:
        return None
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError([Problem("cli.as-of", f"--as-of {value!r} is not a date", Location("--as-of"),
                                  expected="YYYY-MM-DD")]) from None


def read_input(path: str) -> tuple[str, str | None]:
    """'-' reads standard input."""
    if path == "-":
        data = sys.stdin.buffer.read()
        from kamrules.core.yamlio import MAX_BYTES, decode

        if len(data) > MAX_BYTES:
            raise UsageError([Problem("file.too-large", f"standard input is larger than {MAX_BYTES // 1048576} MiB",
                                      Location("<stdin>"))])
        text, _ = decode(data, "<stdin>")
        return "<stdin>", text
    return path, None


SEVERITY_CHOICES = ["critical", "high", "medium", "low", "info"]


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
