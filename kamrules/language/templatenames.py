"""The variables a message template reads, without compiling it.

`jinja2.meta.find_undeclared_variables` runs Jinja's whole code generator to find them; checking
a rulebook's few hundred messages that way was the largest part of loading a rulebook that is
not cached. A message is nearly always text with `{{ … }}` expressions and `{% if %}` blocks:
there, every name that is read is undeclared, so one walk over the syntax tree finds them. A
template that binds names (for, set, macro, with, blocks, imports …) or uses Jinja's special
names still goes through Jinja. tests/test_templatenames.py compares both on generated templates.
"""
from __future__ import annotations

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
