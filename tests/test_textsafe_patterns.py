"""core/textsafe's patterns, written to compile cheaply, match what the one-class patterns they
replace would: every character, and generated texts through each function that uses them."""
from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kamrules.core import textsafe

_CLASS = textsafe._CONTROL_CLASS
# the patterns as written before (one class each)
_ONE_CONTROLS_AND_CR = re.compile(f"[{_CLASS}]|\r(?!\n)")
_ONE_LINE_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
_ONE_MD_TOUCHES = re.compile(f"[\\\\`*\\[\\]|<&\r\n\x85{_CLASS}]")

# every interesting character, and some text around them
_CHARS = st.sampled_from(
    [chr(c) for c in range(0x00, 0xA1)]
    + ["\u061b", "\u061c", "\u061d", "\u200a", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2027", "\u2028",
       "\u2029", "\u202a", "\u202e", "\u202f", "\u205f", "\u2060", "\u2064", "\u2065", "\u2066", "\u2069", "\u206a",
       "\ufefe", "\ufeff", "\ufff8", "\ufff9", "\ufffb", "\ufffc", "华", "信", "#", "1.", "- ", "\r\n"])
_TEXTS = st.lists(_CHARS, max_size=30).map("".join)


def _one_terminal(text: str) -> str:
    if text.startswith("\ufeff"):
        return "\ufeff" + _ONE_CONTROLS_AND_CR.sub(textsafe._visible, text[1:])
    return _ONE_CONTROLS_AND_CR.sub(textsafe._visible, text)


def test_every_character_is_matched_as_before() -> None:
    for code in range(0x110000):
        ch = chr(code)
        assert bool(textsafe._LINE_BREAKS.fullmatch(ch)) == bool(_ONE_LINE_BREAKS.fullmatch(ch)), hex(code)
        touches = bool(textsafe._MD_TOUCHES.search(ch) or textsafe._CONTROLS.search(ch))
        assert touches == bool(_ONE_MD_TOUCHES.search(ch)), hex(code)


@settings(max_examples=800, deadline=None, derandomize=True)
@given(_TEXTS)
@example("a\rb\r\nc\r")
@example("\ufeff\r\x1b[31m\r")
@example("\r\r\n\n\r")
def test_the_functions_give_what_the_one_class_patterns_gave(text: str) -> None:
    assert textsafe.terminal(text) == _one_terminal(text)
    assert textsafe._LINE_BREAKS.split(text) == _ONE_LINE_BREAKS.split(text)
    assert textsafe._LINE_BREAKS.sub(" ", text) == _ONE_LINE_BREAKS.sub(" ", text)
    touched = bool(_ONE_MD_TOUCHES.search(text))
    assert bool(textsafe._MD_TOUCHES.search(text) or textsafe._CONTROLS.search(text)) == touched
