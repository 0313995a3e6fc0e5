"""`kamrules init account|company|mapping`: starting files to fill in."""
from __future__ import annotations

from pathlib import Path

import click

from kamrules.cli.common import echo, guarded, rulebook_option
from kamrules.core import textsafe
from kamrules.core.errors import Location, Problem, UsageError

LANGS = ["zh", "en"]


@click.group("init")
def init_group() -> None:
    """Write starting files: an account template, a company overlay folder, or a CRM mapping.

    \b
    Examples:
      kamrules init account --lang en -o new-account.yaml
      kamrules init company acme --dir examples/company
      kamrules init mapping accounts.csv deals.xlsx -o crm-mapping.yaml
    """


@init_group.command("account")
@rulebook_option
@click.option("--lang", type=click.Choice(LANGS), default=None,
              help="Language of the comments (default: the rulebook's).")
@click.option("-o", "--output", metavar="FILE", help="Write here (never over an existing file) instead of standard output.")
@guarded
def init_account(rulebook: str, lang: str | None, output: str | None) -> None:
    """Write a commented account template with every fact the rulebook declares.

    Facts are grouped as the rulebook groups them, each with its label, unit, type or allowed
    values, help and an example in a comment, and an empty value: the examples are the example
    company's figures and never become the new account's. id and name are refused until filled
    in; advise warns when an account still holds the examples.

    \b
    Examples:
      kamrules init account -o huaxin.yaml
      kamrules init account --lang en --rulebook my-overlay.yaml -o account.yaml
    """
    from kamrules.authoring.init import account_template, write_new
    from kamrules.rulebook.load import load_rulebook

    book = load_rulebook(rulebook)
    text = account_template(book, lang or book.lang)
    if output is None:
        echo(text, nl=False)
        return
    write_new({Path(output): text})
    # the three init commands report alike, on standard error (standard output is the file when there is no -o)
    echo(textsafe.line(f"kamrules: wrote {output}"), err=True)  # a file name is one line, whatever it holds
    echo(textsafe.line(f"next: fill in id, name and what you know, then: kamrules advise {output}"), err=True)


@init_group.command("mapping")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@rulebook_option
@click.option("--lang", type=click.Choice(LANGS), default=None,
              help="Language of the comments (default: the rulebook's).")
@click.option("-o", "--output", metavar="FILE", help="Write here (never over an existing file) instead of standard output.")
@guarded
def init_mapping(files: tuple[str, ...], rulebook: str, lang: str | None, output: str | None) -> None:
    """Write a starting CRM mapping for the exports FILE... (CSV, .xlsx, JSON Lines).

    Reads the headers and values of each export (each sheet of a workbook), finds the accounts
    table and the deals table, matches columns to facts and deal fields by the rulebook's
    names, labels and aliases and the usual column names of Salesforce, HubSpot, Dynamics 365,
    销售易 and 纷享销客, reads units and currencies from the headers, writes value maps for
    stages and yes/no columns and the usual aggregations (revenue, orders, largest order, win
    rate, pipeline, last activity). Every column it could not place is a TODO with the nearest
    candidates. Check the TODOs, then pass the file to `portfolio --mapping`.

    \b
    Examples:
      kamrules init mapping accounts.csv opportunities.xlsx -o crm-mapping.yaml
      kamrules init mapping export.xlsx --lang en
    """
    from kamrules.authoring.init import write_new
    from kamrules.io.crm.draft import draft_mapping
    from kamrules.rulebook.load import load_rulebook

    book = load_rulebook(rulebook)
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise UsageError([Problem("file.unreadable", f"{f} is not a file", Location(f), hint="check the path")
                          for f in missing])
    text = draft_mapping(files, book, lang or book.lang)
    if output is None:
        echo(text, nl=False)
        return
    write_new({Path(output): text})
    echo(textsafe.line(f"kamrules: wrote {output}"), err=True)
    echo(textsafe.line(f"next: check the TODOs, then: kamrules portfolio {' '.join(files)} --mapping {output}"),
         err=True)


@init_group.command("company")
@click.argument("name")
@click.option("--dir", "folder", default=".", show_default=True, metavar="DIR",
              help="The folder in which NAME/ is created.")
@click.option("--extends", "base", default="course", show_default=True, metavar="PATH_OR_NAME",
              help="The rulebook the overlay extends.")
@click.option("--lang", type=click.Choice(LANGS), default=None,
              help="Language of the comments (default: the base rulebook's).")
@guarded
def init_company(name: str, folder: str, base: str, lang: str | None) -> None:
    """Write a company overlay skeleton: NAME/NAME.yaml, NAME/NAME.test.yaml, NAME/templates/.

    The overlay extends the course (or --extends) and shows, as comments naming real
    parameters and rules, how to set a parameter, disable a rule with a reason, override part
    of a rule and lock one; it adds one working rule and a test case for it. It passes
    `kamrules check` and `kamrules test` as written. Existing files are never overwritten.

    \b
    Examples:
      kamrules init company acme
      kamrules init company acme --dir examples/company --lang en
    """
    from kamrules.authoring.init import company_files, write_new
    from kamrules.rulebook.load import load_rulebook

    if not Path(folder).is_dir():
        raise UsageError([Problem("init.no-dir", f"the folder {folder} does not exist", Location(folder),
                                  hint="create it first, or choose another --dir")])
    book = load_rulebook(base)
    files = company_files(name, base, book, Path(folder), lang or book.lang)
    written = write_new(files)
    for p in written:  # reported as init account and init mapping report (standard error)
        echo(textsafe.line(f"kamrules: wrote {p}"), err=True)
    overlay = written[0]
    echo(textsafe.line(f"next: kamrules check {overlay}  ·  kamrules test {overlay.parent}"), err=True)


command = init_group
