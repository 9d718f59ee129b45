"""System prompt templates (the .txt files beside this module) and their renderer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

Variant = Literal["auto", "manual", "text_tools"]
VARIANTS: tuple[Variant, ...] = ("auto", "manual", "text_tools")
_DIR = Path(__file__).parent


@cache
def template(variant: Variant) -> str:
    return (_DIR / f"system_{variant}.txt").read_text(encoding="utf-8")


@dataclass(frozen=True)
class PromptTool:
    """What the prompt says about one tool (taken from the tool registry)."""

    name: str
    description: str
    schema: dict[str, Any]

    def signature(self) -> str:
        props = self.schema.get("properties", {})
        required = set(self.schema.get("required", []))
        args = ", ".join(name if name in required else f"{name}?" for name in props)
        return f"- {self.name}({args}): {self.description}"


def render(variant: Variant, repo_name: str, overview: str, tools: list[PromptTool]) -> str:
    """Fill a template. ``overview`` is a few lines about the repository."""
    tool_list = "\n".join(tool.signature() for tool in tools)
    schemas = "\n".join(
        f"- {t.name}: {t.description}\n  arguments: {json.dumps(t.schema, separators=(',', ':'))}" for t in tools
    )
    return (
        template(variant)
        .format(repo_name=repo_name, overview=overview, tool_list=tool_list, tool_schemas=schemas)
        .strip()
        + "\n"
    )


__all__ = ["VARIANTS", "PromptTool", "Variant", "render", "template"]
