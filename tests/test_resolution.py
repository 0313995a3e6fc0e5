"""Resolution is incremental (State folds in one stratum's matches at a time and keeps winners
and sums up to date) and its result is what the hit policies say when read from all matches at
once — the definition below, which is how resolution used to be computed after every stratum.
Findings, evidence and blocked analyses are materialised only when read."""
from __future__ import annotations

import datetime as dt
import functools
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules import pipeline
from kamrules.advice import resolve
from kamrules.advice.model import Classification, Headline, Score
from kamrules.advice.resolve import State
from kamrules.core.errors import EngineError
from kamrules.engine.facts import Facts, build_facts
from kamrules.engine.matches import Match
from kamrules.rulebook.load import load_rulebook
from kamrules.rulebook.model import Account, Rulebook

AS_OF = dt.date(2026, 6, 30)
POLICIES = {"u": "unique", "a": "any", "p": "priority", "f": "first"}
POINTS = ("5", "0.1", "-10", "0.2", "2.675", "0.045", "0.3", "1.005", "0.7", "30", "0.335")


def _rulebook_text(suppress: bool = False) -> str:
    """suppress: r01, r07, r13, r19 suppress the rule four after them, and r05, r11, r17 the rule
    two after them — so r05 and r11, r17 are both suppressors and suppressed (a chain)."""
    lines = ["rulebook: resolve-prop", "version: 0.0.1", "lang: en", "facts:",
             "  id: {type: string, required: true}", "  name: {type: string, required: true}",
             "  n: {type: number}", "dimensions:"]
    for key, policy in POLICIES.items():
        lines.append(f"  d{key}: {{hit_policy: {policy}, values: {{x: {{en: X}}, y: {{en: Y}}, z: {{en: Z}}}}}}")
    lines += ["scores:", "  s1: {label: {en: S1}, min: 0, max: 100}", "  s2: {label: {en: S2}, min: -50, max: 50}",
              "derived:", "  flag: {type: bool}", "rules:"]
    for i in range(24):
        then = []
        dims = [k for j, k in enumerate(POLICIES) if (i >> j) & 1]
        if dims:
            then.append("classify: {" + ", ".join(f"d{k}: {'xyz'[(i + j) % 3]}" for j, k in enumerate(dims)) + "}")
        if i % 3:
            then.append(f"score: {{s{1 + i % 2}: {POINTS[i % len(POINTS)]}}}")
        if i % 5 == 0:
            then.append(f"derive: {{flag: {'true' if i % 2 else 'false'}}}")
        if not then:
            then.append("warn: {severity: low, message: {en: 'r" + str(i) + "'}}")
        lines += [f"  - id: r{i:02d}", "    concept: standard.pyramid", "    source: recon",
                  f"    priority: {i % 4}", "    when: n > 0", "    then: {" + ", ".join(then) + "}"]
        target = i + 4 if i % 6 == 1 else i + 2 if i % 6 == 5 else None
        if suppress and target is not None and target < 24:
            lines.append(f"    suppresses: [rule:r{target:02d}]")
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=2)
def book(suppress: bool = False) -> Rulebook:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "resolve.yaml"
        f.write_text(_rulebook_text(suppress), encoding="utf-8")
        return load_rulebook(str(f))


# ----------------------------------------------------------------------------- the definition

def defined_classifications(b: Rulebook, matches: list[Match]) -> dict[str, Classification]:
    rules = {r.id: r for r in b.rules}
    out: dict[str, Classification] = {}
    for dim in b.dimensions.values():
        cands = [(m.rule, v) for m in matches for d, v in rules[m.rule].classify if d == dim.name]
        order = [v for v, _ in dim.values]
        if not cands:
            out[dim.name] = Classification(dim.name, None, (), ())
            continue
        if dim.hit_policy == "priority":
            value = min((v for _, v in cands), key=order.index)
        else:
            value = sorted(cands, key=lambda c: (-rules[c[0]].priority, c[0]))[0][1]
        out[dim.name] = Classification(dim.name, value, tuple(sorted(r for r, v in cands if v == value)),
                                       tuple(sorted(cands)))
    return out


def defined_scores(b: Rulebook, matches: list[Match]) -> dict[str, Score]:
    rules = {r.id: r for r in b.rules}
    parts: dict[str, list[tuple[str, float]]] = {s: [] for s in b.scores}
    for m in matches:
        for sname, term in rules[m.rule].score_terms:
            parts[sname].append((m.rule, float(term.value)))
    out = {}
    for sname, sd in b.scores.items():
        ps = sorted(parts[sname])
        out[sname] = Score(sname, round(min(max(sum(p for _, p in ps), sd.min), sd.max), 2), tuple(ps)) if ps \
            else Score(sname, None, ())
    return out


def defined_env(b: Rulebook, matches: list[Match]) -> dict[str, Any]:
    env: dict[str, Any] = {c.dimension: c.value for c in defined_classifications(b, matches).values() if c.value}
    env |= {s.name: s.value for s in defined_scores(b, matches).values() if s.value is not None}
    rules = {r.id: r for r in b.rules}
    best: dict[str, tuple[int, str, Any]] = {"flag": (1 << 30, "", False)}
    for m in matches:
        for name, value in rules[m.rule].derive:
            cand = (-rules[m.rule].priority, m.rule, value)
            if cand < best[name]:
                best[name] = cand
    return env | {n: v for n, (_, _, v) in best.items()}


def _fired_in_strata(data: st.DataObject, b: Rulebook, cuts: int) -> tuple[list[list[str]], Facts, State]:
    """Some of the book's rules, each firing once, cut into up to cuts + 1 strata; an account's
    facts and a fresh resolution State for them."""
    fired = data.draw(st.lists(st.sampled_from([r.id for r in b.rules]), unique=True))
    at = sorted(data.draw(st.lists(st.integers(0, len(fired)), max_size=cuts)))
    strata = [fired[i:j] for i, j in zip([0, *at], [*at, len(fired)])]
    facts = build_facts(Account("acc", "Acc", "gen", {"n": 1.0}), b, AS_OF)
    return strata, facts, State(b, facts)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_incremental_resolution_is_the_hit_policies_read_from_all_matches(data: st.DataObject) -> None:
    b = book()
    strata, facts, state = _fired_in_strata(data, b, 4)
    seen: list[Match] = []
    for s, rule_ids in enumerate(strata):
        matches = [Match(r, s, ()) for r in rule_ids]
        updates = state.after_stratum(s, matches)
        seen += matches
        # what the engine is told after a stratum: everything decided so far, as decided so far
        assert {k: v for k, v in state.env.items() if k not in facts.env} == defined_env(b, seen)
        assert set(updates) <= set(defined_env(b, seen))
    cls, scores = state.finish()
    assert cls == defined_classifications(b, seen)
    assert scores == defined_scores(b, seen)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data())
def test_suppression_withdraws_what_a_suppressor_of_an_earlier_stratum_withdraws(data: st.DataObject) -> None:
    """State skips its suppression pass for a stratum with no suppressor or suppressed rule among
    its matches; the result is the definition: a match is withdrawn when a rule that suppresses
    it fired, and was not itself withdrawn, in an earlier stratum."""
    b = book(suppress=True)
    assert b.suppressors  # the book is what the property is about
    strata, facts, state = _fired_in_strata(data, b, 5)
    kept: list[Match] = []
    withdrawn: list[tuple[str, tuple[str, ...]]] = []
    for s, rule_ids in enumerate(strata):
        before = {m.rule for m in kept}
        now = []
        for r in rule_ids:
            by = tuple(x for x in b.suppressors.get(r, ()) if x in before)
            if by:
                withdrawn.append((r, by))
            else:
                now.append(Match(r, s, ()))
        kept += now
        state.after_stratum(s, [Match(r, s, ()) for r in rule_ids])
        assert state.matches == kept
        assert {k: v for k, v in state.env.items() if k not in facts.env} == defined_env(b, kept)
    assert [(x.rule, x.by) for x in state.suppressed] == withdrawn
    cls, scores = state.finish()
    assert cls == defined_classifications(b, kept)
    assert scores == defined_scores(b, kept)


def test_suppression_property_reaches_withdrawals_and_chains() -> None:
    """Not vacuous: on the property's book, a chain withdraws and a withdrawn suppressor does not."""
    b = book(suppress=True)
    state = State(b, build_facts(Account("acc", "Acc", "gen", {"n": 1.0}), b, AS_OF))
    for s, ids in enumerate((["r01"], ["r05", "r09"], ["r07"], ["r11"])):
        state.after_stratum(s, [Match(r, s, ()) for r in ids])
    # r01 withdraws r05 (and so r05 does not withdraw r07); r07 withdraws r11
    assert [(x.rule, x.by) for x in state.suppressed] == [("r05", ("r01",)), ("r11", ("r07",))]
    assert [m.rule for m in state.matches] == ["r01", "r09", "r07"]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data())
def test_headlines_are_in_the_order_of_their_sort_keys(data: st.DataObject) -> None:
    """AccountDetails.headlines sorts by each headline's place in the rulebook (an int); the
    definition is Headline.sort_key over the rules' warnings and recommendations, plus the
    hit-policy conflicts, each of which has its own key."""
    b = load_rulebook("course")
    rules = {r.id: r for r in b.rules}
    fired = data.draw(st.lists(st.sampled_from(sorted(rules)), unique=True, max_size=60))
    lang = data.draw(st.sampled_from(("zh", "en")))
    conflict = data.draw(st.booleans())
    facts = build_facts(Account("acc", "Acc", "gen", {}), b, AS_OF)
    cls = {d: Classification(d, None, (), ()) for d in b.dimensions}
    if conflict:  # two rules classify a 'unique' dimension: a conflict headline among the others
        dim = next(d for d in b.dimensions.values() if d.hit_policy == "unique")
        v = dim.values[0][0]
        cls[dim.name] = Classification(dim.name, v, ("a", "b"), (("a", v), ("b", v)))
    details = resolve.AccountDetails(b, facts, facts.env, tuple(Match(r, 0, ()) for r in fired), cls, lang)
    expected = [Headline(r, rules[r].concept, kind, msg.severity, rules[r].priority, rules[r].title.get(lang) or r)
                for r in fired for kind, msg in (("warning", rules[r].warn), ("recommendation", rules[r].recommend))
                if msg is not None]
    for dim_name, policy, cands in resolve.hit_policy_conflicts(b, cls):
        expected.append(Headline(f"{dim_name}:{policy}", "rulebook.conflict", "conflict", "high", 0,
                                 resolve._conflict_text(b, dim_name, policy, cands, lang)))
    assert len([h for h in expected if h.kind == "conflict"]) == conflict
    assert details.headlines() == tuple(sorted(expected, key=Headline.sort_key))


# ----------------------------------------------------------------------------- laziness

def test_evaluate_renders_no_message_and_traces_no_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    b = load_rulebook("course")
    account = Account("a", "A", "gen", {"revenue": 50_000_000.0, "discount_rate": 0.3})

    def refuse(*_: Any) -> Any:
        raise AssertionError("materialised too early")

    monkeypatch.setattr(resolve, "_renderer", refuse)
    monkeypatch.setattr(resolve._Table, "tracer", refuse)
    advice = pipeline.evaluate(account, b, as_of=AS_OF, engine="reference")
    assert advice.classification["single_indicator"].value == "key"
    assert [h.kind for h in advice.headlines].count("warning") > 0  # headlines need neither
    with pytest.raises(AssertionError, match="too early"):
        advice.findings  # noqa: B018


def test_headlines_are_the_findings_without_their_texts() -> None:
    b = load_rulebook("course")
    for path in sorted(Path("examples/accounts").glob("*.yaml")):
        for lang in ("zh", "en"):
            advice = pipeline.advise(str(path), lang=lang, engine="reference")
            lazy = advice.headlines
            assert lazy == tuple(f.headline() for f in advice.findings), path
            assert advice.book.digest == b.digest


def test_a_message_that_cannot_render_fails_when_the_findings_are_read(tmp_path: Path) -> None:
    text = (Path("tests/data/playbook/mini.yaml").read_text(encoding="utf-8")
            .replace('en: "No coach among {{ contacts|length }} contacts"', 'en: "{{ name|pct }}"'))
    f = tmp_path / "mini.yaml"
    f.write_text(text, encoding="utf-8")
    advice = pipeline.evaluate(Account("acc", "Acc", "gen", {"name": "Acc", "revenue": 1.0, "contacts": ()}), load_rulebook(str(f)),
                               as_of=AS_OF, lang="en", engine="reference")
    assert [h.rule for h in advice.headlines] == ["nocoach"]
    with pytest.raises(EngineError, match="rule 'nocoach' could not render its warning message"):
        advice.findings  # noqa: B018


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.floats(), st.integers(-10**6, 10**6), st.floats(-1e6, 1e6).map(lambda x: round(x, 3))))
def test_round2_is_round_to_two_places(value: float) -> None:
    """A score's value: round2 gives what round(value, 2) gives, value and type (the sign of a zero
    and NaN included)."""
    got, want = resolve.round2(value), round(value, 2)
    assert type(got) is type(want) and repr(got) == repr(want)
