"""GET /docs/errors.md: the error codes page, rendered, so every ``doc_url`` resolves here.

The page ships in the package (``web/docs/errors.md``; ``docs/errors.md`` in the repository
points to it). Its Markdown is the small subset that file uses (headings, paragraphs, lists,
fenced code, inline code, bold, the ``<a id>`` anchors), rendered once by the few lines below
rather than a Markdown dependency.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, get

import web
from assistant.errors import DOC_PAGE

ERRORS_PAGE = Path(web.__file__).parent / "docs" / "errors.md"
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


def render_markdown(text: str) -> str:
    """HTML for the Markdown subset of our docs."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    lines = iter(text.splitlines())

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

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
def _page() -> bytes:
    body = render_markdown(ERRORS_PAGE.read_text(encoding="utf-8"))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>repo-assistant: error codes</title>'
        '<link rel="stylesheet" href="/app.css"></head><body class="doc"><main class="doc-page">'
        f"{body}</main></body></html>"
    ).encode()


@get(DOC_PAGE, include_in_schema=False, summary="The error codes, rendered")
async def get_error_docs(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(_page(), media_type="text/html; charset=utf-8")
