"""The history tools (git_log, git_show, git_blame, git_diff) on real repositories made with git:
their text, renames and merges, the sandbox's rules (an ignored .env once committed never shows;
a commit no branch reaches cannot be shown), and nothing run and nothing written in .git."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.history import HistoryManager
from assistant.index import IndexManager
from assistant.tools import ToolContext, ToolResult, run_tool, tools_for
from sandbox import Roots
from tests.gitrepos import SECRET, GitRepo, git, history_repo

HISTORY_TOOLS = {"git_log", "git_show", "git_blame", "git_diff"}


@pytest.fixture
def made(tmp_path: Path) -> GitRepo:
    return history_repo(tmp_path)


def context(repo: Path, cache: Path, repo_path: Path | None = None) -> ToolContext:
    roots = Roots([str(repo)])
    at = str(repo_path) if repo_path else None
    return ToolContext(roots, IndexManager(roots, str(cache)), at, histories=HistoryManager())


@pytest.fixture
def ctx(made: GitRepo, tmp_path: Path) -> Iterator[ToolContext]:
    made_ctx = context(made.path, tmp_path / "cache")
    yield made_ctx
    made_ctx.indexes.close()
    assert made_ctx.histories is not None
    made_ctx.histories.close()
    made_ctx.roots.close()


def call(ctx: ToolContext, name: str, **arguments: object) -> ToolResult:
    result = run_tool(ctx, name, arguments)
    assert result.rejected is None, result.rejected
    return result


def test_git_log_lists_commits_newest_first_with_files(ctx: ToolContext, made: GitRepo) -> None:
    result = call(ctx, "git_log")
    lines = result.content.splitlines()
    assert lines[0] == "7 commits, newest first:"
    assert lines[1] == f"{made.commits['merge'][:7]}  2024-05-03  Ada Lovelace: Merge branch 'feature'"
    assert (
        f"{made.commits['retry'][:7]}  2024-02-01  Grace Hopper: Add retry with exponential backoff to fetch" in lines
    )
    assert result.summary == "7 commits"


def test_git_log_of_a_path_follows_its_rename(ctx: ToolContext, made: GitRepo) -> None:
    result = call(ctx, "git_log", path="app/settings.py")
    assert result.content.splitlines()[0] == "2 commits that changed app/settings.py, newest first:"
    assert made.commits["rename"][:7] in result.content
    assert made.commits["start"][:7] in result.content  # when it was still app/config.py


def test_git_log_of_a_path_leaves_out_a_merge_that_took_one_side(ctx: ToolContext, made: GitRepo) -> None:
    result = call(ctx, "git_log", path="app/net.py")
    shown = [line.split()[0] for line in result.content.splitlines()[1:] if not line.startswith("    ")]
    assert shown == [made.commits["feature"][:7], made.commits["retry"][:7]]


def test_git_log_query_ranks_messages_and_since_cuts(ctx: ToolContext, made: GitRepo) -> None:
    found = call(ctx, "git_log", query="why exponential backoff?")
    assert found.content.splitlines()[1].startswith(made.commits["retry"][:7])
    assert call(ctx, "git_log", query="kubernetes").content == "No commits matching 'kubernetes'."
    recent = call(ctx, "git_log", since="2024-04-15")
    assert recent.content.splitlines()[0] == "3 commits, newest first:"
    bad = run_tool(ctx, "git_log", {"since": "yesterday"})
    assert bad.status == "failed" and bad.error_code == "invalid_parameter" and "ISO date" in bad.content


def test_git_show_gives_the_message_and_the_diff(ctx: ToolContext, made: GitRepo) -> None:
    result = call(ctx, "git_show", commit=made.commits["retry"][:8])
    assert result.content.startswith(f"commit {made.commits['retry']}\nAuthor: Grace Hopper\nDate:   2024-02-01")
    assert "    Networks drop requests; three attempts." in result.content
    assert "--- app/net.py: added, +10 -0" in result.content and "+def fetch(url, attempts=3):" in result.content
    renamed = call(ctx, "git_show", commit=made.commits["rename"])
    assert "--- app/settings.py: renamed (renamed from app/config.py), +0 -0" in renamed.content
    by_name = call(ctx, "git_show", commit="main", path="README.md")
    assert "Merge branch 'feature'" in by_name.content and "app/net.py" not in by_name.content


def test_git_blame_names_the_commit_of_each_range(ctx: ToolContext, made: GitRepo) -> None:
    result = call(ctx, "git_blame", path="app/net.py", start_line=3, end_line=5)
    lines = result.content.splitlines()
    assert lines[0] == "app/net.py at HEAD, lines 3-5 of 10:"
    assert lines[1].startswith("[the working copy has uncommitted changes")
    assert lines[2].startswith(f"line 3: {made.commits['retry'][:7]}  2024-02-01  Grace Hopper: Add retry")
    assert (
        lines[4] == f"line 4: {made.commits['feature'][:7]}  2024-05-01  Ada Lovelace: Five attempts for flaky mirrors"
    )
    assert lines[5] == "      4  def fetch(url, attempts=5):"
    assert lines[6].startswith(f"line 5: {made.commits['retry'][:7]}")
    renamed = call(ctx, "git_blame", path="app/settings.py", start_line=1, end_line=1)
    assert made.commits["start"][:7] in renamed.content  # through the rename
    missing = run_tool(ctx, "git_blame", {"path": "notes.txt"})
    assert missing.status == "failed" and missing.error_code == "file_not_found"


def test_git_diff_shows_uncommitted_and_staged_changes(ctx: ToolContext, made: GitRepo) -> None:
    everything = call(ctx, "git_diff")
    assert everything.content.splitlines()[0] == "3 files with uncommitted changes against HEAD:"
    assert "+Work in progress." in everything.content and "+# staged note" in everything.content
    assert "--- notes.txt: added, +1 -0" in everything.content
    staged = call(ctx, "git_diff", staged=True)
    assert staged.content.splitlines()[0] == "1 file with staged changes against HEAD:"
    assert "+# staged note" in staged.content and "Work in progress" not in staged.content
    one = call(ctx, "git_diff", path="README.md")
    assert "README.md" in one.content and "net.py" not in one.content


def test_an_ignored_file_once_committed_never_shows(ctx: ToolContext, made: GitRepo) -> None:
    secret = SECRET.split("=")[1]
    outputs = [
        call(ctx, "git_log").content,
        call(ctx, "git_log", query="env").content,
        call(ctx, "git_show", commit=made.commits["start"]).content,
        call(ctx, "git_show", commit=made.commits["untrack"]).content,
        call(ctx, "git_diff").content,
        call(ctx, "git_diff", staged=True).content,
    ]
    for text in outputs:
        assert secret not in text and ".env:" not in text
    assert "[1 git-ignored file not shown]" in outputs[2]
    for name, arguments in [
        ("git_log", {"path": ".env"}),
        ("git_blame", {"path": ".env"}),
        ("git_show", {"commit": made.commits["start"], "path": ".env"}),
        ("git_diff", {"path": ".env"}),
    ]:
        refused = run_tool(ctx, name, arguments)
        assert refused.status == "failed" and refused.error_code == "access_denied", (name, refused.content)
        assert secret not in refused.content
    # the blob's own id is not a commit: it cannot be shown by id either
    blob = git(made.path, "rev-parse", f"{made.commits['start']}:.env")
    by_id = run_tool(ctx, "git_show", {"commit": blob})
    assert by_id.error_code == "commit_not_found" and secret not in by_id.content
    tree = git(made.path, "rev-parse", f"{made.commits['start']}^{{tree}}")
    assert run_tool(ctx, "git_show", {"commit": tree}).error_code == "commit_not_found"


def test_only_commits_a_branch_or_tag_reaches_are_shown(ctx: ToolContext, made: GitRepo) -> None:
    dangling = made.commits["dangling"]
    assert git(made.path, "cat-file", "-t", dangling) == "commit"  # still in the object store
    for given in (dangling, dangling[:7]):
        refused = run_tool(ctx, "git_show", {"commit": given})
        assert refused.error_code == "commit_not_found" and "DRAFT" not in refused.content
    for syntax in ("HEAD:README.md", "HEAD~1", "main^", "@{0}", "HEAD^{tree}"):
        assert run_tool(ctx, "git_show", {"commit": syntax}).error_code == "commit_not_found", syntax
    git(made.path, "tag", "kept", dangling)  # a tag reaches it now
    assert "Draft that was thrown away" in call(ctx, "git_show", commit=dangling[:7]).content


def _state_of_git_dir(repo: Path) -> dict[str, tuple[int, int, str]]:
    out = {}
    for folder, _, names in os.walk(repo / ".git"):
        for name in names:
            path = Path(folder) / name
            st = path.lstat()
            out[str(path)] = (st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def test_nothing_is_run_and_nothing_written_in_git(
    made: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _state_of_git_dir(made.path)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "git").write_text(f'#!/bin/sh\ntouch "{made.markers}/git-command"\n')
    (fake_bin / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    ctx = context(made.path, tmp_path / "cache2")
    for name, arguments in [
        ("git_log", {}),
        ("git_log", {"path": "app/settings.py"}),
        ("git_show", {"commit": made.commits["start"]}),
        ("git_show", {"commit": made.commits["rename"]}),
        ("git_blame", {"path": "app/net.py"}),
        ("git_diff", {}),
        ("git_diff", {"staged": True}),
    ]:
        assert run_tool(ctx, name, arguments).status == "completed", name
    assert made.ran() == []  # no fsmonitor, external diff, textconv, filter, hook or git command ran
    assert _state_of_git_dir(made.path) == before


def test_a_subdirectory_repository_sees_its_own_prefix(made: GitRepo, tmp_path: Path) -> None:
    ctx = context(made.path, tmp_path / "cache3", made.path / "app")
    log = call(ctx, "git_log").content
    assert "Say what the project does" not in log  # README.md is outside app/
    assert "Add retry with exponential backoff" in log and "\n    net.py" in log
    assert call(ctx, "git_blame", path="net.py", start_line=4, end_line=4).content.count("Five attempts") == 1
    shown = call(ctx, "git_show", commit=made.commits["readme"]).content
    assert "README" not in shown.split("\n\n", 2)[-1]  # the commit's file outside app/ is not shown


def test_a_git_repository_above_the_allowed_root_is_not_read(made: GitRepo, tmp_path: Path) -> None:
    ctx = context(made.path / "app", tmp_path / "cache11")
    refused = run_tool(ctx, "git_log", {})
    assert refused.rejected is not None and refused.rejected.code == "history_unavailable"


def test_a_directory_without_git_has_no_history_tools(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text("x = 1\n")
    ctx = context(plain, tmp_path / "cache4")
    assert not HISTORY_TOOLS & {tool.name for tool in tools_for(ctx)}
    refused = run_tool(ctx, "git_log", {})
    assert refused.rejected is not None and refused.rejected.code == "history_unavailable"
    assert "no .git" in refused.content


def test_a_git_file_pointing_elsewhere_is_no_history(made: GitRepo, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".git").write_text(f"gitdir: {made.path / '.git'}\n")
    ctx = context(linked, tmp_path / "cache5")
    refused = run_tool(ctx, "git_log", {})
    assert refused.rejected is not None and refused.rejected.code == "history_unavailable"
    assert "lives elsewhere" in refused.content
    assert HISTORY_TOOLS & {tool.name for tool in tools_for(context(made.path, tmp_path / "c6"))} == HISTORY_TOOLS


def test_a_shallow_clone_shows_the_history_it_has(made: GitRepo, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "2", f"file://{made.path}", str(clone)], check=True, capture_output=True
    )
    ctx = context(clone, tmp_path / "cache7")
    log = call(ctx, "git_log").content
    assert log.splitlines()[0] == "3 commits, newest first:"  # the merge and its two parents
    blame = call(ctx, "git_blame", path="app/net.py", start_line=1, end_line=2)
    assert blame.status == "completed" and "line" in blame.content


def test_a_corrupt_object_is_a_clear_failure(tmp_path: Path) -> None:
    repo = tmp_path / "corrupt"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.txt").write_text("first\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "First")
    blob = git(repo, "rev-parse", "HEAD:a.txt")
    loose = repo / ".git" / "objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    loose.write_bytes(b"this is not a zlib stream")
    ctx = context(repo, tmp_path / "cache8")
    assert "First" in call(ctx, "git_log").content  # the commit and its tree are fine
    shown = run_tool(ctx, "git_show", {"commit": "HEAD"})
    assert shown.status == "failed" and shown.error_code == "history_unavailable"
    assert "could not be read" in shown.content


def test_a_repository_with_no_commits(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "new.py").write_text("print('hi')\n")
    git(repo, "add", "new.py")
    ctx = context(repo, tmp_path / "cache9")
    assert call(ctx, "git_log").content == "No commits."
    staged = call(ctx, "git_diff", staged=True)
    assert "--- new.py: added, +1 -0" in staged.content
    assert run_tool(ctx, "git_blame", {"path": "new.py"}).error_code == "file_not_found"


def test_borrowed_objects_are_no_history(made: GitRepo, tmp_path: Path) -> None:
    clone = tmp_path / "borrowing"
    subprocess.run(["git", "clone", "-q", "--shared", str(made.path), str(clone)], check=True, capture_output=True)
    ctx = context(clone, tmp_path / "cache10")
    refused = run_tool(ctx, "git_log", {})
    assert refused.rejected is not None and "alternates" in refused.content
    shutil.rmtree(clone)
