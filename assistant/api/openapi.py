"""What the OpenAPI document cannot learn from the handlers' types.

Litestar derives parameters, request bodies and every JSON success response from the handlers'
signatures (each returns a msgspec ``Struct``, inside ``Envelope`` under /api/v1). What it cannot
know is written here: which error codes (and so statuses) each operation answers with, the
server-sent event streams (``text/event-stream``) beside the JSON a streaming endpoint can also
answer with, that ``repo`` names an absolute path, and constraints checked after decoding. A
schemathesis run (``--checks all``) in the test suite holds the document to the truth.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from litestar.openapi.plugins import JsonRenderPlugin

from assistant.errors import ERROR_CODES

from .envelope import Req

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}


def _object(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


META = _object({"request_id": STRING, "timestamp": STRING}, {"duration_ms": INTEGER})
ERROR_ENVELOPE = _object(
    {
        "success": {"const": False},
        "error": _object(
            {
                "code": {"enum": sorted(ERROR_CODES)},
                "message": STRING,
                "type": STRING,
                "param": NULLABLE_STRING,
                "details": {"type": "array"},
                "doc_url": STRING,
            }
        ),
        "meta": META,
    }
)
OPENAI_ERROR = _object(
    {
        "error": _object(
            {"message": STRING, "type": STRING, "param": NULLABLE_STRING, "code": {"enum": sorted(ERROR_CODES)}}
        )
    }
)
EVENT_STREAM: Schema = {  # one event of the stream (its `data:` line; `: keepalive` comments carry none)
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "description": "a JSON object, or `[DONE]` last"},
        "event": STRING,
        "id": STRING,
    },
    "description": (
        "server-sent events: one `data: <json>` line each, `: keepalive` comments while silent, `data: [DONE]` last"
    ),
}

# codes every operation can answer with, whatever it does: the outer guard's and the unexpected
GUARD = ("forbidden_host", "unauthorized", "internal_error")
BODY = ("invalid_request", "missing_parameter", "invalid_parameter", "payload_too_large")
REPO = ("repo_path_invalid", "access_denied", "repo_path_not_found", "invalid_parameter")
MODEL_SERVER = ("ollama_unavailable", "ollama_error", "ollama_timeout")


@dataclass(frozen=True)
class Operation:
    """What one operation answers besides its typed JSON: its error codes, and whether it
    streams (``"stream"``: events, or the JSON when the client asks for none; ``"only"``: events)."""

    errors: tuple[str, ...]
    stream: str | None = None
    openai: bool = False  # errors as OpenAI error objects (/v1), not envelopes


ABSOLUTE = "^(/.*)?$"  # a repository is named by its absolute path (empty or left out: the default)
EVERY_OR_ABSOLUTE = "^(/.*|\\*)?$"  # search takes * for every allowed root


JSON = "application/json"
SSE = "text/event-stream"
STORE = ("invalid_parameter", "conversations_unavailable")

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("get", "/api/v1/health"): Operation(("forbidden_host", "internal_error")),
    ("get", "/api/v1/status"): Operation(GUARD),
    ("get", "/api/v1/models"): Operation((*GUARD, *MODEL_SERVER)),
    ("post", "/api/v1/models/pull"): Operation(
        (*GUARD, *BODY, "not_supported", "ollama_model_not_found", *MODEL_SERVER), stream="only"
    ),
    ("delete", "/api/v1/models/{name}"): Operation(
        (*GUARD, "missing_parameter", "not_supported", "ollama_model_not_found", *MODEL_SERVER)
    ),
    ("get", "/api/v1/files"): Operation(
        (*GUARD, *REPO, "missing_parameter", "invalid_request", "file_not_found", "not_a_file")
    ),
    ("post", "/api/v1/files/read"): Operation((*GUARD, *BODY, *REPO, "file_not_found", "not_a_file")),
    ("get", "/api/v1/search"): Operation((*GUARD, *REPO, "missing_parameter", "invalid_request", "file_not_found")),
    ("get", "/api/v1/conversations"): Operation((*GUARD, *REPO, "invalid_request", *STORE)),
    ("post", "/api/v1/conversations"): Operation((*GUARD, *BODY, *REPO, *STORE)),
    ("get", "/api/v1/conversations/{conversation_id}"): Operation((*GUARD, "conversation_not_found", *STORE)),
    ("patch", "/api/v1/conversations/{conversation_id}"): Operation((*GUARD, *BODY, "conversation_not_found", *STORE)),
    ("delete", "/api/v1/conversations/{conversation_id}"): Operation((*GUARD, "conversation_not_found", *STORE)),
    ("get", "/api/v1/conversations/{conversation_id}/export"): Operation(
        (*GUARD, "invalid_request", "conversation_not_found", *STORE)
    ),
    ("post", "/api/v1/conversations/{conversation_id}/fork"): Operation(
        (*GUARD, *BODY, "conversation_not_found", *STORE)
    ),
    ("get", "/api/v1/map"): Operation((*GUARD, *REPO, "invalid_request")),
    ("get", "/api/v1/usage"): Operation((*GUARD, "invalid_request", *STORE)),
    ("get", "/api/v1/history"): Operation((*GUARD, *REPO, "invalid_request", "history_unavailable")),
    ("get", "/api/v1/commits/{commit}"): Operation(
        (*GUARD, *REPO, "invalid_request", "history_unavailable", "commit_not_found")
    ),
    ("get", "/api/v1/blame"): Operation(
        (*GUARD, *REPO, "missing_parameter", "invalid_request", "history_unavailable", "file_not_found")
    ),
    ("get", "/api/v1/prompt"): Operation((*GUARD, *REPO, "missing_parameter", "invalid_request")),
    ("post", "/api/v1/tools/call"): Operation((*GUARD, *BODY, *REPO, "tool_not_found", "history_unavailable")),
    ("post", "/api/v1/chat/completions"): Operation(
        (
            *GUARD,
            *BODY,
            *REPO,
            "server_busy",
            "ollama_model_not_found",
            *MODEL_SERVER,
            "conversation_not_found",
            "conversation_busy",
            *STORE,
        ),
        stream="stream",
    ),
    ("get", "/v1/models"): Operation((*GUARD, *MODEL_SERVER), openai=True),
    ("post", "/v1/chat/completions"): Operation(
        (*GUARD, *BODY, *REPO, "server_busy", "ollama_model_not_found", *MODEL_SERVER), openai=True, stream="stream"
    ),
}


def _success(operation: Operation, derived: dict[str, Any]) -> dict[str, Any]:
    """The 200 as Litestar derived it from the handler's type; for a stream, the events beside
    the JSON (Litestar sees ``Stream | X`` and describes only X, with an empty alternative)."""
    if operation.stream is None:
        return derived
    content: dict[str, Any] = {SSE: {"schema": EVENT_STREAM}}
    if operation.stream == "stream":
        schema = derived.get("content", {}).get(JSON, {}).get("schema", {})
        typed = [alternative for alternative in schema.get("oneOf", [schema]) if alternative]
        content[JSON] = {"schema": typed[0] if len(typed) == 1 else {"oneOf": typed}}
    return {"description": "OK", "content": content}


def _responses(operation: Operation, derived: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _success(operation, derived)}
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(operation.errors):
        by_status.setdefault(ERROR_CODES[code].status, []).append(code)
    by_status.setdefault(405, ["method_not_allowed"])
    error_schema = OPENAI_ERROR if operation.openai else ERROR_ENVELOPE
    for status, codes in sorted(by_status.items()):
        responses[str(status)] = {
            "description": "error: " + ", ".join(codes),
            "content": {JSON: {"schema": error_schema}},
        }
    return responses


# constraints of request fields that are checked after decoding (the order of the checks matters:
# an unknown conversation is a 404 whatever its parent_id), so the types cannot state them
CHECKED_LATER: dict[tuple[str, str], Schema] = {("ChatBody", "parent_id"): {"minLength": 1}}


def describe(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every operation's errors, streams and repository paths as the API answers."""
    out = copy.deepcopy(document)
    schemas = out.get("components", {}).get("schemas", {})
    for (name, field_name), extra in CHECKED_LATER.items():
        schemas.get(name, {}).get("properties", {}).get(field_name, {}).update(extra)
    for path, item in out.get("paths", {}).items():
        for method, spec in item.items():
            operation = OPERATIONS.get((method, path))
            if operation is None:
                continue
            spec["responses"] = _responses(operation, spec.get("responses", {}).get("200", {}))
            for parameter in spec.get("parameters", []):
                if parameter.get("name") in ("repo", "repo_path"):
                    parameter["schema"] = {
                        "type": "string",
                        "pattern": EVERY_OR_ABSOLUTE if path == "/api/v1/search" else ABSOLUTE,
                        "description": parameter.get("description", ""),
                    }
    return out


class DescribedJsonRenderPlugin(JsonRenderPlugin):
    """Litestar's JSON rendering of the document, after ``describe``."""

    def __init__(self) -> None:
        super().__init__()
        self._rendered: bytes | None = None

    def render(self, request: Req, openapi_schema: dict[str, Any]) -> bytes:
        if self._rendered is None:
            self._rendered = self.render_json(request, describe(openapi_schema))
        return self._rendered
