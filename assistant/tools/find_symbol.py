"""find_symbol: a name's definitions and its uses, from the tree-sitter index, each ``path:line``
with the definition that holds it (who calls this? where is it defined?)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from assistant.index import QueryError
from assistant.index.records import FileRecord
from assistant.types import SearchHit

from .registry import REPO_HELP, Arguments, Tool, ToolContext, ToolFailure, ToolOutput, fit, register

MAX_HITS = 200  # gathered; the output is cut to the budget like every tool's
SymbolRole = Literal["definition", "reference", "both"]


class FindSymbol(Arguments):
    name: Annotated[
        str,
        Meta(min_length=1, max_length=200, description="a name: parse_config, Session.send (its last part is found)"),
    ]
    kind: Annotated[SymbolRole, Meta(description="definition, reference or both (default)")] | None = None
    path: Annotated[str, Meta(description="only under this directory")] | None = None
    repo: Annotated[str, Meta(description=REPO_HELP)] | None = None


def _enclosing(record: FileRecord | None, line: int, hit: SearchHit) -> str | None:
    """The innermost definition holding ``line`` (for a definition: the one holding it), as
    ``Name (kind)``."""
    if record is None or record.tags is None:
        return None
    best = None
    for tag in record.tags.definitions:
        if tag.line <= line <= tag.end_line and tag.end_line > tag.line:
            if hit["kind"] == "definition" and (tag.line, tag.name) == (hit["line"], hit.get("symbol")):
                continue  # itself
            if best is None or (tag.end_line - tag.line) < (best.end_line - best.line):
                best = tag
    return f"{best.name} ({best.kind})" if best is not None else None


def find_symbol(ctx: ToolContext, args: FindSymbol, budget: int) -> ToolOutput:
    wanted = args.name.strip().removesuffix("()")
    name = wanted.rsplit(".", 1)[-1]
    if not name.replace("$", "_").replace("-", "_").replace("?", "").replace("!", "").isidentifier():
        raise ToolFailure("invalid_parameter", f"name: {args.name!r} is not a name (a function, class, method …)")
    role = args.kind or "both"
    with ctx.roots.open_repo(args.repo or ctx.repo_path) as repo:
        prefix = repo.components(args.path) if args.path else ()
        repo.require(prefix)
        index = ctx.indexes.get(repo.path)
    try:
        found = index.search(name, "symbol", prefix=prefix, limit=MAX_HITS, cancel=ctx.cancel)
    except QueryError as exc:
        raise ToolFailure("invalid_parameter", exc.message) from None
    exact = [r for r in found.results if r.get("symbol") == name]
    same = exact or [r for r in found.results if str(r.get("symbol", "")).lower() == name.lower()]
    definitions = [r for r in same if r["kind"] == "definition"] if role != "reference" else []
    references = [r for r in same if r["kind"] == "reference"] if role != "definition" else []
    lines: list[str] = []
    if found.state == "building":
        lines.append(f"[the index is still being built ({found.progress:.0%}); results may be incomplete]")
    if definitions:
        lines.append(f"Definitions of {name} ({len(definitions)}, best first):")
        for r in definitions:
            where = f"{r['line']}-{r['end_line']}" if r["end_line"] != r["line"] else str(r["line"])
            holder = _enclosing(index.record(r["file"]), r["line"], r)
            lines.append(f"  {r['file']}:{where}  {r.get('symbol_kind', '')}" + (f" in {holder}" if holder else ""))
            lines.append(f"    {r['line']}: {r['text']}")
    if references:
        files = len({r["file"] for r in references})
        lines.append(f"References to {name} ({len(references)} in {files} file{'s' if files != 1 else ''}):")
        current = None
        for r in sorted(references, key=lambda r: (r["file"], r["line"])):
            if r["file"] != current:
                current = r["file"]
                lines.append(current)
            holder = _enclosing(index.record(r["file"]), r["line"], r)
            lines.append(f"  {r['line']}: {r['text']}" + (f"  [in {holder}]" if holder else "  [top level]"))
    if not definitions and not references:
        wanted_role = {"definition": "definitions", "reference": "references", "both": "definitions or references"}
        lines.append(
            f"No {wanted_role[role]} of {name!r} in the index"
            " (search_files finds it as text, in a language without symbols or in comments)."
        )
    body, cut = fit(lines, budget, lambda _n: f"[output cut at {budget // 1024} KB; narrow it with path= or kind=]")
    if not cut and found.truncated and len(found.results) >= MAX_HITS:
        body += f"\n[stopped at {MAX_HITS} symbols; narrow it with path= or kind=]"
        cut = True
    summary = f"{len(definitions)} definition{'s' if len(definitions) != 1 else ''}"
    if role != "definition":
        summary += f", {len(references)} reference{'s' if len(references) != 1 else ''}"
    return ToolOutput(body, cut, summary)


register(
    Tool(
        name="find_symbol",
        description=(
            "Where a name is defined and where it is used (calls, references), from the code index: "
            "each path:line with the function or class that holds it. Use it to follow a name to its "
            "definition or to answer 'who calls this?'. kind=definition or kind=reference narrows it."
        ),
        arguments=FindSymbol,
        function=find_symbol,
    )
)
