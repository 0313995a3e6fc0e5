"""Looking back: what changed between two reviews and why, rule by rule, with the changes the
account's facts made kept apart from those a changed rulebook made.

A review is compared through its recorded JSON result (the `advise --format json` contract,
with `score_parts`) and its facts. When the two reviews used different rulebooks (different
digests), the older review's facts are evaluated again with the newer rulebook: the step from
the old result to that one is the rulebook's doing, the step from there to the new result the
facts'. With one rulebook, every change is the facts'.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from kamrules.history import codec

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


@dataclass(frozen=True)
class Side:
    """One review: recorded (review id) or the evaluation just made (review None)."""

    review: int | None
    as_of: _dt.date
    rulebook_digest: str
    doc: Mapping[str, Any]  # the advise JSON
    facts: Mapping[str, Any]  # the account's own facts (typed)
    supplied: Mapping[str, Any]  # history facts it was given

    def describe(self) -> dict[str, Any]:
        return {"review": self.review, "as_of": self.as_of.isoformat(), "rulebook": self.rulebook_digest}


def delta(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Class, dimensions, scores (with the rules that moved them), new and resolved warnings."""
    od, nd = old["classification"]["dimensions"], new["classification"]["dimensions"]
    dims = [{"dimension": d, "from": od.get(d), "to": nd.get(d)} for d in sorted(set(od) | set(nd))
            if od.get(d) != nd.get(d)]
    scores = []
    for s in sorted(set(old["scores"]) | set(new["scores"])):
        a, b = old["scores"].get(s), new["scores"].get(s)
        pa = {p["rule"]: p["points"] for p in old.get("score_parts", {}).get(s, [])}
        pb = {p["rule"]: p["points"] for p in new.get("score_parts", {}).get(s, [])}
        rules = [{"rule": r, "from": pa.get(r), "to": pb.get(r), "change": _num(pb.get(r)) - _num(pa.get(r))}
                 for r in sorted(set(pa) | set(pb)) if pa.get(r) != pb.get(r)]
        rules.sort(key=lambda x: (-abs(x["change"]), x["rule"]))
        if a != b or rules:
            scores.append({"score": s, "from": a, "to": b,
                           "change": None if a is None or b is None else round(b - a, 6), "rules": rules})
    ow, nw = _warnings(old), _warnings(new)
    return {
        "dimensions": dims,
        "scores": scores,
        "new_warnings": [nw[r] for r in _by_severity(nw) if r not in ow],
        "resolved_warnings": [ow[r] for r in _by_severity(ow) if r not in nw],
        "severity_changed": [{"rule": r, "title": nw[r]["title"], "from": ow[r]["severity"], "to": nw[r]["severity"]}
                             for r in _by_severity(nw) if r in ow and ow[r]["severity"] != nw[r]["severity"]],
    }


def empty(d: Mapping[str, Any]) -> bool:
    return not any(d[k] for k in ("dimensions", "scores", "new_warnings", "resolved_warnings", "severity_changed"))


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) else 0.0


def _warnings(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in doc["findings"]:
        if f["kind"] == "warning" and f["rule"] not in out:
            out[f["rule"]] = {"rule": f["rule"], "concept": f["concept"], "severity": f["severity"], "title": f["title"]}
    return out


def _by_severity(ws: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return sorted(ws, key=lambda r: (SEVERITY_ORDER.index(ws[r]["severity"]) if ws[r]["severity"] in SEVERITY_ORDER
                                     else 9, r))


def changed_facts(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a != b:
            out.append({"fact": k, "from": codec.encode_value(a), "to": codec.encode_value(b)})
    return out


Reevaluate = Callable[[Side], Mapping[str, Any] | None]


def compare(old: Side, new: Side, reevaluate: Reevaluate | None = None) -> dict[str, Any]:
    """The whole diff. `reevaluate(old)` gives the old facts' result under the new rulebook
    (None when that cannot be done); it is called only when the rulebooks differ."""
    same = old.rulebook_digest == new.rulebook_digest
    out: dict[str, Any] = {"from": old.describe(), "to": new.describe(), "same_rulebook": same,
                           "facts": changed_facts(old.facts, new.facts)}
    if same:
        out["by_facts"], out["by_rulebook"], out["separable"] = delta(old.doc, new.doc), None, True
        return out
    middle = reevaluate(old) if reevaluate else None
    if middle is None:  # cannot split: report the whole change, said to be mixed
        out["by_facts"], out["by_rulebook"], out["separable"] = None, None, False
        out["mixed"] = delta(old.doc, new.doc)
        return out
    out["by_rulebook"], out["by_facts"], out["separable"] = delta(old.doc, middle), delta(middle, new.doc), True
    return out


def side_of(review_id: int | None, as_of: _dt.date, digest: str, doc_text: str, facts_text: str,
            supplied_text: str) -> Side:
    return Side(review_id, as_of, digest, json.loads(doc_text), codec.decode_facts(facts_text),
                codec.decode_facts(supplied_text))


# ---------------------------------------------------------------------- the portfolio since a date

def portfolio_since(before: Mapping[str, Sequence[Any]], now: Mapping[str, Any], *, since: _dt.date,
                    today: _dt.date, tier_order: Sequence[str], key_value: str = "key",
                    months: int = 3, all_series: Mapping[str, Sequence[Any]] | None = None) -> dict[str, Any]:
    """The course's dynamic management of the key-account list, between `since` and now.

    before: account → its effective reviews dated on or before `since` (store Summaries);
    now: account → the current review (a Summary-like object with .dims, .scores, .warnings()).
    """
    from kamrules.history.store import Summary

    migration: dict[str, dict[str, int]] = {}
    moves = []
    new_critical = []
    unresolved = []
    resolved = []
    for acc in sorted(now):
        cur = now[acc]
        base: Summary | None = before[acc][-1] if before.get(acc) else None
        frm = base.tier if base else None
        to = cur.dims.get("tier")
        row = migration.setdefault(frm or "—", {})
        row[to or "—"] = row.get(to or "—", 0) + 1
        if base is not None and frm != to and frm in tier_order and to in tier_order:
            moves.append({"account": acc, "name": cur.account_name, "from": frm, "to": to,
                          "direction": "up" if tier_order.index(to) < tier_order.index(frm) else "down"})
        old_rules = {f.rule for f in base.warnings()} if base else set()
        now_rules = {f.rule for f in cur.warnings()}
        if base is not None:  # what the team fixed: a critical or high warning of then that no longer fires
            resolved += [{"account": acc, "name": cur.account_name, "rule": f.rule, "severity": f.severity}
                         for f in base.warnings() if f.severity in ("critical", "high") and f.rule not in now_rules]
        for f in cur.warnings():
            if f.severity == "critical" and f.rule not in old_rules:
                new_critical.append({"account": acc, "name": cur.account_name, "rule": f.rule})
            if base is not None and f.rule in old_rules and f.severity in ("critical", "high"):
                unresolved.append({"account": acc, "name": cur.account_name, "rule": f.rule, "severity": f.severity,
                                   "since": _first_seen(all_series.get(acc, ()) if all_series else before[acc],
                                                        f.rule).isoformat()})
    cutoff = _months_before(today, months)
    stale = []
    for acc in sorted(now):
        cur = now[acc]
        if cur.dims.get("final") != key_value:
            continue
        series = (all_series or before).get(acc, ())
        recorded = [s for s in series if s.as_of < cur.as_of] if hasattr(cur, "as_of") else list(series)
        last = recorded[-1].as_of if recorded else None
        if last is None or last < cutoff:
            stale.append({"account": acc, "name": cur.account_name, "last_review": last.isoformat() if last else None})
    ups = sum(1 for m in moves if m["direction"] == "up")
    return {
        "since": since.isoformat(), "accounts": len(now),
        "compared": sum(1 for a in now if before.get(a)),
        "tier_migration": {"tiers": [*tier_order], "matrix": migration, "upgrades": ups,
                           "downgrades": len(moves) - ups, "moves": moves},
        "new_critical_warnings": new_critical,
        "unresolved_warnings": unresolved,
        "resolved_warnings": resolved,
        "not_reviewed": {"months": months, "before": cutoff.isoformat(), "key_accounts": stale},
    }


def _first_seen(series: Sequence[Any], rule: str) -> _dt.date:
    """The date the warning's current unbroken run began."""
    first = None
    for s in reversed(list(series)):
        if any(f.rule == rule for f in s.warnings()):
            first = s.as_of
        else:
            break
    return first or _dt.date.min


def _months_before(d: _dt.date, months: int) -> _dt.date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    import calendar

    return _dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))
