"""The history tools against ``git`` itself, on the same repository: ``git_log`` of a path and
``git_blame`` of a file's first 2,000 lines, each as a ratio to the git command that prints the
same thing (medians of several runs; the first run of each is a warm-up and not counted), once
the commit graph is built (before it is ready the tools read the repository directly). First
the graph and the history search field are built from nothing ``--builds`` times, each in a
cache of its own, and the median is printed per 10,000 commits (the target: at most 1 s).

The repository is a clone of a public project with a long history: by default sympy (62,000+
commits), cloned from the git mirror the tool library's ``fetch`` brings (``--mirror``) into
``--work`` (a plain ``git clone`` of the mirror, so packs are shared). Which paths are measured is
printed; they are files that changed often over the whole history.

Run by hand: ``.venv/bin/python -m bench.history --mirror /work/.mirror/sympy+sympy/repo``.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from assistant.history import HistoryManager
from assistant.history.graph import WORKERS
from sandbox import Roots

PATHS = ("sympy/core/expr.py", "sympy/core/basic.py", "sympy/simplify/simplify.py", "README.md")
BLAME = ("sympy/core/basic.py", "sympy/printing/latex.py")
RUNS = 5


def timed(work: Callable[[], object], runs: int = RUNS) -> float:
    work()  # warm-up: the page cache and libgit2's object cache
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def git(repo: Path, *args: str) -> Callable[[], object]:
    return lambda: subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mirror", default="/work/.mirror/sympy+sympy/repo")
    parser.add_argument("--work", default="/tmp/history-bench")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--builds", type=int, default=3, help="builds of the graph from nothing, for the median")
    args = parser.parse_args()
    repo = Path(args.work) / "repo"
    if not repo.exists():
        subprocess.run(["git", "clone", "-q", args.mirror, str(repo)], check=True)
    commits = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], capture_output=True,
                                 text=True, check=True).stdout)  # fmt: skip
    print(f"repository: {args.mirror} ({commits:,} commits at HEAD)")
    roots = Roots([str(repo)])
    builds = []
    for number in range(args.builds):  # each from nothing, in a cache of its own
        histories = HistoryManager(tempfile.mkdtemp(prefix="history-build-"))
        with roots.open_repo(None) as opened:
            keeper = histories.get(opened).keeper
            keeper.wait(1800)
            assert keeper.build_seconds is not None and keeper.field_seconds is not None
            builds.append((keeper.build_seconds, keeper.field_seconds))
            print(f"build {number + 1}: commit graph {builds[-1][0]:.2f} s, search field {builds[-1][1]:.2f} s")
        histories.close()
    graph = statistics.median(b[0] for b in builds)
    total = statistics.median(b[0] + b[1] for b in builds)
    print(f"commit graph, median of {len(builds)}: {graph:.2f} s, {graph / commits * 10_000:.2f} s per 10,000 commits")
    print(f"with the search field: {total:.2f} s, {total / commits * 10_000:.2f} s per 10,000 commits (target <= 1 s)")
    print(f"(worker processes: {WORKERS}, on {os.cpu_count()} cores)")
    histories = HistoryManager(str(Path(args.work) / "cache"))
    with roots.open_repo(None) as opened:
        history = histories.get(opened)
        history.keeper.wait(1800)
        print(f"\ngit_log of a path, {args.limit} newest commits with their files (median of {RUNS})")
        print(f"{'path':34} {'ours s':>8} {'git s':>8} {'ratio':>6}")
        ratios = []
        for path in PATHS:
            comps = tuple(path.split("/"))
            ours = timed(functools.partial(history.log, opened, comps, limit=args.limit))
            theirs = timed(git(repo, "log", f"-n{args.limit}", "--name-only", "--format=%h %ad %an %s", "--", path))
            ratios.append(ours / theirs)
            print(f"{path:34} {ours:8.3f} {theirs:8.3f} {ours / theirs:6.2f}")
        print(f"median ratio: {statistics.median(ratios):.2f}x git (target <= 1.5x)")
        print("\ngit_log of a path, its whole history (following renames)")
        whole = []
        for path in PATHS[:2]:
            comps = tuple(path.split("/"))
            ours = timed(functools.partial(history.log, opened, comps, limit=100_000), runs=2)
            theirs = timed(git(repo, "log", "--follow", "--name-only", "--format=%h %ad %an %s", "--", path), runs=2)
            whole.append(ours / theirs)
            print(f"{path:34} {ours:8.3f} {theirs:8.3f} {ours / theirs:6.2f}")
        print(f"\ngit_blame of lines 1-2,000 (median of {RUNS})")
        blames = []
        for path in BLAME:
            comps = tuple(path.split("/"))
            ours = timed(functools.partial(history.blame, opened, comps, 1, 2000), runs=3)
            theirs = timed(git(repo, "blame", "-L", "1,2000", "--", path), runs=3)
            blames.append(ours / theirs)
            print(f"{path:34} {ours:8.3f} {theirs:8.3f} {ours / theirs:6.2f}")
        print(f"median ratio: {statistics.median(blames):.2f}x git (target <= 1.5x)")
    histories.close()
    roots.close()


if __name__ == "__main__":
    main()
