"""GET /docs/{errors,api,security,integrations}.md: the documentation pages, rendered, so every
``doc_url`` and every link between the pages resolves on the server.

The pages ship in the package (``web/docs/``; ``docs/`` in the repository points to them). Their
Markdown is the small subset they use (headings, paragraphs, lists, tables, fenced code, inline
code, bold, links, the ``<a id>`` anchors), rendered once by the few lines below rather than a
Markdown dependency.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path
from typing import Annotated

from litestar import MediaType, Response, get
from litestar.params import PathParameter

import web
from assistant.errors import AssistantError

from .envelope import Req

DOCS = Path(web.__file__).parent / "docs"
PAGES = {
    "errors.md": "error codes",
    "api.md": "the API",
    "security.md": "security",
    "integrations.md": "editors and clients",
}
DOC_PATHS = frozenset(f"/docs/{name}" for name in PAGES)
_ANCHOR = re.compile(r'^<a id="([a-z_]+)"></a>$')
_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)")


def _inline(text: str) -> str:
    out: list[str] = []
    last = 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        code, bold, label, target = match.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif bold is not None:
            out.append(f"<strong>{html.escape(bold)}</strong>")
        else:
            out.append(f'<a href="{html.escape(target)}">{html.escape(label)}</a>')
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _table(rows: list[str]) -> str:
    head, body = _cells(rows[0]), [_cells(r) for r in rows[2:]]  # rows[1] is the |---| line
    out = ["<table><thead><tr>", *(f"<th>{_inline(c)}</th>" for c in head), "</tr></thead><tbody>"]
    for row in body:
        out += ["<tr>", *(f"<td>{_inline(c)}</td>" for c in row), "</tr>"]
    return "".join([*out, "</tbody></table>"])


def render_markdown(text: str) -> str:
    """HTML for the Markdown subset of our docs."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    rows: list[str] = []
    lines = iter(text.splitlines())

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()
        if rows:
            out.append(_table(rows))
            rows.clear()

    for line in lines:
        stripped = line.strip()
        anchor = _ANCHOR.match(stripped)
        if stripped.startswith("```"):
            flush()
            code = []
            for inner in lines:
                if inner.strip().startswith("```"):
                    break
                code.append(inner)
            out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
        elif anchor:
            flush()
            out.append(f'<a id="{anchor.group(1)}"></a>')
        elif stripped.startswith("#"):
            flush()
            level = min(len(stripped) - len(stripped.lstrip("#")), 6)
            out.append(f"<h{level}>{_inline(stripped[level:].strip())}</h{level}>")
        elif stripped.startswith("|"):
            if paragraph or items:
                flush()
            rows.append(stripped)
        elif stripped.startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(stripped[2:])
        elif not stripped:
            flush()
        elif items and line.startswith("  "):
            items[-1] += " " + stripped
        else:
            paragraph.append(stripped)
    flush()
    return "\n".join(out)


@cache
def _page(name: str) -> bytes:
    body = render_markdown((DOCS / name).read_text(encoding="utf-8"))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>repo-assistant: {PAGES[name]}</title>'
        '<link rel="stylesheet" href="/app.css"></head><body class="doc"><main class="doc-page">'
        f"{body}</main></body></html>"
    ).encode()


@get("/docs/{name:str}", include_in_schema=False, summary="A documentation page, rendered")
async def get_docs(request: Req, name: Annotated[str, PathParameter()]) -> Response[bytes]:
    if name not in PAGES:
        raise AssistantError("route_not_found", f"no such page; the pages are {', '.join(sorted(PAGES))}")
    return Response(_page(name), media_type=MediaType.HTML)
