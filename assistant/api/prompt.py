"""GET /api/v1/prompt: the exact system prompt a chat would use."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import get
from litestar.params import QueryParameter
from msgspec import Struct

import prompts
from assistant import workers
from assistant.chat import context as code_context
from assistant.chat.prompting import choose_variant, chosen_model, model_supports_tools, system_prompt
from assistant.errors import AssistantError, BackendError
from assistant.index import MAX_QUERY_BYTES

from .envelope import Envelope, Req, Svc, ok, sandbox_params


class ContextPart(Struct):
    path: str
    start_line: int
    end_line: int
    symbol: str | None
    why: str


class PromptContext(Struct):
    """The code a chat would give with question ``q`` before the first round: its parts, the
    tokens it takes (within ``budget``: ``--context-tokens``, at most a quarter of the model's
    context) and the user message the model would read."""

    parts: list[ContextPart]
    tokens: int
    budget: int
    message: str


class Prompt(Struct):
    """The system prompt, its variant (``tools``: the model calls tools natively; ``manual``:
    they are described in the text), the model it was chosen for (null: none installed) and,
    for a question ``q``, the code given with it (null without ``q`` or with ``--context-tokens 0``)."""

    prompt: str
    variant: prompts.Variant
    model: str | None
    context: PromptContext | None = None


@get("/prompt", summary="The system prompt chat would use for this repo, tool mode and model")
async def get_prompt(
    request: Req,
    svc: Svc,
    repo_path: Annotated[str | None, QueryParameter(description="repository path (default: the first --repo)")] = None,
    tool_mode: Annotated[Literal["auto", "manual"], QueryParameter(description="auto or manual")] = "auto",
    model: Annotated[str | None, QueryParameter(description="the model (its tool support picks the variant)")] = None,
    q: Annotated[str | None, QueryParameter(description="the question (the repository map is made for it)")] = None,
) -> Envelope[Prompt]:
    if q is not None and len(q.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
        raise AssistantError("invalid_parameter", f"`q` is longer than {MAX_QUERY_BYTES // 1024} KB", param="q")
    if tool_mode not in ("auto", "manual"):
        raise AssistantError("invalid_parameter", "`tool_mode` must be 'auto' or 'manual'", param="tool_mode")
    chosen = await chosen_model(svc.backend, model, svc.settings.model)
    variant = choose_variant(tool_mode, await model_supports_tools(svc.backend, chosen))
    length = await _context_length(svc, chosen)
    budget = code_context.budget(svc.settings.context_tokens, length)
    given: PromptContext | None = None
    with sandbox_params(repo="repo_path"), svc.roots.open_repo(repo_path) as repo:
        text = await workers.run_in(
            workers.QUICK, system_prompt, repo, svc.indexes, variant, q, svc.settings.map_tokens, svc.histories
        )
        if q and budget > 0:
            found = await workers.run_in(workers.QUICK, code_context.gather, svc.indexes, repo, q, budget)
            parts = [msgspec.convert(p.shown(), ContextPart) for p in found.parts]
            given = PromptContext(parts, found.tokens, budget, code_context.with_context(q, found))
    return ok(request, Prompt(text, variant, chosen, given))


async def _context_length(svc: Svc, model: str | None) -> int | None:
    if not model:
        return None
    try:
        return (await svc.backend.show(model)).context_length
    except BackendError:
        return None
