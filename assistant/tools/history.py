"""The history tools: git_log, git_show, git_blame and git_diff, read with libgit2 (see
``assistant.history``). They are offered only for a repository that has a history."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from assistant.errors import AssistantError
from assistant.history import (
    DEFAULT_LOG,
    MAX_BLAME_LINES,
    MAX_LOG,
    CommitSummary,
    FileChange,
    History,
    parse_since,
)
from sandbox import Components, Ignored, Repo

from .registry import Arguments, Tool, ToolContext, ToolFailure, ToolOutput, fit, register

MAX_FILES_SHOWN = 8  # files named under one commit of a log


def _path(repo: Repo, given: str | None) -> Components | None:
    try:
        return History.path_arg(repo, given)
    except Ignored as exc:
        raise ToolFailure(
            "access_denied",
            exc.message,
            f"{given} is git-ignored; ignored files (secrets, build output) and their history are never shown.",
        ) from None


def _day(date: str) -> str:
    return date[:10]


def _commit_line(commit: CommitSummary) -> list[str]:
    lines = [f"{commit.short_id}  {_day(commit.date)}  {commit.author}: {commit.subject}"]
    if commit.files:
        named = ", ".join(commit.files[:MAX_FILES_SHOWN])
        more = len(commit.files) - MAX_FILES_SHOWN
        lines.append(f"    {named}" + (f" (+{more} more)" if more > 0 else ""))
    return lines


class GitLog(Arguments):
    path: Annotated[str, Meta(description="only commits that changed this file or directory")] | None = None
    query: Annotated[str, Meta(max_length=500, description="words to find in commit messages (ranked)")] | None = None
    since: Annotated[str, Meta(description="an ISO date (2024-05-01) or '3 weeks', '2 months'")] | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_LOG, description=f"default {DEFAULT_LOG}")] | None = None


def git_log(ctx: ToolContext, args: GitLog, budget: int) -> ToolOutput:
    since = parse_since(args.since) if args.since else None
    with ctx.roots.open_repo(ctx.repo_path) as repo:
        path = _path(repo, args.path)
        commits = ctx.history_of(repo).log(
            repo, path, query=args.query, since=since, limit=args.limit or DEFAULT_LOG, cancel=ctx.cancel
        )
    where = f" that changed {'/'.join(path)}" if path else ""
    matching = f" matching {args.query!r}, best first" if args.query else ", newest first"
    if not commits:
        text = f"No commits{where}{' matching ' + repr(args.query) if args.query else ''}."
        return ToolOutput(text, False, f"no commits{where}")
    lines = [f"{len(commits)} commit{'s' if len(commits) != 1 else ''}{where}{matching}:"]
    for commit in commits:
        lines.extend(_commit_line(commit))
    body, cut = fit(lines, budget, lambda shown: "[cut to the budget; ask with a smaller limit or a path]")
    return ToolOutput(body, cut, f"{len(commits)} commit{'s' if len(commits) != 1 else ''}{where}")


def _patches(files: list[FileChange], hidden: int, files_cut: bool) -> list[str]:
    lines: list[str] = []
    for change in files:
        renamed = f" (renamed from {change.old_path})" if change.old_path else ""
        lines.append(f"--- {change.path}: {change.status}{renamed}, +{change.additions} -{change.deletions}")
        if change.binary:
            lines.append("[binary file: no diff shown]")
        elif change.patch:
            lines.extend(change.patch.rstrip("\n").split("\n"))
        if change.truncated:
            lines.append("[this file's diff was cut]")
    if hidden:
        lines.append(f"[{hidden} git-ignored file{'s' if hidden != 1 else ''} not shown]")
    if files_cut:
        lines.append("[more files changed than are listed]")
    return lines


class GitShow(Arguments):
    commit: Annotated[str, Meta(description="a commit id, full or short (at least 4 hex digits)")]
    path: Annotated[str, Meta(description="only this file's or directory's part of the diff")] | None = None


def git_show(ctx: ToolContext, args: GitShow, budget: int) -> ToolOutput:
    with ctx.roots.open_repo(ctx.repo_path) as repo:
        path = _path(repo, args.path)
        try:
            detail = ctx.history_of(repo).show(repo, args.commit, path)
        except AssistantError as exc:
            if exc.code == "commit_not_found":
                raise ToolFailure(exc.code, exc.message) from None
            raise
    lines = [
        f"commit {detail.id}",
        f"Author: {detail.author}",
        f"Date:   {detail.date}",
        "",
        *("    " + line for line in detail.message.split("\n")),
        "",
    ]
    lines.extend(_patches(detail.files, detail.hidden_files, detail.files_truncated))
    body, cut = fit(
        lines,
        budget,
        lambda shown: "[diff cut to the budget; call git_show with path= for one file's part]",
    )
    return ToolOutput(body, cut, f"{detail.short_id}: {detail.subject} ({len(detail.files)} files)")


class GitBlame(Arguments):
    path: Annotated[str, Meta(description="a file, as committed at HEAD")]
    start_line: Annotated[int, Meta(ge=1, description="first line (default 1)")] | None = None
    end_line: (
        Annotated[int, Meta(ge=1, description=f"last line (default start_line + {MAX_BLAME_LINES // 50 - 1})")] | None
    ) = None


def git_blame(ctx: ToolContext, args: GitBlame, budget: int) -> ToolOutput:
    start = args.start_line or 1
    end = args.end_line or start + MAX_BLAME_LINES // 50 - 1
    if end < start:
        raise ToolFailure("invalid_parameter", "end_line must be at least start_line")
    with ctx.roots.open_repo(ctx.repo_path) as repo:
        path = _path(repo, args.path)
        if path is None:
            raise ToolFailure("invalid_parameter", "path: give a file")
        history = ctx.history_of(repo)
        try:
            blame = history.blame(repo, path, start, end)
        except AssistantError as exc:
            raise ToolFailure(exc.code, exc.message) from None
        text = history.file_at_head(path)
    shown = "/".join(path)
    numbered = text.split("\n")
    lines = [f"{shown} at HEAD, lines {blame.start_line}-{blame.end_line} of {blame.total_lines}:"]
    if blame.working_copy_differs:
        lines.append("[the working copy has uncommitted changes to this file: git_diff shows them]")
    for part in blame.ranges:
        where = f"{part.start_line}-{part.end_line}" if part.end_line != part.start_line else str(part.start_line)
        word = "lines" if part.end_line != part.start_line else "line"
        head = f"{word} {where}: {part.short_id}  {_day(part.date)}"
        lines.append(f"{head}  {part.author}: {part.subject}")
        for number in range(part.start_line, part.end_line + 1):
            if number - 1 < len(numbered):
                lines.append(f"  {number:>5}  {numbered[number - 1][:300]}")
    body, cut = fit(lines, budget, lambda shown_count: "[cut to the budget; ask for fewer lines]")
    commits = len({part.commit for part in blame.ranges})
    return ToolOutput(body, cut, f"blame {shown}:{blame.start_line}-{blame.end_line} ({commits} commits)")


class GitDiff(Arguments):
    path: Annotated[str, Meta(description="only this file or directory")] | None = None
    staged: Annotated[bool, Meta(description="only what is staged (default: all uncommitted changes)")] | None = None


def git_diff(ctx: ToolContext, args: GitDiff, budget: int) -> ToolOutput:
    with ctx.roots.open_repo(ctx.repo_path) as repo:
        path = _path(repo, args.path)
        diff = ctx.history_of(repo).working_diff(repo, path, staged=bool(args.staged))
    what = "staged changes" if diff.staged else "uncommitted changes"
    if not diff.files:
        hidden = f" ({diff.hidden_files} in git-ignored files, not shown)" if diff.hidden_files else ""
        return ToolOutput(f"No {what} against HEAD{hidden}.", False, f"no {what}")
    lines = [f"{len(diff.files)} file{'s' if len(diff.files) != 1 else ''} with {what} against HEAD:"]
    lines.extend(_patches(diff.files, diff.hidden_files, diff.files_truncated))
    body, cut = fit(lines, budget, lambda shown: "[diff cut to the budget; call git_diff with path= for one file]")
    return ToolOutput(body, cut, f"{what} in {len(diff.files)} file{'s' if len(diff.files) != 1 else ''}")


register(
    Tool(
        name="git_log",
        description=(
            "The repository's commits, newest first: short id, date, author, subject and files changed. "
            "path= only commits that changed a file (following renames) or directory; query= finds "
            "commit messages by words (why was this added? when did retry change?); since= a date."
        ),
        arguments=GitLog,
        function=git_log,
        needs_history=True,
    )
)
register(
    Tool(
        name="git_show",
        description=(
            "A commit's full message and its diff (path= for one file's part). Use ids from git_log or git_blame."
        ),
        arguments=GitShow,
        function=git_show,
        needs_history=True,
    )
)
register(
    Tool(
        name="git_blame",
        description=(
            "For lines of a file, the commit that last changed each range (id, date, author, subject), "
            "with the lines: who wrote this and why. Then git_show the commit for its message and diff."
        ),
        arguments=GitBlame,
        function=git_blame,
        needs_history=True,
    )
)
register(
    Tool(
        name="git_diff",
        description="The working tree's uncommitted changes against HEAD (staged=true: only what is staged).",
        arguments=GitDiff,
        function=git_diff,
        needs_history=True,
    )
)
