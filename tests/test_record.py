"""@record behaves as @dataclass(frozen=True) does, for everything kamrules uses of it."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kamrules.core.record import record


def _body() -> dict[str, Any]:
    return {"__annotations__": {"a": "int", "b": "str", "c": "tuple[int, ...]", "d": "list[int]", "e": "int"},
            "__module__": __name__, "b": "x", "c": (), "d": field(default_factory=list),
            "e": field(default=7, init=False, compare=False, repr=False)}


# the same class declared both ways (module level: pickle finds classes by name)
Plain: Any = dataclass(frozen=True)(type("Plain", (), _body()))
Rec: Any = record(type("Rec", (), _body()))
PlainBare: Any = dataclass(frozen=True, eq=False, repr=False)(type("PlainBare", (), _body()))
RecBare: Any = record(eq=False, repr=False)(type("RecBare", (), _body()))


@record
class Hashable:
    a: int
    b: tuple[str, ...] = ()


values = st.tuples(st.integers(), st.text(max_size=5), st.tuples(st.integers()), st.lists(st.integers(), max_size=3))


@given(values, st.integers(min_value=0, max_value=4))
def test_init_eq_hash_repr_match_a_frozen_dataclass(v: tuple[Any, ...], npos: int) -> None:
    names = ("a", "b", "c", "d")
    args, kwargs = v[:npos], dict(zip(names[npos:], v[npos:]))
    p, r = Plain(*args, **kwargs), Rec(*args, **kwargs)
    assert [getattr(r, n) for n in (*names, "e")] == [getattr(p, n) for n in (*names, "e")]
    assert repr(r).replace("Rec(", "Plain(") == repr(p)
    assert r == Rec(*v) and (r != Rec(v[0] + 1, *v[1:]))
    for obj in (p, r):  # a list field makes the instance unhashable, as it does a dataclass's
        with pytest.raises(TypeError):
            hash(obj)
    assert dataclasses.asdict(r) == dataclasses.asdict(p)
    assert dataclasses.replace(r, a=5) == Rec(5, *v[1:])
    assert Rec.__match_args__ == Plain.__match_args__ == names
    assert pickle.loads(pickle.dumps(r)) == r and copy.deepcopy(r) == r


@given(st.integers(), st.tuples(st.text(max_size=3)))
def test_hash_is_a_dataclass_hash(a: int, b: tuple[str, ...]) -> None:
    assert hash(Hashable(a, b)) == hash((a, b)) and Hashable(a, b) == Hashable(a=a, b=b)
    assert {Hashable(a, b), Hashable(a, b)} == {Hashable(a, b)}


def test_errors_match_a_frozen_dataclass() -> None:
    for cls in (Plain, Rec):
        with pytest.raises(TypeError, match="missing"):
            cls()
        with pytest.raises(TypeError, match="positional"):
            cls(1, "b", (), [], 5)
        with pytest.raises(TypeError, match="unexpected keyword"):
            cls(1, z=2)
        with pytest.raises(TypeError, match="multiple values"):
            cls(1, a=2)
        obj = cls(1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.a = 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            del obj.a
    assert Rec(1) != Plain(1)  # different classes never compare equal


def test_eq_false_keeps_identity_and_repr_false_keeps_object_repr() -> None:
    a, b = RecBare(1), RecBare(1)
    assert a != b and a == a and hash(a) == object.__hash__(a)
    assert repr(a).startswith("<") and repr(PlainBare(1)).startswith("<")


def test_post_init_and_defaults() -> None:
    @record
    class Counted:
        items: tuple[int, ...]
        n: int = field(init=False, default=0)

        def __post_init__(self) -> None:
            object.__setattr__(self, "n", len(self.items))

    assert Counted((1, 2)).n == 2
    assert Counted.__doc__ == "Counted(…)"


def test_params_say_what_the_class_is() -> None:
    assert dataclasses.is_dataclass(Rec) and Rec.__dataclass_params__.frozen and Rec.__dataclass_params__.eq
    assert not RecBare.__dataclass_params__.eq and not RecBare.__dataclass_params__.repr


def test_inheriting_fields_is_refused() -> None:
    with pytest.raises(TypeError, match="inherits from a dataclass"):
        record(type("Sub", (Hashable,), {"__annotations__": {"c": "int"}}))


def test_generated_methods_are_refused() -> None:
    with pytest.raises(TypeError, match="defines __eq__"):
        @record
        class Own:
            a: int

            def __eq__(self, other: object) -> bool:
                return True
