"""Reading the files policy commands take: Cedar policy text from files and directories, and JSON documents.

Several policy files are joined into one policy set; a syntax error's position is translated back to the file
and line it came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remit.errors import ValidationError
from remit.explain import json_problem
from remit.policy.errors import PolicySyntaxError

MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PolicySource:
    text: str  #: every file's text, in order, each ending in a newline
    starts: tuple[tuple[Path, int], ...]  #: (file, the line of ``text`` its first line is)

    def locate(self, exc: PolicySyntaxError) -> PolicySyntaxError:
        """The same error, its position (and any position its message names) given as file and line within that
        file."""
        if exc.line is None or not self.starts:
            return exc
        path, line = self._in_file(exc.line)
        detail = exc.message.split(": ", 1)[1] if exc.message.startswith("line ") else exc.message

        def elsewhere(m: re.Match[str]) -> str:
            other, at = self._in_file(int(m.group(2)))
            return f"{m.group(1)}{'' if other == path else f'{other} '}line {at}, column {m.group(3)}"

        detail = _NAMED_POSITION.sub(elsewhere, detail)
        located = PolicySyntaxError(f"{path}: line {line}, column {exc.column}: {detail}")
        located.line, located.column, located.field = line, exc.column, None
        lines = self.text.split("\n")  # as the position counts them
        located.source_line = lines[exc.line - 1] if exc.line <= len(lines) else None
        return located

    def _in_file(self, line: int) -> tuple[Path, int]:
        path, first = next(((p, s) for p, s in reversed(self.starts) if s <= line), self.starts[0])
        return path, line - first + 1


#: a position inside a syntax error's message (``remit.policy.syntax``'s hints: a missing ``;``, an unclosed string)
_NAMED_POSITION = re.compile(r"(\b(?:ends|starts) at )line (\d+), column (\d+)")


def policy_files(paths: Sequence[Path]) -> list[Path]:
    """The files to read: each file as given; a directory stands for its ``*.cedar`` files in name order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.cedar") if p.is_file())
            if not found:
                raise ValidationError(f"{path}: no *.cedar files in this directory", field="policies")
            out.extend(found)
        else:
            out.append(path)
    return out


def read_policies(paths: Sequence[Path]) -> PolicySource:
    parts: list[str] = []
    starts: list[tuple[Path, int]] = []
    line = 1
    for path in policy_files(paths):
        text = read_text(path)
        if not text.endswith("\n"):
            text += "\n"
        starts.append((path, line))
        parts.append(text)
        line += text.count("\n")
    return PolicySource("".join(parts), tuple(starts))


def read_text(path: Path) -> str:
    with path.open("rb") as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValidationError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: not UTF-8 text") from exc


def read_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path}: not valid JSON: {json_problem(exc.msg, exc.doc, exc.pos)}") from None


def read_schema(path: Path | None) -> dict[str, Any] | None:
    """A Cedar JSON schema fragment file, or None."""
    if path is None:
        return None
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValidationError(f"{path}: a Cedar JSON schema is a JSON object", field="schema")
    return data


def read_entities(path: Path) -> list[Any]:
    """A file in Cedar's JSON entity format: an array of ``{uid, attrs, parents}``."""
    data = read_json(path)
    if not isinstance(data, list):
        raise ValidationError(f"{path}: expected a JSON array of entities (Cedar's entity format)", field="entities")
    return data
