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


def _tree(node: object, seen: dict[int, int] | None = None) -> object:
    """A composed node as plain data: kind, tag, value (children), style and marks; a node met
    again (an alias) as its number in the order first met, so an alias bomb stays small."""
    import yaml

    seen = {} if seen is None else seen
    if id(node) in seen:
        return ("alias", seen[id(node)])
    seen[id(node)] = len(seen)
    assert isinstance(node, yaml.Node)
    marks = (node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column)
    if isinstance(node, yaml.ScalarNode):
        return ("scalar", node.tag, node.value, node.style, marks)
    if isinstance(node, yaml.SequenceNode):
        return ("seq", node.tag, [_tree(n, seen) for n in node.value], node.flow_style, marks)
    return ("map", node.tag, [(_tree(k, seen), _tree(v, seen)) for k, v in node.value], node.flow_style, marks)


_SCALARS = ["", "~", "null", "Null", "NULL", "true", "True", "yes", "no", "on", "off", "y", "n", "0", "-0", "+1",
            "0x1F", "0o17", "017", "0b101", "1_000", "1,000", "190:20:30", "1.5", ".5", "1e3", "1.0e+3", "-.inf",
            ".Inf", ".nan", ".NaN", "2026-06-30", "2026-6-3", "2026-06-30 12:00:00", "2026-06-30T12:00:00Z", "=",
            "<<", "a", "Anna", "—", "中文", "15%", "1.2M", "120万", "'quoted'", '"1"', "- x", "[1, 2]", "{a: 1}",
            "!!str 1", "!!int '3'", "? k\n: v", "&a 1", "@x", "`x", "|\n  text\n", ">\n  folded\n"]


def test_the_fast_loader_composes_what_the_stock_safe_loader_does() -> None:
    """yamlio._FastLoader replaces the composer's per-node resolver calls: the same node tree (tags,
    values, styles, marks) for every YAML file of the course and of the tests' data, and for scalars of
    every implicit type in block and flow context."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parent.parent
    texts = [p.read_bytes().decode("utf-8", "replace") for folder in ("rules", "tests/data", "examples")
             for p in sorted((root / folder).rglob("*.yaml"))]
    texts += [f"k: {s}\n" for s in _SCALARS] + [f"- {s}\n" for s in _SCALARS] + ["[" + ", ".join(_SCALARS[:40]) + "]"]
    assert len(texts) > 150 and yamlio._Loader is yamlio._FastLoader
    compared = 0
    for text in texts:
        try:
            stock = yaml.compose(text, Loader=yamlio._Base)
        except yaml.YAMLError:
            with pytest.raises(yaml.YAMLError):
                yaml.compose(text, Loader=yamlio._Loader)
            continue
        fast = yaml.compose(text, Loader=yamlio._Loader)
        assert (stock is None) == (fast is None)
        if stock is not None:
            assert _tree(fast) == _tree(stock), text[:200]
            compared += 1
    assert compared > 150
