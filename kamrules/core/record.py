"""Frozen records: dataclasses that cost nothing to declare.

`@dataclass(frozen=True)` writes the source of `__init__`, `__setattr__`, `__delattr__`,
`__eq__`, `__hash__` and `__repr__` for every class and compiles each with `exec` — about a
millisecond per class. kamrules declares ~100 frozen classes that every `advise` imports (the
rulebook model, the grammar, the IR, the playbook context), which made class creation a third
of a warm start (docs/performance.md). `@record` declares the same dataclass (fields,
`dataclasses.fields/replace/asdict`, `__match_args__`, pickling, FrozenInstanceError on
assignment) with shared methods instead of generated ones.

The shared methods are slower per call than generated ones, so hot per-account classes
(findings, matches, facts) stay generated; a record is for classes built once per run or read
from the cache (unpickling calls no `__init__`).

`dataclass` below is for those hot classes: `dataclasses.dataclass` whose methods are generated
as fast as the standard library's, but each when it is first needed (a `__repr__` on its first
call, none for one nobody asks for; the `__init__` after the class's first constructions, which a
shared one makes: _shared_init), instead of six `exec`s per class at import (~50 ms of every cold
start for the ~45 classes an `advise` imports)."""

from __future__ import annotations

import abc
import dataclasses
import reprlib
import types
from functools import partial
from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda f: f

T = TypeVar("T")
_MISSING = dataclasses.MISSING
_ABSENT = object()  # a keyword argument not given (any value, MISSING too, may be given)
_MEMBER = types.MemberDescriptorType


def _frozen_setattr(self: object, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


# `dataclasses.dataclass(c, init=False, repr=False, eq=False)` with nothing to write still checks
# each string annotation against a regex and looks it up to see whether it names ClassVar or
# InitVar, then init order and abstract methods: ~38,000 instructions a class more than what is
# made here (callgrind), ~5 M of every start for the ~140 classes an advise declares. What it
# leaves on a class of plain fields is made here directly; a class with anything else goes to it.
# (Most of a record class's cost is elsewhere: CPython's type creation, and each dunder method set
# on the class afterwards: docs/performance.md, "Empty cache, a fourth session".)
_FIELD = dataclasses._FIELD  # type: ignore[attr-defined]  # what dataclasses.fields() lists
_NOT_PLAIN = ("ClassVar", "InitVar", "KW_ONLY")


@dataclasses.dataclass(init=False, repr=False, eq=False)
class _ParamsOf:
    """A docstring, so dataclasses does not write one from `inspect.signature(cls)`: that
    tokenizes `object.__init__`'s text signature, and compiling `tokenize`'s regex is ~6 ms of
    every start."""


_PARAMS_TYPE = type(_ParamsOf.__dataclass_params__)  # type: ignore[attr-defined]
_PARAM_SLOTS = tuple(_PARAMS_TYPE.__slots__)
_PARAMS = tuple(getattr(_ParamsOf.__dataclass_params__, n) for n in _PARAM_SLOTS)  # type: ignore[attr-defined]


# The two questions below were generator expressions asked of every annotation and every class
# attribute: ~46,000 instructions a class (callgrind), ~6 M of every start. The same answers from
# C loops (join, set difference, map).
def _plain_notes(notes: dict[str, Any]) -> bool:
    """Every annotation a string naming no ClassVar, InitVar or KW_ONLY (no such word in any one:
    joined with a NUL, which none of the words holds, a word is found only inside one)."""
    if not set(map(type, notes.values())) <= {str}:
        return False
    text = "\0".join(notes.values())
    return not any(w in text for w in _NOT_PLAIN)


def _unannotated_field(c: type, notes: dict[str, Any]) -> bool:
    """A dataclasses.Field in the class without an annotation of its name (dataclasses refuses it)."""
    ns = c.__dict__
    return any(map(isinstance, map(ns.__getitem__, ns.keys() - notes.keys()), repeat(dataclasses.Field)))


def _fields_only(c: type) -> type:
    """What `dataclasses.dataclass(c, init=False, repr=False, eq=False, frozen=False)` makes of a
    class without dataclass bases: `__dataclass_fields__`, `__dataclass_params__`, `__match_args__`,
    class attributes holding the defaults. Every annotation must be a string (the modules use
    `from __future__ import annotations`) that names no ClassVar, InitVar or KW_ONLY, the class no
    ABC; otherwise, or for anything else dataclasses would refuse, dataclasses.dataclass does it
    (tests/test_record.py compares both on every class kamrules declares)."""
    notes = c.__dict__.get("__annotations__", {})
    if not c.__doc__ or isinstance(c, abc.ABCMeta) or not _plain_notes(notes) or _unannotated_field(c, notes):
        return dataclasses.dataclass(c, init=False, repr=False, eq=False, frozen=False)
    fields: dict[str, dataclasses.Field[Any]] = {}
    for name, note in notes.items():
        default: Any = getattr(c, name, _MISSING)
        if isinstance(default, dataclasses.Field):
            f = default
        elif isinstance(default, _MEMBER):
            return dataclasses.dataclass(c, init=False, repr=False, eq=False, frozen=False)  # slots
        else:
            f = dataclasses.field(default=default)  # MISSING for a field without one, as dataclasses does
        if f.default.__class__.__hash__ is None or f.kw_only is True:  # a mutable default, or kw_only=True
            return dataclasses.dataclass(c, init=False, repr=False, eq=False, frozen=False)  # (which raises)
        f.name, f.type, f._field_type = name, note, _FIELD  # type: ignore[attr-defined]
        if f.kw_only is _MISSING:
            f.kw_only = False
        fields[name] = f
    for name, f in fields.items():
        if isinstance(getattr(c, name, None), dataclasses.Field):
            if f.default is _MISSING:
                delattr(c, name)
            else:
                setattr(c, name, f.default)
    params = object.__new__(_PARAMS_TYPE)
    for slot, value in zip(_PARAM_SLOTS, _PARAMS):
        setattr(params, slot, value)
    setattr(c, "__dataclass_params__", params)
    setattr(c, "__dataclass_fields__", fields)
    if "__match_args__" not in c.__dict__:
        setattr(c, "__match_args__", tuple(n for n, f in fields.items() if f.init))
    return c


def _make_init(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    init = tuple((f.name, f.default, f.default_factory) for f in fields if f.init)
    names = {name for name, _, _ in init}
    later = tuple((f.name, f.default, f.default_factory) for f in fields
                  if not f.init and (f.default is not _MISSING or f.default_factory is not _MISSING))
    post = hasattr(cls, "__post_init__")
    qual = cls.__qualname__
    set_ = object.__setattr__
    # The usual call gives the first fields by position and leaves the rest to plain defaults:
    # those values are set in field order without the general loop's questions per field.
    # (Not through the instance's __dict__ at once: that makes CPython give the instance a real
    # dict, and every later attribute read of it is slower: +9 M instructions in an advise.)
    order = tuple(name for name, _, _ in init)
    first = len(init)  # the fields from here on have plain defaults (no factory)
    while first and init[first - 1][1] is not _MISSING:
        first -= 1
    tail = tuple(default for _, default, _ in init[first:])
    whole = len(init)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        n = len(args)
        if not kwargs and first <= n <= whole:
            for name, value in zip(order, args if n == whole else args + tail[n - first:]):
                set_(self, name, value)
        else:
            # Any other call, the other usual one among them: every field by name (a rule, a
            # message). Each field's keyword is looked up once (a value given as MISSING is still a
            # value), and the names are checked at once in C, not one by one: ~27,000 instructions
            # less for a rule of 23 fields (callgrind). The errors are dataclasses' own, in its order.
            if n > whole:
                raise TypeError(f"{qual}.__init__() takes {whole} positional arguments but {n} were given")
            if not names.issuperset(kwargs):
                key = next(k for k in kwargs if k not in names)
                raise TypeError(f"{qual}.__init__() got an unexpected keyword argument {key!r}")
            get = kwargs.get
            for i, (name, default, factory) in enumerate(init):
                value = get(name, _ABSENT)
                if i < n:
                    if value is not _ABSENT:
                        raise TypeError(f"{qual}.__init__() got multiple values for argument {name!r}")
                    value = args[i]
                elif value is _ABSENT:
                    if default is not _MISSING:
                        value = default
                    elif factory is not _MISSING:
                        value = factory()
                    else:
                        raise TypeError(f"{qual}.__init__() missing required argument: {name!r}")
                set_(self, name, value)
        for name, default, factory in later:
            set_(self, name, default if default is not _MISSING else factory())  # type: ignore[operator]
        if post:
            self.__post_init__()

    __init__.__qualname__ = f"{qual}.__init__"
    return __init__


def _add_eq(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> None:
    names = tuple(f.name for f in fields if f.compare)
    # the compared fields as a tuple, read in C (attrgetter of two or more names gives the tuple;
    # of one, the value): a generator of getattr calls was ~2,000 instructions a call more, and an
    # uncached advise hashes and compares IR records ~850 times (callgrind)
    key: Callable[[Any], tuple[Any, ...]]
    if len(names) > 1:
        key = attrgetter(*names)
    elif names:
        one = attrgetter(names[0])

        def key(obj: Any) -> tuple[Any, ...]:
            return (one(obj),)
    else:
        def key(obj: Any) -> tuple[Any, ...]:
            return ()

    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(key(self))

    cls.__eq__ = __eq__  # type: ignore[method-assign,assignment]
    cls.__hash__ = __hash__  # type: ignore[method-assign,assignment]


def _add_repr(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> None:
    names = tuple(f.name for f in fields if f.repr)

    def __repr__(self: Any) -> str:
        return f"{self.__class__.__qualname__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in names) + ")"

    cls.__repr__ = __repr__  # type: ignore[method-assign,assignment]


@overload
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(*, eq: bool = True, repr: bool = True) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: Any = None, /, *, eq: bool = True, repr: bool = True) -> Any:
    """`@dataclass(frozen=True, eq=eq, repr=repr)` without generated code (module docstring)."""

    def wrap(c: type[T]) -> type[T]:
        for name in ("__init__", "__setattr__", "__delattr__", "__eq__", "__hash__", "__repr__"):
            if name in c.__dict__:
                raise TypeError(f"@record {c.__qualname__} defines {name}: use a plain dataclass")
        if any(dataclasses.is_dataclass(b) for b in c.__mro__[1:]):
            raise TypeError(f"@record {c.__qualname__} inherits from a dataclass: records do not inherit fields")
        if c.__doc__ is None:  # what dataclass would write, without inspect.signature's cost
            c.__doc__ = f"{c.__name__}(…)"
        c = _fields_only(c)
        fields = dataclasses.fields(c)  # type: ignore[arg-type]  # once: each call is ~10,000 instructions
        if any(f.kw_only for f in fields):
            raise TypeError(f"@record {c.__qualname__}: keyword-only fields are not supported")
        c.__init__ = _make_init(c, fields)  # type: ignore[method-assign]
        c.__setattr__ = _frozen_setattr  # type: ignore[method-assign]
        c.__delattr__ = _frozen_delattr  # type: ignore[method-assign]
        if eq:
            _add_eq(c, fields)
        else:
            c.__hash__ = object.__hash__  # type: ignore[method-assign]
        if repr:
            _add_repr(c, fields)
        # what the class is, for whoever asks dataclasses (the context docs test, say)
        params = c.__dataclass_params__  # type: ignore[attr-defined]
        params.init, params.repr, params.eq, params.frozen = True, repr, eq, True
        return c

    return wrap if cls is None else wrap(cls)


# --------------------------------------------------------------------------- generated on first use

# what `dataclass` below writes; a class that defines one itself goes to dataclasses.dataclass
_WRITTEN = ("__init__", "__repr__", "__eq__", "__hash__", "__lt__", "__le__", "__gt__", "__ge__",
            "__setattr__", "__delattr__")
_HAS_FACTORY = object()  # the default of an argument whose field has a default_factory


def _standard(c: type) -> bool:
    """Whether `dataclass` must leave the class to dataclasses.dataclass: what it does not write
    the same way (InitVar, KW_ONLY, keyword-only fields, slots, dataclass bases, own methods)."""
    notes = c.__dict__.get("__annotations__", {})
    return (any(n in c.__dict__ for n in _WRITTEN) or "__slots__" in c.__dict__
            or any(dataclasses.is_dataclass(b) for b in c.__mro__[1:])
            or any("InitVar" in str(t) or "KW_ONLY" in str(t) for t in notes.values())
            or any(isinstance(v, dataclasses.Field) and v.kw_only is True for v in c.__dict__.values()))


def _compile(cls: type, name: str, src: str, env: dict[str, Any]) -> Any:
    exec(src, env)  # noqa: S102 - source built here from the field names of a class (never from input)
    fn = env[name]
    fn.__qualname__ = f"{cls.__qualname__}.{name}"
    return fn


def _init_src(cls: type, frozen: bool) -> tuple[str, dict[str, Any]]:
    fields = dataclasses.fields(cls)
    env: dict[str, Any] = {"__kr_set": object.__setattr__, "__kr_HAS_FACTORY": _HAS_FACTORY}
    params, body = ["__kr_self"], []
    for f in fields:
        if f.default is not _MISSING:
            env[f"__kr_d_{f.name}"] = f.default
        elif f.default_factory is not _MISSING:
            env[f"__kr_f_{f.name}"] = f.default_factory
        if f.init:
            if f.default is not _MISSING:
                params.append(f"{f.name}=__kr_d_{f.name}")
                value = f.name
            elif f.default_factory is not _MISSING:
                params.append(f"{f.name}=__kr_HAS_FACTORY")
                value = f"__kr_f_{f.name}() if {f.name} is __kr_HAS_FACTORY else {f.name}"
            else:
                params.append(f.name)
                value = f.name
        elif f.default is not _MISSING:
            value = f"__kr_d_{f.name}"
        elif f.default_factory is not _MISSING:
            value = f"__kr_f_{f.name}()"
        else:
            continue  # init=False without a default: not set, as dataclasses does
        body.append(f"__kr_set(__kr_self, {f.name!r}, {value})" if frozen else f"__kr_self.{f.name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("__kr_self.__post_init__()")
    return f"def __init__({', '.join(params)}):\n " + "\n ".join(body or ["pass"]) + "\n", env


# A generated dataclass is built by a shared __init__ for its first _WRITE_AFTER constructions, and
# its own __init__ is written after them: writing one compiles its source, ~0.7 M instructions (an
# uncached advise wrote 35, 23 M of the run, callgrind), for classes a run mostly builds a few
# times, while the shared one costs ~5,000 instructions a call more; a portfolio's per-account
# classes are written after their first accounts. The shared one sets the same fields to the same
# values in the same order (field order, as the written one does) and calls __post_init__; a call
# it does not take — an argument missing, extra or given twice — writes the class's own at once,
# which answers it, its errors included (it checks its arguments before any default factory runs,
# so the shared one checks them all first too).
_WRITE_AFTER = 64
_REQUIRED, _DEFAULT, _FACTORY, _LATER_DEFAULT, _LATER_FACTORY = range(5)


def _shared_init(c: type, frozen: bool) -> None:
    plan: list[Any] = []  # [0]: made by the first call, which reads c's fields then (as _init_src does)

    def write() -> Callable[..., None]:
        real: Callable[..., None] = _compile(c, "__init__", *_init_src(c, frozen))
        type.__setattr__(c, "__init__", real)
        return real

    def make_plan() -> None:
        steps = []
        for f in dataclasses.fields(c):
            if f.init:
                kind = _DEFAULT if f.default is not _MISSING else _FACTORY if f.default_factory is not _MISSING \
                    else _REQUIRED
            elif f.default is not _MISSING:
                kind = _LATER_DEFAULT
            elif f.default_factory is not _MISSING:
                kind = _LATER_FACTORY
            else:
                continue  # init=False without a default: not set, as dataclasses does
            steps.append((f.name, kind, f.default, f.default_factory))
        init = [(name, kind) for name, kind, _, _ in steps if kind <= _FACTORY]
        order = tuple(n for n, _ in init)
        # for each count of positions given: the fields they name, and the required ones after them
        given = tuple(frozenset(order[:k]) for k in range(len(order) + 1))
        later = tuple(frozenset(n for n, kind in init[k:] if kind == _REQUIRED) for k in range(len(order) + 1))
        plan.append((tuple(steps), len(order), frozenset(order), given, later, hasattr(c, "__post_init__"),
                     object.__setattr__ if frozen else setattr, [0]))

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if not plan:
            make_plan()
        steps, whole, names, given, later, post, set_, count = plan[0]
        count[0] += 1
        n = len(args)
        # taken: no more positions than fields, keywords that name fields no position gave, and
        # every required field given one way or the other
        if count[0] > _WRITE_AFTER or n > whole or not later[n].issubset(kwargs) or kwargs and not (
                names.issuperset(kwargs) and given[n].isdisjoint(kwargs)):
            write()(self, *args, **kwargs)
            return
        i = 0
        for name, kind, default, factory in steps:
            if kind <= _FACTORY:  # an argument
                if i < n:
                    value = args[i]
                elif kwargs and name in kwargs:
                    value = kwargs[name]
                else:
                    value = default if kind == _DEFAULT else factory()  # never _REQUIRED here
                i += 1
            else:
                value = default if kind == _LATER_DEFAULT else factory()
            set_(self, name, value)
        if post:
            self.__post_init__()

    __init__.__qualname__ = f"{c.__qualname__}.__init__"
    type.__setattr__(c, "__init__", __init__)


def _attrs(names: tuple[str, ...], obj: str) -> str:
    return "(" + "".join(f"{obj}.{n}," for n in names) + ")"


def _lazy(cls: type, name: str, make: Callable[[], Any]) -> None:
    """`cls.name` is written by `make` when it is first called."""
    def first(self: Any, *args: Any, **kwargs: Any) -> Any:
        real = make()
        type.__setattr__(cls, name, real)
        return real(self, *args, **kwargs)

    first.__qualname__ = f"{cls.__qualname__}.{name}"
    type.__setattr__(cls, name, first)


# A method's source is written when the method is first called, as it is compiled then: most
# classes are never printed, compared or hashed, and writing the three sources of each of the ~46
# classes an advise declares was ~2 M instructions (callgrind).
def _maker(cls: type, name: str, src: Callable[[], str], *, recursive: bool = False) -> Callable[[], Any]:
    if recursive:  # a repr that meets itself writes "...", as dataclasses' does
        return lambda: reprlib.recursive_repr("...")(_compile(cls, name, src(), {}))
    return lambda: _compile(cls, name, src(), {})


def _repr_src(shown: tuple[str, ...]) -> str:
    return ("def __repr__(self):\n return self.__class__.__qualname__ + f\"("
            + ", ".join(f"{n}={{self.{n}!r}}" for n in shown) + ")\"\n")


def _compare_src(name: str, op: str, compared: tuple[str, ...]) -> str:
    return (f"def {name}(self, other):\n if other.__class__ is self.__class__:\n"
            f"  return {_attrs(compared, 'self')} {op} {_attrs(compared, 'other')}\n return NotImplemented\n")


def _hash_src(hashed: tuple[str, ...]) -> str:
    return f"def __hash__(self):\n return hash({_attrs(hashed, 'self')})\n"


def _frozen(cls: Any, names: frozenset[str]) -> None:
    """dataclasses' frozen __setattr__/__delattr__, as closures (no code to generate)."""
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    type.__setattr__(cls, "__setattr__", __setattr__)
    type.__setattr__(cls, "__delattr__", __delattr__)


def _generated(c: type, init: bool, repr: bool, eq: bool, order: bool, frozen: bool) -> type:
    if order and not eq:
        raise ValueError("eq must be true if order is true")
    if c.__doc__ is None:  # what dataclass would write, without inspect.signature's cost
        c.__doc__ = f"{c.__name__}(…)"
    c = _fields_only(c)  # fields only: no exec
    fields = dataclasses.fields(c)
    if init:
        seen_default = None
        for f in fields:
            if f.init and (f.default is not _MISSING or f.default_factory is not _MISSING):
                seen_default = f.name
            elif f.init and seen_default is not None:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
        _shared_init(c, frozen)
    if repr:
        shown = tuple(f.name for f in fields if f.repr)
        _lazy(c, "__repr__", _maker(c, "__repr__", partial(_repr_src, shown), recursive=True))
    compared = tuple(f.name for f in fields if f.compare)
    if eq:
        ops = [("__eq__", "==")] + ([("__lt__", "<"), ("__le__", "<="), ("__gt__", ">"), ("__ge__", ">=")]
                                   if order else [])
        for name, op in ops:
            _lazy(c, name, _maker(c, name, partial(_compare_src, name, op, compared)))
        if frozen:
            hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
            _lazy(c, "__hash__", _maker(c, "__hash__", partial(_hash_src, hashed)))
        else:
            c.__hash__ = None  # type: ignore[assignment]  # as dataclasses: mutable and compared by value
    if frozen:
        _frozen(c, frozenset(f.name for f in fields))
    params = c.__dataclass_params__  # type: ignore[attr-defined]
    params.init, params.repr, params.eq, params.order, params.frozen = init, repr, eq, order, frozen
    return c


@overload
def dataclass(cls: type[T], /) -> type[T]: ...
@overload
def dataclass(*, init: bool = True, repr: bool = True, eq: bool = True, order: bool = False,
              frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def dataclass(cls: Any = None, /, *, init: bool = True, repr: bool = True, eq: bool = True, order: bool = False,
              frozen: bool = False) -> Any:
    """`dataclasses.dataclass` with these parameters, its methods generated on first use (module
    docstring); a class it would not write the same way is left to dataclasses.dataclass."""

    def wrap(c: type[T]) -> type[T]:
        if _standard(c):
            return dataclasses.dataclass(c, init=init, repr=repr, eq=eq, order=order, frozen=frozen)
        return _generated(c, init, repr, eq, order, frozen)

    return wrap if cls is None else wrap(cls)
