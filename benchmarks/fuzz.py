"""The long fuzz run: every loader, mutated inputs, for as long as you give it.

    python benchmarks/fuzz.py --seconds 300            # all targets, round robin
    python benchmarks/fuzz.py --seconds 60 --targets account,condition --seed 7

The targets are the ones tests/test_fuzz.py runs briefly in CI (tests/strategies.py): the
YAML reader, account files (the mini rulebook and the built-in course with its example
accounts), rulebooks and company overlays (including the course's own files), conditions,
rule-test files, company templates and rule messages (with the sandbox's real bounds: a case
that runs past them is a hang), and cache entries (mutated, they must never change the
answer); and the edges (tests/hostile.py): numbers and dates at and beyond the declared ranges,
hostile text through every output medium, files mixing UTF-8 and GBK lines, and CSV exports
with hostile cells around a small row cap; and a newcomer's course account (firsthour: commas
inside { … }, units, Chinese enum values, keys out of their group) through the CLI, which must
exit 0 or 2 and write nothing on error. Only kamrules' InputError may escape a loader, and
what loads must evaluate on every engine. A case that raises anything else, or runs longer
than --hang seconds, is saved under --out with its traceback, once per distinct failure; the
exit code is 1 when there was any.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import random
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import hostile as H  # noqa: E402
import strategies as S  # noqa: E402

from kamrules.rulebook.load import load_rulebook  # noqa: E402

Target = Callable[[random.Random, Path], tuple[str, Callable[[], None]]]


class Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang("no answer within the time limit")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def make_targets() -> dict[str, Target]:
    mini = load_rulebook(str(S.MINI))
    course = None
    try:
        course = load_rulebook("course")
    except Exception as e:  # the course is fuzzed when it loads; the run goes on without it
        print(f"(the built-in course does not load, its targets are skipped: {str(e).splitlines()[0]})")
    mini_accounts = S.account_seeds()
    course_accounts = [_text(p) for p in sorted((ROOT / "examples" / "accounts").glob("*.yaml"))]
    rulebooks = [_text(p) for p in S.rulebook_seeds()]
    course_files = [_text(p) for p in sorted((ROOT / "rules" / "course").glob("*.yaml"))
                    if not p.name.endswith(".test.yaml")]
    test_files = [S.TEST_FILE_SEED] + [_text(p) for p in sorted((ROOT / "rules" / "course").glob("*.test.yaml"))]
    yaml_seeds = mini_accounts + rulebooks[:5]

    def yaml_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        kind = rnd.randrange(3)
        if kind == 0:
            data: str | bytes = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 400)))
        elif kind == 1:
            data = "".join(chr(rnd.randrange(0x20, 0x3100)) if rnd.random() < 0.9 else rnd.choice("\n\t:-[]{}&*!")
                           for _ in range(rnd.randint(0, 300)))
        else:
            data = S.mutate(rnd.choice(yaml_seeds), rnd, rounds=6)
        return _show(data), lambda: S.fuzz_yaml(data, d)

    def account_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        if course is not None and course_accounts and rnd.random() < 0.4:
            text, book = S.mutate(rnd.choice(course_accounts), rnd), course
        else:
            text, book = S.mutate(rnd.choice(mini_accounts), rnd), mini
        return text, lambda: S.fuzz_account(text, d, book)

    def rulebook_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        pool = rulebooks + (course_files if course is not None and rnd.random() < 0.2 else [])
        text = S.mutate(rnd.choice(pool), rnd)
        return text, lambda: S.fuzz_rulebook(text, d)

    def condition_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        text = S.condition_text(rnd, max_tokens=20)
        return text, lambda: S.fuzz_condition(text, d)

    def test_file_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        text = S.mutate(rnd.choice(test_files), rnd)
        return text, lambda: S.fuzz_test_file(text, d)

    templates = S.template_seeds()

    def template_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        text = S.mutate_template(rnd.choice(templates), rnd, rounds=5)
        return text, lambda: S.fuzz_template(text, d)

    def message_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        text = "".join(rnd.choice(S.TEMPLATE_TOKENS + ["{{ revenue|pct }}", " x "]) for _ in range(rnd.randint(1, 6)))
        return text, lambda: S.fuzz_message(text, d)

    def cache_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        at, bit, cut = rnd.randrange(1 << 20), rnd.randrange(8), rnd.random() < 0.3

        def mutation(data: bytes) -> bytes:
            if not data:
                return data
            if cut:
                return data[: at % len(data)]
            b = bytearray(data)
            b[at % len(b)] ^= 1 << bit
            return bytes(b)

        return f"{'cut' if cut else 'flip'} at {at} bit {bit}", lambda: S.fuzz_cache_entry(mutation, d)

    # the edges (issue 9, classes 5–9): tests/hostile.py
    def number_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        raw = H.random_number(rnd)
        return repr(raw), lambda: H.fuzz_number(raw, d)

    def date_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        raw = H.random_date(rnd)
        return repr(raw), lambda: H.fuzz_date(raw, d)

    def text_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        text = H.random_text(rnd)
        return repr(text), lambda: H.fuzz_text(text, d)

    def encoding_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        lines = H.random_lines(rnd)
        return repr(lines), lambda: H.fuzz_mixed_encoding(lines, d)

    def csv_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        rows = H.random_rows(rnd)
        return repr(rows), lambda: H.fuzz_csv(rows, d)

    # a newcomer's account (issue 9, classes 11–13): commas inside { … }, units, Chinese enum
    # values, keys out of their group, in the course's example accounts; through the CLI
    first_hour_seeds = S.first_hour_seeds() if course is not None else []

    def first_hour_target(rnd: random.Random, d: Path) -> tuple[str, Callable[[], None]]:
        if course is None:
            return "(the course does not load)", lambda: None
        text = S.first_hour_account(rnd.choice(first_hour_seeds), rnd, course, defects=rnd.randint(1, 6))
        return text, lambda: S.fuzz_first_hour(text, d)

    return {"yaml": yaml_target, "account": account_target, "rulebook": rulebook_target,
            "condition": condition_target, "testfile": test_file_target, "template": template_target,
            "message": message_target, "cache": cache_target, "number": number_target,
            "date": date_target, "text": text_target, "encoding": encoding_target, "csv": csv_target,
            "firsthour": first_hour_target}


def _show(data: str | bytes) -> str:
    return data if isinstance(data, str) else data.hex()


def _signature(e: BaseException) -> str:
    """Failures are the same when the exception type and the innermost kamrules frame match."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "/kamrules/" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(e).__name__} at {where}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (runs are reproducible per seed)")
    ap.add_argument("--targets", default="yaml,account,rulebook,condition,testfile,template,message,cache,"
                                          "number,date,text,encoding,csv,firsthour",
                    help="comma-separated: yaml, account, rulebook, condition, testfile, template, message, cache, "
                         "number, date, text, encoding, csv, firsthour")
    ap.add_argument("--hang", type=int, default=20, help="seconds before one case counts as a hang (default 20)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fuzz"),
                    help="where failing inputs are saved")
    args = ap.parse_args(argv)

    targets = make_targets()
    chosen = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in targets]
    if unknown:
        ap.error(f"unknown target(s): {', '.join(unknown)}; choose from {', '.join(targets)}")
    rnd = random.Random(args.seed)
    out = Path(args.out)
    runs: collections.Counter[str] = collections.Counter()
    failures: dict[str, tuple[str, str, str]] = {}  # signature → (target, input, traceback)
    signal.signal(signal.SIGALRM, _alarm)
    deadline = time.monotonic() + args.seconds
    i = 0
    while time.monotonic() < deadline:
        name = chosen[i % len(chosen)]
        i += 1
        with tempfile.TemporaryDirectory() as tmp:
            text, run = targets[name](rnd, Path(tmp))
            signal.alarm(args.hang)
            try:
                run()
            except (Exception, Hang) as e:  # AssertionError included: the targets' own checks
                sig = f"{name}: {_signature(e)}"
                if sig not in failures:
                    failures[sig] = (name, text, traceback.format_exc())
                    print(f"FAIL {sig}: {str(e).splitlines()[0] if str(e) else ''}"[:300], flush=True)
            finally:
                signal.alarm(0)
        runs[name] += 1
    if failures:
        out.mkdir(parents=True, exist_ok=True)
        for sig, (name, text, tb) in failures.items():
            stem = f"{name}-{hashlib.sha1(sig.encode()).hexdigest()[:10]}"
            (out / f"{stem}.input").write_text(text, encoding="utf-8", errors="surrogatepass")
            (out / f"{stem}.txt").write_text(f"{sig}\n\n{tb}", encoding="utf-8")
    total = sum(runs.values())
    print(f"{total} cases in {args.seconds:.0f} s (seed {args.seed}): "
          + ", ".join(f"{k} {v}" for k, v in sorted(runs.items())))
    print(f"{len(failures)} distinct failure(s)" + (f", saved under {out}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
