"""core/yamlio's conversion of nodes to data: scalars other than text built once per distinct
(tag, text), a flow mapping's pairs tried as a split number only when the value can start one
(`_may_start_number`), a duplicate key's first line read from the key marks. The data must be
what PyYAML's safe loader builds (types included) for every YAML file of the repository and for
generated documents; the problems of generated flow mappings must be the same with the quick
test on as with every pair tried."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.core import yamlio
from kamrules.core.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for p in ROOT.rglob("*.yaml") if ".git" not in p.parts)


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def test_every_yaml_file_converts_as_the_safe_loader_builds() -> None:
    loaded = 0
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            ours = yamlio.load(str(path), text=text).data
        except InputError:
            continue
        assert same(ours, yaml.safe_load(text)), path
        loaded += 1
    assert loaded > 200


_SCALARS = ["1", "0", "-3", "0x1F", "0o17", "1_000", "1:30", "2.5", ".inf", "-.inf", ".nan", "1e3", "true", "False",
            "yes", "off", "~", "null", "2026-03-01", "2026-03-01 10:00:00", "text", "'1'", '"true"', "合同", "''"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]), st.sampled_from(_SCALARS)), min_size=1,
                max_size=8, unique_by=lambda kv: kv[0]),
       st.lists(st.sampled_from(_SCALARS), max_size=8))
def test_repeated_scalars_are_built_as_the_safe_loader_builds(pairs: list[tuple[str, str]], items: list[str]) -> None:
    text = "".join(f"{k}: {v}\n" for k, v in pairs) + "items:\n" + "".join(f"  - {v}\n" for v in items) \
        + "again: [" + ", ".join(v for _, v in pairs) + "]\n"
    assert same(yamlio.load("t.yaml", text=text).data, yaml.safe_load(text))


_FLOW = ["8,000,000", "1,5", "18,5%", "¥1,200", "１２,０００", "٣,٠٠٠", "-1,000", "+2,000,5", "abc", "'1,000'", "x,000",
         "12", "1,200万", "合同", "a b", "1, 000", "$3,000,000.5"]


def problems(text: str) -> list[str]:
    try:
        yamlio.load("t.yaml", text=text)
    except InputError as e:
        return [repr(p) for p in e.problems]
    return []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FLOW), min_size=1, max_size=4))
def test_split_numbers_are_found_with_the_quick_test_as_without(values: list[str]) -> None:
    text = "v: {" + ", ".join(f"k{i}: {v}" for i, v in enumerate(values)) + "}\n"
    quick = problems(text)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(yamlio, "_may_start_number", lambda c: True)
        assert problems(text) == quick, text


def test_the_quick_test_is_the_pattern_s_first_character() -> None:
    for n in range(0x30000):
        c = chr(n)
        assert yamlio._may_start_number(c) == bool(re.match(r"[-+]?[¥￥$]?\d", c + "0")), hex(n)


def test_a_duplicate_key_names_the_first_line() -> None:
    for text, line in (("a: 1\nb: 2\na: 3\n", 1), ("x:\n  k: {a: 1, b: 2, a: 3}\n", 2), ("- {q: 1}\n- q: 1\n  r: 2\n  q: 3\n", 2)):
        assert f"first defined on line {line}" in problems(text)[0], text
