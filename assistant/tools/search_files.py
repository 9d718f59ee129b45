"""search_files: symbols from the tree-sitter index, text matches grouped by file, and ranked
parts of files (questions asked in words) grouped by file with why each ranked."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from assistant.index import QueryError, SearchResult
from assistant.index.search import merge_by_rank
from assistant.types import SearchHit, SearchMode
from sandbox import SandboxError

from .registry import EVERY_REPO, REPO_HELP, Arguments, Tool, ToolContext, ToolFailure, ToolOutput, fit, register

DEFAULT_RESULTS = 20
MAX_RESULTS = 100


class SearchFiles(Arguments):
    query: Annotated[str, Meta(description="a question in words, a symbol name, text or a regex")]
    mode: Annotated[SearchMode, Meta(description="auto (default), ranked, symbol, text or regex")] | None = None
    path: Annotated[str, Meta(description="only search under this directory")] | None = None
    glob: Annotated[str, Meta(description="only files matching this glob, e.g. *.py")] | None = None
    max_results: Annotated[int, Meta(ge=1, le=MAX_RESULTS, description=f"default {DEFAULT_RESULTS}")] | None = None
    repo: Annotated[str, Meta(description=REPO_HELP + "; * searches every one")] | None = None


def _search_one(ctx: ToolContext, args: SearchFiles, requested: str | None, limit: int) -> SearchResult:
    with ctx.roots.open_repo(requested) as repo:
        prefix = repo.components(args.path) if args.path else ()
        repo.require(prefix)
        index = ctx.indexes.get(repo.path)
    try:
        return index.search(
            args.query,
            args.mode or "auto",
            prefix=prefix,
            glob=args.glob,
            limit=limit,
            read_files=frozenset(ctx.read_files),
            cancel=ctx.cancel,
            deadline=ctx.search_seconds,
        )
    except QueryError as exc:  # the query or mode the model gave: a failure it can read
        raise ToolFailure("invalid_parameter", exc.message) from None


def _search_every(ctx: ToolContext, args: SearchFiles, limit: int) -> SearchResult:
    """The query in every allowed root (a path one lacks leaves it out), merged by rank."""
    found: list[tuple[str, SearchResult]] = []
    for root in ctx.roots.roots:
        try:
            found.append((root.path, _search_one(ctx, args, root.path, limit)))
        except SandboxError as exc:
            if exc.code != "file_not_found":
                raise
    if not found:
        raise ToolFailure("file_not_found", f"no repository has {args.path!r}")
    return merge_by_rank(found, limit)


def search_files(ctx: ToolContext, args: SearchFiles, budget: int) -> ToolOutput:
    query = args.query
    limit = args.max_results or DEFAULT_RESULTS
    if args.repo == EVERY_REPO:
        found = _search_every(ctx, args, limit)
        lines: list[str] = []
        for root in dict.fromkeys(r["repo"] for r in found.results):
            lines.append(f"In repository {root} (give repo={root!r} to read_file):")
            lines.extend("  " + line for line in _lines([r for r in found.results if r["repo"] == root], found))
    else:
        found = _search_one(ctx, args, args.repo or ctx.repo_path, limit)
        lines = _lines(found.results, found)
    if not lines or (len(lines) == 1 and found.state == "building"):
        lines.append(f"No matches for {query!r}.")
    body, cut = fit(
        lines,
        budget,
        lambda _n: f"[output cut at {budget // 1024} KB; narrow the search with path=, glob= or a more specific query]",
    )
    if found.stopped and not ctx.cancel.is_set():
        body += (
            "\n[the search was stopped at its time limit; what it found so far is above. "
            "Narrow it with path=, glob= or a simpler pattern]"
        )
        cut = True
    elif not cut and found.truncated:
        body += (
            f"\n[{found.total - len(found.results)} more matches not shown; "
            "narrow the search with path=, glob= or a more specific query]"
        )
        cut = True
    matched_files = len(found.files)
    in_files = f"{matched_files} file{'s' if matched_files != 1 else ''}"
    summary = f"{found.total} match{'es' if found.total != 1 else ''} in {in_files}"
    if found.truncated:
        summary = f"{found.total}+ matches (showing {len(found.results)}) in {in_files}"
    return ToolOutput(body, cut, summary)


def _lines(results: list[SearchHit], found: SearchResult) -> list[str]:
    """Symbols, then text matches grouped by file, then ranked parts grouped by file."""
    symbols = [r for r in results if r["kind"] in ("definition", "reference")]
    texts = [r for r in results if r["kind"] == "text"]
    chunks = [r for r in results if r["kind"] == "chunk"]
    lines: list[str] = []
    if found.state == "building":
        lines.append(f"[the index is still being built ({found.progress:.0%}); results may be incomplete]")
    if symbols:
        lines.append("Symbols:")
        for r in symbols:
            role = r["symbol_kind"] if r["kind"] == "definition" else f"reference ({r['symbol_kind']})"
            lines.append(f"  {r['symbol']} — {role} — {r['file']}:{r['line']}  {r['text']}")
    if texts:
        files = len({r["file"] for r in texts})
        lines.append(f"Text matches ({len(texts)} shown in {files} file{'s' if files != 1 else ''}):")
        current = None
        for r in texts:
            if r["file"] != current:
                current = r["file"]
                lines.append(current + ("  (minified or generated: very long lines)" if r.get("minified") else ""))
            if "context_before" in r:
                lines.append(f"  {r['line'] - 1}- {r['context_before']}")
            lines.append(f"  {r['line']}: {r['text']}")
            if "context_after" in r:
                lines.append(f"  {r['line'] + 1}- {r['context_after']}")
    if chunks:
        lines.extend(_ranked_lines(chunks))
    return lines


def _ranked_lines(chunks: list[Any]) -> list[str]:
    """Ranked parts grouped by file (files best first): the file with the priors that applied,
    then each part's line range, definition and matched terms, and its best line."""
    files = len({r["file"] for r in chunks})
    lines = [f"Ranked by relevance ({len(chunks)} parts of {files} file{'s' if files != 1 else ''}, best first):"]
    current = None
    for r in chunks:
        why = r.get("why", [])
        terms = [w for w in why if w.split(":", 1)[0] in ("name", "path", "body")]
        if r["file"] != current:
            current = r["file"]
            priors = [w for w in why if w not in terms]
            lines.append(f"{current}" + (f"  [{', '.join(priors)}]" if priors else ""))
        where = f"{r['line']}-{r['end_line']}" if r["end_line"] != r["line"] else str(r["line"])
        head = f"  lines {where}"
        if r.get("symbol"):
            whole = r.get("symbol_lines")
            part_of = whole is not None and (whole[0], whole[1]) != (r["line"], r["end_line"])
            about = [r["symbol_kind"]] if r.get("symbol_kind") else []
            if part_of and whole is not None:
                about.append(f"lines {whole[0]}-{whole[1]}")
            head += (" of " if part_of else " ") + r["symbol"] + (f" ({', '.join(about)})" if about else "")
        lines.append(head + (f" — {', '.join(terms)}" if terms else ""))
        lines.append(f"    {r.get('match_line', r['line'])}: {r['text']}")
    return lines


register(
    Tool(
        name="search_files",
        description=(
            "Search the repository. Ask in words (what the code does, an error message, a pasted "
            "issue) or by name. A question in words finds the most relevant parts of files, grouped "
            "by file with why each ranked; an identifier finds its definitions and references "
            "(tree-sitter index), then text matches, then related parts. mode=text is a literal "
            "search (smart case), mode=regex takes an RE2 regular expression."
        ),
        arguments=SearchFiles,
        function=search_files,
    )
)
