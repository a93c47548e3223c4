"""Path template parsing (pure layer)."""

import re

import pytest

from heron._routing import DEFAULT_PART_RE, Var, has_variables, parse_template


def test_plain_text_is_one_literal() -> None:
    assert parse_template("/a/b").parts == ("/a/b",)


def test_variable_default_regex() -> None:
    t = parse_template("/users/{name}")
    assert t.parts == ("/users/", Var("name", DEFAULT_PART_RE))
    assert t.names == ("name",)
    assert t.formatter() == "/users/{name}"


def test_variable_with_regex_and_nested_braces() -> None:
    t = parse_template(r"/y/{year:\d{4}}/{slug}")
    assert t.parts == ("/y/", Var("year", r"\d{4}"), "/", Var("slug"))
    assert t.compile().fullmatch("/y/2024/x") is not None
    assert t.compile().fullmatch("/y/24/x") is None


def test_tail_variable() -> None:
    t = parse_template("/static/{tail:.+}")
    m = t.compile().fullmatch("/static/a/b/c.css")
    assert m is not None and m.group("tail") == "a/b/c.css"


def test_several_variables_in_one_segment() -> None:
    t = parse_template("/a{x}b/{y}.{ext}")
    assert t.names == ("x", "y", "ext")
    assert t.literal_prefix() == "/a"


@pytest.mark.parametrize(
    "path",
    [
        "/a/{",
        "/a/}",
        "/a/{name",
        "/a/name}",
        "/a/{}",
        "/a/{1abc}",
        "/a/{na me}",
        "/a/{name}}",
        "/a/{{name}",
        "/a/{x:[}",
        "/a/{é}",
    ],
)
def test_bad_templates(path: str) -> None:
    with pytest.raises(ValueError):
        parse_template(path)


def test_duplicate_names() -> None:
    with pytest.raises(ValueError, match="used twice"):
        parse_template("/{id}/x/{id}")


def test_bad_regex() -> None:
    with pytest.raises(ValueError, match="Bad pattern"):
        parse_template("/a/{x:(}")


def test_literals_are_escaped() -> None:
    t = parse_template("/a.b/{x}")
    assert t.regex_source().startswith(re.escape("/a.b/"))
    assert t.compile().fullmatch("/aXb/1") is None


def test_format_and_missing_value() -> None:
    t = parse_template("/u/{name}/{id:\\d+}")
    assert t.format({"name": "bob", "id": "7"}) == "/u/bob/7"
    with pytest.raises(KeyError):
        t.format({"name": "bob"})


def test_map_literals_keeps_variables() -> None:
    t = parse_template("/a/{x}/b").map_literals(str.upper)
    assert t.parts == ("/A/", Var("x"), "/B")


def test_has_variables() -> None:
    assert has_variables("/a/{x}")
    assert has_variables("/a/}")
    assert not has_variables("/a/b")
