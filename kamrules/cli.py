"""The command line: parse options, call the library, print, exit.

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

from . import __version__
from .errors import EngineError, InputError, KamrulesError, Location, Problem, UsageError

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
        from .yamlio import decode, MAX_BYTES

        if len(data) > MAX_BYTES:
            raise UsageError([Problem("file.too-large", f"standard input is larger than {MAX_BYTES // 1048576} MiB",
                                      Location("<stdin>"))])
        text, _ = decode(data, "<stdin>")
        return "<stdin>", text
    return path, None


SEVERITY_CHOICES = ["critical", "high", "medium", "low", "info"]


class LazyGroup(click.Group):
    """Commands beside `advise` live in their own modules, imported only when used, so a rep's
    `kamrules advise` does not pay for the consultant's tools at start-up."""

    lazy = {"check": "cli_author", "init": "cli_author", "rules": "cli_author", "schema": "cli_author",
            "explain": "cli_testing", "test": "cli_testing", "portfolio": "cli_portfolio"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy:
            import importlib

            importlib.import_module(f"{__package__}.{self.lazy[name]}")  # registers its commands
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kamrules")
def main() -> None:
    """kamrules: key-account strategy from the 大客户攻略营销 course, as testable rulebooks.

    \b
    Example:
      kamrules advise examples/accounts/huaxin-steel.yaml
    """


@main.command()
@click.argument("account", metavar="ACCOUNT")
@rulebook_option
@click.option("--format", "-f", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True)
@lang_option
@click.option("-o", "--output", metavar="FILE", help="Write here (atomically) instead of standard output.")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default=None,
              help="Exit 1 when a finding at or above this severity exists (for scripts and CI).")
@click.option("--explain", is_flag=True, help="Append the rule-by-rule explanation to the playbook.")
@as_of_option
@engine_option
@click.option("--verbose", "-v", is_flag=True, help="Say which engine and rulebook ran, on standard error.")
@account_option
@guarded
def advise(account: str, rulebook: str, fmt: str, lang: str | None, output: str | None, fail_on: str | None,
           explain: bool, as_of: str | None, engine: str, verbose: bool, account_id: str | None) -> None:
    """Evaluate an account file and print its strategy playbook.

    ACCOUNT is a YAML or JSON account file, - for standard input, or a CSV export from a CRM
    (one row, or pick a row with --account ID).

    \b
    Examples:
      kamrules advise examples/accounts/huaxin-steel.yaml
      kamrules advise examples/portfolio/crm-export.csv --account HX-001
      kamrules advise account.yaml --lang en --format html -o playbook.html
      kamrules advise account.yaml --format json --fail-on high
    """
    from .pipeline import advise as run_advise
    from .render import render

    file, text = read_input(account)
    advice = run_advise(file, rulebook, as_of=parse_as_of(as_of), lang=lang, engine=engine, stdin_text=text,
                        account_id=account_id)
    expl = None
    if explain:
        from .explain import explain_all

        expl = explain_all(advice)
    out = render(advice, fmt, explain=expl)
    if verbose:
        click.echo(f"kamrules {__version__}: engine={advice.engine} rulebook={advice.book.id} "
                   f"{advice.book.digest[:19]} as_of={advice.as_of} rules={len(advice.book.rules)} "
                   f"fired={len(advice.matches)}", err=True)
    if output:
        from .output import write_atomic

        write_atomic(output, out, inputs=[account, *advice.book.files])
    else:
        click.echo(out, nl=False)
    if fail_on:
        limit = SEVERITY_CHOICES.index(fail_on)
        if any(SEVERITY_CHOICES.index(f.severity) <= limit for f in advice.findings):
            sys.exit(1)

