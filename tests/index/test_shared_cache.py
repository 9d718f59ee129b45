"""Two processes, one cache: a server and `repo-assistant index` (or a second server) on the same
repository and cache directory at once. One keeps the cache; the other reads it and indexes in
memory; both answer every search right, and the cache is whole afterwards."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.index import RepoIndex, search_index
from sandbox import Roots

MODULES = 600


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for i in range(MODULES):
        package = root / f"pkg{i // 50}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"mod{i}.py").write_text(
            f"class OrderedThing{i}:\n    def fetch_{i}(self, url):\n        return urlopen_{i}(url)\n\n\n"
            f"def urlopen_{i}(url):\n    '''Open the url number {i} and read it.'''\n    return url\n"
        )
    return root


def names_found(index: RepoIndex, names: list[str]) -> dict[str, list[str]]:
    found = {}
    for name in names:
        result = search_index(index, name, "symbol", limit=5)
        found[name] = [r["file"] for r in result.results if r["kind"] == "definition" and r["symbol"] == name]
    return found


def expected(names: list[str]) -> dict[str, list[str]]:
    out = {}
    for name in names:
        number = int("".join(c for c in name if c.isdigit()))
        out[name] = [f"pkg{number // 50}/mod{number}.py"]
    return out


def test_two_indexes_of_one_repository_share_a_cache_safely(repo: Path, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    names = ["OrderedThing7", "urlopen_333", "OrderedThing599", "urlopen_0"]
    for _ in range(2):  # a cold cache, then a warm one
        roots = [Roots([str(repo)]) for _ in range(2)]
        indexes = [RepoIndex(r, r.default, cache) for r in roots]
        threads = [threading.Thread(target=index.build) for index in indexes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            keepers = [index for index in indexes if index.data.ranked.directory is not None]
            assert len(keepers) == 1  # one keeps the cache, the other indexes in memory
            for index in indexes:
                assert names_found(index, names) == expected(names)
                ranked = search_index(index, "open the url number 333", "ranked", limit=3)
                assert ranked.results[0]["file"] == "pkg6/mod333.py"
        finally:
            for index, root in zip(indexes, roots, strict=True):
                index.close()
                root.close()
    again = RepoIndex(Roots([str(repo)]), str(repo), cache)
    again.build()
    try:
        assert again.parsed_last_build == 0  # the cache the keeper wrote is whole
        assert names_found(again, names) == expected(names)
        assert search_index(again, "open the url number 42", "ranked", limit=3).results[0]["file"] == "pkg0/mod42.py"
    finally:
        again.close()


def test_a_server_and_the_index_command_at_once(repo: Path, tmp_path: Path) -> None:
    """The same, as two processes: two `repo-assistant search` commands (each builds the index, then
    searches) started together, twice, then a third on the warm cache."""
    cache = str(tmp_path / "cache")
    command = [
        sys.executable,
        "-m",
        "assistant",
        "search",
        "--repo",
        str(repo),
        "--cache-dir",
        cache,
        "--mode",
        "symbol",
        "--limit",
        "1",
    ]
    for name in ("OrderedThing512", "urlopen_77"):
        runs = [
            subprocess.Popen([*command, name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=300) for run in runs]
        for run, (out, err) in zip(runs, outputs, strict=True):
            assert run.returncode == 0, err
            assert f"mod{''.join(c for c in name if c.isdigit())}.py" in out.splitlines()[0], out
    indexed = subprocess.run(
        [sys.executable, "-m", "assistant", "index", str(repo), "--cache-dir", cache],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "parsed:    0" in indexed.stdout, indexed.stdout
