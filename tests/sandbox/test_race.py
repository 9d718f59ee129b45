"""A file swapped for an escaping symlink while it is read: zero leaks, on both open paths."""

from __future__ import annotations

import os
import threading

import pytest

from sandbox import Roots, SandboxError, read_capped
from tests.conftest import CANARY, OPEN_MODES, Layout

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
