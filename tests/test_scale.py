"""`kamrules portfolio` at scale (issue 10, item 6): the worker pool, streaming, the fold,
Ctrl-C, the progress bar. No wall-clock assertions: what is checked is behaviour and data
structures (benchmarks/portfolio.py measures time and memory)."""
from __future__ import annotations

import dataclasses
import gc
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest
from click.testing import CliRunner
from history.helpers import interruptible

from kamrules.cli import main
from kamrules.portfolio import pool, stream
from kamrules.portfolio.fold import Fold
from kamrules.portfolio.portfolio import Row, summarise
from kamrules.rulebook.model import Account, Rulebook

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "examples" / "portfolio" / "crm-export.csv"
CRM = ROOT / "examples" / "portfolio" / "crm"
AS_OF = "2026-06-30"
linux = pytest.mark.skipif(not sys.platform.startswith("linux") or not pool.can_fork(),
                           reason="fork and /proc: the pool runs in one process elsewhere")


def big_export(folder: Path, copies: int, *, name: str = "big.csv", encoding: str = "utf-8-sig") -> Path:
    """The example export's rows, `copies` times over with new ids: more than one slice of records."""
    lines = EXPORT.read_text(encoding="utf-8-sig").splitlines()
    header, rows = lines[0], [r for r in lines[1:] if r.strip()]
    out = [header]
    for k in range(copies):
        for r in rows:
            ident, rest = r.split(",", 1)
            out.append(f"{ident}-{k},{rest}")
        if k % 7 == 3:
            out.append("")  # blank lines inside the file keep their line numbers
            out.append('XX-Q' + str(k) + ',"多行\n名称, 带逗号",钢铁' + "," * (header.count(",") - 2))
    path = folder / name
    path.write_text("\r\n".join(out) + "\r\n", encoding=encoding)
    return path


def cli(*args: str) -> "object":
    return CliRunner().invoke(main, ["portfolio", *args, "--as-of", AS_OF, "--engine", "reference"])


# --------------------------------------------------------------------------- determinism


@linux
def test_any_number_of_workers_gives_the_same_bytes(tmp_path: Path) -> None:
    f = big_export(tmp_path, 60)  # ≈ 650 accounts: three slices and more
    # every worker count on the JSON (the whole result); the other formats are written from the
    # same folded result: one process against the most workers is enough for them
    for fmt, counts in (("json", (1, 2, 3)), ("md", (1, 3)), ("csv", (1, 3))):
        outs = {}
        for n in counts:
            res = cli(str(f), "-f", fmt, "--workers", str(n), "--skip-invalid")
            assert res.exit_code == 0, res.output
            outs[n] = res.stdout
        assert len(set(outs.values())) == 1, fmt
        if fmt == "json":
            data = json.loads(outs[1])
            assert data["summary"]["accounts"] == len(data["accounts"]) > 2 * stream.SLICE


def outs_json(f: Path) -> str:
    res = cli(str(f), "-f", "json", "--workers", "2", "--skip-invalid")
    assert res.exit_code == 0, res.output
    return str(res.stdout)


@pytest.mark.parametrize("engine", ["reference", "durable"])
def test_a_portfolio_builds_no_bindings_and_writes_the_same(engine: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A portfolio's rows read classes, scores and findings, never a match's bindings: its runs
    ask the engines for none (≈ 7 % of a worker's time), and the output is what it was."""
    from kamrules.engine import backends, compile as compiled
    from kamrules.engine.backends import durable_available

    if engine == "durable" and not durable_available():
        pytest.skip("durable-rules does not import on this Python")
    f = big_export(tmp_path, 3)
    args = ["portfolio", str(f), "-f", "json", "--workers", "1", "--skip-invalid", "--as-of", AS_OF,
            "--engine", engine]
    before = CliRunner().invoke(main, args)
    assert before.exit_code == 0, before.output

    def boom(*a: object) -> object:
        raise AssertionError("a binding was built")

    monkeypatch.setattr(backends, "bindings", boom)
    monkeypatch.setattr(compiled.Program, "encode_props", boom)
    if engine == "durable":
        from kamrules.engine import durable
        monkeypatch.setattr(durable, "bindings", boom)
    after = CliRunner().invoke(main, args)
    assert after.exit_code == 0, after.output
    assert after.stdout == before.stdout


@linux
def test_the_pool_gives_what_the_one_process_build_gives(tmp_path: Path) -> None:
    """The row accounting is unchanged: the old in-memory path (collect + build) and the
    streamed, pooled run give the same output, invalid rows and duplicates included."""
    import datetime as _dt

    from kamrules.portfolio import portfolio
    from kamrules.rulebook.load import load_rulebook

    f = big_export(tmp_path, 30)
    dupes = tmp_path / "dupes.csv"
    lines = f.read_text(encoding="utf-8-sig").splitlines()
    dupes.write_text("\n".join([lines[0], lines[5], lines[5].replace("华信", "华信二"), "x/y,坏编号"]) + "\n",
                     encoding="utf-8")
    book = load_rulebook("course")
    inputs = portfolio.collect([str(f), str(dupes)], book)
    old = portfolio.render(portfolio.build(inputs, book, as_of=_dt.date(2026, 6, 30), engine="reference"), "json")
    res = cli(str(f), str(dupes), "-f", "json", "--workers", "2", "--skip-invalid")
    assert res.exit_code == 0, res.output
    assert res.stdout == old
    skipped = json.loads(old)["skipped"]
    assert {p["code"] for p in skipped} >= {"portfolio.duplicate-id"}


@linux
def test_mapped_exports_count_every_row_the_same_with_workers() -> None:
    files = [str(CRM / "accounts.csv"), str(CRM / "deals.xlsx")]
    outs = []
    for n in ("1", "2"):
        res = cli(*files, "--mapping", str(CRM / "mapping.yaml"), "-f", "json", "--workers", n)
        assert res.exit_code == 0, res.output
        outs.append(res.stdout)
    assert outs[0] == outs[1]
    data = json.loads(outs[0])
    assert data["rows"]["accounts"]["evaluated"] == data["summary"]["accounts"] == len(data["accounts"])


def test_summary_only_is_the_summary_of_the_full_run(tmp_path: Path) -> None:
    f = big_export(tmp_path, 12)
    full = json.loads(cli(str(f), "-f", "json", "--workers", "1", "--skip-invalid").stdout)
    res = cli(str(f), "-f", "json", "--workers", "1", "--skip-invalid", "--summary-only")
    assert res.exit_code == 0, res.output
    slim = json.loads(res.stdout)
    assert "accounts" not in slim and slim["summary"] == full["summary"] and slim["skipped"] == full["skipped"]
    md = cli(str(f), "--workers", "1", "--skip-invalid", "--summary-only")
    assert md.exit_code == 0 and "| " not in md.stdout and "帕累托" in md.stdout
    bad = cli(str(f), "-f", "csv", "--summary-only")
    assert bad.exit_code == 2 and "portfolio.summary-csv" in bad.stderr and bad.stdout == ""


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_a_file_over_the_byte_limit_is_streamed_and_reads_the_same(tmp_path: Path, encoding: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    f = big_export(tmp_path, 30, encoding=encoding)
    whole = cli(str(f), "-f", "json", "--workers", "1", "--skip-invalid")
    assert whole.exit_code == 0, whole.output
    monkeypatch.setattr(stream, "STREAM_ABOVE", 1024)  # now the file is read as a stream …
    monkeypatch.setattr(stream, "BLOCK", 7)  # … in pieces that cut lines, \r\n and characters apart
    streamed = cli(str(f), "-f", "json", "--workers", "1", "--skip-invalid")
    assert streamed.exit_code == 0, streamed.output
    assert streamed.stdout == whole.stdout
    accounts = json.loads(whole.stdout)["accounts"]
    lines = {int(a["source"].rsplit(":", 1)[1]) for a in accounts}
    assert max(lines) > stream.SLICE + 40, "line numbers run on across slices"
    assert any(a["name"] == "多行 名称, 带逗号" or "多行" in a["name"] for a in accounts), "a quoted cell over two lines"


def test_a_utf8_export_over_a_block_is_decoded_as_it_is_read_not_held_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the byte limit too: a strict UTF-8 export is decoded a block at a time (read whole, its
    text is twice its size in the main process, in each pass). Any other file is read whole, with
    the one encoding decision and its errors: a GBK export is read whole, as before."""
    from kamrules.io import csvio

    f = big_export(tmp_path, 30)
    mixed = big_export(tmp_path, 30, name="mixed.csv", encoding="gbk")
    whole = {p: cli(str(p), "-f", "json", "--workers", "1", "--skip-invalid") for p in (f, mixed)}
    assert all(r.exit_code == 0 for r in whole.values()), [r.output for r in whole.values()]
    read_whole: list[str] = []
    real = csvio._read

    def spy(file: str) -> tuple[str, str]:
        read_whole.append(Path(file).name)
        return real(file)
    monkeypatch.setattr(csvio, "_read", spy)
    monkeypatch.setattr(stream, "BLOCK", 4096)  # the export is many blocks long
    for p in (f, mixed):
        streamed = cli(str(p), "-f", "json", "--workers", "1", "--skip-invalid")
        assert streamed.exit_code == 0, streamed.output
        assert streamed.stdout == whole[p].stdout
    assert "big.csv" not in read_whole and "mixed.csv" in read_whole


def row(i: int, final: str | None, revenue: float | None, manager: str | None = None,
        company: float | None = None) -> Row:
    import datetime as _dt

    return Row(id=f"A-{i}", name=f"客户{i}", where=f"x.csv:{i + 2}", as_of=_dt.date(2026, 6, 30),
               dims={"final": final}, scores={"health": 50.0}, revenue=revenue, company_revenue=company,
               warnings={"high": 1}, top=None, severities=frozenset({"high"}), manager=manager)


def test_the_fold_keeps_no_row_and_a_few_bytes_per_account() -> None:
    from kamrules.rulebook.load import load_rulebook

    book = load_rulebook("course")
    fold = Fold(book, keep_rows=False)
    rnd = random.Random(7)
    refs = []
    majors = set()
    for i in range(3000):
        r = row(i, rnd.choice(["key", "medium", "small", "unprofitable", None]),
                rnd.choice([None, rnd.lognormvariate(14, 1.3)]), rnd.choice([None, "李明", "王芳"]), 3e8)
        refs.append(weakref.ref(r))
        if (r.revenue or 0) >= 0.1 * 3e8:
            majors.add(i)
        assert fold.add(r)
        del r
    gc.collect()
    assert not any(ref() is not None for ref in refs), "the fold keeps no Row"
    assert fold.rows == [] and len(fold) == 3000
    # per account: one byte per dimension, 8 per revenue and company revenue, 4 for the manager,
    # and the id for duplicates; names only for the major customers (≥ 10 % of the company's revenue)
    columns = [*fold._dims.values(), fold._revenue, fold._company, fold._manager]
    assert sum(c.itemsize for c in columns) == 3 + 8 + 8 + 4
    assert all(len(c) == 3000 for c in columns)
    assert set(fold._names) == majors and len(majors) < 30 and len(fold._managers) == 2
    assert not fold.add(row(5, "key", 1.0)) and fold.duplicates[0].code == "portfolio.duplicate-id"


def test_a_ranked_run_folds_by_the_first_pass_index_and_keeps_no_id_string() -> None:
    """The second pass of a ranked run gets back, per task, the accounts the first pass read, in
    its order: each is folded by its index there (the fold keeps the index, not a string;
    duplicates are found by index). One that does not match (the file changed between the passes)
    is looked up; an id the first pass never read is folded by id."""
    from kamrules.portfolio import rank
    from kamrules.portfolio.run import _Known
    from kamrules.rulebook.load import load_rulebook

    m = rank.Measured(("revenue",))
    for ident, v in (("A-1", 1.0), ("A-2", 2.0), ("A-1", 3.0), ("A-3", 4.0)):
        m.add(ident, (v,))
    m.spans = [(0, 2), (2, 4)]
    assert list(m.ids) == ["A-1", "A-2", "A-3"] and list(m.rows) == [0, 1, 0, 2]
    assert m.row_ids == ["A-1", "A-2", "A-1", "A-3"]
    fold = Fold(load_rulebook("course"), keep_rows=False, known=m.ids)
    first = _Known(m, 0)
    assert fold.add(row(1, "key", 1.0), first.index("A-1")) and fold.add(row(2, "key", 1.0), first.index("A-2"))
    second = _Known(m, 1)
    dup = row(1, "key", 1.0)
    assert not fold.add(dup, second.index("A-1")), "the same id again: a duplicate, found by index"
    assert "already used by x.csv:3" in fold.duplicates[0].message
    assert second.index("A-2") == 1, "out of order (the file changed): looked up"
    assert second.index("A-9") is None
    assert fold.add(row(9, "small", 1.0), None) and not fold.add(row(9, "small", 1.0), None)
    assert fold.ids == ["A-1", "A-2", "A-9"] and list(fold._id_at) == [0, 1, -1], "indexes; A-9 by its string"
    assert len(fold.duplicates) == 2 and len(fold) == 3


def test_the_summary_of_the_fold_is_the_summary_of_the_rows() -> None:
    from kamrules.rulebook.load import load_rulebook

    book = load_rulebook("course")
    rnd = random.Random(11)
    rows = [row(i, rnd.choice(["key", "medium", "small", "unprofitable", None]),
                rnd.choice([None, float(rnd.randint(1, 10 ** 7))]), rnd.choice([None, "李明", "王芳", "张伟"]),
                rnd.choice([None, 5e7])) for i in range(800)]
    fold = Fold(book, keep_rows=False)
    for r in rows:
        fold.add(r)
    a, b = summarise(fold.columns(), book), summarise(rows, book)
    v = summarise(fold.view(), book)  # the slim rows the overview reads: the same summary
    assert v.concentration is not None and [(r.id, r.name) for r in v.concentration.over] == \
        [(r.id, r.name) for r in a.concentration.over]
    assert dataclasses.replace(v, concentration=a.concentration) == a
    assert a.concentration is not None and b.concentration is not None and a.concentration.over
    assert [(r.id, r.name, r.revenue_share) for r in a.concentration.over] == \
        [(r.id, r.name, r.revenue_share) for r in b.concentration.over]
    same = dataclasses.replace(a, concentration=dataclasses.replace(a.concentration, over=b.concentration.over))
    assert same == b


def test_the_summary_by_hand() -> None:
    """A small book whose summary is counted by hand (the course: a manager with 5 key accounts
    is at the limit; a major customer holds 10 % of its company's revenue; the Pareto line counts
    the accounts with a positive revenue), from the rows and from the fold's columns."""
    from kamrules.rulebook.load import load_rulebook

    book = load_rulebook("course")
    rows = [row(i, "key", 100.0 * (i + 1), "李明", 1000.0) for i in range(5)]  # shares 10 % … 50 %
    rows += [row(5, "small", 0.0, "王芳", 1000.0), row(6, "small", -5.0, "王芳", 1000.0),
             row(7, "small", None, "王芳", None), row(8, None, 50.0, None, 1000.0)]
    rows += [row(i, "key", 10.0, "王芳", 1000.0) for i in range(9, 13)]  # 王芳: 4 key accounts (and 3 small)
    fold = Fold(book, keep_rows=False)
    for r in rows:
        fold.add(r)
    for s in (summarise(rows, book), summarise(fold.columns(), book)):
        assert {v: n for v, n in s.by_final if n} == {"key": 9, "small": 3} and s.unclassified == 1
        assert s.pareto is not None and (s.pareto.of, s.pareto.missing, s.pareto.total) == (10, 3, 1590.0)
        assert (s.pareto.top, s.pareto.revenue_share) == (2, 900.0 / 1590.0)  # 500 and 400
        c = s.concentration
        assert c is not None and c.known == 12 and c.total_share is None  # A-7 has no company revenue
        assert [r.id for r in c.over] == ["A-4", "A-3", "A-2", "A-1", "A-0"]  # 10 % is at the line
        assert s.programme is not None and (s.programme.key_accounts, s.programme.overloaded) == (9, (("李明", 5),))
    every = [dataclasses.replace(r, company_revenue=1000.0, revenue=r.revenue or 0.0) for r in rows]
    c = summarise(every, book).concentration
    assert c is not None and c.known == 13 and c.total_share == 1585.0 / 1000.0  # 1,500 + 0 − 5 + 0 + 50 + 40


# --------------------------------------------------------------------------- the pool


def _flaky(task: tuple[int, str]) -> int:
    """Dies (SIGKILL) on task 3 the first time, on task 5 every time; else squares."""
    n, marker = task
    if n == 3 and not os.path.exists(marker):
        Path(marker).write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    if n == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    return n * n


@linux
def test_a_killed_worker_is_reported_retried_once_and_nothing_lost(tmp_path: Path) -> None:
    marker = str(tmp_path / "died")
    tasks = [(n, marker) for n in range(12)]
    got = list(pool.run(tasks, _flaky, 2, window=3))
    assert [d.index for d in got] == list(range(12)), "every task once, in order"
    by = {d.index: d for d in got}
    assert by[3].result == 9 and by[3].attempts == 2  # died, retried, done
    failed = by[5].result
    assert isinstance(failed, pool.Failed) and failed.attempts == 2 and "SIGKILL" in failed.reason
    assert all(by[n].result == n * n for n in range(12) if n not in (5,))


def _collector(_task: int) -> tuple[tuple[int, int, int], int]:
    return gc.get_threshold(), gc.get_freeze_count()


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=linux)])
def test_accounts_are_evaluated_at_pythons_collection_pace(workers: int) -> None:
    """The command line collects rarely (a short run's objects live to its end); evaluating
    accounts leaves cyclic garbage (facts <-> bounds), so a worker, or this process while it
    evaluates, collects at Python's own pace, and a forked worker never traverses the heap it
    inherited. The caller's pace is restored."""
    before = gc.get_threshold()
    gc.set_threshold(100_000, *before[1:])
    try:
        got = [d.result for d in pool.run(range(3), _collector, workers)]
        assert gc.get_threshold() == (100_000, *before[1:])
    finally:
        gc.set_threshold(*before)
    assert all(threshold == pool.EVALUATION_GC_THRESHOLD for threshold, _ in got), got
    if workers > 1:
        assert all(frozen > 0 for _, frozen in got)


def _boom(task: int) -> int:
    if task == 2:
        raise ValueError("bad task")
    return task


@linux
def test_a_handler_error_is_raised_in_the_main_process() -> None:
    with pytest.raises(ValueError, match="bad task"):
        list(pool.run(range(5), _boom, 2))


@linux
def test_a_slice_whose_worker_always_dies_is_listed_as_failed(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    f = big_export(tmp_path, 60)
    good = json.loads(outs_json(f))
    real = stream.Evaluate.__call__

    def dies_on_the_second_slice(self: stream.Evaluate, task: stream.Task) -> stream.TaskResult:
        # a CSV slice read by the worker, accounts read here, or (the course ranks the book first) the
        # accounts the first pass kept; evaluated (a death while measuring fails the run,
        # test_a_death_while_ranking_…)
        if not task.pass_.measure and (isinstance(task, stream.CsvSlice) and task.first_line > 2
                                       or isinstance(task, stream.Kept) and task.first > 2
                                       or isinstance(task, stream.Accounts) and task.accounts[0][1].line > 2):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, task)
    monkeypatch.setattr(stream.Evaluate, "__call__", dies_on_the_second_slice)  # the forked workers inherit it
    res = cli(str(f), "-f", "json", "--workers", "2", "--skip-invalid")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert "error[portfolio.worker-failed]" in res.stderr and "SIGKILL" in res.stderr
    failed = [p for p in data["skipped"] if p["code"] == "portfolio.worker-failed"]
    assert failed and all(p["line"] > 2 for p in failed)
    spans = []
    for p in failed:
        m = re.search(r"lines (\d+)–(\d+) of", str(p["message"]))
        assert m, p["message"]
        spans.append((int(m[1]), int(m[2])))

    def line(a: dict[str, str]) -> int:
        return int(a["source"].rsplit(":", 1)[1])
    lost = {a["id"] for a in good["accounts"] if any(lo <= line(a) <= hi for lo, hi in spans)}
    kept = {a["id"] for a in data["accounts"]}
    assert lost and kept == {a["id"] for a in good["accounts"]} - lost, "the failed slices' accounts, and only those"
    assert data["summary"]["accounts"] + len(lost) == good["summary"]["accounts"]


def _dies_measuring(marker: str | None) -> "object":
    """An Evaluate.__call__ whose worker dies (SIGKILL) while measuring the second slice of the
    file for the ranking: once when `marker` names a file (retried: the next attempt finds the
    file), on every attempt when it is None."""
    real = stream.Evaluate.__call__

    def call(self: stream.Evaluate, task: stream.Task) -> stream.TaskResult:
        if task.pass_.measure and isinstance(task, stream.CsvSlice) and task.first_line > 2 \
                and task.first_line < 2 + 2 * stream.SLICE:
            if marker is None:
                os.kill(os.getpid(), signal.SIGKILL)
            if not os.path.exists(marker):
                Path(marker).write_text("died once")
                os.kill(os.getpid(), signal.SIGKILL)
        return real(self, task)
    return call


@linux
def test_a_death_while_ranking_is_measured_again_and_the_output_is_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first pass of a ranked book (every account measured before any is evaluated): a worker
    that dies there is replaced and its slice measured again — the ranking, and so the output, is
    the one of a run where nothing died."""
    f = big_export(tmp_path, 60)
    good = outs_json(f)
    monkeypatch.setattr(stream.Evaluate, "__call__", _dies_measuring(str(tmp_path / "died")))
    res = cli(str(f), "-f", "json", "--workers", "2", "--skip-invalid")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "died").exists(), "a worker died"
    assert "a worker process died while measuring lines" in res.stderr and "measured again" in res.stderr
    assert "worker-failed" not in res.stderr
    assert res.stdout == good


@linux
def test_a_death_while_ranking_on_every_attempt_fails_the_run_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a partial book ranked in silence (its accounts unranked, every other account's rank,
    tier and ABC class shifted): exit 2, the slice named, nothing written."""
    f = big_export(tmp_path, 60)
    out = tmp_path / "portfolio.json"
    out.write_text("the previous output\n", encoding="utf-8")
    monkeypatch.setattr(stream.Evaluate, "__call__", _dies_measuring(None))
    res = cli(str(f), "-f", "json", "--workers", "2", "--skip-invalid", "-o", str(out))
    assert res.exit_code == 2, res.output
    assert "error[portfolio.worker-failed]" in res.stderr and "SIGKILL" in res.stderr
    assert re.search(r"died on each of 2 attempts \(killed by SIGKILL\) while measuring lines \d+–\d+ of "
                     r"\S*big.csv for the ranking of the book", res.stderr), res.stderr
    assert "nothing was written" in res.stderr
    assert out.read_text(encoding="utf-8") == "the previous output\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kamrules-")]


# --------------------------------------------------------------------------- Ctrl-C and the progress bar


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


@linux
def test_ctrl_c_stops_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    f = big_export(tmp_path, 200)
    out = tmp_path / "out" / "portfolio.json"
    out.parent.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "kamrules", "portfolio", str(f), "-f", "json", "-o", str(out),
                             "--workers", "2", "--as-of", AS_OF, "--engine", "reference", "--skip-invalid"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=interruptible)
    deadline = time.monotonic() + 60
    while len(_children(proc.pid)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # until the workers are evaluating
    workers = _children(proc.pid)
    assert len(workers) >= 2, "the workers started"
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"interrupted; nothing was written" in err and b"Traceback" not in err
    assert not out.exists() and list(out.parent.iterdir()) == [], "no output, no temporary file"
    for w in workers:
        assert not Path(f"/proc/{w}").exists() or "zombie" in Path(f"/proc/{w}/status").read_text().lower() \
            or _not_ours(w, proc.pid)


def _not_ours(pid: int, parent: int) -> bool:
    try:
        return f"PPid:\t{parent}\n" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def test_the_progress_bar_draws_only_on_a_terminal() -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    clock = iter([0.0, 1.0, 2.0, 3.0, 4.0])
    tty = Tty()
    bar = stream.Progress(tty, clock=lambda: next(clock))
    bar.update(0.5, 500)
    bar.update(1.0, 1000)
    bar.close()
    text = tty.getvalue()
    assert "50%" in text and "1,000 accounts" in text and text.endswith("\r\x1b[K")
    pipe = io.StringIO()
    quiet = stream.Progress(pipe)
    quiet.update(0.5, 500)
    quiet.close()
    assert pipe.getvalue() == ""


@linux
def test_the_cli_draws_the_bar_on_a_terminal_and_not_in_a_pipe(tmp_path: Path) -> None:
    import pty

    cmd = [sys.executable, "-m", "kamrules", "portfolio", str(EXPORT), "-f", "json", "--as-of", AS_OF,
           "--engine", "reference", "--workers", "2"]
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0
    assert b"accounts" in seen and b"\r" in seen and b"100%" in seen
    assert b"\r" not in out and json.loads(out)["summary"]["accounts"] == 10
    piped = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=60)
    assert piped.returncode == 0 and b"\r" not in piped.stderr and b"accounts" not in piped.stderr


# --------------------------------------------------------------------------- a ranked book, streamed twice


def _evaluated() -> tuple[Rulebook, list[Row], list[Account]]:
    """The example export's accounts evaluated one by one (with their portfolio facts), as rows."""
    import datetime as _dt

    from kamrules.core.errors import Location
    from kamrules.io import csvio
    from kamrules.pipeline import evaluate
    from kamrules.portfolio import rank
    from kamrules.portfolio.portfolio import row_of
    from kamrules.rulebook.load import load_rulebook

    book = load_rulebook("course")
    accounts = [r.account for r in csvio.read_accounts(str(EXPORT), book).rows if r.account is not None]
    # two accounts with figures outside their plausible range (data checks), as real exports have
    accounts[1] = dataclasses.replace(accounts[1], values={**accounts[1].values, "gross_margin": -1.16})
    accounts[4] = dataclasses.replace(accounts[4], values={**accounts[4].values, "collection_days": 900})
    as_of = _dt.date(2026, 6, 30)
    _, ranked = rank.first_pass(accounts, book, as_of)
    rows = [row_of(evaluate(rank.supply(a, book, ranked), book, as_of=as_of, engine="reference"),
                   Location(str(EXPORT), i + 2)) for i, a in enumerate(accounts)]
    return book, rows, accounts


def test_the_first_pass_keeps_a_few_floats_per_account_and_ranks_the_same() -> None:
    import datetime as _dt

    from kamrules.io import csvio
    from kamrules.portfolio import rank
    from kamrules.rulebook.load import load_rulebook

    book = load_rulebook("course")
    accounts = [r.account for r in csvio.read_accounts(str(EXPORT), book).rows if r.account is not None]
    as_of = _dt.date(2026, 6, 30)
    names = rank.wanted(book.playbook.portfolio)
    m = rank.Measured(names)
    for a in [*accounts, accounts[3]]:  # a duplicate id: the first one counts
        m.add(a.id, rank.measure_values(a, book, as_of, names))
    assert len(m.ids) == len(accounts) and len(m.row_ids) == len(accounts) + 1
    assert all(c.itemsize == 8 and len(c) == len(accounts) for c in m.columns)
    want = rank.measures(accounts, book, as_of)
    assert list(m.view()) == list(want) and m.view()[-1] == want[-1]
    assert rank.ranking(m.view(), book.playbook.portfolio) == rank.ranking(want, book.playbook.portfolio)


def test_the_fold_keeps_what_the_overview_reads_and_no_row_without_data_checks() -> None:
    import datetime as _dt

    from kamrules.portfolio import overview, rank

    book, rows, accounts = _evaluated()
    assert any(r.checks for r in rows) and not all(r.checks for r in rows)
    fold = Fold(book, keep_rows=False, views=True)
    refs = []
    for r in rows:
        refs.append((weakref.ref(r), bool(r.checks)))
        assert fold.add(r)
    del r
    ms, ranking = rank.first_pass(accounts, book, _dt.date(2026, 6, 30))
    a = overview.overview(fold.row_views(), ranking, ms, book)
    b = overview.overview(overview.row_views(rows), ranking, ms, book)
    assert a == b and a.hits.accounts == len(rows)
    views = list(fold.row_views())
    assert [v.id for v in views] == [r.id for r in rows] and [v.fired for v in views] == [r.fired for r in rows]
    assert [v.classes.get(d) for v in views for d in book.dimensions] == \
        [r.classes.get(d) for r in rows for d in book.dimensions]
    assert fold.checked == [r for r in rows if r.checks]
    rows.clear()
    gc.collect()
    assert all((ref() is not None) == checked for ref, checked in refs), "only the rows with data checks are kept"


def test_a_ranked_book_is_streamed_in_two_passes_not_collected(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from kamrules.portfolio import portfolio

    f = big_export(tmp_path, 12)
    full = json.loads(cli(str(f), "-f", "json", "--workers", "1", "--skip-invalid").stdout)

    def no_collect(*a: object, **k: object) -> None:
        raise AssertionError("the ranked run read the whole book into memory")
    monkeypatch.setattr(portfolio, "collect", no_collect)
    seen: list[str] = []
    real = stream.Evaluate.__call__

    def counting(self: stream.Evaluate, task: stream.Task) -> stream.TaskResult:
        ranked = task.pass_.given is not None or task.pass_.placed is not None  # by id, or by position (Kept)
        seen.append("measure" if task.pass_.measure else "given" if ranked else "plain")
        return real(self, task)
    monkeypatch.setattr(stream.Evaluate, "__call__", counting)
    for args in (["--workers", "1"], ["--workers", "1", "--summary-only"]):
        res = cli(str(f), "-f", "json", "--skip-invalid", *args)
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["summary"] == full["summary"]
    assert seen.count("measure") == seen.count("given") > 1 and "plain" not in seen


@linux
def test_kept_slices_ranked_by_position_give_what_slices_read_again_by_id_give(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second pass of a ranked run: the slices the first pass kept get their accounts'
    placements by position; a slice read again (nothing could be kept) by id. Several slices,
    blank lines and a multi-line record, two workers: the same bytes either way."""
    from kamrules.portfolio import spill

    f = big_export(tmp_path, 60)
    kept = cli(str(f), "-f", "json", "--workers", "2", "--skip-invalid")
    assert kept.exit_code == 0, kept.output
    monkeypatch.setattr(spill, "write", lambda spot, items: False)
    again = cli(str(f), "-f", "json", "--workers", "2", "--skip-invalid")
    assert again.exit_code == 0, again.output
    assert again.stdout == kept.stdout
    assert json.loads(kept.stdout)["summary"]["accounts"] > 2 * stream.SLICE


def test_a_ranked_summary_lists_the_data_checks_the_full_run_lists(tmp_path: Path) -> None:
    # the summary-only run keeps the rows with data checks (and only those): the same list as the table's run
    f = big_export(tmp_path, 3)
    text = f.read_text(encoding="utf-8-sig").replace("HX-001-1,华信钢铁,钢铁,华东,李明,李明;张工;赵敏,陈总,是,1200,1000,18,",
                                                   "HX-001-1,华信钢铁,钢铁,华东,李明,李明;张工;赵敏,陈总,是,1200,1000,-116,")
    assert "-116" in text
    f.write_text(text, encoding="utf-8-sig")
    full = cli(str(f), "--workers", "2", "--skip-invalid")
    slim = cli(str(f), "--workers", "2", "--skip-invalid", "--summary-only")
    assert full.exit_code == 0 and slim.exit_code == 0, slim.output
    # the one list of data checks: its verdict line and the account's entry
    checks = [line for line in full.stdout.splitlines() if "数据需要核对" in line or "HX-001-1" in line and "毛利率" in line]
    assert len(checks) == 2 and all(line in slim.stdout.splitlines() for line in checks), (checks, slim.stdout)


@pytest.mark.parametrize("ranked", [True, False])
def test_fail_on_names_the_same_accounts_with_summary_only(tmp_path: Path, ranked: bool) -> None:
    # the message says which accounts made the exit 1, in the table's order, with or without the table
    if ranked:  # the course ranks the book: two passes
        args = [str(big_export(tmp_path, 3)), "--fail-on", "medium"]
        level = "medium"
    else:  # a rulebook without portfolio facts: one pass
        f = tmp_path / "mini.csv"
        f.write_text("id,name,revenue,discount_rate\n" + "".join(
            f"m{i},M{i},{(i % 4) * 10_000_000},{(i % 3) * 12}%\n" for i in range(40)), encoding="utf-8")
        args = [str(f), "-r", str(ROOT / "tests" / "data" / "bad" / "mini.yaml"), "--fail-on", "high"]
        level = "high"
    args += ["--workers", "2", "--skip-invalid"]
    full, slim = cli(*args), cli(*args, "--summary-only")
    assert full.exit_code == 1 and slim.exit_code == 1, (full.output, slim.output)

    def said(res: "object") -> list[str]:
        return [line for line in res.stderr.splitlines()  # type: ignore[attr-defined]
                if f"exit 1 (--fail-on {level})" in line]
    assert said(full) == said(slim) and len(said(full)) == 1 and ": 0 accounts" not in said(full)[0], said(full)
