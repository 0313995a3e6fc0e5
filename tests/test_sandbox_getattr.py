"""BoundedEnvironment.getattr answers a dict's keys and the playbook context's record fields
directly (language/sandbox.py, read_records): every answer is the one Jinja's own sandboxed
getattr gives, on the real context of the example account and on generated objects."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kamrules import pipeline
from kamrules.advice import contextmodel as cm
from kamrules.advice.context import context
from kamrules.advice.render import environment
from kamrules.core import textsafe
from kamrules.core.record import record
from kamrules.language import sandbox

# names a template might read: fields, dict methods safe and unsafe, dunders, private names
PROBES = ("sep", "title", "items", "keys", "get", "pop", "update", "clear", "setdefault", "copy", "values",
          "__class__", "__dict__", "__init__", "__len__", "mro", "_private", "nosuch", "format", "count", "index",
          "append", "__doc__", "fromkeys")


def _same(ours: Any, jinjas: Any) -> None:
    if isinstance(jinjas, Undefined):
        assert type(ours) is type(jinjas)
        for slot in ("_undefined_hint", "_undefined_name", "_undefined_exception"):
            assert getattr(ours, slot) == getattr(jinjas, slot), slot
        assert getattr(ours, "_undefined_obj") is getattr(jinjas, "_undefined_obj")
    elif callable(jinjas) and not isinstance(jinjas, type):
        assert type(ours) is type(jinjas)
        if getattr(jinjas, "__self__", None) is not None:
            assert ours == jinjas  # the same bound method
    else:
        assert ours is jinjas


def _reference(undefined: type[Undefined] = StrictUndefined) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(undefined=undefined)


def _objects(root: Any) -> list[Any]:
    """Every record, dict and list reachable from the context."""
    seen: dict[int, Any] = {}
    todo = [root]
    while todo:
        o = todo.pop()
        if id(o) in seen or isinstance(o, (str, int, float, type(None))):
            continue
        seen[id(o)] = o
        if type(o) in cm.TYPES:
            todo.extend(vars(o).values())
        elif isinstance(o, dict):
            todo.extend(o.values())
        elif isinstance(o, (list, tuple)):
            todo.extend(o)
    return list(seen.values())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_read_of_the_real_context_is_jinjas(lang: str) -> None:
    advice = pipeline.advise("examples/accounts/huaxin-steel.yaml", "course", as_of=dt.date(2026, 6, 30), lang=lang)
    ctx = textsafe.deep(context(advice), textsafe.markdown)
    ours, jinjas = environment(), _reference()
    fast = 0
    for obj in _objects(ctx):
        names = set(PROBES) | (set(vars(obj)) if type(obj) in cm.TYPES else set())
        if isinstance(obj, dict):
            names |= {k for k in obj if isinstance(k, str)}
        for name in sorted(names):
            _same(ours.getattr(obj, name), jinjas.getattr(obj, name))
            fast += type(obj) in cm.TYPES and name in vars(obj)
    assert fast > 500


@record(eq=False, repr=False)
class _Odd:
    """A record whose fields hold what the sandbox treats specially."""

    fmt: Any
    method: Any
    _hidden: Any
    plain: Any


@record(eq=False, repr=False)
class _Unregistered:
    plain: Any


def test_values_the_sandbox_wraps_or_refuses_still_go_through_it() -> None:
    ours, jinjas = environment(), _reference()
    ours.read_records([_Odd])
    odd = _Odd("{0.__class__}".format, [].append, "secret", "x")
    for name in ("fmt", "method", "_hidden", "plain", "nosuch", "__class__", "__init__"):
        _same(ours.getattr(odd, name), jinjas.getattr(odd, name))
    # str.format is handed out wrapped by the sandbox: its own formatter refuses the dunder
    with pytest.raises(Exception) as e:
        ours.getattr(odd, "fmt")(odd)
    assert "unsafe" in str(e.value) or "__class__" in str(e.value)
    _same(ours.getattr(_Unregistered(1), "plain"), jinjas.getattr(_Unregistered(1), "plain"))


def test_a_record_of_a_kind_the_sandbox_judges_by_class_is_left_to_it() -> None:
    import collections.abc

    @record(eq=False, repr=False)
    class Mapping(collections.abc.MutableMapping):  # type: ignore[type-arg]
        pop: Any

        def __getitem__(self, k: Any) -> Any:
            raise KeyError(k)

        def __setitem__(self, k: Any, v: Any) -> None: ...

        def __delitem__(self, k: Any) -> None: ...

        def __iter__(self) -> Any:
            return iter(())

        def __len__(self) -> int:
            return 0

    ours, jinjas = environment(), _reference()
    ours.read_records([Mapping])
    m = Mapping(1)
    _same(ours.getattr(m, "pop"), jinjas.getattr(m, "pop"))
    assert isinstance(ours.getattr(m, "pop"), Undefined)  # modifies a known mutable: refused


def test_dict_attributes_are_what_a_dict_answers() -> None:
    names = set(PROBES) | set(dir(object)) | set(dir(type)) | {"__dict__", "__weakref__", "__slots__", "x"}
    for name in names:
        assert (name in sandbox._DICT_ATTRIBUTES) == hasattr({}, name), name


KEYS = st.sampled_from(PROBES) | st.text(max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, st.one_of(st.integers(), st.text(max_size=3), st.none())), KEYS,
       st.sampled_from([StrictUndefined, Undefined]))
def test_dict_reads_are_jinjas(d: dict[str, Any], name: str, undefined: type[Undefined]) -> None:
    ours = sandbox.BoundedEnvironment(limits=sandbox.PLAYBOOK, undefined=undefined)
    _same(ours.getattr(d, name), _reference(undefined).getattr(d, name))


def test_templates_read_the_same_through_both() -> None:
    source = ("{{ d.sep }}|{{ d.items()|list|length }}|{{ d.nosuch is defined }}|{{ r.plain }}|{{ r.nosuch is defined }}"
              "|{{ d.pop is defined }}")
    ours = sandbox.BoundedEnvironment(limits=sandbox.PLAYBOOK, undefined=Undefined)
    ours.read_records([_Unregistered])
    given = {"d": {"sep": ":", "x": 1}, "r": _Unregistered("p")}
    assert ours.from_string(source).render(given) == _reference(Undefined).from_string(source).render(given)
