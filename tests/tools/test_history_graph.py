"""The commit graph: the history tools answer the same from it as from the repository read
directly, its blame agrees with git's own, it is kept on disk and brought up to date when HEAD
moves, and its commit messages are evidence for ranked search."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pygit2
import pytest

from assistant.history import History
from assistant.history.git import locate
from assistant.history.graph import Graph, _Differ, build
from sandbox import Repo, Roots
from tests.gitrepos import GitRepo, git, head, history_repo
from tests.helpers import worker_processes


def opened(path: Path) -> tuple[Roots, Repo]:
    roots = Roots([str(path)])
    return roots, roots.acquire(None)


def both(repo: Repo, cache: Path) -> tuple[History, History]:
    direct = History(locate(repo), None, graph=False)
    graphed = History(locate(repo), str(cache))
    assert graphed.keeper.wait(30) and graphed.keeper.graph is not None
    return direct, graphed


@pytest.fixture
def made(tmp_path: Path) -> GitRepo:
    # no hostile config: these tests commit with git after the server read the repository
    return history_repo(tmp_path / "git", hostile_config=False)


def test_log_from_the_graph_is_the_log_read_directly(made: GitRepo, tmp_path: Path) -> None:
    roots, repo = opened(made.path)
    direct, graphed = both(repo, tmp_path / "cache")
    for path in (None, ("app", "settings.py"), ("app", "net.py"), ("app",), ("README.md",), ("gone.py",)):
        for query in (None, "retry backoff", "settings"):
            for since in (None, 1709000000):
                a = direct.log(repo, path, query=query, since=since)
                b = graphed.log(repo, path, query=query, since=since)
                assert [c.id for c in a] == [c.id for c in b], (path, query, since)
                assert [sorted(c.files) for c in a] == [c.files for c in b], (path, query)
                assert [c.hidden_files for c in a] == [c.hidden_files for c in b]
    repo.close()
    roots.close()


def test_blame_from_the_graph_is_the_blame_read_directly(made: GitRepo, tmp_path: Path) -> None:
    roots, repo = opened(made.path)
    direct, graphed = both(repo, tmp_path / "cache")
    for path in (("app", "net.py"), ("app", "settings.py"), ("README.md",)):
        a = direct.blame(repo, path, 1, 100)
        b = graphed.blame(repo, path, 1, 100)
        assert [(r.start_line, r.end_line, r.commit) for r in a.ranges] == [
            (r.start_line, r.end_line, r.commit) for r in b.ranges
        ], path
    repo.close()
    roots.close()


def _git_blame(path: Path, name: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(path), "blame", "--porcelain", "--", name], capture_output=True, text=True, check=True
    ).stdout
    by_line: dict[int, str] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and len(parts[0]) == 40 and all(c in "0123456789abcdef" for c in parts[0]):
            by_line[int(parts[2])] = parts[0]
    return [by_line[n] for n in sorted(by_line)]


def test_blame_agrees_with_git_on_a_history_of_random_edits_branches_and_merges(tmp_path: Path) -> None:
    rng = random.Random(7)
    repo = tmp_path / "random"
    repo.mkdir()
    git(repo, "init", "-q")
    lines = [f"line {i} of the original text" for i in range(60)]
    (repo / "f.txt").write_text("\n".join(lines) + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start", date="2024-01-01T00:00:00+00:00")
    day = 1

    def edit(label: str) -> None:
        nonlocal day, lines
        text = (repo / "f.txt").read_text().splitlines()
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text))
            action = rng.random()
            if action < 0.4:
                text[at] = f"{label} changed {at} on day {day}"
            elif action < 0.7:
                text.insert(at, f"{label} inserted on day {day}")
            elif len(text) > 10:
                del text[at]
        (repo / "f.txt").write_text("\n".join(text) + "\n")
        git(repo, "commit", "-q", "-am", f"{label} day {day}", date=f"2024-02-{day:02d}T00:00:00+00:00")
        day += 1

    for round_ in range(4):
        git(repo, "checkout", "-q", "-b", f"side{round_}")
        for _ in range(3):
            edit(f"side{round_}")
        git(repo, "checkout", "-q", "main")
        for _ in range(2):
            edit("main")
        merged = subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=M", "-c", "user.email=m@x", "merge", "-q", "--no-edit",
             f"side{round_}"],
            capture_output=True, text=True, env={"GIT_AUTHOR_DATE": f"2024-02-{day:02d}T12:00:00+00:00",
                                                 "GIT_COMMITTER_DATE": f"2024-02-{day:02d}T12:00:00+00:00",
                                                 "PATH": "/usr/bin:/bin", "HOME": str(repo)},
        )  # fmt: skip
        if merged.returncode != 0:  # a conflict: take both sides' lines in order
            text = (repo / "f.txt").read_text().splitlines()
            kept = [t for t in text if not t.startswith(("<<<<<<<", "=======", ">>>>>>>"))]
            (repo / "f.txt").write_text("\n".join(kept) + "\n")
            git(repo, "commit", "-q", "-am", f"merge side{round_}", date=f"2024-02-{day:02d}T12:00:00+00:00")
        day += 1
    expected = _git_blame(repo, "f.txt")
    roots, opened_repo = opened(repo)
    graphed = History(locate(opened_repo), str(tmp_path / "cache"))
    assert graphed.keeper.wait(30) and graphed.keeper.graph is not None
    blame = graphed.blame(opened_repo, ("f.txt",), 1, len(expected))
    ours = [r.commit for r in blame.ranges for _ in range(r.start_line, r.end_line + 1)]
    assert len(ours) == len(expected)
    agree = sum(a == b for a, b in zip(ours, expected, strict=True))
    assert agree == len(expected), f"{agree} of {len(expected)} lines agree with git blame"
    opened_repo.close()
    roots.close()


def test_the_graph_is_kept_on_disk_and_follows_head(made: GitRepo, tmp_path: Path) -> None:
    roots, repo = opened(made.path)
    cache = tmp_path / "cache"
    first = History(locate(repo), str(cache))
    assert first.keeper.wait(30) and first.keeper.build_seconds is not None
    assert list((cache / "history").iterdir())
    again = History(locate(repo), str(cache))
    assert again.keeper.wait(30) and again.keeper.graph is not None
    assert again.keeper.build_seconds is None  # loaded, not built
    (made.path / "app" / "new.py").write_text("NEW = 1\n")
    git(made.path, "add", "app/new.py")
    git(made.path, "commit", "-q", "-m", "Add new module", date="2024-06-01T10:00:00+00:00")
    assert again.log(repo, ("app",), limit=1)[0].subject == "Add new module"  # read directly meanwhile
    assert again.keeper.wait(30)
    graph = again.keeper.graph
    assert graph is not None and graph.head.hex() == head(made.path) and len(graph) == 8
    assert again.log(repo, ("app", "new.py"))[0].subject == "Add new module"
    (cache / "history").joinpath(next((cache / "history").iterdir()).name).write_bytes(b"damaged")
    rebuilt = History(locate(repo), str(cache))
    assert rebuilt.keeper.wait(30) and rebuilt.keeper.graph is not None and len(rebuilt.keeper.graph) == 8
    repo.close()
    roots.close()


def test_commit_messages_are_evidence_of_the_files_they_changed(made: GitRepo, tmp_path: Path) -> None:
    roots, repo = opened(made.path)
    _, graphed = both(repo, tmp_path / "cache")
    field = graphed.field()
    assert field is not None
    found = field.evidence("exponential backoff when the network drops")
    assert found[0][0] == "app/net.py" and found[0][1] == 1.0
    assert found[0][2].startswith("history:") and "backoff×1" in found[0][2]  # noqa: RUF001
    repo.close()
    roots.close()


def branching_repo(repo: Path, seed: int) -> Path:
    """A history of random edits in several directories, on branches merged back with --no-ff:
    some merges take a side's files unchanged (the main line did not touch them), some resolve
    a conflict into text neither side had, some bring a file that became a directory."""
    rng = random.Random(seed)
    repo.mkdir()
    git(repo, "init", "-q")
    names = ["a/one.py", "a/two.py", "a/deep/three.py", "b/four.py", "top.md"]
    for name in names:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f"{name}\n" + "".join(f"line {i}\n" for i in range(20)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    day = 1

    def commit(label: str) -> None:
        nonlocal day
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(names)
            action = rng.random()
            if action < 0.7 or name == "top.md":
                text = (repo / name).read_text().splitlines()
                text[rng.randrange(len(text))] = f"{label} day {day}"
                (repo / name).write_text("\n".join(text) + "\n")
            elif action < 0.85:
                (repo / name).unlink()
                names.remove(name)
            else:
                fresh = f"{name.rsplit('/', 1)[0]}/new{day}.py"
                (repo / fresh).write_text(f"new on {day}\n")
                names.append(fresh)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"{label} {day}", date=f"2024-02-{day:02d}T00:00:00+00:00")
        day += 1

    for round_ in range(6):
        git(repo, "checkout", "-q", "-b", f"side{round_}")
        for _ in range(rng.randint(1, 3)):
            commit(f"side{round_}")
        if round_ == 3:  # a file becomes a directory on the side
            (repo / "b" / "four.py").unlink(missing_ok=True)
            (repo / "b" / "four.py").mkdir(parents=True)
            (repo / "b" / "four.py" / "inner.py").write_text("inside\n")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", "file to directory", date=f"2024-02-{day:02d}T00:00:00+00:00")
            day += 1
            names[:] = [n for n in names if n != "b/four.py"]
        git(repo, "checkout", "-q", "main")
        names[:] = git(repo, "ls-files").splitlines()
        if round_ % 2:  # the main line moves too (else the merge takes the side's files as they are)
            commit("main")
        date = f"2024-02-{day:02d}T12:00:00+00:00"
        merged = subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=M", "-c", "user.email=m@x", "merge", "-q", "--no-ff",
             "--no-edit", f"side{round_}"],
            capture_output=True, text=True, env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
                                                 "PATH": "/usr/bin:/bin", "HOME": str(repo)},
        )  # fmt: skip
        if merged.returncode != 0:  # a conflict: resolved into text of its own
            for name in git(repo, "diff", "--name-only", "--diff-filter=U").splitlines():
                if (repo / name).is_file():
                    (repo / name).write_text(f"resolved {name} on {day}\n")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "--no-edit", date=date)
        names[:] = git(repo, "ls-files").splitlines()
        day += 1
    return repo


def _graph_fields(graph: Graph) -> list[object]:
    return [getattr(graph, name) for name in ("head", "ids", "parents", "times", "authors", "messages")] + [
        [sorted(graph.paths[p] for p in changed) for changed in graph.changed]
    ]


def test_a_merge_changed_what_differs_from_every_parent_as_git_combined_diff_says(tmp_path: Path) -> None:
    """git log lists a merge for a path only when it differs from every parent: the graph keeps
    exactly those paths for a merge (git diff-tree -c), and the first-parent diff for the rest."""
    repo = branching_repo(tmp_path / "repo", seed=3)
    pygit = pygit2.Repository(str(repo / ".git"))
    graph = build(pygit, pygit.head.peel(pygit2.Commit).id)
    assert graph is not None
    merges = 0
    for number, commit in enumerate(graph.ids):
        flags = ["-c"] if len(graph.parents[number]) > 1 else ["--root"]
        listed = git(repo, "diff-tree", "-r", "--name-only", "--no-commit-id", *flags, commit.hex())
        assert sorted(graph.paths[p] for p in graph.changed[number]) == sorted(listed.splitlines()), commit.hex()
        merges += len(graph.parents[number]) > 1
    assert merges == 6
    roots, opened_repo = opened(repo)
    direct, graphed = both(opened_repo, tmp_path / "cache")
    a, b = direct.log(opened_repo, limit=100), graphed.log(opened_repo, limit=100)
    assert [(c.id, sorted(c.files)) for c in a] == [(c.id, c.files) for c in b]
    for name in git(repo, "ls-files").splitlines():  # blame through every kind of merge, as git has it
        expected = _git_blame(repo, name)
        blame = graphed.blame(opened_repo, tuple(name.split("/")), 1, len(expected))
        assert [r.commit for r in blame.ranges for _ in range(r.start_line, r.end_line + 1)] == expected, name
    opened_repo.close()
    roots.close()


def history_workers() -> list[int]:
    """Our history worker processes: children of this process running graph.serve."""
    return worker_processes(b"assistant.history.graph")


def test_worker_processes_build_the_same_graph_and_leave_nothing_running(tmp_path: Path) -> None:
    repo = branching_repo(tmp_path / "repo", seed=5)
    pygit = pygit2.Repository(str(repo / ".git"))
    tip = pygit.head.peel(pygit2.Commit).id
    alone = build(pygit, tip)
    shared = build(pygit, tip, gitdir=str(repo / ".git"), workers=2, chunk=3)
    assert alone is not None and shared is not None
    assert _graph_fields(shared) == _graph_fields(alone)
    assert history_workers() == []


def test_worker_processes_that_die_cost_nothing_their_commits_are_read_in_the_thread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = branching_repo(tmp_path / "repo", seed=5)
    pygit = pygit2.Repository(str(repo / ".git"))
    tip = pygit.head.peel(pygit2.Commit).id
    alone = build(pygit, tip)
    killed: list[int] = []

    def kill_them() -> None:  # every worker as it starts, before it answers anything
        end = time.monotonic() + 20
        while len(killed) < 2 and time.monotonic() < end:
            for pid in history_workers():
                if pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.001)

    killer = threading.Thread(target=kill_them)
    killer.start()
    with caplog.at_level("WARNING", logger="assistant.history"):
        shared = build(pygit, tip, gitdir=str(repo / ".git"), workers=2, chunk=3)
    killer.join()
    assert shared is not None and alone is not None
    assert _graph_fields(shared) == _graph_fields(alone)
    assert killed and "a history worker process failed" in caplog.text
    assert history_workers() == []


def test_a_cancelled_build_stops_its_worker_processes(tmp_path: Path) -> None:
    repo = branching_repo(tmp_path / "repo", seed=5)
    pygit = pygit2.Repository(str(repo / ".git"))
    jobs = [(c.id.raw, c.tree_id.raw, [p.raw for p in c.parent_ids]) for c in pygit.walk(pygit.head.target)]
    cancel = threading.Event()
    differ = _Differ(str(repo / ".git"), 2, cancel)
    for start in range(0, len(jobs), 2):
        differ.submit(jobs[start : start + 2])
    cancel.set()
    assert differ.finish() is None
    assert history_workers() == []
