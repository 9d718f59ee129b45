"""The /api/v1 envelope, request ids, and every error code reachable through the files API."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from litestar import get

from assistant.errors import ERROR_CODES
from tests.helpers import TIMESTAMP, Layout, assert_error


def test_success_envelope_shape(client: Any) -> None:
    response = client.get("/api/v1/files")
    body = response.json()
    assert body["success"] is True
    assert set(body["meta"]) == {"request_id", "timestamp", "duration_ms"}
    assert body["meta"]["request_id"] == response.headers["x-request-id"]
    assert response.headers["x-request-id"].startswith("req_")
    assert TIMESTAMP.match(body["meta"]["timestamp"])
    assert isinstance(body["meta"]["duration_ms"], int)
    names = [e["name"] for e in body["data"]["entries"]]
    assert names == ["src", "README.md"]  # directories first, .git hidden
    assert body["data"]["truncated"] is False


def test_client_request_id_is_echoed_and_bad_ones_replaced(client: Any) -> None:
    echoed = client.get("/api/v1/files", headers={"X-Request-ID": "my-trace-42"})
    assert echoed.headers["x-request-id"] == "my-trace-42"
    assert echoed.json()["meta"]["request_id"] == "my-trace-42"
    for bad in ("x" * 129, "has space", "tab\there"):
        response = client.get("/api/v1/files", headers={"X-Request-ID": bad})
        assert response.headers["x-request-id"].startswith("req_")


def test_request_id_on_404_405_and_static(client: Any) -> None:
    not_found = client.get("/api/v1/nope", headers={"X-Request-ID": "abc"})
    assert not_found.headers["x-request-id"] == "abc"
    assert_error(not_found, "route_not_found")
    not_allowed = client.put("/api/v1/files", headers={"X-Request-ID": "def"})
    assert not_allowed.headers["x-request-id"] == "def"
    assert_error(not_allowed, "method_not_allowed")
    assert "GET" in not_allowed.headers["allow"]
    page = client.get("/")
    assert page.status_code == 200 and page.headers["x-request-id"].startswith("req_")


def test_internal_error_has_no_trace_in_body_but_full_one_in_log(
    layout: Layout, client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    client = client_for(layout.repo)
    client.app.register(boom)
    with caplog.at_level(logging.ERROR, logger="assistant.api"):
        response = client.get("/api/v1/boom", headers={"X-Request-ID": "boom-1"})
    assert_error(response, "internal_error")
    assert response.headers["x-request-id"] == "boom-1"
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert "secret internals" in caplog.text and "RuntimeError" in caplog.text


def test_malformed_json_and_wrong_content_type(client: Any, layout: Layout) -> None:
    bad_json = client.post("/api/v1/files/read", content=b'{"path": ', headers={"content-type": "application/json"})
    assert_error(bad_json, "invalid_request")
    not_object = client.post("/api/v1/files/read", json=[1, 2])
    assert_error(not_object, "invalid_request")
    text_plain = client.post(
        "/api/v1/files/read",
        content=b'{"path": "README.md", "repo_path": "%s"}' % str(layout.repo).encode(),
        headers={"content-type": "text/plain"},
    )
    assert_error(text_plain, "invalid_request", "Content-Type")


def test_missing_and_invalid_parameters_name_the_field(client: Any, layout: Layout) -> None:
    repo = str(layout.repo)
    assert_error(client.post("/api/v1/files/read", json={"repo_path": repo}), "missing_parameter", "path")
    default_repo = client.post("/api/v1/files/read", json={"path": "README.md"})  # the first --repo, as documented
    assert default_repo.status_code == 200 and default_repo.json()["data"]["content"].startswith("# Demo repo")
    assert_error(client.post("/api/v1/files/read", json={"path": 3, "repo_path": repo}), "invalid_parameter", "path")
    for value in (0, 10_485_761, "many"):
        body = {"path": "README.md", "repo_path": repo, "max_bytes": value}
        assert_error(client.post("/api/v1/files/read", json=body), "invalid_parameter", "max_bytes")
    for value in ("0", "10485761", "x"):
        assert_error(
            client.get("/api/v1/files", params={"path": "README.md", "read": "1", "max_bytes": value}),
            "invalid_parameter",
            "max_bytes",
        )
    assert_error(client.get("/api/v1/files", params={"read": "maybe"}), "invalid_parameter", "read")
    assert_error(client.get("/api/v1/files", params={"encoding": "latin-1"}), "invalid_parameter", "encoding")
    body = {"path": "README.md", "repo_path": repo, "encoding": "utf-16"}
    assert_error(client.post("/api/v1/files/read", json=body), "invalid_parameter", "encoding")
    body = {"path": "README.md", "repo_path": repo, "start_line": 0}
    assert_error(client.post("/api/v1/files/read", json=body), "invalid_parameter", "start_line")
    body = {"path": "README.md", "repo_path": repo, "start_line": 3, "end_line": 2}
    error = assert_error(client.post("/api/v1/files/read", json=body), "invalid_parameter", "end_line")
    assert "start_line" in error["message"]


def test_sandbox_codes_through_the_api(client: Any, layout: Layout) -> None:
    repo = str(layout.repo)
    assert_error(client.post("/api/v1/files/read", json={"path": "src", "repo_path": repo}), "not_a_file", "path")
    assert_error(
        client.post("/api/v1/files/read", json={"path": "gone.py", "repo_path": repo}), "file_not_found", "path"
    )
    assert_error(client.post("/api/v1/files/read", json={"path": "../x", "repo_path": repo}), "access_denied", "path")
    assert_error(
        client.post("/api/v1/files/read", json={"path": "a\\b", "repo_path": repo}), "invalid_parameter", "path"
    )
    assert_error(
        client.post("/api/v1/files/read", json={"path": "x", "repo_path": "rel"}), "repo_path_invalid", "repo_path"
    )
    assert_error(
        client.post("/api/v1/files/read", json={"path": "x", "repo_path": repo + "/nope"}),
        "repo_path_not_found",
        "repo_path",
    )
    assert_error(
        client.post("/api/v1/files/read", json={"path": "x", "repo_path": "/etc"}), "access_denied", "repo_path"
    )
    assert_error(client.get("/api/v1/files", params={"repo": "/etc"}), "access_denied", "repo")


def test_body_over_one_mebibyte_is_413(client: Any, layout: Layout) -> None:
    big = {"path": "README.md", "repo_path": str(layout.repo), "pad": "x" * (1024 * 1024)}
    assert_error(client.post("/api/v1/files/read", json=big), "payload_too_large")


def test_every_code_is_documented_with_an_anchor() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "errors.md").read_text()
    for code, kind in ERROR_CODES.items():
        assert f'<a id="{code}"></a>' in doc, code
        section = doc.split(f'<a id="{code}"></a>', 1)[1].split('<a id="', 1)[0]
        assert f"`{code}`" in section and str(kind.status) in section and kind.type in section, code


def test_openapi_document_lists_the_endpoints_and_no_cdn_page(client: Any) -> None:
    doc = client.get("/api/v1/schema/openapi.json").json()
    assert "/api/v1/files" in doc["paths"] and "/api/v1/files/read" in doc["paths"]
    for page in ("/api/v1/schema", "/api/v1/schema/redoc", "/api/v1/schema/swagger", "/schema"):
        response = client.get(page)
        assert "cdn" not in response.text.lower() and "<script" not in response.text.lower()


def test_every_doc_url_resolves_on_this_server(client: Any, layout: Layout, client_for: Any) -> None:
    error = client.get("/api/v1/files", params={"path": "../x", "read": "true"}).json()["error"]
    page, _, anchor = error["doc_url"].partition("#")
    rendered = client.get(page)
    assert rendered.status_code == 200 and rendered.headers["content-type"].startswith("text/html")
    for code in ERROR_CODES:
        assert f'<a id="{code}"></a>' in rendered.text, code
    assert anchor == "access_denied" and "<h2><code>access_denied</code>: 403" in rendered.text
    assert "<script" not in rendered.text
    # it is one of the UI's pages: no API key needed for it
    keyed = client_for(layout.repo, api_key="k")
    assert keyed.get(page).status_code == 200


def test_the_documentation_pages_and_their_links_resolve_on_this_server(client: Any) -> None:
    pages = ["errors.md", "api.md", "security.md", "integrations.md"]
    for page in pages:
        rendered = client.get(f"/docs/{page}")
        assert rendered.status_code == 200, page
        assert rendered.headers["content-type"] == "text/html; charset=utf-8"  # one charset
        assert "<script" not in rendered.text
        for target in re.findall(r'href="([^"#:]+\.md)(?:#[^"]*)?"', rendered.text):
            assert client.get(f"/docs/{target}").status_code == 200, (page, target)
    api_page = client.get("/docs/api.md").text
    assert "<table>" in api_page and 'href="errors.md"' in api_page and 'href="security.md"' in api_page
    assert_error(client.get("/docs/secrets.md"), "route_not_found")
