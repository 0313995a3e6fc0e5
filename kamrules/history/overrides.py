"""A manager's overrides: an account's class or tier set by hand, or a warning accepted, each
with a reason, an author and an expiry date.

An override never replaces what the rules computed: the playbook and the portfolio show it
beside the computed value, and each recorded review keeps the overrides in force. It is in
force before its expiry date and lapses on it (the playbook then says so). A second override
of the same thing is refused while the first is in force, unless the manager replaces it on
purpose (`--replace`); removing one keeps it on record, marked removed by whom and when.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from kamrules.history import schema as S
from kamrules.history.location import store_problem
from kamrules.history.store import Store, utcnow

KINDS = ("dimension", "accept")


@dataclass(frozen=True)
class Override:
    id: int
    account_id: str
    kind: str  # dimension | accept
    target: str  # the dimension (final, tier), or the accepted warning's rule
    value: str | None  # the dimension value the manager set
    reason: str
    author: str
    created_at: _dt.datetime
    expires: _dt.date  # lapses on this date
    removed_at: _dt.datetime | None = None
    removed_by: str | None = None

    def in_force(self, on: _dt.date) -> bool:
        return self.removed_at is None and on < self.expires

    def lapsed(self, on: _dt.date) -> bool:
        return self.removed_at is None and on >= self.expires

    def status(self, on: _dt.date) -> str:
        if self.removed_at is not None:
            return "removed"
        return "in_force" if self.in_force(on) else "lapsed"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "account": self.account_id, "kind": self.kind, "target": self.target,
                "value": self.value, "reason": self.reason, "author": self.author,
                "created_at": self.created_at.isoformat(), "expires": self.expires.isoformat(),
                **({"removed_at": self.removed_at.isoformat(), "removed_by": self.removed_by}
                   if self.removed_at else {})}


def in_force(overrides: Iterable[Override], on: _dt.date) -> list[Override]:
    return [o for o in overrides if o.in_force(on)]


def _row(r: Any) -> Override:
    from kamrules.history.store import _date, _datetime

    return Override(int(r.id), r.account_id, r.kind, r.target, r.value, r.reason, r.author, _datetime(r.created_at),
                    _date(r.expires), _datetime(r.removed_at) if r.removed_at is not None else None, r.removed_by)


def load_overrides(store: Store, account_ids: Sequence[str] | None = None, *,
                   removed: bool = False) -> dict[str, list[Override]]:
    """Overrides by account (not removed ones unless `removed`), oldest first."""
    from sqlalchemy import select

    q = select(S.overrides).order_by(S.overrides.c.id)
    if not removed:
        q = q.where(S.overrides.c.removed_at.is_(None))
    ids = None if account_ids is None else set(account_ids)
    if ids is not None and len(ids) <= 900:
        q = q.where(S.overrides.c.account_id.in_(sorted(ids)))
    out: dict[str, list[Override]] = {}
    with store.guard(), store.reading() as conn:
        for r in conn.execute(q):
            if ids is None or r.account_id in ids:
                out.setdefault(r.account_id, []).append(_row(r))
    return out


def set_override(store: Store, *, account_id: str, kind: str, target: str, value: str | None, reason: str,
                 author: str, expires: _dt.date, replace: bool = False, today: _dt.date | None = None) -> Override:
    from sqlalchemy import insert, select, update

    today = today or _dt.date.today()
    now = utcnow()
    with store.guard(), store.writing() as conn, conn.begin():
        q = select(S.overrides).where(S.overrides.c.account_id == account_id, S.overrides.c.kind == kind,
                                      S.overrides.c.target == target, S.overrides.c.removed_at.is_(None))
        current = [o for o in (_row(r) for r in conn.execute(q)) if o.in_force(today)]
        if current and not replace:
            o = current[0]
            raise store_problem("override.exists", f"override {o.id} of {target} for '{account_id}' is in force "
                                                   f"until {o.expires} (by {o.author}: {o.reason})",
                                "override", "pass --replace to replace it (it stays on record), or remove it first")
        for o in current:
            conn.execute(update(S.overrides).where(S.overrides.c.id == o.id)
                         .values(removed_at=now, removed_by=f"{author} (replaced)"))
        rid = conn.execute(insert(S.overrides).returning(S.overrides.c.id).values(
            account_id=account_id, kind=kind, target=target, value=value, reason=reason, author=author,
            created_at=now, expires=expires)).scalar_one()
    return Override(int(rid), account_id, kind, target, value, reason, author, now, expires)


def remove_override(store: Store, override_id: int, *, by: str) -> Override:
    from sqlalchemy import select, update

    with store.guard(), store.writing() as conn, conn.begin():
        r = conn.execute(select(S.overrides).where(S.overrides.c.id == override_id)).first()
        if r is None:
            raise store_problem("override.unknown", f"there is no override {override_id}", "override",
                                "list them with 'kamrules override list'")
        if r.removed_at is not None:
            raise store_problem("override.removed", f"override {override_id} was already removed by "
                                                    f"{r.removed_by}", "override")
        now = utcnow()
        conn.execute(update(S.overrides).where(S.overrides.c.id == override_id).values(removed_at=now, removed_by=by))
    return _row(r)
