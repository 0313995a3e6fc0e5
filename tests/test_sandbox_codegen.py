"""The bounded sandbox's code generator answers Jinja's repeated tree walks from lists made once
(language/sandbox._bound_and_remember): the Python code it generates is exactly the code generated
without them, for every built-in template, every course message and generated templates."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jinja2 import TemplateSyntaxError
from jinja2 import nodes as jinja2_nodes

from kamrules.advice.render import environment
from kamrules.language import sandbox
from kamrules.language.messages import make_env
from kamrules.rulebook.load import load_rulebook

ROOT = Path(__file__).resolve().parent.parent


def _both(env: Any, source: str, name: str | None = None) -> tuple[Any, Any]:
    def one(remember: bool) -> Any:
        sandbox._BoundedCodeGenerator.remember_children = remember
        try:
            return env.compile(source, name, raw=True)
        except TemplateSyntaxError as e:
            return ("error", e.message, e.lineno)
        finally:
            sandbox._BoundedCodeGenerator.remember_children = True
    return one(True), one(False)


def _templates() -> Iterator[tuple[str, bool]]:
    for path in sorted((ROOT / "playbooks").glob("*.j2")):
        for autoescape in (False, True):
            yield path.name, autoescape


@pytest.mark.parametrize("name,autoescape", list(_templates()))
def test_every_built_in_template(name: str, autoescape: bool) -> None:
    env = environment()
    env.autoescape = autoescape
    source = (ROOT / "playbooks" / name).read_text(encoding="utf-8")
    fast, plain = _both(env, source, name)
    assert isinstance(fast, str) and len(fast) > 1000
    assert fast == plain


def test_every_course_message() -> None:
    book = load_rulebook("course")
    env = make_env("zh")
    seen = 0
    for r in book.rules:
        for msg in (r.warn, r.recommend):
            if msg is None:
                continue
            for text in (msg.message.zh, msg.message.en, msg.remedy.zh, msg.remedy.en):
                if text and "{%" in text:
                    fast, plain = _both(env, text)
                    assert fast == plain
                    seen += 1
    assert seen > 20


NAMES = st.sampled_from(("x", "y", "loop", "self", "items", "ui"))
EXPR = st.one_of(NAMES, st.builds(lambda n: f"{n}.a", NAMES), st.builds(lambda n: f"{n}|upper", NAMES),
                 st.builds(lambda a, b: f"{a} if {b} else 'z'", NAMES, NAMES), st.just("range(3)|list"),
                 st.builds(lambda n: f"super() ~ {n}", NAMES), st.builds(lambda n: f"caller({n})", NAMES))


def _piece(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(("text ", "\n", "")),
        EXPR.map(lambda e: "{{ " + e + " }}"),
        st.builds(lambda c, a, b: "{% if " + c + " %}" + a + "{% else %}" + b + "{% endif %}", EXPR, inner, inner),
        st.builds(lambda v, it, b: "{% for " + v + " in " + it + " %}" + b + "{% else %}e{% endfor %}",
                  st.sampled_from(("i", "x", "k, v")), EXPR, inner),
        st.builds(lambda v, e, b: "{% set " + v + " = " + e + " %}" + b, st.sampled_from(("x", "z")), EXPR, inner),
        st.builds(lambda n, b: "{% block " + n + " %}" + b + "{% endblock %}", st.sampled_from(("a", "b")), inner),
        st.builds(lambda b: "{% macro m(x) %}" + b + "{% endmacro %}{{ m(1) }}", inner),
        st.builds(lambda b: "{% call m(2) %}" + b + "{% endcall %}", inner),
        st.builds(lambda b: "{% with w = 1 %}" + b + "{% endwith %}", inner),
        st.just('{% extends "base.j2" %}'), st.just('{% include "x.j2" %}'), st.just('{% import "m.j2" as m %}'),
    )


TEMPLATE = st.recursive(_piece(st.just("b")), lambda inner: st.lists(_piece(inner), max_size=4).map("".join),
                        max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(TEMPLATE)
def test_generated_templates(source: str) -> None:
    env = environment()
    fast, plain = _both(env, source)
    assume(isinstance(plain, str))
    assert fast == plain


@pytest.mark.parametrize("source", [
    "{{ x }}", "{{ x.y }}", "{% if x is defined %}{{ x }}{% else %}none{% endif %}", "{{ x|default('d') }}",
    "{{ x.y.z }}", "{{ x.upper() }}", "{% for a in xs %}{{ a.real }}{{ x.y }}{% endfor %}", "{{ x.y is defined }}",
    "{% if x %}{{ x|nosuchfilter }}{% endif %}", "{% if x is nosuchtest %}t{% endif %}", "{{ x|upper }}{{ x is string }}",
    "{{ x is undefined }}", "{% for a in xs %}{{ a }}{{ y }}{% endfor %}", "{% set y = 2 %}{{ y }}{{ x }}",
    "{% macro m(a, b) %}{{ a }}{{ b }}{{ x }}{% endmacro %}{{ m(1) }}", "{{ (x or 'o') ~ x }}",
])
@pytest.mark.parametrize("undefined", ["StrictUndefined", "Undefined"])
@pytest.mark.parametrize("given", [{}, {"x": "v", "xs": [1, 2]}])
def test_a_name_is_read_as_jinja_reads_it(source: str, undefined: str, given: dict[str, Any]) -> None:
    """visit_Name writes `environment._defined(ref, name)` for Jinja's conditional, visit_Getattr
    `environment._attr(ref, name, attr)` for an attribute of it (`_out_attr` when it is written),
    and an output is written by `environment._out(x)`, filters and tests are fetched by `environment._dependency`: the same
    output, and the same error, as Jinja's own sandbox for defined and undefined names and for
    missing filters and tests."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def run(env: Any) -> Any:
        try:
            return env.from_string(source).render(given)
        except jinja2.UndefinedError as e:
            return ("undefined", str(e))
        except jinja2.TemplateRuntimeError as e:  # a filter or test missing, found when it is called
            return ("runtime", str(e))

    und = getattr(jinja2, undefined)
    ours = sandbox.BoundedEnvironment(limits=sandbox.PLAYBOOK, undefined=und)
    code = ours.compile(source, raw=True)
    assert any(f"environment.{f}(" in code for f in ("_defined", "_attr", "_out_attr"))
    assert run(ours) == run(ImmutableSandboxedEnvironment(undefined=und))


def _finder(node: Any) -> tuple[set[str], set[str]]:
    from jinja2.compiler import DependencyFinderVisitor

    visitor = DependencyFinderVisitor()
    visitor.visit(node)
    return visitor.filters, visitor.tests


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "playbooks").glob("*.j2")))
def test_dependencies_are_what_jinja_finds(name: str) -> None:
    """pull_dependencies names the filters and tests Jinja's DependencyFinderVisitor would, under
    every node of every built-in template (blocks not looked into)."""
    env = environment()
    source = (ROOT / "playbooks" / name).read_text(encoding="utf-8")
    tree = env.parse(source)
    found = 0
    for node in [tree, *tree.find_all(jinja2_nodes.Node)]:
        assert sandbox._dependencies([node]) == _finder(node)
        found += bool(_finder(node)[0])
    assert found > 0 or "|" not in source


@settings(max_examples=100, deadline=None)
@given(TEMPLATE)
def test_dependencies_of_generated_templates(source: str) -> None:
    env = environment()
    try:
        tree = env.parse(source.replace("|upper", "|upper|nosuch").replace("range(3)|list", "x is odd"))
    except TemplateSyntaxError:
        assume(False)
        return
    for node in [tree, *tree.find_all(jinja2_nodes.Node)]:
        assert sandbox._dependencies([node]) == _finder(node)


def _render_bounded(source: str, output: int, merge: bool, autoescape: bool) -> Any:
    """The output, or the error (its type, message and template line), of a render whose
    output bound is `output` characters; static text counted with the Output's last value
    (`merge`) or by a marker of its own."""
    import dataclasses

    import jinja2

    limits = dataclasses.replace(sandbox.PLAYBOOK, output=output)
    env = sandbox.BoundedEnvironment(limits=limits, undefined=jinja2.Undefined, autoescape=autoescape,
                                     trim_blocks=True, lstrip_blocks=True,
                                     loader=jinja2.DictLoader({"x.j2": "in\nx {{ x }}\n", "m.j2": "", "base.j2": ""}))
    sandbox._Bounder.merge_static = merge
    try:
        template = env.from_string(source)
    except TemplateSyntaxError as e:
        return ("syntax", e.message, e.lineno)
    finally:
        sandbox._Bounder.merge_static = True
    try:
        return template.render(x="xx", y="yyy", items=["a", "bb"], ui={"a": "u"})
    except Exception as e:  # noqa: BLE001 - compared, not handled
        line, tb = 0, e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<template>":
                line = tb.tb_lineno
            tb = tb.tb_next
        return (type(e).__name__, str(e), line)


STATIC = st.sampled_from(("text ", "two\nlines ", "\n", "", "{{ x }}\n\n", "a{{ y }}b\n", "{{ x }}{{ y }}\nc\nd"))
OUTPUTS = st.lists(st.one_of(STATIC, TEMPLATE), min_size=1, max_size=4).map("".join)


@settings(max_examples=300, deadline=None)
@given(OUTPUTS, st.integers(min_value=0, max_value=40), st.booleans())
def test_static_text_counted_with_the_last_value(source: str, output: int, autoescape: bool) -> None:
    """_Bounder counts an Output's static text with its last value when both are on one line (one
    call less in the generated code): the same output, and past the bound the same error at the
    same template line, as with a marker of its own for every Output."""
    merged = _render_bounded(source, output, True, autoescape)
    marked = _render_bounded(source, output, False, autoescape)
    assert merged == marked


def test_static_text_is_merged_in_the_playbook() -> None:
    """The Markdown playbook's code counts most Outputs' static text in their last value's call."""
    env = environment()
    source = (ROOT / "playbooks" / "playbook.md.j2").read_text(encoding="utf-8")
    merged = env.compile(source, "playbook.md.j2", raw=True)
    sandbox._Bounder.merge_static = False
    try:
        marked = env.compile(source, "playbook.md.j2", raw=True)
    finally:
        sandbox._Bounder.merge_static = True
    assert merged.count("environment._static(") * 3 < marked.count("environment._static(")


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "playbooks").glob("*.j2")))
def test_remembered_children_and_searches_are_jinjas(name: str) -> None:
    """After _bound_and_remember, every node of every built-in template lists its children, and
    finds its descendants of each node type, as Jinja's own Node methods do on a second copy of
    the tree given the same bounds by _Bounder's transform (Jinja's nodes compare by their
    fields), whether the node was given a remembered `find_all` (the searched classes) or not."""
    env = environment()
    source = (ROOT / "playbooks" / name).read_text(encoding="utf-8")
    tree, plain = env.parse(source), env.parse(source)
    sandbox._bound_and_remember(tree, sandbox._Bounder(env, {}, {}))
    sandbox._Bounder(env, {}, {}).visit(plain)
    ours, jinjas = [tree, *tree.find_all(jinja2_nodes.Node)], [plain, *plain.find_all(jinja2_nodes.Node)]
    assert ours == jinjas and len(ours) > 10
    kinds = {type(n) for n in jinjas} | {jinja2_nodes.Node, jinja2_nodes.Expr, jinja2_nodes.Stmt}
    for node, reference in zip(ours, jinjas):
        assert list(node.iter_child_nodes()) == list(reference.iter_child_nodes())
        for only in (("body",), ("iter",), ("nodes",)):
            assert list(node.iter_child_nodes(only=only)) == list(reference.iter_child_nodes(only=only))
        assert list(node.iter_child_nodes(exclude=("call",))) == list(reference.iter_child_nodes(exclude=("call",)))
        for kind in kinds:
            assert list(node.find_all(kind)) == list(reference.find_all(kind))
        assert ("find_all" in vars(node)) == (type(node) in sandbox._SEARCHED)


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "playbooks").glob("*.j2")))
def test_dependencies_collected_on_the_walk_are_jinjas(name: str) -> None:
    """The filter and test names _bound_and_remember collects for the template's body and each
    block's body are what Jinja's DependencyFinderVisitor finds under that body (blocks not looked
    into), on the bounded tree (with the loops' `_kam_iter`)."""
    env = environment()
    source = (ROOT / "playbooks" / name).read_text(encoding="utf-8")
    tree = env.parse(source)
    deps: dict[int, Any] = {}
    sandbox._bound_and_remember(tree, sandbox._Bounder(env, {}, {}), deps)
    bodies = [tree.body, *(b.body for b in tree.find_all(jinja2_nodes.Block))]
    assert len(deps) == len(bodies)
    for body in bodies:
        from jinja2.compiler import DependencyFinderVisitor

        visitor = DependencyFinderVisitor()
        for node in body:
            visitor.visit(node)
        assert deps[id(body)] == (visitor.filters, visitor.tests)
    assert any(filters for filters, _ in deps.values()) == ("{% for" in source or "|" in source)
