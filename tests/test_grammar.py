"""The file grammars are declared once (core/grammar.py nodes; rulebook/grammar.py,
advice/contract.py, io/crm/grammar.py): the shipped JSON Schemas are exactly what the declarations generate, and
the generic reader reports every kind of mistake with a location, a path and a hint."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from kamrules.advice.contract import GRAMMAR as OUTPUT
from kamrules.core import grammar as g
from kamrules.core.errors import Collector
from kamrules.core.i18n import Text
from kamrules.core.yamlio import load
from kamrules.io.crm.grammar import GRAMMAR as MAPPING
from kamrules.rulebook.grammar import GRAMMAR as RULEBOOK

SCHEMAS = Path(__file__).resolve().parent.parent / "kamrules" / "schemas"


@pytest.mark.parametrize("name, grammar", [("rulebook", RULEBOOK), ("output", OUTPUT), ("mapping", MAPPING)])
def test_shipped_schema_is_what_the_grammar_generates(name: str, grammar: g.Grammar) -> None:
    shipped = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    generated = g.json_schema(grammar)
    Draft202012Validator.check_schema(generated)
    assert shipped == generated, (
        f"kamrules/schemas/{name}.schema.json is stale: regenerate it with "
        f"`kamrules schema {name} > kamrules/schemas/{name}.schema.json`")


@pytest.mark.parametrize("name", ["rulebook", "output", "mapping"])
def test_the_schema_command_prints_the_shipped_file(name: str) -> None:
    from click.testing import CliRunner

    from kamrules.cli import main

    r = CliRunner().invoke(main, ["schema", name])
    assert r.exit_code == 0, r.output
    assert r.stdout == (SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the generic reader

ITEM = g.Map("item", (
    g.Field("id", g.Scalar("str", pattern=r"[a-z]+", what="id", code="id"), required=True,
            missing="{owner} needs an id"),
    g.Field("size", g.Scalar("int", what="size")),
    g.Field("kind", g.Scalar("str", choices=("small", "large"), what="kind", code="kind",
                             message="kind {value} is not known")),
    g.Field("label", g.Text()),
    g.Field("tags", g.Seq(g.Scalar("str", what="a tag"), what="tags", single=True)),
    g.Field("children", g.Seq(g.Ref("item"), what="children")),
), what="an item", owner=lambda v: f"item '{v.get('id')}'")
TOY = g.Grammar(root=g.Map("", (g.Field("items", g.Seq(g.Ref("item"), what="items")),
                                g.Field("names", g.Table(g.Scalar("int", what="a count"),
                                                         key=g.Key(pattern=r"[a-z]+", what="name"))),
                                g.Field("either", g.Either((g.Scalar("str"), g.Ref("item")), what="either"))),
                           what="the file"),
                defs={"item": ITEM})


def read(text: str) -> tuple[Any, list[tuple[str, str, int, str, str]]]:
    doc = load("toy.yaml", text=text)
    out = Collector()
    value = g.read_doc(TOY, doc, out, "toy")
    return value, [(p.code, p.path, p.location.line, p.message, p.hint) for p in out.problems]


def test_a_good_file_reads_with_text_turned_into_text_values() -> None:
    value, problems = read("items:\n  - id: a\n    size: 3\n    label: {zh: 甲, en: A}\n    tags: x\n")
    assert problems == []
    assert value["items"][0]["label"] == Text("甲", "A")
    assert value["items"][0]["tags"] == ["x"]  # a single item written alone


@pytest.mark.parametrize("text, want", [
    ("items:\n  - id: a\n    sise: 3\n", ("toy.unknown-key", "items[0].sise", 3, "unknown key 'sise' in an item",
                                          "did you mean 'size'?")),
    ("items:\n  - size: 3\n", ("toy.missing", "items[0]", 2, "item 'None' needs an id", "")),  # toy owner
    ("items:\n  - id: a\n    size: many\n", ("toy.type", "items[0].size", 3, "size must be a whole number", "")),
    ("items:\n  - id: a\n    kind: smal\n", ("toy.kind", "items[0].kind", 3, "kind 'smal' is not known",
                                             "did you mean 'small'?")),
    ("items:\n  - id: A1\n", ("toy.id", "items[0].id", 2, "id 'A1' is not valid", "")),
    ("items:\n  - id: a\n    children:\n      - id: b\n        siz: 1\n",
     ("toy.unknown-key", "items[0].children[0].siz", 5, "unknown key 'siz' in an item", "did you mean 'size'?")),
    ("items: {id: a}\n", ("toy.type", "items", 1, "items must be a list", "")),
    ("names:\n  Bad: 1\n", ("toy.bad-name", "names.Bad", 2, "'Bad' is not a valid name name", "")),
    ("either: [1]\n", ("toy.type", "either", 1, "either must be text or a mapping", "")),
    ("items:\n  - id: a\n    label: {en: Size, lower end}\n",
     ("toy.unknown-key", "items[0].label.lower end", 3, "unknown key 'lower end' in text",
      "inside {zh: …, en: …} a comma or colon ends the text: put it in quotes")),
])
def test_each_kind_of_mistake_is_reported_with_location_path_and_hint(
        text: str, want: tuple[str, str, int, str, str]) -> None:
    _, problems = read(text)
    assert want in problems, problems


def test_every_problem_is_collected_in_one_pass() -> None:
    _, problems = read("items:\n  - id: a\n    sise: 1\n    kind: x\n  - size: 2\nnames:\n  Bad: 1\ncolour: red\n")
    assert sorted(p[0] for p in problems) == ["toy.bad-name", "toy.kind", "toy.missing", "toy.unknown-key",
                                              "toy.unknown-key"]


def test_recursive_grammars_give_a_recursive_schema() -> None:
    s = g.json_schema(TOY)
    Draft202012Validator.check_schema(s)
    assert s["$defs"]["item"]["properties"]["children"]["items"] == {"$ref": "#/$defs/item"}
    v = Draft202012Validator(s)
    assert list(v.iter_errors({"items": [{"id": "a", "children": [{"id": "b"}]}]})) == []
    assert [e.message for e in v.iter_errors({"items": [{"children": [{"id": "b", "sise": 1}]}]})] != []


def plain(data: Any) -> Any:
    """YAML data as JSON data (dates as ISO text)."""
    if isinstance(data, dict):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data.isoformat() if hasattr(data, "isoformat") else data


def test_the_rulebook_schema_and_the_reader_agree_on_the_course() -> None:
    """The same declaration validates in both: every built-in file passes the reader (no problems)
    and the generated schema."""
    from kamrules.core.resources import rules_dir
    v = Draft202012Validator(g.json_schema(RULEBOOK))
    for path in sorted(rules_dir().glob("*/*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue
        doc = load(str(path))
        out = Collector()
        g.read_doc(RULEBOOK, doc, out, "rulebook")
        assert out.problems == [], path
        assert list(v.iter_errors(plain(doc.data))) == [], path
