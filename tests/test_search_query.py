"""The query parser: every accepted form, and one test per rejected form."""

import pytest

from embedkit.errors import ParameterError
from embedkit.search import Query, parse_queries, parse_query

KING = Query(("king", "woman"), ("man",))


@pytest.mark.parametrize("text", [
    "king - man + woman",
    "king -man +woman",
    ["king", "-", "man", "+", "woman"],
    ["king", "-man", "+woman"],
    "man:king::woman:?",
    "man : king :: woman : ?",
    "man:king::woman",
    "  king   -   man   +   woman  ",
])
def test_every_form_means_the_same(text):
    assert parse_query(text) == KING


def test_words_without_signs_are_added():
    assert parse_query("king queen") == Query(("king", "queen"), ())
    assert parse_query("-man woman") == Query(("woman",), ("man",))


def test_a_hyphen_inside_a_word_is_part_of_it():
    assert parse_query("well-known - known") == Query(("well-known",), ("known",))


def test_str_round_trips():
    assert parse_query(str(KING)) == KING


@pytest.mark.parametrize("text, message", [
    ("", "empty query"),
    ("   ", "empty query"),
    ("king - - man", "two operators in a row"),
    ("king - -man", "two operators in a row"),
    ("king --man", "two operators in a row"),
    ("king - man +", "ends with '\\+'"),
    ("man:king::woman:queen", "cannot read"),
    ("man::woman:?", "cannot read"),
    ("man:king::", "cannot read"),
    ("a:b::c:?::d", "cannot read"),
    ("?:king::woman:?", "cannot read"),
])
def test_malformed_queries_are_rejected(text, message):
    with pytest.raises(ParameterError, match=message):
        parse_query(text)


def test_parse_queries_skips_blank_and_comment_lines_and_names_bad_lines():
    assert parse_queries(["# header", "", "king - man + woman", "paris"]) == [
        KING, Query(("paris",), ())]
    with pytest.raises(ParameterError, match="line 2: .*ends with"):
        parse_queries(["king", "queen -"])
