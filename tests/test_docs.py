"""The docs say what the code does: counts, codes and required settings checked against the code itself."""

from __future__ import annotations

import re
from pathlib import Path

from remit.admin.access import AdminRole
from remit.policy.authzen import InvalidAuthZenRequest
from remit.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else None]


def test_concepts_count_the_admin_roles_there_are() -> None:
    text = read("concepts.md")
    counted = re.findall(r"one of (\w+) \*\*admin roles\*\*", text)
    assert counted == [NUMBERS[len(AdminRole)]]
    for role in AdminRole:
        assert f"`{role.value}`" in section(text, "## Admin roles")


def test_the_api_error_table_names_the_authzen_code() -> None:
    table = section(read("api.md"), "## Errors")
    row = next(line for line in table.splitlines() if "AuthZEN" in line)
    assert f"`{InvalidAuthZenRequest.code}`" in row
    assert "`bad_request` | an audit filter Remit cannot use (see [Audit API](#audit-api)); a malformed" not in table


def test_the_postgresql_setup_names_the_key_encryption_key() -> None:
    setup = section(read("deployment.md"), "## Several servers on PostgreSQL")
    assert "key_encryption_key" in Settings.model_fields  # the setting the doc names exists
    assert "REMIT_KEY_ENCRYPTION_KEY" in setup
    assert "refuses to start" in setup


def test_backups_cover_the_key_encryption_key_and_nothing_is_promised_for_later() -> None:
    deployment = read("deployment.md")
    backups = section(deployment, "## Backups")
    assert "key-encryption key" in backups and "keys/kek" in backups
    for stale in ("Later milestones", "zero until it exists", "Everything Remit knows is in its database"):
        assert stale not in deployment, stale


def test_the_api_doc_says_where_the_routes_are() -> None:
    intro = read("api.md").split("## Authentication")[0]
    assert "every route except the health checks is under `/v1`" not in intro
    for prefix in ("`/v1`", "`/access/v1`", "`/oauth/...`", "`/.well-known/...`"):
        assert prefix in intro
