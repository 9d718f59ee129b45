"""Real clients against the real server: the seed's JavaScript example under node, its Python
``requests`` example, and ``repo-assistant ask`` in the terminal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fakes.ollama import DONE, FakeOllama
from tests.helpers import Layout

CLIENTS = Path(__file__).parent / "clients"
MODEL = "qwen2.5-coder:7b"


def _script(fake: FakeOllama) -> None:
    tool = {
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "read_file", "arguments": {"path": "src/main.py"}}}],
        }
    }
    answer = [{"message": {"role": "assistant", "content": part}} for part in ("`main()` ", "returns ", "42.")]
    fake.chat_script([tool, DONE], [*answer, DONE])


def test_seed_javascript_streaming_example_under_node(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    node = shutil.which("node")
    assert node, "node is installed by the test setup (.ci/test)"
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    _script(fake_ollama)
    env = {
        **os.environ,
        "CHAT_URL": f"{server.url}/api/v1/chat/completions",
        "CHAT_MODEL": MODEL,
        "CHAT_REPO_PATH": str(layout.repo),
    }
    result = subprocess.run(
        [node, str(CLIENTS / "stream_example.mjs")], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "`main()` returns 42."


def test_seed_python_requests_example(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url)
    _script(fake_ollama)
    env = {
        **os.environ,
        "CHAT_BASE_URL": f"{server.url}/api/v1",
        "CHAT_MODEL": MODEL,
        "CHAT_REPO_PATH": str(layout.repo),
    }
    result = subprocess.run(
        [sys.executable, str(CLIENTS / "requests_example.py")], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Status: healthy"
    assert lines[1] == "Available models: ['llama3.2:3b', 'qwen2.5-coder:7b', 'codellama:7b']"
    assert lines[2] == "`main()` returns 42."


def test_ask_streams_the_answer_and_shows_tool_calls(layout: Layout, fake_ollama: FakeOllama, tmp_path: Path) -> None:
    _script(fake_ollama)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant",
            "ask",
            "What does main return?",
            "--repo",
            str(layout.repo),
            "--ollama-url",
            fake_ollama.url,
            "--model",
            MODEL,
            "--cache-dir",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "`main()` returns 42.\n"
    assert '→ read_file {"path": "src/main.py"}' in result.stderr
    assert "✓ read lines 1-2 of src/main.py" in result.stderr


def test_ask_without_a_model_server_answers_from_search(layout: Layout, tmp_path: Path) -> None:
    from tests.helpers import free_port

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant",
            "ask",
            "what does main return",
            "--repo",
            str(layout.repo),
            "--ollama-url",
            f"http://127.0.0.1:{free_port()}",
            "--cache-dir",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("**Search results, not a model's answer.** Ollama at")
    assert "cannot be reached" in result.stdout and "1. src/main.py:1-2 — `main`" in result.stdout
    assert "no model server answered" in result.stderr and "Traceback" not in result.stderr
