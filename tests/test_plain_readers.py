"""The patterns that read the filters of a plain output (language/messages.py and
language/templatenames.py) give what the checking patterns they stand for give, on every output
those patterns match: the same filters, in order, with the same arguments."""
from __future__ import annotations

import re

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
