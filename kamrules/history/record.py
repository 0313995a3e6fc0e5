"""Evaluations with a review store: history facts supplied before, the review recorded after.

`Session` wraps pipeline.evaluate for `advise` and `portfolio`: it reads the accounts' earlier
reviews once (one query for a whole portfolio), supplies the history facts the rulebook
declares, marks warnings a manager accepted, and — with `record` — keeps each review in memory
until `commit()` writes them all in one transaction (a run that fails or is interrupted records
nothing, and the write lock is held for the write only, not for the whole evaluation).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from kamrules.advice.model import Advice
from kamrules.history import codec, trend
from kamrules.history.overrides import Override, in_force
from kamrules.history.store import FindingRow, NewReview, RulebookSource, Store, Summary
from kamrules.pipeline import evaluate
from kamrules.rulebook.model import Account, Rulebook


def rulebook_source(book: Rulebook) -> RulebookSource:
    """The text of every file of the rulebook's extends chain, by the name it loaded under."""
    from kamrules.core import yamlio

    files = []
    for display in book.files:
        text, _ = yamlio.read_text(str(real_path(display)))
        files.append((display, text))
    return RulebookSource(book.digest, book.id, book.version, book.files[-1] if book.files else book.id,
                          tuple(files))


def real_path(display: str) -> Path:
    """A rulebook file's display name (load.display_path) → the file: built-ins are
    rules/<…> inside the package; other names are relative to the working directory or absolute."""
    from kamrules.core.resources import rules_dir

    if display.startswith("rules/"):
        builtin = rules_dir() / display[len("rules/"):]
        if builtin.is_file():
            return builtin
    return Path(display)


@dataclass
class Session:
    store: Store
    book: Rulebook
    record: bool = False
    by: str = ""
    series: dict[str, list[Summary]] = field(default_factory=dict)
    overrides: dict[str, list[Override]] = field(default_factory=dict)
    pending: list[NewReview] = field(default_factory=list)
    previous: dict[str, Summary | None] = field(default_factory=dict)  # account → its last earlier review
    dates: dict[str, _dt.date] = field(default_factory=dict)
    current: dict[str, Summary] = field(default_factory=dict)  # account → this run's review, in brief
    keep_current: bool = False  # fill `current` (portfolio --since reads it)

    def preload(self, account_ids: Iterable[str]) -> None:
        from kamrules.history.overrides import load_overrides

        ids = list(account_ids)
        self.series = self.store.summaries(ids)
        self.overrides = load_overrides(self.store, ids)

    def evaluate(self, account: Account, book: Rulebook, *, as_of: _dt.date | None = None,
                 lang: str | None = None, engine: str = "auto") -> Advice:
        date = as_of or account.as_of or _dt.date.today()
        past = trend.effective(self.series.get(account.id, ()), before=date)
        supplied = trend.supplied(book, past)
        given = {k: v for k, v in account.values.items() if k not in supplied}
        evaluated = replace(account, values={**given, **supplied}) if supplied else account
        advice = evaluate(evaluated, book, as_of=date, lang=lang, engine=engine)
        self.previous[account.id] = past[-1] if past else None
        self.dates[account.id] = date
        active = in_force(self.overrides.get(account.id, ()), date)
        if self.keep_current:
            self.current[account.id] = brief(advice, {o.target for o in active if o.kind == "accept"})
        if self.record:
            self.pending.append(new_review(advice, given, supplied, active))
        return advice

    def commit(self) -> list[int]:
        if not self.record or not self.pending:
            return []
        ids = self.store.record(self.pending, [rulebook_source(self.book)], by=self.by)
        self.pending = []
        return ids


def new_review(advice: Advice, given: Mapping[str, Any], supplied: Mapping[str, Any],
               overrides: Iterable[Override] = ()) -> NewReview:
    from kamrules.advice.render import to_json

    active = list(overrides)
    accepted = {o.target for o in active if o.kind == "accept"}
    text = result_text(to_json(advice))
    facts = codec.encode_facts(given)
    book = advice.book
    return NewReview(
        account_id=advice.account.id, account_name=advice.account.name, as_of=advice.as_of,
        rulebook_digest=book.digest, rulebook_id=book.id, rulebook_version=book.version, engine=advice.engine,
        lang=advice.lang, dims={d: c.value for d, c in advice.classification.items()},
        scores={s: sc.value for s, sc in advice.scores.items()},
        findings=tuple(FindingRow(f.rule, f.concept, f.kind, f.severity, f.priority,
                                  f.kind == "warning" and f.rule in accepted) for f in advice.findings),
        facts=facts, facts_digest=codec.digest(facts), supplied=codec.encode_facts(supplied),
        result=codec.pack(text), result_digest=codec.digest(text),
        overrides=codec.canonical([o.as_dict() for o in active]))


def result_text(doc: Mapping[str, Any]) -> str:
    """The recorded form of an `advise --format json` document (canonical JSON)."""
    import json

    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
                      check_circular=False)  # a result is a tree


def brief(advice: Advice, accepted: set[str]) -> Summary:
    """This run's review in the form the store's reviews are read in (not yet numbered)."""
    book = advice.book
    return Summary(0, advice.account.id, advice.account.name, advice.as_of, _dt.datetime.min, "", "", book.digest,
                   book.id, book.version, advice.engine, "", advice.lang, "", "",
                   {d: c.value for d, c in advice.classification.items()},
                   {s: sc.value for s, sc in advice.scores.items()},
                   tuple(FindingRow(f.rule, f.concept, f.kind, f.severity, f.priority,
                                    f.kind == "warning" and f.rule in accepted) for f in advice.findings))
