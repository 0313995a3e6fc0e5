"""language/templatenames.undeclared finds exactly the variables Jinja's own analysis finds
(meta.find_undeclared_variables), on the shipped messages and on generated templates."""
from __future__ import annotations

from pathlib import Path

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jinja2 import TemplateSyntaxError, meta, nodes

from kamrules.language.messages import CHECK_ENV
from kamrules.language.templatenames import plain_names, undeclared
from kamrules.rulebook.load import load_rulebook

ROOT = Path(__file__).resolve().parent.parent

NAMES = st.sampled_from(("revenue", "discount_rate", "params", "account", "x", "loop", "self", "range", "dict",
                         "namespace", "caller", "item", "true", "none"))
EXPR = st.one_of(
    NAMES,
    st.builds(lambda n, a: f"{n}.{a}", NAMES, st.sampled_from(("name", "max_discount", "_x"))),
    st.builds(lambda n, f: f"{n}|{f}", NAMES, st.sampled_from(("pct", "money", "num", "label('tier')", "length"))),
    st.builds(lambda a, b, c: f"'{a}' if {b} == 1 else {c}", NAMES, NAMES, NAMES),
    st.builds(lambda a, b: f"({a} * 100)|num if {b} is defined else '—'", NAMES, NAMES),
    st.just("range(3)|list"), st.just("[1, 2]|join(', ')"))
PIECE = st.one_of(
    st.sampled_from(("折扣 ", "over ", "", " and ", "\n")),
    EXPR.map(lambda e: "{{ " + e + " }}"),
    st.builds(lambda c, a, b: "{% if " + c + " %}" + a + "{% else %}" + b + "{% endif %}", EXPR, EXPR, EXPR),
    st.builds(lambda n, e: "{% for " + n + " in xs %}{{ " + e + " }}{% endfor %}", st.sampled_from(("i", "x")), EXPR),
    st.builds(lambda n, e: "{% set " + n + " = 1 %}{{ " + e + " }}", st.sampled_from(("y", "x")), EXPR),
    st.builds(lambda e: "{% with y = 2 %}{{ " + e + " }}{% endwith %}", EXPR),
    st.just("{# a comment #}"),
)


def _outcome(find: Any, ast: Any) -> Any:
    try:
        return find(ast)
    except TemplateSyntaxError as e:  # the checker reports these: both must raise alike
        return type(e)


@settings(max_examples=400)
@given(pieces=st.lists(PIECE, max_size=5))
def test_generated_templates(pieces: list[str]) -> None:
    try:
        ast = CHECK_ENV.parse("".join(pieces))
    except TemplateSyntaxError:
        assume(False)
    assert _outcome(lambda a: undeclared(a, CHECK_ENV), ast) == _outcome(meta.find_undeclared_variables, ast)


def test_every_shipped_message() -> None:
    texts: set[str] = set()
    for ref in ["course", *map(str, sorted(ROOT.glob("tests/data/**/*.yaml")))]:
        try:
            book = load_rulebook(ref)
        except Exception:  # not a rulebook, or a deliberately broken one
            continue
        texts |= {s for r in book.rules for m in (r.warn, r.recommend) if m for t in (m.message, m.remedy)
                  for s in (t.zh, t.en) if s}
    assert len(texts) > 300
    for text in texts:
        ast = CHECK_ENV.parse(text)
        assert undeclared(ast, CHECK_ENV) == meta.find_undeclared_variables(ast), text


# plain outputs and near misses of them: plain_names must either read a message exactly as
# Jinja does or leave it to Jinja (None) — never accept what Jinja refuses
PLAIN_PIECE = st.one_of(
    PIECE,
    st.builds(lambda n, a, f: "{{ " + n + a + f + " }}", NAMES, st.sampled_from(("", ".name", ".a.b", "._x", ".1")),
              st.sampled_from(("", "|pct", " | money", "|label", "|label('tier')", "|num(1, 'x')", "|nosuch",
                               "|pct(", "|", "|money|pct", "|date(\"a\")"))),
    st.sampled_from(("{{x}}", "{{ x y }}", "{{ 1x }}", "{{ x.if }}", "{{- x -}}", "{{ 收入 }}", "{ x }", "}}", "{{",
                     "{{ x }", "{{ not x }}", "{{ x|pct(-1.5) }}", "{{ x|pct('a}') }}")),
)


@settings(max_examples=400)
@given(pieces=st.lists(PLAIN_PIECE, max_size=5))
def test_plain_names_read_messages_as_jinja_does(pieces: list[str]) -> None:
    text = "".join(pieces)
    names = plain_names(text, CHECK_ENV)
    if names is None:
        return  # Jinja decides
    ast = CHECK_ENV.parse(text)  # accepted ⇒ Jinja parses it
    assert names == meta.find_undeclared_variables(ast), text
    assert all(f.name in CHECK_ENV.filters for f in ast.find_all(nodes.Filter))
    assert not any(g.attr.startswith("_") for g in ast.find_all(nodes.Getattr))
    assert not list(ast.find_all((nodes.Test, nodes.Stmt))) or list(ast.find_all(nodes.Stmt)) == list(
        ast.find_all(nodes.Output))


def test_plain_names_take_most_shipped_messages() -> None:
    book = load_rulebook("course")
    texts = {s for r in book.rules for m in (r.warn, r.recommend) if m for t in (m.message, m.remedy)
             for s in (t.zh, t.en) if s and "{" in s}
    plain = {t: plain_names(t, CHECK_ENV) for t in texts}
    assert sum(v is not None for v in plain.values()) > len(texts) / 2
    for text, names in plain.items():
        if names is not None:
            assert names == meta.find_undeclared_variables(CHECK_ENV.parse(text)), text
