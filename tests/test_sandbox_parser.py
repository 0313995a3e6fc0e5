"""The bounded environment's parser reads a variable or attribute chain that ends an expression
directly (language/sandbox._BoundedParser): every tree it builds is the tree Jinja's parser
builds, node for node with the same line numbers, and every template Jinja refuses it refuses
with the same error, for every built-in template, every course message and generated templates."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import TemplateSyntaxError, nodes
from jinja2.parser import Parser

from kamrules.advice.render import environment
from kamrules.language import sandbox
from kamrules.rulebook.load import load_rulebook

ROOT = Path(__file__).resolve().parent.parent


def _shape(node: nodes.Node) -> list[tuple[str, int, Any]]:
    """Every node, depth first: its class, line and fields (children compared as nodes)."""
    return [(type(n).__name__, n.lineno, tuple(n.iter_fields())) for n in [node, *node.find_all(nodes.Node)]]


def _parsed(env: Any, source: str, jinjas: bool) -> Any:
    try:
        if jinjas:
            return _shape(Parser(env, source, "t.j2", "t.j2").parse())
        return _shape(env.parse(source, "t.j2", "t.j2"))
    except TemplateSyntaxError as e:
        return ("error", e.message, e.lineno)


def _same(source: str, env: Any = None) -> Any:
    env = env or environment()
    ours = _parsed(env, source, False)
    assert ours == _parsed(env, source, True)
    if isinstance(ours, list):  # and every node has the environment, as Jinja's set_environment gives it
        tree = env.parse(source)
        assert all(n.environment is env for n in [tree, *nodes.Node.find_all(tree, nodes.Node)])
    return ours


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "playbooks").glob("*.j2")))
def test_every_built_in_template(name: str) -> None:
    tree = _same((ROOT / "playbooks" / name).read_text(encoding="utf-8"))
    assert isinstance(tree, list) and len(tree) > 20


def test_every_course_message() -> None:
    from kamrules.language.messages import make_env

    env = make_env("zh")
    seen = 0
    for r in load_rulebook("course").rules:
        for msg in (r.warn, r.recommend):
            for text in (msg.message.zh, msg.message.en, msg.remedy.zh, msg.remedy.en) if msg else ():
                if text and ("{{" in text or "{%" in text):
                    _same(text, env)
                    seen += 1
    assert seen > 50


@pytest.mark.parametrize("source", [
    "{{ x }}", "{{ x.y }}", "{{ x.y.z }}", "{{ x.0 }}", "{{ x.y.0.z }}", "{{ x[1] }}", "{{ x.y[1] }}", "{{ x.y() }}",
    "{{ x.y|upper }}", "{{ x.y is defined }}", "{{ x.y ~ z }}", "{{ x.y + 1 }}", "{{ x.y and z }}", "{{ x.y or z }}",
    "{{ x.y if z else w }}", "{{ x.y in z }}", "{{ x.y not in z }}", "{{ x.y == z }}", "{{ x.y ** 2 }}",
    "{{ not x.y }}", "{{ true }}", "{{ none.x }}", "{{ True.x }}", "{{ x, y }}", "{{ x.y, z.w }}", "{{ (x.y) }}",
    "{{ f(x.y, z) }}", "{{ f(a=x.y) }}", "{{ [x.y, z] }}", "{{ {'k': x.y} }}", "{{ x.y }}{{ x.y\n}}",
    "{{ x\n.y\n.z }}", "{{ x.\ny }}", "{{ x\n.y\n~ z }}", "{{ x\n~ y }}", "{{ x. }}", "{{ x.y", "{{ x.y.", "{{ x",
    "{{ x.y z }}", "{{ x.'s' }}", "{{ x.y.if }}", "{{ if.x }}", "{{ in }}", "{{ x.y )}}", "{{ x.y ] }}",
    "{% if x.y %}a{% elif z.w %}b{% else %}c{% endif %}", "{% for a in x.y %}{{ a.b }}{% endfor %}",
    "{% for a in x.y if a.b %}{{ loop.index }}{% else %}e{% endfor %}", "{% for a, b in x.y recursive %}{% endfor %}",
    "{% set z = x.y %}{{ z }}", "{% set a, b = x.y, z %}", "{% macro m(a=x.y) %}{{ a }}{% endmacro %}",
    "{% with a = x.y %}{{ a }}{% endwith %}", "{% include x.y %}", "{% extends x.y %}", "{% call m(x.y) %}{% endcall %}",
    "{% filter upper %}{{ x.y }}{% endfilter %}", "{{ x.y }", "{% if x.y }}", "{{ x.y %}", "{{ -x.y }}", "{{ x|y.z }}",
    '{% from "m.j2" import a, b as c %}{{ a(x.y) }}', '{% import "m.j2" as m %}{{ m.a }}', "{{ {'k': [x, (y, z)]} }}",
])
def test_expressions_and_their_errors(source: str) -> None:
    _same(source)


NAME = st.sampled_from(("x", "y", "loop", "ui", "not", "true", "None", "in", "if", "is", "and"))
CHAIN = st.builds(lambda n, a: n + "".join(a), NAME, st.lists(st.sampled_from((".a", ".b", ".0", "\n.c", ". d")), max_size=3))
TAIL = st.sampled_from(("", " ~ y", "|upper", " is defined", " if x else y", "()", "[0]", " + 1", " and y", ",", " not in y",
                        "\n", " )", "."))
EXPR = st.builds(lambda c, t: c + t, CHAIN, TAIL)
PIECE = st.one_of(
    EXPR.map(lambda e: "{{ " + e + " }}"),
    st.builds(lambda c, b: "{% if " + c + " %}" + b + "{% endif %}", EXPR, EXPR.map(lambda e: "{{ " + e + " }}")),
    st.builds(lambda c: "{% for i in " + c + " %}{{ i }}{% endfor %}", EXPR),
    st.builds(lambda c: "{% set z = " + c + " %}", EXPR),
    st.builds(lambda c: "{{ f(" + c + ", x.y) }}", EXPR),
    st.sampled_from(("text\n", "{{", "}}", "{% if %}")),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECE, min_size=1, max_size=4).map("".join))
def test_generated_templates(source: str) -> None:
    _same(source)


def test_the_chains_are_read_without_jinjas_expression_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = Parser.parse_condexpr

    def counted(self: Parser) -> nodes.Expr:
        calls.append(self.stream.current.value)
        return original(self)

    monkeypatch.setattr(Parser, "parse_condexpr", counted)
    environment().parse("{{ a.b.c }}{{ d }}{% for x in e.f %}{{ g ~ h }}{% endfor %}")
    assert calls == ["g"]  # the one expression that is not a chain, handed back at its start


def test_the_parser_is_the_bounded_one() -> None:
    assert sandbox.BoundedEnvironment._parse is not sandbox.ImmutableSandboxedEnvironment._parse
