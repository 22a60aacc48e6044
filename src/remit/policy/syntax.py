"""Where in policy text a Cedar syntax error is: the line and column of the offending token, 1-based.

``cedarpy`` says what is wrong ("unexpected token `(`", "invalid policy effect: permitt") but not where. This module
finds it, with a parser supplied by ``remit.policy.cedar`` (``Parse``: the error message for a text, or None):

* the failing statement is the first one (text split at top-level ``;``) that does not parse on its own;
* a grammar error ("unexpected token", "invalid token", "unexpected end of input") is at the first token whose
  prefix no longer parses as the start of a policy (Cedar's parser fails at the earliest token it cannot take, so
  the prefixes that end before that token only lack their end): found by bisection over the statement's tokens,
  parsing each prefix alone and followed by a ``;`` (which makes Cedar report an error it recovered from);
* any other error (an unknown effect, function or escape, a duplicate annotation, a reserved name) names the
  offending text, quoted or after a colon; it is at the first place that text starts a token.

When a token is unexpected right after text that is a whole policy but for its ``;``, the message asks whether a
``;`` is missing there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: the error Cedar gives for text, or None when it parses
Parse = Callable[[str], str | None]

_EOF = "unexpected end of input"
_GRAMMAR = ("unexpected token", "invalid token", "unrecognized token", "extra token", _EOF)
_SEMICOLON = "unexpected token `;`"
_QUOTED = re.compile(r"`([^`]+)`")
_AFTER_COLON = re.compile(r":\s*(\S+)\s*$")
_PUNCT2 = ("==", "!=", "<=", ">=", "&&", "||", "::")


@dataclass(frozen=True, slots=True)
class Located:
    offset: int  #: in the whole text, in characters
    line: int
    column: int
    message: str  #: Cedar's message, with a hint when one helps


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int
    text: str


def locate(text: str, parse: Parse) -> Located | None:
    """The first syntax error in ``text`` and where it is; None when every statement parses on its own."""
    for start, statement in split_statements(text):
        message = parse(statement)
        if message is None:
            continue
        offset, message, hint = _offset(statement, message, parse)
        if hint is not None:
            words, at = hint
            there = position(text, start + at, "")
            message += " (" + words.format(at=f"at line {there.line}, column {there.column}") + ")"
        return position(text, start + offset, message)
    return None


def position(text: str, offset: int, message: str) -> Located:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Located(offset, line, column, message)


#: words to add to a message, with ``{at}`` for a position in the statement
Hint = tuple[str, int]


def _offset(statement: str, message: str, parse: Parse) -> tuple[int, str, Hint | None]:
    """Where in ``statement`` the error is, the message for it, and a hint to add to the message."""
    tokens = tokenize(statement)
    if not tokens:
        return 0, message, None
    if message.startswith(_GRAMMAR):
        return _grammar_error(statement, tokens, message, parse)
    return _named(statement, tokens, message), message, None


def _grammar_error(statement: str, tokens: list[Token], message: str, parse: Parse) -> tuple[int, str, Hint | None]:
    def fails_at(k: int) -> bool:  # the prefix through token k is no longer the start of a policy
        prefix = statement[: tokens[k].end]
        error = parse(prefix)
        if error is not None and not error.startswith(_EOF):
            return True
        # Cedar's parser recovers from some errors and then reports only the end of input as missing; a ';' after
        # the prefix brings the first error back, or is itself the unexpected token when the prefix is sound.
        ended = parse(prefix + " ;")
        return ended is not None and ended.startswith(_GRAMMAR) and ended != _SEMICOLON and not ended.startswith(_EOF)

    if not fails_at(len(tokens) - 1):  # every prefix is a policy that is not finished: the end is missing
        return tokens[-1].end, message, None
    lo, hi = 0, len(tokens) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if fails_at(mid):
            hi = mid
        else:
            lo = mid + 1
    # the error at that token (the whole statement's may be a later one: the lexer's "invalid token")
    prefix = statement[: tokens[lo].end]
    found = next((e for e in (parse(prefix), parse(prefix + " ;")) if e and not e.startswith(_EOF)), message)
    hint = _missing_semicolon(statement, tokens, lo, parse) or _unclosed_string(tokens, lo)
    return tokens[lo].start, found, hint


def _missing_semicolon(statement: str, tokens: list[Token], k: int, parse: Parse) -> Hint | None:
    """When the text before the offending token (or the one before it, which Cedar may have taken as a condition's
    keyword) is a whole policy without its ``;``."""
    for j in (k - 1, k - 2):
        if j >= 0 and tokens[j].text in (")", "}") and parse(statement[: tokens[j].end] + ";") is None:
            return "is a ';' missing after the policy that ends {at}?", tokens[j].end
    return None


def _unclosed_string(tokens: list[Token], k: int) -> Hint | None:
    """When a string that runs over a line end comes before the offending token, or is it: strings may, so a
    missing ``"`` shows only later, where the quotes no longer pair up; the first such string is the likely one."""
    token = tokens[k]
    unclosed = token.text.startswith('"') and (len(token.text) == 1 or not token.text.endswith('"'))
    first = next((t for t in tokens[: k + 1] if t.text.startswith('"') and "\n" in t.text), None)
    if first is None and not unclosed:
        return None
    return "is the string that starts {at} closed?", (first or token).start


def _named(statement: str, tokens: list[Token], message: str) -> int:
    """The offset of the text the message names; the statement's start when it names nothing found."""
    wanted = _QUOTED.findall(message)
    after = _AFTER_COLON.search(message)
    if after:
        wanted.append(after.group(1))
    duplicate = message.startswith("duplicate")
    for snippet in wanted:
        found = [t.start for t in tokens if t.text == snippet]
        if not found:  # several tokens: `prinicpal.x`, `Foo::"x"`, @id
            found = [t.start for t in tokens if statement.startswith(snippet, t.start)]
        if not found:  # inside a string: an escape sequence, say
            found = [t.start + i for t in tokens if t.text.startswith('"') and (i := t.text.find(snippet)) >= 0]
        if found:
            return found[1] if duplicate and len(found) > 1 else found[0]
    if "integer" in message:  # "integer parse error: number too large to fit in target type"
        for t in tokens:
            if t.text.isdigit() and int(t.text) > 2**63 - 1:
                return t.start
    return tokens[0].start


def tokenize(text: str) -> list[Token]:
    """Cedar's tokens, as far as positions need: identifiers, numbers, strings (to their end, or the end of the
    text when unterminated), slots, two-character operators, and any other character on its own."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        start = i
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i = min(i + 1, n)
        elif c.isalpha() or c == "_" or (c == "?" and i + 1 < n and (text[i + 1].isalpha() or text[i + 1] == "_")):
            i += 1
            while i < n and (text[i].isalnum() or text[i] == "_"):
                i += 1
        elif c.isdigit():
            while i < n and text[i].isdigit():
                i += 1
        elif text[i : i + 2] in _PUNCT2:
            i += 2
        else:
            i += 1
        out.append(Token(start, i, text[start:i]))
    return out


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split policy text at top-level ``;`` (outside strings and comments): (offset of first token, text)."""
    out: list[tuple[int, str]] = []
    i, n = 0, len(text)
    start: int | None = None
    depth = 0
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if start is None and not c.isspace():
            start = i
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == ";" and depth <= 0 and start is not None:
            out.append((start, text[start : i + 1]))
            start, depth = None, 0
        i += 1
    if start is not None and text[start:].strip():
        out.append((start, text[start:]))
    return out
