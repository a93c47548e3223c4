"""The compiled route table (pure layer): order, plain lookup, joined regexes."""

from heron._routing import (
    OpaquePattern,
    PlainPattern,
    RegexPattern,
    compile_table,
    decode_value,
    parse_template,
)


def rx(path: str) -> RegexPattern:
    return RegexPattern(parse_template(path))


def test_plain_lookup() -> None:
    table = compile_table([(PlainPattern("/a"), "A"), (PlainPattern("/b/"), "B")])
    assert table.first("/a") == ("A", {})
    assert table.first("/b/") == ("B", {})
    assert table.first("/b") is None
    assert table.first("/c") is None


def test_dynamic_match_values() -> None:
    table = compile_table([(rx("/u/{name}/{id:\\d+}"), "U")])
    assert table.first("/u/bob/12") == ("U", {"name": "bob", "id": "12"})
    assert table.first("/u/bob/x") is None


def test_longest_key_wins_over_registration_order() -> None:
    # aiohttp visits /a before / for /a/b, whatever the registration order.
    table = compile_table([(rx("/{x}/b"), "root"), (rx("/a/{y}"), "a")])
    assert table.first("/a/b") == ("a", {"y": "b"})
    assert [p for p, _ in table.scan("/a/b")] == ["a", "root"]


def test_registration_order_within_a_key() -> None:
    table = compile_table([(rx("/a/{x}"), "first"), (rx("/a/{y:.*}"), "second")])
    assert table.first("/a/1") == ("first", {"x": "1"})
    assert [p for p, _ in table.scan("/a/1")] == ["first", "second"]


def test_plain_path_also_matched_by_earlier_dynamic() -> None:
    table = compile_table([(rx("/a/{x}"), "dyn"), (PlainPattern("/a/b"), "plain")])
    # The plain path has key /a/b, which aiohttp visits before /a.
    assert table.first("/a/b") == ("plain", {})
    assert table.scan("/a/b") == [("plain", {}), ("dyn", {"x": "b"})]


def test_plain_trailing_slash_shares_key_with_dynamic() -> None:
    table = compile_table([(rx("/a/{x:.*}"), "dyn"), (PlainPattern("/a/"), "plain")])
    assert table.first("/a/") == ("dyn", {"x": ""})


def test_opaque_keeps_its_place() -> None:
    table = compile_table(
        [(rx("/{x}/{y}"), "root"), (OpaquePattern("/api"), "sub"), (rx("/api/v/{z}"), "v")]
    )
    assert table.first("/api/v/1") == ("v", {"z": "1"})
    assert table.first("/api/x") == ("sub", None)
    assert table.scan("/api/x") == [("sub", None), ("root", {"x": "api", "y": "x"})]
    assert table.first("/apix/y") == ("root", {"x": "apix", "y": "y"})
    assert table.first("/apix") is None


def test_opaque_at_root() -> None:
    table = compile_table([(PlainPattern("/a"), "a"), (OpaquePattern(""), "static")])
    assert table.first("/a") == ("a", {})
    assert table.scan("/a") == [("a", {}), ("static", None)]
    assert table.first("/zzz") == ("static", None)


def test_regex_with_backreference_or_named_group_is_kept_alone() -> None:
    table = compile_table(
        [
            (rx(r"/r/{x:(a)\2}"), "backref"),
            (rx("/r/{y:(?P<inner>b)c}"), "named"),
            (rx("/r/{z}"), "plain-var"),
        ]
    )
    assert table.first("/r/aa") == ("backref", {"x": "aa"})
    assert table.first("/r/bc") == ("named", {"y": "bc", "inner": "b"})
    assert table.first("/r/q") == ("plain-var", {"z": "q"})


def test_user_capturing_groups_do_not_confuse_joined_regex() -> None:
    table = compile_table([(rx("/g/{x:(a|b)+}"), "ab"), (rx("/g/{y}"), "other")])
    assert table.first("/g/abab") == ("ab", {"x": "abab"})
    assert table.first("/g/c") == ("other", {"y": "c"})


def test_decode_value() -> None:
    assert decode_value("a%2Fb%25c") == "a/b%c"
    assert decode_value("plain") == "plain"
    assert table_first_decoded() == {"tail": "a/b%c d"}


def table_first_decoded() -> dict[str, str] | None:
    table = compile_table([(rx("/t/{tail:.+}"), "T")])
    hit = table.first("/t/a%2Fb%25c d")
    assert hit is not None
    return hit[1]


def test_many_routes_each_resolves_to_itself() -> None:
    for n in (10, 100, 1000):
        entries = []
        for i in range(n):
            entries.append((rx(f"/s{i % 7}/r{i}/{{id}}"), f"dyn{i}"))
            entries.append((PlainPattern(f"/p{i}"), f"plain{i}"))
        table = compile_table(entries)
        for i in range(n):
            assert table.first(f"/s{i % 7}/r{i}/x") == (f"dyn{i}", {"id": "x"})
            assert table.first(f"/p{i}") == (f"plain{i}", {})
        assert table.first(f"/s0/r{n}/x") is None
