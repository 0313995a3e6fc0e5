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


@given(st.sets(st.sampled_from("abcd")), values)
def test_keyword_calls_match_a_frozen_dataclass(given_names: set[str], v: tuple[Any, ...]) -> None:
    """Fields given by name only, any of them left out: the defaults, the factory, or the error
    for the first missing field, as the positional and general paths give them."""
    kwargs = {n: x for n, x in zip("abcd", v) if n in given_names}
    if "a" not in kwargs:
        with pytest.raises(TypeError, match="missing"):
            Plain(**kwargs)
        with pytest.raises(TypeError) as e:
            Rec(**kwargs)
        assert str(e.value) == "Rec.__init__() missing required argument: 'a'"
        return
    p, r = Plain(**kwargs), Rec(**kwargs)
    assert [getattr(r, n) for n in "abcde"] == [getattr(p, n) for n in "abcde"]
    assert r.d is not Rec(**kwargs).d or "d" in kwargs  # a new list from the factory each time


def test_a_value_that_is_dataclasses_missing_is_kept() -> None:
    for cls in (Plain, Rec):
        assert cls(a=1, b=dataclasses.MISSING).b is dataclasses.MISSING


@given(st.integers(), st.integers())
def test_hash_and_eq_with_one_or_no_compared_field_match_a_frozen_dataclass(a: int, b: int) -> None:
    for notes, compared in (({"a": "int"}, {}), ({"a": "int", "b": "int"}, {"b": field(default=0, compare=False)}),
                            ({}, {}), ({"a": "int"}, {"a": field(default=0, compare=False)})):
        body = {"__annotations__": notes, "__module__": __name__, **compared}
        p_cls: Any = dataclass(frozen=True)(type("P", (), dict(body)))
        r_cls: Any = record(type("R", (), dict(body)))
        args = (a, b)[:len(notes)]
        p, r = p_cls(*args), r_cls(*args)
        assert hash(r) == hash(p)
        assert (r == r_cls(*args)) is (p == p_cls(*args)) is True
        other = (a + 1, b + 1)[:len(notes)]
        assert (r == r_cls(*other)) is (p == p_cls(*other))
        assert r.__eq__(p) is NotImplemented


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


# ----------------------------------------------------------------------------- dataclass: methods on first use

from kamrules.core.record import dataclass as lazy_dataclass  # noqa: E402


def _ordered_body() -> dict[str, Any]:
    return {"__annotations__": {"a": "int", "b": "str", "c": "tuple[int, ...]", "e": "int"},
            "__module__": __name__, "b": "x", "c": field(default_factory=tuple),
            "e": field(default=7, init=False, compare=False, repr=False)}


# the same classes declared both ways, for every parameter combination kamrules uses
_OPTIONS = [dict(frozen=True), dict(frozen=True, order=True), dict(), dict(frozen=True, eq=False, repr=False),
            dict(eq=False)]
STD = [dataclass(**o)(type(f"Std{i}", (), _ordered_body())) for i, o in enumerate(_OPTIONS)]  # type: ignore[call-overload]
LAZY = [lazy_dataclass(**o)(type(f"Std{i}", (), _ordered_body())) for i, o in enumerate(_OPTIONS)]  # type: ignore[call-overload]
for _i, _c in enumerate(STD):
    globals()[f"Std{_i}"] = _c  # pickle finds the standard ones by name
for _i, _c in enumerate(LAZY):
    _c.__qualname__ = _c.__name__ = f"Lazy{_i}"
    globals()[f"Lazy{_i}"] = _c


def _same_outcome(f: Any, g: Any) -> Any:
    """Both calls return equal values or raise the same exception type and message."""
    try:
        want: Any = ("ok", f())
    except Exception as e:  # noqa: BLE001 - the comparison is the point
        want = ("raised", type(e), str(e).replace("Std", "X"))
    try:
        got: Any = ("ok", g())
    except Exception as e:  # noqa: BLE001
        got = ("raised", type(e), str(e).replace("Lazy", "X"))
    if want[0] == "ok" and got[0] == "ok":
        return want[1], got[1]
    assert got == want
    return None


ordered_values = st.tuples(st.integers(-3, 3), st.text(max_size=3), st.tuples(st.integers(-2, 2)))


@given(st.sampled_from(range(len(_OPTIONS))), ordered_values, ordered_values, st.integers(0, 3))
def test_dataclass_matches_the_standard_library(i: int, v: tuple[Any, ...], w: tuple[Any, ...], npos: int) -> None:
    std, lazy, opts = STD[i], LAZY[i], _OPTIONS[i]
    names = ("a", "b", "c")
    args, kwargs = v[:npos], dict(zip(names[npos:], v[npos:]))
    s, z = std(*args, **kwargs), lazy(*args, **kwargs)
    s2, z2 = std(*w), lazy(*w)
    assert [getattr(z, n) for n in (*names, "e")] == [getattr(s, n) for n in (*names, "e")]
    if opts.get("repr", True):
        assert repr(z).replace(f"Lazy{i}(", "X(") == repr(s).replace(f"Std{i}(", "X(")
    else:
        assert repr(z).startswith("<")
    assert (z == z2) == (s == s2) and (z != z2) == (s != s2) and (z == s) is False
    for op in ("__lt__", "__le__", "__gt__", "__ge__"):
        pair = _same_outcome(lambda: getattr(s, op)(s2), lambda: getattr(z, op)(z2))
        if pair is not None:
            assert pair[0] == pair[1]
    if opts.get("frozen") and opts.get("eq", True):
        assert hash(z) == hash(s)
    elif opts.get("eq", True):
        assert lazy.__hash__ is None and std.__hash__ is None
    else:
        assert hash(z) == object.__hash__(z)
    assert dataclasses.asdict(z) == dataclasses.asdict(s)
    assert dataclasses.replace(z, a=5).a == 5 and lazy.__match_args__ == std.__match_args__
    assert pickle.loads(pickle.dumps(z)).__dict__ == z.__dict__ and copy.deepcopy(z).__dict__ == z.__dict__
    assert {k: getattr(lazy.__dataclass_params__, k) for k in ("init", "repr", "eq", "order", "frozen")} == \
        {k: getattr(std.__dataclass_params__, k) for k in ("init", "repr", "eq", "order", "frozen")}


@pytest.mark.parametrize("i", range(len(_OPTIONS)))
def test_dataclass_errors_match_the_standard_library(i: int) -> None:
    std, lazy = STD[i], LAZY[i]
    for call in (lambda c: c(), lambda c: c(1, "b", (), 5), lambda c: c(1, z=2), lambda c: c(1, a=2),
                 lambda c: c(1, e=3)):
        _same_outcome(lambda: call(std), lambda: call(lazy))
    s, z = std(1), lazy(1)
    for change in (lambda o: setattr(o, "a", 2), lambda o: delattr(o, "a"), lambda o: setattr(o, "new", 1)):
        _same_outcome(lambda: change(s), lambda: change(z))


def test_dataclass_writes_each_method_when_first_called() -> None:
    @lazy_dataclass(frozen=True)
    class Late:
        a: int
        items: tuple[int, ...] = ()
        n: int = field(init=False, default=0)

        def __post_init__(self) -> None:
            object.__setattr__(self, "n", len(self.items))

    first = Late.__dict__["__init__"]
    assert Late(1).a == 1 and Late(1, (2, 3)).n == 2
    assert Late.__dict__["__init__"] is first  # built by the shared __init__ for the first few
    from kamrules.core import record as rec

    for _ in range(rec._WRITE_AFTER):
        assert Late(a=1, items=(1,)).n == 1
    assert Late.__dict__["__init__"] is not first  # then by its own, written
    assert Late(1, (2, 3)).n == 2 and Late(items=(1,), a=2).a == 2
    assert Late.__init__.__qualname__.endswith("Late.__init__") and Late.__doc__ == "Late(…)"
    assert repr(Late(1)) == "test_dataclass_writes_each_method_when_first_called.<locals>.Late(a=1, items=(), n=0)"


@pytest.mark.parametrize("i", range(len(_OPTIONS)))
def test_the_shared_init_builds_what_the_written_one_builds(i: int) -> None:
    """A class's first constructions (by the shared __init__) give what its later ones (by the one
    written for it) give: the same fields, set in the same order, the same values as the standard
    library's; a call the shared one does not take is answered by the written one, errors included."""
    from kamrules.core import record as rec

    # (a call, whether the shared one takes it: every call that binds)
    calls = [(lambda c: c(1), True), (lambda c: c(1, "x"), True), (lambda c: c(1, "x", (2,)), True),
             (lambda c: c(a=1), True), (lambda c: c(c=(3,), a=2), True), (lambda c: c(1, b="y"), True),
             (lambda c: c(), False), (lambda c: c(b="x"), False), (lambda c: c(1, a=2), False),
             (lambda c: c(1, z=0), False), (lambda c: c(1, "b", (), 5), False)]
    for call, taken in calls:
        shared = lazy_dataclass(**_OPTIONS[i])(type(f"Lazy{i}", (), _ordered_body()))  # type: ignore[call-overload]
        written = lazy_dataclass(**_OPTIONS[i])(type(f"Std{i}", (), _ordered_body()))  # type: ignore[call-overload]
        for _ in range(rec._WRITE_AFTER):
            written(1)
        first = shared.__dict__["__init__"]
        pair = _same_outcome(lambda: call(written), lambda: call(shared))
        if pair is not None:
            w, z = pair
            assert list(vars(z).items()) == list(vars(w).items())
            assert [getattr(z, n) for n in "abce"] == [getattr(call(STD[i]), n) for n in "abce"]
        assert (shared.__dict__["__init__"] is first) is taken  # else answered by the written one


def test_the_shared_init_sets_fields_in_field_order() -> None:
    """A field that is no argument, between two that are, is set between them, as the written
    __init__ sets it (the instance's __dict__ lists the fields in that order)."""
    from kamrules.core import record as rec

    def body() -> dict[str, Any]:
        return {"__annotations__": {"a": "int", "n": "list[int]", "m": "int", "b": "str"}, "__module__": __name__,
                "n": field(init=False, default_factory=list), "m": field(init=False, default=3), "b": "x"}

    shared, written = lazy_dataclass(frozen=True)(type("S", (), body())), lazy_dataclass(frozen=True)(type("S", (), body()))
    for _ in range(rec._WRITE_AFTER + 1):
        written(0)
    for args, kwargs in (((1,), {}), ((1, "y"), {}), ((), {"b": "z", "a": 2}), ((4,), {"b": "w"})):
        z, w = shared(*args, **kwargs), written(*args, **kwargs)
        assert list(vars(z).items()) == list(vars(w).items()) and list(vars(z)) == ["a", "n", "m", "b"]


def test_dataclass_leaves_what_it_does_not_write_to_the_standard_library() -> None:
    @lazy_dataclass(frozen=True)
    class Own:
        a: int

        def __eq__(self, other: object) -> bool:
            return True

    assert Own(1) == Own(2) and hash(Own(1)) == hash((1,))  # as dataclasses: its __eq__, a generated __hash__
    with pytest.raises(TypeError, match="non-default argument"):
        lazy_dataclass(type("Bad", (), {"__annotations__": {"a": "int", "b": "int"}, "a": 1}))


def _declared_classes() -> list[type]:
    """Every class of kamrules that @record or @dataclass (core/record.py) declared."""
    import importlib
    import pkgutil

    import kamrules

    out: list[type] = []
    for m in pkgutil.walk_packages(kamrules.__path__, "kamrules."):
        if m.name.startswith(("kamrules.history.migrations", "kamrules.cli", "kamrules.__main__")):
            continue
        mod = importlib.import_module(m.name)
        out += [c for c in vars(mod).values() if isinstance(c, type) and c.__module__ == mod.__name__
                and "__dataclass_fields__" in c.__dict__
                and not any(dataclasses.is_dataclass(b) for b in c.__mro__[1:])]  # those go to dataclasses
    return out


def _shape(c: type) -> tuple[Any, ...]:
    fields = tuple((f.name, f.type, f.default, f.default_factory, f.init, f.repr, f.hash, f.compare, dict(f.metadata),
                    f.kw_only, f._field_type)  # type: ignore[attr-defined]
                   for f in c.__dict__["__dataclass_fields__"].values())
    attrs = tuple((n, c.__dict__.get(n, "-")) for n in c.__dict__["__dataclass_fields__"])
    return fields, repr(c.__dict__["__dataclass_params__"]), c.__dict__.get("__match_args__"), attrs


def test_fields_made_directly_are_what_dataclasses_makes() -> None:
    """record._fields_only makes what dataclasses.dataclass(init=False, repr=False, eq=False) makes:
    compared on a class of the same annotations and fields as each class kamrules declares (in its
    module, where dataclasses looks a ClassVar up), and on classes it must leave to dataclasses."""
    from kamrules.core import record as rec

    classes = _declared_classes()
    assert len(classes) > 150
    for c in classes:
        notes = dict(c.__dict__.get("__annotations__", {}))
        body: dict[str, Any] = {"__annotations__": notes, "__module__": c.__module__, "__doc__": "d"}
        for f in dataclasses.fields(c):
            if f.default_factory is not dataclasses.MISSING or not (f.init and f.repr and f.compare and f.hash is None
                                                                     and not f.metadata):
                body[f.name] = field(default=f.default, default_factory=f.default_factory, init=f.init, repr=f.repr,
                                     hash=f.hash, compare=f.compare, metadata=f.metadata)
            elif f.default is not dataclasses.MISSING:
                body[f.name] = f.default
        one = rec._fields_only(type(c.__name__, (), dict(body)))
        two = dataclass(init=False, repr=False, eq=False)(type(c.__name__, (), dict(body)))
        assert _shape(one) == _shape(two), c.__qualname__
    odd: list[dict[str, Any]] = [{"__annotations__": {"a": "ClassVar[int]"}, "a": 1},
                                 {"__annotations__": {"a": "int", "b": "InitVar[int]"}},
                                 {"__annotations__": {"a": "list[int]"}, "a": []},
                                 {"__annotations__": {"a": int}}, {"__annotations__": {"a": "int"}, "__doc__": ""}]
    for extra in odd:
        body = {"__module__": __name__, "__doc__": "d", **extra}
        try:
            two = dataclass(init=False, repr=False, eq=False)(type("Odd", (), dict(body)))
        except ValueError:
            with pytest.raises(ValueError):
                rec._fields_only(type("Odd", (), dict(body)))
            continue
        assert _shape(rec._fields_only(type("Odd", (), dict(body)))) == _shape(two)


def test_positional_calls_fill_the_plain_defaults_as_dataclass_does() -> None:
    """A call by position that leaves the last fields to plain defaults takes record's short path
    (no questions per field): the values of a frozen dataclass, the instance dict
    of record's general path (in the same order), for every number of positional arguments, and
    the same errors around it."""
    body = {"__annotations__": {"a": "int", "b": "str", "c": "tuple[int, ...]", "e": "int"}, "__module__": __name__,
            "b": "x", "c": (), "e": field(default=7, init=False)}
    std: Any = dataclass(frozen=True)(type("Std", (), dict(body)))
    rec: Any = record(type("Std", (), dict(body)))
    for args in ((1,), (1, "y"), (1, "y", (2,))):
        fast, slow = rec(*args), rec(**dict(zip("abc", args)))  # by keyword: the general path
        assert [getattr(fast, n) for n in "abce"] == [getattr(std(*args), n) for n in "abce"]
        assert list(vars(fast).items()) == list(vars(slow).items())
    for bad in ((), (1, "y", (2,), 4)):
        with pytest.raises(TypeError):
            std(*bad)
        with pytest.raises(TypeError):
            rec(*bad)


def test_account_with_values_is_replace_of_its_values() -> None:
    """Account.with_values builds by position: every other field is kept, whichever fields the
    class has (each set here to a value unlike its default)."""
    import datetime as _dt

    from kamrules.core.errors import Location
    from kamrules.rulebook.model import Account

    given = {"id": "a1", "name": "A", "file": "f.csv", "values": {"revenue": 1.0},
             "locations": {"revenue": Location("f.csv", 2, 3)}, "as_of": _dt.date(2026, 6, 30)}
    assert set(given) == {f.name for f in dataclasses.fields(Account)}, "a new field: give it a value here"
    acc = Account(**given)
    new = {"revenue": 2.0, "orders": 3}
    assert acc.with_values(new) == dataclasses.replace(acc, values=new)
    assert all(getattr(acc.with_values(new), f.name) is getattr(acc, f.name)
               for f in dataclasses.fields(Account) if f.name != "values")
