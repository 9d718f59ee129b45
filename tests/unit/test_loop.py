"""The tool loop in process, against the scripted backend: what the model is sent, what the
client sees, and the text tool-call forms."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.chat import events as ev
from assistant.chat import loop
from assistant.chat.textcalls import HoldBack, parse_text_calls
from assistant.index import IndexManager
from sandbox import Roots
from tests.helpers import Layout
from tests.scripted import ScriptedBackend, ScriptedServices, text, tools


@pytest.fixture
def services(layout: Layout, tmp_path: Path) -> Iterator[Any]:
    roots = Roots([str(layout.repo)])
    indexes = IndexManager(roots, str(tmp_path / "cache"))
    made: list[ScriptedServices] = []

    def build(*rounds: Any) -> ScriptedServices:
        made.append(ScriptedServices(roots, indexes, ScriptedBackend(*rounds)))
        return made[-1]

    yield build
    indexes.close()
    roots.close()


def run(svc: ScriptedServices, question: str = "What does main return?", **options: Any) -> list[ev.Event]:
    backend = svc.backend
    assert isinstance(backend, ScriptedBackend)
    chat = loop.ChatInput(
        messages=[{"role": "user", "content": question}],
        model=backend.info,
        repo_path=svc.roots.default,
        max_rounds=options.pop("max_rounds", 8),
        **options,
    )

    async def collect() -> list[ev.Event]:
        return [event async for event in loop.run(svc, chat)]

    return asyncio.run(collect())


def test_a_direct_answer_streams_and_ends_with_usage(services: Any) -> None:
    svc = services(text("It returns ", "42."))
    events = run(svc)
    assert [e.text for e in events if isinstance(e, ev.ContentDelta)] == ["It returns ", "42."]
    done = events[-1]
    assert isinstance(done, ev.Done) and done.usage.total_tokens == 5 and not done.rounds_exhausted
    sent = svc.backend.requests[0]
    assert sent.messages[0]["role"] == "system" and "read_file" in sent.messages[0]["content"]
    assert sent.tools and sent.temperature == loop.DEFAULT_TEMPERATURE and sent.max_tokens == loop.DEFAULT_MAX_TOKENS


def test_a_tool_round_runs_the_tool_and_feeds_the_result_back(services: Any) -> None:
    svc = services(tools(("read_file", {"path": "src/main.py"})), text("42."))
    events = run(svc)
    started, finished = [e for e in events if isinstance(e, (ev.ToolStarted, ev.ToolFinished))]
    assert isinstance(finished, ev.ToolFinished) and finished.status == "completed" and started.id == finished.id
    second = svc.backend.requests[1].messages
    assert second[-2]["role"] == "assistant" and second[-2]["tool_calls"][0]["function"]["name"] == "read_file"
    assert second[-1]["role"] == "tool" and "return 42" in second[-1]["content"]


def test_a_tool_call_written_as_text_is_run_and_not_shown(services: Any) -> None:
    svc = services(text('<tool_call>{"name": "list_files", "arguments": {"depth": 1}}</tool_call>'), text("Done."))
    events = run(svc)
    shown = "".join(e.text for e in events if isinstance(e, ev.ContentDelta))
    assert shown == "Done."
    assert [e.name for e in events if isinstance(e, ev.ToolFinished)] == ["list_files"]


def test_the_round_limit_then_a_round_without_tools(services: Any) -> None:
    svc = services(tools(("list_files", {})), tools(("list_files", {"depth": 2})), text("Final."))
    events = run(svc, max_rounds=2)
    assert isinstance(events[-1], ev.Done) and events[-1].rounds_exhausted
    assert [bool(r.tools) for r in svc.backend.requests] == [True, True, False]


@pytest.mark.parametrize(
    "written,names",
    [
        ('{"name": "read_file", "arguments": {"path": "a.py"}}', ["read_file"]),
        ('<tool_call>{"name": "search_files", "arguments": {"query": "x"}}</tool_call>', ["search_files"]),
        ('<function=read_file>{"path": "a.py"}</function>', ["read_file"]),
        ("<function=read_file><parameter=path>a.py</parameter></function>", ["read_file"]),
        ('{"name": "rm_rf", "arguments": {}}', []),
        ('{"answer": 42}', []),
    ],
)
def test_text_tool_call_forms(written: str, names: list[str]) -> None:
    calls = parse_text_calls(written, {"read_file", "search_files", "list_files"}) or []
    assert [c.name for c in calls] == names


def test_hold_back_streams_ordinary_text_and_holds_what_may_be_a_call() -> None:
    plain = HoldBack(active=True)
    assert plain.feed("Hello ") == "Hello " and plain.feed("world") == "world"
    held = HoldBack(active=True)
    assert held.feed('  {"name": ') == "" and held.finish() == '  {"name": '
