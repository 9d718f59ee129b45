"""Bounded thread pools for blocking work started by requests.

Searches (``/api/v1/search``) and tool calls (the chat loop, ``/tools/call``, ``/mcp``) each run
in a pool of their own instead of the event loop's default one (six threads on two cores), so a
burst of expensive searches cannot starve the file reads, health checks and chats that use the
default pool, nor searches the tool calls. Work in a pool is bounded by its own deadline, and
``run_in`` sets a cancel flag when the awaiting request goes away, which the work checks between
files.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

SEARCHES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="search")
TOOLS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tool")


async def run_in(
    pool: ThreadPoolExecutor, fn: Callable[..., T], /, *args: Any, cancel: threading.Event | None = None, **kwargs: Any
) -> T:
    """Run ``fn`` in ``pool``; if the caller is cancelled, set ``cancel`` so the work stops early."""
    future = asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args, **kwargs))
    try:
        return await future
    except asyncio.CancelledError:
        if cancel is not None:
            cancel.set()
        raise
