"""Settings precedence (flag > env > file > default) and the command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant import __version__
from assistant.cli import main
from assistant.settings import SettingsError, load_settings, normalise_ollama_url
from tests.helpers import Layout, free_port


def test_defaults() -> None:
    s = load_settings({}, environ={}, config=None)
    assert (s.host, s.port, s.backend, s.ollama_url) == ("127.0.0.1", 3000, "ollama", "http://127.0.0.1:11434")
    assert (s.max_concurrent_chats, s.keepalive_seconds, s.max_rounds) == (16, 15.0, 8)
    assert s.repos == (os.getcwd(),)


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('port = 4000\nmodel = "from-file"\nallow_host = ["a.lan", "b.lan"]\nkeepalive_seconds = 3\n')
    env = {"REPO_ASSISTANT_MODEL": "from-env", "REPO_ASSISTANT_ALLOW_ORIGIN": "https://x.example, https://y.example"}
    s = load_settings({"model": "from-flag"}, environ=env, config=str(config))
    assert s.model == "from-flag"
    assert s.port == 4000 and s.keepalive_seconds == 3.0
    assert s.allow_host == ("a.lan", "b.lan")
    assert s.allow_origin == ("https://x.example", "https://y.example")
    s2 = load_settings({}, environ=env, config=str(config))
    assert s2.model == "from-env"
    assert load_settings({}, environ={}, config=str(config)).model == "from-file"


def test_watch_mode_from_flag_env_and_file(tmp_path: Path) -> None:
    assert load_settings({}, environ={}, config=None).watch == "inotify"
    assert load_settings({}, environ={"REPO_ASSISTANT_WATCH": "sweep"}, config=None).watch == "sweep"
    config = tmp_path / "c.toml"
    config.write_text('watch = "sweep"\n')
    assert load_settings({}, environ={}, config=str(config)).watch == "sweep"
    assert load_settings({"watch": "inotify"}, environ={}, config=str(config)).watch == "inotify"


def test_env_lists_and_booleans() -> None:
    s = load_settings(
        {}, environ={"REPO_ASSISTANT_REPO": "/a,/b", "REPO_ASSISTANT_INSECURE": "true", "REPO_ASSISTANT_PORT": "5001"}
    )
    assert s.repo == ("/a", "/b") and s.insecure is True and s.port == 5001


def test_a_config_file_in_the_working_directory_is_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = (
        'host = "0.0.0.0"\ninsecure = true\nallow_origin = ["*"]\nollama_url = "http://evil.example:1"\nport = 4100\n'
    )
    (tmp_path / "repo-assistant.toml").write_text(hostile)
    monkeypatch.chdir(tmp_path)
    s = load_settings({}, environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert (s.host, s.insecure, s.allow_origin, s.port) == ("127.0.0.1", False, (), 3000)
    assert s.ollama_url == "http://127.0.0.1:11434"
    # named, it is read
    assert load_settings({}, environ={}, config="repo-assistant.toml").port == 4100
    other = tmp_path / "other.toml"
    other.write_text("port = 4200\n")
    assert load_settings({}, environ={"REPO_ASSISTANT_CONFIG": str(other)}).port == 4200


def test_the_users_own_config_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    own = tmp_path / "xdg" / "repo-assistant" / "config.toml"
    own.parent.mkdir(parents=True)
    own.write_text('model = "mine"\n')
    assert load_settings({}, environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}).model == "mine"


def test_an_ignored_local_config_is_named_once_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "repo-assistant.toml").write_text('host = "0.0.0.0"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["search", "--repo", str(tmp_path), "--limit", "1", "nothing-matches-this"]) in (0, 1)
    assert caplog.text.count("ignoring ./repo-assistant.toml") == 1 and "--config" in caplog.text
    caplog.clear()
    assert main(["search", "--config", "repo-assistant.toml", "--repo", str(tmp_path), "x"]) in (0, 1)
    assert "ignoring" not in caplog.text


@pytest.mark.parametrize(
    "raw,url",
    [
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("example.com:1234", "http://example.com:1234"),
        ("https://ollama.example", "https://ollama.example:443"),
        ("http://10.0.0.2:11434/", "http://10.0.0.2:11434"),
        ("[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_ollama_host_forms(raw: str, url: str) -> None:
    assert normalise_ollama_url(raw) == url


def test_ollama_host_env_is_honoured_after_our_own() -> None:
    assert load_settings({}, environ={"OLLAMA_HOST": "1.2.3.4:9"}).ollama_url == "http://1.2.3.4:9"
    both = {"OLLAMA_HOST": "1.2.3.4:9", "REPO_ASSISTANT_OLLAMA_URL": "http://5.6.7.8:1"}
    assert load_settings({}, environ=both).ollama_url == "http://5.6.7.8:1"
    assert load_settings({"ollama_url": "9.9.9.9"}, environ=both).ollama_url == "http://9.9.9.9:11434"


@pytest.mark.parametrize(
    "flags,env,message",
    [
        ({"port": 0}, {}, "port"),
        ({}, {"REPO_ASSISTANT_PORT": "abc"}, "REPO_ASSISTANT_PORT"),
        ({"backend": "vllm"}, {}, "backend"),
        ({"max_concurrent_chats": 0}, {}, "max_concurrent_chats"),
        ({"allow_origin": ["*"], "api_key": "k"}, {}, "allow-origin"),
        ({"backend": "openai"}, {}, "--base-url"),
        ({}, {"REPO_ASSISTANT_WATCH": "poll"}, "watch must be one of inotify, sweep"),
        ({"map_tokens": -1}, {}, "map_tokens must be 0"),
        ({}, {"REPO_ASSISTANT_MAP_TOKENS": "100000"}, "map_tokens must be 0"),
    ],
)
def test_bad_settings_name_the_setting(flags: dict[str, object], env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(flags, environ=env, config=None)


def test_bad_config_files(tmp_path: Path) -> None:
    broken = tmp_path / "b.toml"
    broken.write_text("port = = 3")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({}, environ={}, config=str(broken))
    unknown = tmp_path / "u.toml"
    unknown.write_text("prot = 3")
    with pytest.raises(SettingsError, match="unknown key"):
        load_settings({}, environ={}, config=str(unknown))
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings({}, environ={}, config=str(tmp_path / "missing.toml"))


def _cli(
    *args: str, cwd: str | Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )


def test_version_from_both_entry_points() -> None:
    assert _cli("--version").stdout.strip() == f"repo-assistant {__version__}"
    script = Path(sys.executable).parent / "repo-assistant"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"repo-assistant {__version__}"


def test_serve_refuses_public_bind_without_key(layout: Layout) -> None:
    result = _cli("serve", "--host", "0.0.0.0", "--repo", str(layout.repo), "--port", str(free_port()))
    assert result.returncode == 2
    assert "--api-key" in result.stderr


def test_serve_reports_a_bad_setting_without_a_traceback() -> None:
    result = _cli("serve", "--port", "70000")
    assert result.returncode == 2
    assert "port must be" in result.stderr and "Traceback" not in result.stderr


def _wait_ready(url: str, proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


def test_ctrl_c_stops_within_2s_with_a_request_open(layout: Layout, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant",
            "serve",
            "--repo",
            str(layout.repo),
            "--port",
            str(port),
            "--cache-dir",
            str(tmp_path / "c"),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/api/v1/files", proc)
        # a request whose body never finishes keeps a handler waiting
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            b"POST /api/v1/files/read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"path": '
        )
        # a request sent after it is answered: the server has read the first one's head by then
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/files", timeout=10).status_code == 200
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert time.monotonic() - started < 5  # 2 s documented, about 1 s here; room for a busy machine
        sock.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def test_ctrl_c_stops_within_2s_with_a_stream_open(layout: Layout, tmp_path: Path) -> None:
    from tests.fakes.ollama import FakeOllama

    port = free_port()
    with FakeOllama(chunk_delay=5.0) as fake:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "assistant",
                "serve",
                "--repo",
                str(layout.repo),
                "--port",
                str(port),
                "--cache-dir",
                str(tmp_path / "c"),
                "--ollama-url",
                fake.url,
                "--keepalive-seconds",
                "0.2",
            ],
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}/api/v1/health", proc)
            with httpx.stream(
                "POST", f"http://127.0.0.1:{port}/api/v1/models/pull", json={"model": "m"}, timeout=10
            ) as response:
                lines = response.iter_lines()
                assert next(lines).startswith("data: ")
                started = time.monotonic()
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=10)
                assert time.monotonic() - started < 5  # 2 s documented, about 1 s here; room for a busy machine
                rest = [line for line in lines if line.startswith("data: ")]
            # the stream ended cleanly: an error event saying why, then [DONE]
            assert rest[-1] == "data: [DONE]"
            assert '"code":"internal_error"' in rest[-2] and "shutting down" in rest[-2]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_index_command_parses_a_large_repo_with_worker_processes(tmp_path: Path) -> None:
    """More files than the in-thread threshold: parsing goes to the parser processes (which
    must not start the CLI a second time), and a second run reuses the cache."""
    repo = tmp_path / "big"
    repo.mkdir()
    for i in range(100):
        (repo / f"mod_{i:03d}.py").write_text(f"def function_{i}():\n    return {i}\n\n\nclass Class{i}:\n    pass\n")
    result = _cli("index", str(repo), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    assert "files:     100" in result.stdout and "symbols:   200" in result.stdout
    assert "parsed:    100" in result.stdout
    again = _cli("index", str(repo), "--cache-dir", str(tmp_path / "cache"))
    assert "parsed:    0" in again.stdout
    found = _cli("search", "function_42", "--repo", str(repo), "--cache-dir", str(tmp_path / "cache"))
    assert found.returncode == 0 and found.stdout.startswith("mod_042.py:1: [definition function function_42]")


@pytest.mark.parametrize("command", [["serve"], ["index"], ["search", "x"], ["ask", "hi"]])
def test_a_repo_that_does_not_exist_is_one_line_and_exit_2(command: list[str], tmp_path: Path) -> None:
    result = _cli(*command, "--repo", str(tmp_path / "does" / "not" / "exist"), "--cache-dir", str(tmp_path / "c"))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "does/not/exist" in result.stderr


def test_index_search_and_ask_take_repo(layout: Layout, tmp_path: Path) -> None:
    indexed = _cli("index", "--repo", str(layout.repo), "--cache-dir", str(tmp_path / "c"))
    assert indexed.returncode == 0 and "files:" in indexed.stdout
    found = _cli("search", "main", "--repo", str(layout.repo), "--cache-dir", str(tmp_path / "c"))
    assert found.returncode == 0 and "src/main.py" in found.stdout


def test_search_ranks_a_question_and_explains_why(layout: Layout, tmp_path: Path) -> None:
    (layout.repo / "src" / "retry.py").write_text('def backoff(attempt):\n    """Sleep before the next retry."""\n')
    common = ("--repo", str(layout.repo), "--cache-dir", str(tmp_path / "c"))
    found = _cli("search", "how long to sleep before a retry", "--explain", *common)
    assert found.returncode == 0, found.stderr
    first, why = found.stdout.splitlines()[:2]
    assert first.startswith("src/retry.py:1-2: [chunk backoff]")
    assert why.startswith("    file #1, score ") and "body:sleep" in why and "source file" in why
    assert "mode ranked" in found.stderr
    plain = _cli("search", "how long to sleep before a retry", "--mode", "ranked", *common)
    assert "score" not in plain.stdout and plain.stdout.startswith("src/retry.py:1-2:")
    stemmed = _cli("search", "the backoffs", "--explain", *common)  # the name is spelled backoff
    assert "name:backoffs (by stem)" in stemmed.stdout.splitlines()[1], stemmed.stdout


def test_index_says_what_it_parsed_read_from_the_cache_and_skipped(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    for i in range(3):
        (repo / f"m{i}.py").write_text(f"def f{i}():\n    pass\n")
    (repo / "notes.txt").write_text("plain text\n")
    (repo / "logo.bin").write_bytes(b"\x00\x01binary")
    common = ("--cache-dir", str(tmp_path / "cache"))
    first = _cli("index", str(repo), *common).stdout
    assert "parsed:    3 (from the cache: 0; not code, searched as text: 1; skipped as binary: 1)" in first
    again = _cli("index", str(repo), *common).stdout
    assert "parsed:    0 (from the cache: 3; not code, searched as text: 1; skipped as binary: 1)" in again


def test_ask_says_when_the_rounds_ran_out(layout: Layout, tmp_path: Path) -> None:
    from tests.fakes.ollama import FakeOllama

    with FakeOllama() as fake:
        fake.chat_script(
            [
                {
                    "message": {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [{"function": {"name": "list_files", "arguments": {}}}],
                    }
                },
                {"done": True},
            ],
            [{"message": {"role": "assistant", "content": "What I found."}}, {"done": True}],
        )
        result = _cli(
            "ask",
            "what is here?",
            "--repo",
            str(layout.repo),
            "--cache-dir",
            str(tmp_path / "c"),
            "--ollama-url",
            fake.url,
            "--model",
            "qwen2.5-coder:7b",
            "--max-rounds",
            "1",
        )
    assert result.returncode == 0, result.stderr
    assert "ran out of tool rounds (--max-rounds 1)" in result.stderr


def test_the_start_up_block_says_where_what_and_what_to_do(layout: Layout, tmp_path: Path) -> None:
    port = free_port()
    down = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant",
            "serve",
            "--repo",
            str(layout.repo),
            "--port",
            str(port),
            "--cache-dir",
            str(tmp_path / "c"),
            "--ollama-url",
            down,
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/api/v1/files", proc)
        httpx.get(f"http://127.0.0.1:{port}/api/v1/models", timeout=5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert f"http://127.0.0.1:{port}/" in err and str(layout.repo) in err and "indexing in the background" in err
    assert f"Ollama at {down}: not reachable" in err and "ollama serve" in err
    assert "chat answers with search results" in err
    assert "HTTP Request:" not in err  # httpx's request lines stay out of the log


def _banner_and_log(args: list[str]) -> str:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/api/v1/files", proc)
        httpx.post(
            f"http://127.0.0.1:{port}/mcp",
            timeout=5,
            headers={"accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        )
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return err


def test_the_banner_names_the_model_server_as_health_does(layout: Layout, tmp_path: Path) -> None:
    from tests.fakes.openai import FakeOpenAI

    fake = FakeOpenAI().start()  # it says it is llama.cpp, as llama-cpp-python does
    try:
        err = _banner_and_log(
            [
                "--repo",
                str(layout.repo),
                "--cache-dir",
                str(tmp_path / "c"),
                "--backend",
                "openai",
                "--base-url",
                fake.base_url,
            ]
        )
    finally:
        fake.down()
    assert f"model server    llama.cpp at {fake.base_url}: connected" in err
    assert "Terminating session" not in err  # the MCP SDK's line per request is debug, not info


def test_a_port_in_use_is_one_line_before_any_banner(layout: Layout, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli("serve", "--repo", str(layout.repo), "--port", str(port), "--cache-dir", str(tmp_path / "c"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"repo-assistant: port {port} on 127.0.0.1 is in use (another program is listening on it); "
        f"start with another, e.g. --port {port + 1}"
    ]


def test_ask_prints_only_its_own_trace(layout: Layout, tmp_path: Path) -> None:
    from tests.fakes.ollama import FakeOllama

    with FakeOllama() as fake:
        fake.chat_script(
            [
                {
                    "message": {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [{"function": {"name": "list_files", "arguments": {}}}],
                    }
                },
                {"done": True, "done_reason": "stop"},
            ],
            [
                {"message": {"role": "assistant", "content": "It has a src folder."}},
                {"done": True, "done_reason": "stop"},
            ],
        )
        result = _cli(
            "ask",
            "what is here?",
            "--repo",
            str(layout.repo),
            "--cache-dir",
            str(tmp_path / "c"),
            "--ollama-url",
            fake.url,
            "--model",
            "qwen2.5-coder:7b",
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "It has a src folder."
    assert all(line.startswith(("[", "→", "  ✓", "  ✗")) or not line.strip() for line in result.stderr.splitlines()), (
        result.stderr
    )
