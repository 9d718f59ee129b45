"""The OpenAPI document as the API really answers.

Litestar derives parameters and request bodies from the handlers, but our handlers return
ready-made envelopes (``Response[bytes]``) and streams, so it cannot know the response shapes:
every 200 came out as ``{"type": "string"}`` and every 400 as Litestar's own error shape. This
module writes the responses of each operation from the table below: the envelope around each
endpoint's data, each error status the operation can answer with (its codes named), the
OpenAI shapes under ``/v1``, ``text/event-stream`` for the streams, and the enumerations the
handlers check. A schemathesis run (``--checks all``) in the test suite holds it to the truth.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

from assistant.errors import ERROR_CODES
from assistant.types import SEARCH_MODES

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
NULLABLE_INTEGER: Schema = {"type": ["integer", "null"]}


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


def envelope(data: Schema) -> Schema:
    return _object({"success": {"const": True}, "data": data, "meta": META})


USAGE = _object({"prompt_tokens": INTEGER, "completion_tokens": INTEGER, "total_tokens": INTEGER})
TOOL_RESULT = _object({"content": STRING, "truncated": BOOLEAN})
TOOL_ERROR = _object({"code": STRING, "message": STRING})
MODEL = _object(
    {
        "name": STRING,
        "size": NULLABLE_INTEGER,
        "modified_at": NULLABLE_STRING,
        "digest": NULLABLE_STRING,
        "details": {"type": "object"},
        "capabilities": {"type": "array", "items": STRING},
    }
)
SERVICE = _object(
    {"status": {"enum": ["connected", "busy", "unavailable"]}, "latency_ms": {"type": ["number", "null"]}},
    {"error": STRING},
)
INDEX_STATS = _object(
    {
        "path": STRING,
        "state": {"enum": ["building", "ready"]},
        "progress": NUMBER,
        "files_indexed": INTEGER,
        "symbols": INTEGER,
        "languages": {"type": "object", "additionalProperties": INTEGER},
        "last_indexed": NULLABLE_STRING,
        "index_ms": NULLABLE_INTEGER,
    }
)
ENTRY = _object(
    {
        "name": STRING,
        "path": STRING,
        "type": {"enum": ["file", "directory", "symlink", "other"]},
        "size": NULLABLE_INTEGER,
        "modified_at": NULLABLE_STRING,
    },
    {"undecodable": BOOLEAN},
)
LISTING = _object({"path": STRING, "entries": {"type": "array", "items": ENTRY}, "truncated": BOOLEAN})
FILE = _object(
    {
        "path": STRING,
        "content": STRING,
        "size": INTEGER,
        "modified_at": NULLABLE_STRING,
        "encoding": {"enum": ["utf-8", "base64"]},
        "truncated": BOOLEAN,
        "binary": BOOLEAN,
    },
    {"start_line": INTEGER, "end_line": NULLABLE_INTEGER, "total_lines": NULLABLE_INTEGER},
)
SEARCH_HIT = _object(
    {
        "file": STRING,
        "line": INTEGER,
        "end_line": INTEGER,
        "kind": {"enum": ["definition", "reference", "text", "chunk"]},
        "text": STRING,
        "score": NUMBER,
    },
    {
        "symbol": STRING,
        "symbol_kind": STRING,
        "context_before": STRING,
        "context_after": STRING,
        "why": {"type": "array", "items": STRING},
        "match_line": INTEGER,
        "minified": BOOLEAN,
    },
)
SEARCH = _object(
    {
        "query": STRING,
        "mode": STRING,
        "results": {"type": "array", "items": SEARCH_HIT},
        "total": INTEGER,
        "truncated": BOOLEAN,
        "took_ms": NUMBER,
        "index": _object({"state": {"enum": ["building", "ready"]}, "progress": NUMBER}),
    }
)
TOOL_CALL = _object(
    {
        "name": STRING,
        "arguments": {"type": "object"},
        "status": {"enum": ["completed", "failed"]},
        "result": TOOL_RESULT,
        "duration_ms": INTEGER,
    },
    {"error": TOOL_ERROR},
)
COMPLETION = _object(
    {
        "id": STRING,
        "object": {"const": "chat.completion"},
        "created": INTEGER,
        "model": NULLABLE_STRING,  # null: answered from search, no model server answered
        "content": STRING,
        "finish_reason": {"enum": ["stop", "length"]},
        "tool_calls": {
            "type": "array",
            "items": {
                **TOOL_CALL,
                "required": [*TOOL_CALL["required"], "id"],
                "properties": {**TOOL_CALL["properties"], "id": STRING},
            },
        },
        "usage": USAGE,
    },
    {
        "citations": {"type": "array", "items": {"type": "object"}},
        "sources": {"type": "array", "items": {"type": "object"}},
        "conversation_id": STRING,
        "user_message_id": STRING,
        "message_id": STRING,
        "rounds_exhausted": BOOLEAN,
    },
)
OPENAI_MODELS = _object(
    {
        "object": {"const": "list"},
        "data": {
            "type": "array",
            "items": _object({"id": STRING, "object": {"const": "model"}, "created": INTEGER, "owned_by": STRING}),
        },
    }
)
OPENAI_COMPLETION = _object(
    {
        "id": STRING,
        "object": {"const": "chat.completion"},
        "created": INTEGER,
        "model": STRING,
        "choices": {
            "type": "array",
            "items": _object(
                {
                    "index": INTEGER,
                    "message": _object(
                        {"role": {"const": "assistant"}, "content": NULLABLE_STRING}, {"tool_calls": {"type": "array"}}
                    ),
                    "finish_reason": {"enum": ["stop", "length", "tool_calls"]},
                }
            ),
        },
        "usage": {"type": "object"},
    }
)

# codes every operation can answer with, whatever it does: the outer guard's and the unexpected
GUARD = ("forbidden_host", "unauthorized", "internal_error")
BODY = ("invalid_request", "missing_parameter", "invalid_parameter", "payload_too_large")
REPO = ("repo_path_invalid", "access_denied", "repo_path_not_found", "invalid_parameter")
MODEL_SERVER = ("ollama_unavailable", "ollama_error", "ollama_timeout")


@dataclass(frozen=True)
class Operation:
    """What one operation answers: its success (media type -> schema) and its error codes."""

    success: dict[str, Schema]
    errors: tuple[str, ...]
    openai: bool = False  # errors as OpenAI error objects (/v1), not envelopes
    enums: dict[str, list[str]] = field(default_factory=dict)  # query parameter -> allowed values


ABSOLUTE = "^(/.*)?$"  # a repository is named by its absolute path (empty or left out: the default)


JSON = "application/json"
SSE = "text/event-stream"
STORE = ("invalid_parameter", "conversations_unavailable")
CONVERSATION = _object(
    {
        "id": STRING,
        "title": STRING,
        "repo": NULLABLE_STRING,
        "model": NULLABLE_STRING,
        "created_at": STRING,
        "updated_at": STRING,
        "forked_from": NULLABLE_STRING,
    }
)
MESSAGE = _object(
    {
        "id": STRING,
        "parent_id": NULLABLE_STRING,
        "role": {"enum": ["user", "assistant"]},
        "content": STRING,
        "created_at": STRING,
        "sibling_count": INTEGER,
        "sibling_index": INTEGER,
        "sibling_ids": {"type": "array", "items": STRING},
    },
    {
        "tool_events": {"type": "array", "items": {"type": "object"}},
        "finish_reason": NULLABLE_STRING,
        "usage": {"type": ["object", "null"]},
        "model": NULLABLE_STRING,
        "timings": {"type": ["object", "null"]},
        "error": {"type": ["object", "null"]},
        "citations": {"type": "array", "items": {"type": "object"}},
        "sources": {"type": "array", "items": {"type": "object"}},
    },
)
CONVERSATION_WITH_MESSAGES = {
    **CONVERSATION,
    "required": [*CONVERSATION["required"], "active_id", "messages"],
    "properties": {
        **CONVERSATION["properties"],
        "active_id": NULLABLE_STRING,
        "messages": {"type": "array", "items": MESSAGE},
    },
}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("get", "/api/v1/health"): Operation(
        {
            JSON: envelope(
                _object(
                    {
                        "status": {"enum": ["healthy", "degraded", "unhealthy"]},
                        "version": STRING,
                        "services": _object(
                            {"ollama": SERVICE, "mcp_server": _object({"status": {"enum": ["connected", "disabled"]}})},
                            {
                                "model_server": {"type": "object"},
                                "conversations": _object(
                                    {"status": {"enum": ["ok", "unavailable"]}}, {"error": STRING}
                                ),
                            },
                        ),
                        "index": _object({"repos": INTEGER, "files": INTEGER, "symbols": INTEGER}),
                    }
                )
            )
        },
        ("forbidden_host", "internal_error"),
    ),
    ("get", "/api/v1/status"): Operation(
        {
            JSON: envelope(
                _object(
                    {
                        "version": STRING,
                        "uptime_seconds": NUMBER,
                        "backend": {"type": "object"},
                        "default_model": NULLABLE_STRING,
                        "repos": {"type": "array", "items": INDEX_STATS},
                    }
                )
            )
        },
        GUARD,
    ),
    ("get", "/api/v1/models"): Operation(
        {
            JSON: envelope(
                _object(
                    {"models": {"type": "array", "items": MODEL}, "default_model": NULLABLE_STRING, "can_pull": BOOLEAN}
                )
            )
        },
        (*GUARD, *MODEL_SERVER),
    ),
    ("post", "/api/v1/models/pull"): Operation(
        {SSE: EVENT_STREAM}, (*GUARD, *BODY, "not_supported", "ollama_model_not_found", *MODEL_SERVER)
    ),
    ("delete", "/api/v1/models/{name}"): Operation(
        {JSON: envelope(_object({"model": STRING, "deleted": BOOLEAN}))},
        (*GUARD, "missing_parameter", "not_supported", "ollama_model_not_found", *MODEL_SERVER),
    ),
    ("get", "/api/v1/files"): Operation(
        {JSON: envelope({"anyOf": [LISTING, FILE]})},
        (*GUARD, *REPO, "missing_parameter", "invalid_request", "file_not_found", "not_a_file"),
        enums={"encoding": ["utf-8", "base64"]},
    ),
    ("post", "/api/v1/files/read"): Operation(
        {JSON: envelope(FILE)}, (*GUARD, *BODY, *REPO, "file_not_found", "not_a_file")
    ),
    ("get", "/api/v1/search"): Operation(
        {JSON: envelope(SEARCH)},
        (*GUARD, *REPO, "missing_parameter", "invalid_request", "file_not_found"),
        enums={"mode": list(SEARCH_MODES)},
    ),
    ("get", "/api/v1/conversations"): Operation(
        {
            JSON: envelope(
                _object({"conversations": {"type": "array", "items": CONVERSATION}, "next_cursor": NULLABLE_STRING})
            )
        },
        (*GUARD, *REPO, "invalid_request", *STORE),
    ),
    ("post", "/api/v1/conversations"): Operation(
        {JSON: envelope(CONVERSATION_WITH_MESSAGES)}, (*GUARD, *BODY, *REPO, *STORE)
    ),
    ("get", "/api/v1/conversations/{conversation_id}"): Operation(
        {JSON: envelope(CONVERSATION_WITH_MESSAGES)}, (*GUARD, "conversation_not_found", *STORE)
    ),
    ("patch", "/api/v1/conversations/{conversation_id}"): Operation(
        {JSON: envelope(CONVERSATION_WITH_MESSAGES)}, (*GUARD, *BODY, "conversation_not_found", *STORE)
    ),
    ("delete", "/api/v1/conversations/{conversation_id}"): Operation(
        {JSON: envelope(_object({"id": STRING, "deleted": BOOLEAN}))}, (*GUARD, "conversation_not_found", *STORE)
    ),
    ("get", "/api/v1/conversations/{conversation_id}/export"): Operation(
        {JSON: envelope(_object({"format": {"enum": ["md", "json"]}, "filename": STRING, "content": {}}))},
        (*GUARD, "invalid_request", "conversation_not_found", *STORE),
        enums={"format": ["md", "json"]},
    ),
    ("post", "/api/v1/conversations/{conversation_id}/fork"): Operation(
        {JSON: envelope(CONVERSATION_WITH_MESSAGES)}, (*GUARD, *BODY, "conversation_not_found", *STORE)
    ),
    ("get", "/api/v1/map"): Operation(
        {
            JSON: envelope(
                _object(
                    {
                        "map": STRING,
                        "tokens": INTEGER,
                        "files": {"type": "array", "items": STRING},
                        "index": {"enum": ["building", "ready"]},
                    }
                )
            )
        },
        (*GUARD, *REPO, "invalid_request"),
    ),
    ("get", "/api/v1/prompt"): Operation(
        {JSON: envelope(_object({"prompt": STRING, "variant": STRING, "model": NULLABLE_STRING}))},
        (*GUARD, *REPO, "missing_parameter", "invalid_request"),
        enums={"tool_mode": ["auto", "manual"]},
    ),
    ("post", "/api/v1/tools/call"): Operation({JSON: envelope(TOOL_CALL)}, (*GUARD, *BODY, *REPO, "tool_not_found")),
    ("post", "/api/v1/chat/completions"): Operation(
        {SSE: EVENT_STREAM, JSON: envelope(COMPLETION)},
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
    ),
    ("get", "/v1/models"): Operation({JSON: OPENAI_MODELS}, (*GUARD, *MODEL_SERVER), openai=True),
    ("post", "/v1/chat/completions"): Operation(
        {SSE: EVENT_STREAM, JSON: OPENAI_COMPLETION},
        (*GUARD, *BODY, *REPO, "server_busy", "ollama_model_not_found", *MODEL_SERVER),
        openai=True,
    ),
}


def _responses(operation: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "OK",
            "content": {media: {"schema": schema} for media, schema in operation.success.items()},
        }
    }
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
    """``document`` with every operation's responses (and enumerations) as the API answers."""
    out = copy.deepcopy(document)
    schemas = out.get("components", {}).get("schemas", {})
    for (name, field_name), extra in CHECKED_LATER.items():
        schemas.get(name, {}).get("properties", {}).get(field_name, {}).update(extra)
    for path, item in out.get("paths", {}).items():
        for method, spec in item.items():
            operation = OPERATIONS.get((method, path))
            if operation is None:
                continue
            spec["responses"] = _responses(operation)
            for parameter in spec.get("parameters", []):
                name = parameter.get("name")
                allowed = operation.enums.get(name)
                if allowed is not None:
                    schema = parameter["schema"]
                    parameter["schema"] = {
                        "enum": allowed,
                        **({"default": schema["default"]} if "default" in schema else {}),
                    }
                elif name in ("repo", "repo_path"):
                    parameter["schema"] = {
                        "type": "string",
                        "pattern": ABSOLUTE,
                        "description": parameter.get("description", ""),
                    }
    return out


class DescribedJsonRenderPlugin(JsonRenderPlugin):
    """Litestar's JSON rendering of the document, after ``describe``."""

    def __init__(self) -> None:
        super().__init__()
        self._rendered: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._rendered is None:
            self._rendered = self.render_json(request, describe(openapi_schema))
        return self._rendered
