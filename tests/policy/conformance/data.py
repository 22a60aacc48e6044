"""Loading ``tests/conformance/data/authzen`` (provenance in its README): missing data fails the run, never skips."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
ROOT = REPO / "tests" / "conformance" / "data" / "authzen"
INTEROP = ROOT / "upstream" / "interop"

TODO_DECISIONS = INTEROP / "authzen-todo-backend" / "test" / "decisions-authorization-api-1_0-02.json"
GATEWAY_DECISIONS = INTEROP / "authzen-api-gateways" / "test-harness" / "test" / "decisions.json"
SEARCH = INTEROP / "authzen-search-demo"
IDP_RESULTS = INTEROP / "authzen-idp" / "test-harness" / "src" / "results.json"
CERTIFICATION = ROOT / "certification-1_0-cases.json"
TODO_PIP = ROOT / "todo-scenario-pip.json"
SEARCH_POLICY = ROOT / "search-scenario-policy.json"


@cache
def load(path: Path) -> Any:
    """A conformance file, parsed. A missing file raises at collection time, which fails the run."""
    if not ROOT.is_dir():
        raise FileNotFoundError(f"the AuthZEN conformance data is missing: expected {ROOT} in the repository")
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def cases(path: Path, key: str) -> list[Any]:
    found: list[Any] = load(path)[key]
    return found
