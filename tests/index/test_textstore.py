"""The indexed text lives in the mapped text store, not in the server's heap: every record reads
its text from there, a changed file reads its new text (and a search that began before the
change its old one), a segment nothing points at any more is let go, an index left idle lets go
of its pages and still answers, and a cache directory that cannot hold the store costs nothing.
The store is kept across restarts: a warm start reads no file, is ready at once and then finds
what changed while no server ran; a start after a crash or with a damaged store reads again what
it cannot trust and never serves a wrong text. Past the inotify watch limit, the directories left
unwatched are swept."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

from assistant.bus import EventBus
from assistant.index import RepoIndex, store
from assistant.index.grams import signature_bytes
from assistant.index.manager import IndexManager
from assistant.index.text import Matcher
from assistant.index.textstore import HEADER, TextStore
from sandbox import Roots


def texts_of(index: RepoIndex) -> dict[str, bytes]:
    return dict(index.texts(None))


def extent(text: bytes) -> int:
    return len(text) + signature_bytes(len(text))


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
        assert segments == 1 and live == sum(map(extent, expected.values())) and written == live + HEADER
        assert len(os.listdir(tmp_path / "cache" / "texts-v8")) == 1  # kept for the next start, one segment

        before = index.files["m3.py"]
        (repo / "m3.py").write_bytes(b"CHANGED = True\n")
        index.refresh()
        assert index.files["m3.py"].text == b"CHANGED = True\n"
        assert before.text == expected["m3.py"]  # a search that held the old record reads the old text
        _, written_after, live_after = index.data.texts.stats()
        new = extent(b"CHANGED = True\n")
        assert written_after == written + new and live_after == live - extent(expected["m3.py"]) + new
        (repo / "m4.py").unlink()
        index.refresh()
        assert "m4.py" not in texts_of(index) and index.data.texts.stats()[2] == live_after - extent(expected["m4.py"])
    finally:
        index.close()
        roots.close()


def write_repo(repo: Path, count: int) -> dict[str, bytes]:
    repo.mkdir()
    expected = {f"pkg/m{i:04d}.py": f"def f{i}():\n    return {i}\n".encode() * (i % 7 + 1) for i in range(count)}
    for name, text in expected.items():
        (repo / name).parent.mkdir(exist_ok=True)
        (repo / name).write_bytes(text)
    return expected


def events_of(bus: EventBus) -> list[dict[str, object]]:
    async def missed() -> list[dict[str, object]]:
        subscriber, events, _ = bus.subscribe(last_id=0)
        subscriber.close()
        return [e.body for e in events]

    return asyncio.run(missed())


def test_a_warm_start_reads_no_file_and_then_applies_what_changed_while_no_server_ran(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    expected = write_repo(repo, 200)
    cache = str(tmp_path / "cache")
    roots = Roots([str(repo)])
    first = RepoIndex(roots, roots.default, cache)
    first.build()
    first.close()

    (repo / "pkg" / "m0003.py").write_bytes(b"def changed_while_down():\n    pass\n")
    (repo / "pkg" / "m0004.py").unlink()
    (repo / "pkg" / "new.py").write_bytes(b"NEW_WHILE_DOWN = 1\n")
    expected["pkg/m0003.py"] = b"def changed_while_down():\n    pass\n"
    expected["pkg/new.py"] = b"NEW_WHILE_DOWN = 1\n"
    del expected["pkg/m0004.py"]
    second = RepoIndex(roots, roots.default, cache)
    second.events = EventBus()
    try:
        second.build()
        assert second.last_build_counts["cached"] == 198 and second.parsed_last_build == 2  # the two it re-read
        assert texts_of(second) == expected
        assert second.symbols.definers("changed_while_down") == ["pkg/m0003.py"] and not second.symbols.definers("f3")
        assert second.stats()["verifying"] is False
        changed = [e for e in events_of(second.events) if e["type"] == "files.changed"]
        assert len(changed) == 1
        assert sorted(changed[0]["paths"]) == ["pkg/m0003.py", "pkg/m0004.py", "pkg/new.py"]  # type: ignore[call-overload]
        # a text search's prefilter reads the signatures kept with the texts
        matcher = Matcher.build("NEW_WHILE_DOWN", regex=False)
        assert [p for p, _ in second.texts(None, matcher.grams)] == ["pkg/new.py"]
    finally:
        second.close()
        roots.close()


@pytest.mark.parametrize("damage", ["truncated", "replaced", "deleted", "past_what_was_used"])
def test_a_damaged_store_is_read_again_never_served(tmp_path: Path, damage: str) -> None:
    repo = tmp_path / "repo"
    expected = write_repo(repo, 40)
    cache = tmp_path / "cache"
    roots = Roots([str(repo)])
    first = RepoIndex(roots, roots.default, str(cache), workers=1)
    first.build()
    first.close()
    (segment,) = (cache / "texts-v8").glob("*/*.seg")
    if damage == "truncated":
        os.truncate(segment, 4096)
    elif damage == "replaced":  # another file of the right size under its name
        segment.write_bytes(b"\0" * segment.stat().st_size)
    elif damage == "deleted":
        segment.unlink()
    else:  # the cache says less was used than the texts it points at: they are not trusted
        document = store.load(first._cache.path, roots.default)
        document.segments = {k: (HEADER + 10, token) for k, (_, token) in document.segments.items()}
        store.save(first._cache.path, roots.default, document.files, document.segments)
    second = RepoIndex(roots, roots.default, str(cache))
    try:
        second.build()
        assert texts_of(second) == expected
        assert second.last_build_counts["cached"] == 40  # the tags were still good: read again, not parsed
        third = second
        third.close()
        again = RepoIndex(roots, roots.default, str(cache))  # and the store made anew is kept
        again.build()
        assert texts_of(again) == expected and again.verifying is False
        assert len(list((cache / "texts-v8").glob("*/*.seg"))) == 1  # the damaged one is gone
        again.close()
    finally:
        second.close()
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


def test_a_server_killed_while_it_writes_the_store_never_leaves_a_wrong_text(tmp_path: Path) -> None:
    """Killed at several moments of a warm start that applies many changes (appending to the
    kept store, then saving its manifest), the next start still serves every file as it is."""
    repo = tmp_path / "repo"
    count = 3000
    write_repo(repo, count)
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "assistant", "index", "--repo", str(repo), "--cache-dir", str(cache)]

    def change(round_: int) -> None:  # a third of the files change while no server runs
        for i in range(round_ % 3, count, 3):
            (repo / f"pkg/m{i:04d}.py").write_bytes(f"ROUND_{round_}_{i} = {i}\n".encode() * (i % 5 + 1))

    subprocess.run(command, check=True, capture_output=True, timeout=300)
    change(0)
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    whole = time.monotonic() - started  # how long such a start takes on this machine today
    for round_, share in enumerate((0.5, 0.6, 0.7, 0.8, 0.9, 0.95), start=1):
        change(round_)
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole * share)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(cache))
    try:
        index.build()
        on_disk = {f"pkg/m{i:04d}.py": (repo / f"pkg/m{i:04d}.py").read_bytes() for i in range(count)}
        assert texts_of(index) == on_disk
    finally:
        index.close()
        roots.close()


def test_a_warm_start_takes_the_kept_symbol_table_and_it_answers_as_one_built_afresh(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for i in range(60):  # names shared by many files, by a few, and by one; references counted across files
        body = f"class Model{i % 7}:\n    def save(self):\n        return helper_{i % 3}(self)\n"
        body += f"def only_here_{i}():\n    return Model{(i + 1) % 7}().save()\n"
        (repo / f"m{i:02d}.py").write_text(body)
    (repo / "README.md").write_text("Models are saved by save().\n")  # a file with no grammar: no tags
    roots = Roots([str(repo)])
    cache = str(tmp_path / "cache")
    first = RepoIndex(roots, roots.default, cache)
    first.build()
    first.close()
    warm = RepoIndex(roots, roots.default, cache)
    fresh = RepoIndex(roots, roots.default, str(tmp_path / "other-cache"))
    try:
        warm.build()
        fresh.build()
        assert store.load(warm._cache.path, roots.default).symbols is not None
        assert warm.symbols._by_name is None and warm.last_build_counts["cached"] == 60
        table, expected = warm.symbols, fresh.symbols
        assert table.names() == expected.names() and len(table) == len(expected)
        for name in expected.names():
            assert sorted(table.files_with(name)) == sorted(expected.files_with(name)), name
            assert table.ref_count(name) == expected.ref_count(name), name
        for query in ("save", "Model3", "only_here_4", "helper", "odel"):
            assert table.search(query, 50) == expected.search(query, 50)
        # and it stays right as files change
        (repo / "m05.py").write_text("def save():\n    pass\n")
        (repo / "m06.py").unlink()
        for index in (warm, fresh):
            index.refresh()
        assert table.names() == expected.names() and table.search("save", 50) == expected.search("save", 50)
    finally:
        warm.close()
        fresh.close()
        roots.close()


def test_a_kept_symbol_table_that_does_not_fit_its_files_is_built_again(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    expected = write_repo(repo, 30)
    roots = Roots([str(repo)])
    cache = str(tmp_path / "cache")
    first = RepoIndex(roots, roots.default, cache)
    first.build()
    first.close()
    document = store.load(first._cache.path, roots.default)
    assert document.symbols is not None
    document.symbols.refs = document.symbols.refs[:-4]  # one count short
    store.save(first._cache.path, roots.default, document.files, document.segments, document.symbols)
    second = RepoIndex(roots, roots.default, cache)
    try:
        second.build()
        assert texts_of(second) == expected and second.last_build_counts["cached"] == 30
        assert second.symbols.definers("f7") == ["pkg/m0007.py"] and second.symbols.ref_count("f7") == 0
    finally:
        second.close()
        roots.close()
