"""GET /api/v1/map: the repository map alone (what the system prompt includes)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import QueryParameter
from msgspec import Struct

from assistant import workers
from assistant.errors import AssistantError
from assistant.index import MAX_QUERY_BYTES
from assistant.index.repomap import RepoMap
from assistant.settings import MAX_MAP_TOKENS
from assistant.types import IndexState

from .disconnect import until_disconnect
from .envelope import Envelope, Req, Svc, ok, sandbox_params


class Map(Struct):
    """The map (``tokens`` of it, about four characters each), the files it shows, and whether
    the index was still building when it was made."""

    map: str
    tokens: int
    files: list[str]
    index: IndexState


@get("/map", summary="The repository map: central files and their key definitions, for a question")
async def get_map(
    request: Req,
    svc: Svc,
    repo: Annotated[str | None, QueryParameter(description="repository path (default: the first --repo)")] = None,
    q: Annotated[str | None, QueryParameter(description="the question the map is for (none: the whole repo)")] = None,
    tokens: Annotated[
        int | None, QueryParameter(ge=1, le=MAX_MAP_TOKENS, description="the budget (default: --map-tokens)")
    ] = None,
) -> Envelope[Map]:
    if q is not None and len(q.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
        raise AssistantError("invalid_parameter", f"`q` is longer than {MAX_QUERY_BYTES // 1024} KB", param="q")
    budget = tokens if tokens is not None else svc.settings.map_tokens
    with sandbox_params(repo="repo"), svc.roots.open_repo(repo) as opened:
        view = svc.indexes.get(opened.path)

    def run() -> RepoMap:
        return view.map(q, budget)

    made = await until_disconnect(request, workers.run_in(workers.QUICK, run))
    return ok(request, Map(made.text, made.tokens, made.files, view.state))
