"""The durable_rules (Rete) backend: the only module that imports durable_rules.

`DurableBackend` drives durable's C engine with no Host (so no background dispatch threads),
evaluates each account in its own session (sid) and always deletes that session, records each
match itself so an exception is never swallowed, and asserts one fact per stratum so every value
a rule reads is final.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import threading
from typing import Any

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
    # imported here, as core/values imports it only on its exact path: few runs send such a number,
    # and importing decimal costs ~3.2 M instructions (callgrind)
    from decimal import Decimal

    return format(Decimal(text), "f")


_EXPONENT = re.compile(r"\de[-+]\d")  # how repr() writes 1e-05 and 1e+16


def positional_json(obj: Any) -> str:
    """JSON for durable_rules' C parser, which rejects negative exponents ('1e-05' → error 204).

    The C encoder writes it; only a text that may hold an exponent (or a NaN) is redone by the
    pure-Python encoder with positional floats. A string that merely looks like one costs time,
    not correctness."""
    try:
        text = json.dumps(obj, allow_nan=False, ensure_ascii=False)
        if ("e-" not in text and "e+" not in text) or not _EXPONENT.search(text):
            return text
    except ValueError:  # NaN or infinity: the encoder below names the value
        pass
    enc = json.JSONEncoder(ensure_ascii=False)
    chunks = json.encoder._make_iterencode(  # type: ignore[attr-defined]
        {}, enc.default, json.encoder.encode_basestring, None, _positional, ": ", ", ", False, False, True)(obj, 0)
    return "".join(chunks)


_MID = '":{"m":'  # between a rule id and the fact in a pending match


def pending_match(message: str, tail: str) -> tuple[str, dict[str, Any] | None]:
    """A pending match as durable_rules writes it, {"<rule id>":{"m":<the fact>}}: its rule id, and
    None when the fact is the text the stratum sent — `tail` is _MID + that text + "}}"; durable
    echoes a fact's text as it was sent (measured), so the caller parses it once per stratum, not
    once per match —, else the fact parsed from the message."""
    if message.startswith('{"') and message.endswith(tail):
        rid = message[2:len(message) - len(tail)]
        if '"' not in rid and "\\" not in rid:
            return rid, None
    (rid, body), = json.loads(message).items()
    return rid, body["m"]


def _limit_problem(prog: Program, rule_id: str, message: str) -> Problem:
    rule = prog.book.rule(rule_id) if rule_id else None
    loc = rule.origin.location if rule else Location(prog.book.files[-1] if prog.book.files else prog.book.id)
    return Problem("engine.limit", message, loc, f"rules[{rule_id}]" if rule_id else "",
                   hint="'--engine reference' has no such limits")


class DurableBackend:
    """durable_rules' Rete, driven through its C extension (`durable_rules_engine`).

    durable's Python `Host` runs each action through a Closure that parses the session state from
    JSON, writes it back as JSON and stamps two clocks — per match, ≈ 60 % of the CPU of an
    account (measured: 2,000 CRM accounts, 5.3–6.5 s through the Host, 2.5 s driven directly,
    identical matches). kamrules' actions only record which rule matched which fact, so the backend
    asks the Rete for the pending actions itself: one `start_action_for_state` after each fact and
    `complete_and_start_action` per match, which is the loop the Host runs without the parts we do
    not use. Without a Host there are no background dispatch threads (DESIGN §3), and no action
    runs inside durable, so no exception can be swallowed by it.
    """

    name = "durable"
    _instance: "DurableBackend | None" = None
    _pid = 0

    def __init__(self) -> None:
        import durable_rules_engine as rete

        self._rete = rete
        self._error = rete.error
        self.handles: dict[str, int] = {}  # ruleset name → the C engine's handle
        self.rules: dict[str, dict[str, tuple[tuple[str, ...], int]]] = {}  # ruleset → rule id → (props, stratum)
        self.sids = itertools.count(1)
        self.lock = threading.Lock()

    @classmethod
    def shared(cls) -> "DurableBackend":
        # One engine per process; after fork a child builds its own (durable is not fork-safe).
        if cls._instance is None or cls._pid != os.getpid():
            cls._instance = cls()
            cls._pid = os.getpid()
        return cls._instance

    def _register(self, prog: Program) -> int:
        name = prog.ruleset_name
        handle = self.handles.get(name)
        if handle is not None:
            return handle
        limits = engine_limits(prog)
        if limits:
            raise RulebookError([_limit_problem(prog, rid, msg) for rid, msg in limits])
        ruleset = {rid: definition for rid, definition in prog.ruleset().items() if definition}  # {}: constant false
        try:
            handle = int(self._rete.create_ruleset(name, positional_json(ruleset)))
        except Exception as e:  # durable says only "error code: N"
            raise RulebookError([Problem("engine.refused", f"durable_rules refused the compiled rulebook: {e}",
                                         Location(prog.book.files[-1] if prog.book.files else prog.book.id),
                                         hint="run 'kamrules check'; '--engine reference' evaluates it without "
                                              "durable_rules")]) from None
        self.rules[name] = {r.id: (r.props, r.stratum) for r in prog.rules}
        self.handles[name] = handle
        return handle

    def run(self, prog: Program, facts: Facts, after_stratum: Resolver, *, with_bindings: bool = True) -> list[Match]:
        with self.lock:
            handle = self._register(prog)
            rules = self.rules[prog.ruleset_name]
            rete = self._rete
            sid = str(next(self.sids))
            env = dict(facts.env)
            out: list[Match] = []
            fired = 0
            try:
                for s in range(prog.strata):
                    fact = prog.encode(env, facts.as_of, s)
                    fact["id"] = f"s{s}"  # explicit ids: content-hash ids collide on equal facts
                    fact["sid"] = sid
                    text = positional_json(fact)
                    code, state = rete.assert_fact(handle, text)[:2]
                    found: dict[str, Match] = {}
                    if code in (0, 3):  # as durable's Host reads it; 1: no rule matched (_seen prevents it)
                        pending = rete.start_action_for_state(handle, state if code == 0 else 0)
                        message = pending[1] if pending else None
                        tail = _MID + text + "}}"
                        sent: dict[str, Any] | None = None  # the text sent, parsed once per stratum
                        while message:
                            fired += 1
                            rid = ""
                            try:
                                # the fact as durable matched it, not the dict we sent
                                rid, matched = pending_match(message, tail)
                                if matched is None:
                                    matched = sent = json.loads(text) if sent is None else sent
                                if fired > FIRING_BUDGET:
                                    raise EngineError(f"the firing budget ({FIRING_BUDGET}) ran out")
                                spec = rules.get(rid)
                                if spec is not None:
                                    # Rete compiles $or into alternative paths: an $or with two true
                                    # branches yields the match twice (measured); a rule matches a
                                    # stratum's fact once
                                    found[rid] = Match(rid, spec[1],
                                                       bindings(spec[0], matched) if with_bindings else None)
                            except Exception as e:
                                raise EngineError(f"rule '{rid}' failed on account '{facts.account.id}': {e}",
                                                  rule=rid, account=facts.account.id) from e
                            message = rete.complete_and_start_action(handle, state)
                    elif code == 2:  # pragma: no cover - every fact has a fresh (sid, id)
                        raise EngineError(f"durable_rules saw stratum {s} of account '{facts.account.id}' twice",
                                          account=facts.account.id)
                    matches = [found[rid] for rid in sorted(found)]
                    out.extend(matches)
                    env.update(after_stratum(s, matches))
            finally:
                # Sessions are capped (~1024 live per ruleset): always free this one, even with an
                # action pending (measured harmless). Deleting a session whose only fact went
                # unhandled crashes the process (measured), which the catch-all _seen rule prevents.
                try:
                    rete.delete_state(handle, sid)
                except self._error:  # no state was created: the first assert itself failed
                    pass
            return out
