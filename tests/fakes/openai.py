"""A fake OpenAI-compatible server (llama.cpp server, LM Studio, vLLM) on loopback.

It takes the same scripts as ``FakeOllama`` (Ollama-shaped chunks, delays as numbers) and
speaks them as OpenAI SSE: content deltas, tool calls as deltas assembled by index (the
arguments split across two deltas), a finish chunk and a usage chunk, then ``[DONE]``. The same
switches apply (slow, hang, drop_after, down/up), plus ``refuse_stream_with_tools``: like
llama.cpp's server, answer a streamed request that offers tools with 200 and an empty body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .ollama import DONE, FakeOllama, _Handler, _merge

__all__ = ["DONE", "FakeOpenAI"]


class _OpenAIHandler(_Handler):
    owner: FakeOpenAI

    def _encode(self, item: Any) -> bytes:
        return b"data: " + json.dumps(item).encode() + b"\n\n"

    def _finish(self) -> None:
        line = b"data: [DONE]\n\n"
        self.wfile.write(f"{len(line):X}\r\n".encode() + line + b"\r\n")

    def do_GET(self) -> None:
        if self._accept() is None:
            return
        if self.path == "/v1/models":
            data = [
                {"id": m["name"], "object": "model", "created": 1767225600, "owned_by": self.owner.owned_by}
                for m in self.owner.models
            ]
            self._json(200, {"object": "list", "data": data})
        else:
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        body = self._accept()
        if body is None:
            return
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        model = body.get("model", "")
        if self._model_named(model) is None:
            self._json(
                404,
                {
                    "error": {
                        "message": f"model '{model}' not found",
                        "type": "invalid_request_error",
                        "code": "model_not_found",
                    }
                },
            )
            return
        script = self.owner.next_script(body)
        if body.get("stream") and body.get("tools") and self.owner.refuse_stream_with_tools:
            self.owner._scripts.appendleft(script)  # answered when asked again without streaming
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if body.get("stream"):
            self._stream(
                "chat",
                _sse_chunks(model, list(script), bool((body.get("stream_options") or {}).get("include_usage"))),
                "text/event-stream",
            )
        else:
            merged = _merge(model, [c for c in script if isinstance(c, dict)])
            self._json(200, _completion(model, merged))


def _tool_calls_delta(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    deltas = []
    for index, call in enumerate(calls):
        function = call["function"]
        arguments = json.dumps(function.get("arguments", {}))
        half = len(arguments) // 2
        deltas.append(
            {
                "index": index,
                "id": f"call_{index}",
                "type": "function",
                "function": {"name": function["name"], "arguments": arguments[:half]},
            }
        )
        deltas.append({"index": index, "function": {"arguments": arguments[half:]}})
    return deltas


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _sse_chunks(model: str, script: list[Any], include_usage: bool) -> list[Any]:
    out: list[Any] = []
    tool_calls = False
    for item in script:
        if not isinstance(item, dict):
            out.append(item)
            continue
        message = item.get("message") or {}
        if message.get("content"):
            out.append(_chunk(model, {"content": message["content"]}))
        if message.get("tool_calls"):
            tool_calls = True
            out.extend(_chunk(model, {"tool_calls": [delta]}) for delta in _tool_calls_delta(message["tool_calls"]))
        if item.get("done"):
            reason = "tool_calls" if tool_calls else ("length" if item.get("done_reason") == "length" else "stop")
            out.append(_chunk(model, {}, reason))
            if include_usage:
                usage = {
                    "prompt_tokens": item.get("prompt_eval_count", 0),
                    "completion_tokens": item.get("eval_count", 0),
                }
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                out.append(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": 1767225600,
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    }
                )
    return out


def _completion(model: str, merged: dict[str, Any]) -> dict[str, Any]:
    message = merged["message"]
    calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": c["function"]["name"], "arguments": json.dumps(c["function"].get("arguments", {}))},
        }
        for i, c in enumerate(message.get("tool_calls", []))
    ]
    out_message: dict[str, Any] = {"role": "assistant", "content": message.get("content") or None}
    if calls:
        out_message["tool_calls"] = calls
    prompt, completion = merged.get("prompt_eval_count", 0), merged.get("eval_count", 0)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1767225600,
        "model": model,
        "choices": [{"index": 0, "message": out_message, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


@dataclass
class FakeOpenAI(FakeOllama):
    """The fake, speaking the OpenAI API under ``/v1``."""

    refuse_stream_with_tools: bool = False
    owned_by: str = "llamacpp"  # what llama.cpp's server says; "acme" makes it a generic server
    handler: type[_Handler] | None = _OpenAIHandler

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"
