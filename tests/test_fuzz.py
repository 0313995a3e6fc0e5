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
    first_hour_account,
    first_hour_seeds,
    fuzz_account,
    fuzz_cache_entry,
    fuzz_first_hour,
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


# ----------------------------------------------------------------------------- the first hour (issue 9, classes 11–13)
# A course account as a newcomer writes it (tests/strategies.py: first_hour_account): commas in
# numbers inside { … }, units in zh/en, Chinese enum values, keys out of their group. Through
# the CLI: exit 0 or 2, never 3, no traceback, nothing written on error.

COURSE = load_rulebook("course")


@settings(FUZZ, max_examples=20)  # a valid one runs the whole course: benchmarks/fuzz.py runs many more
@given(seed=st.sampled_from(first_hour_seeds()), rnd=st.randoms(use_true_random=False))
def test_a_newcomers_account(seed: str, rnd: random.Random) -> None:
    in_folder(lambda d: fuzz_first_hour(first_hour_account(seed, rnd, COURSE), d))


def test_a_newcomers_mutations_are_the_defects_they_name() -> None:
    """The generator makes the defect kinds it claims, deterministically: the same seed, the
    same accounts."""
    import re as _re

    texts = [first_hour_account("huaxin-steel.yaml", random.Random(n), COURSE) for n in range(60)]
    assert texts == [first_hour_account("huaxin-steel.yaml", random.Random(n), COURSE) for n in range(60)]
    joined = "\n".join(texts)
    assert _re.search(r"\{[^}\n]*: -?\d{1,3}(,\d{3})+", joined), "thousands separators inside { … }"
    assert _re.search(r": \d+(\.\d+)? ?(天|分|台阶|days|points|人|年)\b", joined) or "第" in joined, "a unit"
    assert any(t in joined for t in ("高", "中", "低", "支持", "决策者")), "a Chinese enum value"
    assert _re.search(r"(?m)^(account_manager|accounts_per_manager|account_plan|incentives|team\.\w+):", joined) or \
        _re.search(r"(?m)^team:\n(  .*\n)*  (revenue|industry|region|discount_rate)\w*:", joined), "a key out of its group"


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
    for seed in first_hour_seeds():  # rendered without a defect, each course example reads back to its values
        from strategies import _render, _seed_values, _plain

        values = _seed_values(seed, COURSE)
        doc: dict[str, object] = {}
        for n, v in values.items():
            items = COURSE.facts[n].items
            plain = [{k: _plain(x, next(f.type for f in items if f.name == k)) for k, x in row.items()} for row in v] \
                if items else _plain(v, COURSE.facts[n].type)
            head, _, rest = n.partition(".")
            if rest:
                doc.setdefault(head, {})[rest] = plain
            else:
                doc[n] = plain
        (tmp_path / seed).write_text(_render(doc, set()), encoding="utf-8")
        assert dict(load_account(str(tmp_path / seed), COURSE).values) == values, seed


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


# 15: each example loads the rulebook uncached twice and renders; tests/test_security.py flips
# bits at fixed offsets of every entry and plants a pickle deterministically
@settings(FUZZ, max_examples=15)
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
