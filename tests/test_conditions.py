"""The condition language: parsing, type checking, errors with position and hint."""
from __future__ import annotations

import pytest

from kamrules.language import ir
from kamrules.language.parser import ParseError, parse
from kamrules.language.typecheck import Scope, check_condition

SCOPE = Scope(
    names={
        "revenue": ir.Ref("revenue", "money", "fact"),
        "gross_margin": ir.Ref("gross_margin", "percent", "fact"),
        "name": ir.Ref("name", "string", "fact"),
        "listed": ir.Ref("listed", "bool", "fact"),
        "strategic_fit": ir.Ref("strategic_fit", "enum", "fact", ("low", "medium", "high")),
        "analyses.industry": ir.Ref("analyses.industry", "date", "fact"),
        "contacts": ir.Ref("contacts", "list", "fact"),
        "tier": ir.Ref("tier", "enum", "dimension", ("platinum", "gold")),
    },
    params={"max_discount": ("percent", 0.15), "big": ("money", 1e7)},
    list_items={"contacts": {"role": ir.Ref("role", "enum", "item", ("coach", "economic_buyer")),
                             "rating": ir.Ref("rating", "integer", "item")}},
)


def check(src: str) -> ir.Cond:
    return check_condition(src, SCOPE)


def error(src: str) -> ParseError:
    with pytest.raises(ParseError) as e:
        check(src)
    return e.value


def test_a_rule_reads_like_a_sentence():
    c = check("tier in [platinum, gold] and gross_margin > params.max_discount")
    assert isinstance(c, ir.And)
    assert ir.show(c) == "(tier == platinum or tier == gold) and gross_margin > params.max_discount"


def test_friendly_literals_and_enum_words():
    c = check("revenue >= 1.2亿 and strategic_fit == high and gross_margin < 15%")
    assert [lit.right.value for lit in ir.literals(c)] == [120_000_000, "high", 0.15]


def test_functions_and_aggregates():
    c = check("count(contacts, role == coach) == 0 or days_since(analyses.industry) > 365")
    assert {type(t).__name__ for lit in ir.literals(c) for t in (lit.left,)} == {"Agg", "Fn"}


@pytest.mark.parametrize("src,words,hint", [
    ("__import__('os')", "'__import__' is not available", "never are"),
    ("__import__('os').system('x')", "'__import__' is not available", "never are"),
    ("open('x')", "unknown function 'open'", "available:"),
    ("revenue.__class__ > 1", "'revenue.__class__' is not available", "never are"),
    ("count(contacts).real > 1", "is not allowed", "cannot be called"),
    ("revnue > 1", "unknown name 'revnue'", "did you mean 'revenue'?"),
    ("params.max_discont > 1%", "unknown parameter", "did you mean 'max_discount'?"),
    ("name > 5", "cannot compare", ""),
    ("strategic_fit == hihg", "'hihg' is not a value of strategic_fit", "did you mean 'high'?"),
    ("revenue > 15%", "compared with", "almost always a mistake"),
    ("revenue = 5", "assignment", "write '=='"),
    ("revenue > 1 && listed", "not an operator", "write 'and'"),
    ("strategic_fit > low", "cannot compare enum", "use == / !="),
    ("revenue", "not a condition", "compare it"),
    ("count(revenue) > 1", "needs a list fact", ""),
    ("any(contacts, rol == coach)", "not a field of the list item", "did you mean 'role'?"),
])
def test_errors_say_what_and_hint(src, words, hint):
    e = error(src)
    assert words in e.message
    assert hint in e.hint


def test_error_positions_point_at_the_culprit():
    assert error("revenue > 1 and revnue > 2").pos == 16
    with pytest.raises(ParseError) as e:
        parse("revenue > ")
    assert e.value.pos == 10


def test_nnf_pushes_not_onto_comparisons():
    c = ir.nnf(check("not (revenue > 5 and listed)"))
    assert ir.show(c) == "revenue <= 5 or listed != true"


def test_long_or_deep_expressions_are_refused():
    with pytest.raises(ParseError, match="deeper"):
        parse("(" * 100 + "a" + ")" * 100)
    with pytest.raises(ParseError, match="longer than"):
        parse("a > 1 and " * 600 + "a > 1")
