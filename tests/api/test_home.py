"""``GET /`` points to what the server offers; ``/docs`` and ``/redoc`` work with no way out to the internet."""

from __future__ import annotations

import re

import httpx

from remit import __version__
from tests.api.conftest import LiveServer

#: every URL a page loads: src= and href= attributes, and the url: / spec-url values the scripts are given
REFERENCED = re.compile(r"""(?:src|href|url|spec-url)\s*[=:]\s*['"]([^'"]+)['"]""")


def test_the_index_links_to_the_docs_metadata_and_probes_and_each_link_answers(live: LiveServer) -> None:
    with live.client() as client:
        response = client.get("/")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["name"] == "Remit" and body["version"] == __version__
        links = body["links"]
        assert links["docs"] == "/docs"
        assert links["authzen_configuration"] == "/.well-known/authzen-configuration"
        assert links["openapi"] == "/openapi.json"
        for name, path in links.items():
            assert client.get(path).status_code == 200, name


def test_a_browser_gets_a_page_with_the_same_links(live: LiveServer) -> None:
    with live.client() as client:
        page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        links = client.get("/").json()["links"]
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for path in links.values():
        assert f'href="{path}"' in page.text


def _assets_of(client: httpx.Client, page: str) -> list[str]:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return REFERENCED.findall(response.text)


def test_swagger_ui_loads_only_from_this_server(live: LiveServer) -> None:
    with live.client() as client:
        urls = _assets_of(client, "/docs")
        assert "/openapi.json" in urls
        assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
        assert any(url.endswith("swagger-ui.css") for url in urls)
        for url in urls:
            assert url.startswith("/"), f"/docs loads {url} from elsewhere"
            assert client.get(url).status_code == 200, url
        script = client.get(next(url for url in urls if url.endswith(".js")))
        assert "javascript" in script.headers["content-type"]
        assert "SwaggerUIBundle" in script.text
        # Swagger UI 5 renders OpenAPI 3.1, which is what FastAPI writes (4.x refuses it)
        assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
        assert re.search(r'"5\.\d+\.\d+"', script.text)


def test_redoc_loads_only_from_this_server(live: LiveServer) -> None:
    with live.client() as client:
        urls = _assets_of(client, "/redoc")
        assert any(url.endswith("redoc.standalone.js") for url in urls)
        for url in urls:
            assert url.startswith("/"), f"/redoc loads {url} from elsewhere"
            assert client.get(url).status_code == 200, url


def test_the_openapi_summary_names_what_the_server_does(live: LiveServer) -> None:
    with live.client() as client:
        summary = client.get("/openapi.json").json()["info"]["summary"]
    for part in ("registry", "AuthZEN", "token", "audit"):
        assert part in summary
    paths = client_paths(live)
    assert "/" not in paths and "/docs" not in paths  # the front door is not part of the API


def client_paths(live: LiveServer) -> set[str]:
    with live.client() as client:
        return set(client.get("/openapi.json").json()["paths"])
