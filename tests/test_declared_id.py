"""rulebook/load._id_in decodes only a file's first lines when its `rulebook:` line is there: it
must find what searching the whole decoded head finds, wherever the line is (before, across or
after the first 4 kB), whatever comes before it (CJK text, bytes that are not UTF-8, a `rulebook`
key split over lines, quotes); and display_path names a file the same within one load as outside."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.core.resources import rules_dir
from kamrules.rulebook import load

_LINES = [b"# comment\n", "# 大客户 注释\n".encode(), b"title: x\n", b"rulebook: course.facts\n", b'"rulebook": "a-b"\n',
          b"rulebook:\n", b"  course\n", b"rulebook :  'x.y'\n", b"  rulebook: nested\n", b"\xff\xfe bad\n", b"\xe5\xa4\n",
          b"rulebook", b": z\n", b" \n", b"x" * 700 + b"\n", "甲".encode() * 400 + b"\n", b"rulebook: \xe5\xa4\xa7\n",
          "rulebook: 大客户\n".encode()]


def plain(head: bytes) -> str:
    m = load._ID_LINE.search(head.decode("utf-8", "replace"))
    return m.group(1) if m else ""


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_LINES), max_size=30), st.binary(max_size=40), st.integers(0, 6000))
def test_as_the_whole_head(lines, noise, cut):
    head = b"".join(lines) + noise
    for h in (head, head[:cut], noise + head):
        assert load._id_in(h) == plain(h), h


def test_the_line_at_the_edge_of_the_first_lines():
    for pad in range(4080, 4100):
        for line in (b"rulebook: edge.case\n", b"rulebook:\n  split\n"):
            head = b"#" * pad + b"\n" + line
            assert load._id_in(head) == plain(head)
            head = b"#" * pad + line
            assert load._id_in(head) == plain(head)


def test_every_rulebook_file_of_the_course():
    for p in sorted((rules_dir() / "course").glob("*.yaml")):
        head = p.read_bytes()[: 256 * 1024]
        assert load._id_in(head) == plain(head), p


def test_display_path_within_a_load_is_as_outside():
    paths = [*sorted((rules_dir() / "course").glob("*.yaml")), Path("tests/data/core/core.yaml"), Path("x/y.yaml")]
    outside = [load.display_path(p) for p in paths]
    with load._one_scan():
        assert [load.display_path(p) for p in paths] == outside
        assert [load.display_path(p) for p in paths] == outside
