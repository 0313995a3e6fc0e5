"""The variables a message template reads, without compiling it.

`jinja2.meta.find_undeclared_variables` runs Jinja's whole code generator to find them; checking
a rulebook's few hundred messages that way was the largest part of loading a rulebook that is
not cached. A message is nearly always text with `{{ … }}` expressions and `{% if %}` blocks:
there, every name that is read is undeclared, so one walk over the syntax tree finds them. A
template that binds names (for, set, macro, with, blocks, imports …) or uses Jinja's special
names still goes through Jinja. tests/test_templatenames.py compares both on generated templates.

Most messages are plainer still — text and `{{ name.attr|filter }}` outputs — and `plain_names`
reads those with one regular expression, without Jinja's lexer and parser (which were most of
checking the course's messages when nothing is cached); `if_names` reads, without Jinja too,
those with `{% if %}` blocks over simple expressions (below).
"""
from __future__ import annotations

import re
from typing import Any

from jinja2 import nodes

# names the code generator treats specially, and statements other than output and `if`
_SPECIAL = frozenset({"self", "super", "loop", "caller", "varargs", "kwargs"})
_PLAIN_STATEMENTS = (nodes.Output, nodes.If)


def undeclared(ast: nodes.Template, env: Any) -> set[str]:
    """`meta.find_undeclared_variables(ast)`, for the template `env.parse` returned."""
    names: set[str] = set()
    for node in ast.find_all((nodes.Stmt, nodes.Name)):
        if isinstance(node, nodes.Name):
            if node.ctx != "load" or node.name in _SPECIAL:
                return _jinja_undeclared(ast)
            names.add(node.name)
        elif not isinstance(node, _PLAIN_STATEMENTS):
            return _jinja_undeclared(ast)
    return {n for n in names if n not in env.globals}


def _jinja_undeclared(ast: nodes.Template) -> set[str]:
    # jinja2.meta is imported by the first template that needs it: the course's never do
    from jinja2 import meta

    return meta.find_undeclared_variables(ast)


# `{{ name(.attr)*(|filter(literal, …)?)* }}`: attributes start with a letter (`._x` is Jinja's
# to refuse), literals are plain numbers and strings without quotes or braces inside
_LITERAL = r"""(?:-?\d+(?:\.\d+)?|'[^'\\{}]*'|"[^"\\{}]*")"""
_FILTER = rf"\s*\|\s*([A-Za-z_]\w*)(?:\(\s*(?:{_LITERAL}\s*(?:,\s*{_LITERAL}\s*)*)?\))?"
_OUTPUT = re.compile(rf"\{{\{{ *([A-Za-z_]\w*)((?:\.[A-Za-z]\w*)*)((?:{_FILTER})*) *\}}\}}", re.ASCII)
# The names of the filters of an output _OUTPUT matched (well formed already): each `|` outside a
# string starts one. Found by skipping strings (which may hold |), with a pattern that costs 0.6 M
# instructions to compile, not 1.9 M as _FILTER would (callgrind); findall gives '' for a string.
# tests/test_plain_readers.py holds it to _FILTER.
_FILTER_NAME = re.compile(r"""'[^']*'|"[^"]*"|\|\s*([A-Za-z_]\w*)""", re.ASCII)
# Jinja reads these as constants or operators, not as names
_KEYWORDS = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if",
                       "else", "elif", "for", "recursive", "with", "without", "import", "from", "as",
                       "block", "endblock", *_SPECIAL})


def plain_names(text: str, env: Any) -> set[str] | None:
    """The undeclared names of a message made only of text and plain outputs whose filters
    `env` knows — what `undeclared(env.parse(text), env)` gives — or None: let Jinja read it."""
    names: set[str] = set()
    known = env.filters
    outputs = 0
    for m in _OUTPUT.finditer(text):
        name, chain = m.group(1, 3)
        if name in _KEYWORDS:
            return None
        if chain:
            for f in _FILTER_NAME.findall(chain):
                if f and f not in known:
                    return None
        names.add(name)
        outputs += 1
    # a brace outside the outputs (text Jinja would read otherwise): an output holds two of each,
    # its literals none, so there is one exactly when the text holds more than two an output
    if text.count("{") != 2 * outputs or text.count("}") != 2 * outputs:
        return None
    return {n for n in names if n not in env.globals}


# --------------------------------------------------------------------------- messages with if blocks

# A message that is text, `{{ expression }}` outputs and `{% if %}`/`{% elif %}`/`{% else %}`/
# `{% endif %}` blocks over a small expression language (names, attributes, string and number
# literals, parentheses, operators, `not`, `and`, `or`, `in`, `is [not] test`, `a if b else c`,
# filters with literal arguments) is read by the parser below, which follows Jinja's own
# (jinja2/parser.py: parse_condexpr … parse_primary, parse_filter_expr, parse_test) on exactly
# that subset and gives up on anything else — another token, a name Jinja's parser treats
# specially, an unknown filter or test, an attribute starting with `_`: Jinja then reads the
# message and reports what is wrong. tests/test_templatenames.py checks that every message it
# accepts is one Jinja parses to the same names.

_TOKEN = re.compile(r"""\s*(?:(?P<float>\d+\.\d+)|(?P<int>0|[1-9]\d*)|(?P<name>[A-Za-z_]\w*)|(?P<str>'[^'\\{}\r\n]*'|"[^"\\{}\r\n]*")|(?P<op>//|\*\*|==|!=|>=|<=|[-+*/%~<>().|,]))""",
                    re.ASCII)
_TAG = re.compile(r"\{\{(?![-+])(.*?)(?<![-+])\}\}|\{%(?![-+])(.*?)(?<![-+])%\}", re.S)
_CONSTANTS = frozenset({"true", "false", "none", "True", "False", "None"})
_COMPARE = frozenset({"==", "!=", ">", ">=", "<", "<="})
_RESERVED = _KEYWORDS - _CONSTANTS  # never a variable here: the message goes to Jinja


class _GiveUp(Exception):
    pass


class _Expr:
    """One expression's tokens, read as Jinja's parser reads them; `names` collects the names
    loaded, `filters` and `tests` what they use."""

    def __init__(self, src: str, env: Any) -> None:
        self.toks: list[tuple[str, str]] = []
        pos = 0
        while pos < len(src):
            if src[pos:].strip() == "":
                break
            m = _TOKEN.match(src, pos)
            if m is None or m.end() == pos:
                raise _GiveUp
            kind = m.lastgroup or ""
            value = m.group(kind)
            if kind in ("int", "float") and m.end() < len(src) and (src[m.end()].isalnum() or src[m.end()] in "._"):
                raise _GiveUp  # 1x, 1.5.2, 1e5, 1_000: Jinja's lexer decides
            self.toks.append((kind, value))
            pos = m.end()
        self.i = 0
        self.env = env
        self.names: set[str] = set()
        self.filters: set[str] = set()
        self.tests: set[str] = set()

    def peek(self, k: int = 0) -> tuple[str, str]:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "end":
            raise _GiveUp
        self.i += 1
        return tok

    def at(self, kind: str, value: str) -> bool:
        return self.peek() == (kind, value)

    def done(self) -> None:
        if self.peek()[0] != "end":
            raise _GiveUp

    def condexpr(self) -> None:
        self.or_()
        while self.at("name", "if"):
            self.take()
            self.or_()
            if self.at("name", "else"):
                self.take()
                self.condexpr()

    def or_(self) -> None:
        self.and_()
        while self.at("name", "or"):
            self.take()
            self.and_()

    def and_(self) -> None:
        self.not_()
        while self.at("name", "and"):
            self.take()
            self.not_()

    def not_(self) -> None:
        if self.at("name", "not"):
            self.take()
            self.not_()
            return
        self.compare()

    def compare(self) -> None:
        self.math1()
        while True:
            kind, value = self.peek()
            if kind == "op" and value in _COMPARE:
                self.take()
            elif (kind, value) == ("name", "in"):
                self.take()
            elif (kind, value) == ("name", "not") and self.peek(1) == ("name", "in"):
                self.take()
                self.take()
            else:
                return
            self.math1()

    def math1(self) -> None:  # + -, over ~ (concat), over * / // %, over **
        self.binary(("+", "-"), lambda: self.binary(("~",), lambda: self.binary(
            ("*", "/", "//", "%"), lambda: self.binary(("**",), self.unary))))

    def binary(self, ops: tuple[str, ...], operand: Any) -> None:
        operand()
        while self.peek()[0] == "op" and self.peek()[1] in ops:
            self.take()
            operand()

    def unary(self, with_filter: bool = True) -> None:
        if self.peek() in (("op", "-"), ("op", "+")):
            self.take()
            self.unary(False)
        else:
            self.primary()
        self.postfix()
        if with_filter:
            self.filter_expr()

    def primary(self) -> None:
        kind, value = self.take()
        if kind == "name":
            if value in _CONSTANTS:
                return
            if value in _RESERVED:
                raise _GiveUp
            self.names.add(value)
        elif kind == "op" and value == "(":
            if self.at("op", ")"):
                raise _GiveUp  # an empty tuple
            self.condexpr()
            if not self.at("op", ")"):
                raise _GiveUp  # a tuple, or unbalanced
            self.take()
        elif kind not in ("str", "int", "float"):
            raise _GiveUp

    def postfix(self) -> None:
        while self.at("op", "."):
            self.take()
            kind, attr = self.take()
            if kind != "name" or attr.startswith("_"):
                raise _GiveUp
        if self.at("op", "("):
            raise _GiveUp  # a call

    def filter_expr(self) -> None:
        while True:
            if self.at("op", "|"):
                self.take()
                kind, name = self.take()
                if kind != "name" or name not in self.env.filters or self.at("op", "."):
                    raise _GiveUp
                self.filters.add(name)
                if self.at("op", "("):
                    self.literal_args()
            elif self.at("name", "is"):
                self.take()
                if self.at("name", "not"):
                    self.take()
                kind, name = self.take()
                if kind != "name" or name not in self.env.tests:
                    raise _GiveUp
                self.tests.add(name)
                nxt = self.peek()
                if nxt[0] in ("name", "str", "int", "float") or nxt == ("op", "(") or nxt == ("op", "."):
                    if nxt not in (("name", "else"), ("name", "or"), ("name", "and")):
                        raise _GiveUp  # a test's argument, or a dotted test name
            elif self.at("op", "("):
                raise _GiveUp
            else:
                return

    def literal_args(self) -> None:
        self.take()  # (
        first = True
        while not self.at("op", ")"):
            if not first:
                if not self.at("op", ","):
                    raise _GiveUp
                self.take()
            if self.peek() == ("op", "-"):
                self.take()
            if self.take()[0] not in ("str", "int", "float"):
                raise _GiveUp
            first = False
        self.take()  # )


_OUTPUT_TAG = ("", "")  # what _read_tag gives as the first word of an output
_IF, _ELIF, _ELSE, _ENDIF = ("name", "if"), ("name", "elif"), ("name", "else"), ("name", "endif")
# A tag read is kept, by its kind and text: the course's 60 messages with if blocks hold 271 tags
# but 80 different ones (`{% endif %}`, `{{ revenue|money }}`, the zh and en texts' same tests),
# and reading each again was ~17 M instructions of checking an uncached rulebook (callgrind).
# What a reading depends on besides the text is whether the filters and tests it met are the
# environment's: a kept reading is used only while they all are; a tag that is not read (one that
# goes to Jinja) is not kept.
_READ: dict[tuple[bool, str], tuple[tuple[str, str], frozenset[str], frozenset[str], frozenset[str]]] = {}
_READ_MAX = 4096


def _read_tag(text: str, output: bool, env: Any) -> tuple[tuple[str, str], frozenset[str]]:
    """An output's names, or a statement's first word and the names of its test (if, elif; none
    for else and endif, which must end there); _GiveUp for anything else this parser does not
    read. A statement of another first word gives it with no names (if_names gives up)."""
    kept = _READ.get((output, text))
    if kept is not None:
        first, names, filters, tests = kept
        if all(f in env.filters for f in filters) and all(t in env.tests for t in tests):
            return first, names
    e = _Expr(text, env)
    if output:
        first = _OUTPUT_TAG
        e.condexpr()
        e.done()
    else:
        first = e.take()
        if first == _IF or first == _ELIF:
            e.or_()  # an if's test: no `a if b else c` (Jinja's parse_tuple(with_condexpr=False))
            e.done()
        elif first == _ELSE or first == _ENDIF:
            e.done()
        else:
            return first, frozenset()
    if len(_READ) >= _READ_MAX:
        _READ.clear()
    names = frozenset(e.names)
    _READ[(output, text)] = (first, names, frozenset(e.filters), frozenset(e.tests))
    return first, names


def if_names(text: str, env: Any) -> set[str] | None:
    """The undeclared names of a message of text, outputs and if blocks over simple expressions
    (above) — what `undeclared(env.parse(text), env)` gives — or None: let Jinja read it."""
    names: set[str] = set()
    depth, seen_else = 0, [False]
    pos = 0
    try:
        for m in _TAG.finditer(text):
            data = text[pos:m.start()]
            if "{" in data or "}" in data:
                return None
            pos = m.end()
            if m.group(1) is not None:
                names |= _read_tag(m.group(1), True, env)[1]
                continue
            first, read = _read_tag(m.group(2), False, env)
            if first == _IF:
                depth += 1
                seen_else.append(False)
            elif first == _ELIF and depth and not seen_else[-1]:
                pass
            elif first == _ELSE and depth and not seen_else[-1]:
                seen_else[-1] = True
                continue
            elif first == _ENDIF and depth:
                depth -= 1
                seen_else.pop()
                continue
            else:
                return None
            names |= read
    except (_GiveUp, RecursionError):  # too deep for this parser: Jinja's says so at the message
        return None
    tail = text[pos:]
    if depth or "{" in tail or "}" in tail:
        return None
    return {n for n in names if n not in env.globals}
