"""A file swapped for an escaping symlink while it is read: zero leaks, on both open paths."""

from __future__ import annotations

import os
import threading

import pytest

from sandbox import Roots, SandboxError, read_capped
from tests.helpers import CANARY, OPEN_MODES, Layout

READS = 20_000


@pytest.mark.parametrize("mode", OPEN_MODES)
def test_symlink_swap_race_never_leaks(layout: Layout, mode: str) -> None:
    repo = layout.repo
    target = repo / "target.txt"
    target.write_text("inside")
    stop = threading.Event()
    swaps = 0

    def swapper() -> None:
        nonlocal swaps
        while not stop.is_set():
            os.symlink(str(layout.canary), repo / "tmp_link")
            os.rename(repo / "tmp_link", target)
            (repo / "tmp_file").write_text("inside")
            os.rename(repo / "tmp_file", target)
            os.symlink("../outside/secret.txt", repo / "tmp_link")
            os.rename(repo / "tmp_link", target)
            swaps += 3

    thread = threading.Thread(target=swapper)
    thread.start()
    leaks = reads = denied = 0
    roots = Roots([str(repo)], mode)  # type: ignore[arg-type]
    try:
        with roots.open_repo(None) as opened:
            for _ in range(READS):
                try:
                    data = read_capped(opened, ("target.txt",), 1000).data
                except SandboxError:
                    denied += 1
                    continue
                reads += 1
                if CANARY in data:
                    leaks += 1
    finally:
        stop.set()
        thread.join()
        roots.close()
    assert leaks == 0
    # the race really happened: both outcomes were seen many times
    assert reads > 100 and denied > 100 and swaps > 100


RENAME_STORM_OPENS = 100_000


@pytest.mark.parametrize("mode", OPEN_MODES)
def test_a_rename_storm_never_refuses_a_path_through_dotdot(layout: Layout, mode: str) -> None:
    """openat2 answers EAGAIN when a rename anywhere on the mount races a resolution crossing
    `..` (an editor's atomic save, a checkout): that is no refusal, on either open path."""
    repo = layout.repo
    (repo / "sub").mkdir()
    (repo / "file.txt").write_text("inside")
    os.symlink("sub/../file.txt", repo / "through_dotdot")
    storm = layout.base / "storm"  # an unrelated directory on the same mount
    storm.mkdir()
    stop = threading.Event()
    renames = 0

    def renamer() -> None:
        nonlocal renames
        while not stop.is_set():
            (storm / "a").write_bytes(b"")
            os.rename(storm / "a", storm / "b")
            renames += 1

    thread = threading.Thread(target=renamer)
    thread.start()
    refused: list[str] = []
    roots = Roots([str(repo)], mode)  # type: ignore[arg-type]
    try:
        with roots.open_repo(None) as opened:
            for _ in range(RENAME_STORM_OPENS):
                try:
                    os.close(opened.open(("through_dotdot",)).fd)
                except SandboxError as exc:
                    refused.append(exc.message)
    finally:
        stop.set()
        thread.join()
        roots.close()
    assert renames > 1000  # the storm really ran beside the opens
    assert refused == [], f"{len(refused)} refusals, e.g. {refused[0]!r}"
