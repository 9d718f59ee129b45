"""Chat streaming benchmarks against the fake Ollama server, in one run:

- time to first content byte through our server minus the fake server's own time to its
  first chunk (no tools), p50 (target <= 10 ms);
- per-event cost of a 5,000-chunk answer through our stream vs a minimal ASGI app that
  proxies the same fake NDJSON stream into SSE (target <= 1.5x);
- 50 and 500 concurrent streaming chats (--max-concurrent-chats 500): all complete, none mixed
  up; p99 time to first byte.

    python bench/chat.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import PYTHON, free_port, median, ms, p, start, stop
from tests.fakes.ollama import FakeOllama

MODEL = "qwen2.5-coder:7b"
PROXY = """
import json, httpx
UPSTREAM = {upstream!r}
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            await send({{"type": m["type"] + ".complete"}})
            if m["type"] == "lifespan.shutdown":
                return
    body = b""
    while True:
        m = await receive()
        body += m.get("body", b"")
        if not m.get("more_body"):
            break
    request = json.loads(body)
    await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}})
    async with httpx.AsyncClient(timeout=None) as client:
        body = {{"model": request["model"], "messages": request["messages"], "stream": True}}
        async with client.stream("POST", UPSTREAM + "/api/chat", json=body) as r:
            async for line in r.aiter_lines():
                if not line:
                    continue
                chunk = json.loads(line)
                delta = {{"content": chunk["message"]["content"]}}
                choice = {{"index": 0, "delta": delta, "finish_reason": None}}
                event = {{"object": "chat.completion.chunk", "choices": [choice]}}
                frame = b"data: " + json.dumps(event).encode() + b"\\n\\n"
                await send({{"type": "http.response.body", "body": frame, "more_body": True}})
    await send({{"type": "http.response.body", "body": b"data: [DONE]\\n\\n"}})
"""


def first_content(url: str, body: Any, marker: bytes) -> tuple[float, float]:
    """(seconds to the first byte containing ``marker``, seconds to the end)."""
    started = time.perf_counter()
    first = None
    with httpx.stream("POST", url, json=body, timeout=60) as response:
        for raw in response.iter_raw():
            if first is None and marker in raw:
                first = time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


async def concurrent(url: str, n: int) -> tuple[list[float], int]:
    async def one(client: httpx.AsyncClient, i: int) -> tuple[float, bool]:
        question = f"question number {i:03d} " * 4
        body = {
            "messages": [{"role": "user", "content": question}],
            "settings": {"model": MODEL, "tool_mode": "manual"},
        }
        started = time.perf_counter()
        ttfb = None
        text = ""
        async with client.stream("POST", url, json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {") and '"chat.completion.chunk"' in line:
                    if ttfb is None:
                        ttfb = time.perf_counter() - started
                    text += json.loads(line[6:])["choices"][0]["delta"].get("content", "")
        return ttfb or 0.0, text == question

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=n)) as client:
        results = await asyncio.gather(*(one(client, i) for i in range(n)))
    return [r[0] for r in results], sum(1 for r in results if r[1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeOllama(echo_chunks=1) as fake:
        (Path(tmp) / "main.py").write_text("def main():\n    return 42\n")
        port, proxy_port = free_port(), free_port()
        ours = start(
            [
                PYTHON,
                "-m",
                "assistant",
                "serve",
                "--repo",
                tmp,
                "--port",
                str(port),
                "--ollama-url",
                fake.url,
                "--log-level",
                "error",
                "--cache-dir",
                f"{tmp}/cache",
                "--data-dir",
                f"{tmp}/data",
                "--max-concurrent-chats",
                "500",
            ],
            f"http://127.0.0.1:{port}/api/v1/health",
        )
        proxy_file = Path(tmp) / "proxy_app.py"
        proxy_file.write_text(PROXY.format(upstream=fake.url))
        proxy = start(
            [
                PYTHON,
                "-m",
                "uvicorn",
                "proxy_app:app",
                "--port",
                str(proxy_port),
                "--log-level",
                "error",
                "--app-dir",
                tmp,
            ],
            f"http://127.0.0.1:{proxy_port}/",
        )
        try:
            chat_url = f"http://127.0.0.1:{port}/api/v1/chat/completions"
            body = {
                "messages": [{"role": "user", "content": "hello there"}],
                "settings": {"model": MODEL, "tool_mode": "manual"},
            }
            direct = {"model": MODEL, "messages": [{"role": "user", "content": "hello there"}], "stream": True}
            ttfb_ours, ttfb_fake = [], []
            for _ in range(5):
                first_content(chat_url, body, b"hello")
            for _ in range(40):
                ttfb_ours.append(first_content(chat_url, body, b"hello")[0])
                ttfb_fake.append(first_content(f"{fake.url}/api/chat", direct, b"hello")[0])
            print(
                f"time to first content: ours p50 {ms(median(ttfb_ours))}, fake Ollama's own p50 "
                f"{ms(median(ttfb_fake))}"
            )
            print(f"  overhead p50: {ms(median(ttfb_ours) - median(ttfb_fake))} (target <= 10 ms)")

            fake.echo_chunks = 5000
            long_body = {
                "messages": [{"role": "user", "content": "x" * 5000}],
                "settings": {"model": MODEL, "tool_mode": "manual"},
                "model": MODEL,
            }
            ours_t, proxy_t = [], []
            for _ in range(5):
                ours_t.append(first_content(chat_url, long_body, b"x")[1])
                proxy_t.append(
                    first_content(
                        f"http://127.0.0.1:{proxy_port}/", {"model": MODEL, "messages": long_body["messages"]}, b"x"
                    )[1]
                )
            print(
                f"5,000-chunk answer: ours {median(ours_t) * 1000:.0f} ms ({median(ours_t) / 5000 * 1e6:.1f} "
                "us/event), "
                f"minimal proxy {median(proxy_t) * 1000:.0f} ms ({median(proxy_t) / 5000 * 1e6:.1f} us/event)"
            )
            print(f"  ratio: {median(ours_t) / median(proxy_t):.2f}x (target <= 1.5x)")

            fake.echo_chunks = 20
            for n in (50, 500):
                ttfbs, correct = asyncio.run(concurrent(chat_url, n))
                print(
                    f"{n} concurrent streaming chats: {correct}/{n} complete and correct; "
                    f"TTFB p50 {ms(median(ttfbs))}, p99 {ms(p(ttfbs, 0.99))}"
                )
        finally:
            stop(ours)
            stop(proxy)


if __name__ == "__main__":
    main()
