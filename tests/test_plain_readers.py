"""The patterns that read the filters of a plain output (language/messages.py and
language/templatenames.py) give what the checking patterns they stand for give, on every output
those patterns match: the same filters, in order, with the same arguments; and plain_names, which
counts braces instead of searching the text between outputs, reads what it read before."""
from __future__ import annotations

import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kamrules.language import messages, templatenames

_NAMES = st.sampled_from(["pct", "money", "label", "num", "_x", "a1", "days"])
_SPACE = st.sampled_from(["", " ", "  ", "\t", "\n"])
_TEXT = st.text(st.sampled_from("ab |(),.-1'\"中\n\r{}\\"), max_size=6)
_NUMBERS = st.sampled_from(["0", "1", "-2", "10.5", "007", "1.", "-0.25", "3.14"])


def _literal(text: str, quote: str) -> str:
    return quote + text.replace(quote, "") + quote


_LITERALS = _NUMBERS | st.builds(_literal, _TEXT, st.sampled_from(["'", '"']))


@st.composite
def _chains(draw: st.DrawFn) -> str:
    """A run of `|name`, `|name()` or `|name(literal, …)` with spaces around, as either module's
    checking pattern may accept it (or not: then it is not compared)."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        call = draw(_SPACE) + "|" + draw(_SPACE) + draw(_NAMES)
        if draw(st.booleans()):
            args = draw(st.lists(st.tuples(_SPACE, _LITERALS, _SPACE), max_size=3))
            call += "(" + ",".join(a + lit + b for a, lit, b in args) + draw(_SPACE) + ")"
        out.append(call)
    return "".join(out)


_CHECKED_CALL = re.compile(messages._FILTER_SYNTAX, re.ASCII)
_CHECKED_CHAIN = re.compile(f"(?:{messages._FILTER_SYNTAX})*", re.ASCII)
_CHECKED_ARG = re.compile(rf"\s*({messages._NUM}|{messages._STR})\s*(,|$)", re.ASCII)
_NAMES_CHAIN = re.compile(f"(?:{templatenames._FILTER})*", re.ASCII)
_NAMES_FILTER = re.compile(templatenames._FILTER, re.ASCII)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(_chains())
@example("|label('a|b(c)')|pct")
@example(" | money( 1 , 'x,y' ,\"q)\" ) |num()")
@example("|f(')')|g('|h')")
def test_the_filter_readers_read_what_the_checking_patterns_read(chain: str) -> None:
    if _CHECKED_CHAIN.fullmatch(chain):  # a chain messages' _PLAIN_OUTPUT accepts
        want = [(f.group(1), f.group(2), f.group(3)) for f in _CHECKED_CALL.finditer(chain)]
        got = [(f.group(1), f.group(2), f.group(3)) for f in messages._FILTER_CALL.finditer(chain)]
        assert got == want, chain
        for _, _, arg_text in want:
            want_args = [a.group(1) for a in _CHECKED_ARG.finditer(arg_text or "")]
            assert [a.group() for a in messages._ARG.finditer(arg_text or "")] == want_args, arg_text
    if _NAMES_CHAIN.fullmatch(chain):  # a chain templatenames' _OUTPUT accepts
        want_names = _NAMES_FILTER.findall(chain)
        assert [f for f in templatenames._FILTER_NAME.findall(chain) if f] == want_names, chain


def test_the_generated_chains_are_not_vacuous() -> None:
    """Chains with strings that hold | ( ) and , are among those both checking patterns accept."""
    for chain in ("|label('a|b(c)')|pct", " | money( 1 , 'x,y' ,\"q)\" ) |num()"):
        assert _CHECKED_CHAIN.fullmatch(chain) and _NAMES_CHAIN.fullmatch(chain), chain


def _plain_names_by_gaps(text: str, env: Any) -> set[str] | None:
    """plain_names as first written: the text between and after the outputs searched for braces."""
    names: set[str] = set()
    pos = 0
    for m in templatenames._OUTPUT.finditer(text):
        if "{" in text[pos:m.start()] or "}" in text[pos:m.start()]:
            return None
        name = m.group(1)
        filters = [f for f in _NAMES_FILTER.findall(m.group(3)) if f]
        if name in templatenames._KEYWORDS or any(f not in env.filters for f in filters):
            return None
        names.add(name)
        pos = m.end()
    if "{" in text[pos:] or "}" in text[pos:]:
        return None
    return {n for n in names if n not in env.globals}


_OUTPUTS = st.builds(lambda sp, name, chain, sp2: "{{" + sp + name + chain + sp2 + "}}",
                     st.sampled_from(["", " ", "  "]), st.sampled_from(["x", "revenue", "a.b", "true", "loop", "_y"]),
                     _chains(), st.sampled_from(["", " "]))
_GAPS = st.sampled_from(["", "折扣 ", " { ", "}", "{%", "%}", "{#", "text", "\n", "{{", "}}", "{x}"])


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.lists(st.one_of(_OUTPUTS, _GAPS), max_size=6).map("".join))
@example("{{ x }} {")
@example("} {{ x|money('a') }}")
@example("{{ x|label('{') }}")
def test_plain_names_counts_braces_as_the_gaps_did(text: str) -> None:
    from kamrules.language.messages import CHECK_ENV

    assert templatenames.plain_names(text, CHECK_ENV) == _plain_names_by_gaps(text, CHECK_ENV), text
