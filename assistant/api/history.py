"""GET /api/v1/history, /api/v1/commits/{commit} and /api/v1/blame: the repository's history,
read as the git_log, git_show and git_blame tools read it (``assistant.history``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from litestar import get
from litestar.params import PathParameter, QueryParameter
from msgspec import Struct

from assistant import workers
from assistant.errors import AssistantError
from assistant.history import (
    DEFAULT_LOG,
    MAX_BLAME_LINES,
    MAX_LOG,
    Blame,
    CommitDetail,
    CommitSummary,
    History,
    parse_since,
)
from sandbox import Repo

from .disconnect import until_disconnect
from .envelope import Envelope, Req, Svc, ok, sandbox_params

T = TypeVar("T")

RepoParam = Annotated[str | None, QueryParameter(description="repository path (default: the first --repo)")]


class Log(Struct):
    """Commits newest first (best first with ``query``); ``path`` as asked, relative to the repo."""

    commits: list[CommitSummary]
    path: str | None
    shallow: bool  # a shallow clone: the history stops where the clone was cut


async def _in_history(request: Req, svc: Svc, repo: str | None, work: Callable[[History, Repo], T]) -> T:
    """Run ``work`` on the repository's history in a worker thread, with the sandbox's
    refusals named as this endpoint's parameters."""

    def run() -> T:
        with sandbox_params(path="path", repo="repo"), svc.roots.open_repo(repo) as opened:
            return work(svc.histories.get(opened), opened)

    return await until_disconnect(request, workers.run_in(workers.QUICK, run))


@get("/history", summary="Commits of the repository, of a path (following renames), or matching words")
async def get_history(
    request: Req,
    svc: Svc,
    repo: RepoParam = None,
    path: Annotated[str | None, QueryParameter(description="only commits that changed this file or directory")] = None,
    words: Annotated[
        str | None,
        QueryParameter(name="query", max_length=500, description="words to find in commit messages (ranked)"),
    ] = None,
    since: Annotated[str | None, QueryParameter(description="an ISO date or date-time, or '3 weeks'")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_LOG)] = DEFAULT_LOG,
) -> Envelope[Log]:
    after = parse_since(since) if since else None

    def work(history: History, opened: Repo) -> Log:
        comps = history.path_arg(opened, path)
        commits = history.log(opened, comps, query=words, since=after, limit=limit)
        return Log(commits, "/".join(comps) if comps else None, history.shallow)

    return ok(request, await _in_history(request, svc, repo, work))


@get("/commits/{commit:str}", summary="A commit: its message, files and diff (one path's part with path=)")
async def get_commit(
    request: Req,
    svc: Svc,
    commit: Annotated[str, PathParameter(description="a commit id (4 to 40 hex digits), HEAD, a branch or a tag")],
    repo: RepoParam = None,
    path: Annotated[str | None, QueryParameter(description="only this file's or directory's part")] = None,
) -> Envelope[CommitDetail]:
    def work(history: History, opened: Repo) -> CommitDetail:
        return history.show(opened, commit, history.path_arg(opened, path))

    return ok(request, await _in_history(request, svc, repo, work))


@get("/blame", summary="For lines of a file at HEAD, the commit that last changed each range")
async def get_blame(
    request: Req,
    svc: Svc,
    path: Annotated[str, QueryParameter(description="a file, as committed at HEAD")],
    repo: RepoParam = None,
    start_line: Annotated[int, QueryParameter(ge=1)] = 1,
    end_line: Annotated[int | None, QueryParameter(ge=1, description=f"default: {MAX_BLAME_LINES:,} lines")] = None,
) -> Envelope[Blame]:
    last = end_line if end_line is not None else start_line + MAX_BLAME_LINES - 1
    if last < start_line:
        raise AssistantError("invalid_parameter", "`end_line` must be at least `start_line`", param="end_line")

    def work(history: History, opened: Repo) -> Blame:
        comps = history.path_arg(opened, path)
        if comps is None:
            raise AssistantError("invalid_parameter", "`path` must name a file", param="path")
        return history.blame(opened, comps, start_line, last)

    return ok(request, await _in_history(request, svc, repo, work))
