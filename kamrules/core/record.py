"""Frozen records: dataclasses that cost nothing to declare.

`@dataclass(frozen=True)` writes the source of `__init__`, `__setattr__`, `__delattr__`,
`__eq__`, `__hash__` and `__repr__` for every class and compiles each with `exec` — about a
millisecond per class. kamrules declares ~100 frozen classes that every `advise` imports (the
rulebook model, the grammar, the IR, the playbook context), which made class creation a third
of a warm start (docs/performance.md). `@record` declares the same dataclass (fields,
`dataclasses.fields/replace/asdict`, `__match_args__`, pickling, FrozenInstanceError on
assignment) with shared methods instead of generated ones.

The shared methods are slower per call than generated ones, so hot per-account classes
(findings, matches, facts) stay plain dataclasses; a record is for classes built once per run
or read from the cache (unpickling calls no `__init__`)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda f: f

T = TypeVar("T")
_MISSING = dataclasses.MISSING


def _frozen_setattr(self: object, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _make_init(cls: type) -> Callable[..., None]:
    fields = dataclasses.fields(cls)
    init = tuple((f.name, f.default, f.default_factory) for f in fields if f.init)
    names = {name for name, _, _ in init}
    later = tuple((f.name, f.default, f.default_factory) for f in fields
                  if not f.init and (f.default is not _MISSING or f.default_factory is not _MISSING))
    post = hasattr(cls, "__post_init__")
    qual = cls.__qualname__
    set_ = object.__setattr__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(init):
            raise TypeError(f"{qual}.__init__() takes {len(init)} positional arguments but {len(args)} were given")
        for key in kwargs:
            if key not in names:
                raise TypeError(f"{qual}.__init__() got an unexpected keyword argument {key!r}")
        for i, (name, default, factory) in enumerate(init):
            if i < len(args):
                if name in kwargs:
                    raise TypeError(f"{qual}.__init__() got multiple values for argument {name!r}")
                value = args[i]
            elif name in kwargs:
                value = kwargs[name]
            elif default is not _MISSING:
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


def _compared(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.compare)


def _add_eq(cls: type) -> None:
    names = _compared(cls)

    def key(obj: Any) -> tuple[Any, ...]:
        return tuple(getattr(obj, n) for n in names)

    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(key(self))

    cls.__eq__ = __eq__  # type: ignore[method-assign,assignment]
    cls.__hash__ = __hash__  # type: ignore[method-assign,assignment]


def _add_repr(cls: type) -> None:
    names = tuple(f.name for f in dataclasses.fields(cls) if f.repr)

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
        c = dataclasses.dataclass(c, init=False, repr=False, eq=False, frozen=False)
        if any(f.kw_only for f in dataclasses.fields(c)):  # type: ignore[arg-type]
            raise TypeError(f"@record {c.__qualname__}: keyword-only fields are not supported")
        c.__init__ = _make_init(c)  # type: ignore[method-assign]
        c.__setattr__ = _frozen_setattr  # type: ignore[method-assign]
        c.__delattr__ = _frozen_delattr  # type: ignore[method-assign]
        if eq:
            _add_eq(c)
        else:
            c.__hash__ = object.__hash__  # type: ignore[method-assign]
        if repr:
            _add_repr(c)
        # what the class is, for whoever asks dataclasses (the context docs test, say)
        params = c.__dataclass_params__  # type: ignore[attr-defined]
        params.init, params.repr, params.eq, params.frozen = True, repr, eq, True
        return c

    return wrap if cls is None else wrap(cls)
