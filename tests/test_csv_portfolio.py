"""CRM exports (csvio), `advise` on a CSV, and `kamrules portfolio` (portfolio, cli_portfolio)."""
from __future__ import annotations

import csv
import functools
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.cli import main
from kamrules.core.errors import AccountError, InputError, UsageError
from kamrules.io import csvio
from kamrules.portfolio import portfolio
from kamrules.rulebook.load import load_rulebook

DATA = Path(__file__).parent / "data" / "csv"
BOOK = str(DATA / "book.yaml")
REL = "tests/data/csv"  # the tests run from the repo root (conftest), and outputs name files this way
AS_OF = ("--as-of", "2026-06-30")


@pytest.fixture(scope="module")
def book():
    return load_rulebook(BOOK)


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def rows_of(file: str, book) -> dict[str, dict]:
    return {a.id: dict(a.values) for a in csvio.load_accounts(file, book)}


# --------------------------------------------------------------------------- reading

# The fast reader of flat rows (io/account.py FlatReader, csvio.rows_reader) must be the grammar:
# a row it accepts gives the very Account account_from_doc gives, and a row the grammar has anything
# to say about goes the full way (so its problems, hints and file:line are the grammar's).

FLAT_HEADERS = ["客户编号", "客户名称", "所属行业", "区域", "客户经理", "年交易额(万元)", "上年交易额(万元)", "交易次数",
                "最大单笔订单(万元)", "员工人数", "是否上市", "战略契合度", "毛利率(%)", "平均折扣率", "回款周期(天)",
                "返利", "服务成本", "有客户计划", "标杆价值", "客户满意度"]
_TRICKY = ["", "0", "12", "-5", "1,200", "1.5", "36.16", "1e400", "12%", "120%", "-116%", "0.3", "1.2M", "120万",
           "1亿", "USD 100", "$1.2M", "100元", "100 EUR", "是", "否", "yes", "高", "中", "低", "high", "不详", "1千人左右",
           "KH-000001", "KH/0008", "a b", "2026-03-01", "x" * 300, "  12  ", "NaN", "inf", "１２", "200人", "=1+1",
           "12.5", "3天", "90 days", "-0", "+7", "1,2", "0.000001", "99999999999999999", "y" * 2001, "a\u2028b"]
_FLAT_CELL = st.one_of(st.sampled_from(_TRICKY), st.text(st.sampled_from("0123456789.,-+% 万亿元aeEkM是否高中低人天$¥:/_"),
                                                               max_size=8))


@functools.lru_cache(maxsize=1)
def _course():
    return load_rulebook("course")  # once: loading checks every file's hash, many times slower than a row


def _flat_table(rows: list[list[str]]) -> tuple[csvio.Table, csvio.Columns]:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(FLAT_HEADERS)
    w.writerows(rows)
    table = csvio.read_table("flat.csv", text=out.getvalue())
    return table, csvio.resolve_columns(table, _course())


def _both_ways(table: csvio.Table, columns: csvio.Columns) -> int:
    """Every row read fast and the full way: the same result. How many rows the fast way took."""
    book = _course()
    reader = csvio.rows_reader(columns, book)
    assert reader is not None
    fast = 0
    for row in table.rows:
        quick = csvio.row_result(table, columns, row, book, reader)
        full = csvio.row_result(table, columns, row, book)
        assert quick == full and repr(quick) == repr(full), (row, quick, full)
        fast += row.line not in table.row_problems and reader.read(table.file, row) \
            is not None
    return fast


_MONEY = ["0", "12", "36.16", "1,200", "120万", "1亿", "USD 100", "$1.2M", "¥100", "100元", "-5", ""]
_COUNT = ["0", "7", "1,200", "200人", "12.5", "-3", ""]
_SHARE = ["18", "18%", "-116", "0.3", "120%", ""]
_WORD = ["高", "中", "低", "high", "是", "否", "yes", ""]
_GOOD = {  # per column: values a CRM writes there, good and bad (one row draws from these, plus one odd cell)
    "客户编号": ["k1", "KH-000001", "a.b_c"], "客户名称": ["和兴食品", "Alpha"], "所属行业": ["钢铁", ""],
    "区域": ["华东", ""], "客户经理": ["李明", ""], "年交易额(万元)": _MONEY, "上年交易额(万元)": _MONEY,
    "交易次数": _COUNT, "最大单笔订单(万元)": _MONEY, "员工人数": _COUNT, "是否上市": _WORD, "战略契合度": _WORD,
    "毛利率(%)": _SHARE, "平均折扣率": _SHARE, "回款周期(天)": _COUNT, "返利": _MONEY, "服务成本": _MONEY,
    "有客户计划": _WORD, "标杆价值": _WORD, "客户满意度": ["72", "4.5", "", "120"]}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 99), min_size=len(FLAT_HEADERS), max_size=len(FLAT_HEADERS)),
                          st.integers(-1, len(FLAT_HEADERS) - 1), _FLAT_CELL), min_size=1, max_size=6))
def test_the_fast_row_reader_is_the_grammar(rows):
    built = []
    for picks, odd, cell in rows:
        row = [_GOOD[h][k % len(_GOOD[h])] for h, k in zip(FLAT_HEADERS, picks)]
        if odd >= 0:
            row[odd] = cell
        built.append(row)
    table, columns = _flat_table(built)
    assert not columns.problems
    _both_ways(table, columns)


_AMOUNT_TEXTS = st.one_of(
    st.sampled_from(["0", "-0", "12", "-5", "36.16", "0.000001", "1,200", "1,200.5", "999999999999999", "99999999999",
                     "100000000000", "1234567890123456", "12.1234567890123", "+7", "1.", ".5", "１２", "1e3", "12万", "-"]),
    st.text(st.sampled_from("0123456789.-,+"), min_size=1, max_size=17))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(unit=st.sampled_from(["元", "千元", "万元", "百万元", "亿元", "万", "RMB"]),
       texts=st.lists(_AMOUNT_TEXTS, min_size=1, max_size=8))
def test_money_under_any_unit_is_read_fast_as_the_grammar_reads_it(unit: str, texts: list[str]) -> None:
    """FlatReader.read_row parses a simple number under a unit itself (its power of ten as the
    shift), not as plain_amount(text + unit): the same value, or the grammar's answer."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["客户编号", "客户名称", f"年交易额({unit})", "返利"])
    w.writerows([[f"k{i}", "Alpha", t, t] for i, t in enumerate(texts)])
    table = csvio.read_table("units.csv", text=out.getvalue())
    columns = csvio.resolve_columns(table, _course())
    assert not columns.problems and columns.columns[2].suffix == csvio._MONEY_UNITS[unit.lower()]
    _both_ways(table, columns)


def test_the_fast_row_reader_takes_good_rows_and_leaves_the_others() -> None:
    good = ["k1", "Alpha", "钢铁", "华东", "李明", "120", "1亿", "7", "12", "200人", "是", "高", "18", "12%", "30", "5万",
            "", "否", "中", "72"]
    bad = [("客户编号", "KH/1"), ("年交易额(万元)", "USD 100"), ("员工人数", "不详"), ("毛利率(%)", "-2000"), ("客户名称", "")]
    rows = [good] + [[v if h != col else cell for h, v in zip(FLAT_HEADERS, good)] for col, cell in bad]
    table, columns = _flat_table(rows)
    assert _both_ways(table, columns) == 1  # only the good row is read fast
    results = [csvio.row_result(table, columns, r, _course()) for r in table.rows]
    assert results[0].account is not None and all(r.account is None for r in results[1:])
    assert [p.code for r in results[1:] for p in r.problems] == [
        "account.bad-id", "account.currency", "account.value", "account.range", "account.missing"]


def test_the_fast_row_reader_reads_a_crm_export_as_the_grammar_does(tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    import portfolio as bench  # the benchmark's CRM-style export: free text in numbers, bad ids, …

    text = bench.accounts_csv(tmp_path / "export.csv", 600).read_text(encoding="utf-8-sig")
    table = csvio.read_table("export.csv", text=text)
    columns = csvio.resolve_columns(table, _course())
    fast = _both_ways(table, columns)
    assert 0.9 * len(table.rows) < fast < len(table.rows)  # the good rows fast, the bad ones the full way


def test_rows_with_lists_or_dotted_headers_take_the_full_way():
    book = load_rulebook("course")
    for headers in (["客户编号", "客户名称", "团队成员"], ["id", "name", "company.revenue"], ["id", "name", "as_of"]):
        table = csvio.read_table("x.csv", text=",".join(headers) + "\nk1,A,x\n")
        assert csvio.rows_reader(csvio.resolve_columns(table, book), book) is None, headers


def test_bom_comma_chinese_headers_units_lists_and_dotted(book):
    table = csvio.read_table(f"{REL}/accounts.csv")
    assert table.delimiter == "," and table.headers[0] == "客户编号"  # the BOM is gone
    acc = rows_of(f"{REL}/accounts.csv", book)
    assert list(acc) == ["k1", "k2", "m1", "s1", "u1"]
    k1 = acc["k1"]
    assert k1["revenue"] == 20_000_000  # 年交易额(万元) 2000 → 2000万
    assert k1["gross_margin"] == pytest.approx(0.20) and k1["discount_rate"] == pytest.approx(0.10)
    assert k1["team.account_manager"] == "李明"  # a label that lives under team
    assert k1["team.members"] == ("李明", "张工")  # ; separated
    assert k1["competition.competitors"] == ("宝钢", "鞍钢")  # 、 separated, dotted header
    assert k1["company.revenue"] == 100_000_000
    assert "notes" not in k1 and "team.members" not in acc["k2"]  # empty cell = missing
    assert acc["s1"]["name"] == '=HYPERLINK("http://x","点我")'  # read as it is; neutralised only on output


def test_dotted_headers_become_nested_mappings(book):
    table = csvio.read_table(f"{REL}/tabs.tsv")
    columns = csvio.resolve_columns(table, book)
    doc = csvio.row_doc(table, columns, table.rows[0])
    assert doc.data["team"] == {"account_manager": "Li Ming", "members": ["Li Ming", "Zhang"]}
    assert doc.data["company"] == {"revenue": "300M"}  # values stay strings for the loader
    assert doc.data["revenue"] == "1,200,000"
    assert doc.loc(("team", "members")).line == 2
    (acc,) = csvio.load_accounts("x.csv", book, text="id,name,team.客户经理,as_of\na,A,李明,2026/3/1\n")
    assert acc.values["team.account_manager"] == "李明" and str(acc.as_of) == "2026-03-01"


def test_gbk_with_semicolons(book):
    table = csvio.read_table(f"{REL}/gbk-semicolon.csv")
    assert (table.encoding, table.delimiter) == ("gbk", ";")
    g1 = rows_of(f"{REL}/gbk-semicolon.csv", book)["g1"]
    assert g1["name"] == "华信钢铁" and g1["revenue"] == 1_200_000 and g1["competition.competitors"] == ("宝钢", "鞍钢")


def test_tabs(book):
    assert csvio.read_table(f"{REL}/tabs.tsv").delimiter == "\t"
    t1 = rows_of(f"{REL}/tabs.tsv", book)["t1"]
    assert t1["revenue"] == 1_200_000 and t1["company.revenue"] == 300_000_000


@pytest.mark.parametrize("text, delimiter", [
    ("a,b;c\n1,2;3\n", ","),
    ("a;b;c\n1;2;3\n", ";"),
    ('"x,y";b;c\n1;2;3\n', ";"),  # a comma inside quotes does not count
    ("a\tb,c\tb\n", "\t"),
    ("sep=;\na,b;c\n", ";"),  # Excel's directive wins
    ("single\nvalue\n", ","),
])
def test_sniffing(text, delimiter):
    assert csvio.read_table("t.csv", text=text).delimiter == delimiter


def test_error_in_row_on_line_5_names_line_column_and_header(book):
    with pytest.raises(AccountError) as e:
        csvio.load_accounts(f"{REL}/row5.csv", book)
    (p,) = e.value.problems
    # the first account's name spans lines 2–3, so the third account is on physical line 5
    assert (p.location.line, p.location.col, p.path) == (5, 6, "毛利率")
    assert "'abc' is not a number" in p.message
    assert str(p.location) == f"{REL}/row5.csv:5:6"


def test_missing_required_cell_points_at_the_row(book):
    with pytest.raises(AccountError) as e:
        csvio.load_accounts("x.csv", book, text="id,name,revenue\na,,1M\n")
    (p,) = e.value.problems
    assert (p.code, p.location.line, p.location.col, p.path) == ("account.missing", 2, 3, "name")
    assert "the cell under 'name' is empty" in p.message


def test_a_bare_percentage_in_a_cell_gets_the_did_you_mean_a_yaml_number_gets(book):
    """A CRM column of percentages written without the sign: 20 is read as a fraction (2000 %),
    refused, and the hint says what was probably meant — as for the YAML number 20."""
    with pytest.raises(AccountError) as e:
        csvio.load_accounts("x.csv", book, text="id,name,gross_margin\na,A, 20 \nb,B,20.5\nc,C,20%\nd,D,0.2\n")
    got = [(p.location.line, p.code, p.hint) for p in e.value.problems]
    assert got == [(2, "account.range", "a bare number is a fraction: did you mean 20%?"),
                   (3, "account.range", "a bare number is a fraction: did you mean 20.5%?")]
    with pytest.raises(AccountError) as e:  # not for a figure no percentage would explain
        csvio.load_accounts("x.csv", book, text="id,name,gross_margin\na,A,250\n")
    assert "did you mean" not in e.value.problems[0].hint


TITLED = "客户列表 导出时间：2026-06-30,,,\n\n客户编号,客户名称,年交易额(万元),毛利率(%)\nKH-1,甲公司,1200,18%\n"


def test_a_report_title_above_the_header_is_one_problem_naming_the_header_line(book, tmp_path):
    """A CRM report's title line above the header: not a flood of missing and unknown columns,
    but the line the header is on and how to read the file — by every path that reads a CSV."""
    with pytest.raises(AccountError) as e:
        csvio.load_accounts("t.csv", book, text=TITLED)
    (p,) = e.value.problems
    assert (p.code, p.location.line) == ("csv.title-above-header", 1)
    assert "line 3 is (客户编号, 客户名称, 年交易额(万元), 毛利率(%), …)" in p.message
    assert p.hint.startswith("delete the 2 lines above line 3") and "kamrules init mapping" in p.hint
    f = tmp_path / "titled.csv"
    f.write_text(TITLED, encoding="utf-8")
    for args in (["portfolio", str(f)], ["advise", str(f), "--account", "KH-1"]):
        r = CliRunner().invoke(main, [*args, "--as-of", "2026-06-30", "--engine", "reference"])
        assert r.exit_code == 2 and r.stdout == "", r.output
        assert r.stderr.count("error[") == 1 and f"{f}:1:1: error[csv.title-above-header]" in r.stderr, r.stderr
    # no header below: the columns are missing, as before
    with pytest.raises(AccountError) as e:
        csvio.load_accounts("t.csv", book, text="客户列表,,\n编号X,名称X,年交易额\nKH-1,甲,1\n")
    assert "csv.title-above-header" not in {p.code for p in e.value.problems}
    assert "csv.missing-column" in {p.code for p in e.value.problems}


def test_rows_refused_for_the_same_cell_are_one_problem_on_the_terminal_and_each_in_the_json(tmp_path):
    f = tmp_path / "na.csv"
    f.write_text("id,name,employees,revenue\nA-1,Alpha,不详,1M\nA-2,Beta,不详,2M\nA-3,Gamma,不详,3M\n"
                 "A-4,Delta,500+,4M\nA-5,Eps,20,5M\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["portfolio", str(f), "--skip-invalid", "--as-of", "2026-06-30", "--engine",
                                  "reference", "-f", "json"])
    assert r.exit_code == 0, r.output
    lines = [line for line in r.stderr.splitlines() if "error[account.value]" in line]
    assert len(lines) == 2 and lines[0].endswith("'不详' is not a number kamrules can read — 3 rows like this one, "
                                                 "on lines 2, 3, 4") and "'500+'" in lines[1]
    assert "skipped 4 invalid accounts" in r.stderr
    assert [p["line"] for p in json.loads(r.stdout)["skipped"]] == [2, 3, 4, 5]


def test_missing_required_column_reported_once(book):
    with pytest.raises(AccountError) as e:
        csvio.load_accounts("x.csv", book, text="id,revenue\na,1M\nb,2M\nc,3M\n")
    assert [(p.code, p.path, p.location.line) for p in e.value.problems] == [("csv.missing-column", "name", 1)]


def test_duplicate_header_names_both_columns(book):
    with pytest.raises(AccountError) as e:
        csvio.load_accounts(f"{REL}/dup-header.csv", book)
    (p,) = e.value.problems
    assert p.code == "csv.duplicate-header" and (p.location.line, p.location.col) == (1, 20)
    assert p.message == "columns 3 '毛利率' and 5 '毛利率' have the same header"


def test_two_headers_for_one_fact(book):
    with pytest.raises(AccountError) as e:
        csvio.load_accounts("x.csv", book, text="id,name,revenue,年交易额\na,A,1M,2M\n")
    (p,) = e.value.problems
    assert p.code == "csv.duplicate-fact" and p.message == "columns 3 'revenue' and 4 '年交易额' both give 'revenue'"


def test_list_of_mappings_header_is_refused_with_a_hint(book):
    with pytest.raises(AccountError) as e:
        csvio.load_accounts(f"{REL}/contacts.csv", book)
    (p,) = e.value.problems
    assert p.code == "csv.list-of-mappings" and p.path == "联系人" and p.location.col == 11
    assert "a list of records (name, role, …), which one CSV row cannot hold" in p.message
    assert "YAML account file" in p.hint


def test_unknown_and_group_headers(book):
    with pytest.raises(AccountError) as e:
        csvio.load_accounts("x.csv", book, text="id,name,Revnue,team,#ignored\na,A,1,2,3\n")
    unknown, group = e.value.problems
    assert unknown.code == "csv.unknown-header" and "did you mean 'revenue'?" in unknown.hint
    assert group.code == "csv.group-header" and "team.account_manager" in group.hint


def test_header_units(book):
    text = "id,name,交易额(亿元),毛利率(%),平均收款周期(天)\na,A,1.5,18,45\nb,B,3000万,0.5%,30\n"
    acc = {a.id: a.values for a in csvio.load_accounts("x.csv", book, text=text)}
    assert acc["a"]["revenue"] == 150_000_000 and acc["a"]["gross_margin"] == pytest.approx(0.18)
    assert acc["a"]["collection_days"] == 45
    assert acc["b"]["revenue"] == 30_000_000 and acc["b"]["gross_margin"] == pytest.approx(0.005)  # units as written
    with pytest.raises(AccountError) as e:
        csvio.load_accounts("x.csv", book, text="id,name,毛利率(万元)\na,A,1\n")
    assert e.value.problems[0].code == "csv.header-unit"


def test_too_many_cells_blames_the_row_with_a_quoting_hint(book):
    result = csvio.read_accounts(f"{REL}/too-many.csv", book)
    bad, good = result.rows
    assert bad.account is None and good.account is not None and good.account.values["revenue"] == 1_200_000
    (p,) = bad.problems
    assert p.code == "csv.too-many-cells" and (p.location.line, p.location.col) == (2, 12)
    assert p.message == "line 2 has 6 cells, but the header has 4 columns"
    assert 'quote it ("1,200,000")' in p.hint


@pytest.mark.parametrize("text, code", [
    ("", "csv.empty"),
    ("\n , ,\n", "csv.empty"),
    ('id,name\na,"never closed\n', "csv.unclosed-quote"),
])
def test_unusable_files(text, code):
    with pytest.raises(InputError) as e:
        csvio.read_table("x.csv", text=text)
    assert e.value.problems[0].code == code


def test_empty_file_and_header_only(book):
    result = csvio.read_accounts(f"{REL}/empty.csv", book)
    assert [(p.code, str(p.location)) for p in result.problems] == [("csv.empty", f"{REL}/empty.csv:1:1")]
    result = csvio.read_accounts("x.csv", book, text="id,name\n")
    assert [p.code for p in result.problems] == ["csv.no-rows"]


def test_binary_junk_and_workbooks(tmp_path, book):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"id,name\n" + bytes(range(1, 32)) * 50)
    with pytest.raises(InputError) as e:
        csvio.read_table(str(junk))
    assert e.value.problems[0].code == "file.binary" and "CSV" in e.value.problems[0].hint
    book_file = tmp_path / "export.csv"
    book_file.write_bytes(b"PK\x03\x04" + b"\x00" * 64)  # an .xlsx saved under a .csv name
    with pytest.raises(InputError) as e:
        csvio.read_table(str(book_file))
    assert e.value.problems[0].code == "csv.workbook" and "Save As" in e.value.problems[0].hint


def test_size_is_capped_like_yaml(tmp_path, monkeypatch):
    monkeypatch.setenv("KAMRULES_MAX_FILE_BYTES", "100")
    big = tmp_path / "big.csv"
    big.write_text("id,name\n" + "a,b\n" * 50)
    with pytest.raises(InputError) as e:
        csvio.read_table(str(big))
    assert e.value.problems[0].code == "file.too-large"


_CELL = st.text(alphabet='ab,;\t"\n 中=-', max_size=8)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.lists(_CELL, min_size=1, max_size=5), min_size=1, max_size=5),
       delimiter=st.sampled_from(csvio.DELIMITERS), terminator=st.sampled_from(["\r\n", "\n"]))
def test_scanner_reads_what_the_csv_module_writes(rows, delimiter, terminator):
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=terminator).writerows(rows)
    text = buf.getvalue()
    records = list(csvio.scan(text, delimiter, "t.csv"))
    assert [[c.text for c in r.cells] for r in records] == [[v.strip() for v in row] for row in rows]
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\n", text)]
    for rec in records:
        for c in rec.cells:  # every cell's line:col is where its text (or its opening quote) begins
            at = text[starts[c.line - 1] + c.col - 1:]
            assert at.startswith('"') or at.lstrip(" \t").startswith(c.text)


# --------------------------------------------------------------------------- advise on a CSV

def test_advise_one_row_csv():
    r = run("advise", f"{REL}/one.csv", "-r", BOOK, *AS_OF, "-f", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["account"] == {"id": "o1", "name": "单行客户"}
    assert [f["rule"] for f in data["findings"]] == ["over-discount"]


def test_advise_multi_row_csv_needs_account():
    r = run("advise", f"{REL}/accounts.csv", "-r", BOOK, *AS_OF)
    assert r.exit_code == 2
    assert "holds 5 accounts; advise is about one" in r.output
    assert "pick one with --account ID (k1, k2, m1, s1, u1)" in r.output
    assert f"kamrules portfolio {REL}/accounts.csv" in r.output


def test_advise_multi_row_csv_with_account():
    r = run("advise", f"{REL}/accounts.csv", "--account", "k2", "-r", BOOK, *AS_OF, "-f", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["account"]["id"] == "k2" and data["classification"]["final"] == "key"
    assert {f["rule"] for f in data["findings"]} == {"over-discount", "slow-collection"}


def test_advise_unknown_account_suggests_and_lists():
    r = run("advise", f"{REL}/accounts.csv", "--account", "k22", "-r", BOOK, *AS_OF)
    assert r.exit_code == 2
    assert "--account: error[cli.account-unknown] at k22: no account with the id 'k22'" in r.output
    assert "did you mean 'k2'?" in r.output
    assert "one of: k1, k2, m1, s1, u1" in r.output


def test_advise_picks_a_good_row_beside_a_bad_one():
    r = run("advise", f"{REL}/mixed-bad.csv", "--account", "good2", "-r", BOOK, *AS_OF, "-f", "json")
    assert r.exit_code == 0 and json.loads(r.output)["account"]["id"] == "good2"
    r = run("advise", f"{REL}/mixed-bad.csv", "--account", "bad1", "-r", BOOK, *AS_OF)
    assert r.exit_code == 2 and f"{REL}/mixed-bad.csv:3:12: error[account.value] at discount_rate" in r.output


def test_advise_yaml_with_other_account_id_is_refused(book):
    with pytest.raises(UsageError) as e:
        csvio.select_account(f"{REL}/acc.yaml", book, "zz")
    assert "holds the account 'y1', not 'zz'" in e.value.problems[0].message
    assert csvio.select_account(f"{REL}/acc.yaml", book, "y1").id == "y1"


def test_advise_course_example_with_chinese_headers():
    r = run("advise", "examples/portfolio/crm-export.csv", "--account", "HX-001", *AS_OF, "-f", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["account"] == {"id": "HX-001", "name": "华信钢铁"}
    assert data["rulebook"]["id"] == "course"


# --------------------------------------------------------------------------- portfolio

MIXED = (f"{REL}/accounts.csv", f"{REL}/acc.yaml")


def test_portfolio_json_rows_sorted_and_summarised():
    r = run("portfolio", *MIXED, "-r", BOOK, *AS_OF, "-f", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    # key (health 50, 60, 80) → medium → small → unprofitable
    assert [a["id"] for a in data["accounts"]] == ["k2", "y1", "k1", "m1", "s1", "u1"]
    k2 = data["accounts"][0]
    assert k2["source"] == f"{REL}/accounts.csv:3" and k2["classification"] == {"final": "key"}
    assert k2["scores"] == {"health": 50.0} and k2["warnings"]["high"] == 1 and k2["warnings"]["medium"] == 1
    assert k2["top_warning"]["rule"] == "over-discount" and k2["top_warning"]["title"] == "Discount too deep"
    assert data["accounts"][1]["source"] == f"{REL}/acc.yaml"
    s = data["summary"]
    assert s["by_final"] == {"key": 3, "medium": 1, "small": 1, "unprofitable": 1} and s["unclassified"] == 0
    # revenues 20M, 15M, 12M, 8M, 3M, 0.5M: the top 20% of 6 is 1 account, 20M of 58.5M
    assert (s["pareto"]["top"], s["pareto"]["of"]) == (1, 6)
    assert s["pareto"]["revenue_share"] == pytest.approx(20 / 58.5)
    # company.revenue is 1亿 for the CSV rows; y1 does not give it
    conc = s["concentration"]
    assert [(a["id"], a["share"]) for a in conc["accounts"]] == [("k1", 0.2), ("k2", 0.15)]
    assert conc["threshold"] == 0.1 and conc["known"] == 5 and conc["total_share"] is None


def test_portfolio_markdown_both_languages():
    en = run("portfolio", *MIXED, "-r", BOOK, *AS_OF).output
    assert en.startswith("# Account portfolio\n\nRulebook csvbook 0.1.0 · as of 2026-06-30")
    assert "| k2 | Beta | Key account | 15M | 50 | 1 high · 1 medium | Discount too deep |" in en
    assert "The top 1 of 6 accounts (16.7%) bring 34.2% of the revenue (58.5M in all)." in en
    assert "2 accounts are each 10% or more of the company's revenue:" in en and "  - Alpha (`k1`): 20%" in en
    zh = run("portfolio", *MIXED, "-r", BOOK, *AS_OF, "--lang", "zh").output
    assert zh.startswith("# 客户组合")
    assert "| k2 | Beta | 大客户 | 1500万 | 50 | 1 高 · 1 中 | 折扣过高 |" in zh
    assert "**客户分类**：大客户 3 · 中客户 1 · 小客户 1 · 亏损客户 1" in zh
    assert "年交易额最高的 1 个客户（6 个客户的 16.7%）贡献了 34.2% 的年交易额" in zh


def test_portfolio_csv_neutralises_formulas_keeps_numbers(tmp_path):
    out = tmp_path / "p.csv"
    r = run("portfolio", *MIXED, "-r", BOOK, *AS_OF, "-f", "csv", "-o", str(out))
    assert r.exit_code == 0 and r.output == ""
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # Excel reads the Chinese; CRLF rows
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    head = rows[0]
    assert head[:5] == ["Id", "Name", "Class", "Revenue", "Health"]
    by_id = {row[0]: dict(zip(head, row)) for row in rows[1:]}
    assert by_id["s1"]["Name"] == "'=HYPERLINK(\"http://x\",\"点我\")"
    assert by_id["u1"]["Name"] == "'-Delta"  # text starting with - is neutralised too
    assert by_id["k1"]["Revenue"] == "20000000" and by_id["k2"]["Health"] == "50"  # numbers stay numbers
    assert by_id["k2"]["Warnings: high"] == "1" and by_id["k2"]["Top warning"] == "Discount too deep"
    assert [p.name for p in tmp_path.iterdir()] == ["p.csv"]


@pytest.mark.parametrize("text, expected", [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    # a leading CR is a formula start (prefixed) and a line break (one account, one line: a space)
    ("\rx", "' x"), ("a=b", "a=b"), ("华信", "华信"), ("", ""),
    # controls and bidi overrides are shown, not written raw (core/textsafe.csv_cell)
    ("\x1b[31mred", "\\x1b[31mred"), ("a\u202eb", "a\\u202eb"), ("a\nb", "a b"),
])
def test_neutralise(text, expected):
    assert portfolio.neutralise(text) == expected


def test_csv_negative_numbers_stay_numbers():
    assert portfolio._csv_number(-5.0) == -5 and portfolio._csv_number(-0.25) == -0.25
    assert portfolio._csv_number(None) == ""


@pytest.mark.parametrize("fmt", ["md", "csv", "json"])
def test_portfolio_is_deterministic(fmt):
    a = run("portfolio", *MIXED, "-r", BOOK, *AS_OF, "-f", fmt)
    b = run("portfolio", *reversed(MIXED), "-r", BOOK, *AS_OF, "-f", fmt)  # input order does not matter
    c = run("portfolio", *MIXED, "-r", BOOK, *AS_OF, "-f", fmt)
    assert a.exit_code == 0 and a.stdout_bytes == c.stdout_bytes
    assert a.stdout_bytes == b.stdout_bytes


def test_portfolio_bad_accounts_listed_all_and_nothing_written(tmp_path):
    out = tmp_path / "p.md"
    r = run("portfolio", f"{REL}/mixed-bad.csv", f"{REL}/contacts.csv", f"{REL}/accounts.csv", "-r", BOOK,
            *AS_OF, "-o", str(out))
    assert r.exit_code == 2
    assert f"{REL}/contacts.csv:1:11: error[csv.list-of-mappings]" in r.output
    assert f"{REL}/mixed-bad.csv:3:12: error[account.value] at discount_rate" in r.output
    assert "kamrules: 2 problems; nothing was written." in r.output
    assert not out.exists()


def test_portfolio_skip_invalid():
    r = CliRunner().invoke(main, ["portfolio", f"{REL}/mixed-bad.csv", "-r", BOOK, *AS_OF, "-f", "json",
                                  "--skip-invalid"])
    assert r.exit_code == 0, r.output
    assert f"{REL}/mixed-bad.csv:3:12: error[account.value]" in r.stderr
    assert "kamrules: skipped 1 invalid account." in r.stderr
    data = json.loads(r.stdout)
    assert [a["id"] for a in data["accounts"]] == ["good2", "good1"]
    assert [p["line"] for p in data["skipped"]] == [3]
    md = CliRunner().invoke(main, ["portfolio", f"{REL}/mixed-bad.csv", "-r", BOOK, *AS_OF, "--skip-invalid"])
    assert "Invalid accounts skipped: 1 (their problems are on standard error)." in md.stdout


def test_portfolio_skip_invalid_with_nothing_left():
    r = run("portfolio", f"{REL}/contacts.csv", "-r", BOOK, "--skip-invalid")
    assert r.exit_code == 2 and "there is no valid account to evaluate" in r.output


def test_portfolio_duplicate_ids_across_files(tmp_path):
    other = tmp_path / "k1.yaml"
    other.write_text("id: k1\nname: Again\nrevenue: 1M\n")
    r = run("portfolio", f"{REL}/accounts.csv", str(other), "-r", BOOK, *AS_OF)
    assert r.exit_code == 2
    assert f"error[portfolio.duplicate-id] at id: the id 'k1' is already used by {REL}/accounts.csv:2" in r.output


def test_portfolio_fail_on():
    r = run("portfolio", *MIXED, "-r", BOOK, *AS_OF, "--fail-on", "high")
    assert r.exit_code == 1 and r.output.startswith("# Account portfolio")  # the report is still printed
    assert run("portfolio", *MIXED, "-r", BOOK, *AS_OF, "--fail-on", "critical").exit_code == 0
    assert run("portfolio", f"{REL}/tabs.tsv", "-r", BOOK, *AS_OF, "--fail-on", "info").exit_code == 0


def test_portfolio_folder_and_course_example():
    r = run("portfolio", "examples/portfolio", *AS_OF, "-f", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert len(data["accounts"]) == 10 and data["rulebook"]["id"] == "course"
    order = ["key", "medium", "small", "unprofitable", None]
    keys = [(order.index(a["classification"]["final"]),
             a["scores"]["health"] if a["scores"]["health"] is not None else float("inf"), a["id"])
            for a in data["accounts"]]
    assert keys == sorted(keys)
    assert sum(data["summary"]["by_final"].values()) + data["summary"]["unclassified"] == 10
    injected = next(a for a in data["accounts"] if a["name"].startswith("="))
    csv_out = run("portfolio", "examples/portfolio", *AS_OF, "-f", "csv").output
    assert f"{injected['id']},\"'=HYPERLINK(" in csv_out


@pytest.mark.parametrize("command", [["advise"], ["portfolio"]])
def test_help_has_an_example(command):
    r = run(*command, "--help")
    assert r.exit_code == 0
    assert re.search(r"^\s+kamrules " + command[0] + " ", r.output, re.M)
    if command == ["advise"]:
        assert "--account ID" in r.output and "CSV export" in r.output


def test_explain_reads_a_row_of_a_crm_export():
    from click.testing import CliRunner

    from kamrules.cli import main

    r = CliRunner().invoke(main, ["explain", "examples/portfolio/crm-export.csv", "--account", "HX-001",
                                  "--as-of", "2026-06-30", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert '"id": "HX-001"' in r.output or "HX-001" in r.output
    multi = CliRunner().invoke(main, ["explain", "examples/portfolio/crm-export.csv"])
    assert multi.exit_code == 2 and "--account" in multi.output


def test_the_pareto_line_counts_the_accounts_the_verdict_counts():
    """Zero and negative revenues (credit notes, a lost account) have no share of a total: the
    Pareto line leaves them out with the missing ones, as the overview's concentration does."""
    import datetime as _dt

    from kamrules.portfolio import metrics
    from kamrules.portfolio.portfolio import Row, pareto

    def row(i: str, revenue: float | None) -> Row:
        return Row(i, i, "", _dt.date(2026, 6, 30), {}, {}, revenue, None, {}, None, frozenset())

    rows = [row("a", 10.0), row("b", 5.0), row("c", 0.0), row("d", -3.0), row("e", None), row("f", 4.0),
            row("g", 1.0)]
    p = pareto(rows, 0.2)
    # positive: 10, 5, 4, 1 (4 accounts); the top 20 % of 4 rounds to 1 account: 10 of 20
    assert p is not None and (p.top, p.of, p.missing) == (1, 4, 3)
    assert p.revenue_share == pytest.approx(0.5) and p.total == pytest.approx(20.0)
    c = metrics.concentration(((r.id, r.revenue) for r in rows if r.revenue is not None), 0.2)
    assert c is not None and (c.top_share_accounts, c.accounts, c.top_share) == (p.top, p.of, p.revenue_share)
    assert pareto([row("x", 0.0), row("y", -1.0)], 0.2) is None
