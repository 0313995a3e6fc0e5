"""language/templatenames keeps the tags if_names has read: a message read with the kept
readings gives what it gives read afresh, and a kept reading is not used once a filter or test it
met is no longer the environment's."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.language import templatenames
from kamrules.language.messages import CHECK_ENV, make_env
from kamrules.language.templatenames import if_names

import test_templatenames as generated  # the generated messages of the if_names tests


def _fresh(text: str, env: Any) -> Any:
    templatenames._READ.clear()
    return if_names(text, env)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.lists(generated._pieces(10), max_size=4).map("".join), min_size=1, max_size=4))
def test_kept_readings_read_as_fresh_ones(texts: list[str]) -> None:
    """Messages read one after another (their tags kept) give what each gives read alone."""
    templatenames._READ.clear()
    together = [if_names(t, CHECK_ENV) for t in texts + texts]
    assert together == [_fresh(t, CHECK_ENV) for t in texts + texts]


def test_the_course_tags_are_kept_once() -> None:
    templatenames._READ.clear()
    text = "{% if coaches %}{{ revenue|money }}{% else %}{{ revenue|money }}{% endif %}"
    assert if_names(text, CHECK_ENV) == {"coaches", "revenue"}
    assert set(templatenames._READ) == {(False, " if coaches "), (True, " revenue|money "), (False, " else "),
                                        (False, " endif ")}


@pytest.mark.parametrize("text, gone", [
    ("{% if x %}{{ y|money }}{% endif %}", ("filters", "money")),
    ("{% if x is number %}a{% endif %}", ("tests", "number")),
])
def test_a_kept_reading_needs_the_filters_and_tests_it_met(text: str, gone: tuple[str, str]) -> None:
    templatenames._READ.clear()
    assert if_names(text, CHECK_ENV) is not None
    env = make_env("en")
    del getattr(env, gone[0])[gone[1]]
    assert if_names(text, env) is None  # as read afresh: the filter or test is unknown there
    assert if_names(text, env) == _fresh(text, env)
    assert if_names(text, CHECK_ENV) == _fresh(text, CHECK_ENV) and if_names(text, CHECK_ENV) is not None


def test_what_is_kept_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    templatenames._READ.clear()
    monkeypatch.setattr(templatenames, "_READ_MAX", 3)
    for i in range(10):
        assert if_names(f"{{% if x{i} %}}a{{% endif %}}", CHECK_ENV) == {f"x{i}"}
        assert len(templatenames._READ) <= 3
