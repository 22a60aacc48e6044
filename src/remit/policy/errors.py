"""Policy errors: bad policy text or entities, with Cedar's message and, where known, the position."""

from __future__ import annotations

from remit.errors import ValidationError


class PolicySyntaxError(ValidationError):
    """Policy text that Cedar cannot parse."""

    code = "policy_syntax_error"

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column  #: 1-based, in characters, of the offending token
        self.source_line: str | None = None  #: the text of that line, when the caller has it (the CLI shows it)
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{message}", field="policies")


class PolicyValidationError(ValidationError):
    """Policies or entities that do not fit the schema."""

    code = "policy_invalid"

    def __init__(self, message: str, problems: list[str] | None = None, *, field: str = "policies") -> None:
        self.problems = problems or [message]
        super().__init__(message, field=field)
