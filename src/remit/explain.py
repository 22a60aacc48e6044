"""Validation errors in Remit's own words: what was wrong, named by field, as a sentence a person can act on.

pydantic reports errors in its own English ("Field required", "Extra inputs are not permitted", "String should
match pattern '^[a-z0-9](?:...'"). ``explain`` turns its error list into one sentence each, naming the field the
way the API does (``permissions[0].actions``): ``reason is required``, ``unknown field 'ownr'; did you mean
'owner'?``, ``name must be lowercase letters, digits, ...``. A pattern is described by the words registered for it
with ``rule`` where the constrained type is declared, so a message never shows a regex. ``json_problem`` does the
same for a body that is not JSON.

Pure: the errors are read as plain mappings (pydantic's ``ErrorDetails``), so the API, the CLI and the policy
test-case loader can all use it. Messages never repeat a value that was sent, only field names (cut short).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: pattern (as given to pydantic) -> what it allows, in words: a noun phrase that reads after "must be"
_RULES: dict[str, str] = {}

#: words for patterns that are not registered: still a sentence, never the regex
UNKNOWN_FORMAT = "in the expected format (see /openapi.json)"

#: the first part of a FastAPI error location: where in the request the value was
_SOURCES = ("body", "query", "path", "header", "cookie")
_MAX_NAME = 40


def rule(pattern: str, words: str) -> str:
    """Register what ``pattern`` allows, in words (a phrase that reads after "must be"); returns ``pattern``, so a
    constrained type can be declared as ``StringConstraints(pattern=rule(r"^...$", "lowercase letters, ..."))``."""
    known = _RULES.setdefault(pattern, words)
    if known != words:
        raise ValueError(f"pattern {pattern!r} is already described as {known!r}")
    return pattern


def pattern_words(pattern: str) -> str | None:
    """The words registered for ``pattern``, or None."""
    return _RULES.get(pattern)


def described_patterns() -> dict[str, str]:
    return dict(_RULES)


def sentence(words: str) -> str:
    """A rule's words as a description: ``Lowercase letters, ... digit.``"""
    return words[:1].upper() + words[1:] + ("" if words.endswith(".") else ".")


@dataclass(frozen=True, slots=True)
class Problem:
    field: str  #: ``permissions[0].actions``; ``body`` for the input as a whole
    message: str  #: a sentence naming the field
    loc: tuple[Any, ...] = ()  #: the location the message is about (without a request's ``body``/``query``/...)


def explain(
    errors: Iterable[Mapping[str, Any]],
    *,
    model: Any = None,
    data: Any = None,
    request: bool = False,
    whole: str = "the request body",
    name: Callable[[tuple[Any, ...]], str] | None = None,
) -> list[Problem]:
    """One ``Problem`` per error (a union's branches taken together as one), in pydantic's order.

    ``model`` is the type that was validated (a pydantic model) and ``data`` the value it was given (the decoded
    JSON body), both for "did you mean" on unknown fields: a field the model knows and the data lacks. ``request``:
    the locations start with where in the request they are (FastAPI's ``body``, ``query``, ``path``, ...), which
    the names leave out. ``whole`` is what an error about the input as a whole calls it; ``name`` says how to call
    a location in a message (the dotted path by default; the CLI may name its options instead).
    """
    items = [_Error.of(e, request) for e in errors]
    out: list[Problem] = []
    for group in _groups(items):
        err = _pick(group)
        loc = err.where
        called = whole if not loc else (name(loc) if name is not None else field_name(loc))
        out.append(Problem(field_name(loc), _message(err, called, loc, items, model, data, name or field_name), loc))
    return out


def one_line(problems: Sequence[Problem], limit: int = 3) -> str:
    """The first ``limit`` problems joined into one message, saying how many more there are."""
    text = "; ".join(p.message for p in problems[:limit])
    if len(problems) > limit:
        text += f" (and {len(problems) - limit} more)"
    return text


def field_name(loc: Sequence[Any]) -> str:
    """``("permissions", 0, "actions")`` -> ``permissions[0].actions``; the input as a whole is ``body``."""
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{_clean(str(part))}" if out else _clean(str(part)))
    return out or "body"


def json_problem(message: str, doc: str | bytes | None, pos: int | None) -> str:
    """``json.JSONDecodeError``'s message and position as words: ``a ',' was expected at line 3, column 14``."""
    base = _JSON_AT.sub("", message).strip()
    what = _JSON_WORDS.get(base) or (base[:1].lower() + base[1:])
    if doc is None or pos is None:
        return what
    text = doc.decode("utf-8", "replace") if isinstance(doc, bytes) else doc
    pos = max(0, min(pos, len(text)))
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"{what} at line {line}, column {column}"


_JSON_AT = re.compile(r":? line \d+ column \d+ \(char \d+\)$")  #: the position ``str(JSONDecodeError)`` adds
_JSON_WORDS = {
    "Expecting value": "a value was expected",
    "Expecting ',' delimiter": "a ',' was expected",
    "Expecting ':' delimiter": "a ':' was expected",
    "Expecting property name enclosed in double quotes": "a field name in double quotes was expected",
    "Extra data": "there is more text after the JSON value",
    "Unterminated string starting at": "a string is not closed",
    "Invalid control character at": "a string holds a raw control character (escape it)",
    "Invalid \\escape": "a string holds an invalid escape sequence",
    "Invalid \\uXXXX escape": "a string holds an invalid \\u escape",
}


# -- one error ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Error:
    type: str
    loc: tuple[Any, ...]
    msg: str
    ctx: Mapping[str, Any]
    where: tuple[Any, ...]  #: ``loc`` without union branch tags: the field the error is about

    @classmethod
    def of(cls, e: Mapping[str, Any], request: bool) -> _Error:
        loc = tuple(e.get("loc") or ())
        if request and loc and loc[0] in _SOURCES:
            loc = loc[1:]
        ctx = e.get("ctx") or {}
        return cls(str(e.get("type", "")), loc, str(e.get("msg", "")), ctx, loc)


#: how pydantic names a union member in a location: ``bool``, ``constrained-int``, ``list[constrained-str]``
_TAG = re.compile(r"^(?:bool|int|float|str|bytes|none|decimal|[a-z]+(?:-[a-z]+)+|[a-z-]+\[.*\])$")


def _groups(items: list[_Error]) -> list[list[_Error]]:
    """Errors grouped by field: a union's branches (``attributes.x.bool``, ``attributes.x.constrained-int``) are
    one field's problem. A location part is a branch tag when it looks like one and siblings differ there."""
    groups: dict[tuple[Any, ...], list[_Error]] = {}
    for err in items:
        where = _untagged(err.loc, items)
        groups.setdefault(where, []).append(_Error(err.type, err.loc, err.msg, err.ctx, where))
    return list(groups.values())


def _untagged(loc: tuple[Any, ...], items: list[_Error]) -> tuple[Any, ...]:
    for i, part in enumerate(loc):
        if not (isinstance(part, str) and _TAG.match(part)):
            continue
        siblings = {e.loc[i] for e in items if len(e.loc) > i and e.loc[:i] == loc[:i]}
        if len(siblings) > 1 and all(isinstance(s, str) and _TAG.match(s) for s in siblings):
            return loc[:i]
    return loc


def _pick(group: list[_Error]) -> _Error:
    """The error to report for a field. One branch of a union that got further than a type check (a string that
    is too long, an item of a list) says more than "must be a string" from every branch; else all the branches'
    kinds are named together: ``must be true or false, a whole number, a string or a list``."""
    if len(group) == 1 or all(e.loc == e.where for e in group):
        return group[0]
    deeper = [e for e in group if len(e.loc) > len(e.where) + 1 or not _is_kind_error(e.type)]
    if deeper:
        chosen = deeper[0]
        tail = tuple(p for p in chosen.loc[len(chosen.where) + 1 :])
        return _Error(chosen.type, chosen.loc, chosen.msg, chosen.ctx, chosen.where + tail)
    kinds: list[str] = []
    for e in group:
        kind = _KINDS.get(e.type)
        tag = str(e.loc[len(e.where)]) if len(e.loc) > len(e.where) else ""
        if kind == "a list" and tag.startswith("list[") and tag.endswith("str]"):
            kind = "a list of strings"
        if kind and kind not in kinds:
            kinds.append(kind)
    return _Error("union", group[0].loc, "", {"kinds": kinds}, group[0].where)


def _is_kind_error(kind: str) -> bool:
    return kind in _KINDS


#: an error that says the value is of the wrong kind, and the kind that was wanted
_KINDS = {
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "a JSON object",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "none_required": "null",
    "datetime_type": "a date and time",
    "datetime_parsing": "a date and time",
}


# -- the sentences --------------------------------------------------------------------------------------------


def _message(
    err: _Error,
    called: str,
    loc: tuple[Any, ...],
    items: list[_Error],
    model: Any,
    data: Any,
    name: Callable[[tuple[Any, ...]], str] = field_name,
) -> str:
    t, ctx = err.type, err.ctx
    if t == "missing":
        return f"{called} is required"
    if t == "extra_forbidden":
        return _unknown_field(loc, items, model, data)
    if loc[-1:] == ("[key]",):  # a dict key that breaks its rule: name the key, not a field
        owner = name(loc[:-2]) if len(loc) > 2 else "an object"
        called = f"{owner} key {_quoted(loc[-2])}"
    if t == "union":
        return f"{called} must be {_either(ctx.get('kinds') or ['a valid value'])}"
    if t == "string_pattern_mismatch":
        words = pattern_words(str(ctx.get("pattern", "")))
        return f"{called} must be {words or UNKNOWN_FORMAT}"
    if t == "string_too_long":
        return f"{called} must be at most {_count(ctx.get('max_length'), 'character')} long"
    if t == "string_too_short":
        n = ctx.get("min_length")
        return f"{called} must not be empty" if n == 1 else f"{called} must be at least {_count(n, 'character')} long"
    if t in ("too_long", "too_short"):
        limit = ctx.get("max_length") if t == "too_long" else ctx.get("min_length")
        noun = "entry" if str(ctx.get("field_type", "")).lower() in ("dictionary", "mapping") else "item"
        if t == "too_short" and limit == 1:
            return f"{called} must have at least one {noun}"
        return f"{called} must have at {'most' if t == 'too_long' else 'least'} {_count(limit, noun)}"
    if t in _BOUNDS:
        key, words = _BOUNDS[t]
        return f"{called} must be {words} {ctx.get(key)}"
    if t in ("enum", "literal_error"):
        choices = re.findall(r"'((?:[^'\\]|\\.)*)'", str(ctx.get("expected", "")))
        if choices:
            return f"{called} must be one of: {', '.join(choices)}"
    if t == "timezone_aware":
        return f"{called} must include a time zone, such as 2026-01-31T09:00:00Z or 2026-01-31T10:00:00+01:00"
    if t in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing", "datetime_object_invalid"):
        return f"{called} must be a date and time such as 2026-01-31T09:00:00Z"
    if t == "int_parsing_size":
        return f"{called} is too large a number"
    if t in _KINDS:
        return f"{called} must be {_KINDS[t]}"
    if t == "string_unicode":
        return f"{called} must be valid Unicode text"
    if t == "json_invalid":
        return f"{called} is not valid JSON"
    if t in ("value_error", "assertion_error") and ctx.get("error") is not None:  # a validator's own sentence
        return f"{called}: {ctx['error']}" if loc else str(ctx["error"])
    return _rephrase(err.msg, called)


_BOUNDS = {
    "greater_than": ("gt", "more than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
    "multiple_of": ("multiple_of", "a multiple of"),
}

_SHOULD = re.compile(r"^(?:Input|Value|String|List|Dictionary|Tuple|Set|Object|Data|Decimal|URL|UUID) should ")


def _rephrase(msg: str, called: str) -> str:
    """Any other pydantic message, as a sentence about the field: ``Input should be a valid UUID`` -> ``id must be a
    valid UUID``."""
    if _SHOULD.match(msg):
        return f"{called} must {_SHOULD.sub('', msg, count=1)}"
    if not msg:
        return f"{called} is not valid"
    return f"{called} is not valid: {msg[:1].lower()}{msg[1:]}"


def _unknown_field(loc: tuple[Any, ...], items: list[_Error], model: Any, data: Any) -> str:
    key = str(loc[-1]) if loc else ""
    parent = loc[:-1]
    inside = f" in {field_name(parent)}" if parent else ""
    known = set(known_fields(model, parent)) if model is not None else set()
    # a field the body lacks is the likeliest one meant, even without the model (the CLI, a nested object)
    known |= {str(e.loc[-1]) for e in items if e.type == "missing" and e.loc[:-1] == parent and e.loc}
    present = {str(e.loc[-1]) for e in items if e.loc[:-1] == parent and e.loc and e.type != "missing"}
    sent = _at(data, parent)
    if isinstance(sent, dict):
        present |= {str(k) for k in sent}
    candidates = sorted(known - present - {key})
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    hint = f"; did you mean {_quoted(close[0])}?" if close else ""
    return f"unknown field {_quoted(key)}{inside}{hint}"


def _at(data: Any, path: Sequence[Any]) -> Any:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def known_fields(model: Any, path: Sequence[Any]) -> list[str]:
    """The field names of the object at ``path`` inside ``model`` (a pydantic model class), as a client spells
    them (aliases); empty when the path leads to no model."""
    for annotation in _walk(model, list(path)):
        fields = getattr(annotation, "model_fields", None)
        if isinstance(fields, dict):
            return [info.alias or name for name, info in fields.items()]
    return []


def _walk(annotation: Any, path: list[Any]) -> list[Any]:
    """Every type the value at ``path`` may have, through Annotated, unions, lists and dicts."""
    options = _unwrap(annotation)
    if not path:
        return options
    part, rest = path[0], path[1:]
    out: list[Any] = []
    for option in options:
        fields = getattr(option, "model_fields", None)
        origin = typing.get_origin(option)
        args = typing.get_args(option)
        if isinstance(fields, dict) and isinstance(part, str):
            by_alias = {(info.alias or name): info for name, info in fields.items()}
            if part in by_alias:
                out += _walk(by_alias[part].annotation, rest)
        elif origin in (list, tuple, set, frozenset) and isinstance(part, int) and args:
            out += _walk(args[0], rest)
        elif origin is dict and len(args) == 2 and isinstance(part, str):
            out += _walk(args[1], rest)
    return out


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _either(kinds: Sequence[str]) -> str:
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]


def _count(n: Any, noun: str) -> str:
    plural = {"entry": "entries"}.get(noun, noun + "s")
    return f"{n} {noun if n == 1 else plural}"


def _clean(text: str) -> str:
    """A name from the request, safe to repeat: printable, and cut short."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= _MAX_NAME else text[: _MAX_NAME - 3] + "..."


def _quoted(part: Any) -> str:
    return "'" + _clean(str(part)).replace("'", "\\'") + "'"
