"""What the course claims about its sources and its timing, checked against the text.

- Only a rule whose idea is the deck's quotes it (`words:`; tests/test_words.py checks that each
  quote is verbatim in the deck text).
- A `deck` rule says where its threshold comes from when the number is not the deck's: the deck
  states no numbers, so a deck rule comparing with a parameter names `threshold:`.
- A remedy that says when ("本周", "this quarter" …) has the horizon it says: the first time-word
  of the zh and of the en text is the rule's horizon.
"""
from __future__ import annotations

from kamrules import pipeline


def test_a_quote_only_on_a_rule_whose_idea_is_the_decks() -> None:
    book = pipeline.rulebook("course")
    assert [r.id for r in book.rules if r.words.zh and r.source != "deck"] == []


def test_deck_rules_say_whose_threshold_they_use() -> None:
    """The deck gives ideas, not numbers: a deck rule whose condition reads a parameter says whose
    the number is (recon or the literature)."""
    book = pipeline.rulebook("course")
    silent = [r.id for r in book.rules if r.source == "deck" and "params." in r.when and not r.threshold]
    assert silent == []


ZH_TIME = {"本周": "this_week", "本月": "this_month", "一个月内": "this_month", "本季度": "this_quarter",
           "半年内": "this_half", "今年内": "this_year"}
EN_TIME = {"this week": "this_week", "this month": "this_month", "within a month": "this_month",
           "this quarter": "this_quarter", "within six months": "this_half", "this year ": "this_year"}


def _first(text: str, words: dict[str, str]) -> str | None:
    hits = [(text.find(w), h) for w, h in words.items() if w in text]
    return min(hits)[1] if hits else None


def test_a_remedy_that_says_when_has_that_horizon() -> None:
    book = pipeline.rulebook("course")
    wrong = []
    for r in book.rules:
        for msg in (r.warn, r.recommend):
            if msg is None:
                continue
            text = msg.remedy if msg.remedy else msg.message
            zh, en = _first(text.zh, ZH_TIME), _first(text.en.lower(), EN_TIME)
            if (zh and zh != msg.horizon) or (en and en != msg.horizon):
                wrong.append((r.id, msg.horizon, zh, en))
    assert wrong == []


def test_every_action_has_an_owner_and_a_horizon() -> None:
    book = pipeline.rulebook("course")
    bare = [r.id for r in book.rules for m in (r.warn, r.recommend) if m and not ((m.role or m.owner) and m.horizon)]
    assert bare == []
