"""The one errors module: every error a client can see, by code.

Hierarchy::

    AssistantError          base: ``code`` (a key of ERROR_CODES), message, param, details, headers
    ├── (raised directly with any code by the API layer and the chat)
    ├── BackendError        the model server failed: ollama_* codes, not_supported
    ├── StoreError          the conversation store refused: conversation_not_found, invalid_parameter
    ├── StoreUnavailable    the store cannot be used now: conversations_unavailable (with the reason)
    ├── StoreInterrupted    the client left while the store worked on its request
    ├── index.QueryError    a search that cannot run: invalid_parameter, ``param`` the query or mode
    └── tools.ToolFailure   a tool could not do what was asked: its ``content`` is still the
                            model's to read (a failed tool call is a result, not a failed request)

    sandbox.SandboxError    the sandbox's refusals (it knows no HTTP): ``code`` and ``param``
                            (the input at fault, ``path`` or ``repo``) like the rest

One exception handler (``api/envelope.py``) maps any of them, by its code, to the HTTP status,
type and envelope; ``sandbox_params`` renames a sandbox error's ``param`` to an endpoint's own
spelling (``repo_path``). ``docs/errors.md`` has an anchor per code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox import SandboxError


@dataclass(frozen=True)
class ErrorKind:
    status: int
    type: str


ERROR_CODES: dict[str, ErrorKind] = {
    "invalid_request": ErrorKind(400, "invalid_request_error"),
    "missing_parameter": ErrorKind(400, "validation_error"),
    "invalid_parameter": ErrorKind(400, "validation_error"),
    "repo_path_invalid": ErrorKind(400, "validation_error"),
    "not_a_file": ErrorKind(400, "invalid_request_error"),
    "not_supported": ErrorKind(400, "invalid_request_error"),
    "unauthorized": ErrorKind(401, "authentication_error"),
    "access_denied": ErrorKind(403, "permission_error"),
    "forbidden_host": ErrorKind(403, "permission_error"),
    "repo_path_not_found": ErrorKind(404, "not_found_error"),
    "file_not_found": ErrorKind(404, "not_found_error"),
    "ollama_model_not_found": ErrorKind(404, "not_found_error"),
    "tool_not_found": ErrorKind(404, "not_found_error"),
    "route_not_found": ErrorKind(404, "not_found_error"),
    "conversation_not_found": ErrorKind(404, "not_found_error"),
    "history_unavailable": ErrorKind(404, "not_found_error"),
    "commit_not_found": ErrorKind(404, "not_found_error"),
    "method_not_allowed": ErrorKind(405, "invalid_request_error"),
    "conversation_busy": ErrorKind(409, "conflict_error"),
    "payload_too_large": ErrorKind(413, "invalid_request_error"),
    "server_busy": ErrorKind(429, "rate_limit_error"),
    "ollama_unavailable": ErrorKind(502, "upstream_error"),
    "ollama_error": ErrorKind(502, "upstream_error"),
    "ollama_timeout": ErrorKind(504, "upstream_error"),
    "conversations_unavailable": ErrorKind(503, "api_error"),
    "internal_error": ErrorKind(500, "api_error"),
}


DOC_PAGE = "/docs/errors.md"  # served, rendered, by this server (api/docs.py)


class AssistantError(Exception):
    """An error shown to the client: its message says what was wrong and what is allowed."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        param: str | None = None,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.details = details or []
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return ERROR_CODES[self.code].status

    @property
    def type(self) -> str:
        return ERROR_CODES[self.code].type

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "type": self.type,
            "param": self.param,
            "details": self.details,
            "doc_url": f"{DOC_PAGE}#{self.code}",
        }


class BackendError(AssistantError):
    """The model server failed (or cannot do what was asked)."""


class StoreError(AssistantError):
    """The conversation store refused a request: an unknown conversation or message, a bad
    title, cursor or query (``conversation_not_found``, ``invalid_parameter``)."""


class StoreUnavailable(AssistantError):
    """The conversation store cannot be used right now: it could not be opened, the disk is
    full, the file was damaged, or another process holds it too long."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            "conversations_unavailable",
            f"conversations are not kept on this server right now ({reason}); chat still works without conversation_id",
        )
        self.reason = reason


class StoreInterrupted(AssistantError):
    """A store request was stopped because the client that asked for it went away."""

    def __init__(self) -> None:
        super().__init__("invalid_request", "the client closed the connection before the answer was ready")


def from_sandbox(exc: SandboxError, *, path: str | None = "path", repo: str | None = "repo") -> AssistantError:
    """A sandbox refusal as our error, naming the parameter as this endpoint's client spells it."""
    return AssistantError(exc.code, exc.message, param=repo if exc.subject == "repo" else path)


def timestamp(at: float | None = None) -> str:
    """ISO 8601 UTC with milliseconds, as every ``timestamp`` field in the API is written."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
