"""Cedar syntax errors at the offending token's own line and column, through the real parser (cedarpy)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remit.policy import cedar, syntax
from remit.policy.errors import PolicySyntaxError

#: seven lines; the second policy lacks its ';' at the end of line 7
MISSING_SEMICOLON = """@id("read")
permit(principal, action == Action::"read", resource);

// tickets
@id("tickets")
permit(principal, action == Action::"call_tool", resource)
when { resource.kind == "tool" }
@id("no-prod")
forbid(principal, action, resource) when { principal.environment == "production" };
"""


def _error(text: str) -> PolicySyntaxError:
    with pytest.raises(PolicySyntaxError) as caught:
        cedar.parse(text)
    assert caught.value.code == "policy_syntax_error" and caught.value.field == "policies"
    return caught.value


def _token_at(text: str, line: int, column: int) -> str:
    return text.splitlines()[line - 1][column - 1 :]


def test_a_missing_semicolon_points_at_the_next_token_and_says_where_the_semicolon_goes() -> None:
    e = _error(MISSING_SEMICOLON)
    assert (e.line, e.column) == (8, 1)
    assert e.message == (
        "line 8, column 1: unexpected token `@` (is a ';' missing after the policy that ends at line 7, column 33?)"
    )
    assert _token_at(MISSING_SEMICOLON, 7, 32) == "}"


@pytest.mark.parametrize(
    ("text", "line", "column", "message", "token"),
    [
        # an unknown keyword: the effect, a condition
        ("permit(principal, action, resource);\n  permitt(principal, action, resource);", 2, 3,
         "invalid policy effect: permitt", "permitt("),
        ("permit(principal, action, resource)\nwhenever { true };", 2, 1, "invalid policy condition: whenever",
         "whenever"),
        # an unterminated string: where it starts
        ('permit(principal, action, resource)\n  when { context.x == "abc };\n', 2, 23,
         "invalid token (is the string that starts at line 2, column 23 closed?)", '"abc'),
        # grammar errors at the token itself
        ("permit(principal action resource);", 1, 18, "unexpected token `action`", "action"),
        ("permit(principal, action, resource) when { 1 < };", 1, 48, "unexpected token `}`", "}"),
        ("permit(principal, action, resource) when { context.x == $ };", 1, 57, "invalid token", "$"),
        # the end is missing: after the last token
        ("permit(principal, action, resource) when { true", 1, 48, "unexpected end of input", ""),
        # errors Cedar finds in a parsed policy: at the text they name
        ('permit(principal, action, resource) when { context.x == "a\\qb" };', 1, 59,
         "the input `\\q` is not a valid escape", "\\q"),
        ("permit(principal, action, resource)\n  when { foo(1) };", 2, 10, "`foo` is not a valid function", "foo("),
        ("permit(principal, action, resource) when { prinicpal.x == 1 };", 1, 44,
         "invalid member access `prinicpal.x`, `prinicpal` has no fields or methods", "prinicpal"),
        ('@id("a")\n@id("b") permit(principal, action, resource);', 2, 1, "duplicate annotation: @id", '@id("b")'),
        ('permit(principal, action == Foo::"x", resource);', 1, 29,
         'expected an entity uid with type `Action` but got `Foo::"x"`', "Foo::"),
        ("permit(principal, action, resource) when { context.if == 1 };", 1, 52,
         "this identifier is reserved and cannot be used: if", "if =="),
        ("permit(principal, action, resource, context);", 1, 37,
         "this policy has an extra element in the scope: context", "context)"),
        ("permit(principal, action, resource) when { 99999999999999999999 > 1 };", 1, 44,
         "integer parse error: number too large to fit in target type", "9999"),
        # Remit's own checks: at the policy's @id
        ('permit(principal, action, resource);\n@id("a")\npermit(principal, action, resource);\n  @id("a")\n'
         "permit(principal, action, resource);", 4, 3, "two policies have the id 'a'; @id values must be unique",
         "@id"),
        ('permit(principal, action, resource);\n@id("not an id!")\npermit(principal, action, resource);', 2, 1,
         "@id('not an id!'): ids are letters, digits and . _ : / # @ - (1 to 200 of them)", "@id"),
    ],
)  # fmt: skip
def test_each_error_is_at_its_token(text: str, line: int, column: int, message: str, token: str) -> None:
    e = _error(text)
    assert (e.line, e.column, e.message) == (line, column, f"line {line}, column {column}: {message}")
    assert _token_at(text, line, column).startswith(token)


def test_positions_count_characters_not_bytes() -> None:
    text = '@id("é")\npermit(principal, action, resource) when { context.x == "ünïcode" && };'
    e = _error(text)
    assert (e.line, e.column) == (2, 70) and _token_at(text, 2, 70).startswith("}")


def test_a_string_left_open_in_one_policy_is_named_where_it_starts() -> None:
    text = 'permit(principal, action, resource)\n  when { context.x == "abc };\n@id("z")\n'
    text += "permit(principal, action, resource);"
    e = _error(text)
    assert (e.line, e.column) == (3, 6)  # where the quotes stop pairing up
    assert e.message.endswith("(is the string that starts at line 2, column 23 closed?)")


def test_tokens_and_statements() -> None:
    text = (
        '// a comment; with a semicolon\n@id("x;y") permit(principal, action, resource) when { context.s == "a\\"b" };'
    )
    [(start, statement)] = syntax.split_statements(text)
    assert text[start:].startswith("@id") and statement.endswith("};")
    assert [t.text for t in syntax.tokenize('a==b::"c\\"d" ?principal 12 // x\n;')] == [
        "a",
        "==",
        "b",
        "::",
        '"c\\"d"',
        "?principal",
        "12",
        ";",
    ]


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(
    cut=st.integers(min_value=0, max_value=len(MISSING_SEMICOLON)),
    junk=st.sampled_from(['"', "$", "(", "}", ";", "@", "permitt ", ""]),
)
def test_any_broken_text_gets_a_position_inside_it(cut: int, junk: str) -> None:
    """Text cut anywhere, with something stray put there: parsed, or refused at a line and column of the text."""
    text = MISSING_SEMICOLON[:cut] + junk + MISSING_SEMICOLON[cut:]
    try:
        cedar.parse(text)
    except PolicySyntaxError as e:
        assert e.line is not None and e.column is not None
        lines = text.split("\n")
        assert 1 <= e.line <= len(lines) and 1 <= e.column <= len(lines[e.line - 1]) + 1
        assert e.message.startswith(f"line {e.line}, column {e.column}: ")
