"""The parser processes behind a large build: started without multiprocessing, survivable
when one dies, gone when the index closes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assistant.index import RepoIndex, search_index
from sandbox import Roots
from tests.helpers import worker_processes

BATCH = 64  # repo_index.MAX_BATCH_FILES: every batch here is full


def make_repo(root: Path, files: int, functions: int = 40) -> Path:
    root.mkdir(parents=True)
    for i in range(files):
        body = "".join(f"def f{i}_{j}(x):\n    return helper(x) + {j}\n\n" for j in range(functions))
        (root / f"mod_{i:04d}.py").write_text(f"# marker_{i}\n{body}")
    return root


def parser_processes() -> list[int]:
    """Our parser processes: children of this process running the worker loop."""
    return worker_processes(b"assistant.index.tags")


def wait_for_parser(deadline: float = 20.0) -> int:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if found := parser_processes():
            return found[0]
        time.sleep(0.002)
    raise AssertionError("no parser process appeared")


def test_a_script_without_a_main_guard_can_build_a_large_index(tmp_path: Path) -> None:
    """multiprocessing's spawn re-runs the caller's main module in each worker, so a plain
    script calling build() at top level crashed; our workers never import it."""
    repo = make_repo(tmp_path / "repo", 2 * BATCH, functions=2)
    script = tmp_path / "build_index.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from sandbox import Roots
            from assistant.index import RepoIndex
            roots = Roots([{str(repo)!r}])
            index = RepoIndex(roots, roots.default, {str(tmp_path / "cache")!r})
            index.build()
            print("parsed", index.parsed_last_build, "symbols", len(index.symbols))
            index.close()
            """
        )
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["parsed", str(2 * BATCH), "symbols", str(2 * BATCH * 2)]


def test_a_parser_process_that_dies_costs_nothing_its_batch_is_parsed_again_file_by_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = 12 * BATCH
    repo = make_repo(tmp_path / "repo", files)
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"))
    try:
        with caplog.at_level("WARNING", logger="assistant.index"):
            index.start()
            os.kill(wait_for_parser(), signal.SIGKILL)  # mid-batch: it was started to take one
            assert index.ready.wait(120)
        assert index.state == "ready" and index.error is None
        assert f"a parser process died on a batch of {BATCH} files (WorkerDied" in caplog.text
        assert "parsing them one at a time" in caplog.text
        assert len(index.symbols) == files * 40  # nothing was lost
        assert index.stats()["files_indexed"] == files
    finally:
        index.close()
        roots.close()


def test_a_file_whose_parser_dies_alone_is_text_only_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = 2 * BATCH
    repo = make_repo(tmp_path / "repo", files)
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"), batch_files=1)  # one file per batch
    try:
        with caplog.at_level("WARNING", logger="assistant.index"):
            index.start()
            os.kill(wait_for_parser(), signal.SIGKILL)  # fails the one file it has, or its next
            assert index.ready.wait(120)
        lost = [r.getMessage() for r in caplog.records if "searched as text only" in r.getMessage()]
        assert len(lost) == 1, caplog.text
        name = lost[0].split("died on ", 1)[1].split(" ", 1)[0]
        number = int(name.removeprefix("mod_").removesuffix(".py"))
        assert len(index.symbols) == (files - 1) * 40
        assert search_index(index, f"f{number}_1", "symbol").total == 0
        assert search_index(index, f"^# marker_{number}$", "regex").total == 1  # still searched as text
    finally:
        index.close()
        roots.close()


def test_ctrl_c_in_the_terminal_does_not_reach_the_parser_processes(tmp_path: Path) -> None:
    """A terminal sends SIGINT to its foreground process group: the server's, not the parsers'
    (an interrupted parser would lose its batch and print a traceback)."""
    repo = make_repo(tmp_path / "repo", 8 * BATCH)
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"))
    try:
        index.start()
        worker = wait_for_parser()
        assert os.getpgid(worker) == worker != os.getpgid(0)
        assert index.ready.wait(120) and len(index.symbols) == 8 * BATCH * 40
    finally:
        index.close()
        roots.close()


def test_closing_during_a_build_stops_the_parser_processes_and_keeps_the_progress(tmp_path: Path) -> None:
    files = 24 * BATCH
    repo = make_repo(tmp_path / "repo", files)
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"))
    try:
        index.start()
        end = time.monotonic() + 60
        while index.done < BATCH and time.monotonic() < end:  # a batch is in, more are running
            time.sleep(0.002)
        wait_for_parser()
        started = time.monotonic()
        index.close()
        assert time.monotonic() - started < 20  # a fraction of a second: not a wait for the build
        assert index.state == "building" and not index.ready.is_set()
        assert parser_processes() == []  # killed and reaped, not left running
        assert not [t for t in threading.enumerate() if t.name.startswith("parser-")]
        again = RepoIndex(roots, roots.default, str(tmp_path / "cache"))
        again.build()  # the next start parses only what the stopped build had not
        assert BATCH <= files - again.parsed_last_build < files
        assert len(again.symbols) == files * 40
        again.close()
    finally:
        roots.close()


def test_parsers_that_cannot_start_at_all_leave_a_text_index_and_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken interpreter environment fails every parser process at start: the build must
    not try each file alone (thousands of spawns), just finish as a text index and say so."""
    files = 8 * BATCH
    repo = make_repo(tmp_path / "repo", files, functions=2)
    monkeypatch.setenv("PYTHONHOME", str(tmp_path / "no-python-here"))  # children cannot start
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"))
    try:
        with caplog.at_level("WARNING", logger="assistant.index"):
            started = time.monotonic()
            index.build()
        assert index.state == "ready" and len(index.symbols) == 0
        assert search_index(index, "marker_", "text", limit=1).total == files
        assert caplog.text.count("parser processes keep dying") == 1
        assert caplog.text.count("a parser process died") <= 4  # MAX_FAILURES, then no more retries
        assert time.monotonic() - started < 30
    finally:
        index.close()
        roots.close()
