"""GET /api/v1/map: the repository map alone (what the system prompt includes)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import QueryParameter

from assistant import workers
from assistant.errors import AssistantError
from assistant.index import MAX_QUERY_BYTES
from assistant.index.repomap import RepoMap
from assistant.services import services
from assistant.settings import MAX_MAP_TOKENS

from .disconnect import until_disconnect
from .envelope import ok, sandbox_params


@get("/map", summary="The repository map: central files and their key definitions, for a question")
async def get_map(
    request: Request[Any, Any, Any],
    repo: Annotated[str | None, QueryParameter(description="repository path (default: the first --repo)")] = None,
    q: Annotated[str | None, QueryParameter(description="the question the map is for (none: the whole repo)")] = None,
    tokens: Annotated[
        int | None, QueryParameter(ge=1, le=MAX_MAP_TOKENS, description="the budget (default: --map-tokens)")
    ] = None,
) -> Response[bytes]:
    if q is not None and len(q.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
        raise AssistantError("invalid_parameter", f"`q` is longer than {MAX_QUERY_BYTES // 1024} KB", param="q")
    svc = services(request)
    budget = tokens if tokens is not None else svc.settings.map_tokens
    with sandbox_params(repo="repo"), svc.roots.open_repo(repo) as opened:
        view = svc.indexes.get(opened.path)

    def run() -> RepoMap:
        return view.map(q, budget)

    made = await until_disconnect(request, workers.run_in(workers.QUICK, run))
    return ok(request, {"map": made.text, "tokens": made.tokens, "files": made.files, "index": view.state})
