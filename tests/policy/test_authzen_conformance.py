"""AuthZEN Authorization API 1.0 conformance over real HTTP: the interop decisions (Todo, API gateway), the
search results (subject, resource, action, IdP) and the 57 certification cases, each case its own test.

Each scenario is set up once per class and database (a class-scoped store and server), so the few hundred
cases cost a few seconds on SQLite and on PostgreSQL. The data lives in ``tests/conformance/data/authzen``
(see its README for how the upstream runners compare; we follow its advice: decisions only, results as sets).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from remit.admin.access import AdminPrincipal, AdminRole
from remit.clock import FrozenClock
from remit.container import Remit
from remit.settings import load_settings
from tests.api.conftest import serve
from tests.policy.conformance import data
from tests.policy.conformance.scenarios import setup_certification, setup_search, setup_todo

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="class", params=DATABASES)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remit]:
    """A wired ``Remit`` on an empty store that lives as long as the test class."""
    home: Path = tmp_path_factory.mktemp("authzen")
    if request.param == "sqlite":
        url = f"sqlite:///{home}/remit.db"
    else:
        database = request.getfixturevalue("_postgres_database")  # the session's, reset as for any test
        database.reset()
        url = database.url
    remit = Remit.from_settings(load_settings(home=home, database_url=url), clock=FrozenClock())
    try:
        yield remit
    finally:
        remit.close()


def _pep_client(remit: Remit) -> Iterator[httpx.Client]:
    """A server over ``remit`` and a client holding a ``pep`` token (what a real PEP would hold)."""
    with serve(remit) as live:
        admin = AdminPrincipal(actor="test:conformance", role=AdminRole.ADMIN)
        _, token = remit.admin_tokens.create(admin, name="conformance pep", role=AdminRole.PEP)
        with live.client(token) as client:
            yield client


def _post(client: httpx.Client, path: str, body: Any) -> Any:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _as_set(results: list[dict[str, str]]) -> set[tuple[tuple[str, str], ...]]:
    return {tuple(sorted(r.items())) for r in results}


# -- Todo and API gateway ---------------------------------------------------------------------------------

TODO = data.cases(data.TODO_DECISIONS, "evaluation")
TODO_BATCH = data.cases(data.TODO_DECISIONS, "evaluations")
GATEWAY = data.cases(data.GATEWAY_DECISIONS, "evaluation")
USER_BY_PID = {pid: u["email"].split("@")[0] for pid, u in data.load(data.TODO_PIP)["users"].items()}


def _todo_id(i: int, case: dict[str, Any]) -> str:
    r = case["request"]
    return f"{i:02d}-{USER_BY_PID[r['subject']['id']]}-{r['action']['name']}-{r['resource']['id']}"


@pytest.fixture(scope="class")
def todo_client(store: Remit) -> Iterator[httpx.Client]:
    setup_todo(store)
    yield from _pep_client(store)


class TestTodoAndGateway:
    @pytest.mark.parametrize("case", TODO, ids=[_todo_id(i, c) for i, c in enumerate(TODO)])
    def test_todo_evaluation(self, todo_client: httpx.Client, case: dict[str, Any]) -> None:
        body = _post(todo_client, "/access/v1/evaluation", case["request"])
        assert body["decision"] is case["expected"], body

    @pytest.mark.parametrize("case", TODO_BATCH, ids=[f"batch-{i}" for i in range(len(TODO_BATCH))])
    def test_todo_evaluations(self, todo_client: httpx.Client, case: dict[str, Any]) -> None:
        body = _post(todo_client, "/access/v1/evaluations", case["request"])
        assert [item["decision"] for item in body["evaluations"]] == [e["decision"] for e in case["expected"]]

    @pytest.mark.parametrize("case", GATEWAY, ids=[_todo_id(i, c) for i, c in enumerate(GATEWAY)])
    def test_gateway_evaluation(self, todo_client: httpx.Client, case: dict[str, Any]) -> None:
        body = _post(todo_client, "/access/v1/evaluation", case["request"])
        assert body["decision"] is case["expected"], body


def test_case_counts() -> None:
    """The issue's totals, so that a shrunken data file cannot pass quietly."""
    counts = (len(TODO), len(TODO_BATCH), len(GATEWAY), len(SUBJECT), len(RESOURCE), len(ACTION), len(CERTIFICATION))
    assert counts == (40, 3, 25, 60, 18, 120, 57)


# -- Search and IdP ---------------------------------------------------------------------------------------

SUBJECT = data.cases(data.SEARCH / "test" / "subject" / "results.json", "evaluation")
RESOURCE = data.cases(data.SEARCH / "test" / "resource" / "results.json", "evaluation")
ACTION = data.cases(data.SEARCH / "test" / "action" / "results.json", "evaluation")
IDP = data.cases(data.IDP_RESULTS, "search")


def _search_id(i: int, case: dict[str, Any]) -> str:
    r = case["request"]
    parts = [r["subject"].get("id"), r.get("action", {}).get("name"), r["resource"].get("id")]
    return f"{i:03d}-" + "-".join(p for p in parts if p)


@pytest.fixture(scope="class")
def search_client(store: Remit) -> Iterator[httpx.Client]:
    setup_search(store)
    yield from _pep_client(store)


class TestSearch:
    @pytest.mark.parametrize("case", SUBJECT, ids=[_search_id(i, c) for i, c in enumerate(SUBJECT)])
    def test_subject_search(self, search_client: httpx.Client, case: dict[str, Any]) -> None:
        body = _post(search_client, "/access/v1/search/subject", case["request"])
        assert _as_set(body["results"]) == _as_set(case["expected"]["results"])

    @pytest.mark.parametrize("case", RESOURCE, ids=[_search_id(i, c) for i, c in enumerate(RESOURCE)])
    def test_resource_search(self, search_client: httpx.Client, case: dict[str, Any]) -> None:
        body = _post(search_client, "/access/v1/search/resource", case["request"])
        assert _as_set(body["results"]) == _as_set(case["expected"]["results"])

    @pytest.mark.parametrize("case", ACTION, ids=[_search_id(i, c) for i, c in enumerate(ACTION)])
    def test_action_search(self, search_client: httpx.Client, case: dict[str, Any]) -> None:
        body = _post(search_client, "/access/v1/search/action", case["request"])
        assert _as_set(body["results"]) == _as_set(case["expected"]["results"])

    @pytest.mark.parametrize("case", IDP, ids=[_search_id(i, c) for i, c in enumerate(IDP)])
    def test_idp_resource_search(self, search_client: httpx.Client, case: dict[str, Any]) -> None:
        body = _post(search_client, "/access/v1/search/resource", case["request"])
        assert _as_set(body["results"]) == _as_set(case["expected"]["results"])

    def test_every_search_result_is_a_permit(self, search_client: httpx.Client) -> None:
        """The spec's expectation of a search: each result fed back into an evaluation is a permit."""
        for case in SUBJECT:
            request = case["request"]
            for result in _post(search_client, "/access/v1/search/subject", request)["results"]:
                single = {"subject": result, "action": request["action"], "resource": request["resource"]}
                assert _post(search_client, "/access/v1/evaluation", single)["decision"] is True


# -- Certification ----------------------------------------------------------------------------------------

CERTIFICATION = data.cases(data.CERTIFICATION, "cases")


@pytest.fixture(scope="class")
def cert_client(store: Remit) -> Iterator[httpx.Client]:
    setup_certification(store)
    yield from _pep_client(store)


class TestCertification:
    @pytest.mark.parametrize("case", CERTIFICATION, ids=[c["id"] for c in CERTIFICATION])
    def test_case(self, cert_client: httpx.Client, case: dict[str, Any]) -> None:
        if case["endpoint"].startswith("/.well-known/"):
            _check_metadata(cert_client, case)
            return
        if case["id"] == "C-4.5.2":
            _check_page_follow_up(cert_client, case)
            return
        for _ in range(case.get("repeat", 1)):
            response = _send(cert_client, case)
            assert response.status_code == case["expected_status"], response.text
            body = response.json()
            if response.status_code != 200:
                assert body["code"] == "invalid_authzen_request" and body["field"] and body["message"], body
                continue
            _check_body(case, body)
            if "X-Request-ID" in case.get("headers", {}):
                assert response.headers["X-Request-ID"] == case["headers"]["X-Request-ID"]


def _send(client: httpx.Client, case: dict[str, Any]) -> httpx.Response:
    headers = dict(case.get("headers", {}))
    if "raw_body" in case:
        headers.setdefault("Content-Type", "application/json")
        return client.post(case["endpoint"], content=case["raw_body"].encode(), headers=headers)
    if "Content-Type" in headers:  # the JSON text, sent under another media type
        return client.post(case["endpoint"], content=json.dumps(case["request"]).encode(), headers=headers)
    return client.post(case["endpoint"], json=case["request"], headers=headers)


def _check_body(case: dict[str, Any], body: dict[str, Any]) -> None:
    expected = case.get("expected_body")
    if "results" in body:  # a search: results of the searched type, a superset of what is required
        results = body["results"]
        wanted = case.get("expect_includes", expected["results"] if expected else [])
        assert _as_set(wanted) <= _as_set(results), results
        if expected is not None:
            assert results == expected["results"]
        searched = case["endpoint"].rsplit("/", 1)[-1]
        for result in results:
            assert set(result) == ({"name"} if searched == "action" else {"type", "id"}), result
            if searched != "action":
                assert result["type"] == case["request"][searched]["type"]
        page = body.get("page")
        assert page is None or isinstance(page["next_token"], str)
    elif "evaluations" in body:
        assert all(isinstance(item["decision"], bool) for item in body["evaluations"])
        if expected is not None:
            assert [item["decision"] for item in body["evaluations"]] == [
                e["decision"] for e in expected["evaluations"]
            ]
        else:  # structure only
            assert len(body["evaluations"]) == len(case["request"]["evaluations"])
    else:
        assert isinstance(body["decision"], bool)
        assert body["context"]["decision_id"].startswith("dec_")
        if expected is not None:
            assert body["decision"] is expected["decision"]


def _check_page_follow_up(client: httpx.Client, case: dict[str, Any]) -> None:
    """C-4.5.2 continues C-4.5.1: follow ``next_token`` to an empty one; the pages together are the full answer."""
    first = next(c for c in CERTIFICATION if c["id"] == "C-4.5.1")
    body = _post(client, first["endpoint"], first["request"])
    assert len(body["results"]) == 1 and body["page"]["next_token"]
    seen = list(body["results"])
    token = body["page"]["next_token"]
    while token:
        request = dict(case["request"], page={"token": token})
        body = _post(client, case["endpoint"], request)
        assert isinstance(body["results"], list) and isinstance(body["page"]["next_token"], str)
        seen += body["results"]
        token = body["page"]["next_token"]
    unpaged = _post(client, case["endpoint"], {k: v for k, v in case["request"].items() if k != "page"})
    assert seen == unpaged["results"] and len(seen) >= 2


def _check_metadata(client: httpx.Client, case: dict[str, Any]) -> None:
    base = str(client.base_url).rstrip("/")
    for suffix, identifier in (("", base), ("/tenant-1", base + "/tenant-1")):
        response = httpx.get(base + case["endpoint"] + suffix)
        assert response.status_code == case["expected_status"]
        assert response.headers["content-type"].startswith("application/json")
        meta = response.json()
        assert meta["policy_decision_point"] == identifier
        assert meta["access_evaluation_endpoint"] == base + "/access/v1/evaluation"
        for key, path in (
            ("access_evaluations_endpoint", "/access/v1/evaluations"),
            ("search_subject_endpoint", "/access/v1/search/subject"),
            ("search_resource_endpoint", "/access/v1/search/resource"),
            ("search_action_endpoint", "/access/v1/search/action"),
        ):
            assert meta[key] == base + path
        assert "signed_metadata" not in meta and "capabilities" not in meta
