"""The product's own Prometheus metrics (HTTP requests are counted by Litestar's Prometheus
middleware, by route template). Every label's values are bounded: models the server answered
with, the registry's tool names, the search modes, the allowed repositories.

Gauges that describe state (index sizes, conversations stored, event clients, the model server)
are read when ``/metrics`` is scraped, from the ``State`` the server registers; nothing is kept
up to date for them in between. Every metric is documented in docs/api.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "repo_assistant"
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ANSWER = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

TIME_TO_FIRST_TOKEN = Histogram(
    f"{PREFIX}_chat_time_to_first_token_seconds",
    "From a chat request to the first token of its answer, by model",
    ["model"],
    buckets=_ANSWER,
)
CHAT_DURATION = Histogram(
    f"{PREFIX}_chat_duration_seconds", "From a chat request to its answer's end, by model", ["model"], buckets=_ANSWER
)
TOKENS = Counter(f"{PREFIX}_tokens", "Tokens the model read (in) and wrote (out), by model", ["model", "direction"])
TOOL_CALLS = Counter(f"{PREFIX}_tool_calls", "Tool calls by tool and status (completed, failed)", ["tool", "status"])
TOOL_DURATION = Histogram(f"{PREFIX}_tool_duration_seconds", "Tool call durations, by tool", ["tool"], buckets=_LATENCY)
SEARCHES = Counter(f"{PREFIX}_searches", "Searches by mode (API, tools and the chat's context)", ["mode"])
SEARCH_DURATION = Histogram(f"{PREFIX}_search_duration_seconds", "Search latency, by mode", ["mode"], buckets=_LATENCY)
MODES = frozenset({"auto", "ranked", "symbol", "text", "regex"})


def answered(model: str, first_ms: int | None, total_ms: int, tokens_in: int, tokens_out: int) -> None:
    """A model's answer (chat or /v1): its time to first token, duration and tokens."""
    if first_ms is not None:
        TIME_TO_FIRST_TOKEN.labels(model).observe(first_ms / 1000)
    CHAT_DURATION.labels(model).observe(total_ms / 1000)
    TOKENS.labels(model, "in").inc(tokens_in)
    TOKENS.labels(model, "out").inc(tokens_out)


def tool_called(tool: str, status: str, seconds: float) -> None:
    TOOL_CALLS.labels(tool, status).inc()
    TOOL_DURATION.labels(tool).observe(seconds)


def searched(mode: str, seconds: float) -> None:
    label = mode if mode in MODES else "other"
    SEARCHES.labels(label).inc()
    SEARCH_DURATION.labels(label).observe(seconds)


@dataclass
class RepoFigures:
    path: str
    files: int
    symbols: int
    text_bytes: int
    build_seconds: float | None


@dataclass
class State:
    """What the gauges read at scrape time (set by the server that owns the objects)."""

    repos: Callable[[], list[RepoFigures]] = lambda: []
    conversations: Callable[[], int | None] = lambda: None
    event_clients: Callable[[], int] = lambda: 0
    model_server_up: Callable[[], bool | None] = lambda: None


class _StateCollector(Collector):
    def __init__(self) -> None:
        self.state = State()

    def collect(self) -> Iterator[Metric]:
        state = self.state
        files = GaugeMetricFamily(f"{PREFIX}_index_files", "Files indexed, by repository", labels=["repo"])
        symbols = GaugeMetricFamily(f"{PREFIX}_index_symbols", "Symbols indexed, by repository", labels=["repo"])
        text = GaugeMetricFamily(f"{PREFIX}_index_text_bytes", "Bytes of text indexed, by repository", labels=["repo"])
        build = GaugeMetricFamily(
            f"{PREFIX}_index_build_seconds", "The last build's duration, by repository", labels=["repo"]
        )
        for repo in state.repos():
            files.add_metric([repo.path], repo.files)
            symbols.add_metric([repo.path], repo.symbols)
            text.add_metric([repo.path], repo.text_bytes)
            if repo.build_seconds is not None:
                build.add_metric([repo.path], repo.build_seconds)
        yield from (files, symbols, text, build)
        stored = state.conversations()
        conversations = GaugeMetricFamily(f"{PREFIX}_conversations_stored", "Conversations in the store")
        if stored is not None:
            conversations.add_metric([], stored)
        yield conversations
        yield GaugeMetricFamily(
            f"{PREFIX}_event_clients", "Clients connected to /api/v1/events", value=state.event_clients()
        )
        up = state.model_server_up()
        server = GaugeMetricFamily(f"{PREFIX}_model_server_up", "1 when the model server answers, 0 when it does not")
        if up is not None:
            server.add_metric([], 1.0 if up else 0.0)
        yield server


COLLECTOR = _StateCollector()
REGISTRY.register(COLLECTOR)


def use(state: State) -> None:
    """The state the gauges describe (the last server built in this process)."""
    COLLECTOR.state = state
