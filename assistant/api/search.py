"""GET /api/v1/search: the engine behind the search_files tool."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import QueryParameter

from assistant import workers
from assistant.index import DEADLINE_SECONDS, MAX_LIMIT, QueryError, SearchQuery, SearchResult
from assistant.services import services

from .disconnect import until_disconnect
from .envelope import ok, sandbox_params


@get("/search", summary="Search symbols (tree-sitter index) and text (literal or RE2 regex)")
async def get_search(
    request: Request[Any, Any, Any],
    q: Annotated[str, QueryParameter(description="the query: a symbol name, text or an RE2 regex")],
    repo: Annotated[str | None, QueryParameter(description="repository path (default: the first --repo)")] = None,
    mode: Annotated[str, QueryParameter(description="auto, symbol, text or regex")] = "auto",
    path: Annotated[str | None, QueryParameter(description="only under this directory")] = None,
    glob: Annotated[str | None, QueryParameter(description="only files matching this glob (e.g. *.py)")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
) -> Response[bytes]:
    with query_params():
        query = SearchQuery.of(q, mode, glob=glob, limit=limit)
    svc = services(request)
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
    return ok(request, result.to_dict())


@contextmanager
def query_params() -> Iterator[None]:
    """A refused query names the parameter as this endpoint's client spells it (``q``)."""
    try:
        yield
    except QueryError as exc:
        exc.param = "q" if exc.param == "query" else exc.param
        raise
