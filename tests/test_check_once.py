"""rulebook/check.py parses and type-checks each distinct condition and term text once (_Once):
the results must be what checking every rule on its own gives, and an error in a shared text is
still reported for every rule that has it, each at its own location."""
from __future__ import annotations

from pathlib import Path

import pytest

from kamrules.core.errors import RulebookError
from kamrules.language.parser import ParseError
from kamrules.language.typecheck import check_condition, check_term
from kamrules.rulebook import check as checkmod
from kamrules.rulebook.load import load_rulebook

CORE = Path(__file__).parent / "data" / "core" / "core.yaml"


def test_shared_texts_check_as_each_rule_alone():
    book = load_rulebook("course")
    scope = checkmod._scope(book.facts, book.params, book.metrics, book.derived, book.dimensions, book.scores)
    whens = [r.when for r in book.rules]
    assert len(set(whens)) < len(whens)  # the course does share texts: the memo is exercised
    for r in book.rules:
        assert r.cond == check_condition(r.when, scope), r.id
        assert r.score_terms == tuple((n, check_term(t, scope)) for n, t in r.score), r.id
    for m in book.metrics.values():
        assert m.term == check_term(m.formula, scope), m.name


def test_an_error_in_a_shared_text_is_reported_for_each_rule(tmp_path):
    f = tmp_path / "o.yaml"
    f.write_text(f"rulebook: o\nextends: [{CORE}]\nrules:\n"
                 "  - {id: a1, concept: standard.pyramid, source: deck, when: revenu > 1, then: {score: {health: 5 +}}}\n"
                 "  - {id: a2, concept: standard.pyramid, source: deck, when: revenu > 1, then: {score: {health: 5 +}}}\n",
                 encoding="utf-8")
    with pytest.raises(RulebookError) as e:
        load_rulebook(str(f))
    conds = [p for p in e.value.problems if p.code == "rulebook.condition"]
    scores = [p for p in e.value.problems if p.code == "rulebook.score"]
    assert [(p.path, p.location.line) for p in conds] == [("rules[a1].when", 4), ("rules[a2].when", 5)]
    assert [(p.path, p.location.line) for p in scores] == [("rules[a1].then.score.health", 4),
                                                            ("rules[a2].then.score.health", 5)]
    assert conds[0].message.replace("a1", "a2") == conds[1].message and "revenue" in conds[0].hint


def test_once_raises_a_fresh_error_each_time():
    from kamrules.language.typecheck import Scope

    once = checkmod._Once(Scope({}, {}))
    errors = []
    for _ in range(2):
        with pytest.raises(ParseError) as e:
            once.cond("x >")
        errors.append(e.value)
    assert errors[0] is not errors[1]
    assert [(x.message, x.pos, x.hint) for x in errors] == [(errors[0].message, errors[0].pos, errors[0].hint)] * 2
