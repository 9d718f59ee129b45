"""read_file: numbered lines of a file in the repository."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from sandbox import MAX_READ_BYTES, Ignored, NotAFile

from .registry import REPO_HELP, Arguments, Lines, Tool, ToolContext, ToolFailure, ToolOutput, fit, register

DEFAULT_LINES = 400
MAX_LINE_CHARS = 2000


class ReadFile(Arguments):
    path: Annotated[str, Meta(description="file path relative to the repository root")]
    start_line: Annotated[int, Meta(ge=1, description="first line to read (1-based)")] | None = None
    end_line: Annotated[int, Meta(ge=1, description="last line to read (inclusive)")] | None = None
    repo: Annotated[str, Meta(description=REPO_HELP)] | None = None


def read_file(ctx: ToolContext, args: ReadFile, budget: int) -> ToolOutput:
    path = args.path
    start = args.start_line or 1
    end = args.end_line
    if end is not None and end < start:
        raise ToolFailure("invalid_parameter", "end_line must be at least start_line")
    with ctx.roots.open_repo(args.repo or ctx.repo_path) as repo:
        comps = repo.components(path)
        try:
            data = repo.read(comps, MAX_READ_BYTES)
        except NotAFile as exc:
            if exc.directory:
                raise ToolFailure(
                    "not_a_file",
                    f"{path} is a directory",
                    f"{path} is a directory; use list_files to see what it contains.",
                ) from None
            raise ToolFailure(
                "not_a_file",
                f"{path} is not a regular file",
                f"{path} is a FIFO, socket or device, not a regular file; it cannot be read.",
            ) from None
        except Ignored:
            raise ToolFailure(
                "access_denied",
                f"{path} is git-ignored",
                f"{path} is git-ignored; ignored files (secrets, build output) are never read.",
            ) from None
    shown = "/".join(comps)
    ctx.read_files.add(shown)
    if data.binary:
        return ToolOutput(
            f"{shown} is a binary file ({data.size:,} bytes); its contents are not shown.", False, f"{shown} is binary"
        )
    text = data.data.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    total = len(lines)
    last = min(total, end if end is not None else start + DEFAULT_LINES - 1)
    width = len(str(max(last, 1)))
    numbered = []
    cut_lines = 0
    for number in range(start, last + 1):
        line = lines[number - 1]
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + f" … [line cut at {MAX_LINE_CHARS:,} characters]"
            cut_lines += 1
        numbered.append(f"{number:>{width}}  {line}")
    header = f"{shown} ({total:,} lines{'+' if data.truncated else ''})"
    if start > total:
        return ToolOutput(f"{header}\n[the file has only {total:,} lines]", False, f"{shown} has {total:,} lines")
    body, cut = fit(
        [header, *numbered],
        budget,
        lambda shown_count: (
            f"[output cut at {budget // 1024} KB after line {start + shown_count - 2}; "
            f"call read_file with start_line={start + shown_count - 1} to read more]"
        ),
    )
    if not cut and last < total:
        body += f"\n[showing lines {start}-{last} of {total:,}; call read_file with start_line={last + 1} to read more]"
        cut = True
    summary = f"read lines {start}-{last} of {shown}" if total else f"{shown} is empty"
    return ToolOutput(body, cut or data.truncated, summary, Lines(shown, start, last) if total else None)


register(
    Tool(
        name="read_file",
        description=(
            "Read a file of the repository, with line numbers. Paths are relative to the repository "
            f"root. Returns the first {DEFAULT_LINES} lines unless start_line/end_line are given."
        ),
        arguments=ReadFile,
        function=read_file,
    )
)
