"""The audit masker: what no audit record stores. Pure.

One ``Masker``, built from ``audit.mask_paths``, masks every record before it is chained and written, on every
path a record takes: ``AuditLog.record`` (the inline writer, async mode and its spool, replayed spools too), the
audit writer process, and admin changes, chained in their own transaction (the change feed behind ``/v1/events``
stores the same masked text). The hash covers the masked text, so verification checks what is stored, and
nothing masked can be read back from the log, its exports or its API.

The whole record is walked, every member at any depth, except the envelope Remit writes itself (``schema``,
``seq``, ``id``, ``at``, ``kind``, ``masked``): reasons, purposes, comments, descriptions, names, context values,
tool arguments, properties, before and after snapshots, whatever a new event adds. Three rules:

1. a path listed in ``audit.mask_paths`` (dotted from the record's root, ``*`` for any member or item): its
   value becomes ``"***"``;
2. a member whose name says it holds a credential (``remit.audit.secrets.credential_name``: ``password``,
   ``api_key``, ``client_secret``, ``authorization``, ``*_token``, ...): its value becomes ``"***"``, whatever it
   is (a string, a number, a whole object);
3. every other string, member names included, is searched for credentials (``remit.audit.secrets.mask_text``):
   each is replaced in place by ``[masked:<kind>]`` and the rest of the string is kept.

``masked`` lists, sorted, the dotted path of every member changed (one whose name was masked is listed by its
new name). A name masked into one already there gets ``#2``, ``#3``, ... so that no member is lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from remit.audit.secrets import credential_name, mask_text

MASK: Final = "***"
#: the members Remit writes itself, never free text, not walked: the record's envelope, and a decision's verdict
#: (``decision``: booleans, enums, a version number and the ids of the policies that decided)
ENVELOPE: Final = frozenset({"schema", "seq", "id", "at", "kind", "masked", "decision", "latency_us"})

Json = dict[str, Any]

#: strings found clean, so that the vocabulary records repeat (types, names, enums, tool ids) costs one lookup;
#: only clean ones are kept (never a secret), only short ones, and it starts again when full
_CLEAN: set[str] = set()
_CLEAN_MAX: Final = 16_384
_CLEAN_LEN: Final = 256
#: member names found clean, with whether they name a credential (rule 2); the same bounds
_NAMES: dict[str, bool] = {}


def _text(value: str) -> str:
    """``mask_text``, remembering a clean ``value`` (callers check ``_CLEAN`` first)."""
    out = mask_text(value)
    if out is value and len(value) <= _CLEAN_LEN:
        if len(_CLEAN) >= _CLEAN_MAX:
            _CLEAN.clear()
        _CLEAN.add(value)
    return out


def _dotted(path: tuple[str, ...], last: str) -> str:
    return ".".join((*path, last))


@dataclass(frozen=True, slots=True)
class Masker:
    """Masks audit records (see the module). ``paths`` are ``audit.mask_paths``, split at the dots."""

    paths: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def from_paths(cls, paths: Iterable[str]) -> Masker:
        return cls(tuple(tuple(p.split(".")) for p in paths if p))

    def mask(self, record: Json) -> Json:
        """A masked copy of ``record`` (containers copied, the caller's left alone), with ``masked`` listing what
        was replaced, those it listed already included."""
        found: list[str] = []
        out = self._dict({k: v for k, v in record.items() if k not in ENVELOPE}, (), found)
        for key in ENVELOPE.intersection(record):
            out[key] = record[key]
        if found:
            before = record.get("masked")
            out["masked"] = sorted({*found, *(before if isinstance(before, list) else ())})
        return out

    def _dict(self, value: dict[Any, Any], path: tuple[str, ...], found: list[str]) -> Json:
        out: Json = {}
        paths = self.paths
        names, clean = _NAMES, _CLEAN
        renamed = False  #: a name changed: the names after it may meet it
        for key, item in value.items():
            secret = names.get(key)
            if secret is None or renamed:
                name, secret, masked_name = _name(key, out)
                renamed = renamed or name != key
                if masked_name:
                    found.append(_dotted(path, name))
            else:
                name = key
            if paths and self._configured((*path, name)):
                found.append(_dotted(path, name))
                out[name] = MASK
            elif secret and item is not None and item != "":
                found.append(_dotted(path, name))
                out[name] = MASK
            elif isinstance(item, str):
                if item in clean:
                    out[name] = item
                else:
                    masked = _text(item)
                    if masked is not item:
                        found.append(_dotted(path, name))
                    out[name] = masked
            elif isinstance(item, dict):
                out[name] = self._dict(item, (*path, name), found)
            elif isinstance(item, list | tuple):
                out[name] = self._list(item, (*path, name), found)
            else:
                out[name] = item
        return out

    def _list(self, value: list[Any] | tuple[Any, ...], path: tuple[str, ...], found: list[str]) -> list[Any]:
        out: list[Any] = []
        paths = self.paths
        for i, item in enumerate(value):
            if paths and self._configured((*path, str(i))):
                found.append(_dotted(path, str(i)))
                out.append(MASK)
            elif isinstance(item, str):
                masked = item if item in _CLEAN else _text(item)
                if masked is not item:
                    found.append(_dotted(path, str(i)))
                out.append(masked)
            elif isinstance(item, dict):
                out.append(self._dict(item, (*path, str(i)), found))
            elif isinstance(item, list | tuple):
                out.append(self._list(item, (*path, str(i)), found))
            else:
                out.append(item)
        return out

    def _configured(self, path: tuple[str, ...]) -> bool:
        for pattern in self.paths:
            if len(pattern) == len(path) and all(p in ("*", s) for p, s in zip(pattern, path, strict=True)):
                return True
        return False


def _name(key: Any, taken: Json) -> tuple[str, bool, bool]:
    """A member's name as written (a credential in it masked; unique among ``taken``), whether it names a
    credential, and whether a credential was masked in it."""
    if not isinstance(key, str):  # JSON names are text (``{1: ...}`` is written ``{"1": ...}``)
        return _unique(str(key), taken), False, False
    name, secret = mask_text(key), credential_name(key)
    if name is key and len(key) <= _CLEAN_LEN:
        if len(_NAMES) >= _CLEAN_MAX:
            _NAMES.clear()
        _NAMES[key] = secret
    return _unique(name, taken), secret, name is not key


def _unique(name: str, taken: Json) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}#{n}" in taken:
        n += 1
    return f"{name}#{n}"
