"""Hostile inputs at the edges (issue 9, classes 5–9), shared by the property tests
(tests/test_properties.py), the CI fuzz run (tests/test_fuzz.py) and benchmarks/fuzz.py:

- numbers and dates at and beyond the declared ranges (core/values.py);
- text that tries to drive a terminal, reorder what a reader sees, or fake Markdown structure;
- files that mix UTF-8 and GBK lines;
- CSV exports with hostile headers and cells, around a small row cap.

Each `fuzz_*` target runs one input through the real loaders and every output medium, and
checks the invariants: only kamrules' InputError may escape, JSON is strict, nothing prints
as -0, and no raw control character reaches any output.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import random
import re
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "bad" / "mini.yaml"
AS_OF = _dt.date(2026, 6, 30)

# Never raw in an output: C0 controls but tab and line feed, DEL, C1, bidi controls, line and
# paragraph separators. (A lone CR is checked on its own: CRLF ends CSV rows.)
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
NEGATIVE_ZERO = re.compile(r"(?<![\w.])-0(?:\.0+)?(?![\d.])%?")

# ----------------------------------------------------------------------------- numbers and dates

EDGE_NUMBERS: tuple[Any, ...] = (
    10 ** 400, -(10 ** 400), 10 ** 15, 10 ** 15 + 1, -(10 ** 15), 2 ** 53, 2 ** 63, 0, -0,
    1e307, 1.7e308, -1.7e308, 1e15, 1.0000000000000002e15, 5e-324, 1e-300, -0.0, 0.1 + 0.2, math.inf, math.nan,
    "1e400", "1" * 400, "9" * 17, "99999万亿", "1万亿", "-0", "-0.0", "-0.0%", "0.0001%", "1e-30", "1e30",
    "1,000,000,000,000,000", "1,000,000,000,000,001", "1e15", "1.7e308%", "１２万", "¥1e15", "-1e15", "100000%",
    "100001%", "1000.0001", "0x10", "1_000", "NaN", "-inf", "1.5M", "1e-05", "1e+16",
)
EDGE_DATES: tuple[Any, ...] = (
    "9999-12-31", "0001-01-01", "1899-12-31", "1900-01-01", "2200-12-31", "2201-01-01", "9999年12月31日",
    _dt.date(9999, 12, 31), _dt.date(1, 1, 1), _dt.date(2200, 12, 31), _dt.datetime(9999, 12, 31, 23, 59),
)

edge_numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers(),
    st.integers(-(10 ** 18), 10 ** 18),
    st.floats(),
    st.floats(-1e16, 1e16),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-999, 999), st.integers(-40, 40)),
    st.builds(lambda n, u: f"{n}{u}", st.integers(-10 ** 6, 10 ** 18), st.sampled_from(["", "%", "万", "亿", "万亿", "M", "B"])),
)
edge_dates = st.one_of(st.sampled_from(EDGE_DATES), st.dates(), st.datetimes())

# ----------------------------------------------------------------------------- text

HOSTILE_PIECES = (
    "\x1b[31m", "\x1b]0;pwned\x07", "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "\x1b[2J", "\x1bc", "\x9b31m",
    "\x9d0;title\x9c", "\x85", "\x07", "\x08\x08\x08", "\x7f", "\r", "\r\n", "\n", "\n# Fake heading\n",
    "\n- [ ] fake task", "\n> quote", "\n1. item", "\n---\n", "\n| a | b |", "\u202e", "\u202d", "\u2066", "\u2067",
    "\u2068", "\u2069", "\u200f", "\u061c", "\u2028", "\u2029", "\u200b", "\u200d", "\ufeff", "| cell |",
    "[link](javascript:alert(1))", "![img](http://x/y.png)", "<img src=x onerror=alert(1)>", "<script>", "<!--",
    "&#x202e;", "&lt;", "`code`", "```", "~~~", "**bold**", "_it_", "\\", "\\|", "# ", "- ", "+ ", "* ", "> ",
    "=HYPERLINK(\"http://x\",\"x\")", "+cmd", "-1+1", "@SUM(A1)", "\t", "华信钢铁", "😀", "👨‍👩‍👧", "ﷺ",
)
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=3)), min_size=1, max_size=6).map(
    "".join)


def no_raw_controls(text: str, where: str = "") -> None:
    m = RAW_CONTROL.search(text) or re.search("\r(?!\n)", text)
    assert m is None, f"{where}: raw {m.group()!r} near {text[max(0, m.start() - 60):m.start() + 60]!r}"


def strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in JSON output")
    return json.loads(text, parse_constant=refuse)


def strings(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for v in data.values() for s in strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return []


# Markdown block structure: what a line is, not what it says. A value from input placed in the
# playbook must not change it.
_MD_BLOCK = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|[-+*](?=\s)|>|\d{1,9}[.)](?=\s|$)|\|)")


def md_skeleton(md: str) -> list[str]:
    out = []
    for line in md.split("\n"):
        m = _MD_BLOCK.match(line)
        out.append(f"{len(m.group(1))}{m.group(2)}" if m else ("" if not line.strip() else "p"))
    return out


# ----------------------------------------------------------------------------- encodings

_HANZI = [bytes([lead, trail]).decode("gb2312") for lead in range(0xB0, 0xD8) for trail in range(0xA1, 0xFF)
          if not (lead == 0xD7 and trail > 0xF9)]  # GB2312 level 1: the common characters
hanzi_line = st.builds(lambda key, chars: f"{key}: {''.join(chars)}",
                       st.sampled_from(["name", "notes", "industry", "客户名称", "id"]),
                       st.lists(st.sampled_from(_HANZI), min_size=2, max_size=8))
ascii_line = st.builds(lambda k, v: f"{k}: {v}", st.sampled_from(["revenue", "id", "x"]),
                       st.text(alphabet="abcdefghij0123456789 %.", max_size=12))


# ----------------------------------------------------------------------------- fuzz targets

def _write(folder: Path, name: str, data: str | bytes) -> Path:
    p = folder / name
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8", errors="surrogatepass")
    return p


def _outputs(account_file: Path, book_ref: str, *extra: str) -> dict[str, tuple[int, str, str]]:
    """Every medium for one account file, through the CLI: (exit, stdout, stderr)."""
    from click.testing import CliRunner

    from kamrules.cli import main

    runs = {
        "md": ["advise", str(account_file), "--explain"],
        "html": ["advise", str(account_file), "-f", "html"],
        "json": ["advise", str(account_file), "-f", "json", "--explain"],
        "explain": ["explain", str(account_file)],
        "portfolio-md": ["portfolio", str(account_file)],
        "portfolio-csv": ["portfolio", str(account_file), "-f", "csv"],
        "portfolio-json": ["portfolio", str(account_file), "-f", "json"],
    }
    out = {}
    for name, args in runs.items():
        # color=True: click would otherwise strip CSI sequences itself (it does when the output is
        # not a terminal), and hide what a real terminal would receive
        res = CliRunner().invoke(main, [*args, "-r", book_ref, "--as-of", AS_OF.isoformat(), "--engine", "reference",
                                        *extra], color=True)
        out[name] = (res.exit_code, res.stdout, res.stderr)
    return out


def check_outputs(outputs: dict[str, tuple[int, str, str]]) -> None:
    """The invariants every medium keeps, whatever the input."""
    for name, (code, stdout, stderr) in outputs.items():
        assert code in (0, 1, 2), f"{name}: exit {code}\n{stderr}"
        assert "Traceback" not in stderr and "internal error" not in stderr, f"{name}: {stderr}"
        no_raw_controls(stdout, name)
        no_raw_controls(stderr, name)
        if code in (0, 1) and name.endswith("json"):
            strict_json(stdout)
        if code in (0, 1):
            assert not NEGATIVE_ZERO.search(stdout.replace("-0.", "x")), f"{name}: a zero printed with a minus sign"


def fuzz_number(raw: Any, folder: Path) -> None:
    """One hostile number in every numeric fact of the mini rulebook, and as the account's as_of."""
    from kamrules.core.values import MAX_MAGNITUDE, ValueProblem, parse_amount, parse_percent

    for parse in (parse_amount, parse_percent):
        try:
            x = parse(raw)
        except ValueProblem:
            continue
        assert math.isfinite(x) and abs(x) <= MAX_MAGNITUDE, (raw, x)
    value = json.dumps(raw) if isinstance(raw, str) else (repr(raw) if not isinstance(raw, float) else _yaml_float(raw))
    body = (f"id: n1\nname: N\nrevenue: {value}\ndiscount_rate: {value}\ngross_margin: {value}\nemployees: {value}\n"
            f"contacts:\n  - {{name: A, role: coach, rating: {value}}}\n")
    check_outputs(_outputs(_write(folder, "n.yaml", body), str(MINI)))


def _yaml_float(x: float) -> str:
    if math.isnan(x):
        return ".nan"
    if math.isinf(x):
        return ".inf" if x > 0 else "-.inf"
    text = repr(x)
    if "e" in text and "." not in text.split("e")[0]:  # YAML 1.1 reads 1e+307 as a string: write 1.0e+307
        mant, exp = text.split("e")
        text = f"{mant}.0e{'+' if not exp.startswith('-') else ''}{exp.lstrip('+')}"
    return text


def fuzz_date(raw: Any, folder: Path) -> None:
    from kamrules.core.values import ValueProblem, parse_date

    try:
        day = parse_date(raw)
    except ValueProblem:
        pass
    else:  # an accepted date survives every horizon kamrules adds or subtracts
        for days in (0, 14, 180, 365 * 20):
            day + _dt.timedelta(days=days)
            day - _dt.timedelta(days=days)
    shown = raw.isoformat() if isinstance(raw, (_dt.date, _dt.datetime)) else json.dumps(raw, ensure_ascii=False)
    body = f"id: d1\nname: D\nrevenue: 12M\nplan_reviewed: {shown}\nas_of: {shown}\n"
    f = _write(folder, "d.yaml", body)
    from click.testing import CliRunner

    from kamrules.cli import main

    for args in (["advise", str(f), "-f", "json"], ["advise", str(f), "--as-of", str(raw)[:10]]):
        res = CliRunner().invoke(main, [*args, "-r", str(MINI), "--engine", "reference"], color=True)
        assert res.exit_code in (0, 2), res.output
        assert "internal error" not in res.stderr, res.stderr


def fuzz_text(text: str, folder: Path) -> None:
    """Hostile text as the account's name, a contact's name and a free note: every medium."""
    q = json.dumps(text)
    body = (f"id: t1\nname: {q}\nrevenue: 12M\ndiscount_rate: 22%\nnotes: {q}\n"
            f"contacts:\n  - {{name: {q}, role: user_buyer}}\n")
    outputs = _outputs(_write(folder, "t.yaml", body), str(MINI))
    check_outputs(outputs)
    code, stdout, _ = outputs["json"]
    if code in (0, 1) and text.strip() and "\x00" not in text:
        assert text in strings(strict_json(stdout)), "JSON keeps the text exactly"
    code, md, _ = outputs["md"]
    if code in (0, 1):  # the same playbook for a plain name: the same block structure
        plain = body.replace(q, json.dumps("Plain"))
        _, plain_md, _ = _outputs(_write(folder, "plain.yaml", plain), str(MINI))["md"]
        assert md_skeleton(md) == md_skeleton(plain_md), "a name changed the Markdown structure"


def fuzz_mixed_encoding(lines: list[tuple[str, str]], folder: Path) -> None:
    """Lines, each encoded as UTF-8 or GBK: decoded in one encoding, or refused naming a line."""
    from kamrules.core import yamlio
    from kamrules.core.errors import InputError

    raw = b"".join(text.encode(enc) + b"\n" for text, enc in lines)
    try:
        text, encoding = yamlio.decode(raw, "f")
    except InputError as e:
        assert e.problems[0].code in ("file.mixed-encoding", "file.encoding", "file.binary"), e.problems
        if e.problems[0].code == "file.mixed-encoding":
            line = e.problems[0].location.line
            kinds = {enc for t, enc in lines if not t.isascii()}
            assert kinds == {"utf-8", "gbk"} and 1 <= line <= len(lines), (line, lines)
        return
    if encoding == "utf-8":
        assert text == raw.decode("utf-8")
    else:  # GBK only when no UTF-8 line is unmistakable (two characters of three bytes or more):
        # a line of only two-byte UTF-8 characters (Latin, Greek, Cyrillic…) reads as GBK too
        assert encoding == "gbk", encoding
        assert not any(enc == "utf-8" and sum(ord(c) >= 0x800 for c in t) >= 2 for t, enc in lines), lines
        assert text == raw.decode("gb18030")


def fuzz_csv(rows: list[list[str]], folder: Path, max_rows: int = 5) -> None:
    """A CRM export with hostile headers and cells, under a small row cap: only InputError
    escapes, and the portfolio's outputs are neutralised."""
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf).writerows([["id", "name", "revenue"], *rows])
    f = _write(folder, "export.csv", buf.getvalue())
    old = os.environ.get("KAMRULES_MAX_ACCOUNTS")  # a portfolio streams its CSV: this is its cap
    os.environ["KAMRULES_MAX_ACCOUNTS"] = str(max_rows)
    try:
        from click.testing import CliRunner

        from kamrules.cli import main

        for fmt in ("md", "csv", "json"):
            res = CliRunner().invoke(main, ["portfolio", str(f), "-r", str(MINI), "-f", fmt, "--skip-invalid",
                                            "--as-of", AS_OF.isoformat(), "--engine", "reference"], color=True)
            check_outputs({f"portfolio-{fmt}": (res.exit_code, res.stdout, res.stderr)})
            if len([r for r in rows if any(c.strip() for c in r)]) > max_rows:  # refused, not cut silently
                assert res.exit_code == 2 and ("too-many-accounts" in res.stderr or "file.binary" in res.stderr), \
                    res.output
    finally:
        if old is None:
            del os.environ["KAMRULES_MAX_ACCOUNTS"]
        else:
            os.environ["KAMRULES_MAX_ACCOUNTS"] = old


def random_rows(rnd: random.Random) -> list[list[str]]:
    def cell() -> str:
        return "".join(rnd.choice(HOSTILE_PIECES) if rnd.random() < 0.4 else rnd.choice(["1200万", "a", "x", ""])
                       for _ in range(rnd.randint(0, 3)))
    return [[f"r{i}", cell(), rnd.choice(["12M", "-0", "1e400", "99999万亿", cell()])] for i in range(rnd.randint(0, 8))]


# ----------------------------------------------------------------------------- plain random draws (benchmarks/fuzz.py)

def random_number(rnd: random.Random) -> Any:
    kind = rnd.randrange(5)
    if kind == 0:
        return rnd.choice(EDGE_NUMBERS)
    if kind == 1:
        return rnd.choice([1, -1]) * 10 ** rnd.randint(0, 400) + rnd.randint(-2, 2)
    if kind == 2:
        return rnd.choice([1.0, -1.0]) * 10.0 ** rnd.uniform(-320, 308.2)
    if kind == 3:
        return f"{rnd.randint(-999, 999)}e{rnd.randint(-40, 40)}"
    return f"{rnd.randint(-10 ** 6, 10 ** 18)}{rnd.choice(['', '%', '万', '亿', '万亿', 'M', 'B'])}"


def random_date(rnd: random.Random) -> Any:
    if rnd.random() < 0.5:
        return rnd.choice(EDGE_DATES)
    return _dt.date.fromordinal(rnd.randint(1, _dt.date.max.toordinal()))


def random_text(rnd: random.Random) -> str:
    return "".join(rnd.choice(HOSTILE_PIECES) if rnd.random() < 0.7 else chr(rnd.randrange(0x20, 0x3100))
                   for _ in range(rnd.randint(1, 8)))


def random_lines(rnd: random.Random) -> list[tuple[str, str]]:
    def one() -> str:
        if rnd.random() < 0.6:
            return "name: " + "".join(rnd.choice(_HANZI) for _ in range(rnd.randint(1, 8)))
        return "x: " + "".join(chr(rnd.randrange(0x20, 0x7f)) for _ in range(rnd.randint(0, 10)))
    return [(one(), rnd.choice(("utf-8", "gbk"))) for _ in range(rnd.randint(1, 10))]
