"""The /api/v1 envelope: success and error bodies, and the exception handler behind them."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, Literal, TypeVar

import anyio
import msgspec
from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import SkipValidation
from litestar.serialization import default_serializer

from assistant.backends.base import valid_value
from assistant.errors import ERROR_CODES, AssistantError, from_sandbox, timestamp
from assistant.services import Services
from assistant.types import SEARCH_MODES
from sandbox import SandboxError

log = logging.getLogger("assistant.api")

_encoder = msgspec.json.Encoder()
_VALID_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
JSON = "application/json"
T = TypeVar("T")
# what writing to a client that went away raises: not an error of ours, logged at debug
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, anyio.BrokenResourceError, anyio.ClosedResourceError)


_ENUMS = {
    "role": "system, user, assistant, tool",
    "tool_mode": "auto, manual",
    "encoding": "utf-8, base64",
    "mode": ", ".join(SEARCH_MODES),
}


def pick_request_id(client_value: str | None) -> str:
    """Echo a client's X-Request-ID (1-128 visible ASCII characters) or make one."""
    if client_value and _VALID_ID.match(client_value):
        return client_value
    return "req_" + secrets.token_hex(12)


def request_state(scope_state: dict[str, Any]) -> tuple[str, float]:
    rid = scope_state.get("request_id") or pick_request_id(None)
    started = scope_state.get("started") or time.perf_counter()
    return rid, started


def meta(scope_state: dict[str, Any], *, with_duration: bool = True) -> dict[str, Any]:
    rid, started = request_state(scope_state)
    out: dict[str, Any] = {"request_id": rid, "timestamp": timestamp()}
    if with_duration:
        out["duration_ms"] = round((time.perf_counter() - started) * 1000)
    return out


def encode(value: Any) -> bytes:
    """JSON bytes; a string that cannot be UTF-8 (a lone surrogate from a model server's tool
    call, say) is written with U+FFFD in its place rather than failing the response."""
    try:
        return _encoder.encode(value)
    except UnicodeEncodeError:
        return _encoder.encode(valid_value(msgspec.to_builtins(value)))


Req = Request[Any, Any, Any]  # a request, whatever its user, auth and state types (we use none)
# a handler's ``svc: Svc`` is given the app's shared objects (as they are: not a value to validate)
Svc = NamedDependency[SkipValidation[Services]]


class Meta(msgspec.Struct):
    """Every envelope's ``meta``: the request's id (echoed from X-Request-ID or made), when it
    was answered, and how long it took."""

    request_id: str
    timestamp: str
    duration_ms: int | msgspec.UnsetType = msgspec.UNSET


class Envelope(msgspec.Struct, Generic[T]):
    """The body of every /api/v1 success: ``{"success": true, "data": ..., "meta": ...}``."""

    success: Literal[True]
    data: T
    meta: Meta


class EnvelopeResponse(Response[Any]):
    """Litestar's response, its JSON written by ``encode`` (lone surrogates survive)."""

    def render(self, content: Any, media_type: str, enc_hook: Any = None) -> bytes:
        if isinstance(content, bytes) or not media_type.startswith(JSON):
            return super().render(content, media_type, enc_hook or default_serializer)
        return encode(content)


def error_body(scope_state: dict[str, Any], error: AssistantError) -> bytes:
    return encode({"success": False, "error": error.to_dict(), "meta": meta(scope_state, with_duration=False)})


def error_payload(path: str, state: dict[str, Any], error: AssistantError) -> bytes:
    """The error body in the shape the route family speaks: OpenAI error objects under /v1."""
    if path.startswith("/v1/") or path == "/v1":
        return encode(
            {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}
        )
    return error_body(state, error)


def ok(request: Req, data: T) -> Envelope[T]:
    """The success envelope around ``data`` (a handler returns it; Litestar writes it through
    ``EnvelopeResponse`` and describes it in the OpenAPI document from the handler's type)."""
    rid, started = request_state(request.scope["state"])
    return Envelope(True, data, Meta(rid, timestamp(), round((time.perf_counter() - started) * 1000)))


def _param_from_validation(exc: ValidationException) -> tuple[str, str, str | None]:
    """(code, message, param) from Litestar's validation error, in the client's spelling."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    if not extra:
        detail = str(exc.detail)
        missing = re.search(r"Missing required (?:query|path|header|cookie) parameter '([^']+)'", detail)
        if missing:
            name = missing.group(1)
            return "missing_parameter", f"`{name}` is required", name
        return "invalid_request", detail, None
    first = extra[0] if isinstance(extra[0], dict) else {}
    key = str(first.get("key") or "")
    message = str(first.get("message") or "invalid value")
    required = re.match(r"Object missing required field `([^`]+)`", message)
    if required:
        name = required.group(1)
        param = name if key in ("", "data") else f"{key}.{name}"
        return "missing_parameter", f"`{param}` is required", param
    if key in ("", "data"):
        return "invalid_request", f"the request body must be a JSON object ({message})", None
    if message.startswith("Invalid enum value"):
        allowed = _ENUMS.get(key.rsplit(".", 1)[-1].split("[")[0])
        if allowed:
            message += f"; allowed: {allowed}"
    return "invalid_parameter", f"invalid value for `{key}`: {message}", key


_AT = re.compile(r"^(.*) - at `\$\.?(.*)`$")


def validation_error(exc: msgspec.ValidationError) -> AssistantError:
    """msgspec's message (``Expected `bool`, got `int` - at `$.stream```) as our error, the field
    named as the client spells it (``settings.temperature``, ``messages[0].role``)."""
    text = str(exc)
    found = _AT.match(text)
    message, where = (found.group(1), found.group(2)) if found else (text, "")
    required = re.match(r"Object missing required field `([^`]+)`", message)
    if required:
        param = f"{where}.{required.group(1)}" if where else required.group(1)
        return AssistantError("missing_parameter", f"`{param}` is required", param=param)
    if not where:
        return AssistantError("invalid_request", f"the request body must be a JSON object ({message})")
    if message.startswith("Invalid enum value"):
        allowed = _ENUMS.get(where.rsplit(".", 1)[-1].split("[")[0])
        if allowed:
            message += f"; allowed: {allowed}"
    return AssistantError("invalid_parameter", f"invalid value for `{where}`: {message}", param=where)


async def strict_body(request: Req, data: T) -> T:
    """The JSON body decoded again without Litestar's lax coercions (``"stream": 0`` or
    ``"max_tokens": "10"`` pass its conversion): a body that does not match the documented
    types exactly is a 400."""
    try:
        return msgspec.json.decode(await request.body(), type=type(data), strict=True)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None


@contextmanager
def sandbox_params(*, path: str | None = "path", repo: str | None = "repo") -> Iterator[None]:
    """Turn a sandbox refusal into our error, naming the parameter as this endpoint's client
    spells it (``repo`` or ``repo_path``, ``path``)."""
    try:
        yield
    except SandboxError as exc:
        raise from_sandbox(exc, path=path, repo=repo) from None


def too_large(limit: int) -> AssistantError:
    return AssistantError("payload_too_large", f"the request body is larger than the limit ({limit:,} bytes)")


def to_assistant_error(exc: Exception, body_limit: int) -> AssistantError:
    """Map anything raised while handling a request to one of our error codes."""
    if isinstance(exc, AssistantError):
        return exc
    if isinstance(exc, SandboxError):
        return from_sandbox(exc)
    if isinstance(exc, ValidationException):
        code, message, param = _param_from_validation(exc)
        return AssistantError(code, message, param=param)
    if isinstance(exc, RecursionError) and "deserializing" in str(exc):  # msgspec, on the client's body
        return AssistantError("invalid_request", "the JSON body is nested too deeply")
    if isinstance(exc, HTTPException):
        status = exc.status_code
        headers = dict(exc.headers or {})
        if status == 404:
            return AssistantError("route_not_found", "no such endpoint; see /api/v1/schema/openapi.json")
        if status == 405:
            allowed = headers.get("allow", headers.get("Allow", ""))
            return AssistantError("method_not_allowed", f"method not allowed here; allowed: {allowed}", headers=headers)
        if status == 413:
            return too_large(body_limit)
        if status == 401:
            return AssistantError("unauthorized", "an API key is required: send Authorization: Bearer <key>")
        if status == 400:
            detail = str(exc.detail)
            if "JSON is malformed" in detail or "malformed" in detail.lower():
                return AssistantError("invalid_request", f"the body is not valid JSON ({detail})")
            return AssistantError("invalid_request", detail)
        if status == 429:
            return AssistantError("server_busy", str(exc.detail), headers=headers)
    if isinstance(exc, CLIENT_GONE):
        log.debug("the client went away: %r", exc)
        return AssistantError("invalid_request", "the client closed the connection")
    log.exception("unexpected error while handling a request", exc_info=exc)
    return AssistantError("internal_error", "an unexpected error occurred; the server log has the details")


def handle_exception(request: Req, exc: Exception) -> Response[bytes]:
    """Litestar exception handler: every failure becomes an envelope (an OpenAI error object
    under /v1)."""
    error = to_assistant_error(exc, request.app.state["services"].settings.max_body_bytes)
    return Response(
        error_payload(request.scope.get("path", ""), request.scope["state"], error),
        status_code=error.status,
        media_type=JSON,
        headers=error.headers,
    )


__all__ = [
    "ERROR_CODES",
    "JSON",
    "Envelope",
    "EnvelopeResponse",
    "Meta",
    "Svc",
    "encode",
    "error_body",
    "handle_exception",
    "meta",
    "ok",
    "pick_request_id",
    "timestamp",
]
