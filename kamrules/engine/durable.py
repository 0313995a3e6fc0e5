"""The durable_rules (Rete) backend: the only module that imports durable_rules.

`DurableBackend` builds one Host per process with its background dispatch threads switched off,
evaluates each account in its own session (sid) and always deletes that session, wraps every
action so an exception is never swallowed, and asserts one fact per stratum so every value a
rule reads is final.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import threading
from decimal import Decimal
from typing import Any, Callable

from kamrules.core.errors import EngineError, Location, Problem, RulebookError
from kamrules.engine.compile import Program, engine_limits
from kamrules.engine.facts import Facts
from kamrules.engine.matches import Match, Resolver, bindings

FIRING_BUDGET = 100_000  # per account; stratification makes loops impossible, this is a fuse


def _positional(x: float) -> str:
    """A float as JSON without an exponent: 1e-05 → 0.00001 (shortest round-trip digits)."""
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError(f"{x} cannot be sent to durable_rules")
    text = repr(x)
    if "e" not in text and "E" not in text:
        return text
    return format(Decimal(text), "f")


_EXPONENT = re.compile(r"\de[-+]\d")  # how repr() writes 1e-05 and 1e+16


class _PositionalJson:
    loads = staticmethod(json.loads)

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        # durable_rules serialises every fact and, after every action, the whole session state:
        # the C encoder does it; only a text that may hold an exponent (or a NaN) is redone by the
        # pure-Python encoder below. A string that merely looks like one costs time, not correctness.
        try:
            text = json.dumps(obj, allow_nan=False, **kwargs)
            if ("e-" not in text and "e+" not in text) or not _EXPONENT.search(text):
                return text
        except ValueError:  # NaN or infinity: the encoder below names the value
            pass
        enc = json.JSONEncoder(**kwargs)
        chunks = json.encoder._make_iterencode(  # type: ignore[attr-defined]
            {}, enc.default, json.encoder.encode_basestring if not enc.ensure_ascii else json.encoder.encode_basestring_ascii,
            None, _positional, ": ", ", ", False, False, True)(obj, 0)
        return "".join(chunks)


def _ignore(c: Any) -> None:
    """The catch-all rule's action: it exists so that no fact goes unhandled (see run)."""


def _limit_problem(prog: Program, rule_id: str, message: str) -> Problem:
    rule = prog.book.rule(rule_id) if rule_id else None
    loc = rule.origin.location if rule else Location(prog.book.files[-1] if prog.book.files else prog.book.id)
    return Problem("engine.limit", message, loc, f"rules[{rule_id}]" if rule_id else "",
                   hint="'--engine reference' has no such limits")


class DurableBackend:
    name = "durable"
    _instance: "DurableBackend | None" = None
    _pid = 0

    def __init__(self) -> None:
        from durable import engine as d

        class _QuietHost(d.Host):  # type: ignore[misc]
            # Host.__init__ starts two daemon timers that dispatch pending actions every
            # ~0.2 s on another thread; we run everything synchronously instead.
            def _run(self) -> None:
                return None

        self._d = d
        # durable_rules' C JSON parser rejects negative exponents ('1e-05' → error 204):
        # it serialises facts and rulesets through this module's json, so give it ours.
        d.json = _PositionalJson
        import durable_rules_engine

        self._d_error = durable_rules_engine.error
        self.host = _QuietHost()
        self.registered: dict[str, Program] = {}
        self.sids = itertools.count(1)
        self.lock = threading.Lock()
        self.current: list[Match] | None = None
        self.errors: list[tuple[str, BaseException]] = []
        self.current_fact: dict[str, Any] = {}

    @classmethod
    def shared(cls) -> "DurableBackend":
        # One Host per process; after fork a child builds its own (durable is not fork-safe).
        if cls._instance is None or cls._pid != os.getpid():
            cls._instance = cls()
            cls._pid = os.getpid()
        return cls._instance

    def _register(self, prog: Program) -> str:
        name = prog.ruleset_name
        if name in self.registered:
            return name
        ruleset = prog.ruleset()
        compiled = {r.id: r for r in prog.rules}
        for rid, definition in list(ruleset.items()):
            if not definition:
                del ruleset[rid]  # a rule whose condition is constant false
                continue
            rule = compiled.get(rid)
            definition["run"] = self._action(rid, rule.props, rule.stratum) if rule else _ignore
        limits = engine_limits(prog)
        if limits:
            raise RulebookError([_limit_problem(prog, rid, msg) for rid, msg in limits])
        # names are content hashes: durable refuses to register one name twice
        try:
            self.host.register_rulesets({name: ruleset})
        except Exception as e:  # durable says only "error code: N"
            raise RulebookError([Problem("engine.refused", f"durable_rules refused the compiled rulebook: {e}",
                                         Location(prog.book.files[-1] if prog.book.files else prog.book.id),
                                         hint="run 'kamrules check'; '--engine reference' evaluates it without "
                                              "durable_rules")]) from None
        self.registered[name] = prog
        return name

    def _action(self, rule_id: str, props: tuple[str, ...], stratum: int) -> Callable[[Any], None]:
        # durable_rules runs this for every match of every account: keep it lean
        def run(c: Any) -> None:
            try:
                current = self.current
                if current is None:
                    raise EngineError(f"rule '{rule_id}' fired outside an evaluation")
                if len(current) >= FIRING_BUDGET:
                    raise EngineError(f"the firing budget ({FIRING_BUDGET}) ran out at rule '{rule_id}'", rule=rule_id)
                # the fact as durable_rules matched it (its own JSON round trip), not the one we sent
                message = c._m  # the Closure's message dict ({"m": fact}); None for other shapes
                fact = message.get("m") if message is not None else None
                if type(fact) is not dict:
                    fact = c.m._d if hasattr(c.m, "_d") else dict(c.m)
                current.append(Match(rule_id, stratum, bindings(props, fact)))
            except BaseException as e:  # durable stores action errors as strings: keep the real one
                self.errors.append((rule_id, e))
        return run

    def run(self, prog: Program, facts: Facts, after_stratum: Resolver) -> list[Match]:
        with self.lock:
            name = self._register(prog)
            sid = str(next(self.sids))
            env = dict(facts.env)
            out: list[Match] = []
            self.errors = []
            try:
                for s in range(prog.strata):
                    fact = prog.encode(env, facts.as_of, s)
                    fact["id"] = f"s{s}"  # explicit ids: content-hash ids collide on equal facts
                    fact["sid"] = sid
                    self.current = []
                    try:
                        self.host.assert_fact(name, fact)
                    except self._d.MessageNotHandledException:  # pragma: no cover - _seen handles all
                        pass
                    if self.errors:
                        rid, err = self.errors[0]
                        raise EngineError(f"rule '{rid}' failed on account '{facts.account.id}': {err}",
                                          rule=rid, account=facts.account.id) from err
                    # Rete compiles $or into alternative paths: an $or with two true branches
                    # runs the action twice (measured). A rule matches a stratum's fact once.
                    matches = sorted({m.rule: m for m in self.current}.values(), key=lambda m: m.rule)
                    out.extend(matches)
                    env.update(after_stratum(s, matches))
            finally:
                self.current = None
                # Sessions are capped (~1024 live per ruleset): always free this one. Deleting
                # a session whose only fact went unhandled crashes the process (measured), which
                # the catch-all _seen rule prevents.
                try:
                    self.host.delete_state(name, sid)
                except self._d_error:  # no state was created: the first assert itself failed
                    pass
            return out
