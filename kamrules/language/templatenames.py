"""The variables a message template reads, without compiling it.

`jinja2.meta.find_undeclared_variables` runs Jinja's whole code generator to find them; checking
a rulebook's few hundred messages that way was the largest part of loading a rulebook that is
not cached. A message is nearly always text with `{{ … }}` expressions and `{% if %}` blocks:
there, every name that is read is undeclared, so one walk over the syntax tree finds them. A
template that binds names (for, set, macro, with, blocks, imports …) or uses Jinja's special
names still goes through Jinja. tests/test_templatenames.py compares both on generated templates.

Most messages are plainer still — text and `{{ name.attr|filter }}` outputs — and `plain_names`
reads those with one regular expression, without Jinja's lexer and parser (which were most of
checking the course's messages when nothing is cached).
"""
from __future__ import annotations

import re
from typing import Any

from jinja2 import meta, nodes

# names the code generator treats specially, and statements other than output and `if`
_SPECIAL = frozenset({"self", "super", "loop", "caller", "varargs", "kwargs"})
_PLAIN_STATEMENTS = (nodes.Output, nodes.If)


def undeclared(ast: nodes.Template, env: Any) -> set[str]:
    """`meta.find_undeclared_variables(ast)`, for the template `env.parse` returned."""
    names: set[str] = set()
    for node in ast.find_all((nodes.Stmt, nodes.Name)):
        if isinstance(node, nodes.Name):
            if node.ctx != "load" or node.name in _SPECIAL:
                return meta.find_undeclared_variables(ast)
            names.add(node.name)
        elif not isinstance(node, _PLAIN_STATEMENTS):
            return meta.find_undeclared_variables(ast)
    return {n for n in names if n not in env.globals}


# `{{ name(.attr)*(|filter(literal, …)?)* }}`: attributes start with a letter (`._x` is Jinja's
# to refuse), literals are plain numbers and strings without quotes or braces inside
_LITERAL = r"""(?:-?\d+(?:\.\d+)?|'[^'\\{}]*'|"[^"\\{}]*")"""
_FILTER = rf"\s*\|\s*([A-Za-z_]\w*)(?:\(\s*(?:{_LITERAL}\s*(?:,\s*{_LITERAL}\s*)*)?\))?"
_OUTPUT = re.compile(rf"\{{\{{ *([A-Za-z_]\w*)((?:\.[A-Za-z]\w*)*)((?:{_FILTER})*) *\}}\}}", re.ASCII)
_FILTER_NAME = re.compile(_FILTER, re.ASCII)
# Jinja reads these as constants or operators, not as names
_KEYWORDS = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if",
                       "else", "elif", "for", "recursive", "with", "without", "import", "from", "as",
                       "block", "endblock", *_SPECIAL})


def plain_names(text: str, env: Any) -> set[str] | None:
    """The undeclared names of a message made only of text and plain outputs whose filters
    `env` knows — what `undeclared(env.parse(text), env)` gives — or None: let Jinja read it."""
    names: set[str] = set()
    pos = 0
    for m in _OUTPUT.finditer(text):
        if "{" in text[pos:m.start()] or "}" in text[pos:m.start()]:
            return None
        name, filters = m.group(1), _FILTER_NAME.findall(m.group(3))
        if name in _KEYWORDS or any(f not in env.filters for f in filters):
            return None
        names.add(name)
        pos = m.end()
    if "{" in text[pos:] or "}" in text[pos:]:
        return None
    return {n for n in names if n not in env.globals}
