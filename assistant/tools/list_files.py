"""list_files: an indented tree of the repository (ignored entries hidden)."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from sandbox import Components, SandboxError, list_directory

from .registry import REPO_HELP, Arguments, Tool, ToolContext, ToolOutput, fit, register

DEFAULT_DEPTH = 2
MAX_DEPTH = 6
MAX_ENTRIES = 1000


Directory = Annotated[str, Meta(description="directory relative to the repository root (default: the root)")]
Depth = Annotated[int, Meta(ge=1, le=MAX_DEPTH, description=f"levels to descend (default {DEFAULT_DEPTH})")]


class ListFiles(Arguments):
    path: Directory | None = None
    depth: Depth | None = None
    repo: Annotated[str, Meta(description=REPO_HELP)] | None = None


def list_files(ctx: ToolContext, args: ListFiles, budget: int) -> ToolOutput:
    depth = args.depth or DEFAULT_DEPTH
    lines: list[str] = []
    count = 0
    capped = False
    with ctx.roots.open_repo(args.repo or ctx.repo_path) as repo:
        top = repo.components(args.path or "")
        root_listing = list_directory(repo, top, include_ignored=False)
        title = "/".join(top) or "."
        entries = root_listing.entries
        if len(entries) == 1 and entries[0].path == title and entries[0].type != "directory":
            # a file was named: it is listed alone, like `ls FILE`
            only = entries[0]
            size = f"  ({only.size:,} bytes)" if only.size is not None else ""
            return ToolOutput(f"{title}{size}", False, f"1 file: {title}")
        lines.append(f"{title}/")

        def walk(comps: Components, entries: list[Any], level: int) -> None:
            nonlocal count, capped
            for entry in entries:
                if count >= MAX_ENTRIES:
                    capped = True
                    return
                count += 1
                indent = "  " * level
                if entry.type == "directory":
                    lines.append(f"{indent}{entry.name}/")
                    if level < depth:
                        try:
                            child = list_directory(repo, (*comps, entry.name), include_ignored=False)
                        except SandboxError:
                            continue
                        walk((*comps, entry.name), child.entries, level + 1)
                elif entry.type == "symlink":
                    lines.append(f"{indent}{entry.name} (symlink)")
                else:
                    lines.append(
                        f"{indent}{entry.name}" + (f"  ({entry.size:,} bytes)" if entry.size is not None else "")
                    )

        walk(top, root_listing.entries, 1)
    body, cut = fit(
        lines,
        budget,
        lambda n: (
            f"[output cut at {budget // 1024} KB after {n - 1} entries; list a subdirectory with path= to see more]"
        ),
    )
    if not cut and (capped or root_listing.truncated):
        body += f"\n[stopped at {MAX_ENTRIES} entries; list a subdirectory with path= to see more]"
        cut = True
    return ToolOutput(body, cut, f"{count} entr{'ies' if count != 1 else 'y'} under {title}")


register(
    Tool(
        name="list_files",
        description=(
            "List the files and directories of the repository as an indented tree (directories "
            f"first; git-ignored entries hidden). depth defaults to {DEFAULT_DEPTH}."
        ),
        arguments=ListFiles,
        function=list_files,
    )
)
