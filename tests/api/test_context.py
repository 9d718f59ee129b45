"""The code given with the question before the first round: its budget, what the stream says
and what the model gets, off at 0, never an ignored or binary file, only new parts later."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.chat import context as code_context
from assistant.index import IndexManager
from sandbox import Roots
from tests.fakes.ollama import FakeOllama
from tests.helpers import Layout, say, stream, wait_ready

QUESTION = "how is the upload bandwidth throttled"


def _throttle_module(name: str, lines: int) -> str:
    body = "".join(f"    chunk_{i} = upload.read(limit)  # throttle the upload bandwidth\n" for i in range(lines))
    return f"def throttle_{name}(upload, limit):\n    '''Throttle the upload bandwidth.'''\n{body}    return upload\n"


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """A repository where a dozen files answer the question, of several sizes."""
    root = tmp_path / "many"
    (root / "src").mkdir(parents=True)
    for i in range(12):
        (root / "src" / f"upload_{i}.py").write_text(_throttle_module(str(i), 5 + 10 * i))
    return root


@pytest.fixture
def gathered(tmp_path: Path) -> Iterator[Any]:
    made: list[tuple[IndexManager, Roots]] = []

    def gather(root: Path, question: str, tokens: int, given: set[tuple[str, int, int]] | None = None) -> Any:
        roots = Roots([str(root)])
        indexes = IndexManager(roots, str(tmp_path / "cache"))
        indexes.build(str(root))
        made.append((indexes, roots))
        with roots.open_repo(str(root)) as repo:
            return code_context.gather(indexes, repo, question, tokens, given)

    yield gather
    for indexes, roots in made:
        indexes.close()
        roots.close()


@pytest.mark.parametrize("context_length", [1024, 2048, 4096, 8192, 32768, 131072, None])
@pytest.mark.parametrize("setting", [256, 2048, 8192])
def test_the_budget_holds_for_every_model_context_length(
    many: Path, gathered: Any, setting: int, context_length: int | None
) -> None:
    budget = code_context.budget(setting, context_length)
    assert budget == (min(setting, context_length // 4) if context_length else setting)
    given = gathered(many, QUESTION, budget)
    assert given.parts, "the question has answers in this repository"
    assert given.tokens == code_context.tokens_of(given.block) <= budget
    for part in given.parts:  # each part as read_file numbers it, from its first line
        assert part.text.splitlines()[1].lstrip().startswith(f"{part.start_line}  ")
        assert part.start_line <= part.end_line


def test_a_larger_budget_gives_more_of_the_code(many: Path, gathered: Any) -> None:
    small, large = gathered(many, QUESTION, 512), gathered(many, QUESTION, 4096)
    assert len(large.parts) > len(small.parts) and large.tokens > small.tokens


def test_ignored_binary_and_vanished_files_are_never_given(tmp_path: Path, gathered: Any) -> None:
    root = tmp_path / "repo"
    (root / "secret").mkdir(parents=True)
    (root / ".gitignore").write_text("secret/\n")
    (root / "secret" / "keys.py").write_text(_throttle_module("secret", 5))
    (root / "blob.bin").write_bytes(b"throttle upload bandwidth\x00" * 50)
    (root / "upload.py").write_text(_throttle_module("kept", 5))
    (root / "gone.py").write_text(_throttle_module("gone", 5))
    roots = Roots([str(root)])
    indexes = IndexManager(roots, str(tmp_path / "cache"), watch="sweep")
    try:
        indexes.build(str(root))
        (root / "gone.py").unlink()  # the index may still hold it: the read through the sandbox does not
        with roots.open_repo(str(root)) as repo:
            given = code_context.gather(indexes, repo, QUESTION, 4096)
    finally:
        indexes.close()
        roots.close()
    assert [p.path for p in given.parts] == ["upload.py"]
    assert "secret" not in given.block and "\x00" not in given.block


def test_parts_the_conversation_holds_are_not_given_again(many: Path, gathered: Any) -> None:
    first = gathered(many, QUESTION, 1024)
    held = code_context.given_in([{"role": "user", "content": code_context.with_context(QUESTION, first)}])
    assert held == {(p.path, p.start_line, p.end_line) for p in first.parts}
    second = gathered(many, QUESTION, 1024, held)
    assert second.parts and not {(p.path, p.start_line, p.end_line) for p in second.parts} & held


def _context_events(events: list[Any]) -> list[dict[str, Any]]:
    return [e for e in events if isinstance(e, dict) and e.get("type") == "context"]


def test_off_with_context_tokens_0(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, context_tokens=0)
    fake_ollama.chat_script(say("It returns 42."))
    events, _, _ = stream(server)
    assert _context_events(events) == []
    sent = fake_ollama.received("/api/chat")[-1].body["messages"]
    assert sent[-1] == {"role": "user", "content": "What does main return?"}


def test_the_context_event_comes_before_the_first_chunk_and_is_what_the_model_got(
    layout: Layout, live_server: Any, fake_ollama: FakeOllama
) -> None:
    server = live_server(layout.repo, ollama_url=fake_ollama.url, context_tokens=300)
    fake_ollama.chat_script(say("It ", "returns 42."))
    events, _, _ = stream(server)
    kinds = [e if isinstance(e, str) else e.get("type") or e.get("object") for e in events]
    assert kinds.index("context") < kinds.index("chat.completion.chunk")
    (given,) = _context_events(events)
    content = fake_ollama.received("/api/chat")[-1].body["messages"][-1]["content"]
    headers = [line for line in content.splitlines() if line.startswith("=== ") and " lines " in line]
    assert headers == [
        f"=== {p['path']} lines {p['start_line']}-{p['end_line']}" + (f" (in {p['symbol']})" if p["symbol"] else "")
        for p in given["parts"]
    ]
    assert 0 < given["tokens"] <= 300


def test_the_prompt_endpoint_shows_the_code_for_a_question(
    layout: Layout, client_for: Any, fake_ollama: FakeOllama
) -> None:
    client = client_for(layout.repo, ollama_url=fake_ollama.url)
    wait_ready(client)
    data = client.get("/api/v1/prompt", params={"q": "What does main return?"}).json()["data"]
    context = data["context"]
    assert context["budget"] == 2048 and 0 < context["tokens"] <= 2048
    assert [(p["path"], p["start_line"], p["end_line"]) for p in context["parts"]] == [("src/main.py", 1, 2)]
    assert context["message"].endswith("What does main return?") and "2      return 42" in context["message"]
    assert client.get("/api/v1/prompt").json()["data"]["context"] is None
    off = client_for(layout.repo, ollama_url=fake_ollama.url, context_tokens=0, cache_dir=str(layout.base / "c2"))
    wait_ready(off)
    assert off.get("/api/v1/prompt", params={"q": "What does main return?"}).json()["data"]["context"] is None
