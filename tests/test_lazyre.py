"""core/lazyre.LazyPattern is re.compile, made on first use: the same pattern, flags and matches,
compiled once and only when called."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.core import lazyre
from kamrules.core.lazyre import LazyPattern

_PATTERNS = [
    (r"[1-9]", 0),
    (r"(-?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,15})(?:\.([0-9]{1,12}))?(万亿|千万|百万|[千万亿kKMB])?(%?)", 0),
    (r"^\s*([A-Z]{3})\s*(?=[-+\d.,])|(?<=[\d.%万亿kKmMbB])\s*([A-Z]{3})\s*$", 0),
    (r"[-+]?\d+,\d+\s*[^\W\d_]*%?", 0),
    (r"(://[^:/@\s]+):[^@\s]*@", 0),
    (r"^[a-z][a-z0-9_-]{0,39}$", re.ASCII),
    (r"abc", re.IGNORECASE),
]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(_PATTERNS), st.text(st.sampled_from("0123456789,.-+%万亿kMB USDCNYabc:/@xé"), max_size=24))
def test_a_lazy_pattern_matches_what_re_compile_would(spec: tuple[str, int], text: str) -> None:
    pattern, flags = spec
    lazy, plain = LazyPattern(pattern, flags)(), re.compile(pattern, flags)
    assert (lazy.pattern, lazy.flags, lazy.groups) == (plain.pattern, plain.flags, plain.groups)
    for method in ("match", "fullmatch", "search"):
        got, want = getattr(lazy, method)(text), getattr(plain, method)(text)
        assert (got and (got.span(), got.groups())) == (want and (want.span(), want.groups())), (pattern, text)
    assert lazy.findall(text) == plain.findall(text)
    assert lazy.sub("_", text) == plain.sub("_", text)


def test_a_lazy_pattern_is_compiled_once_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []
    compile_ = re.compile

    def counting(pattern: str, flags: int = 0) -> re.Pattern[str]:
        calls.append((pattern, flags))
        return compile_(pattern, flags)

    monkeypatch.setattr(lazyre.re, "compile", counting)
    lazy = LazyPattern(r"\d+x", re.ASCII)
    assert calls == []  # nothing compiled at definition
    first = lazy()
    assert calls == [(r"\d+x", re.ASCII)]
    assert lazy() is first and lazy() is first
    assert calls == [(r"\d+x", re.ASCII)]


def test_a_bad_pattern_fails_when_used_as_re_compile_fails() -> None:
    lazy = LazyPattern(r"(unclosed")
    with pytest.raises(re.error) as got:
        lazy()
    with pytest.raises(re.error) as want:
        re.compile(r"(unclosed")
    assert str(got.value) == str(want.value)
