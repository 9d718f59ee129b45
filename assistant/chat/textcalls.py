"""Tool calls that a model wrote as text instead of using the tool-call field.

Small local models often do. These forms are recognised, for offered tool names only:

- bare JSON: ``{"name": "read_file", "arguments": {"path": "a.py"}}`` (``parameters`` too), its
  quotes possibly HTML-escaped (``{&#34;name&#34;: …}``, as llama-cpp-python's
  ``chatml-function-calling`` template writes them);
- ``<tool_call>{"name": …, "arguments": …}</tool_call>`` (Qwen, Hermes), one or more;
- ``<function=read_file>{"path": "a.py"}</function>`` (Llama 3.1), or with
  ``<parameter=path>a.py</parameter>`` children (Qwen3-Coder);
- ``functions.read_file:\n{"path": "a.py"}`` (the OpenAI tools template's own spelling, which
  small models copy), one or more.

While streaming, ``HoldBack`` decides what may be shown at once: a round's content that
begins (after whitespace) with ``{``, ``<tool_call>``, ``<function=`` or ``functions.`` is held
until the round ends and can be classified; anything else streams immediately.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from assistant.backends import ToolCallRequest

MARKERS = ("{", "<tool_call>", "<function=", "functions.")
_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FUNCTION = re.compile(r"<function=([\w.-]+)>\s*(.*?)\s*(?:</function>|$)", re.DOTALL)
_PARAMETER = re.compile(r"<parameter=([\w.-]+)>\s*(.*?)\s*</parameter>", re.DOTALL)
_NAMESPACED = re.compile(r"^functions\.([\w-]+)\s*:?\s*", re.MULTILINE)


def _from_object(obj: Any, offered: Collection[str]) -> ToolCallRequest | None:
    if not isinstance(obj, dict):
        return None
    if "function" in obj and isinstance(obj["function"], dict):  # {"type": "function", "function": {...}}
        obj = obj["function"]
    if "name" not in obj and isinstance(offered, Mapping):
        return _inferred(obj, offered)
    name = obj.get("name")
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None
    if not isinstance(name, str) or name not in offered or not isinstance(args, dict):
        return None
    return ToolCallRequest(name, args)


def _inferred(arguments: dict[str, Any], schemas: Mapping[str, dict[str, Any]]) -> ToolCallRequest | None:
    """Arguments written without the tool's name (``{"query": "…"}``): the one offered tool that
    takes exactly these (every key one of its parameters, every required one present; of several,
    the one that requires the most of them)."""
    keys = set(arguments)
    fitting = [
        (len(schema.get("required", [])), name)
        for name, schema in schemas.items()
        if set(schema.get("required", [])) <= keys <= set(schema.get("properties", {}))
    ]
    if not fitting:
        return None
    fitting.sort(reverse=True)
    if len(fitting) > 1 and fitting[0][0] == fitting[1][0]:
        return None
    return ToolCallRequest(fitting[0][1], arguments)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if "&#34;" in text or "&quot;" in text:  # quotes HTML-escaped by a chat template
            return _loads(html.unescape(text))
        return None


def _namespaced(text: str, offered: Collection[str]) -> list[ToolCallRequest] | None:
    """``functions.NAME:`` then its JSON arguments (or none), one call after another."""
    heads = list(_NAMESPACED.finditer(text))
    if not heads or heads[0].start() != 0:
        return None
    calls = []
    for head, following in zip(heads, [*heads[1:], None], strict=True):
        body = text[head.end() : following.start() if following else len(text)].strip()
        args = _loads(body) if body else {}
        if head.group(1) not in offered or not isinstance(args, dict):
            return None
        calls.append(ToolCallRequest(head.group(1), args))
    return calls


def parse_text_calls(content: str, offered: Collection[str]) -> list[ToolCallRequest] | None:
    """The tool calls written in ``content``, or ``None`` if it is not (only) tool calls.
    ``offered``: the tools' names, or their JSON schemas by name (then arguments written without
    a name are matched to the one tool that takes them)."""
    text = content.strip()
    if not text or not offered:
        return None
    calls: list[ToolCallRequest] = []
    if text.startswith("<tool_call>"):
        for body in _TOOL_CALL.findall(text):
            call = _from_object(_loads(body), offered)
            if call is None:
                return None
            calls.append(call)
        return calls or None
    if text.startswith("<function="):
        for name, body in _FUNCTION.findall(text):
            if name not in offered:
                return None
            params = _PARAMETER.findall(body)
            if params:
                args: Any = {key: _coerce(value) for key, value in params}
            else:
                args = _loads(body) if body else {}
            if not isinstance(args, dict):
                return None
            calls.append(ToolCallRequest(name, args))
        return calls or None
    if text.startswith("functions."):
        return _namespaced(text, offered)
    if text.startswith("{"):
        obj = _loads(text)
        if isinstance(obj, list):
            found = [_from_object(item, offered) for item in obj]
            return None if not found or any(c is None for c in found) else [c for c in found if c]
        call = _from_object(obj, offered)
        return [call] if call else None
    return None


def _coerce(value: str) -> Any:
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


class HoldBack:
    """Decides, chunk by chunk, what of a round's content can be shown now."""

    def __init__(self, active: bool) -> None:
        self.active = active
        self.buffer = ""
        self.decided: bool | None = None if active else False  # True: holding to the end

    def feed(self, text: str) -> str:
        """Add content; return what may be shown now."""
        if self.decided is False:
            return text
        self.buffer += text
        if self.decided:
            return ""
        head = self.buffer.lstrip()
        if not head:
            return ""
        if any(head.startswith(marker) for marker in MARKERS):
            self.decided = True
            return ""
        if any(marker.startswith(head) for marker in MARKERS):
            return ""  # "<tool" could still become "<tool_call>"
        self.decided = False
        out, self.buffer = self.buffer, ""
        return out

    def finish(self) -> str:
        """The round ended: the held content (to classify, or to show if it is not a call)."""
        out, self.buffer = self.buffer, ""
        return out
