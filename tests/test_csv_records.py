"""The streamed CSV reader's record splitter (portfolio/stream._records) against the definition it
replaced: a line at a time through csvio's line pattern, then lines joined while a quoted cell is
open. The new one splits a piece at once (str.splitlines where it agrees with csvio) and takes a
piece without quotes as a run of one-line records; the records, their first lines and the share
of the file read at each must be the same, however the text is cut into pieces."""
from __future__ import annotations

import re
from typing import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.portfolio import stream

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")


def _lines(pieces: list[tuple[str, float]]) -> Iterator[tuple[str, float]]:
    carry = ""
    share = 0.0
    for text, share in pieces:
        text = carry + text
        end = len(text)
        if text.endswith("\r"):
            end -= 1
        pos = 0
        while pos < end:
            m = _LINE.match(text, pos, end)
            assert m is not None
            if m.end() == end and not text[pos:end].endswith(("\n", "\r")):
                break
            if m.end() == pos:
                break
            yield text[pos:m.end()], share
            pos = m.end()
        carry = text[pos:]
    if carry:
        yield carry, share


def reference(pieces: list[tuple[str, float]], first_line: int = 1) -> list[tuple[int, str, float]]:
    out = []
    line_no, parts, quotes, first = first_line, [], 0, first_line
    for line, share in _lines(pieces):
        if not parts:
            first = line_no
        parts.append(line)
        quotes += line.count('"')
        line_no += 1
        if quotes % 2 == 0:
            out.append((first, "".join(parts), share))
            parts, quotes = [], 0
    if parts:
        out.append((first, "".join(parts), 1.0))
    return out


# the characters that matter: line endings csvio counts, those only str.splitlines counts, quotes
text = st.lists(st.sampled_from(['a', ',', ' ', '"', '\r', '\n', '\r\n', '\x0b', '\x0c', '\x1c', '\x85',
                                 '\u2028', '\u2029', '客']), max_size=40).map("".join)


@settings(max_examples=600, deadline=None)
@given(text, st.lists(st.integers(0, 60), max_size=8), st.integers(1, 3))
def test_records_are_the_definitions_however_the_text_is_cut(whole: str, cuts: list[int], first: int) -> None:
    at = sorted({min(c, len(whole)) for c in cuts})
    bounds = [0, *at, len(whole)]
    pieces = [(whole[a:b], (k + 1) / len(bounds)) for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]
    assert list(stream._records(iter(pieces), first)) == reference(pieces, first)


@given(st.text(st.sampled_from([',', ';', '\t', ' ', '\u3000', 'a', '"']), max_size=12),
       st.sampled_from([',', ';', '\t']))
def test_a_blank_record_has_no_cell_with_a_value(line: str, delimiter: str) -> None:
    definition = '"' not in line and all(not p.strip() for p in line.split(delimiter))
    assert stream._blank(line, delimiter) == definition
