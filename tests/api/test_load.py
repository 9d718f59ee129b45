"""As many answers streaming at once as the chats allowed: none waits for a connection to the
model server."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.fakes.ollama import FakeOllama
from tests.helpers import MODEL, Layout, say
from tests.sse import parse

STREAMS = 150  # past httpx's default pool of 100 connections


def test_every_allowed_chat_streams_at_once(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    """Each answer holds its connection to the model server for 8 s; with a pool smaller than the
    chats allowed, the chats past it waited for a connection and timed out (504). The first token
    may take 5 s: 150 chats starting at once on a busy 2-core machine need seconds, and a chat
    that waits for another's connection still waits 8."""
    server = live_server(layout.repo, ollama_url=fake_ollama.url, max_concurrent_chats=STREAMS, first_token_timeout=5.0)
    slow = [{"message": {"role": "assistant", "content": "first "}}, 8.0, *say("last")]
    fake_ollama.chat_script(*[slow for _ in range(STREAMS)])
    body = {"messages": [{"role": "user", "content": "hi"}], "settings": {"model": MODEL, "tool_mode": "manual"}}

    async def one(client: httpx.AsyncClient) -> str:
        response = await client.post(f"{server.url}/api/v1/chat/completions", json=body)
        events, _ = parse(response.text)
        errors = [e for e in events if isinstance(e, dict) and e.get("type") == "error"]
        return (
            "error: " + str(errors)
            if errors
            else "".join(
                e["choices"][0]["delta"].get("content", "") for e in events if isinstance(e, dict) and e.get("choices")
            )
        )

    async def all_at_once() -> list[str]:
        limits = httpx.Limits(max_connections=STREAMS)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            return await asyncio.gather(*(one(client) for _ in range(STREAMS)))

    answers = asyncio.run(all_at_once())
    assert answers == ["first last"] * STREAMS, (
        sum(a != "first last" for a in answers),
        [a for a in answers if a != "first last"][:3],
    )
