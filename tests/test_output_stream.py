"""Outputs written in pieces (issue 10, item 6: memory does not grow with the accounts).

A portfolio summary lists every account (its rank, its point on the whale curve) and the table
lists every row: the output is made piece by piece as it is written (io/output.write_atomic,
write_stdout; textsafe.json_pieces), never held whole. The `-o` contract is unchanged: an error
while the pieces are made replaces nothing and leaves no temporary file; a FIFO, a device and
standard output get nothing until the last piece is made; the bytes are those of the text made
whole.
"""
from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import PROPERTY

from kamrules.cli import main
from kamrules.core import textsafe
from kamrules.core.errors import UsageError
from kamrules.io import output

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "examples" / "portfolio" / "crm-export.csv"
AS_OF = "2026-06-30"


def _failing(pieces: list[str], error: BaseException) -> Iterator[str]:
    yield from pieces
    raise error


def _left_behind(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".kamrules-")]


def test_pieces_are_written_as_the_text_made_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    pieces = ["一", "a\r\n", "", "b" * 100_000, "\ufeff?", "\udcff"]  # surrogateescape: bytes read as such
    output.write_atomic(str(target), iter(pieces))
    assert target.read_bytes() == "".join(pieces).encode("utf-8", "surrogateescape")
    assert _left_behind(tmp_path) == []


@pytest.mark.parametrize("error", [ValueError("a bug while rendering"), KeyboardInterrupt()])
@pytest.mark.parametrize("existing", [True, False])
def test_an_error_while_the_pieces_are_made_replaces_nothing(tmp_path: Path, error: BaseException,
                                                             existing: bool) -> None:
    target = tmp_path / "out.json"
    if existing:
        target.write_text("the previous output\n", encoding="utf-8")
    with pytest.raises(type(error)):
        output.write_atomic(str(target), _failing(["{", '"a": 1' * 50_000], error))
    if existing:
        assert target.read_text(encoding="utf-8") == "the previous output\n"
    else:
        assert not target.exists()
    assert _left_behind(tmp_path) == []


def test_a_fifo_gets_nothing_until_the_last_piece_is_made(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # no reader: were the FIFO opened before the pieces are all made, this would be output.no-reader
    with pytest.raises(ValueError, match="rendering"):
        output.write_atomic(str(fifo), _failing(["x" * 10], ValueError("rendering")))
    pieces = [f"line {i}\n" for i in range(50_000)]
    assert _written_into_fifo(fifo, pieces) == "".join(pieces).encode("utf-8")


def test_a_large_spool_moves_to_a_temporary_file_and_is_written_whole(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "SPOOL", 1000)
    monkeypatch.setattr(output, "_BLOCK", 777)  # blocks that cut the text anywhere, even inside a character
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    pieces = [f"第{i}行\r\n" for i in range(5_000)]
    assert _written_into_fifo(fifo, pieces) == "".join(pieces).encode("utf-8")


def _written_into_fifo(fifo: Path, pieces: list[str]) -> bytes:
    """write_atomic(fifo, pieces) with a reader on the other end: what the reader got."""
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while True:  # the reader must be waiting before the writer opens
        try:
            output.write_atomic(str(fifo), iter(pieces))
            break
        except UsageError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    t.join(10)
    assert got, "the reader got nothing"
    return got[0]


class _Stdout(io.StringIO):
    pass


def test_standard_output_gets_the_pieces_neutralised_or_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "_BLOCK", 5)  # a \r\n and a BOM cut between blocks
    text = "\ufeffid,name\r\nk1,\x1b[31mred\r\nk2,bidi\u202e\rx\ufeff\n"
    out = _Stdout()
    monkeypatch.setattr("sys.stdout", out)
    output.write_stdout(iter([text[:7], text[7:8], text[8:]]))
    assert out.getvalue() == textsafe.terminal(text)
    out2 = _Stdout()
    monkeypatch.setattr("sys.stdout", out2)
    with pytest.raises(ValueError):
        output.write_stdout(_failing(["partial output\n"], ValueError("rendering")))
    assert out2.getvalue() == ""


@PROPERTY
@given(text=st.text(alphabet=st.sampled_from(["a", "\r", "\n", "\ufeff", "\x1b", "中", "\u202e", "\t"]), max_size=40),
       cuts=st.lists(st.integers(0, 40), max_size=6))
@example(text="\r\n", cuts=[1])
@example(text="a\ufeff", cuts=[1])
def test_terminal_over_the_pieces_is_terminal_over_the_whole(text: str, cuts: list[int]) -> None:
    at = sorted({min(c, len(text)) for c in cuts})
    parts = [text[a:b] for a, b in zip([0, *at], [*at, len(text)])]
    assert "".join(textsafe.terminal(p) for p in output._terminal_pieces(parts)) == textsafe.terminal(text)


# --------------------------------------------------------------------------- JSON in pieces

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                     st.text(max_size=8), st.sampled_from(["\u202e", "\x85", "\x1b", "\ufeff", "\u2028", "\"\\\n"]))
_json = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=25)


def _streamed(data: Any, draw: Any) -> Any:
    """The same data with some of its lists as Streams (some of them mapped)."""
    if isinstance(data, dict):
        return {k: _streamed(v, draw) for k, v in data.items()}
    if isinstance(data, list):
        items = [_streamed(v, draw) for v in data]
        how = draw(st.sampled_from(["list", "stream", "mapped"]))
        if how == "stream":
            return textsafe.Stream(items)
        if how == "mapped":
            return textsafe.Stream(range(len(items)), items.__getitem__)
        return items
    return data


@PROPERTY
@given(data=_json, choice=st.data())
@example(data={"a": [], "b": {}, "c": [[]], "d": -0.0}, choice=None)
def test_json_pieces_are_json_dumps_byte_for_byte(data: Any, choice: Any) -> None:
    streamed = _streamed(data, choice.draw) if choice is not None else data
    text = "".join(textsafe.json_pieces(streamed))
    assert text == textsafe.json_dumps(data)
    assert json.loads(text) == json.loads(textsafe.json_dumps(data))


def test_json_pieces_come_in_pieces_and_refuse_what_json_dumps_refuses() -> None:
    rows = textsafe.Stream(range(50_000), lambda i: {"id": f"KH-{i:06d}", "value": i / 7})
    pieces = list(textsafe.json_pieces({"ranking": {"accounts": rows}}))
    assert len(pieces) > 10, "a long Stream is handed on in pieces"
    assert max(len(p) for p in pieces) < 200_000
    assert "".join(pieces) == textsafe.json_dumps({"ranking": {"accounts": list(rows)}})
    for bad in (float("nan"), float("inf"), object()):
        with pytest.raises((ValueError, TypeError)):
            "".join(textsafe.json_pieces({"a": textsafe.Stream([1, bad])}))


_flat_values = st.one_of(_scalars, st.sampled_from([-0.0, 0.0, -0.01, 1e300, -5e-324, 2**64, True, False]))
_items = st.one_of(
    st.dictionaries(st.sampled_from(["id", "rank", "x\u2028", "中", ""]), _flat_values, max_size=5),  # flat, or {}
    st.dictionaries(st.text(max_size=2), _json, max_size=2),  # anything else: the general encoder
    _scalars)


@PROPERTY
@given(items=st.lists(_items, max_size=12), batch=st.integers(1, 4))
@example(items=[{"a": 1}, {"b": -0.0}, {"c": "}\n{"}, {}, [], {"d": {"e": 1}}, {"f": "\x1b"}], batch=2)
def test_flat_dicts_of_a_stream_are_json_dumps_byte_for_byte(items: list[Any], batch: int) -> None:
    """Runs of flat dicts go through json's C encoder (textsafe._flat_dicts): the same text as the
    general encoder, at every batch boundary and nesting level."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(textsafe, "_BATCH", batch)
        for data in (textsafe.Stream(items), {"a": {"b": textsafe.Stream(items)}}, [textsafe.Stream(items)]):
            whole = {"a": {"b": items}} if isinstance(data, dict) else [items] if isinstance(data, list) else items
            assert "".join(textsafe.json_pieces(data)) == textsafe.json_dumps(whole)


def test_flat_dicts_refuse_what_json_dumps_refuses() -> None:
    for bad in ({"a": float("nan")}, {"a": float("inf")}, {1.5: object()}):
        with pytest.raises((ValueError, TypeError)) as fast:
            "".join(textsafe.json_pieces(textsafe.Stream([{"ok": 1}, bad])))
        with pytest.raises((ValueError, TypeError)) as slow:
            textsafe.json_dumps([{"ok": 1}, bad])
        assert type(fast.value) is type(slow.value)


# --------------------------------------------------------------------------- the portfolio command


@pytest.mark.parametrize("fmt", ["json", "md", "csv"])
@pytest.mark.parametrize("summary", [False, True])
def test_portfolio_writes_to_o_what_it_prints(fmt: str, summary: bool, tmp_path: Path) -> None:
    """The ranked book's output, streamed into -o, is the bytes it prints (and the text render() makes)."""
    if summary and fmt == "csv":
        return
    args = ["portfolio", str(EXPORT), "-f", fmt, "--as-of", AS_OF, "--engine", "reference", "--skip-invalid",
            "--workers", "1", *(["--summary-only"] if summary else [])]
    printed = CliRunner().invoke(main, args)
    assert printed.exit_code == 0, printed.output
    out = tmp_path / f"out.{fmt}"
    written = CliRunner().invoke(main, [*args, "-o", str(out)])
    assert written.exit_code == 0, written.output
    assert out.read_bytes() == printed.stdout_bytes
    if fmt == "json":
        data = json.loads(out.read_text(encoding="utf-8"))
        ranking = data["summary"]["portfolio"]["ranking"]
        assert len(ranking["accounts"]) == ranking["ranked"] > 0
        assert [a["rank"] for a in ranking["accounts"]] == list(range(1, ranking["ranked"] + 1))
