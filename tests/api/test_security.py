"""Host allowlist, cross-site refusal, CORS, the API key and the bind rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.settings import SettingsError, check_bind
from tests.helpers import CANARY, Layout, assert_error, make_settings


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:3000", "127.0.0.1.nip.io", "localhost.evil.com", "192.168.1.5:3000", ""]
)
def test_dns_rebinding_hosts_are_refused(client: Any, host: str) -> None:
    response = client.get("/api/v1/files", headers={"Host": host})
    error = assert_error(response, "forbidden_host", "Host")
    assert "--allow-host" in error["message"]


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:9999", "127.0.0.1:3000", "[::1]:3000", "[::1]", "LOCALHOST:1"]
)
def test_local_hosts_are_accepted_on_any_port(client: Any, host: str) -> None:
    assert client.get("/api/v1/files", headers={"Host": host}).status_code == 200


def test_host_check_covers_unknown_routes_and_the_ui(client: Any) -> None:
    assert client.get("/api/v1/nope", headers={"Host": "evil.example"}).json()["error"]["code"] == "forbidden_host"
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 403


def test_allow_host_adds_a_name(layout: Layout, client_for: Any) -> None:
    client = client_for(layout.repo, allow_host=["devbox.lan"])
    assert client.get("/api/v1/files", headers={"Host": "devbox.lan:3000"}).status_code == 200
    assert client.get("/api/v1/files", headers={"Host": "other.lan"}).status_code == 403


def test_cross_site_text_plain_post_is_refused(client: Any, layout: Layout) -> None:
    body = b'{"path": "README.md", "repo_path": "%s"}' % str(layout.repo).encode()
    # what a form or no-cors fetch on another site would send
    response = client.post(
        "/api/v1/files/read",
        content=body,
        headers={"content-type": "text/plain", "origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert 400 <= response.status_code < 500
    assert "Demo repo" not in response.text
    # and even without the fetch-metadata header, the content type alone refuses it
    plain = client.post("/api/v1/files/read", content=body, headers={"content-type": "text/plain"})
    assert_error(plain, "invalid_request", "Content-Type")


def test_cross_site_reads_are_refused_but_ui_navigation_is_not(client: Any) -> None:
    refused = client.get("/api/v1/files", headers={"sec-fetch-site": "cross-site"})
    assert_error(refused, "forbidden_host", "Origin")
    foreign_origin = client.get("/api/v1/files", headers={"origin": "http://localhost:8080"})
    assert_error(foreign_origin, "forbidden_host", "Origin")
    same_origin = client.get(
        "/api/v1/files", headers={"origin": "http://127.0.0.1:3000", "sec-fetch-site": "same-origin"}
    )
    assert same_origin.status_code == 200
    page = client.get("/", headers={"sec-fetch-site": "cross-site"})
    assert page.status_code == 200


def test_no_cors_headers_by_default(client: Any) -> None:
    response = client.get("/api/v1/files", headers={"origin": "http://127.0.0.1:3000"})
    assert not any(h.startswith("access-control-") for h in response.headers)
    preflight = client.options(
        "/api/v1/files/read",
        headers={"origin": "https://app.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_for_an_allowed_origin_only(layout: Layout, client_for: Any) -> None:
    client = client_for(layout.repo, allow_origin=["https://app.example"])
    allowed = client.get("/api/v1/files", headers={"origin": "https://app.example", "sec-fetch-site": "cross-site"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "X-Request-ID" in allowed.headers["access-control-expose-headers"]
    preflight = client.options(
        "/api/v1/files/read",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    other = client.get("/api/v1/files", headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"})
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers


def test_api_key_required_when_set(layout: Layout, client_for: Any) -> None:
    client = client_for(layout.repo, api_key="s3cret")
    missing = client.get("/api/v1/files")
    assert_error(missing, "unauthorized")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_error(client.get("/api/v1/files", headers={"Authorization": "Bearer wrong"}), "unauthorized")
    assert_error(client.get("/api/v1/files", headers={"Authorization": "Basic s3cret"}), "unauthorized")
    assert client.get("/api/v1/files", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert_error(client.get("/api/v1/nope"), "unauthorized")  # unknown routes do not reveal themselves
    assert client.get("/").status_code == 200  # the UI's static files are exempt
    assert client.get("/v1/models").json()["error"]["code"] == "unauthorized"


def test_non_loopback_bind_needs_a_key(layout: Layout) -> None:
    with pytest.raises(SettingsError, match="--api-key"):
        check_bind(make_settings(layout.repo, host="0.0.0.0"))
    check_bind(make_settings(layout.repo, host="0.0.0.0", api_key="k"))
    check_bind(make_settings(layout.repo, host="0.0.0.0", insecure=True))
    check_bind(make_settings(layout.repo, host="127.0.0.2"))
    check_bind(make_settings(layout.repo, host="::1"))


def test_security_headers_on_the_ui(client: Any) -> None:
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "img-src 'self' data:" in csp and "default-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"


def test_real_server_ignores_forwarded_headers(layout: Layout, live_server: Any) -> None:
    server = live_server(layout.repo, api_key="k")
    response = httpx.get(
        f"{server.url}/api/v1/files",
        headers={"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "localhost", "X-Real-IP": "127.0.0.1"},
    )
    assert response.status_code == 401
    rebinding = httpx.get(
        f"{server.url}/api/v1/files", headers={"Host": "attacker.example", "Authorization": "Bearer k"}
    )
    assert rebinding.status_code == 403


def raw_get(
    port: int, target: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes = b""
) -> tuple[int, bytes]:
    """One request with the target sent exactly as written (as ``curl --path-as-is`` does)."""
    import socket

    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


SLASH_FORMS = [
    "//api/v1/{}",
    "///api/v1/{}",
    "/%2Fapi/v1/{}",
    "/%2fapi/v1/{}",
    "/api//v1/{}",
    "//api//v1//{}",
    "/%2F%2Fapi/v1/{}",
]


@pytest.mark.parametrize("form", SLASH_FORMS)
def test_repeated_or_encoded_slashes_do_not_skip_the_api_key(layout: Layout, live_server: Any, form: str) -> None:
    (layout.repo / ".env").write_bytes(CANARY)
    (layout.repo / ".gitignore").write_text(".env\n")
    server = live_server(layout.repo, api_key="s3cret")
    status, body = raw_get(server.port, form.format("files?path=.env&read=true&include_ignored=true"))
    assert status == 401 and CANARY not in body
    status, body = raw_get(server.port, form.replace("api/v1/", "v1/").format("models"))
    assert status == 401 and b'"unauthorized"' in body
    status, _ = raw_get(server.port, form.replace("api/v1/", "").format("mcp"))
    assert status == 401
    # the key still opens the same door, so the refusal is the guard's and not a 404
    status, body = raw_get(
        server.port, form.format("files?path=.env&read=true&include_ignored=true"), {"Authorization": "Bearer s3cret"}
    )
    assert status == 200 and CANARY in body


@pytest.mark.parametrize("form", SLASH_FORMS)
def test_repeated_or_encoded_slashes_do_not_skip_the_cross_site_checks(
    layout: Layout, live_server: Any, fake_ollama: Any, form: str
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    hostile = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}
    status, _ = raw_get(server.port, form.format("models/pull"), hostile, method="POST", body=b'{"model": "x"}')
    assert status == 403
    # without fetch metadata the content type alone refuses it
    status, _ = raw_get(
        server.port, form.format("models/pull"), {"Content-Type": "text/plain"}, method="POST", body=b'{"model": "x"}'
    )
    assert status == 400
    assert not fake_ollama.received("/api/pull")


@pytest.mark.parametrize(
    "target",
    [
        "/__init__.py",
        "/__pycache__/__init__.cpython-311.pyc",
        "/js/%00",
        "/js/",
        "/vendor",
        "/web/index.html",
        "/../README.md",
        "/index.html/x",
    ],
)
def test_only_the_uis_own_files_are_served(layout: Layout, live_server: Any, target: str) -> None:
    import web

    pycache = Path(web.__file__).parent / "__pycache__"
    pycache.mkdir(exist_ok=True)
    server = live_server(layout.repo)
    status, body = raw_get(server.port, target)
    assert status == 404, body
    assert b'"route_not_found"' in body
    assert raw_get(server.port, "/js/main.js")[0] == 200
    assert raw_get(server.port, "//js/main.js")[0] == 200
    assert raw_get(server.port, "/")[0] == 200


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:80@evil.example",
        "localhost:x.evil",
        "localhost:3000:80",
        "127.0.0.1 evil",
        "localhost:",
        "[::1]x:3000",
        "localhost:123456",
    ],
)
def test_host_headers_are_parsed_strictly(client: Any, host: str) -> None:
    assert_error(client.get("/api/v1/files", headers={"Host": host}), "forbidden_host", "Host")


SEPARATORS = ["/", "//", "///", "%2F", "%2f", "/%2F", "%2F/", "/./", "%2F%2F"]


@given(
    lead=st.sampled_from(SEPARATORS),
    seps=st.lists(st.sampled_from(SEPARATORS), min_size=2, max_size=2),
    family=st.sampled_from(
        [("api", "v1", "files?path=.env&read=true&include_ignored=true"), ("v1", "models", ""), ("mcp", "", "")]
    ),
    case=st.sampled_from([str.lower, str.upper, str.title]),
)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_spelling_of_a_protected_path_skips_the_key(
    keyed_server: Any, lead: str, seps: list[str], family: tuple[str, str, str], case: Any
) -> None:
    first, second, rest = family
    target = lead + case(first) + (seps[0] + second if second else "") + (seps[1] + rest if rest else "")
    status, body = raw_get(keyed_server.port, target)
    assert CANARY not in body
    assert status in (400, 401, 404), (target, status)


@pytest.fixture
def keyed_server(layout: Layout, live_server: Any) -> Any:
    (layout.repo / ".env").write_bytes(CANARY)
    (layout.repo / ".gitignore").write_text(".env\n")
    return live_server(layout.repo, api_key="s3cret")
