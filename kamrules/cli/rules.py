"""`kamrules rules`: the rulebook's documentation (rules, parameters, facts)."""
from __future__ import annotations


import click

from kamrules.cli.common import echo, guarded, rulebook_option
from kamrules.core import textsafe

LANGS = ["zh", "en"]


@click.command("rules")
@rulebook_option
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "md", "json"]), default="table", show_default=True)
@click.option("--rules", "show_rules", is_flag=True, help="Show the rules (id, concept, source, severity, title).")
@click.option("--params", "show_params", is_flag=True, help="Show the parameters (value, source, label).")
@click.option("--facts", "show_facts", is_flag=True, help="Show the facts (type, unit, labels, aliases).")
@click.option("--effective", is_flag=True,
              help="The merged result with, for every element, where it came from (rulebook, file:line), "
                   "the overlays that changed each rule, the disabled rules with their reasons, and the digest.")
@click.option("--lang", type=click.Choice(LANGS), default=None, help="Language of titles and labels.")
@guarded
def rules_cmd(rulebook: str, fmt: str, show_rules: bool, show_params: bool, show_facts: bool, effective: bool,
              lang: str | None) -> None:
    """List the rulebook's rules, parameters and facts: its documentation.

    Without --rules/--params/--facts every section is listed (with metrics, dimensions and
    scores); with them, only those sections.

    \b
    Examples:
      kamrules rules
      kamrules rules --params --format md > parameters.md
      kamrules rules --rulebook acme/acme.yaml --effective
    """
    from kamrules.authoring.catalogue import catalog, render_catalog
    from kamrules.rulebook.load import load_rulebook

    book = load_rulebook(rulebook)
    chosen = {s for s, on in (("rules", show_rules), ("parameters", show_params), ("facts", show_facts)) if on}
    sections = chosen or {"rules", "parameters", "facts", "metrics", "dimensions", "scores", "derived"}
    data = catalog(book, lang or book.lang, sections, effective)
    if fmt == "json":
        echo(textsafe.json_dumps(data, default=str))
    else:
        echo(render_catalog(data, fmt, lang or book.lang), nl=False)


command = rules_cmd
