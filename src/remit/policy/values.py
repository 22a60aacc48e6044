"""JSON values (AuthZEN properties and context, registry attributes) to Cedar's JSON value format."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
#: Cedar's ``decimal`` is a 64-bit count of ten-thousandths
DECIMAL_MAX = LONG_MAX // 10_000
MAX_DEPTH = 16


def to_cedar(value: Any, depth: int = 0) -> Any:
    """Cedar has no null and no float: nulls are dropped, floats become ``decimal`` (4 places).

    Integers outside 64 bits, and floats outside the decimal range, become strings (Cedar cannot hold them).
    ``__entity``/``__extn`` objects keep their Cedar meaning.
    """
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if LONG_MIN <= value <= LONG_MAX else str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("NaN and infinity have no Cedar value")
        if value.is_integer() and LONG_MIN <= value <= LONG_MAX:
            return int(value)
        if abs(value) >= DECIMAL_MAX:  # beyond Cedar's decimal: kept as text, like integers beyond a Long
            return repr(value)
        quantized = Decimal(repr(value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
        return {"__extn": {"fn": "decimal", "arg": format(quantized, "f")}}
    if isinstance(value, list | tuple):
        return [to_cedar(v, depth + 1) for v in value if v is not None]
    if isinstance(value, dict):
        return {str(k): to_cedar(v, depth + 1) for k, v in value.items() if v is not None}
    raise ValueError(f"unsupported value of type {type(value).__name__}")


def is_cedar_record(value: Any) -> bool:
    """Whether ``value`` already is a Cedar record as ``to_cedar`` would return it: a dict of string keys with
    string, boolean or 64-bit integer values (what PEPs send as a context). Such a value needs no conversion and
    cannot fail it, so a caller may skip ``to_cedar``; anything else (nesting, floats, nulls) must go through it."""
    if type(value) is not dict:
        return False
    for key, item in value.items():
        kind = type(item)
        if type(key) is not str or not (kind is str or kind is bool or (kind is int and LONG_MIN <= item <= LONG_MAX)):
            return False
    return True


def entity_value(type_: str, id_: str) -> dict[str, Any]:
    return {"__entity": {"type": type_, "id": id_}}
