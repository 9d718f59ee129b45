"""Tool calls that a model wrote as text instead of using the tool-call field.

Small local models often do. Three forms are recognised, for offered tool names only:

- bare JSON: ``{"name": "read_file", "arguments": {"path": "a.py"}}`` (``parameters`` too);
- ``<tool_call>{"name": …, "arguments": …}</tool_call>`` (Qwen, Hermes), one or more;
- ``<function=read_file>{"path": "a.py"}</function>`` (Llama 3.1), or with
  ``<parameter=path>a.py</parameter>`` children (Qwen3-Coder).

While streaming, ``HoldBack`` decides what may be shown at once: a round's content that
begins (after whitespace) with ``{``, ``<tool_call>`` or ``<function=`` is held until the round
ends and can be classified; anything else streams immediately.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from assistant.backends import ToolCallRequest

MARKERS = ("{", "<tool_call>", "<function=")
_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FUNCTION = re.compile(r"<function=([\w.-]+)>\s*(.*?)\s*(?:</function>|$)", re.DOTALL)
_PARAMETER = re.compile(r"<parameter=([\w.-]+)>\s*(.*?)\s*</parameter>", re.DOTALL)


def _from_object(obj: Any, offered: Collection[str]) -> ToolCallRequest | None:
    if not isinstance(obj, dict):
        return None
    if "function" in obj and isinstance(obj["function"], dict):  # {"type": "function", "function": {...}}
        obj = obj["function"]
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


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def parse_text_calls(content: str, offered: Collection[str]) -> list[ToolCallRequest] | None:
    """The tool calls written in ``content``, or ``None`` if it is not (only) tool calls."""
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
    if text.startswith("{"):
        if text.startswith("```"):
            return None
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
