"""The long-lived objects one server (or one CLI command) works with."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from assistant.settings import Settings
from sandbox import Roots


@dataclass
class Services:
    """Built once at start-up and shared by every request."""

    settings: Settings
    roots: Roots
    started: float = field(default_factory=time.time)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        mode = None if settings.open_mode == "auto" else settings.open_mode
        return cls(settings=settings, roots=Roots(list(settings.repos), mode))  # type: ignore[arg-type]

    async def aclose(self) -> None:
        self.roots.close()


def services(request: Any) -> Services:
    """The ``Services`` of the app handling ``request``."""
    return request.app.state["services"]  # type: ignore[no-any-return]
