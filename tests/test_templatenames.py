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


# ----------------------------------------------------------------------------- if_names

from kamrules.language.templatenames import if_names  # noqa: E402


GOOD_OPERAND = st.sampled_from(("revenue", "x", "growth_rate", "params.max_discount", "account.name", "a.b.c", "1", "0",
                                "1.5", "'a'", '"b"', "-x", "- -x", "+1", "not x", "true", "none", "None", "range",
                                "items"))
BAD_OPERAND = st.sampled_from(("loop", "self", "not", "in", "if", "else", "is", "and", "or", "endif", "收入", "_x",
                               "x._y", "x.1", "01", "1x", "1e3", "'a}'", "'", "()", "(x, y)", "[1]", "x[0]", "f(x)",
                               "x.y(1)", ""))
GOOD_OPERATOR = st.sampled_from((" and ", " or ", " == ", " != ", " > ", " >= ", " < ", " <= ", " + ", " - ", " * ",
                                 " / ", " // ", " % ", " ** ", " ~ ", " in ", " not in ", " and not "))
BAD_OPERATOR = st.sampled_from((" is ", " is not ", " ", ", ", " = ", " . ", " not ", " if "))
GOOD_SUFFIX = st.sampled_from(("", "", "", "|pct", "|money", "|label", "|label('t')", "|round(1)", "|round(-1, 'x')",
                               "|pct|num", " is none", " is not none", " is defined", " is number", ".name|upper"))
BAD_SUFFIX = st.sampled_from(("|nosuch", "|round(x)", " is nosuch", " is divisibleby 3", " is sameas(x)",
                              " is none is none", "(1)", "|", " is", "|label.x"))
GOOD_TEXT = st.sampled_from(("折扣 ", " over ", "", "\n"))
BAD_TEXT = st.sampled_from(("{", "}", "{# c #}", "{% endif x %}", "{% elif %}", "{%- if x %}", "{% if x -%}",
                            "{{- x }}", "{{ x +}}", "{{ }}", "{% for x in y %}", "{% endfor %}", "{% set x = 1 %}",
                            "{% else %}", "{% endif %}", "{%if x%}"))


def _mostly(good: st.SearchStrategy[str], bad: st.SearchStrategy[str], odds: int) -> st.SearchStrategy[str]:
    """`odds` - 1 in `odds` draws valid, one a near miss (odds 0: always valid)."""
    return good if not odds else st.integers(0, odds - 1).flatmap(lambda i: good if i else bad)


def _pieces(odds: int) -> st.SearchStrategy[str]:
    operand = _mostly(GOOD_OPERAND, BAD_OPERAND, odds)
    operator = _mostly(GOOD_OPERATOR, BAD_OPERATOR, odds)
    suffix = _mostly(GOOD_SUFFIX, BAD_SUFFIX, odds)

    @st.composite
    def expr(draw: Any, conditional: bool = True) -> str:
        parts = [draw(operand) + draw(suffix)]
        for _ in range(draw(st.integers(0, 3))):
            parts += [draw(operator), draw(operand) + draw(suffix)]
        text = "".join(parts)
        if draw(st.booleans()):
            text = f"({text})" + draw(suffix)
        if (conditional or odds) and draw(st.integers(0, 3)) == 0:  # an if's test has no `a if b else c`
            text = f"{text} if {draw(operand)} else {draw(operand)}"
        return text

    test = expr(conditional=False)
    return st.one_of(
        _mostly(GOOD_TEXT, BAD_TEXT, odds), expr().map(lambda e: "{{ " + e + " }}"),
        st.builds(lambda a, b, c, d: "{% if " + a + " %}x {{ " + b + " }}{% elif " + c + " %}y{% else %}{{ " + d
                  + " }}{% endif %}", test, expr(), test, expr()),
        st.builds(lambda a, b: "{% if " + a + " %}{% if " + b + " %}z{% endif %}{% endif %}", test, test))


def _jinja_reading(text: str) -> Any:
    """What the checker reads of a message: names, or that Jinja refuses it or finds it wrong."""
    try:
        ast = CHECK_ENV.parse(text)
    except TemplateSyntaxError:
        return "syntax"
    if any(g.attr.startswith("_") for g in ast.find_all(nodes.Getattr)) \
            or any(f.name not in CHECK_ENV.filters for f in ast.find_all(nodes.Filter)) \
            or any(t.name not in CHECK_ENV.tests for t in ast.find_all(nodes.Test)):
        return "reported"
    try:
        return meta.find_undeclared_variables(ast)
    except TemplateSyntaxError:
        return "syntax"


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(_pieces(10), max_size=5))
def test_if_names_read_messages_as_jinja_does(pieces: list[str]) -> None:
    """Near misses included: if_names reads a message exactly as Jinja does, or leaves it to Jinja."""
    text = "".join(pieces)
    names = if_names(text, CHECK_ENV)
    if names is not None:
        assert names == _jinja_reading(text), text


@settings(max_examples=250, deadline=None)
@given(pieces=st.lists(_pieces(0), min_size=1, max_size=4))
def test_if_names_read_whole_messages(pieces: list[str]) -> None:
    """Messages of the language if_names knows (no near misses): what it reads, Jinja reads the same."""
    text = "".join(pieces)
    got = if_names(text, CHECK_ENV)
    assert got is None or got == _jinja_reading(text), text


def test_if_names_read_the_usual_forms() -> None:
    """What it gives up on is rare: Jinja's odd readings (`x is none if y`), tokens it does not know."""
    for text in ("{% if a is not none and a > 1 %}x {{ b|money }}{% elif c %}y{% else %}z{% endif %}",
                 "{{ 'person' if n == 1 else 'people' }}", "{{ (-m)|money }}", "{{ (p.a - 1)|num }}",
                 "{{ h.x + 1 }}", "{%if x%}{% if not y or z in w %}{{ q ~ 'a' }}{% endif %}{% endif %}",
                 "{{ a // 2 ** 3 % 4 * -b }}", "{% if a not in b %}{{ c|round(1, 'floor')|pct }}{% endif %}"):
        assert if_names(text, CHECK_ENV) == _jinja_reading(text) != "syntax", text
    assert if_names("{{ " + "(" * 5000 + "x" + ")" * 5000 + " }}", CHECK_ENV) is None  # too deep: Jinja reports it
    # one near miss (or a form it does not know) in a message that is whole otherwise: left to Jinja
    good = "{% if a is not none and a > 1 %}x {{ b|money }}{% else %}{{ c }}{% endif %}"
    for bad in ("x._y", "x|nosuch", "x is nosuch", "x is none if y", "x is divisibleby 3", "x(1)", "x[0]", "01",
                "(x, y)", "()", "x is none is none", "not", "'a}'", "x = 1", "x|round(y)", "x.1", "loop.index"):
        for text in (good.replace("b|money", bad), good.replace("a > 1", bad)):
            assert if_names(text, CHECK_ENV) is None, text


def test_if_names_take_every_shipped_message_with_if_blocks() -> None:
    book = load_rulebook("course")
    texts = {s for r in book.rules for m in (r.warn, r.recommend) if m for t in (m.message, m.remedy)
             for s in (t.zh, t.en) if s and "{" in s and plain_names(s, CHECK_ENV) is None}
    assert len(texts) > 40
    for text in texts:
        assert if_names(text, CHECK_ENV) == _jinja_reading(text), text
