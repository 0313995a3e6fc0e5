"""The backends that turn a Program and an account's facts into matches: the contract, the choice
between them, and `ReferenceBackend`, which evaluates a Program in pure Python. The durable_rules
backend lives in durable.py, the only module that imports durable_rules."""
from __future__ import annotations

import functools

from kamrules.core.errors import EngineError, Location, Problem, UsageError
from kamrules.engine.compile import Program
from kamrules.engine.facts import Facts
from kamrules.engine.reference import BOUNDS
from kamrules.engine.matches import Backend, Match, Resolver, bindings


@functools.lru_cache(maxsize=1)  # asked once per account evaluated; the answer does not change
def durable_available() -> bool:
    try:
        import durable_rules_engine  # noqa: F401 - the C engine DurableBackend drives
    except Exception:  # ImportError, or the C extension failing on Python ≥ 3.13
        return False
    return True


def pick_backend(name: str = "auto") -> Backend:
    if name == "reference":
        return ReferenceBackend()
    if name == "durable" and not durable_available():
        # a choice the user made that this machine cannot honour: a usage error (exit 2), not a fault
        raise UsageError([Problem("cli.engine-unavailable", "the durable engine is not available here "
                                  "(durable-rules is not installed, or does not import on this Python)",
                                  Location("--engine"), "durable", "--engine reference or --engine auto",
                                  "use --engine reference (the same results, in pure Python), or install "
                                  "durable-rules on Python ≤ 3.12")])
    if name == "durable" or durable_available():
        from kamrules.engine.durable import DurableBackend

        return DurableBackend.shared()
    return ReferenceBackend()


# After this many accounts of one Program in a process, its strata are generated as Python
# functions (engine/generate.py). Generating and compiling the course costs ≈ 300 M instructions
# (≈ 0.1 s) and saves ≈ 455 k per account: it pays after ≈ 660 accounts, so a process that
# evaluates a few (`advise`, a small portfolio, most tests) never pays it, and one that evaluates
# many (a portfolio's worker) pays at most what waiting cost it. Measured: docs/performance.md,
# "Generated strata".
GENERATE_AFTER = 500


class ReferenceBackend:
    name = "reference"

    def run(self, prog: Program, facts: Facts, after_stratum: Resolver, *, with_bindings: bool = True) -> list[Match]:
        if prog.generated is None:
            prog.runs += 1
            if prog.runs > GENERATE_AFTER:
                prog.generate()
        if prog.generated is not None:
            return self._run_generated(prog, facts, after_stratum, with_bindings)
        env = dict(facts.env)
        out: list[Match] = []
        as_of = facts.as_of
        bare = None if with_bindings else _bare_matches(prog)
        for s, (rules, plan) in enumerate(prog.fires_by_stratum):
            matches = []
            tests = plan.tests
            memo: list[bool | None] = [None] * len(tests)  # each shared test once per stratum (reference.fires_of)
            for n, (r, (guards, rest)) in enumerate(zip(rules, plan.rules)):
                try:
                    for k in guards:
                        v = memo[k]
                        if v is None:
                            v = memo[k] = tests[k](env, as_of, None)
                        if not v:
                            break
                    else:
                        if rest is None or rest(env, as_of, None):
                            # the bindings: the rule's own properties, encoded as the stratum's fact holds them
                            matches.append(Match(r.id, s, bindings(r.props, prog.encode_props(env, as_of, r.props)))
                                           if bare is None else bare[s][n])
                except Exception as e:  # same contract as the durable backend: name rule and account
                    raise _failed(r.id, facts, e) from e
            out.extend(matches)
            env.update(after_stratum(s, matches))
        return out

    def _run_generated(self, prog: Program, facts: Facts, after_stratum: Resolver, with_bindings: bool) -> list[Match]:
        """`run`, with each stratum's conditions evaluated by its generated function
        (engine/generate.py): the same matches in the same order, and the same rule named when one
        fails. A stratum's function evaluates its conditions in order and stops at the first that
        raises; `run` builds a matched rule's bindings right after its condition, so a binding that
        fails (of a rule before the failing condition) is the failure `run` would report first."""
        assert prog.generated is not None
        env = dict(facts.env)
        out: list[Match] = []
        as_of = facts.as_of
        bare = None if with_bindings else _bare_matches(prog)
        bounds = env.get(BOUNDS)
        if bounds is not None and prog.undecided is not None:
            prog.undecided.prefill(bounds)  # the questions its presence pattern cannot decide: None at once
        for s, ((rules, _), stratum) in enumerate(zip(prog.fires_by_stratum, prog.generated)):
            fired, failed, error = stratum(env, as_of)
            if bare is not None:
                matches = [bare[s][i] for i in fired]
            else:
                matches = []
                for i in fired:
                    r = rules[i]
                    try:
                        matches.append(Match(r.id, s, bindings(r.props, prog.encode_props(env, as_of, r.props))))
                    except Exception as e:
                        raise _failed(r.id, facts, e) from e
            if error is not None:
                raise _failed(rules[failed].id, facts, error) from error
            out.extend(matches)
            env.update(after_stratum(s, matches))
        return out


def _bare_matches(prog: Program) -> tuple[tuple[Match, ...], ...]:
    """Per stratum, each rule's match without bindings: made once per program, not per account."""
    if prog.bare_matches is None:
        prog.bare_matches = tuple(tuple(Match(r.id, s, None) for r in rules)
                                  for s, (rules, _) in enumerate(prog.fires_by_stratum))
    return prog.bare_matches


def _failed(rule: str, facts: Facts, e: BaseException) -> EngineError:
    return EngineError(f"rule '{rule}' failed on account '{facts.account.id}': {e}", rule=rule, account=facts.account.id)
