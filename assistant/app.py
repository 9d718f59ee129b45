"""create_app(settings) -> Litestar: routers, middleware, handlers and the static web UI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp

import web
from assistant import __version__
from assistant.api import (
    chat,
    conversations,
    docs,
    events,
    files,
    health,
    history,
    models,
    openai_compat,
    prompt,
    repomap,
    search,
    tools,
    usage,
)
from assistant.api.envelope import EnvelopeResponse, handle_exception
from assistant.api.guard import Guard, static_paths
from assistant.api.mcp import build_mcp, mcp_route
from assistant.api.openapi import DescribedJsonRenderPlugin
from assistant.services import Services
from assistant.settings import Settings

WEB_DIR = Path(web.__file__).parent


class MetricsController(PrometheusController):
    """``GET /metrics``: Prometheus text format (under the guard: the API key when one is set)."""

    path = "/metrics"
    include_in_schema = False


def create_app(settings: Settings, services: Services | None = None) -> Litestar:
    """Build the application. ``services`` may be given by tests that share one."""
    shared = services or Services.build(settings)

    mcp_manager = build_mcp(shared)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if shared.conversations is None:
            await asyncio.to_thread(shared.open_conversations)
        shared.start()
        try:
            async with mcp_manager.run():
                shared.mcp_enabled = True
                yield
        finally:
            shared.mcp_enabled = False
            if services is None:
                await shared.aclose()

    api = Router(
        path="/api/v1",
        route_handlers=[
            health.get_health,
            health.get_status,
            events.get_events,
            models.get_models,
            models.post_models_pull,
            models.delete_model,
            files.get_files,
            files.post_files_read,
            search.get_search,
            repomap.get_map,
            history.get_history,
            history.get_commit,
            history.get_blame,
            prompt.get_prompt,
            tools.post_tools_call,
            chat.post_chat,
            conversations.ConversationsController,
            usage.get_usage,
        ],
    )
    metrics_on = settings.metrics == "on"
    measured: list[Any] = []
    if metrics_on:
        # HTTP requests by route template (never the raw path: label values stay bounded)
        measured = [
            PrometheusConfig(
                app_name="repo-assistant",
                prefix="repo_assistant_http",
                group_path=True,
                exclude_unhandled_paths=True,
                exclude=["^/metrics$", "^/api/v1/events$"],
            ).middleware
        ]
    app = Litestar(
        middleware=measured,
        route_handlers=[
            *([MetricsController] if metrics_on else []),
            api,
            docs.get_docs,
            openai_compat.v1_models,
            openai_compat.v1_chat,
            mcp_route(mcp_manager),
            create_static_files_router(path="/", directories=[WEB_DIR], html_mode=True, include_in_schema=False),
        ],
        exception_handlers={Exception: handle_exception},
        response_class=EnvelopeResponse,
        # a handler names ``svc: Services`` to be given the shared objects
        dependencies={"svc": Provide(lambda: shared, use_cache=True, sync_to_thread=False)},
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="repo-assistant",
            version=__version__,
            path="/api/v1/schema",
            render_plugins=[DescribedJsonRenderPlugin()],
        ),
        lifespan=[lifespan],
        logging_config=None,
        debug=False,
    )
    app.state["services"] = shared

    # the guard speaks plain ASGI mappings; Litestar types its handler with TypedDict scopes
    by_format: dict[str, list[str]] = {
        route.path_format: sorted(getattr(route, "methods", ())) for route in app.routes if hasattr(route, "methods")
    }

    def methods(path_template: str) -> list[str]:
        return by_format.get(path_template, [])

    guard = Guard(cast(Any, app.asgi_handler), settings, static_paths(WEB_DIR) | docs.DOC_PATHS, methods)
    app.asgi_handler = cast(ASGIApp, guard)
    return app
