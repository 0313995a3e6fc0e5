"""Stratified forward chaining: a rule that reads a dimension, score or derived fact runs in a
later stratum than every rule that writes it.

Why strata instead of letting durable_rules chain freely: durable_rules has no truth
maintenance, and a negated pattern fires before a blocking fact that arrives later. With
strata, every value a rule reads is final before the rule is evaluated, so negation and
missing values mean what they say. A cycle cannot be stratified: it is a load error that
names the rules in it (and the engine keeps a firing budget besides).

Suppression (`suppresses:`) is an ordering too: a suppressed rule runs after every rule that can
suppress it, so when its stratum comes, whether it is withdrawn is already decided (resolve.py
drops its match before anything folds it in), and everything that reads its outputs runs later
still. A rule that suppresses what it itself reads (directly or through others) is a cycle.
"""
from __future__ import annotations

from typing import Mapping

from kamrules.core.errors import Collector
from kamrules.language import ir
from kamrules.rulebook.model import RuleDef


def writes(r: RuleDef) -> set[str]:
    return {d for d, _ in r.classify} | {s for s, _ in r.score} | {n for n, _ in r.derive}


def reads(r: RuleDef) -> set[str]:
    names = {x.name for x in ir.refs(r.cond) if x.kind in ("dimension", "score", "derived")}
    for _, t in r.score_terms:
        names |= {x.name for x in ir.refs(t) if x.kind in ("dimension", "score", "derived")}
    return names


def stratify(rules: list[RuleDef], out: Collector,
             suppressors: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, int]:
    writers: dict[str, list[str]] = {}
    for r in rules:
        for w in writes(r):
            writers.setdefault(w, []).append(r.id)
    by = suppressors or {}
    deps = {r.id: sorted({w for name in reads(r) for w in writers.get(name, [])} | set(by.get(r.id, ())))
            for r in rules}
    by_id = {r.id: r for r in rules}
    level: dict[str, int] = {}
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(rid: str, trail: list[str]) -> int:
        if state.get(rid) == 2:
            return level[rid]
        if state.get(rid) == 1:
            cyc = trail[trail.index(rid):] + [rid]
            key = frozenset(cyc)
            if key not in reported:
                reported.add(key)
                out.add("rulebook.rule-cycle",
                        "rules feed each other in a cycle: " + " → ".join(cyc),
                        by_id[rid].origin.location, f"rules[{rid}]",
                        hint="forward chaining must end: one of these rules must not read what the others write "
                             "(a rule runs after what it reads and after the rules that suppress it)")
            return 0
        state[rid] = 1
        lv = 0
        for d in deps[rid]:
            lv = max(lv, visit(d, trail + [rid]) + 1)
        state[rid] = 2
        level[rid] = lv
        return lv

    for r in rules:
        visit(r.id, [])
    return level
