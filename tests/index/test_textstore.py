"""The indexed text lives in the mapped text store, not in the server's heap: every record reads
its text from there, a changed file reads its new text (and a search that began before the
change its old one), a segment nothing points at any more is let go, an index left idle lets go
of its pages and still answers, and a cache directory that cannot hold the store costs nothing.
Past the inotify watch limit, the directories left unwatched are swept."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

from assistant.index import RepoIndex
from assistant.index.manager import IndexManager
from assistant.index.textstore import TextStore
from sandbox import Roots


def texts_of(index: RepoIndex) -> dict[str, bytes]:
    return dict(index.texts(None))


def test_an_index_reads_every_text_from_the_store_and_keeps_none_on_the_heap(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    expected = {f"m{i}.py": f"def f{i}():\n    return {i} * 'x'\n".encode() * (i + 1) for i in range(50)}
    for name, text in expected.items():
        (repo / name).write_bytes(text)
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"))
    try:
        index.build()
        assert texts_of(index) == expected
        assert all(r._text == b"" and r._where is not None for r in index.files.values())
        segments, written, live = index.data.texts.stats()
        assert segments == 1 and written == live == sum(map(len, expected.values()))
        assert os.listdir(tmp_path / "cache" / "texts") == []  # unlinked: nothing to leave behind

        before = index.files["m3.py"]
        (repo / "m3.py").write_bytes(b"CHANGED = True\n")
        index.refresh()
        assert index.files["m3.py"].text == b"CHANGED = True\n"
        assert before.text == expected["m3.py"]  # a search that held the old record reads the old text
        _, written_after, live_after = index.data.texts.stats()
        assert written_after == written + 15 and live_after == live - len(expected["m3.py"]) + 15
        (repo / "m4.py").unlink()
        index.refresh()
        assert "m4.py" not in texts_of(index) and index.data.texts.stats()[2] == live_after - len(expected["m4.py"])
    finally:
        index.close()
        roots.close()


def test_a_segment_nothing_points_at_is_let_go() -> None:
    store = TextStore(None, segment_bytes=100)
    first = store.put(b"a" * 60)
    second = store.put(b"b" * 60)  # does not fit beside the first: a second segment
    assert first is not None and second is not None and first[0] is not second[0]
    assert store.stats() == (2, 120, 120)
    segment = weakref.ref(first[0])
    fd = first[0].fd
    store.drop(first)
    del first
    gc.collect()
    assert store.stats() == (1, 60, 60)
    assert segment() is None  # unmapped, and its file closed (unlinked, it is freed)
    with pytest.raises(OSError):
        os.fstat(fd)
    assert second[0].read(second[1], second[2]) == b"b" * 60


def test_an_idle_index_lets_go_of_its_pages_and_answers_as_before(tmp_path: Path) -> None:
    repos = []
    for name in ("one", "two"):
        repo = tmp_path / name
        repo.mkdir()
        (repo / "code.py").write_text(f"def in_{name}():\n    return '{name}'\n")
        repos.append(str(repo))
    roots = Roots(repos)
    manager = IndexManager(roots, str(tmp_path / "cache"), idle_seconds=0.0)
    try:
        one = manager.build(repos[0]).index
        manager.build(repos[1])
        assert one.released  # the other one was used after it
        assert dict(one.texts(None)) == {"code.py": b"def in_one():\n    return 'one'\n"}
        assert not manager.build(repos[0]).index.released
    finally:
        manager.close()
        roots.close()


def test_a_cache_directory_that_cannot_hold_the_store_falls_back(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    store = TextStore(str(blocker / "texts"))
    where = store.put(b"kept somewhere else")
    assert where is not None and where[0].read(where[1], where[2]) == b"kept somewhere else"


def test_directories_past_the_inotify_limit_are_swept_and_status_says_so(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for name in ("a", "b", "c", "d", "e"):
        (repo / name).mkdir(parents=True)
        (repo / name / "m.py").write_text(f"NAME = '{name}'\n")
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"), max_watches=3)  # the root, a and b
    try:
        index.build()
        stats = index.stats()
        assert (stats["watch"], stats["swept_directories"]) == ("inotify+sweep", 3)
        (repo / "a" / "m.py").write_text("NAME = 'a, changed'\n")  # watched: seen at once
        (repo / "e" / "m.py").write_text("NAME = 'e, changed'\n")  # swept
        (repo / "d" / "new.py").write_text("NEW = 1\n")
        (repo / "c" / "m.py").unlink()
        time.sleep(1.05)  # swept at most once a second (the end of the build was the last time)
        index.refresh()
        texts = dict(index.texts(None))
        assert texts["a/m.py"] == b"NAME = 'a, changed'\n" and texts["e/m.py"] == b"NAME = 'e, changed'\n"
        assert texts["d/new.py"] == b"NEW = 1\n" and "c/m.py" not in texts
        (repo / "d" / "later").mkdir()
        (repo / "d" / "later" / "x.py").write_text("X = 1\n")
        time.sleep(1.05)  # swept at most once a second
        index.refresh()
        assert dict(index.texts(None))["d/later/x.py"] == b"X = 1\n"
        assert index.stats()["swept_directories"] == 4  # d/later could not be watched either
    finally:
        index.close()
        roots.close()


def test_a_build_killed_while_it_writes_the_store_leaves_nothing_and_the_next_serves_the_text(tmp_path: Path) -> None:
    """The segments are unlinked files: a process killed mid-write takes them with it, and
    the next start reads every text from the files again, never from a half-written store."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for i in range(3000):
        (repo / f"m{i:04d}.py").write_text(f"def f{i}():\n    return {i}\n" * 40)
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "assistant", "index", "--repo", str(repo), "--cache-dir", str(cache)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (cache / "texts").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # a few files into the store
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list((cache / "texts").iterdir()) == []
    (repo / "m0007.py").write_text("CHANGED_AFTER_THE_CRASH = 1\n")
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(cache))
    try:
        index.build()
        texts = dict(index.texts(None))
        assert texts["m0007.py"] == b"CHANGED_AFTER_THE_CRASH = 1\n"
        assert all(
            texts[f"m{i:04d}.py"] == f"def f{i}():\n    return {i}\n".encode() * 40 for i in range(3000) if i != 7
        )
    finally:
        index.close()
        roots.close()
