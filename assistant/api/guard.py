"""The outermost ASGI layer: request ids and the checks that keep a local server local.

It runs before routing, so every response (404, 405, 500, SSE and the UI's files included)
carries ``X-Request-ID``, and the checks below apply to routes that do not exist too:

- Host allowlist (DNS rebinding): ``localhost``, ``127.0.0.1``, ``[::1]`` with any port, plus
  ``--allow-host``. Litestar's ``AllowedHostsConfig`` compares ports and answers outside our
  envelope, hence our own.
- Deny by default: every checked decision is made on the path the router routes
  (``litestar.utils.normalize_path``: repeated slashes collapsed, so ``//api/…`` and ``/%2Fapi/…``
  are ``/api/…``). Only the UI's own files (``web/``'s index, CSS, modules and vendored
  libraries, listed once at start-up) are exempt from the checks below; a path that is neither
  one of them nor an API route is a 404 here, so nothing else in the package is ever served.
- Cross-site requests to everything but the UI's files: refused when the browser says so
  (``Sec-Fetch-Site``) or the ``Origin`` is foreign, unless ``--allow-origin`` names it.
- Bodies on POST/PUT/PATCH/DELETE must be ``application/json`` (a cross-site form cannot send
  that without a preflight) and at most the body limit.
- CORS only for ``--allow-origin`` origins (echoed, never ``*`` with a key), preflights included.
- The API key (``Authorization: Bearer``), compared in constant time, on everything but
  ``/api/v1/health`` and the UI's static files.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from litestar.utils import normalize_path

from assistant.errors import AssistantError
from assistant.settings import Settings

from .envelope import error_payload, pick_request_id, too_large

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]"}
_API_ROOTS = ("/api", "/v1", "/mcp", "/metrics")
# a Host header is a name or a bracketed IPv6 address, then at most a numeric port
_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(\d{1,5}))?$")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _repeated_parameter(query: bytes) -> str | None:
    """The first query parameter named twice, if any."""
    if not query:
        return None
    seen: set[str] = set()
    for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            return name
        seen.add(name)
    return None


_AUTH_EXEMPT = {"/api/v1/health"}
CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def _host_name(host: str) -> str | None:
    """The name in a Host header, or ``None`` when it is not ``name[:port]`` exactly
    (``127.0.0.1:80@evil.example`` and ``localhost:x.evil`` are not)."""
    match = _HOST.match(host.strip().lower())
    return match.group(1) if match else None


def _is_api(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in _API_ROOTS)


def static_paths(web_dir: Path) -> frozenset[str]:
    """The URL paths of the UI's own files: ``/``, the page, its CSS, modules and vendored
    libraries. Anything else in the package (``__init__.py``, ``__pycache__``) is not served."""
    paths = {"/"}
    for pattern in ("*.html", "*.css", "js/*.js", "vendor/*"):
        paths.update("/" + p.relative_to(web_dir).as_posix() for p in web_dir.glob(pattern) if p.is_file())
    return frozenset(paths)


class Guard:
    """ASGI middleware wrapping the whole application (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        static: frozenset[str],
        methods: Callable[[str], list[str]] | None = None,
    ) -> None:
        """``methods``: the HTTP methods of a route, by its path template (for ``Allow``)."""
        self.app = app
        self.methods = methods
        self.settings = settings
        self.static = static
        self.allowed_hosts = _LOCAL_HOSTS | {_host_name(h) or h.strip().lower() for h in settings.allow_host}
        self.allowed_origins = {o.rstrip("/").lower() for o in settings.allow_origin}
        self.api_key = settings.api_key.encode() if settings.api_key else None
        self.max_body = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = pick_request_id(headers.get("x-request-id"))
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        state["started"] = time.perf_counter()
        path = normalize_path(scope.get("path", ""))  # the path the router will route
        static = path in self.static
        origin = headers.get("origin")
        cors_origin = self._cors_origin(origin)
        extra = [(b"x-request-id", rid.encode()), (b"x-content-type-options", b"nosniff")]
        if cors_origin:
            extra += [
                (b"access-control-allow-origin", cors_origin.encode()),
                (b"vary", b"Origin"),
                (b"access-control-expose-headers", b"X-Request-ID, Retry-After"),
            ]
        if not _is_api(path):
            extra += [(b"content-security-policy", CSP.encode()), (b"referrer-policy", b"no-referrer")]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers_out = message.get("headers", [])
                if scope.get("method") == "OPTIONS" and self.methods is not None and "path_template" in scope:
                    # Litestar's own OPTIONS answer names only the first method of a path whose
                    # handlers were registered one by one; the route knows them all
                    allowed = ", ".join(sorted(self.methods(scope["path_template"])))
                    headers_out = [(k, v) for k, v in headers_out if k.lower() != b"allow"]
                    headers_out.append((b"allow", allowed.encode()))
                message["headers"] = [*headers_out, *extra]
            await send(message)

        if (
            scope["type"] == "http"
            and scope.get("method") == "OPTIONS"
            and cors_origin
            and "access-control-request-method" in headers
        ):
            await self._preflight(send_with_headers)
            return
        error = self._check(scope, headers, path, static, origin, cors_origin)
        if error is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = error_payload(path, state, error)
            out = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            out += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
            await send_with_headers({"type": "http.response.start", "status": error.status, "headers": out})
            await send_with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)

    def _cors_origin(self, origin: str | None) -> str | None:
        if not origin or not self.allowed_origins:
            return None
        if "*" in self.allowed_origins:
            return "*"
        return origin if origin.rstrip("/").lower() in self.allowed_origins else None

    async def _preflight(self, send: Send) -> None:
        headers = [
            (b"access-control-allow-methods", b"GET, POST, PATCH, DELETE, OPTIONS"),
            (b"access-control-allow-headers", b"Authorization, Content-Type, X-Request-ID, X-Repo-Path"),
            (b"access-control-max-age", b"600"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _check(
        self,
        scope: Scope,
        headers: dict[str, str],
        path: str,
        static: bool,
        origin: str | None,
        cors_origin: str | None,
    ) -> AssistantError | None:
        host = headers.get("host", "")
        name = _host_name(host)
        if name not in self.allowed_hosts:
            shown = host or "(none)"
            return AssistantError(
                "forbidden_host",
                f"Host header {shown!r} is not allowed; "
                f"start the server with --allow-host {name or 'NAME'} to accept it",
                param="Host",
            )
        if static:
            return None
        if cors_origin is None and self._cross_site(headers, host, origin):
            return AssistantError(
                "forbidden_host",
                "cross-site requests are refused; start the server with --allow-origin ORIGIN to allow that origin",
                param="Origin",
            )
        method = scope.get("method", "GET")
        if self.api_key is not None and path not in _AUTH_EXEMPT and not (method == "OPTIONS" and cors_origin):
            supplied = headers.get("authorization", "")
            scheme, _, token = supplied.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.api_key):
                return AssistantError(
                    "unauthorized",
                    "an API key is required: send Authorization: Bearer <key>",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        if method in _BODY_METHODS:
            length = headers.get("content-length")
            has_body = "transfer-encoding" in headers or (length is not None and length.strip() not in ("", "0"))
            if has_body:
                media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if media != "application/json":
                    return AssistantError(
                        "invalid_request",
                        f"request bodies must be sent as Content-Type: application/json (got {media or 'none'})",
                        param="Content-Type",
                    )
                if length is not None and length.strip().isdigit() and int(length) > self.max_body:
                    return too_large(self.max_body)
        if not _is_api(path):
            return AssistantError(
                "route_not_found", "no such endpoint or file; the API is described at /api/v1/schema/openapi.json"
            )
        repeated = _repeated_parameter(scope.get("query_string", b""))
        if repeated is not None:  # no parameter takes a list: which value was meant is a guess
            return AssistantError("invalid_parameter", f"`{repeated}` is given more than once", param=repeated)
        return None

    @staticmethod
    def _cross_site(headers: dict[str, str], host: str, origin: str | None) -> bool:
        if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return True
        if origin is None:
            return False
        own = origin.split("://", 1)[-1].rstrip("/").lower()
        return own != host.lower()
