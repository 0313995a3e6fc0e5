"""The history stage as the commands use it: whether a store is in use, an evaluation with its
history, the playbook's "since the last review" and overrides, and recording at the end.

A store is in use when a review is to be recorded (`--record`, or `record: true` in the
project settings), when one is named (`--store`, KAMRULES_STORE, the project's setting) or
when the store the location rule picks already exists. Otherwise nothing here runs and no
database library is imported.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from kamrules.advice.model import Advice
from kamrules.core.values import format_number, format_value
from kamrules.advice import contextmodel as cm
from kamrules.core.i18n import t
from kamrules.history import location
from kamrules.history.analysis import Side, compare, empty, side_of
from kamrules.history.location import Where
from kamrules.history.overrides import Override
from kamrules.history.record import Session
from kamrules.rulebook.model import Rulebook


@dataclass(frozen=True)
class Use:
    where: Where
    record: bool
    by: str


def in_use(store: str | None, record: bool, by: str | None = None) -> Use | None:
    s = location.settings()
    record = record or s.record
    where = location.resolve(store)
    named = bool(store) or bool(os.environ.get(location.ENV_STORE)) or bool(s.store)
    exists = where.kind == "postgresql" or (where.path is not None and where.path.exists())
    if not (record or named or exists):
        return None
    return Use(where, record, location.recorded_by(by))


def open_session(use: Use, book: Rulebook) -> Session:
    from kamrules.history.store import open_store

    store = open_store(use.where, create=True)
    return Session(store, book, record=use.record, by=use.by)


@dataclass
class Extra:
    context: dict[str, Any] = field(default_factory=dict)  # playbook template keys
    json: dict[str, Any] = field(default_factory=dict)  # keys added to the JSON output
    accepted: frozenset[str] = frozenset()  # warnings a manager accepted (not counted by --fail-on)


def extra_for(session: Session, advice: Advice) -> Extra:
    """The playbook's "since the last review" and overrides, and the same for JSON."""
    from kamrules.advice.render import to_json

    book, lang, acc = advice.book, advice.lang, advice.account.id
    out = Extra()
    prev = session.previous.get(acc)
    if prev is not None:
        full = session.store.full(prev.id)
        if full is not None:
            old = side_of(prev.id, prev.as_of, prev.rulebook_digest, full.result, full.facts, full.supplied)
            given = {k: v for k, v in advice.account.values.items() if k not in _supplied_names(book)}
            supplied = {k: v for k, v in advice.account.values.items() if k in _supplied_names(book)}
            new = Side(None, advice.as_of, book.digest, to_json(advice), given, supplied)
            diff = compare(old, new, _reevaluator(book, advice))
            info = {"review": prev.id, "as_of": prev.as_of.isoformat(), "recorded_by": prev.recorded_by,
                    "recorded_at": prev.recorded_at.isoformat(), "final": prev.final, "tier": prev.tier}
            out.json["history"] = {"previous": info, "changes": diff}
            out.context["history"] = since_context(book, lang, info, diff)
    overrides = session.overrides.get(acc, [])
    shown = [o for o in overrides if o.in_force(advice.as_of) or
             (o.lapsed(advice.as_of) and (prev is None or o.expires > prev.as_of))]
    if shown:
        out.context["overrides"] = overrides_context(book, advice, shown)
        out.json["overrides"] = [{**o.as_dict(), "status": o.status(advice.as_of),
                                  "computed": _computed(advice, o)} for o in shown]
    out.accepted = frozenset(o.target for o in shown if o.kind == "accept" and o.in_force(advice.as_of))
    return out


def _supplied_names(book: Rulebook) -> set[str]:
    return {n for n, f in book.facts.items() if f.supplied}


def _reevaluator(book: Rulebook, advice: Advice) -> Any:
    def run(old: Side) -> Mapping[str, Any] | None:
        from kamrules.advice.render import to_json
        from kamrules.pipeline import evaluate
        from kamrules.rulebook.model import Account

        try:
            acc = Account(advice.account.id, advice.account.name, advice.account.file,
                          {**old.facts, **old.supplied})
            return to_json(evaluate(acc, book, as_of=old.as_of, lang=advice.lang, engine=advice.engine))
        except Exception:  # facts the new rulebook cannot take: the change cannot be split
            return None
    return run


def _computed(advice: Advice, o: Override) -> str | None:
    if o.kind == "dimension":
        c = advice.classification.get(o.target)
        return c.value if c else None
    return "present" if any(f.rule == o.target and f.kind == "warning" for f in advice.findings) else "absent"


# ---------------------------------------------------------------------- labels

def dim_label(book: Rulebook, dim: str, lang: str) -> str:
    d = book.dimensions.get(dim)
    return d.label.get(lang) or dim if d else dim


def value_label(book: Rulebook, dim: str, value: Any, lang: str) -> str:
    if value is None:
        return t("history.not_classified", lang)
    d = book.dimensions.get(dim)
    return d.value_label(str(value), lang) if d else str(value)


def score_label(book: Rulebook, score: str, lang: str) -> str:
    s = book.scores.get(score)
    return s.label.get(lang) or score if s else score


def rule_title(book: Rulebook, rule: str, lang: str) -> str:
    r = book.rule(rule)
    return (r.title.get(lang) or rule) if r else rule


def fact_text(book: Rulebook, name: str, value: Any, lang: str) -> str:
    from kamrules.history.codec import decode_value

    v = decode_value(value)
    f = book.facts.get(name)
    if v is None:
        return "—"
    if isinstance(v, tuple):
        return format_number(len(v)) if v and isinstance(v[0], dict) else ", ".join(map(str, v))
    return format_value(v, f.type if f else "string", lang)


def _num_text(v: Any) -> str:
    return "—" if v is None else format_number(float(v))


def _signed(v: float) -> str:
    return ("+" if v > 0 else "") + format_number(v)


def delta_lines(book: Rulebook, lang: str, d: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One line per change; a score line carries the rules that moved it."""
    lines: list[dict[str, Any]] = []
    for x in d["dimensions"]:
        lines.append({"text": t("history.dim_change", lang, label=dim_label(book, x["dimension"], lang),
                                 old=value_label(book, x["dimension"], x["from"], lang),
                                 new=value_label(book, x["dimension"], x["to"], lang)), "rules": []})
    for s in d["scores"]:
        change = _signed(s["change"]) if s["change"] is not None else "—"
        rules = [t("history.rule_points", lang, points=_signed(r["change"]), title=rule_title(book, r["rule"], lang),
                    old=_num_text(r["from"]), new=_num_text(r["to"])) for r in s["rules"]]
        lines.append({"text": t("history.score_change", lang, label=score_label(book, s["score"], lang),
                                 old=_num_text(s["from"]), new=_num_text(s["to"]), change=change), "rules": rules})
    from kamrules.history.analysis import SEVERITY_ORDER  # noqa: F401 - order kept by analysis

    sev = _severity_labels(lang)
    def title(w: Mapping[str, Any]) -> str:  # today's wording, in today's language, where the rule still exists
        return rule_title(book, w["rule"], lang) if book.rule(w["rule"]) else str(w["title"])

    for w in d["new_warnings"]:
        lines.append({"text": t("history.new_warning", lang, severity=sev.get(w["severity"], w["severity"]),
                                 title=title(w)), "rules": []})
    for w in d["resolved_warnings"]:
        lines.append({"text": t("history.resolved_warning", lang, severity=sev.get(w["severity"], w["severity"]),
                                 title=title(w)), "rules": []})
    for w in d["severity_changed"]:
        lines.append({"text": t("history.severity_changed", lang, title=title(w), old=sev.get(w["from"], w["from"]),
                                 new=sev.get(w["to"], w["to"])), "rules": []})
    return lines


def _severity_labels(lang: str) -> dict[str, str]:
    from kamrules.rulebook.vocabulary import SEVERITIES

    return {k: t(f"severity.{k}", lang) for k in SEVERITIES}


def since_context(book: Rulebook, lang: str, info: Mapping[str, Any], diff: Mapping[str, Any]) -> cm.History:
    sections = []
    notes = []
    if not diff["same_rulebook"]:
        notes.append(t("history.rulebook_changed", lang, old=str(diff["from"]["rulebook"])[:19],
                        new=str(diff["to"]["rulebook"])[:19]) if diff["separable"] else t("history.not_separable", lang))
    for key, heading in (("by_rulebook", "history.by_rulebook"), ("by_facts", "history.by_facts"),
                         ("mixed", "history.mixed")):
        d = diff.get(key)
        if d is None:
            continue
        lines = delta_lines(book, lang, d)
        sections.append(cm.HistorySection(key, t(heading, lang), tuple(
            cm.HistoryLine(x["text"], tuple(x["rules"])) for x in lines) or (cm.HistoryLine(t("history.no_change", lang), ()),)))
    facts = [t("history.fact_change", lang, label=(book.facts[f["fact"]].label.get(lang) if f["fact"] in book.facts
                                            else f["fact"]) or f["fact"],
                old=fact_text(book, f["fact"], f["from"], lang), new=fact_text(book, f["fact"], f["to"], lang))
             for f in diff["facts"]]
    return cm.History(t("history.since_title", lang),
                      t("history.since_intro", lang, as_of=info["as_of"], review=info["review"], by=info["recorded_by"]),
                      tuple(notes), tuple(sections),
                      (t("history.facts_changed", lang) + ("；" if lang == "zh" else "; ").join(facts)) if facts else "",
                      dict(info), dict(diff))


def overrides_context(book: Rulebook, advice: Advice, shown: list[Override]) -> cm.Overrides:
    lang, on = advice.lang, advice.as_of
    lines, dims, accepted = [], {}, {}
    for o in shown:
        kw = {"author": o.author, "expires": o.expires.isoformat(), "reason": o.reason}
        if o.kind == "dimension":
            computed = value_label(book, o.target, _computed(advice, o), lang)
            value = value_label(book, o.target, o.value, lang)
            label = dim_label(book, o.target, lang)
            if o.in_force(on):
                lines.append(t("history.override_dim", lang, label=label, computed=computed, value=value, **kw))
                dims[o.target] = t("history.override_beside", lang, value=value, author=o.author,
                                    expires=o.expires.isoformat())
            else:
                lines.append(t("history.override_dim_lapsed", lang, label=label, computed=computed, value=value, **kw))
        else:
            title = rule_title(book, o.target, lang)
            if o.in_force(on):
                lines.append(t("history.override_accept", lang, title=title, **kw))
                accepted[o.target] = t("history.accepted_beside", lang, **kw)
            else:
                lines.append(t("history.override_accept_lapsed", lang, title=title, **kw))
    return cm.Overrides(t("history.overrides_title", lang), tuple(lines), dims, accepted)


def recorded_note(session: Session, ids: list[int]) -> str:
    w = session.store.where
    if not ids:
        return ""
    what = f"review {ids[0]}" if len(ids) == 1 else f"{len(ids)} reviews ({ids[0]}–{ids[-1]})"
    return f"kamrules: recorded {what} in {w.shown} (store chosen by {w.why})"


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n"


def today() -> _dt.date:
    return _dt.date.today()


@dataclass
class Advised:
    advice: Advice
    extra: Extra
    session: Session

    def commit(self) -> list[str]:
        """Record (when asked) and say so; the store's notes (created, upgraded) first."""
        try:
            ids = self.session.commit()
            notes = [f"kamrules: {n}" for n in self.session.store.notes]
            if ids:
                notes.append(recorded_note(self.session, ids))
            return notes
        finally:
            self.session.store.close()


def advise(u: Use, file: str, rulebook_ref: str, *, as_of: _dt.date | None, lang: str | None, engine: str,
           stdin_text: str | None, account_id: str | None) -> Advised:
    from kamrules.io.csvio import select_account
    from kamrules.pipeline import rulebook

    book = rulebook(rulebook_ref)
    account = select_account(file, book, account_id, text=stdin_text)
    session = open_session(u, book)
    try:
        session.preload([account.id])
        advice = session.evaluate(account, book, as_of=as_of, lang=lang, engine=engine)
        return Advised(advice, extra_for(session, advice), session)
    except BaseException:
        session.store.close()
        raise


# ---------------------------------------------------------------------- the portfolio

def portfolio_overrides(session: Session, on: _dt.date | None) -> dict[str, dict[str, str]]:
    """account → dimension → the value a manager set (in force on the evaluation date)."""
    out: dict[str, dict[str, str]] = {}
    day = on or today()
    for acc, items in session.overrides.items():
        for o in items:
            if o.kind == "dimension" and o.value and o.in_force(session.dates.get(acc, day)):
                out.setdefault(acc, {})[o.target] = o.value
    return out


def since_portfolio(session: Session, since: _dt.date, months: int) -> dict[str, Any]:
    from kamrules.history import trend
    from kamrules.history.analysis import portfolio_since

    book = session.book
    effective = {a: trend.effective(s) for a, s in session.series.items()}
    before = {a: [s for s in ser if s.as_of <= since] for a, ser in effective.items()}
    tiers = [v for v, _ in book.dimensions["tier"].values] if "tier" in book.dimensions else []
    day = max(session.dates.values()) if session.dates else today()
    return portfolio_since(before, session.current, since=since, today=day, tier_order=tiers,
                           months=months, all_series=effective)
