"""Replay: re-evaluate a recorded review from what the store kept — the account's facts, the
history facts it was given, and the exact rulebook (every file of its extends chain, by
content) — and check the result is byte-identical to the recorded one (an audit check). With
another rulebook (today's), show what it would have concluded instead.

The comparison is of the canonical JSON result. Two fields say how, not what, and are set
aside and reported: `kamrules` (the version) and `engine` (durable_rules or the reference
evaluator, which the test suite holds to the same matches). By default the replay runs on the
recorded engine where it exists (durable_rules does not import on Python ≥ 3.13).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from kamrules.history import codec
from kamrules.history.analysis import delta
from kamrules.history.location import store_problem
from kamrules.history.record import result_text
from kamrules.history.store import Full, Store
from kamrules.rulebook.model import Account, Rulebook

HOW = ("kamrules", "engine")  # fields that say how a result was made, not what it concludes


@dataclass(frozen=True)
class Replay:
    review: Full
    book: Rulebook
    engine: str
    replayed: dict[str, Any]
    identical: bool
    differences: dict[str, Any]  # delta(recorded, replayed) plus the top-level keys that differ
    today: dict[str, Any] | None = None  # with --rulebook: delta(recorded, today's)
    today_book: Rulebook | None = None


def stored_rulebook(store: Store, digest: str) -> Rulebook:
    from kamrules.rulebook.load import load_stored

    src = store.rulebook_source(digest)
    if src is None:
        raise store_problem("replay.no-rulebook", f"the store has no rulebook {digest}", store.where.shown)
    book = load_stored(src.entry, dict(src.files))
    if book.digest != digest:  # the sources load to another rulebook: this kamrules reads them differently
        raise store_problem("replay.rulebook-changed", f"the stored sources of rulebook {digest[:19]} now load as "
                                                       f"{book.digest[:19]}", store.where.shown,
                            "this kamrules reads rulebooks differently from the one that recorded the review")
    return book


def account_of(full: Full) -> Account:
    s = full.summary
    return Account(s.account_id, s.account_name, "<store>",
                   {**codec.decode_facts(full.facts), **codec.decode_facts(full.supplied)})


def evaluate_doc(full: Full, book: Rulebook, engine: str) -> dict[str, Any]:
    from kamrules.advice.render import to_json
    from kamrules.pipeline import evaluate

    advice = evaluate(account_of(full), book, as_of=full.summary.as_of, lang=full.summary.lang, engine=engine)
    doc: dict[str, Any] = json.loads(result_text(to_json(advice)))  # through the recorded form: same types
    return doc


def pick_engine(recorded: str, wanted: str | None) -> str:
    if wanted and wanted != "auto":
        return wanted
    from kamrules.engine.backends import durable_available

    return recorded if recorded != "durable" or durable_available() else "reference"


def replay(store: Store, review_id: int, *, engine: str | None = None, rulebook_ref: str | None = None) -> Replay:
    full = store.full(review_id)
    if full is None:
        raise store_problem("replay.unknown-review", f"there is no review {review_id} in the store",
                            store.where.shown, "see the review numbers with 'kamrules history ACCOUNT'")
    book = stored_rulebook(store, full.summary.rulebook_digest)
    eng = pick_engine(full.summary.engine, engine)
    recorded = json.loads(full.result)
    replayed = evaluate_doc(full, book, eng)
    same = comparable(replayed, recorded) == full.result and codec.digest(full.result) == full.summary.result_digest
    diffs: dict[str, Any] = {}
    if not same:
        diffs = {"keys": sorted(k for k in set(recorded) | set(replayed)
                                if k not in HOW and recorded.get(k) != replayed.get(k)),
                 **delta(recorded, replayed)}
    today = today_book = None
    if rulebook_ref:
        from kamrules.pipeline import rulebook

        today_book = rulebook(rulebook_ref)
        today = delta(recorded, evaluate_doc(full, today_book, eng))
    return Replay(full, book, eng, replayed, same, diffs, today, today_book)


def comparable(replayed: Mapping[str, Any], recorded: Mapping[str, Any]) -> str:
    """The replayed result in the recorded form, with the how-fields taken from the record."""
    doc = dict(replayed)
    for k in HOW:
        if k in recorded:
            doc[k] = recorded[k]
    return result_text(doc)
