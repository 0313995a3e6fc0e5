"""A ranked run's accounts kept between its two passes (portfolio/spill.py): the same accounts
back, a file verified before it is unpickled, a folder that does not outlive the run, and a
second pass that reads no input again — with the same output as reading it again."""
from __future__ import annotations

import datetime as _dt
import json
import os
import pickle
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.cli import main
from kamrules.core.errors import InputError, Location, Problem
from kamrules.portfolio import spill, stream
from kamrules.rulebook.model import Account, Places

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "examples" / "portfolio" / "crm-export.csv"

texts = st.text(max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts,
                    st.dates(min_value=_dt.date(2000, 1, 1), max_value=_dt.date(2030, 1, 1)))
values = st.dictionaries(texts, st.one_of(scalars, st.tuples(st.dictionaries(texts, scalars, max_size=3))),
                         max_size=6)


@st.composite
def kept_items(draw: st.DrawFn) -> Any:
    """What a first pass reads: an account with its locations in its own file (a CSV row, a YAML
    file), one with a location elsewhere (a layered file), or an invalid record's problems."""
    file = draw(st.sampled_from(["a.csv", "b/c.yaml", "客户.csv"]))
    kind = draw(st.sampled_from(["own", "places", "elsewhere", "invalid"]))
    if kind == "invalid":
        return stream.Invalid((Problem("account.value", draw(texts), Location(file, draw(st.integers(0, 9)), 1)),))
    vals = draw(values)
    locs = {k: Location(file, draw(st.integers(0, 10**6)), draw(st.integers(0, 999))) for k in vals}
    if kind == "elsewhere" and locs:
        k = next(iter(locs))
        locs[k] = Location("other.yaml", 3, 4)
    as_of = draw(st.one_of(st.none(), st.dates(min_value=_dt.date(2020, 1, 1), max_value=_dt.date(2030, 1, 1))))
    places: Any = Places(file, {k: (v.line, v.col) for k, v in locs.items()}) if kind == "places" else locs
    account = Account(draw(texts), draw(texts), file, vals, places, as_of)
    return account, Location(file, draw(st.integers(0, 10**6)), draw(st.integers(0, 9)))


@settings(max_examples=60, deadline=None)
@given(st.lists(kept_items(), max_size=8))
def test_what_is_kept_is_what_comes_back(items: list[Any]) -> None:
    with spill.Spill() as kept:
        spot = kept.spot(7)
        assert spill.write(spot, items)
        back = spill.read(spot)
    assert back == items
    for a, b in zip(items, back):  # equal, and of the same types (a Location, not a tuple of numbers)
        if isinstance(a, tuple):
            assert type(b[0]) is Account and type(b[1]) is Location
            assert all(type(loc) is Location for loc in b[0].locations.values())
            assert list(b[0].locations) == list(a[0].locations)


def test_places_are_the_dict_of_their_locations() -> None:
    """What a CSV row's reader keeps instead of a Location per cell (rulebook/model.Places)."""
    p = Places("a.csv", {"revenue": (3, 7), "id": (3, 1)})
    d = {"revenue": Location("a.csv", 3, 7), "id": Location("a.csv", 3, 1)}
    assert p == d and d == p and list(p) == ["revenue", "id"] and dict(p.items()) == d
    assert "id" in p and "name" not in p and p.get("name") is None and len(p) == 2
    assert p != {"revenue": Location("a.csv", 3, 7)} and repr(p) == repr(d)
    assert pickle.loads(pickle.dumps(p)) == p and type(pickle.loads(pickle.dumps(p))) is Places
    assert Account("x", "X", "a.csv", {}, p) == Account("x", "X", "a.csv", {}, d)


def test_the_folder_is_private_and_goes_with_the_run() -> None:
    with spill.Spill() as kept:
        assert kept.folder is not None and kept.key.hex() not in repr(kept.spot(3))  # the key is in no repr
        folder = Path(kept.folder)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert spill.write(kept.spot(0), [])
    assert not folder.exists()
    with pytest.raises(RuntimeError):
        with spill.Spill() as kept:
            folder = Path(kept.folder)
            raise RuntimeError("interrupted")
    assert not folder.exists()


class _Boom:
    """Unpickling this runs code: a file that does not verify must never get that far."""

    def __reduce__(self) -> Any:
        return (os.mkdir, (_Boom.target,))

    target = ""


def test_a_changed_file_is_refused_before_it_is_unpickled(tmp_path: Path) -> None:
    with spill.Spill() as kept:
        spot = kept.spot(1)
        assert spill.write(spot, [])
        data = Path(spot.path).read_bytes()
        _Boom.target = str(tmp_path / "ran")
        # a pickle that would run code, with the tag of what this run wrote, and one with no tag
        for forged in (data[:32] + pickle.dumps([_Boom()]), pickle.dumps([_Boom()]), b"", data[:-1]):
            Path(spot.path).write_bytes(forged)
            with pytest.raises(InputError) as e:
                spill.read(spot)
            assert e.value.problems[0].code == "portfolio.kept-changed"
            assert "not what this run wrote" in e.value.problems[0].message
        assert not (tmp_path / "ran").exists()
        # a file signed by another run's key
        other = spill.Spot(spot.path, os.urandom(32))
        assert spill.write(other, [])
        with pytest.raises(InputError):
            spill.read(spot)
        os.unlink(spot.path)
        with pytest.raises(InputError) as e:
            spill.read(spot)
        assert "cannot be read" in e.value.problems[0].message


def test_a_file_that_cannot_be_written_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    spot = spill.Spot(str(tmp_path / "gone" / "0.kept"), b"k" * 32)  # its folder does not exist
    assert spill.write(spot, []) is False
    assert not list(tmp_path.iterdir())


def test_a_kept_task_is_described_by_where_its_accounts_came_from() -> None:
    """What a report says of a kept task whose worker died in the second pass (run.describe)."""
    from kamrules.portfolio.run import describe

    spot = spill.Spot("/tmp/x/0.kept", b"k" * 32)
    assert describe(stream.Kept(spot, "a.csv", 2, 257, 250, 0.5)) == ("lines 2–257 of a.csv", Location("a.csv", 2), 250)
    assert describe(stream.Kept(spot, "b/c.yaml", 0, 0, 1, 1.0)) == ("b/c.yaml", Location("b/c.yaml"), 1)


def test_no_temporary_folder_means_nothing_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with spill.Spill() as kept:
        assert kept.spot(0) is None


# --------------------------------------------------------------------------- the command line


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["portfolio", str(EXPORT), "-f", "json", "--as-of", "2026-06-30",
                                     "--engine", "reference", "--skip-invalid", *args])


@pytest.fixture
def own_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_the_second_pass_reads_no_input_again_and_gives_the_same_output(
        own_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The course ranks the book: every CSV slice is read once (first pass), the second pass
    evaluates what was kept; a run whose files cannot be kept reads the slices again, with the
    same bytes out. Either way the run's folder is gone at its end."""
    read: list[bool] = []
    real_csv = stream.Evaluate._csv

    def counting(self: stream.Evaluate, s: stream.CsvSlice) -> Any:
        read.append(s.pass_.measure)
        return real_csv(self, s)
    monkeypatch.setattr(stream.Evaluate, "_csv", counting)
    kept = _cli("--workers", "1")
    assert kept.exit_code == 0, kept.output
    assert read and all(read), "only the first pass read the CSV text"
    assert list(own_tmp.iterdir()) == []

    for why in ("a full disk", "no temporary folder"):
        read.clear()
        with monkeypatch.context() as m:
            if why == "a full disk":
                m.setattr(spill, "write", lambda spot, items: False)
            else:
                m.setattr(tempfile, "tempdir", str(own_tmp / "missing"))
            again = _cli("--workers", "1")
        assert again.exit_code == 0, (why, again.output)
        assert read.count(True) == read.count(False) > 0, ("each slice read in both passes", why)
        assert again.stdout == kept.stdout, why
    assert json.loads(kept.stdout)["summary"]["accounts"] >= 10
    assert list(own_tmp.iterdir()) == []


def test_a_kept_file_changed_during_the_run_stops_it_and_writes_nothing(
        own_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_read = spill.read

    def tampered(spot: spill.Spot) -> list[Any]:
        Path(spot.path).write_bytes(b"\0" * 40)
        return real_read(spot)
    monkeypatch.setattr(spill, "read", tampered)
    out = tmp_path / "out.json"
    res = _cli("--workers", "1", "-o", str(out))
    assert res.exit_code == 2, res.output
    assert "error[portfolio.kept-changed]" in res.stderr and "nothing was written" in res.stderr
    assert "Traceback" not in res.output and not out.exists()
    assert list(own_tmp.iterdir()) == []
