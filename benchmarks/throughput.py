"""Engine throughput on generated accounts: kamrules (pipeline and bare backends) against raw
durable_rules and zen-engine on the same conditions, all in one process and one run.

Method. N accounts are generated (seeded) and cut into R slices; repetition k evaluates slice
k with every engine, the engines taking turns on twentieths of it (so machine noise hits all of
them alike), and the median of the R per-slice rates is reported. Every account is thus
evaluated once by every engine, and the rule hits of all engines are compared account by
account afterwards.

An engine too slow to finish a slice in `box` seconds evaluates only the first part of each
slice (its rate, measured on the warm-up, decides how many); the report says so.
"""
from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import genaccounts
import rivals

from kamrules import pipeline
from kamrules.advice.resolve import State
from kamrules.core.errors import Location
from kamrules.engine import backends as kengine
from kamrules.engine.bounds import bounds_of
from kamrules.engine.compile import Program
from kamrules.engine.facts import Facts, build_facts
from kamrules.engine.matches import Match
from kamrules.engine.reference import Context, compare, eval_cond, eval_term
from kamrules.language import ir
from kamrules.portfolio.portfolio import row_of
from kamrules.rulebook.model import Account, Rulebook

AS_OF = genaccounts.AS_OF
Hits = frozenset[str]
Runner = Callable[[range], list[Hits]]


@dataclass
class Prepared:
    """Everything computed outside the timers."""

    book: Rulebook
    prog: Program
    accounts: list[Account]
    facts: list[Facts]
    replays: list[list[Mapping[str, Any]]]  # per account, what resolution decided after each stratum
    expected: list[Hits]  # per account, the rules the reference evaluator fired (the oracle)
    envs: list[Mapping[str, Any]]  # per account, the final environment (facts, metrics, decisions)
    flat_facts: list[list[dict[str, Any]]]  # per account, one flat fact per stratum (the rivals' input)
    zen_inputs: list[dict[str, Any]]
    flat: rivals.Flat
    seconds: float = 0.0


def prepare(book: Rulebook, n: int) -> Prepared:
    t0 = time.perf_counter()
    accounts = genaccounts.accounts(book, n)
    genaccounts.check_loadable(book, accounts[: min(n, 200)])
    prog = pipeline.program_for(book)
    flat = rivals.Flat(book)
    facts, replays, flat_facts, expected, envs = [], [], [], [], []
    ref = kengine.ReferenceBackend()
    for acc in accounts:
        f = build_facts(acc, book, AS_OF)
        state = State(book, f)
        record: list[Mapping[str, Any]] = []

        def resolver(s: int, matches: list[Match], state: State = state,
                     record: list[Mapping[str, Any]] = record) -> Mapping[str, Any]:
            updates = state.after_stratum(s, matches)
            record.append(dict(updates))
            return updates

        matches = ref.run(prog, f, resolver)
        facts.append(f)
        replays.append(record)
        expected.append(frozenset(m.rule for m in matches))
        envs.append(state.env or dict(f.env))
        flat_facts.append(flat.facts(envs[-1], AS_OF))
    zen_inputs = [rivals.merged(ff) for ff in flat_facts]
    return Prepared(book, prog, accounts, facts, replays, expected, envs, flat_facts, zen_inputs, flat,
                    time.perf_counter() - t0)


def _fired(advice: Any) -> Hits:
    """The rules that fired, the withdrawn ones too: a suppressed rule fired on the engine and
    its outputs were set aside at resolution (the other engines report firing, not advice)."""
    return frozenset(m.rule for m in advice.matches) | frozenset(s.rule for s in advice.suppressed)


@dataclass(frozen=True)
class Engine:
    key: str
    label: str
    timed: str  # what the timer covers
    run: Runner


def engines(p: Prepared) -> list[Engine]:
    book, prog = p.book, p.prog
    durable = kengine.pick_backend("durable")
    reference = kengine.ReferenceBackend()
    raw = rivals.RawDurable(p.flat, "bench_raw_" + book.digest.split(":")[-1][:12])
    zen = rivals.Zen(p.flat)

    where = Location("generated")

    def pipeline_run(name: str) -> Runner:
        # what `kamrules portfolio` asks of each account: classes, scores, finding headlines
        def run(idx: range) -> list[Hits]:
            out = []
            for i in idx:
                advice = pipeline.evaluate(p.accounts[i], book, as_of=AS_OF, engine=name)
                row_of(advice, where)
                out.append(_fired(advice))
            return out
        return run

    def pipeline_full(name: str) -> Runner:
        # what `kamrules advise --format json` asks: every finding's message and evidence, blocked analyses
        def run(idx: range) -> list[Hits]:
            out = []
            for i in idx:
                advice = pipeline.evaluate(p.accounts[i], book, as_of=AS_OF, engine=name)
                advice.findings, advice.blocked  # noqa: B018 - materialise them
                out.append(_fired(advice))
            return out
        return run

    def backend_run(backend: kengine.Backend) -> Runner:
        def run(idx: range) -> list[Hits]:
            out = []
            for i in idx:
                replay = p.replays[i]
                # prepare() evaluated these facts already: without this, their bounds would answer
                # every question from memory and the backend would be timed without the bounds
                # reasoning the pipeline pays for (8-16 % of the backend, measured by helper lean)
                bounds = bounds_of(p.facts[i].env)
                if bounds is not None:
                    bounds.forget()
                matches = backend.run(prog, p.facts[i], lambda s, _m, r=replay: r[s])
                out.append(frozenset(m.rule for m in matches))
            return out
        return run

    return [
        Engine("pipeline_durable", "kamrules pipeline.evaluate, durable",
               "facts → engine → resolve → a portfolio row (classes, scores, finding headlines)",
               pipeline_run("durable")),
        Engine("pipeline_reference", "kamrules pipeline.evaluate, reference",
               "facts → engine → resolve → a portfolio row (classes, scores, finding headlines)",
               pipeline_run("reference")),
        Engine("pipeline_reference_full", "kamrules pipeline.evaluate, reference, all findings",
               "the same, then every finding's message and evidence and the blocked analyses (advise's JSON)",
               pipeline_full("reference")),
        Engine("backend_durable", "kamrules DurableBackend.run",
               "fact encoding + durable_rules, one fact per stratum (resolution replayed)", backend_run(durable)),
        Engine("backend_reference", "kamrules ReferenceBackend.run",
               "fact encoding + pure-Python IR evaluation (resolution replayed)", backend_run(reference)),
        Engine("raw_durable", "raw durable_rules",
               "prebuilt flat facts, one per stratum; assert, delete_state", lambda idx: raw.run(p.flat_facts[i] for i in idx)),
        Engine("zen", "zen-engine (GoRules) decision table",
               "prebuilt flat input; decision.evaluate per account", lambda idx: zen.run(p.zen_inputs[i] for i in idx)),
    ]


@dataclass
class Measured:
    engine: Engine
    per_rep: int  # accounts evaluated per repetition (less than the slice when time-boxed)
    rates: list[float] = field(default_factory=list)  # accounts per wall-clock second, per repetition
    cpu_rates: list[float] = field(default_factory=list)  # accounts per CPU second of this process
    seconds: list[float] = field(default_factory=list)
    hits: dict[int, Hits] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_rates)


def ratio(a: Measured, b: Measured, cpu: bool = False) -> float:
    """Median over repetitions of rate(a) / rate(b): both ran on the same slice moments apart,
    so a ratio per repetition cancels most of the drift of a shared machine."""
    ra, rb = (a.cpu_rates, b.cpu_rates) if cpu else (a.rates, b.rates)
    return statistics.median(x / y for x, y in zip(ra, rb))


def measure(p: Prepared, reps: int, box: float, warmup: int = 20, rounds: int = 20) -> list[Measured]:
    n = len(p.accounts)
    size = n // reps
    out = []
    for e in engines(p):
        e.run(range(0, min(warmup, size)))  # registers rulesets, compiles expressions, fills caches
        w = range(min(warmup, size), min(2 * warmup, size)) or range(0, min(warmup, size))
        t0 = time.process_time()  # CPU time: a busy moment must not time-box a fast engine
        e.run(w)
        rate = len(w) / max(time.process_time() - t0, 1e-9)
        per_rep = size if rate * box >= size else max(min(10, size), int(rate * box))
        out.append(Measured(e, per_rep))
    # The prepared accounts, facts and replays are a large heap that no engine allocates: freeze
    # it, so the collector's full passes do not charge its size to whichever engine runs then.
    gc.collect()
    gc.freeze()
    try:
        for k in range(reps):
            start = k * size
            # each engine's share of the slice in `rounds` chunks, engines taking turns (the order
            # reversed every other round): a busy second hits every engine, not one
            chunks = [_split(range(start, start + m.per_rep), rounds) for m in out]
            seconds, cpus = [0.0] * len(out), [0.0] * len(out)
            for r in range(rounds):
                gc.collect()
                order = range(len(out)) if r % 2 == 0 else range(len(out) - 1, -1, -1)
                for j in order:
                    idx = chunks[j][r]
                    if not idx:
                        continue
                    c0, t0 = time.process_time(), time.perf_counter()
                    hits = out[j].engine.run(idx)
                    seconds[j] += time.perf_counter() - t0
                    cpus[j] += time.process_time() - c0
                    out[j].hits.update(zip(idx, hits))
            for m, dt, cpu in zip(out, seconds, cpus):
                m.seconds.append(dt)
                m.rates.append(m.per_rep / dt)
                m.cpu_rates.append(m.per_rep / max(cpu, 1e-9))
    finally:
        gc.unfreeze()
    return out


def _split(r: range, parts: int) -> list[range]:
    step = -(-len(r) // parts)  # ceiling: `parts` chunks at most, the last ones possibly empty
    return [range(r.start + i * step, min(r.start + (i + 1) * step, r.stop)) for i in range(parts)]


def _round(v: Any) -> Any:
    if isinstance(v, float) and v != 0 and math.isfinite(v):
        return round(v, 12 - int(math.floor(math.log10(abs(v)))))
    return v


def decimal_outcome(c: ir.Cond, env: Mapping[str, Any]) -> bool | None:
    """A condition (NNF) evaluated the way a decimal engine sees it: every number compared
    rounded to 12 significant digits, so 8.73% − 6.73% is 2%, not 2.0000000000000004%."""
    ctx = Context(env, AS_OF)
    if isinstance(c, ir.Cmp):
        return compare(c.op, _round(eval_term(c.left, ctx)), _round(eval_term(c.right, ctx)))
    if isinstance(c, (ir.And, ir.Or)):
        vals = [decimal_outcome(i, env) for i in c.items]
        decisive = isinstance(c, ir.Or)  # True decides an or, False an and
        if decisive in vals:
            return decisive
        return None if None in vals else not decisive
    return eval_cond(c, ctx)


def check_equivalence(p: Prepared, results: list[Measured]) -> dict[str, Any]:
    """Every engine fired exactly the rules the reference evaluator fired, on every account.

    One difference is explained rather than failed: zen-engine computes in decimal, so where a
    derived number lands on a threshold only through binary rounding, it may decide the other
    way. Such a case counts (and is listed) only if the decimal reading of the condition gives
    exactly zen's answer."""
    problems: list[str] = []
    boundary: list[dict[str, Any]] = []
    compared = 0
    conds = {r.id: ir.nnf(r.cond) for r in p.book.rules}
    for m in results:
        for i, hits in m.hits.items():
            compared += 1
            for rule in sorted(hits ^ p.expected[i]):
                fired = rule in hits
                if m.engine.key == "zen" and (decimal_outcome(conds[rule], p.envs[i]) is True) == fired:
                    boundary.append({"account": p.accounts[i].id, "rule": rule, "zen_fired": fired})
                elif len(problems) < 10:
                    problems.append(f"account {p.accounts[i].id}: {m.engine.key} {'fired' if fired else 'did not fire'} "
                                    f"'{rule}', the reference evaluator {'did not' if fired else 'did'}")
    if problems:
        raise AssertionError("engines disagree:\n  " + "\n  ".join(problems))
    fired_count: dict[str, int] = {}
    for hits in p.expected:
        for r in hits:
            fired_count[r] = fired_count.get(r, 0) + 1
    return {"accounts": len(p.expected), "comparisons": compared, "rules": len(p.book.rules),
            "rules_fired": len(fired_count), "never_fired": sorted({r.id for r in p.book.rules} - set(fired_count)),
            "mean_hits": sum(len(h) for h in p.expected) / max(1, len(p.expected)),
            "zen_decimal_boundary": boundary}
