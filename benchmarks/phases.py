"""Where a `kamrules portfolio` run spends its wall clock, phase by phase, in one process.

    python benchmarks/phases.py EXPORT.csv [portfolio options…]

runs `kamrules portfolio EXPORT.csv …` in this process with a timer around the functions that
bound its phases — the first pass (`run.measure`), the second (`run._run`, and the summary at its
end), the overview and the writing of the output — and prints, on standard error, when each
started and ended (seconds from the start) and the main process's CPU time in it; then the whole
run's wall clock, the main process's CPU and the workers' (reaped children's) CPU.

With two workers on two cores, the main process's CPU during a pass costs the workers about half
of it, and what it does before the first pass, between the passes and after the last is wall
clock one for one: this says which is which. Run it on two checkouts side by side (PYTHONPATH)
to compare them; for medians and the targets, use benchmarks/portfolio.py.
"""
from __future__ import annotations

import functools
import importlib
import resource
import sys
import time
from typing import Any, Callable

T0 = time.perf_counter()
PHASES = (("kamrules.portfolio.run", "measure", "first pass (measure)"),
          ("kamrules.portfolio.run", "_run", "second pass (evaluate)"),
          ("kamrules.portfolio.run", "summarise", "  the summary, at its end"),
          ("kamrules.portfolio.overview", "overview", "the overview"),
          ("kamrules.io.output", "write_atomic", "writing the output"))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(label: str, f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start, cpu = time.perf_counter(), _cpu()
        try:
            return f(*args, **kwargs)
        finally:
            end = time.perf_counter()
            print(f"{label:<28} {start - T0:7.2f} → {end - T0:7.2f} s   main CPU {_cpu() - cpu:6.2f} s",
                  file=sys.stderr)
    return timed


def main() -> None:
    for module, name, label in PHASES:
        m = importlib.import_module(module)
        setattr(m, name, _timed(label, getattr(m, name)))  # the CLI imports them when it runs
    sys.argv = ["kamrules", "portfolio", *sys.argv[1:]]
    from kamrules.cli import run
    try:
        run()
    except SystemExit:
        pass
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{'whole run':<28} {time.perf_counter() - T0:7.2f} s wall   main CPU "
          f"{own.ru_utime + own.ru_stime:6.2f} s   workers' CPU {kids.ru_utime + kids.ru_stime:6.2f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
