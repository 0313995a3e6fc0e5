"""What recording costs: `kamrules portfolio` over N generated accounts, without and with
`--record`, side by side in one run (alternating, median of R runs each).

    python benchmarks/history.py                       # 10,000 accounts, 3 runs each, reference engine
    python benchmarks/history.py --engine durable      # the same on durable_rules
    python benchmarks/history.py -n 500 -r 1           # a smoke run
    python benchmarks/history.py --postgresql URL      # also record into this PostgreSQL database

Variants (each a fresh process: `python -m kamrules portfolio DIR -f json -o out.json`):

- plain: no store at all;
- record (first): `--record` into a new, empty SQLite store;
- record (again): `--record` into the store that holds the first recording, so every account
  has one earlier review (history facts supplied, trend rules live);
- the same two on PostgreSQL with --postgresql (the database is emptied before each pair).

Target (issue 12): recording costs at most 20 % on top of the plain run. Not a timed test.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))

import genaccounts  # noqa: E402

AS_OF = "2026-06-30"
TARGET = 0.20


def write_accounts(folder: Path, n: int) -> None:
    from kamrules.pipeline import rulebook

    book = rulebook("course")
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        acc = genaccounts.account(book, i)
        (folder / f"{acc.id}.yaml").write_text(genaccounts.to_yaml(acc), encoding="utf-8")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child). On a shared machine the CPU time is the steadier
    measure: other processes stretch the wall time, not the work done."""
    t, c = time.perf_counter(), _children_cpu()
    r = subprocess.run([sys.executable, "-m", "kamrules", *args], capture_output=True, text=True, env=env, cwd=env["PWD"])
    if r.returncode != 0:
        raise SystemExit(f"failed: kamrules {' '.join(args)}\n{r.stderr[-2000:]}")
    return time.perf_counter() - t, _children_cpu() - c


def empty_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as conn:
        for t in ("kamrules_findings", "kamrules_review_values", "kamrules_reviews", "kamrules_rulebooks",
                  "kamrules_sources", "kamrules_overrides", "kamrules_meta", "kamrules_alembic_version"):
            conn.execute(text(f"DROP TABLE IF EXISTS {t} CASCADE"))
    eng.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000, help="accounts (default 10,000)")
    ap.add_argument("-r", "--runs", type=int, default=3, help="runs of each variant (default 3)")
    ap.add_argument("--engine", default="reference", choices=["reference", "durable", "auto"])
    ap.add_argument("--postgresql", metavar="URL", help="also record into this (emptied!) PostgreSQL database")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kamrules-bench-history-"))
    try:
        folder = work / "accounts"
        t = time.perf_counter()
        write_accounts(folder, a.n)
        print(f"generated {a.n} accounts in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        env = {**os.environ, "XDG_DATA_HOME": str(work / "xdg"), "PWD": str(work)}
        env.pop("KAMRULES_STORE", None)
        base = ["portfolio", str(folder), "-f", "json", "-o", str(work / "out.json"), "--engine", a.engine,
                "--as-of", AS_OF]
        times: dict[str, list[tuple[float, float]]] = {"plain": [], "record (first)": [], "record (again)": []}
        if a.postgresql:
            times |= {"postgresql (first)": [], "postgresql (again)": []}
        write_accounts(work / "one", 1)  # warm the rulebook and template caches once, untimed
        timed(["portfolio", str(work / "one"), "-f", "json", "-o", str(work / "one.json"), "--engine", a.engine], env)
        for k in range(a.runs):
            store = work / f"s{k}.sqlite"
            times["plain"].append(timed(base, env))
            times["record (first)"].append(timed([*base, "--record", "--store", str(store)], env))
            times["record (again)"].append(timed([*base, "--record", "--store", str(store)], env))
            if a.postgresql:
                empty_pg(a.postgresql)
                times["postgresql (first)"].append(timed([*base, "--record", "--store", a.postgresql], env))
                times["postgresql (again)"].append(timed([*base, "--record", "--store", a.postgresql], env))
            print(f"run {k + 1}/{a.runs}: " + ", ".join(f"{n} {v[-1][0]:.1f} s wall, {v[-1][1]:.1f} s CPU"
                                                       for n, v in times.items()), file=sys.stderr)
        wall0 = statistics.median(w for w, _ in times["plain"])
        cpu0 = statistics.median(c for _, c in times["plain"])
        print(f"\n{a.n:,} accounts, engine {a.engine}, median of {a.runs} runs each, Python "
              f"{sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
        print("| variant | CPU (median) | on top of plain | wall (median) | on top of plain | target ≤ 20 % (CPU) |")
        print("|---|---:|---:|---:|---:|---|")
        for name, v in times.items():
            wall = statistics.median(w for w, _ in v)
            cpu = statistics.median(c for _, c in v)
            over = cpu / cpu0 - 1
            verdict = "—" if name == "plain" else ("met" if over <= TARGET else f"**not met** (by {over - TARGET:.0%})")
            dash = name == "plain"
            print(f"| {name} | {cpu:.1f} s | {'—' if dash else f'{over:+.1%}'} | {wall:.1f} s | "
                  f"{'—' if dash else f'{wall / wall0 - 1:+.1%}'} | {verdict} |")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
