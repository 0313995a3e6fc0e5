"""`kamrules schema`: JSON Schemas for editors and tools."""
from __future__ import annotations

import click

from kamrules.cli.common import echo, guarded, rulebook_option


@click.command("schema")
@click.argument("kind", type=click.Choice(["account", "rulebook", "output", "mapping"]))
@rulebook_option
@guarded
def schema_cmd(kind: str, rulebook: str) -> None:
    """Print a JSON Schema (draft 2020-12) for editors and tools.

    account: generated from the rulebook's facts (a company's own facts included), with the
    Chinese labels as alternative keys; rulebook: the rulebook language; output: the
    `advise --format json` contract; mapping: the CRM mapping file (`--mapping`). Save it and point the YAML language server at it, with
    `# yaml-language-server: $schema=account.schema.json` as a file's first line, or with the
    editor's yaml.schemas setting.

    \b
    Examples:
      kamrules schema account > account.schema.json
      kamrules schema rulebook > rulebook.schema.json
      kamrules schema mapping > mapping.schema.json
      kamrules schema account --rulebook acme/acme.yaml > acme-account.schema.json
    """
    from kamrules.core.grammar import Grammar, json_schema, schema_text

    grammar: Grammar
    if kind == "account":  # the account grammar follows the rulebook's facts (io/account.py)
        from kamrules.io.account import account_grammar
        from kamrules.rulebook.load import load_rulebook

        grammar = account_grammar(load_rulebook(rulebook))
    elif kind == "rulebook":
        from kamrules.rulebook.grammar import GRAMMAR as grammar
    elif kind == "mapping":
        from kamrules.io.crm.grammar import GRAMMAR as grammar
    else:
        from kamrules.advice.contract import GRAMMAR as grammar
    echo(schema_text(json_schema(grammar)), nl=False)


command = schema_cmd
