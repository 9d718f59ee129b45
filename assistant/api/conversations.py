"""/api/v1/conversations: list, create (or import), read, rename or switch branch, delete,
export and fork the conversations the server keeps (``assistant.conversations``). Every store
call runs off the event loop, and stops when its client goes away."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from assistant.chat.citations import Verifier
from assistant.conversations import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_MESSAGES,
    MAX_MODEL,
    MAX_PAGE,
    PAGE,
    ImportedMessage,
    check_import,
    markdown,
    search_words,
)
from assistant.conversations.documents import Conversation, Export, Page, Title
from assistant.errors import AssistantError
from assistant.services import Services

from .disconnect import until_disconnect
from .envelope import Envelope, Req, Svc, ok, sandbox_params, strict_body


def _repo(svc: Services, repo: str) -> str:
    """A repository named by the client: resolved (and refused) as everywhere else."""
    with sandbox_params(repo="repo"):
        return svc.roots.resolve(repo)


ConversationId = Annotated[str, PathParameter(description="the conversation's id", min_length=1)]
ModelName = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MODEL)]


class NewConversation(msgspec.Struct):
    """A new conversation; with ``messages`` (an export's), an import."""

    title: Title | None = None
    repo: str | None = None
    model: ModelName | None = None
    messages: Annotated[list[ImportedMessage], msgspec.Meta(max_length=MAX_IMPORT_MESSAGES)] | None = None
    active_id: str | None = None


class ConversationChange(msgspec.Struct):
    title: Title | None = None
    active_id: str | None = None


class Deleted(msgspec.Struct):
    id: str
    deleted: bool


class Exported(msgspec.Struct):
    """An export: Markdown text of the shown branch (``md``), or the whole conversation as the
    document an import takes (``json``); ``filename`` is a suggestion for saving it."""

    format: Literal["md", "json"]
    filename: str
    content: str | Export


class Fork(msgspec.Struct):
    message_id: Annotated[str, msgspec.Meta(min_length=1)]


def verified(svc: Services, repo: str | None, messages: list[ImportedMessage]) -> None:
    """An import's citations checked again against the repository it names (else the default
    one), never taken on trust from the document."""
    verifier = Verifier(svc.indexes, repo or svc.roots.default)
    for message in messages:
        for citation in message.citations or ():
            citation.verified = verifier.verified(citation.path, citation.line, citation.end_line)


class ConversationsController(Controller):
    """Every /conversations route (one controller: each path then answers OPTIONS with all its
    methods)."""

    path = "/conversations"

    @get("/", summary="Conversations, newest first; q searches titles and messages")
    async def list_conversations(
        self,
        request: Req,
        svc: Svc,
        q: Annotated[str | None, QueryParameter(description="words in the title or any message")] = None,
        repo: Annotated[str | None, QueryParameter(description="only this repository's")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = PAGE,
        cursor: Annotated[str | None, QueryParameter(description="the page before's next_cursor", min_length=1)] = None,
    ) -> Envelope[Page]:
        words = search_words(q)
        repo_path = _repo(svc, repo) if repo is not None else None
        page = await until_disconnect(request, svc.kept().run(lambda s: s.page(words, repo_path, limit, cursor)))
        return ok(request, page)

    @post("/", summary="Start a conversation (or import an exported one)", status_code=200)
    async def create_conversation(
        self, request: Req, svc: Svc, data: JSONBody[NewConversation]
    ) -> Envelope[Conversation]:
        if len(await request.body()) > MAX_IMPORT_BYTES:
            raise AssistantError(
                "payload_too_large", f"an import is at most {MAX_IMPORT_BYTES >> 20} MiB; this one is larger"
            )
        data = await strict_body(request, data)
        repo = _repo(svc, data.repo) if data.repo is not None else None
        conversations = svc.kept()
        if data.messages is None:
            made = await conversations.run(lambda s: s.create(data.title, repo, data.model))
            svc.conversation_event("created", made.id, made.title)
            return ok(request, made)
        messages = data.messages
        check_import(messages)
        await asyncio.to_thread(verified, svc, repo, messages)
        title = data.title or "Imported conversation"
        made = await until_disconnect(
            request, conversations.run(lambda s: s.import_(title, repo, data.model, messages, data.active_id))
        )
        svc.conversation_event("created", made.id, made.title)
        return ok(request, made)

    @get("/{conversation_id:str}", summary="A conversation with its active branch")
    async def get_conversation(self, request: Req, svc: Svc, conversation_id: ConversationId) -> Envelope[Conversation]:
        return ok(request, await svc.kept().run(lambda s: s.get(conversation_id)))

    @patch("/{conversation_id:str}", summary="Rename, or show another branch (active_id)")
    async def patch_conversation(
        self,
        request: Req,
        svc: Svc,
        conversation_id: ConversationId,
        data: JSONBody[ConversationChange],
    ) -> Envelope[Conversation]:
        data = await strict_body(request, data)
        changed = await svc.kept().run(lambda s: s.update(conversation_id, data.title, data.active_id))
        svc.conversation_event("updated", changed.id, changed.title)
        return ok(request, changed)

    @delete("/{conversation_id:str}", summary="Delete a conversation", status_code=200)
    async def delete_conversation(self, request: Req, svc: Svc, conversation_id: ConversationId) -> Envelope[Deleted]:
        await svc.kept().run(lambda s: s.delete(conversation_id))
        svc.conversation_event("deleted", conversation_id, None)
        return ok(request, Deleted(conversation_id, True))

    @get("/{conversation_id:str}/export", summary="Export as Markdown (active branch) or JSON (all)")
    async def export_conversation(
        self,
        request: Req,
        svc: Svc,
        conversation_id: ConversationId,
        format: Annotated[Literal["md", "json"], QueryParameter(description="md or json")] = "md",
    ) -> Envelope[Exported]:
        conversations = svc.kept()
        document: str | Export
        if format == "json":
            document = await until_disconnect(request, conversations.run(lambda s: s.export(conversation_id)))
            title = document.title
        else:
            shown = await until_disconnect(request, conversations.run(lambda s: s.get(conversation_id)))
            title, document = shown.title, markdown(shown)
        stem = re.sub(r"[^\w.-]+", "-", title).strip("-")[:60] or "conversation"
        return ok(request, Exported(format, f"{stem}.{format}", document))

    @post(
        "/{conversation_id:str}/fork",
        summary="A new conversation from the root to a message",
        status_code=200,
    )
    async def fork_conversation(
        self, request: Req, svc: Svc, conversation_id: ConversationId, data: JSONBody[Fork]
    ) -> Envelope[Conversation]:
        data = await strict_body(request, data)
        forked = await svc.kept().run(lambda s: s.fork(conversation_id, data.message_id))
        svc.conversation_event("created", forked.id, forked.title)
        return ok(request, forked)
