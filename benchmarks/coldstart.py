"""Cold start of the CLI: `kamrules advise` as a fresh process against the import floor.

The floor is `python -c "import click, jinja2, yaml, durable.engine"`: the least any tool
built on these libraries pays before doing work. Both are timed in the same run,
interleaved (ABBA order), after one untimed warm-up each (which also writes .pyc files),
so that disk cache and machine noise affect them alike. `python -c pass` is timed too, to
show what the interpreter alone costs.

kamrules keeps the checked rulebook and compiled templates in an on-disk cache (validated by
content hashes); the harness points it at a private temporary directory, so the timed runs see
the warm cache a user has from the second run on, and times `advise` once more with the cache
off (KAMRULES_NO_CACHE=1): what the very first run, or the first after editing a rulebook, costs.

When asked, it also profiles one run: `-X importtime` (what is imported, and who imports
it) and cProfile (where the rest of the time goes).
"""
from __future__ import annotations

import os
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLOOR_IMPORTS = "import click, jinja2, yaml, durable.engine"


@dataclass
class Timings:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # set for this command only
    seconds: list[float] = field(default_factory=list)  # wall clock
    cpu_seconds: list[float] = field(default_factory=list)  # user + system time of the child

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_seconds)


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE", "PYTHONTRACEMALLOC", "KAMRULES_DEBUG",
              "KAMRULES_NO_CACHE"):
        env.pop(k, None)
    env.update(extra or {})
    return env


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run; CPU time is what a busy machine distorts least."""
    c0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(env))
    dt, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-800:]}")
    return dt, cpu


def measure(commands: dict[str, Timings], runs: int, cwd: Path) -> dict[str, Timings]:
    out = commands
    for t in out.values():
        run_once(t.argv, cwd, t.env)  # warm-up: page cache, .pyc files, kamrules' own cache
    names = list(out)
    for i in range(runs):
        for name in (names if i % 2 == 0 else names[::-1]):
            wall, cpu = run_once(out[name].argv, cwd, out[name].env)
            out[name].seconds.append(wall)
            out[name].cpu_seconds.append(cpu)
    return out


# ------------------------------------------------------------------------------- profiling

_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


@dataclass(frozen=True)
class Imported:
    module: str
    self_us: int
    cumulative_us: int
    depth: int


def import_times(argv_after_python: list[str], cwd: Path) -> list[Imported]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv_after_python], cwd=cwd,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    rows = []
    for line in proc.stderr.decode(errors="replace").splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            rows.append(Imported(m.group(4), int(m.group(1)), int(m.group(2)), (len(m.group(3)) - 1) // 2))
    return rows


def importer_chain(rows: list[Imported], index: int) -> list[str]:
    """Who imported rows[index]: its parents, nearest first (a parent is listed after its children)."""
    chain = []
    depth = rows[index].depth
    for r in rows[index + 1:]:
        if r.depth < depth:
            chain.append(r.module)
            depth = r.depth
            if depth == 0:
                break
    return chain


def summarize_imports(rows: list[Imported], packages: tuple[str, ...]) -> dict[str, Any]:
    by_root: dict[str, int] = {}
    for r in rows:
        root = r.module.split(".")[0]
        by_root[root] = by_root.get(root, 0) + r.self_us
    total = sum(r.self_us for r in rows)
    first: dict[str, dict[str, Any]] = {}
    for i, r in enumerate(rows):
        root = r.module.split(".")[0]
        if root in packages and root not in first:
            # who pulls the package in: the nearest importers outside it ([] = at run time, in a function)
            outside = [m for m in importer_chain(rows, i) if m.split(".")[0] != root]
            first[root] = {"ms": round(by_root[root] / 1000, 1), "imported_by": outside}
    own = sorted((r for r in rows if r.module.startswith("kamrules")), key=lambda r: -r.self_us)[:8]
    return {
        "total_ms": round(total / 1000, 1),
        "by_package_ms": {k: round(v / 1000, 1) for k, v in sorted(by_root.items(), key=lambda kv: -kv[1])[:15]},
        "packages": first,
        "kamrules_modules_self_ms": {r.module: round(r.self_us / 1000, 1) for r in own},
    }


_MARKERS = {  # what a run of `advise` does, by the function that does it
    "load rulebook": ("load.py", "load_rulebook"),
    "  read the files (YAML)": ("load.py", "read_chain"),
    "  check": ("check.py", "check"),
    "  check messages": ("check.py", "check_message_vars"),
    "load account": ("account.py", "load_account"),
    "compile rulebook": ("compile.py", "compile_rulebook"),
    "evaluate (engine + resolution)": ("pipeline.py", "evaluate"),
    "durable Host + ruleset": ("durable.py", "_register"),
    "findings (messages, evidence)": ("resolve.py", "findings"),
    "render playbook": ("render.py", "render"),
    "  Jinja compiling (templates, messages)": ("environment.py", "compile"),
    "imports (all)": ("<frozen importlib._bootstrap>", "_find_and_load"),
}


def profile(argv_after_python: list[str], cwd: Path, top: int = 12,
            extra: dict[str, str] | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "advise.prof"
        subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), *argv_after_python], cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(extra), check=True)
        stats = pstats.Stats(str(out))
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    phases: dict[str, float] = {}
    for label, (file_end, func) in _MARKERS.items():
        cum = [v[3] for k, v in table.items() if k[0].endswith(file_end) and k[2] == func]
        if cum:
            phases[label] = round(max(cum) * 1000, 1)
    ours = sorted(((k, v) for k, v in table.items() if "kamrules" in k[0]), key=lambda kv: -kv[1][3])[:top]
    hot = sorted(table.items(), key=lambda kv: -kv[1][2])[:top]
    name = lambda k: f"{Path(k[0]).name}:{k[1]}({k[2]})"  # noqa: E731
    return {
        "total_ms": round(stats.total_tt * 1000, 1),  # type: ignore[attr-defined]
        "phases_ms": phases,
        "kamrules_cumulative_ms": {name(k): round(v[3] * 1000, 1) for k, v in ours},
        "self_time_ms": {name(k): round(v[2] * 1000, 1) for k, v in hot},
    }
