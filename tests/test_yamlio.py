from __future__ import annotations

import pytest

from kamrules.core import yamlio
from kamrules.core.errors import InputError


def problems(text: str, file: str = "a.yaml") -> list[str]:
    with pytest.raises(InputError) as e:
        yamlio.load(file, text=text)
    return [p.render() for p in e.value.problems]


def test_marks_point_at_keys_and_values():
    doc = yamlio.load("a.yaml", text="x: 1\nteam:\n  size: 3\nlist:\n  - {a: 1}\n")
    assert str(doc.loc(("team", "size"))) == "a.yaml:3:3"
    assert str(doc.value_loc(("list", 0, "a"))) == "a.yaml:5:9"


def test_duplicate_keys_are_an_error_with_both_lines():
    [msg] = problems("revenue: 1\nname: x\nrevenue: 2\n")
    assert "a.yaml:3:1" in msg and "duplicate key 'revenue' (first defined on line 1)" in msg


def test_unsafe_tags_are_refused():
    [msg] = problems("x: !!python/object:os.system {}\n")
    assert "is not allowed" in msg and "a.yaml:1:4" in msg


def test_tabs_get_a_hint():
    [msg] = problems("a:\n\tb: 1\n")
    assert "tab" in msg and "spaces" in msg


def test_alias_bomb_is_refused_fast():
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i-1}"] * 9) + "]")
    [msg] = problems("\n".join(lines) + "\n")
    # refused from the event stream at the first alias past the cap (line 6), before any
    # node is built; memory and time bounds are measured in test_bad_inputs
    assert "alias bomb" in msg and "a.yaml:6:" in msg


def test_impossible_date():
    [msg] = problems("d: 2026-02-30\n")
    assert "not a valid date" in msg and "a.yaml:1:4" in msg


def test_bom_and_gbk_are_decoded():
    assert yamlio.decode("\ufeffname: 华信".encode("utf-8"), "f")[0] == "name: 华信"
    text, enc = yamlio.decode("name: 华信钢铁\n".encode("gbk"), "f")
    assert text == "name: 华信钢铁\n" and enc == "gbk"


def test_binary_is_refused():
    with pytest.raises(InputError, match="not a text file"):
        yamlio.decode(b"\x00\x01\x02binary", "f")


def test_size_cap_names_the_cap(tmp_path, monkeypatch):
    monkeypatch.setenv("KAMRULES_MAX_FILE_BYTES", "1000")
    f = tmp_path / "big.yaml"
    f.write_text("x: " + "a" * 2000)
    with pytest.raises(InputError) as e:
        yamlio.load(str(f))
    assert "the limit is" in e.value.render()


def test_deep_nesting_is_refused():
    [msg] = problems("x: " + "[" * 5000 + "]" * 5000)
    assert "nest" in msg


def test_only_documents_that_could_expand_get_the_node_count_pass() -> None:
    from kamrules.core.yamlio import MAX_NODES, _may_expand

    assert not _may_expand("title: R&D & sales\nx: [a, b]\n")  # an ampersand in text is no anchor
    assert _may_expand("a: &x [1, 2]\nb: *x\n")
    assert _may_expand("- &x\n  - 1\n")
    assert _may_expand("x" * (MAX_NODES + 1))


def test_the_anchor_test_tried_only_at_ampersands_is_the_regex_search() -> None:
    # _may_expand tries the anchor pattern only from each `&` (fast); it must say what a search
    # of the whole text says, at the start, after every kind of separator and at the end
    import random

    from kamrules.core.yamlio import _ANCHOR, _may_expand

    alphabet = ["&", "&&", " ", "\n", "\t", "\u3000", "a", "[", "]", "{", "}", ",", ":", "?", "-", "*"]
    rnd = random.Random(8)
    texts = ["", "&", "&x", "x&", " &", " &x", "&&x", "x: &\n", "k:&a", "-&a", "R&D"]
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 8))) for _ in range(3000)]
    for text in texts:
        assert _may_expand(text) == (_ANCHOR.search(text) is not None), repr(text)
