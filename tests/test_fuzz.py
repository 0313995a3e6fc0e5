"""A bounded fuzz run over every loader (CI): the YAML reader, account files, rulebooks and
company overlays, conditions, and rule-test files; and the edges (tests/hostile.py): numbers,
dates, hostile text in every output medium, mixed encodings, CSV exports around a row cap.
Only kamrules' InputError may escape a loader; what loads must then evaluate on every engine
without an exception.

Deterministic (derandomized) and short; benchmarks/fuzz.py runs the same targets for minutes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import pickle
import random
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from hypothesis import given, settings
from hypothesis import strategies as st
import hostile
from strategies import (
    CONDITION_TOKENS,
    TEMPLATE_TOKENS,
    FUZZ,
    MINI,
    TEST_FILE_SEED,
    account_seeds,
    fuzz_account,
    fuzz_cache_entry,
    fuzz_condition,
    fuzz_message,
    fuzz_rulebook,
    fuzz_template,
    fuzz_test_file,
    fuzz_yaml,
    mutate,
    mutate_template,
    rulebook_seeds,
    template_seeds,
)

from kamrules.rulebook.load import load_rulebook

BOOK = load_rulebook(str(MINI))


def in_folder(fn: Callable[[Path], None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fn(Path(tmp))


yaml_ish = st.lists(st.sampled_from([": ", "- ", "\n", "  ", "{", "}", "[", "]", ",", "&a ", "*a", "!!str ", "!t ",
                                     "'", '"', "#", "|", ">", "? ", "---\n", "key", "12%", "1.2M", "中文", "\t", "~",
                                     "<<", "\\", "%YAML 1.1\n", "\ufeff"]), max_size=40).map("".join)


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), yaml_ish))
def test_yaml_reader(data: str | bytes) -> None:
    in_folder(lambda d: fuzz_yaml(data, d))


@FUZZ
@given(seed=st.sampled_from(account_seeds()), rnd=st.randoms(use_true_random=False))
def test_account_files(seed: str, rnd: random.Random) -> None:
    in_folder(lambda d: fuzz_account(mutate(seed, rnd), d, BOOK))


@settings(FUZZ, max_examples=60)
@given(seed=st.sampled_from(rulebook_seeds()), rnd=st.randoms(use_true_random=False))
def test_rulebooks_and_overlays(seed: Path, rnd: random.Random) -> None:
    text = seed.read_text(encoding="utf-8", errors="replace")
    in_folder(lambda d: fuzz_rulebook(mutate(text, rnd), d))


@settings(FUZZ, max_examples=60)
@given(st.lists(st.sampled_from(CONDITION_TOKENS), min_size=1, max_size=12).map(" ".join))
def test_conditions(text: str) -> None:
    in_folder(lambda d: fuzz_condition(text, d))


@settings(FUZZ, max_examples=40)
@given(rnd=st.randoms(use_true_random=False))
def test_rule_test_files(rnd: random.Random) -> None:
    in_folder(lambda d: fuzz_test_file(mutate(TEST_FILE_SEED, rnd), d))


def test_the_seeds_themselves_load(tmp_path: Path) -> None:
    """The mutations start from inputs that work: otherwise the fuzz run only tests refusals."""
    from kamrules.authoring.ruletests import reader, runner
    from kamrules.io.account import load_account

    for i, text in enumerate(account_seeds()):
        (tmp_path / f"a{i}.yaml").write_text(text, encoding="utf-8")
        assert load_account(str(tmp_path / f"a{i}.yaml"), BOOK).values["revenue"] > 0
        fuzz_account(text, tmp_path, BOOK)
    (tmp_path / "t.test.yaml").write_text(TEST_FILE_SEED, encoding="utf-8")
    tf = reader.read_test_file(str(tmp_path / "t.test.yaml"))
    assert [runner.run_case(tf, c).status for c in tf.cases] == ["PASS", "PASS"]
    assert len(rulebook_seeds()) > 20 and MINI in rulebook_seeds()


@contextlib.contextmanager
def quick_limits() -> Iterator[None]:
    """The playbook bounds, smaller: the same mechanism, hit in milliseconds instead of seconds
    (benchmarks/fuzz.py runs the real ones)."""
    import kamrules.advice.render as render

    real = render.PLAYBOOK
    render.PLAYBOOK = dataclasses.replace(real, seconds=2.0, iterations=20_000, size=200_000, output=400_000)
    try:
        yield
    finally:
        render.PLAYBOOK = real


@settings(FUZZ, max_examples=40)
@given(seed=st.sampled_from(template_seeds()), rnd=st.randoms(use_true_random=False))
def test_company_templates(seed: str, rnd: random.Random) -> None:
    with quick_limits():
        in_folder(lambda d: fuzz_template(mutate_template(seed, rnd), d))


@settings(FUZZ, max_examples=40)
@given(st.lists(st.sampled_from([*TEMPLATE_TOKENS, "{{ revenue|pct }}", "{{ discount_rate }}", " text ", "{% if revenue %}",
                                 "{% endif %}", "{{ params.max_discount }}"]), min_size=1, max_size=6).map("".join))
def test_rule_messages(text: str) -> None:
    in_folder(lambda d: fuzz_message(text, d))


def _flip(at: int, bit: int) -> Callable[[bytes], bytes]:
    def f(data: bytes) -> bytes:
        if not data:
            return data
        b = bytearray(data)
        b[at % len(b)] ^= 1 << bit
        return bytes(b)
    return f


class _Boom:
    def __reduce__(self) -> tuple[object, ...]:
        return (exec, ("raise SystemExit('a planted pickle ran')",))


@settings(FUZZ, max_examples=30)
@given(st.one_of(
    st.builds(_flip, st.integers(0, 1 << 20), st.integers(0, 7)),
    st.integers(0, 4096).map(lambda n: (lambda data: data[:n])),  # truncated
    st.binary(max_size=64).map(lambda junk: (lambda data: data + junk)),  # grown
    st.binary(max_size=200).map(lambda junk: (lambda data: junk)),  # replaced
    st.just(lambda data: data[:17] + pickle.dumps(_Boom())),  # a pickle after the magic
))
def test_cache_entries(mutation: Callable[[bytes], bytes]) -> None:
    in_folder(lambda d: fuzz_cache_entry(mutation, d))


# ----------------------------------------------------------------------------- the edges (issue 9, classes 5–9)
# tests/hostile.py: hostile numbers, dates, text, mixed encodings and CSV exports around a row cap,
# each through every output medium (md, html, json, explain, portfolio md/csv/json): only
# InputError escapes, JSON is strict, nothing prints as -0, no raw control character is written.


@settings(FUZZ, max_examples=25)  # each example runs seven commands
@given(raw=hostile.edge_numbers)
def test_numbers_at_the_edges(raw: object) -> None:
    in_folder(lambda d: hostile.fuzz_number(raw, d))


@settings(FUZZ, max_examples=40)
@given(raw=hostile.edge_dates)
def test_dates_at_the_edges(raw: object) -> None:
    in_folder(lambda d: hostile.fuzz_date(raw, d))


@settings(FUZZ, max_examples=25)
@given(text=hostile.hostile_text)
def test_hostile_text_in_every_medium(text: str) -> None:
    in_folder(lambda d: hostile.fuzz_text(text, d))


@settings(FUZZ, max_examples=100)
@given(lines=st.lists(st.tuples(st.one_of(hostile.hanzi_line, hostile.ascii_line, st.text(max_size=20)),
                                st.sampled_from(("utf-8", "gbk"))), min_size=1, max_size=10)
       .filter(lambda ls: all(_encodable(t, e) for t, e in ls)))
def test_mixed_encodings(lines: list[tuple[str, str]]) -> None:
    in_folder(lambda d: hostile.fuzz_mixed_encoding(lines, d))


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return "\n" not in text and "\x00" not in text


@settings(FUZZ, max_examples=10)  # three portfolio runs each; benchmarks/fuzz.py runs many more
@given(rnd=st.randoms(use_true_random=False))
def test_csv_exports_with_hostile_cells(rnd: random.Random) -> None:
    in_folder(lambda d: hostile.fuzz_csv(hostile.random_rows(rnd), d))
