"""advice/context.first_sentence finds the end of a message's first sentence by a scan: the same
text as the first piece of splitting it with the pattern it replaces."""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.advice.context import first_sentence

SPLIT = re.compile(r"(?<=[。！？])|(?<=[.!?])\s+(?=[A-Z“\"(])")


def _by_split(text: str) -> str:
    parts = [p for p in SPLIT.split(text.strip()) if p.strip()]
    return parts[0].strip() if parts else ""


CHARS = st.sampled_from(list("。！？.!?  \t\n\u3000\xa0\u2028AZaz“”\"'()（）折扣A1_-,，") + ["额", "Q"])


@settings(max_examples=2000, deadline=None)
@given(st.lists(CHARS, max_size=14).map("".join))
def test_the_same_as_the_split(text: str) -> None:
    assert first_sentence(text) == _by_split(text)


def test_examples() -> None:
    for text in ("It loses money. Do not invest.", "服务成本后亏损。请重新报价。", "e.g. this one", "Ends here!  “Quoted” next",
                 "Why? (Because.)", "No end", "", "   ", "a.\n\nB", "a. b", "a.B", "3.5 M. Next", "！", " 。x"):
        assert first_sentence(text) == _by_split(text), text
