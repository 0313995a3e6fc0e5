"""The condition language: a tokenizer and a Pratt parser producing an untyped syntax tree.

Never uses eval: the grammar admits names, literals, operators and a fixed set of functions,
so `__import__('os')` or `x.__class__` can only ever be an unknown name. Type checking against
the declared facts happens in `check.py`.
"""
from __future__ import annotations

import re
from typing import NamedTuple, Union

from kamrules.core.values import ValueProblem, parse_amount


class ParseError(Exception):
    def __init__(self, message: str, pos: int, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.hint = hint


# ----------------------------------------------------------------------------- syntax tree
# Named tuples, not frozen records: the tree lives only between parsing and type checking (nothing
# compares, hashes or keeps it), and a record sets each field through object.__setattr__: building
# the course's ~2,700 nodes that way was ~8 M instructions of every uncached start (callgrind).

class Num(NamedTuple):
    value: float
    pos: int
    text: str


class Str(NamedTuple):
    value: str
    pos: int


class BoolLit(NamedTuple):
    value: bool
    pos: int


class Name(NamedTuple):
    parts: tuple[str, ...]  # dotted: ("params", "max_discount")
    pos: int

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


class ListLit(NamedTuple):
    items: tuple["Node", ...]
    pos: int


class Unary(NamedTuple):
    op: str  # "-" | "not"
    operand: "Node"
    pos: int


class Binary(NamedTuple):
    op: str  # + - * / == != < <= > >= in "not in" and or
    left: "Node"
    right: "Node"
    pos: int


class Call(NamedTuple):
    func: str
    args: tuple["Node", ...]
    pos: int


Node = Union[Num, Str, BoolLit, Name, ListLit, Unary, Binary, Call]

# ----------------------------------------------------------------------------- tokens

# A token with the whitespace before it: one match a token (whitespace was a match of its own,
# half of all matches), and no alternative starts with whitespace, so `\s*` never gives any back.
_TOKEN = re.compile(
    r"""
    \s*(?:
    (?P<num>(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?:%|万亿|千万|百万|[万亿千kKMB](?![\w])|bn(?![\w]))?)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>+\-*/()\[\],.=!%])
  | (?P<name>[^\W\d]\w*)
    )""",
    re.VERBOSE | re.UNICODE,
)
_SPACE = re.compile(r"\s*")

KEYWORDS = {"and", "or", "not", "in", "true", "false", "True", "False"}


class Tok(NamedTuple):
    """A token. A named tuple, not a frozen record: the course's conditions and formulas are
    ~5,000 tokens, and a record sets each field through object.__setattr__ (~3 × 1.5 k
    instructions a token); a tuple is built in one step."""

    kind: str  # num str op name end
    text: str
    pos: int


# operators the tokenizer reads only to refuse them with a hint
_REFUSED = {
    "&&": ("'&&' is not an operator here", "write 'and'"),
    "||": ("'||' is not an operator here", "write 'or'"),
    "!": ("'!' is not an operator here", "write 'not'"),
    "=": ("'=' is assignment, not comparison", "write '==' to compare"),
    "%": ("'%' must follow a number directly", "write 15% (no space)"),
}
_new_tok = tuple.__new__  # Tok(kind, text, pos) without the named tuple's Python-level __new__


def tokenize(src: str) -> list[Tok]:
    """The tokens of a condition, ending with an `end` token: ~110,000 instructions a condition
    of the course before (a match for each token and for each run of whitespace between them,
    and a Tok through its Python __new__), half of it now (callgrind). tests/test_parser_tokens.py
    compares the tokens and errors with the one-match-per-piece tokenizer."""
    toks: list[Tok] = []
    match = _TOKEN.match
    pos = 0
    size = len(src)
    while pos < size:
        m = match(src, pos)
        if m is None:
            pos = _SPACE.match(src, pos).end()  # type: ignore[union-attr]  # \s* always matches
            if pos == size:
                break  # trailing whitespace
            raise ParseError(f"unexpected character {src[pos]!r}", pos)
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind == "op" and text in _REFUSED:
            message, hint = _REFUSED[text]
            raise ParseError(message, m.start(kind), hint=hint)
        toks.append(_new_tok(Tok, (kind, text, m.start(kind))))
        pos = m.end()
    toks.append(Tok("end", "", size))
    return toks


# ----------------------------------------------------------------------------- parser

_BINARY_POWER = {
    "or": 1, "and": 2,
    "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4, "not in": 4,
    "+": 5, "-": 5, "*": 6, "/": 6,
}
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">=", "in", "not in"}
MAX_EXPR_LENGTH = 4000
MAX_DEPTH = 40


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        toks = tokenize(src)
        # the end token twice more: peek(1) at the end is the end token (as a clamp to the last
        # would give) without a min() per peek; the parser never reads past the first end
        self.toks = toks + [toks[-1], toks[-1]]
        self.i = 0
        self.depth = 0

    def peek(self, k: int = 0) -> Tok:
        return self.toks[self.i + k]

    def take(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, text: str) -> Tok:
        t = self.peek()
        if t.text != text:
            found = "the end" if t.kind == "end" else repr(t.text)
            raise ParseError(f"expected '{text}' but found {found}", t.pos)
        return self.take()

    def binop_at(self) -> str | None:
        kind, text, _ = self.toks[self.i]
        if kind == "op":
            return text if text in _BINARY_POWER else None
        if kind == "name":
            if text in ("and", "or", "in"):
                return text
            if text == "not" and self.toks[self.i + 1].text == "in":
                return "not in"
        return None

    def parse(self) -> Node:
        if len(self.src) > MAX_EXPR_LENGTH:
            raise ParseError(f"the condition is longer than {MAX_EXPR_LENGTH} characters", 0,
                             hint="split it into several rules or a metric")
        if self.peek().kind == "end":
            raise ParseError("the condition is empty", 0)
        node = self.expr(0)
        t = self.peek()
        if t.kind != "end":
            raise ParseError(f"unexpected {t.text!r} after a complete condition", t.pos,
                             hint="join conditions with 'and' / 'or'")
        return node

    def expr(self, min_power: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"the condition nests deeper than {MAX_DEPTH} levels", self.peek().pos)
        left = self.prefix()
        while True:
            op = self.binop_at()
            if op is None:
                break
            power = _BINARY_POWER[op]
            if power <= min_power:
                break
            tok = self.take()
            if op == "not in":
                self.take()
            right = self.expr(power)
            if op in _COMPARISONS and isinstance(left, Binary) and left.op in _COMPARISONS:
                raise ParseError("comparisons cannot be chained", tok.pos,
                                 hint="write 'a < b and b < c'")
            left = Binary(op, left, right, tok.pos)
        self.depth -= 1
        return left

    def prefix(self) -> Node:
        t = self.toks[self.i]  # take(), without the call
        self.i += 1
        if t.kind == "num":
            try:
                value = parse_amount(t.text, allow_percent=True)
            except ValueProblem as e:  # pragma: no cover - the token regex admits valid numbers
                raise ParseError(e.message, t.pos) from None
            return Num(value, t.pos, t.text)
        if t.kind == "str":
            body = t.text[1:-1]
            # (no backslash: nothing to unescape, and no call of re.sub, which finds its pattern in
            # re's cache for every string)
            return Str(re.sub(r"\\(.)", r"\1", body) if "\\" in body else body, t.pos)
        if t.kind == "op" and t.text == "(":
            inner = self.expr(0)
            self.expect(")")
            return inner
        if t.kind == "op" and t.text == "[":
            items: list[Node] = []
            if self.peek().text != "]":
                while True:
                    items.append(self.expr(3))
                    if self.peek().text == ",":
                        self.take()
                        continue
                    break
            self.expect("]")
            return ListLit(tuple(items), t.pos)
        if t.kind == "op" and t.text == "-":
            return Unary("-", self.expr(6), t.pos)
        if t.kind == "name":
            if t.text == "not":
                return Unary("not", self.expr(3), t.pos)
            if t.text in ("true", "True"):
                return BoolLit(True, t.pos)
            if t.text in ("false", "False"):
                return BoolLit(False, t.pos)
            if t.text in ("and", "or", "in"):
                raise ParseError(f"'{t.text}' needs something on its left", t.pos)
            parts = [t.text]
            toks = self.toks
            while toks[self.i].text == "." and toks[self.i + 1].kind == "name":
                parts.append(toks[self.i + 1].text)
                self.i += 2
            if toks[self.i].text == ".":
                raise ParseError("a name cannot end with '.'", toks[self.i].pos)
            # (a part starting with "__" has "__" in it: one substring test for most names)
            if ("__" in t.text or len(parts) > 1) and any(p.startswith("__") for p in parts):
                # refused by name, whole: 'revenue.__class__.__bases__', '__import__'
                raise ParseError(f"'{'.'.join(parts)}' is not available", t.pos,
                                 hint="names starting with '__' never are: conditions read facts only")
            if self.peek().text == "(":
                if len(parts) > 1:
                    raise ParseError(f"'{'.'.join(parts)}' is not a function", t.pos,
                                     hint="only the built-in functions can be called")
                self.take()
                args: list[Node] = []
                if self.peek().text != ")":
                    while True:
                        args.append(self.expr(0))
                        if self.peek().text == ",":
                            self.take()
                            continue
                        break
                self.expect(")")
                if self.peek().text in (".", "(", "["):
                    raise ParseError(f"'{t.text}(…){self.peek().text}' is not allowed", self.peek().pos,
                                     hint="a function's result cannot be called, indexed or have attributes")
                return Call(t.text, tuple(args), t.pos)
            return Name(tuple(parts), t.pos)
        if t.kind == "end":
            raise ParseError("the condition ends too early", t.pos, hint="something is missing at the end")
        raise ParseError(f"unexpected {t.text!r}", t.pos)


def parse(src: str) -> Node:
    return _Parser(src).parse()
