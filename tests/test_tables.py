"""Decision tables: cells → conditions, one rule per row, each hit policy on both engines, errors
that point at the cell, and an overlay replacing a whole table."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kamrules.cli import main
from kamrules.core.errors import RulebookError
from kamrules.rulebook.load import load_rulebook
from kamrules.rulebook.tables import CellError, cell_condition, negate_earlier, row_condition

DATA = Path(__file__).parent / "data" / "tables"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("cell, text", [
    ("-", None), ("", None), (None, None), ("any", None),
    (">= params.big", "revenue >= params.big"),
    ("<0", "revenue < 0"),
    ("= 5", "revenue == 5"),
    ("!= 5", "revenue != 5"),
    ("[params.mid..params.big)", "revenue >= params.mid and revenue < params.big"),
    ("(1..2]", "revenue > 1 and revenue <= 2"),
    ("[ 1 .. 2 ]", "revenue >= 1 and revenue <= 2"),
    ("high", "revenue == high"),
    ("medium, high", "revenue in [medium, high]"),
    ("medium，high", "revenue in [medium, high]"),  # a Chinese comma too
    ("not(low)", "not (revenue == low)"),
    ("not([1..2])", "not (revenue >= 1 and revenue <= 2)"),
    ("exists", "exists(revenue)"),
    ("missing", "missing(revenue)"),
    (3, "revenue == 3"),
    (0.5, "revenue == 0.5"),
    (True, "revenue == true"),
])
def test_cell_condition(cell: object, text: str | None) -> None:
    assert cell_condition("revenue", cell) == text


@pytest.mark.parametrize("cell, words", [
    ("[1..2", "cannot read the interval"),
    (">=", "needs something to compare with"),
    ("not(-)", "would match nothing"),
    ("a, , b", "an empty value"),
])
def test_cells_that_cannot_be_read(cell: str, words: str) -> None:
    with pytest.raises(CellError, match=words):
        cell_condition("revenue", cell)


def test_row_condition_joins_cells_and_a_precondition_with_spans() -> None:
    from kamrules.core.errors import Location

    loc = [Location("f", i) for i in range(4)]
    text, spans = row_condition(("a or b", loc[0]), ("x", "y + z"), [(">= 1", loc[1]), ("-", loc[2])])
    assert text == "(a or b) and x >= 1"
    assert [(text[s:e], l.line) for s, e, l in spans] == [("(a or b)", 0), ("x >= 1", 1)]
    text, _ = row_condition(None, ("y + z",), [("< 2", loc[1])])
    assert text == "(y + z) < 2"
    assert negate_earlier("c", ["a", "b or d"]) == "c and not (a) and not (b or d)"


def test_each_row_is_an_ordinary_rule() -> None:
    book = load_rulebook(str(DATA / "book.yaml"))
    assert set(book.tables) == {"size", "rank", "band", "points"}
    assert book.tables["size"].rows == ("size-large", "size-middle", "size-little")
    mid = book.rule("size-middle")
    assert mid is not None and mid.table == "size"
    assert mid.when == "revenue >= params.mid and revenue < params.big"
    assert mid.classify == (("size", "middle"),)
    assert book.rule("points-fit").score == (("points", "20"),)  # type: ignore[union-attr]
    band_rest = book.rule("band-rest")
    assert band_rest is not None
    assert band_rest.when == "true and not (revenue >= params.big and fit == high) and not (revenue >= params.mid)"


def test_the_hit_policies_on_every_engine() -> None:
    r = run("test", str(DATA / "book.test.yaml"))
    assert r.exit_code == 0, r.output
    assert "8 passed, 0 failed" in r.output


def test_explain_and_evidence_work_for_rows(tmp_path: Path) -> None:
    acc = tmp_path / "a.yaml"
    acc.write_text("id: a\nname: A\nrevenue: 3M\nfit: high\n", encoding="utf-8")
    r = run("explain", str(acc), "-r", str(DATA / "book.yaml"), "--rule", "size-middle", "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "size-middle" in r.output and "fired" in r.output


def _book(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "t.yaml"
    f.write_text(text, encoding="utf-8")
    return f


HEAD = ("rulebook: t\nfacts:\n  id: {type: string}\n  name: {type: string}\n  revenue: {type: money}\n"
        "dimensions:\n  size: {values: [large, little]}\n")


@pytest.mark.parametrize("table, code, line, words", [
    ("tables:\n  - table: s\n    concept: standard.pyramid\n    source: recon\n    inputs: [revenue]\n"
     "    outputs: [classify.size]\n    rows:\n      - {id: s-a, when: [\">= 1\", \"-\"], then: large}\n",
     "rulebook.table-row", 15, "has 2 cells for 1 input column"),
    ("tables:\n  - table: s\n    concept: standard.pyramid\n    source: recon\n    inputs: [revenue]\n"
     "    outputs: [classify.size]\n    rows:\n      - {id: s-a, when: \"[1..2\", then: large}\n",
     "rulebook.table-cell", 15, "cannot read the interval"),
    ("tables:\n  - table: s\n    concept: standard.pyramid\n    source: recon\n    inputs: [revenue]\n"
     "    outputs: [classify.size]\n    rows:\n      - id: s-a\n        when: \">= revenu\"\n        then: large\n",
     "rulebook.condition", 16, "did you mean 'revenue'?"),
    ("tables:\n  - table: s\n    concept: standard.pyramid\n    source: recon\n    inputs: [revenue]\n"
     "    outputs: [size]\n    rows:\n      - {id: s-a, when: \">= 1\", then: large}\n",
     "rulebook.value", 13, "an output column is classify.<dimension>"),
    ("tables:\n  - table: s\n    concept: standard.pyramid\n    source: recon\n    inputs: [revenue]\n"
     "    outputs: [classify.size]\n    rows:\n      - {id: s-a, when: \">= 1\", then: huge}\n",
     "rulebook.unknown-value", 15, "'huge' is not a value of size"),
    ("tables:\n  - table: s\n    concept: standard.pyramid\n    source: recon\n    hit_policy: unique-ish\n"
     "    inputs: [revenue]\n    outputs: [classify.size]\n    rows:\n      - {id: s-a, when: \">= 1\", then: large}\n",
     "rulebook.hit-policy", 12, "hit policy 'unique-ish' is not known"),
])
def test_table_mistakes_point_at_the_cell(tmp_path: Path, table: str, code: str, line: int, words: str) -> None:
    f = _book(tmp_path, HEAD + table)
    with pytest.raises(RulebookError) as e:
        load_rulebook(str(f))
    found = [(p.code, p.location.line, p.render()) for p in e.value.problems]
    assert any(c == code and ln == line and words in text for c, ln, text in found), found


def test_an_overlay_replaces_a_whole_table() -> None:
    book = load_rulebook(str(DATA / "overlay.yaml"))
    assert book.tables["size"].rows == ("size-large", "size-little")
    assert book.rule("size-middle") is None
    large = book.rule("size-large")
    assert large is not None and large.when == "revenue >= 50M" and large.source == "company:acme"


def test_a_table_defined_again_without_replace_is_an_error(tmp_path: Path) -> None:
    text = (DATA / "overlay.yaml").read_text(encoding="utf-8").replace("    replace: true\n", "")
    f = tmp_path / "o.yaml"
    f.write_text(text.replace("[book.yaml]", f"[{DATA / 'book.yaml'}]"), encoding="utf-8")
    with pytest.raises(RulebookError) as e:
        load_rulebook(str(f))
    assert [p.code for p in e.value.problems] == ["rulebook.duplicate-table"]
    assert "add 'replace: true'" in e.value.problems[0].hint


def test_replace_without_an_earlier_table_is_an_error(tmp_path: Path) -> None:
    text = (DATA / "overlay.yaml").read_text(encoding="utf-8").replace("table: size", "table: sise")
    f = tmp_path / "o.yaml"
    f.write_text(text.replace("[book.yaml]", f"[{DATA / 'book.yaml'}]"), encoding="utf-8")
    with pytest.raises(RulebookError) as e:
        load_rulebook(str(f))
    codes = [p.code for p in e.value.problems]
    assert "rulebook.unknown-table" in codes
    assert any("did you mean 'size'?" in p.hint for p in e.value.problems)


def test_the_course_writes_its_band_families_as_tables() -> None:
    book = load_rulebook("course")
    assert len(book.tables) >= 15
    rows = [r for t in book.tables.values() for r in t.rows]
    assert len(rows) >= 45
    assert book.rule("current-sales-medium").table == "current-sales"  # type: ignore[union-attr]


def test_check_reports_table_gaps_overlaps_and_policies() -> None:
    r = run("check", str(DATA / "lint.yaml"))
    assert r.exit_code == 1, r.output
    out = r.output
    assert "error[lint.table-gap] at tables[size]" in out and "no row covers revenue in [1M, 2M)" in out
    assert "error[lint.table-overlap]" in out and "rows 'size-large' and 'size-middle'" in out \
        and "revenue in [10M, 12M)" in out
    assert "no row covers fit == low" in out
    assert out.count("error[lint.table-policy]") == 2
    assert "lint.unique-overlap" not in out  # the table's finding names the table; no second report


def test_the_test_tables_and_the_course_are_clean_under_strict() -> None:
    for ref in (str(DATA / "book.yaml"), str(DATA / "overlay.yaml"), "course"):
        r = run("check", ref, "--strict")
        assert r.exit_code == 0, r.output


def test_a_gap_the_algebra_cannot_read_is_a_warning_not_an_error(tmp_path: Path) -> None:
    f = _book(tmp_path, HEAD.replace("revenue: {type: money}", "revenue: {type: money}\n  cost: {type: money}")
              + "tables:\n  - table: s\n    concept: standard.pyramid\n    source: recon\n    complete: true\n"
              "    inputs: [revenue]\n    outputs: [classify.size]\n    rows:\n"
              "      - {id: s-a, when: \">= cost\", then: large}\n      - {id: s-b, when: \"< cost / 2\", then: little}\n")
    r = run("check", str(f))
    assert "warning[lint.table-unchecked]" in r.output and "not proved" in r.output, r.output
    assert "error[lint.table-gap]" not in r.output
