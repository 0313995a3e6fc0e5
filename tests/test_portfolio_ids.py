"""portfolio.ids: account ids in one buffer behave as the list and dict they replace."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.portfolio.ids import Ids, Picked
from kamrules.portfolio.rank import Measured

# few distinct values, so that duplicates are common; any text, lone surrogates included
_ids = st.lists(st.one_of(st.sampled_from(["", "KH-1", "KH-2", "客户甲", "a\x00b"]),
                          st.text(max_size=6)), max_size=120)


@settings(max_examples=60, deadline=None)
@given(_ids, st.lists(st.text(max_size=6), max_size=10))
def test_ids_are_a_list_of_the_first_of_each_and_an_index_of_them(given_ids: list[str], others: list[str]) -> None:
    ids = Ids()
    model: dict[str, int] = {}
    for ident in given_ids:
        expected = (model[ident], False) if ident in model else (len(model), True)
        model.setdefault(ident, len(model))
        assert ids.add(ident) == expected
    firsts = list(model)
    assert len(ids) == len(firsts) and list(ids) == firsts and ids[:] == firsts
    assert [ids[i] for i in range(len(ids))] == firsts
    assert [ids[-i] for i in range(1, len(ids) + 1)] == [firsts[-i] for i in range(1, len(firsts) + 1)]
    for ident in [*given_ids, *others]:
        assert ids.index_of(ident) == model.get(ident)
        assert (ident in ids) == (ident in model)
    assert list(Ids(given_ids)) == firsts  # built from a list, as by add


def test_an_index_past_the_end_is_an_index_error_as_in_a_list() -> None:
    ids = Ids(["a", "b"])
    with pytest.raises(IndexError):
        ids[2]
    with pytest.raises(IndexError):
        ids[-3]
    assert ids[-1] == "b" and ids[::-1] == ["b", "a"]


def test_a_lone_surrogate_is_an_id_like_any_other() -> None:
    ids = Ids()
    assert ids.add("x\udcff") == (0, True) and ids.add("x\udcfe") == (1, True) and ids.add("x\udcff") == (0, False)
    assert list(ids) == ["x\udcff", "x\udcfe"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=4), max_size=30), st.data())
def test_picked_is_the_list_it_names(names: list[str], data: st.DataObject) -> None:
    ids = Ids(names)
    others = data.draw(st.lists(st.text(max_size=4), max_size=5))
    choices = [*range(len(ids)), *(-1 - j for j in range(len(others)))]
    at = data.draw(st.lists(st.sampled_from(choices), max_size=20)) if choices else []
    expected = [ids[k] if k >= 0 else others[-1 - k] for k in at]
    picked = Picked(ids, at, others)
    assert list(picked) == expected and len(picked) == len(expected) and picked[1:] == expected[1:]
    assert [picked[i] for i in range(len(at))] == expected
    assert picked == expected and picked == tuple(expected) and picked == Picked(ids, at, others)
    assert hash(picked) == hash(tuple(expected))


def test_measured_keeps_the_first_of_a_duplicate_id_and_every_row() -> None:
    m = Measured(["revenue"])
    for ident, v in [("a", 1.0), ("b", 2.0), ("a", 3.0), ("c", 4.0)]:
        m.add(ident, (v,))
    assert list(m.ids) == ["a", "b", "c"] and list(m.columns[0]) == [1.0, 2.0, 4.0]
    assert list(m.rows) == [0, 1, 0, 2] and list(m.row_ids) == ["a", "b", "a", "c"]
    assert m.index_of("c") == 2 and m.index_of("d") is None
