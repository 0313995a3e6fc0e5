"""durable_rules' pitfalls (DESIGN §3), each proven handled, and the two backends agreeing."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.core.errors import EngineError, RulebookError
from kamrules.core.yamlio import Doc
from kamrules.engine import backends as engine
from kamrules.io.account import account_from_doc
from kamrules.pipeline import evaluate
from kamrules.rulebook.load import load_rulebook

DATA = Path(__file__).parent / "data" / "core"
AS_OF = dt.date(2026, 6, 30)
needs_durable = pytest.mark.skipif(not engine.durable_available(), reason="durable_rules does not import here")


def account(book, **values):
    return account_from_doc(Doc("t.yaml", {"id": "t", "name": "T", **values}), book)


def fired(book, acc, eng):
    return sorted(m.rule for m in evaluate(acc, book, as_of=AS_OF, engine=eng).matches)


@needs_durable
def test_no_background_dispatch_threads():
    from durable import engine as d

    before = threading.active_count()
    from kamrules.engine.durable import DurableBackend

    DurableBackend()
    assert threading.active_count() == before
    d.Host()  # the stock Host starts its timers: the check above can fail
    assert threading.active_count() > before


@needs_durable
def test_an_exception_inside_an_action_surfaces_with_rule_and_account(monkeypatch, core_book):
    def boom(props, fact):
        raise ZeroDivisionError("boom")

    from kamrules.engine import durable

    monkeypatch.setattr(durable, "bindings", boom)
    monkeypatch.setattr(durable.DurableBackend, "_instance", None)
    with pytest.raises(EngineError) as e:
        evaluate(account(core_book, revenue="12M"), core_book, as_of=AS_OF, engine="durable")
    assert e.value.rule in {"gold", "silver", "nocoach", "over", "gold-no-coach"}
    assert "account 't'" in str(e.value) and "boom" in str(e.value)


@needs_durable
def test_a_failure_mid_dispatch_still_frees_the_session(monkeypatch, core_book):
    # The backend records matches itself, between durable's start_action_for_state and
    # complete_and_start_action: an exception there leaves an action pending when the session is
    # deleted. More failing accounts than a ruleset's ~1024 live sessions: a leak would end in
    # MemoryError, not in the EngineError each one must give.
    from kamrules.engine import durable

    real = durable.bindings
    monkeypatch.setattr(durable, "bindings", lambda props, fact: 1 / 0)
    acc = account(core_book, revenue="12M")
    for _ in range(1100):
        with pytest.raises(EngineError, match="division by zero"):
            evaluate(acc, core_book, as_of=AS_OF, engine="durable")
    monkeypatch.setattr(durable, "bindings", real)
    assert fired(core_book, acc, "durable") == fired(core_book, acc, "reference")


@needs_durable
def test_the_firing_budget_is_a_fuse_naming_rule_and_account(monkeypatch, core_book):
    from kamrules.engine import durable

    monkeypatch.setattr(durable, "FIRING_BUDGET", 1)  # the catch-all and one rule: two firings
    with pytest.raises(EngineError, match="firing budget \\(1\\) ran out") as e:
        evaluate(account(core_book, revenue="12M"), core_book, as_of=AS_OF, engine="durable")
    assert e.value.account == "t" and e.value.rule in {"gold", "silver", "nocoach", "over", "gold-no-coach"}


@needs_durable
def test_thousands_of_sessions_and_unhandled_facts_do_not_crash():
    # The ~1024-session cap raises MemoryError and deleting a session whose fact went
    # unhandled segfaults: run in a child process so a crash fails the test, not the run.
    code = f"""
import datetime as dt
from kamrules.rulebook.load import load_rulebook
from kamrules.io.account import account_from_doc
from kamrules.pipeline import evaluate
from kamrules.core.yamlio import Doc
book = load_rulebook({str(DATA / 'core.yaml')!r})
for i in range(2500):
    # odd accounts match no rule at all (no revenue): the unhandled-message path
    values = {{"id": f"a{{i}}", "name": "x"}} | ({{"revenue": 5e6 + i}} if i % 2 else {{}})
    evaluate(account_from_doc(Doc("t.yaml", values), book), book, as_of=dt.date(2026, 6, 30), engine="durable")
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


@needs_durable
def test_identical_accounts_twice_are_fine(core_book):
    acc = account(core_book, revenue="12M", discount_rate="22%")
    assert fired(core_book, acc, "durable") == fired(core_book, acc, "durable")


@pytest.mark.parametrize("eng", ["reference", pytest.param("durable", marks=needs_durable)])
@pytest.mark.parametrize("contacts", [
    [{"role": "coach"}, {"role": "user_buyer"}],
    [{"role": "user_buyer"}, {"role": "coach"}],
])
def test_negation_does_not_depend_on_fact_order(eng, contacts):
    book = load_rulebook(str(DATA / "chain.yaml"))
    assert "gold-no-coach" not in fired(book, account(book, revenue="5M", orders=10, contacts=contacts), eng)
    assert "gold-no-coach" in fired(book, account(book, revenue="5M", orders=10, contacts=[{"role": "user_buyer"}]), eng)


@pytest.mark.parametrize("eng", ["reference", pytest.param("durable", marks=needs_durable)])
def test_negation_over_a_derived_fact_waits_for_it(eng):
    book = load_rulebook(str(DATA / "chain.yaml"))
    # big-deal derives big_deal in stratum 0; gold reads 'not big_deal' in stratum 1
    assert book.strata["big-deal"] < book.strata["gold"] < book.strata["gold-no-coach"]
    assert fired(book, account(book, revenue="5M", orders=1), eng) == ["big-deal"]
    assert fired(book, account(book, revenue="5M", orders=9), eng) == ["gold"]  # contacts unknown
    assert fired(book, account(book, revenue="5M", orders=9, contacts=[]), eng) == ["gold", "gold-no-coach"]


def test_strings_never_reach_a_numeric_comparison(core_book):
    # '5' > 10 is true in durable_rules (text comparison): values are typed before the engine
    acc = account(core_book, revenue="5")
    assert acc.values["revenue"] == 5.0
    from kamrules.engine.compile import encode_value

    assert encode_value(5) == 5.0 and isinstance(encode_value(dt.date(2026, 1, 1)), float)


def test_rule_cycles_are_a_load_error_naming_the_rules(tmp_path):
    f = tmp_path / "cycle.yaml"
    f.write_text("""rulebook: cyc
facts: {x: {type: number}}
derived: {a: {type: bool}, b: {type: bool}}
rules:
  - {id: r1, concept: risk.momentum, source: recon, when: "b == true", then: {derive: {a: true}}}
  - {id: r2, concept: risk.momentum, source: recon, when: "a == true or x > 1", then: {derive: {b: true}}}
""")
    with pytest.raises(RulebookError) as e:
        load_rulebook(str(f))
    assert "cycle: r1 → r2 → r1" in e.value.render()


def test_pick_backend():
    assert engine.pick_backend("reference").name == "reference"
    expected = "durable" if engine.durable_available() else "reference"
    assert engine.pick_backend("auto").name == expected


def test_durable_unavailable_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(engine, "durable_available", lambda: False)
    # the user's choice this machine cannot honour: a usage error (exit 2), not an engine fault (issue 9, 15)
    from kamrules.core.errors import UsageError

    with pytest.raises(UsageError, match="--engine reference") as e:
        engine.pick_backend("durable")
    assert e.value.problems[0].code == "cli.engine-unavailable"
    assert engine.pick_backend("auto").name == "reference"


@needs_durable
def test_an_or_with_two_true_branches_fires_once(tmp_path):
    # Rete turns $or into alternative paths; durable runs the action once per true branch.
    f = tmp_path / "or.yaml"
    f.write_text("""rulebook: orb
facts: {id: {type: string}, name: {type: string}, a: {type: number}, b: {type: number}}
rules:
  - {id: either, concept: risk.momentum, source: recon, when: "a > 1 or b > 1", then: {warn: {message: {en: x}}}}
""")
    book = load_rulebook(str(f))
    res = evaluate(account(book, a=5, b=5), book, as_of=AS_OF, engine="durable")
    assert [m.rule for m in res.matches] == ["either"]
    assert [x.rule for x in res.findings] == ["either"]


@given(rid=st.text(min_size=1, max_size=12), fact=st.dictionaries(
    st.text(max_size=6), st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                                   st.text(max_size=8)), max_size=5), other=st.booleans())
@settings(max_examples=300, deadline=None)
def test_a_pending_match_reads_as_the_whole_message_parsed(rid, fact, other):
    # the fast path reads the rule id off the message and leaves the fact to the caller only
    # when the message carries exactly the text the stratum sent
    from kamrules.engine.durable import _MID, pending_match, positional_json

    sent = positional_json(fact)
    carried = positional_json({**fact, "extra": 1}) if other else sent
    message = "{" + json.dumps(rid, ensure_ascii=False) + ':{"m":' + carried + "}}"
    got_rid, got_fact = pending_match(message, _MID + sent + "}}")
    assert got_rid == rid
    assert (got_fact if got_fact is not None else json.loads(sent)) == json.loads(message)[rid]["m"]
