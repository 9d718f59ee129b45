"""Answers without a model: when no model server answers, a question gets the ranked search
results for it, headed clearly as search results (not a model's answer), each cited as
``path:line-line`` so the UI links it like any citation. A question about the whole project
("what does this project do?") starts from the README's opening and the repository map instead
of the parts that happen to say "project". The events are the chat's own: the answer's text,
then ``Done`` (``from_search: true``; the stream's ``done`` says ``model: null``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from assistant import workers
from assistant.index import IndexManager, IndexView, QueryError

from .events import ContentDelta, Done, Event, Usage

RESULTS = 8
PREVIEW_LINES = 6
FENCES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go", ".rs": "rust", ".java": "java"}
# a question about the whole project rather than a part of it
OVERVIEW = re.compile(
    r"\b(?:what (?:does|is) (?:this|the) (?:project|repo|repository|code ?base|library|package|tool|app(?:lication)?)"
    r"|what (?:does|is) (?:it|this) (?:do|for|about)\b|overview|summar(?:y|ize|ise) (?:this|the)|"
    r"(?:explain|describe|introduce) (?:this|the) (?:project|repo|repository|code ?base)|"
    r"how is (?:this|the) (?:project|repo|repository|code ?base) (?:organi[sz]ed|structured|laid out))",
    re.IGNORECASE,
)
README_LINES = 30
OVERVIEW_RESULTS = 3  # after the README and the map, the parts that match the question's words
MAP_TOKENS = 512
_HEADING = re.compile(r"^#{1,6}\s")
_UNDERLINE = re.compile(r"^([=\-~^*#])\1{2,}\s*$")
_BADGE = re.compile(r"^\s*(?:\[!\[|!\[|\.\. image::|:target:|<img|<a )", re.IGNORECASE)


def readme_opening(view: IndexView) -> tuple[str, str, int] | None:
    """The README's path, its opening (the title and the first paragraphs, badges and images
    left out, at most ``README_LINES`` lines) and the line of the file it ends on."""
    names = sorted(
        (p for p in view.paths() if "/" not in p and p.lower().startswith("readme")), key=lambda p: (len(p), p)
    )
    for name in names:
        record = view.record(name)
        if record is None:
            continue
        kept: list[str] = []
        headings = last = 0
        for number, line in enumerate(record.text.decode("utf-8", "replace").splitlines(), 1):
            if _BADGE.match(line) or line.startswith(".. _"):
                continue
            if not line.strip() and (not kept or not kept[-1].strip()):
                continue
            if _HEADING.match(line) or (kept and kept[-1].strip() and _UNDERLINE.match(line)):
                headings += 1
                if headings > 1:  # the opening ends where the second section starts
                    if not line.startswith("#"):
                        kept.pop()  # an underlined heading's text
                    break
            kept.append(line.rstrip())
            if line.strip():
                last = number
            if len(kept) >= README_LINES:
                break
        if kept:
            return name, "\n".join(kept).strip(), last
    return None


def overview(view: IndexView) -> list[str]:
    """The README's opening and the repository map, for a question about the whole project."""
    lines: list[str] = []
    opening = readme_opening(view)
    if opening is not None:
        name, text, last = opening
        lines += [f"What the project says of itself ({name}:1-{last}):", ""]
        lines += ["> " + ln if ln else ">" for ln in text.splitlines()]
        lines.append("")
    made = view.map(None, MAP_TOKENS)  # central to the project, not to the question's words
    if made.text:
        lines += ["Its most central files and their key definitions:", "", "```", made.text, "```", ""]
    return lines


def render(indexes: IndexManager, repo_path: str, question: str, reason: str) -> str:
    """The Markdown answer: a heading saying what this is and why, then the best parts."""
    view = indexes.get(repo_path)
    lines = [
        "**Search results, not a model's answer.** " + reason,
        "",
    ]
    broad = bool(OVERVIEW.search(question))
    if broad:
        lines += overview(view)
    try:
        found = view.search(question, "ranked", limit=OVERVIEW_RESULTS if broad else RESULTS)
    except QueryError as exc:
        return "\n".join([*lines, f"The question could not be searched: {exc.message}"])
    if found.state == "building":
        lines += ["_The code index is still being built; these come from what is ready._", ""]
    if not found.results:
        return "\n".join([*lines, "Nothing in the repository matches the question's words."])
    lines += [
        "Other parts that match the question's words:"
        if broad
        else "The parts of the repository that match the question best:",
        "",
    ]
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
