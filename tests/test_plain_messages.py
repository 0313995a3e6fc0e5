"""A plain message (text and `{{ name.attr|filter(literal) }}` outputs) is rendered without Jinja
(language/messages.plain_message): the result, or the exception and its text, is exactly what the
code Jinja compiles for the message gives — on every message of the course, for several accounts
in both languages, and on generated messages with hostile values, undefined names and values past
the sandbox's limits."""
from __future__ import annotations

import datetime as dt
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules import pipeline
from kamrules.advice import resolve
from kamrules.language.intervals import Interval
from kamrules.language.messages import PlainMessage, make_env, plain_message
from kamrules.language.sandbox import LimitExceeded

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 6, 30)
ACCOUNTS = ("huaxin-steel", "minimal", "valdorf-suzhou", "hengtai-petrochem")


def _outcome(render: Any) -> Any:
    try:
        return ("ok", render())
    except Exception as e:  # noqa: BLE001 - both paths must fail alike, with the same text
        return ("raised", type(e), str(e))


def _same(messages: resolve._Messages, text: str, variables: dict[str, Any]) -> bool:
    """Whether the message is plain; if it is, both paths agree on it."""
    fast = plain_message(text, messages.env)
    if fast is None:
        return False
    assert _outcome(lambda: fast.render(messages.env, variables)) == \
        _outcome(lambda: messages.render_jinja(text, variables)), text
    return True


@cache
def _advice(name: str, lang: str) -> Any:
    return pipeline.advise(str(ROOT / "examples" / "accounts" / f"{name}.yaml"), "course", as_of=AS_OF, lang=lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("account", ACCOUNTS)
def test_every_course_message(account: str, lang: str) -> None:
    advice = _advice(account, lang)
    book = advice.book
    messages = resolve._Messages(book, lang)
    variables = messages.variables(resolve.message_context(book, advice.facts, advice.env))
    plain = total = 0
    for r in book.rules:
        for msg in (r.warn, r.recommend):
            if msg is None:
                continue
            for text in (msg.message.get(lang), msg.remedy.get(lang)):
                if text:
                    total += 1
                    plain += _same(messages, text, variables)
    assert total > 200 and plain > 0.75 * total  # most messages are plain: the fast path is the usual one


def test_a_finding_reads_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """The findings of an account, with the plain path and with every message through Jinja."""
    fast = _advice("huaxin-steel", "zh").findings
    assert any(isinstance(how, tuple) for codes in resolve._CODES.values() for how in codes.values())
    monkeypatch.setattr(resolve, "plain_message", lambda text, env: None)
    monkeypatch.setenv("KAMRULES_NO_CACHE", "1")  # nothing stored in this process or on disk is reused
    for table in ("_RENDERERS", "_CODES", "_STORED"):
        monkeypatch.setattr(resolve, table, {})
    slow = pipeline.advise(str(ROOT / "examples" / "accounts" / "huaxin-steel.yaml"), "course", as_of=AS_OF,
                           lang="zh").findings
    assert not any(isinstance(how, tuple) for codes in resolve._CODES.values() for how in codes.values())
    assert fast == slow and len(fast) > 10


def test_what_is_not_plain_goes_to_jinja() -> None:
    env = make_env("en")
    for text in ("{% if x %}a{% endif %}", "{{ x if y else z }}", "{{ x[0] }}", "{{ x._y }}", "{{ x|join(', ') }}",
                 "{{ x|replace('a', 'b') }}", "{{ true }}", "{{ loop }}", "{{- x }}", "a { b", "{# c #}",
                 "{{ x|round(007) }}", "{{ x|nofilter }}", "{{ x|round(precision=1) }}", "{{ 名 }}", "{{ x + 1 }}",
                 "{{ x|default('a\nb') }}"):
        assert plain_message(text, env) is None, text
    m = plain_message("a {{ final|label }} {{ c.role|label|upper }} {{ x|upper|label }} {{ y|label() }}\r\n", env)
    assert isinstance(m, PlainMessage) and m.static == 5
    assert [p[2] for p in m.pieces if not isinstance(p, str)] == [
        (("label", ("final",)),), (("label", ("c.role",)), ("upper", ())), (("upper", ()), ("label", ())),
        (("label", ()),)]


# ----------------------------------------------------------------------------- generated messages

NAMES = ("revenue", "discount", "tier", "account", "params", "text", "big", "nothing", "undeclared", "items", "day")
ATTRS = ("", ".name", ".id", ".max_discount", ".missing", ".items", ".upper", ".real", ".lo")
FILTERS = ("", "|pct", "|money", "|num", "|pp", "|days", "|date", "|label", "|label('tier')", "|upper", "|lower",
           "|round(1)", "|round(2, 'floor')", "|round(-1.5)", "|default('—')", "|length", "|string", "|trim",
           "|center(20)", "|center(99999999)", "|int", "|float", "|abs", "|e", "|format(3)", "|indent(2)",
           "|filesizeformat", "|urlencode", "|striptags", "|safe",
           "|wordcount", "|title", "|capitalize")
STATIC = st.sampled_from(("折扣 ", "over ", "", " and ", "\n", "\r\n", "，", "\u202e", "\x1b[31m", "| # ", "%s", "*"))
VALUES = st.one_of(
    st.none(), st.integers(-10 ** 20, 10 ** 20), st.floats(allow_nan=True), st.sampled_from((math.inf, -0.0, 0.005)),
    st.text(max_size=8), st.sampled_from(("high", "medium", "a" * 250_000, "\x1b]0;x\x07", "<b>", "{{ x }}")),
    st.builds(Interval, st.floats(-1e6, 0), st.floats(0, 1e6)), st.just(dt.date(2026, 6, 30)),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.sampled_from(("name", "id", "lo")), st.text(max_size=4)))


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.one_of(STATIC, st.tuples(st.sampled_from(NAMES), st.sampled_from(ATTRS),
                                                   st.lists(st.sampled_from(FILTERS), max_size=3))), max_size=6),
       values=st.dictionaries(st.sampled_from(NAMES[:-2]), VALUES), lang=st.sampled_from(("zh", "en")),
       newline=st.booleans())
def test_generated_messages(pieces: list[Any], values: dict[str, Any], lang: str, newline: bool) -> None:
    text = "".join(p if isinstance(p, str) else "{{ " + p[0] + p[1] + "".join(p[2]) + " }}" for p in pieces)
    text += "\n" if newline else ""
    messages = _messages(lang)
    variables = messages.variables({"account": {"id": "A-1", "name": "华鑫"}, "params": {"max_discount": 0.1},
                                    **values})
    assert _same(messages, text, variables)  # every generated message is plain


@cache
def _messages(lang: str) -> resolve._Messages:
    return resolve._Messages(_advice("huaxin-steel", lang).book, lang)


def test_the_output_limit_holds_on_the_plain_path() -> None:
    messages = _messages("en")
    variables = messages.variables({"big": "x" * 250_000})
    text = "{{ big }}{{ big }}"
    assert isinstance(plain_message(text, messages.env), PlainMessage)
    with pytest.raises(LimitExceeded, match="wrote more than"):
        messages.render(text, variables)
    assert _same(messages, text, variables)
