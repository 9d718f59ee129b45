"""What the model is told: the system prompt (a short overview of the repository and the tools
from the registry), which variant of it a model gets, and which model answers."""

from __future__ import annotations

import asyncio
from collections import Counter

import prompts
from assistant.backends import ModelBackend, ModelInfo, default_model
from assistant.errors import BackendError
from assistant.history import HistoryManager
from assistant.index import IndexManager
from assistant.tools import TOOLS
from sandbox import Repo, SandboxError, list_directory

MAX_TOP_ENTRIES = 30


def registry_tools(with_history: bool = False, several: bool = False) -> list[prompts.PromptTool]:
    """The tools as the prompt lists them (the history tools only for a repository with one;
    their ``repo`` argument only when the server serves several repositories)."""
    return [
        prompts.PromptTool(t.name, t.description, t.schema_for(several))
        for t in TOOLS.values()
        if with_history or not t.needs_history
    ]


HISTORY_LINE = (
    "- History: a git repository. git_log, git_blame and git_show answer why and when code changed "
    "(cite commits by their short id); git_diff shows what is not committed yet."
)


def _readme_title(repo: Repo, names: list[str]) -> str | None:
    for name in names:
        if name.lower().startswith("readme"):
            try:
                text = repo.read((name,), 4096).data.decode("utf-8", "replace")
            except SandboxError:
                return None
            for line in text.splitlines():
                stripped = line.strip().lstrip("#").strip()
                if stripped:
                    return stripped[:120]
    return None


def repo_overview(repo: Repo, indexes: IndexManager) -> str:
    """A few lines: top-level entries, main languages (from the index), the README's title."""
    try:
        entries = list_directory(repo, (), include_ignored=False).entries
    except SandboxError:
        entries = []
    names = [e.name + ("/" if e.type == "directory" else "") for e in entries]
    lines = []
    title = _readme_title(repo, [e.name for e in entries if e.type == "file"])
    if title:
        lines.append(f"- README title: {title}")
    shown = ", ".join(names[:MAX_TOP_ENTRIES]) + (
        f", … ({len(names) - MAX_TOP_ENTRIES} more)" if len(names) > MAX_TOP_ENTRIES else ""
    )
    lines.append(f"- Top-level entries: {shown or '(empty)'}")
    index = indexes.get(repo.path)
    languages = Counter({k: v for k, v in index.stats()["languages"].items()})
    if languages:
        lines.append(
            "- Main languages: " + ", ".join(f"{name} ({count} files)" for name, count in languages.most_common(3))
        )
    elif index.state == "building":
        lines.append("- Main languages: (the code index is still being built)")
    return "\n".join(lines)


async def resolve_model(
    backend: ModelBackend, name: str | None, configured: str | None, patience: float = 0.0
) -> ModelInfo:
    """The model a chat will use (the named one, else the default rule over ``--model`` and the
    installed models) with its capabilities. A server that does not answer in time is busy, not
    dead: the request is tried again for up to ``patience`` seconds (a chat waits for its first
    token that long), and meanwhile what the server said of that model before is good enough."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    key = name or ""
    while True:
        try:
            info = await _resolve(backend, name, configured)
        except BackendError as exc:
            if exc.code != "ollama_timeout":
                raise
            known = backend.resolved.get(key)
            if known is not None:
                return known
            if loop.time() >= deadline:
                raise
            continue
        backend.resolved[key] = info
        return info


async def _resolve(backend: ModelBackend, name: str | None, configured: str | None) -> ModelInfo:
    if not name:
        name = default_model(configured, await backend.list_models())
        if not name:
            raise BackendError(
                "ollama_model_not_found", f"no model is installed on {backend.display_name}; {backend.install_hint}"
            )
    return await backend.show(name)


async def chosen_model(backend: ModelBackend, name: str | None, configured: str | None) -> str | None:
    """The name a chat would use (the default rule when none is given), ``None`` when no model
    server answers or none is installed."""
    if name:
        return name
    try:
        return (await resolve_model(backend, None, configured)).name
    except BackendError:
        return None


async def model_supports_tools(backend: ModelBackend, model: str | None) -> bool:
    """Whether to offer native tools; unknown (no model, or the server is down) counts as yes."""
    if not model:
        return True
    try:
        info = await backend.show(model)
    except BackendError:
        return True
    return info.native_tools


def choose_variant(tool_mode: str, native_tools: bool) -> prompts.Variant:
    if not native_tools:
        return "text_tools"
    return "manual" if tool_mode == "manual" else "auto"


MAP_HEADING = "- Repository map (the most central files for this question, with their key definitions):"


def system_prompt(
    repo: Repo,
    indexes: IndexManager,
    variant: prompts.Variant,
    question: str | None = None,
    map_tokens: int = 0,
    histories: HistoryManager | None = None,
) -> str:
    """The system prompt: the template of ``variant`` with the repository's overview, and its
    map for ``question`` within ``map_tokens`` (none at 0, or while nothing is parsed yet); the
    history tools when ``histories`` has the repository's history."""
    overview = repo_overview(repo, indexes)
    with_history = histories is not None and histories.available(repo)
    if with_history:
        overview += "\n" + HISTORY_LINE
    if map_tokens > 0:
        made = indexes.get(repo.path).map(question, map_tokens)
        if made.text:
            overview += "\n" + MAP_HEADING + "\n" + made.text
    several = len(indexes.roots.roots) > 1
    if several:
        others = [r.path for r in indexes.roots.roots if r.path != repo.root.path]
        overview += "\n- Other repositories (repo= on the tools; search_files repo='*' searches all): " + ", ".join(
            others
        )
    return prompts.render(variant, repo.name, overview, registry_tools(with_history, several))
