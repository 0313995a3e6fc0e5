"""`kamrules init account|company`: starting files to fill in."""
from __future__ import annotations

from pathlib import Path

import click

from kamrules.cli.common import echo, guarded, rulebook_option
from kamrules.core import textsafe
from kamrules.core.errors import Location, Problem, UsageError

LANGS = ["zh", "en"]


@click.group("init")
def init_group() -> None:
    """Write starting files: an account template, or a company overlay folder.

    \b
    Examples:
      kamrules init account --lang en -o new-account.yaml
      kamrules init company acme --dir examples/company
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
    values and help, and its example as the value: fill in id and name and it is a valid
    account; then replace the examples with the account's own figures.

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
    echo(textsafe.line(f"kamrules: wrote {output}"), err=True)  # a file name is one line, whatever it holds


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
    for p in written:
        echo(textsafe.line(f"wrote {p}"))
    overlay = written[0]
    echo(textsafe.line(f"next: kamrules check {overlay}  ·  kamrules test {overlay.parent}"))


command = init_group
