"""rulebook/model.replaced builds a record by position: it must give what dataclasses.replace
gives (equal, same type, same field values, the same errors) for every record it is used on."""
from __future__ import annotations

import dataclasses
from dataclasses import InitVar, field

import pytest

from kamrules.core.record import record
from kamrules.language import ir
from kamrules.rulebook.model import replaced
from kamrules.rulebook.load import load_rulebook


def same(a, b):
    assert type(a) is type(b)
    assert a == b
    for f in dataclasses.fields(a):
        assert getattr(a, f.name) is getattr(b, f.name), f.name


def test_as_replace_on_the_course():
    book = load_rulebook("course")
    for r in book.rules:
        same(replaced(r, cond=ir.NEVER, score_terms=(), derive=r.derive),
             dataclasses.replace(r, cond=ir.NEVER, score_terms=(), derive=r.derive))
        same(replaced(r, locked=True), dataclasses.replace(r, locked=True))
        same(replaced(r), dataclasses.replace(r))
    for m in book.metrics.values():
        same(replaced(m, term=m.term), dataclasses.replace(m, term=m.term))
    for t in book.tables.values():
        rows, cond = t.rows[:1], ir.Truth(True)
        same(replaced(t, rows=rows, cond=cond), dataclasses.replace(t, rows=rows, cond=cond))
    for i in book.invariants:
        same(replaced(i, cond=i.cond), dataclasses.replace(i, cond=i.cond))
    same(replaced(book, digest="x"), dataclasses.replace(book, digest="x"))


@record
class _One:
    a: int


@record
class _Later:
    a: int
    b: list[int] = field(default_factory=list)
    c: int = field(default=3, init=False)


@dataclasses.dataclass(frozen=True)
class _Init:
    a: int
    b: InitVar[int] = 0

    def __post_init__(self, b: int) -> None:
        object.__setattr__(self, "a", self.a + b)


def test_one_field_a_field_not_in_init_an_initvar_and_an_unknown_name():
    one, later = _One(1), _Later(1, [2])
    same(replaced(one, a=2), dataclasses.replace(one, a=2))
    same(replaced(later, a=5), dataclasses.replace(later, a=5))
    assert replaced(_Init(1, 2), b=5) == dataclasses.replace(_Init(1, 2), b=5) == _Init(8)
    for obj in (_One(1), _Later(1)):
        with pytest.raises(TypeError) as ours:
            replaced(obj, nope=1)
        with pytest.raises(TypeError) as theirs:
            dataclasses.replace(obj, nope=1)
        assert str(ours.value) == str(theirs.value)
