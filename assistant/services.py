"""The long-lived objects one server (or one CLI command) works with."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from assistant.index import IndexManager
from assistant.settings import Settings
from assistant.tools import ToolContext
from sandbox import Roots


@dataclass
class Services:
    """Built once at start-up and shared by every request."""

    settings: Settings
    roots: Roots
    indexes: IndexManager
    started: float = field(default_factory=time.time)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        mode = None if settings.open_mode == "auto" else settings.open_mode
        roots = Roots(list(settings.repos), mode)  # type: ignore[arg-type]
        return cls(settings=settings, roots=roots, indexes=IndexManager(roots, settings.cache_dir))

    def tool_context(self, repo_path: str | None, read_files: set[str] | None = None) -> ToolContext:
        return ToolContext(self.roots, self.indexes, repo_path, read_files if read_files is not None else set())

    async def aclose(self) -> None:
        self.indexes.close()
        self.roots.close()


def services(request: Any) -> Services:
    """The ``Services`` of the app handling ``request``."""
    return request.app.state["services"]  # type: ignore[no-any-return]
