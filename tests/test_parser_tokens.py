"""language/parser.tokenize reads a token together with the whitespace before it (one regex match
a token) and builds each Tok without its Python __new__: the tokens and the errors must be what
the plain tokenizer below gives (a match for every token and every run of whitespace, the refused
operators checked one by one), on every condition and formula of the course and on generated
text; and the syntax tree is read by the type checker as before (test_check_once)."""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.language.parser import ParseError, Tok, parse, tokenize
from kamrules.rulebook.load import load_rulebook

_PLAIN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?:%|万亿|千万|百万|[万亿千kKMB](?![\w])|bn(?![\w]))?)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>+\-*/()\[\],.=!%])
  | (?P<name>[^\W\d]\w*)
    """,
    re.VERBOSE | re.UNICODE,
)


def plain_tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    pos = 0
    while pos < len(src):
        m = _PLAIN.match(src, pos)
        if not m:
            raise ParseError(f"unexpected character {src[pos]!r}", pos)
        kind = m.lastgroup or ""
        text = m.group()
        if kind != "ws":
            if kind == "op" and text in ("&&", "||", "!"):
                word = {"&&": "and", "||": "or", "!": "not"}[text]
                raise ParseError(f"'{text}' is not an operator here", pos, hint=f"write '{word}'")
            if kind == "op" and text == "=":
                raise ParseError("'=' is assignment, not comparison", pos, hint="write '==' to compare")
            if kind == "op" and text == "%":
                raise ParseError("'%' must follow a number directly", pos, hint="write 15% (no space)")
            toks.append(Tok(kind, text, pos))
        pos = m.end()
    toks.append(Tok("end", "", len(src)))
    return toks


def outcome(fn, src):
    try:
        return ("ok", [tuple(t) for t in fn(src)], [type(t) for t in fn(src)])
    except ParseError as e:
        return ("error", e.message, e.pos, e.hint)


def test_every_course_text_tokenizes_as_before():
    book = load_rulebook("course")
    texts = {r.when for r in book.rules} | {t for r in book.rules for _, t in r.score}
    texts |= {m.formula for m in book.metrics.values()} | {t.when for t in book.tables.values()}
    texts |= {i.when for i in book.invariants}
    assert len(texts) > 150
    for src in sorted(texts):
        assert outcome(tokenize, src) == outcome(plain_tokenize, src), src


_PIECES = ["a", "revenue", "x.y", "合同", "1", "2.5", ".5", "15%", "3万", "1e3", "2bn", "4k", "1.2M", "'s'", '"t"',
           "'bad", "==", "!=", "<", "<=", ">=", ">", "=", "!", "&&", "||", "%", "+", "-", "*", "/", "(", ")", "[",
           "]", ",", ".", "and", "or", "not", "in", "true", "@", "#", "$", "\\", " ", "  ", "\t", "\n", "\u3000",
           "\u00a0", "_x", "__y", "é"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14), st.text(max_size=6))
def test_generated_text_tokenizes_as_before(pieces, tail):
    for src in ("".join(pieces) + tail, " ".join(pieces), tail):
        assert outcome(tokenize, src) == outcome(plain_tokenize, src), src


def test_errors_point_at_the_character_after_whitespace():
    for src, pos in (("a @", 2), ("a  &&  b", 3), ("  =", 2), ("x > 1 %", 6), ("a\n\t!", 3)):
        try:
            tokenize(src)
        except ParseError as e:
            assert e.pos == pos, src
        else:  # pragma: no cover
            raise AssertionError(src)
    assert tokenize("a   ") == [Tok("name", "a", 0), Tok("end", "", 4)]
    assert tokenize("   ") == [Tok("end", "", 3)]


def test_the_parser_reads_to_its_end_token_only():
    # peek(1) at the end reads the padding (the end token again), as the clamp did
    for src in ("a not", "a not in", "x.", "f(", "[1,", "a and", "-", "not"):
        try:
            parse(src)
        except ParseError as e:
            assert e.pos <= len(src)
        else:  # pragma: no cover
            raise AssertionError(src)


def test_strings_are_unescaped_as_re_sub_does_and_dunder_names_are_refused():
    for body in ("plain", "a\\'b", "x\\\\y", "合同", "", "a\\nb"):
        node = parse(f"name == '{body}'")
        assert node.right.value == re.sub(r"\\(.)", r"\1", body)  # type: ignore[union-attr]
    for src in ("__x > 1", "a.__class__ > 1", "a.b.__c == 1", "x__ > 1"):
        try:
            parse(src)
        except ParseError as e:
            assert "is not available" in e.message and src != "x__ > 1"
        else:
            assert src == "x__ > 1"
