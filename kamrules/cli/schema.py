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
    from kamrules.core.grammar import json_schema
    from kamrules.rulebook.schema import dumps

    if kind == "account":
        from kamrules.rulebook.load import load_rulebook
        from kamrules.rulebook.schema import account_schema

        echo(dumps(account_schema(load_rulebook(rulebook))), nl=False)
    elif kind == "rulebook":
        from kamrules.rulebook.grammar import GRAMMAR

        echo(dumps(json_schema(GRAMMAR)), nl=False)
    elif kind == "mapping":
        from kamrules.io.crm.grammar import GRAMMAR as MAPPING

        echo(dumps(json_schema(MAPPING)), nl=False)
    else:
        from kamrules.advice.contract import GRAMMAR as OUTPUT

        echo(dumps(json_schema(OUTPUT)), nl=False)


command = schema_cmd
