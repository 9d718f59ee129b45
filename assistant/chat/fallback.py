"""Answers without a model: when no model server answers, a question gets the ranked search
results for it, headed clearly as search results (not a model's answer), each cited as
``path:line-line`` so the UI links it like any citation. The events are the chat's own: the
answer's text, then ``Done`` (the stream's ``done`` says ``model: null``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from assistant import workers
from assistant.index import IndexManager, QueryError

from .events import ContentDelta, Done, Event, Usage

RESULTS = 8
PREVIEW_LINES = 6
FENCES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".rs": "rust", ".java": "java"}


def render(indexes: IndexManager, repo_path: str, question: str, reason: str) -> str:
    """The Markdown answer: a heading saying what this is and why, then the best parts."""
    view = indexes.get(repo_path)
    lines = [
        "**Search results, not a model's answer.** " + reason,
        "",
    ]
    try:
        found = view.search(question, "ranked", limit=RESULTS)
    except QueryError as exc:
        return "\n".join([*lines, f"The question could not be searched: {exc.message}"])
    if found.state == "building":
        lines += ["_The code index is still being built; these come from what is ready._", ""]
    if not found.results:
        return "\n".join([*lines, "Nothing in the repository matches the question's words."])
    lines += ["The parts of the repository that match the question best:", ""]
    for number, hit in enumerate(found.results, 1):
        where = f"{hit['file']}:{hit['line']}-{hit['end_line']}"
        symbol = f" — `{hit['symbol']}`" if hit.get("symbol") else ""
        why = ", ".join(w for w in hit.get("why", []) if ":" in w)
        lines.append(f"{number}. {where}{symbol}" + (f" ({why})" if why else ""))
        record = view.record(hit["file"])
        if record is not None:
            text = record.text.split(b"\n")[hit["line"] - 1 : min(hit["end_line"], hit["line"] + PREVIEW_LINES - 1)]
            snippet = "\n".join("   " + ln.decode("utf-8", "replace").rstrip() for ln in text)
            language = next((v for k, v in FENCES.items() if hit["file"].endswith(k)), "")
            fence = "```"
            while fence in snippet:
                fence += "`"
            lines += [f"   {fence}{language}", snippet, f"   {fence}"]
    return "\n".join(lines)


async def answer(indexes: IndexManager, repo_path: str, question: str, reason: str) -> AsyncIterator[Event]:
    """The search answer as chat events."""
    text = await workers.run_in(workers.QUICK, render, indexes, repo_path, question, reason)
    yield ContentDelta(text)
    yield Done("stop", Usage(), extra={"from_search": True})
