"""GET /api/v1/events under real uvicorn: every event type from its real cause, resume with
Last-Event-ID, a client that reads nothing, the limit of 64 clients, and the guard."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.bus import QUEUE
from tests.fakes.ollama import FakeOllama
from tests.helpers import Layout, wait_until


class Follower:
    """A client of the event stream in a thread: every event it read, with when it arrived."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, last_id: int | None = None) -> None:
        self.events: list[tuple[float, dict[str, Any], int | None]] = []
        self.comments: list[str] = []
        self.status: int | None = None
        self.ended: str | None = None
        self._stop = threading.Event()
        sent = dict(headers or {})
        if last_id is not None:
            sent["Last-Event-ID"] = str(last_id)
        self._thread = threading.Thread(target=self._read, args=(url, sent), daemon=True)
        self._thread.start()
        wait_until(lambda: self.status is not None and (self.status != 200 or self.comments), "the stream to open", 10)

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            self._follow(url, headers)
        except httpx.HTTPError as exc:  # the server stopped under a stream left open: the test is over
            self.ended = repr(exc)

    def _follow(self, url: str, headers: dict[str, str]) -> None:
        with httpx.Client(timeout=30) as client, client.stream("GET", f"{url}/api/v1/events", headers=headers) as r:
            self.status = r.status_code
            if r.status_code != 200:
                self.body = r.read()
                return
            event_id = None
            for line in r.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    self.events.append((time.monotonic(), json.loads(line[6:]), event_id))
                    event_id = None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for _, e, _ in self.events if e["type"] == kind]

    def wait(self, kind: str, seconds: float = 20, **fields: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((e for e in self.of(kind) if all(e.get(k) == v for k, v in fields.items())), None)

        return wait_until(found, f"a {kind} event {fields}", seconds)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._stop.set()


@pytest.fixture
def server(layout: Layout, live_server: Any, fake_ollama: FakeOllama) -> Any:
    (layout.repo / ".gitignore").write_text("*.secret\n")
    made = live_server(layout.repo, ollama_url=fake_ollama.url, keepalive_seconds=0.5, heartbeat_seconds=0.5)
    wait_until(lambda: httpx.get(f"{made.url}/api/v1/status").json()["data"]["repos"][0]["state"] == "ready")
    return made


def test_the_index_building_and_ready_can_be_replayed(server: Any, layout: Layout) -> None:
    follower = Follower(server.url, last_id=0)  # from the start of the ring
    ready = follower.wait("index.ready", repo=str(layout.repo))
    assert ready["files"] >= 1 and isinstance(ready["ts"], float)
    ids = [i for _, _, i in follower.events if i is not None]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    follower.close()


def test_a_file_written_in_the_repository_is_an_event_and_an_ignored_one_never_named(
    server: Any, layout: Layout
) -> None:
    follower = Follower(server.url)
    (layout.repo / "keys.secret").write_text("hunter2")
    (layout.repo / "src" / "new_module.py").write_text("def fresh():\n    return 1\n")
    changed = follower.wait("files.changed")
    paths = [p for e in follower.of("files.changed") for p in e["paths"]]
    wait_until(lambda: "src/new_module.py" in [p for e in follower.of("files.changed") for p in e["paths"]])
    paths = [p for e in follower.of("files.changed") for p in e["paths"]]
    assert changed["repo"] == str(layout.repo)
    assert "keys.secret" not in paths
    # the change is in the index when the event says so: the new function is found at once
    found = httpx.get(f"{server.url}/api/v1/search", params={"q": "fresh", "mode": "symbol"}).json()["data"]
    assert [r["file"] for r in found["results"]] == ["src/new_module.py"]
    follower.close()


def test_many_changes_in_a_second_are_a_few_events(server: Any, layout: Layout) -> None:
    follower = Follower(server.url)
    folder = layout.repo / "burst"
    folder.mkdir()
    started = time.monotonic()
    for i in range(300):
        (folder / f"f{i}.txt").write_text(str(i))
    spent = time.monotonic() - started
    wait_until(lambda: sum(len(e["paths"]) + e["more"] for e in follower.of("files.changed")) >= 300, "300 paths")
    events = follower.of("files.changed")
    # the first at once, then at most one every 250 ms while the writes go on
    assert len(events) <= 2 + spent / 0.25, (len(events), spent)
    follower.close()


def test_conversations_made_elsewhere_are_events(server: Any) -> None:
    follower = Follower(server.url)
    made = httpx.post(f"{server.url}/api/v1/conversations", json={"title": "From the other tab"}).json()["data"]
    created = follower.wait("conversation.created", id=made["id"])
    assert created["title"] == "From the other tab" and set(created) == {"type", "ts", "id", "title"}
    httpx.patch(f"{server.url}/api/v1/conversations/{made['id']}", json={"title": "Renamed"})
    follower.wait("conversation.updated", id=made["id"], title="Renamed")
    httpx.delete(f"{server.url}/api/v1/conversations/{made['id']}")
    follower.wait("conversation.deleted", id=made["id"])
    follower.close()


def test_the_model_server_going_down_and_up_is_seen_without_anyone_asking(server: Any, fake_ollama: FakeOllama) -> None:
    follower = Follower(server.url)
    fake_ollama.down()
    follower.wait("model_server.down", seconds=15)
    fake_ollama.up()
    follower.wait("model_server.up", seconds=15)
    follower.close()


def test_a_pull_and_a_delete_are_events(server: Any) -> None:
    follower = Follower(server.url)
    with httpx.stream("POST", f"{server.url}/api/v1/models/pull", json={"model": "tinyllama"}, timeout=30) as r:
        r.read()
    follower.wait("model.pulled", model="tinyllama")
    assert httpx.delete(f"{server.url}/api/v1/models/tinyllama").status_code == 200
    follower.wait("model.deleted", model="tinyllama")
    follower.close()


def test_heartbeat_carries_the_counts(server: Any) -> None:
    follower = Follower(server.url)
    beat = follower.wait("heartbeat")
    assert beat["repos"] == 1 and beat["files"] >= 1 and beat["event_clients"] >= 1
    assert follower.comments  # keepalive comments while nothing happens
    follower.close()


def test_resume_with_last_event_id_and_reset_when_the_ring_moved_on(server: Any) -> None:
    first = Follower(server.url)
    httpx.post(f"{server.url}/api/v1/conversations", json={"title": "one"})
    seen = first.wait("conversation.created", title="one")
    last = next(i for _, e, i in first.events if e is seen and i is not None)
    first.close()
    httpx.post(f"{server.url}/api/v1/conversations", json={"title": "two"})
    httpx.post(f"{server.url}/api/v1/conversations", json={"title": "three"})
    resumed = Follower(server.url, last_id=last)
    resumed.wait("conversation.created", title="three")
    titles = [e["title"] for e in resumed.of("conversation.created")]
    assert titles[:2] == ["two", "three"] and "one" not in titles
    resumed.close()
    bus = server.server.config.app.state["services"].events
    for i in range(1200):  # more than the ring holds
        bus.publish("test.filler", n=i)
    late = Follower(server.url, last_id=last)
    late.wait("events.reset")
    assert late.events[0][1]["type"] == "events.reset"
    late.close()


def test_clients_that_read_nothing_hold_at_most_their_queue_and_the_65th_is_refused(server: Any) -> None:
    services = server.server.config.app.state["services"]
    bus = services.events
    streams = []
    clients = []
    for _ in range(64):
        client = httpx.Client(timeout=30)
        stream = client.stream("GET", f"{server.url}/api/v1/events")
        response = stream.__enter__()
        assert response.status_code == 200
        clients.append(client)
        streams.append(stream)
    wait_until(lambda: bus.subscribers == 64, "64 subscribers")
    refused = httpx.get(f"{server.url}/api/v1/events")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "server_busy"
    before = _rss()
    for i in range(20_000):
        bus.publish("test.filler", n=i, padding="x" * 200)
    wait_until(lambda: all(len(s.pending) <= QUEUE for s in list(bus._subscribers)), "queues bounded")
    assert _rss() - before < 60 * 1024 * 1024
    assert max(len(s.pending) for s in list(bus._subscribers)) <= QUEUE
    for stream, client in zip(streams, clients, strict=True):
        stream.__exit__(None, None, None)
        client.close()
    wait_until(lambda: bus.subscribers == 0, "the clients to be gone")


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def test_a_last_event_id_that_is_not_an_id_is_a_400(server: Any) -> None:
    refused = httpx.get(f"{server.url}/api/v1/events", headers={"Last-Event-ID": "yesterday"})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "invalid_parameter" and error["param"] == "Last-Event-ID"
    assert httpx.get(f"{server.url}/api/v1/events", params={"last_event_id": -1}).status_code == 400


def test_the_event_stream_and_metrics_are_under_the_guard(layout: Layout, live_server: Any) -> None:
    keyed = live_server(layout.repo, api_key="events-key")
    for path in ("/api/v1/events", "/metrics"):
        assert httpx.get(f"{keyed.url}{path}").status_code == 401
        crossed = httpx.get(
            f"{keyed.url}{path}", headers={"Authorization": "Bearer events-key", "Origin": "https://evil.example"}
        )
        assert crossed.status_code == 403
    assert httpx.get(f"{keyed.url}/metrics", headers={"Authorization": "Bearer events-key"}).status_code == 200
    follower = Follower(keyed.url, headers={"Authorization": "Bearer events-key"})
    assert follower.status == 200
    follower.close()
