"""The kamrules performance harness: cold CLI start and engine throughput, in one run.

    python benchmarks/run.py            # full run (~2½ minutes on a quiet 2-core machine)
    python benchmarks/run.py --quick    # smoke run (seconds), e.g. from a test

Prints a Markdown report and writes benchmarks/results/latest.json (git-ignored). Targets
(issue 8): `kamrules advise` ≤ 2× the import floor, ≤ 3× with an empty cache; the full pipeline
on durable_rules within 1.5× of raw durable_rules; the full pipeline on the reference engine at
≥ 50 % of the bare reference backend's rate. (Issue 2's: our durable backend within 1.5× of raw
durable_rules; ahead of zen-engine.) See docs/performance.md for the method.

Rulebook: the built-in course when `python -m kamrules advise examples/accounts/huaxin-steel.yaml`
works, else the small fallback rulebook in benchmarks/data/ (the report says which).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

import coldstart  # noqa: E402
import throughput  # noqa: E402

CLI_TARGET = 2.0
UNCACHED_TARGET = 3.0
RAW_TARGET = 1.5
REFERENCE_SHARE_TARGET = 0.5  # full pipeline ÷ ReferenceBackend.run, in rate
COURSE_ACCOUNT = "examples/accounts/huaxin-steel.yaml"
MINI_RULEBOOK = HERE / "data" / "mini.yaml"
MINI_ACCOUNT = HERE / "data" / "acc.yaml"
AS_OF = "2026-06-30"


@dataclass(frozen=True)
class Choice:
    name: str  # course | mini
    ref: str  # for load_rulebook
    advise_args: list[str]  # after `kamrules`
    why: str


def _advise_args(name: str) -> list[str]:
    if name == "course":
        return ["advise", COURSE_ACCOUNT, "--as-of", AS_OF]
    return ["advise", str(MINI_ACCOUNT.relative_to(ROOT)), "-r", str(MINI_RULEBOOK.relative_to(ROOT)), "--as-of", AS_OF]


def choose_rulebook(wanted: str) -> Choice:
    """The course if it loads (probed through the CLI, as a user would), else the mini rulebook."""
    if wanted == "mini":
        return Choice("mini", str(MINI_RULEBOOK), _advise_args("mini"), "asked for with --rulebook mini")
    probe = subprocess.run([sys.executable, "-m", "kamrules", *_advise_args("course")], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if probe.returncode == 0:
        return Choice("course", "course", _advise_args("course"), "the built-in course loads")
    reason = probe.stderr.decode(errors="replace").strip().splitlines()
    why = f"the course does not load yet (exit {probe.returncode}: {reason[0][:160] if reason else 'no message'})"
    if wanted == "course":
        raise SystemExit(f"--rulebook course: {why}")
    return Choice("mini", str(MINI_RULEBOOK), _advise_args("mini"), why)


def machine() -> dict[str, Any]:
    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                                    text=True).stdout.strip())
    except OSError:
        commit, dirty = "", False
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(), "cpu": cpu or platform.processor(), "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {p: version(p) for p in ("kamrules", "durable_rules", "zen-engine", "click", "Jinja2", "PyYAML")},
        "commit": commit + ("+dirty" if dirty else ""),
    }


# ------------------------------------------------------------------------------- the parts

def cli_part(choice: Choice, runs: int, do_profile: bool | None) -> dict[str, Any]:
    py = sys.executable
    commands = {
        "advise": coldstart.Timings([py, "-m", "kamrules", *choice.advise_args]),
        "floor": coldstart.Timings([py, "-c", coldstart.FLOOR_IMPORTS]),
        "python": coldstart.Timings([py, "-c", "pass"]),
        "advise_uncached": coldstart.Timings([py, "-m", "kamrules", *choice.advise_args], {"KAMRULES_NO_CACHE": "1"}),
    }
    t = coldstart.measure(commands, runs, ROOT)
    ratio = t["advise"].median / t["floor"].median
    out: dict[str, Any] = {
        "runs": runs,
        "commands": {k: " ".join([*(f"{e}={x}" for e, x in v.env.items()), "python", *v.argv[1:]]) for k, v in t.items()},
        "median_s": {k: v.median for k, v in t.items()},
        "cpu_median_s": {k: v.cpu_median for k, v in t.items()},
        "seconds": {k: v.seconds for k, v in t.items()},
        "cpu_seconds": {k: v.cpu_seconds for k, v in t.items()},
        "ratio": ratio, "cpu_ratio": t["advise"].cpu_median / t["floor"].cpu_median,
        "uncached_ratio": t["advise_uncached"].median / t["floor"].median,
        "uncached_cpu_ratio": t["advise_uncached"].cpu_median / t["floor"].cpu_median,
        "target": CLI_TARGET, "met": ratio <= CLI_TARGET, "uncached_target": UNCACHED_TARGET,
    }
    if do_profile or (do_profile is None and (ratio > CLI_TARGET or out["uncached_ratio"] > UNCACHED_TARGET)):
        args = ["-m", "kamrules", *choice.advise_args]
        rows = coldstart.import_times(args, ROOT)
        out["imports"] = coldstart.summarize_imports(rows, ("click", "jinja2", "yaml", "durable", "json", "zen",
                                                            "markupsafe", "importlib_metadata", "hashlib"))
        out["profile"] = coldstart.profile(args, ROOT)
        out["profile_uncached"] = coldstart.profile(args, ROOT, extra={"KAMRULES_NO_CACHE": "1"})
    return out


def engine_part(choice: Choice, n: int, reps: int, box: float) -> dict[str, Any]:
    from kamrules.rulebook.load import load_rulebook

    book = load_rulebook(choice.ref)
    prep = throughput.prepare(book, n)
    t0 = time.perf_counter()
    results = throughput.measure(prep, reps, box)
    seconds = time.perf_counter() - t0
    equivalence = throughput.check_equivalence(prep, results)
    by = {m.engine.key: m for m in results}
    raw, zen = by["raw_durable"], by["zen"]
    engines = {}
    for m in results:
        engines[m.engine.key] = {
            "label": m.engine.label, "timed": m.engine.timed, "per_rep": m.per_rep,
            "median_per_s": m.median, "cpu_median_per_s": m.cpu_median, "rates": m.rates,
            "cpu_rates": m.cpu_rates, "seconds": m.seconds,
            "slowdown_vs_raw_durable": throughput.ratio(raw, m), "speed_vs_zen": throughput.ratio(m, zen),
            "cpu_slowdown_vs_raw_durable": throughput.ratio(raw, m, cpu=True),
            "cpu_speed_vs_zen": throughput.ratio(m, zen, cpu=True),
        }
    return {
        "rulebook": {"id": book.id, "version": book.version, "digest": book.digest, "rules": len(book.rules),
                     "strata": prep.prog.strata, "facts": len(book.facts), "metrics": len(book.metrics)},
        "accounts": n, "repetitions": reps, "slice": n // reps, "box_s": box,
        "prepare_s": prep.seconds, "measure_s": seconds, "engines": engines, "equivalence": equivalence,
        "targets": {
            "backend_durable_vs_raw": {"value": engines["backend_durable"]["slowdown_vs_raw_durable"],
                                       "target": RAW_TARGET},
            "pipeline_durable_vs_raw": {"value": engines["pipeline_durable"]["slowdown_vs_raw_durable"],
                                        "cpu": engines["pipeline_durable"]["cpu_slowdown_vs_raw_durable"],
                                        "target": RAW_TARGET},
            "pipeline_reference_share": {
                "value": throughput.ratio(by["pipeline_reference"], by["backend_reference"]),
                "cpu": throughput.ratio(by["pipeline_reference"], by["backend_reference"], cpu=True),
                "target": REFERENCE_SHARE_TARGET},
            "pipeline_reference_full_share": {
                "value": throughput.ratio(by["pipeline_reference_full"], by["backend_reference"]),
                "cpu": throughput.ratio(by["pipeline_reference_full"], by["backend_reference"], cpu=True)},
            "ahead_of_zen": {k: engines[k]["speed_vs_zen"] for k in
                             ("pipeline_durable", "backend_durable", "backend_reference", "pipeline_reference")},
        },
    }


# ------------------------------------------------------------------------------- the report

def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [f"# kamrules performance — {m['date']}", "",
             f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['platform']}, Python {m['python']}; "
             f"durable_rules {m['packages']['durable_rules']}, zen-engine {m['packages']['zen-engine']}; "
             f"commit {m['commit'] or '?'}{' · QUICK smoke run, numbers not meaningful' if res['quick'] else ''}.", "",
             f"Rulebook: **{res['rulebook']['name']}** — {res['rulebook']['why']}.", ""]
    cli = res.get("cli")
    if cli:
        md = cli["median_s"]
        lines += ["## (a) Cold CLI run", "",
                  f"Median of {cli['runs']} runs each, interleaved, after one warm-up; kamrules' cache in a "
                  "private temporary directory, warm after the warm-up.", "",
                  "| command | median (wall) | min | max | median CPU time |", "|---|---:|---:|---:|---:|"]
        for k in ("advise", "floor", "python", "advise_uncached"):
            s = cli["seconds"][k]
            lines.append(f"| `{cli['commands'][k]}` | {md[k] * 1000:.0f} ms | {min(s) * 1000:.0f} ms | "
                         f"{max(s) * 1000:.0f} ms | {cli['cpu_median_s'][k] * 1000:.0f} ms |")
        lines += ["", f"**advise / floor = {cli['ratio']:.2f}×** wall clock (target ≤ {cli['target']}×: "
                  f"{_mark(cli['met'])}); {cli['cpu_ratio']:.2f}× in CPU time. Without kamrules' on-disk cache "
                  f"(the first run, or the first after editing a rulebook): **{cli['uncached_ratio']:.2f}×** "
                  f"(target ≤ {cli['uncached_target']}×: {_mark(cli['uncached_ratio'] <= cli['uncached_target'])}); "
                  f"{cli['uncached_cpu_ratio']:.2f}× in CPU time.", ""]
        if "imports" in cli:
            imp, prof = cli["imports"], cli["profile"]
            lines += ["Where the start-up goes (one profiled run; profiling inflates times):", "",
                      f"- imports: {imp['total_ms']} ms in all; by package (self time): "
                      + ", ".join(f"{k} {v} ms" for k, v in list(imp["by_package_ms"].items())[:8]),
                      "- each library (all its modules) and who first pulls it in: "
                      + "; ".join(f"{k} {v['ms']} ms ← {' ← '.join(v['imported_by'][:4]) or 'a function at run time'}"
                                  for k, v in imp["packages"].items()),
                      "- phases (cProfile, cumulative): " + ", ".join(f"{k.strip()} {v} ms" for k, v in prof["phases_ms"].items()),
                      "- the same without the cache: " + ", ".join(
                          f"{k.strip()} {v} ms" for k, v in cli["profile_uncached"]["phases_ms"].items()),
                      ""]
    eng = res.get("engines")
    if eng:
        e = eng["engines"]
        rb = eng["rulebook"]
        lines += ["## (b) Engine throughput", "",
                  f"{eng['accounts']:,} generated accounts (seeded), rulebook {rb['id']} {rb['version']}: "
                  f"{rb['rules']} rules in {rb['strata']} strata. {eng['repetitions']} repetitions, each over its own "
                  f"slice of {eng['slice']:,} accounts (engines interleaved); median rate. Rows marked † are time-boxed "
                  f"to ~{eng['box_s']:g} s per repetition (first N accounts of each slice).", "",
                  "Ratios are medians of per-repetition ratios (same slice, moments apart); CPU-time figures "
                  "in brackets (the steadier estimate on a busy machine).", "",
                  "| engine | what the timer covers | accounts / rep | accounts/s (median) | min–max | "
                  "raw durable ÷ this | this ÷ zen |", "|---|---|---:|---:|---:|---:|---:|"]
        for k, v in e.items():
            boxed = " †" if v["per_rep"] < eng["slice"] else ""
            lines.append(f"| {v['label']} | {v['timed']} | {v['per_rep']:,}{boxed} | {v['median_per_s']:,.0f} "
                         f"({v['cpu_median_per_s']:,.0f}) | {min(v['rates']):,.0f}–{max(v['rates']):,.0f} | "
                         f"{v['slowdown_vs_raw_durable']:.2f}× ({v['cpu_slowdown_vs_raw_durable']:.2f}×) | "
                         f"{v['speed_vs_zen']:.2f}× ({v['cpu_speed_vs_zen']:.2f}×) |")
        t = eng["targets"]
        q = eng["equivalence"]
        lines += ["",
                  f"- our durable backend vs raw durable_rules: {t['backend_durable_vs_raw']['value']:.2f}× raw's time "
                  f"(target ≤ {RAW_TARGET}×: {_mark(t['backend_durable_vs_raw']['value'] <= RAW_TARGET)}); "
                  f"full pipeline: {t['pipeline_durable_vs_raw']['value']:.2f}× "
                  f"({t['pipeline_durable_vs_raw']['cpu']:.2f}× in CPU time; target ≤ {RAW_TARGET}×: "
                  f"{_mark(t['pipeline_durable_vs_raw']['value'] <= RAW_TARGET)})",
                  f"- full pipeline on the reference engine: {t['pipeline_reference_share']['value']:.0%} of "
                  f"ReferenceBackend.run's rate ({t['pipeline_reference_share']['cpu']:.0%} in CPU time; target ≥ "
                  f"{REFERENCE_SHARE_TARGET:.0%}: {_mark(t['pipeline_reference_share']['value'] >= REFERENCE_SHARE_TARGET)}); "
                  f"with every finding materialised: {t['pipeline_reference_full_share']['value']:.0%} "
                  f"({t['pipeline_reference_full_share']['cpu']:.0%})",
                  "- vs zen-engine (target: ahead, > 1×): " + ", ".join(
                      f"{k} {v:.2f}× ({_mark(v > 1)})" for k, v in t["ahead_of_zen"].items()),
                  f"- equivalence: on every account, every engine fired exactly the rules the reference evaluator "
                  f"fired ({q['comparisons']:,} account evaluations over {q['accounts']:,} accounts; "
                  f"{q['rules_fired']}/{q['rules']} rules fired at least once, {q['mean_hits']:.1f} per account)."
                  + (f" Never fired: {', '.join(q['never_fired'])}." if q["never_fired"] else "")
                  + (f" Exception, explained: zen-engine computes in decimal and decided {len(q['zen_decimal_boundary'])} "
                     f"rule(s) the other way where a derived number sits on its threshold only through binary "
                     f"rounding (e.g. {q['zen_decimal_boundary'][0]['rule']} on {q['zen_decimal_boundary'][0]['account']})."
                     if q["zen_decimal_boundary"] else ""),
                  f"- preparation (generation, facts, reference replay, flat facts) {eng['prepare_s']:.1f} s; "
                  f"measurement {eng['measure_s']:.1f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 300 accounts, 3 CLI runs")
    ap.add_argument("--rulebook", choices=("auto", "course", "mini"), default="auto")
    ap.add_argument("--accounts", type=int, help="generated accounts (default 10,000; quick 500)")
    ap.add_argument("--reps", type=int, default=5, help="repetitions (slices) for throughput (default 5)")
    ap.add_argument("--cli-runs", type=int, help="cold CLI runs per command (default 10; quick 3)")
    ap.add_argument("--box", type=float, help="seconds per repetition before an engine is time-boxed (default 6)")
    ap.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                    help="profile the CLI start-up (default: only when it misses its target; never in --quick)")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--skip-engines", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    a = ap.parse_args(argv)
    # kamrules' on-disk cache: private to this run (never the user's), warm after the warm-ups
    cache = tempfile.TemporaryDirectory(prefix="kamrules-bench-cache-")
    os.environ["KAMRULES_CACHE_DIR"] = cache.name
    n = a.accounts or (300 if a.quick else 10_000)
    runs = a.cli_runs or (3 if a.quick else 10)
    box = a.box or (0.3 if a.quick else 6.0)
    if n < a.reps:
        ap.error("--accounts must be at least --reps")
    if not a.skip_engines:
        missing = [name for name, mod in (("durable-rules", "durable.engine"), ("zen-engine", "zen"))
                   if importlib.util.find_spec(mod.split(".")[0]) is None]
        if missing:
            ap.error(f"the engine comparison needs {' and '.join(missing)}: pip install '.[bench]' on "
                     "Python 3.10–3.12 (or pass --skip-engines)")
    choice = choose_rulebook(a.rulebook)
    res: dict[str, Any] = {"machine": machine(), "quick": a.quick,
                           "rulebook": {"name": choice.name, "ref": choice.ref, "why": choice.why}}
    t0 = time.perf_counter()
    if not a.skip_cli:
        res["cli"] = cli_part(choice, runs, False if (a.quick and a.profile is None) else a.profile)
    if not a.skip_engines:
        try:
            res["engines"] = engine_part(choice, n, a.reps, box)
        except AssertionError as e:  # the engines disagree (or generated input is invalid): no numbers
            print(f"benchmarks/run.py: {e}", file=sys.stderr)
            cache.cleanup()
            return 1
    res["total_s"] = time.perf_counter() - t0
    text = report(res)
    print(text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(f"Total {res['total_s']:.0f} s. Results: {a.out}")
    cache.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
