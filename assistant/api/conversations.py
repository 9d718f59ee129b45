"""/api/v1/conversations: list, create (or import), read, rename or switch branch, delete,
export and fork the conversations the server keeps (``assistant.conversations``)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from assistant.conversations import MAX_PAGE, PAGE, ConversationStore, StoreError, markdown
from assistant.errors import AssistantError
from assistant.services import Services, services

from .envelope import ok, sandbox_params, strict_body


def store_of(request: Request[Any, Any, Any]) -> ConversationStore:
    return store_of_services(services(request))


def store_of_services(svc: Services) -> ConversationStore:
    """The conversations store, or 503 ``conversations_unavailable`` saying why there is none."""
    if svc.conversations is None:
        raise AssistantError(
            "conversations_unavailable",
            f"conversations are not kept on this server ({svc.conversations_error or 'no store'}); chat still works "
            "without conversation_id",
        )
    return svc.conversations


def failed(exc: StoreError) -> AssistantError:
    return AssistantError(exc.code, exc.message, param=exc.param)


def _repo(request: Request[Any, Any, Any], repo: str) -> str:
    """A repository named by the client: resolved (and refused) as everywhere else."""
    with sandbox_params(repo="repo"):
        return services(request).roots.resolve(repo)


ConversationId = Annotated[str, PathParameter(description="the conversation's id")]


class NewConversation(msgspec.Struct):
    title: str | None = None
    repo: str | None = None
    model: str | None = None
    messages: list[dict[str, Any]] | None = None  # an export's messages: an import
    active_id: str | None = None


class ConversationChange(msgspec.Struct):
    title: str | None = None
    active_id: str | None = None


class Fork(msgspec.Struct):
    message_id: str


class ConversationsController(Controller):
    """Every /conversations route (one controller: each path then answers OPTIONS with all its
    methods)."""

    path = "/conversations"

    @get("/", summary="Conversations, newest first; q searches titles and messages")
    async def list_conversations(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str | None, QueryParameter(description="words in the title or any message")] = None,
        repo: Annotated[str | None, QueryParameter(description="only this repository's")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = PAGE,
        cursor: Annotated[str | None, QueryParameter(description="next_cursor of the page before")] = None,
    ) -> Response[bytes]:
        store = store_of(request)
        repo_path = _repo(request, repo) if repo is not None else None
        try:
            page, more = store.page(q, repo_path, limit, cursor)
        except StoreError as exc:
            raise failed(exc) from None
        return ok(request, {"conversations": page, "next_cursor": more})

    @post("/", summary="Start a conversation (or import an exported one)", status_code=200)
    async def create_conversation(
        self, request: Request[Any, Any, Any], data: JSONBody[NewConversation]
    ) -> Response[bytes]:
        data = await strict_body(request, data)
        store = store_of(request)
        try:
            document = msgspec.structs.asdict(data)
            document["repo"] = _repo(request, data.repo) if data.repo is not None else None
            if data.messages is not None:
                made = store.import_(document)
            else:
                made = store.create(data.title, document["repo"], data.model)
        except StoreError as exc:
            raise failed(exc) from None
        return ok(request, made)

    @get("/{conversation_id:str}", summary="A conversation with its active branch")
    async def get_conversation(
        self, request: Request[Any, Any, Any], conversation_id: ConversationId
    ) -> Response[bytes]:
        try:
            return ok(request, store_of(request).get(conversation_id))
        except StoreError as exc:
            raise failed(exc) from None

    @patch("/{conversation_id:str}", summary="Rename, or show another branch (active_id)")
    async def patch_conversation(
        self, request: Request[Any, Any, Any], conversation_id: ConversationId, data: JSONBody[ConversationChange]
    ) -> Response[bytes]:
        data = await strict_body(request, data)
        try:
            return ok(request, store_of(request).update(conversation_id, data.title, data.active_id))
        except StoreError as exc:
            raise failed(exc) from None

    @delete("/{conversation_id:str}", summary="Delete a conversation", status_code=200)
    async def delete_conversation(
        self, request: Request[Any, Any, Any], conversation_id: ConversationId
    ) -> Response[bytes]:
        try:
            store_of(request).delete(conversation_id)
        except StoreError as exc:
            raise failed(exc) from None
        return ok(request, {"id": conversation_id, "deleted": True})

    @get("/{conversation_id:str}/export", summary="Export as Markdown (active branch) or JSON (all)")
    async def export_conversation(
        self,
        request: Request[Any, Any, Any],
        conversation_id: ConversationId,
        format: Annotated[Literal["md", "json"], QueryParameter(description="md or json")] = "md",
    ) -> Response[bytes]:
        store = store_of(request)
        try:
            if format == "json":
                document: Any = store.export(conversation_id)
            else:
                document = markdown(store.get(conversation_id))
            title = store.get(conversation_id)["title"]
        except StoreError as exc:
            raise failed(exc) from None
        stem = re.sub(r"[^\w.-]+", "-", title).strip("-")[:60] or "conversation"
        return ok(request, {"format": format, "filename": f"{stem}.{format}", "content": document})

    @post(
        "/{conversation_id:str}/fork",
        summary="A new conversation from the root to a message",
        status_code=200,
    )
    async def fork_conversation(
        self, request: Request[Any, Any, Any], conversation_id: ConversationId, data: JSONBody[Fork]
    ) -> Response[bytes]:
        data = await strict_body(request, data)
        try:
            return ok(request, store_of(request).fork(conversation_id, data.message_id))
        except StoreError as exc:
            raise failed(exc) from None
