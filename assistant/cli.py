"""The ``repo-assistant`` command: serve, index, search, ask."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from assistant import __version__
from assistant.settings import Settings, SettingsError, check_bind, load_settings, warn_about_local_config
from assistant.types import SEARCH_MODES, Message
from sandbox import SandboxError

if TYPE_CHECKING:
    from assistant.services import Services

Command = Callable[[Settings, argparse.Namespace], int]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        help="TOML config file (default: <user config dir>/repo-assistant/config.toml, if present)",
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=None)
    parser.add_argument("--cache-dir", help="where the code index is cached (default: the user cache directory)")


def _add_backend(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=["ollama", "openai"], default=None, help="model server kind (default ollama)"
    )
    parser.add_argument("--ollama-url", help="Ollama's URL (default http://127.0.0.1:11434; OLLAMA_HOST is honoured)")
    parser.add_argument("--base-url", help="an OpenAI-compatible server's URL, for --backend openai")
    parser.add_argument("--backend-api-key", help="API key sent to the OpenAI-compatible server")
    parser.add_argument("--model", help="default model")
    parser.add_argument("--connect-timeout", type=float, help="seconds to connect to the model server (default 5)")
    parser.add_argument(
        "--first-token-timeout", type=float, help="seconds to wait for a model's first token (default 300)"
    )
    parser.add_argument("--chunk-timeout", type=float, help="seconds to wait between streamed chunks (default 120)")
    parser.add_argument("--request-timeout", type=float, help="seconds for list/show/delete requests (default 10)")
    parser.add_argument(
        "--answer-timeout",
        type=float,
        help="seconds one whole model answer may take, however it trickles in (default 900)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repo-assistant", description="A local code-repository assistant.")
    parser.add_argument("--version", action="version", version=f"repo-assistant {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP API, the web UI and the MCP endpoint")
    _add_common(serve)
    _add_backend(serve)
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 3000)")
    serve.add_argument(
        "--repo", action="append", help="an allowed repository root (repeatable; default: the current directory)"
    )
    serve.add_argument("--api-key", help="require Authorization: Bearer KEY on the API")
    serve.add_argument(
        "--allow-origin", action="append", help="an origin allowed to call the API cross-site (repeatable)"
    )
    serve.add_argument("--allow-host", action="append", help="an extra accepted Host header name (repeatable)")
    serve.add_argument("--max-concurrent-chats", type=int, help="chats served at once before server_busy (default 16)")
    serve.add_argument("--keepalive-seconds", type=float, help="SSE keepalive comment interval (default 15)")
    serve.add_argument("--max-rounds", type=int, help="tool-loop rounds per chat (default 8)")
    serve.add_argument("--data-dir", help="where conversations are kept (default: the user data directory)")
    serve.add_argument(
        "--map-tokens", type=int, help="tokens of repository map in the system prompt (default 1024; 0: none)"
    )
    serve.add_argument(
        "--context-tokens",
        type=int,
        help="tokens of ranked code given with the question before the first round (default 2048; 0: none; "
        "at most a quarter of the model's context)",
    )
    serve.add_argument(
        "--insecure", action="store_true", default=None, help="allow a non-loopback bind without --api-key"
    )
    serve.add_argument(
        "--watch",
        choices=["inotify", "sweep"],
        default=None,
        help="how the index sees file changes (default inotify; sweep: a check at most once a second, "
        "for network mounts)",
    )
    serve.add_argument(
        "--index-on-start",
        action="store_true",
        default=None,
        help="index every --repo at start-up (default: the first at start, the others when first used)",
    )
    serve.add_argument(
        "--metrics",
        choices=["on", "off"],
        default=None,
        help="serve Prometheus metrics at /metrics, under the same API key as the API (default on)",
    )
    serve.set_defaults(handler=_serve)

    index = sub.add_parser("index", help="build or refresh the code index of a repository")
    _add_common(index)
    index.add_argument("path", nargs="?", default=None, help="the repository (default: the current directory)")
    index.add_argument("--repo", action="append", help="the repository (the same as PATH)")
    index.set_defaults(handler=_index)

    search = sub.add_parser("search", help="search a repository's code index")
    _add_common(search)
    search.add_argument("query")
    search.add_argument("--repo", action="append", help="the repository (default: the current directory)")
    search.add_argument("--mode", choices=list(SEARCH_MODES), default="auto")
    search.add_argument("--path", dest="search_path", help="only under this directory")
    search.add_argument("--glob", help="only files matching this glob")
    search.add_argument("--limit", type=int, default=30)
    search.add_argument("--explain", action="store_true", help="show why each ranked result ranked")
    search.set_defaults(handler=_search)

    ask = sub.add_parser("ask", help="ask one question in the terminal (tool calls shown as they happen)")
    _add_common(ask)
    _add_backend(ask)
    ask.add_argument("question")
    ask.add_argument("--repo", action="append", help="the repository (default: the current directory)")
    ask.add_argument("--tool-mode", choices=["auto", "manual"], default="auto")
    ask.add_argument("--temperature", type=float, default=None, help="default 0.7")
    ask.add_argument("--max-tokens", type=int, default=None, help="default 2048")
    ask.add_argument("--max-rounds", type=int, help="tool-loop rounds (default 8)")
    ask.set_defaults(handler=_ask)
    return parser


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's values (``load_settings`` takes those that are settings)."""
    return {k: v for k, v in vars(args).items() if not k.startswith("_")}


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # one line per request to the model server drowned everything else (167 of 204 lines), and
    # the MCP SDK says "Terminating session" for every request: debug, not info
    quiet = logging.DEBUG if logging.getLogger().level <= logging.DEBUG else logging.WARNING
    for noisy in ("httpx", "httpcore", "mcp"):
        logging.getLogger(noisy).setLevel(max(quiet, logging.getLogger().level))


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from assistant.app import create_app
    from assistant.server import SHUTDOWN_GRACE_SECONDS, port_in_use, uvicorn_config

    check_bind(settings)
    taken = port_in_use(settings.host, settings.port)
    if taken:
        print(
            f"repo-assistant: port {settings.port} on {settings.host} is in use ({taken}); "
            f"start with another, e.g. --port {settings.port + 1}",
            file=sys.stderr,
        )
        return 2
    app = create_app(settings)
    config = uvicorn_config(
        app,
        settings.host,
        settings.port,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
    )
    services = app.state["services"]
    print(startup_block(settings, services.backend), file=sys.stderr, flush=True)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            services.request_stop()  # open streams end with an error event and [DONE]
            super().handle_exit(sig, frame)

    Server(config).run()
    return 0


def startup_block(settings: Settings, backend: Any) -> str:
    """What a person starting the server needs to see: where it is, what it serves, and whether
    the model server answers (and what to do if not)."""
    from assistant.index.store import cache_file

    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    lines = [f"repo-assistant {__version__}", f"  open            http://{host}:{settings.port}/"]
    for number, repo in enumerate(settings.repos):
        cached = cache_file(settings.cache_dir, os.path.realpath(repo)).exists()
        state = "indexing in the background" + ("; cached index found, only changes are parsed" if cached else "")
        lines.append(f"  {'repositories' if number == 0 else '':<15} {repo} ({state})")
    name, answered = _probe_model_server(settings)
    if answered:
        lines.append(f"  model server    {name}: connected")
    else:
        lines.append(
            f"  model server    {name}: not reachable. Until it is, chat answers with search results; "
            "everything else works."
        )
        lines.append(f"                  {backend.unreachable_hint}")
    return "\n".join(lines)


def _probe_model_server(settings: Settings) -> tuple[str, bool]:
    """The model server's name as /health and the web UI say it ("llama.cpp at …"), and whether
    it answers (asked once, by a backend of its own, within 2 s)."""
    import asyncio

    from assistant.errors import BackendError
    from assistant.services import build_backend

    async def probe() -> tuple[str, bool]:
        backend = build_backend(settings)
        try:
            async with asyncio.timeout(2):
                await backend.version()
            return backend.display_name, True
        except (BackendError, TimeoutError):
            return backend.display_name, False
        finally:
            await backend.aclose()

    return asyncio.run(probe())


def _progress_bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // total if total else width
    print(
        f"\rindexing [{'#' * filled}{'.' * (width - filled)}] {done}/{total} files", end="", file=sys.stderr, flush=True
    )


def _cli_services(settings: Settings, repo: str) -> Services:
    """The shared objects for one command on one repository (the same as the server's)."""
    from assistant.services import Services

    return Services.build(settings.with_overrides(repo=(os.path.abspath(repo),)))


def _index(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    import time

    services = _cli_services(settings, args.path or (settings.repo[0] if settings.repo else os.getcwd()))
    started = time.perf_counter()
    try:
        view = services.indexes.build(services.roots.default, _progress_bar)
        print(file=sys.stderr)
        stats = view.stats()
        counts = view.index.last_build_counts
    finally:
        asyncio.run(services.aclose())
    languages = ", ".join(f"{name} {count}" for name, count in stats["languages"].items()) or "none"
    print(f"files:     {stats['files_indexed']}")
    print(f"symbols:   {stats['symbols']}")
    print(f"languages: {languages}")
    print(
        f"parsed:    {counts.get('parsed', 0)} (from the cache: {counts.get('cached', 0)}; not code, searched as text: "
        f"{counts.get('not_code', 0)}; skipped as binary: {counts.get('skipped', 0)})"
    )
    print(f"time:      {time.perf_counter() - started:.2f} s")
    return 0


def _search(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from assistant.index import QueryError

    services = _cli_services(settings, settings.repos[0])
    try:
        with services.roots.open_repo(None) as repo:
            prefix = repo.components(args.search_path) if args.search_path else ()
            repo.require(prefix)
        view = services.indexes.build(services.roots.default)
        result = view.search(args.query, args.mode, prefix=prefix, glob=args.glob, limit=args.limit)
    except SandboxError as exc:
        print(f"repo-assistant: {exc.message}", file=sys.stderr)
        return 2
    except QueryError as exc:
        print(f"repo-assistant: {exc.message}", file=sys.stderr)
        return 2
    finally:
        asyncio.run(services.aclose())
    ranks: dict[str, int] = {}
    for r in result.results:
        if r["kind"] == "chunk":
            rank = ranks.setdefault(r["file"], len(ranks) + 1)
            where = f"{r['file']}:{r['line']}-{r['end_line']}"
            print(f"{where}: [chunk{' ' + r['symbol'] if r.get('symbol') else ''}] {r['text']}")
            if args.explain:
                print(f"    file #{rank}, score {r['score']:.2f}: {', '.join(r.get('why', []))}")
            continue
        label = r["kind"] if r["kind"] == "text" else f"{r['kind']} {r['symbol_kind']} {r['symbol']}"
        print(f"{r['file']}:{r['line']}: [{label}] {r['text']}")
    more = f", {result.total - len(result.results)} more not shown" if result.truncated else ""
    print(f"{result.total} match(es), mode {result.mode}, {result.took_ms} ms{more}", file=sys.stderr)
    return 0 if result.results else 1


def _ask(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(_ask_async(settings, args))


async def _ask_async(settings: Settings, args: argparse.Namespace) -> int:
    import json

    if settings.log_level == "info":  # the terminal shows this command's own trace, not the log
        logging.getLogger().setLevel(logging.WARNING)
    from assistant.chat import events as ev
    from assistant.chat import loop
    from assistant.chat.prompting import resolve_model
    from assistant.chat.turn import ChatOptions, chat_input
    from assistant.errors import AssistantError
    from assistant.services import Services

    try:
        services = Services.build(settings)
    except SandboxError as exc:
        print(f"repo-assistant: {exc.message}", file=sys.stderr)
        return 2
    services.start()
    try:
        try:
            info = await resolve_model(services.backend, None, settings.model)
        except AssistantError as exc:
            if exc.code != "ollama_unavailable":
                raise
            # no model server: the ranked search results for the question, said to be that
            import asyncio

            from assistant.chat import fallback

            await asyncio.to_thread(services.indexes.build, services.roots.default)
            print(f"[no model server answered; search results on {services.roots.default}]", file=sys.stderr)
            async for event in fallback.answer(services.indexes, services.roots.default, args.question, exc.message):
                if isinstance(event, ev.ContentDelta):
                    print(event.text, flush=True)
            return 0
        options = ChatOptions(temperature=args.temperature, max_tokens=args.max_tokens, tool_mode=args.tool_mode)
        question: list[Message] = [{"role": "user", "content": args.question}]
        chat = chat_input(settings, info, services.roots.default, question, options)
        print(f"[{info.name} on {services.roots.default}]", file=sys.stderr)
        async for event in loop.run(services, chat):
            if isinstance(event, ev.ContentDelta):
                print(event.text, end="", flush=True)
            elif isinstance(event, ev.ContextGiven):
                shown = ", ".join(f"{p['path']}:{p['start_line']}-{p['end_line']}" for p in event.parts)
                print(f"[given with the question ({event.tokens} tokens): {shown}]", file=sys.stderr, flush=True)
            elif isinstance(event, ev.ToolStarted):
                print(
                    f"\n→ {event.name} {json.dumps(event.arguments, ensure_ascii=False)}", file=sys.stderr, flush=True
                )
            elif isinstance(event, ev.ToolFinished):
                mark = "✓" if event.status == "completed" else "✗"
                print(f"  {mark} {event.summary} ({event.duration_ms} ms)", file=sys.stderr, flush=True)
            elif isinstance(event, ev.Failed):
                print(f"\nrepo-assistant: {event.message} ({event.code})", file=sys.stderr)
                return 1
            elif isinstance(event, ev.Done):
                print(flush=True)
                if event.rounds_exhausted:
                    print(
                        f"[the model ran out of tool rounds (--max-rounds {settings.max_rounds}); "
                        "this answer is from what it had found by then]",
                        file=sys.stderr,
                    )
                print(f"[{event.usage.total_tokens} tokens]", file=sys.stderr)
        return 0
    except AssistantError as exc:
        print(f"repo-assistant: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    finally:
        await services.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings(_flags(args), config=args.config)
        configure_logging(settings.log_level)
        warn_about_local_config(args.config or os.environ.get("REPO_ASSISTANT_CONFIG"))
        handler: Command = args.handler
        return handler(settings, args)
    except SettingsError as exc:
        print(f"repo-assistant: {exc}", file=sys.stderr)
        return 2
    except SandboxError as exc:  # a --repo that does not exist or is not a directory
        print(f"repo-assistant: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
