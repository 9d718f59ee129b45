"""GET /api/v1/search: the engine behind the search_files tool."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated

from litestar import get
from litestar.params import QueryParameter
from msgspec import Struct

from assistant import workers
from assistant.index import DEADLINE_SECONDS, MAX_LIMIT, IndexView, QueryError, SearchQuery, SearchResult
from assistant.index.search import merge_by_rank
from assistant.types import IndexState, SearchHit, SearchMode
from sandbox import SandboxError

from .disconnect import until_disconnect
from .envelope import Envelope, Req, Svc, ok, sandbox_params


class IndexProgress(Struct):
    state: IndexState
    progress: float


class Found(Struct):
    """What a search found (``mode`` is the mode it ran: ``symbol+text`` and
    ``symbol+text+ranked`` for ``auto`` on a name)."""

    query: str
    mode: str
    results: list[SearchHit]
    total: int
    truncated: bool
    took_ms: float
    index: IndexProgress


@get("/search", summary="Search symbols (tree-sitter index) and text (literal or RE2 regex)")
async def get_search(
    request: Req,
    svc: Svc,
    q: Annotated[str, QueryParameter(description="the query: a symbol name, text or an RE2 regex")],
    repo: Annotated[
        str | None,
        QueryParameter(description="repository path (default: the first --repo); * searches every allowed root"),
    ] = None,
    mode: Annotated[
        SearchMode,
        QueryParameter(description="auto (words: ranked; a name: symbol+text), ranked, symbol, text or regex"),
    ] = "auto",
    path: Annotated[str | None, QueryParameter(description="only under this directory")] = None,
    glob: Annotated[str | None, QueryParameter(description="only files matching this glob (e.g. *.py)")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
) -> Envelope[Found]:
    with query_params():
        query = SearchQuery.of(q, mode, glob=glob, limit=limit)
    if repo == EVERY_REPO:
        return ok(request, await _everywhere(request, svc, query, path))
    with sandbox_params(path="path", repo="repo"), svc.roots.open_repo(repo) as opened:
        prefix = opened.components(path) if path else ()
        opened.require(prefix)
        index = svc.indexes.get(opened.path)
    query = replace(query, prefix=prefix)
    cancel = threading.Event()
    ends = time.monotonic() + DEADLINE_SECONDS  # time spent waiting for a free search thread counts

    def run() -> SearchResult:
        remaining = max(0.0, ends - time.monotonic())
        return index.run(query, cancel=cancel, deadline=remaining)

    lane = workers.SCANS if query.scans_files else workers.QUICK
    with query_params():  # a regular expression is compiled as the search runs
        result = await until_disconnect(request, workers.start(lane, run, cancel=cancel))
    progress = IndexProgress(result.state, result.progress)
    return ok(
        request,
        Found(result.query, result.mode, result.results, result.total, result.truncated, result.took_ms, progress),
    )


EVERY_REPO = "*"


async def _everywhere(request: Req, svc: Svc, query: SearchQuery, path: str | None) -> Found:
    """The query in every allowed root, results merged by rank (each repository's first, then
    each one's second, …; the better score first among equals), each naming its ``repo``. A
    ``path`` a repository does not have leaves that repository out. The repositories are
    searched one after another in one job of the lane (fifty jobs at once would be refused as a
    flood), within one deadline."""
    cancel = threading.Event()
    ends = time.monotonic() + DEADLINE_SECONDS
    targets: list[tuple[str, IndexView, SearchQuery]] = []
    for root in svc.roots.roots:
        with sandbox_params(path="path", repo="repo"), svc.roots.open_repo(root.path) as opened:
            prefix = opened.components(path) if path else ()
            try:
                opened.require(prefix)
            except SandboxError:
                continue
            targets.append((root.path, svc.indexes.get(opened.path), replace(query, prefix=prefix)))

    def run() -> list[SearchResult]:
        return [
            index.run(scoped, cancel=cancel, deadline=max(0.0, ends - time.monotonic())) for _, index, scoped in targets
        ]

    lane = workers.SCANS if query.scans_files else workers.QUICK
    with query_params():
        found = await until_disconnect(request, workers.start(lane, run, cancel=cancel))
    merged = merge_by_rank([(root, result) for (root, _, _), result in zip(targets, found, strict=True)], query.limit)
    progress = IndexProgress(merged.state, merged.progress)
    mode = merged.mode or query.mode
    return Found(query.text, mode, merged.results, merged.total, merged.truncated, merged.took_ms, progress)


@contextmanager
def query_params() -> Iterator[None]:
    """A refused query names the parameter as this endpoint's client spells it (``q``)."""
    try:
        yield
    except QueryError as exc:
        exc.param = "q" if exc.param == "query" else exc.param
        raise
