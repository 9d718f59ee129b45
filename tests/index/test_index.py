"""Building, caching, freshness and searching of one repository's index."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from assistant.index import QueryError, RepoIndex, search_index, store
from assistant.index.freshness import SWEEP_INTERVAL
from sandbox import Roots


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "parser.py").write_text(
        "class Parser:\n    def parse(self, text):\n        return tokenize(text)\n\n\ndef tokenize(text):\n"
        "    return text.split()\n"
    )
    (root / "pkg" / "cli.py").write_text(
        "from pkg.parser import Parser\n\n\ndef main():\n    return Parser().parse('a b')\n"
    )
    (root / "notes.txt").write_text("The Parser reads text.\nNothing else here.\n")
    return root


def symbols(index: RepoIndex, query: str) -> list[tuple[str, str, int]]:
    result = search_index(index, query, "symbol", limit=50)
    return [(r["file"], r["kind"], r["line"]) for r in result.results]


def texts(index: RepoIndex, query: str, mode: str = "text") -> list[tuple[str, int]]:
    return [(r["file"], r["line"]) for r in search_index(index, query, mode, limit=100).results]


def test_build_finds_symbols_and_text(make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    assert index.state == "ready" and index.stats()["files_indexed"] == 3
    assert symbols(index, "tokenize")[0] == ("pkg/parser.py", "definition", 6)
    assert ("pkg/parser.py", "reference", 3) in symbols(index, "tokenize")
    assert texts(index, "reads text") == [("notes.txt", 1)]
    found = {(r["kind"], r["line"]): r for r in search_index(index, "tokenize", "symbol").results}
    definition, reference = found[("definition", 6)], found[("reference", 3)]
    assert definition["text"] == "def tokenize(text):" and definition["end_line"] == 7
    assert reference["text"] == "return tokenize(text)" and reference["symbol_kind"] == "call"


def test_ignore_rules_honoured(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    (repo / ".gitignore").write_text("build/\n*.gen.py\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.py").write_text("def tokenize_build(): pass\n")
    (repo / "x.gen.py").write_text("def tokenize_gen(): pass\n")
    (repo / ".git").mkdir()
    (repo / ".git" / "hook.py").write_text("def tokenize_git(): pass\n")
    index = make_index()
    files = {f for f, _, _ in symbols(index, "tokenize")}
    assert files == {"pkg/parser.py"}
    assert texts(index, "tokenize_") == []


def test_binary_and_large_files_never_in_text_results(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    (repo / "blob.bin").write_bytes(b"Parser\x00\x01\x02 Parser")
    (repo / "big.txt").write_bytes(b"Parser\n" * 200_000)
    index = make_index()
    found = {f for f, _ in texts(index, "Parser")}
    assert "blob.bin" not in found and "big.txt" not in found and "notes.txt" in found


def test_incremental_edit_add_delete_rename(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    # edit
    (repo / "pkg" / "cli.py").write_text("def main_entry():\n    return 1\n")
    assert symbols(index, "main_entry") == [("pkg/cli.py", "definition", 1)]
    assert ("pkg/cli.py", "definition", 4) not in symbols(index, "main")
    # add (in a new directory too)
    (repo / "pkg" / "sub").mkdir()
    (repo / "pkg" / "sub" / "extra.py").write_text("def brand_new():\n    pass\n")
    assert symbols(index, "brand_new") == [("pkg/sub/extra.py", "definition", 1)]
    # rename
    os.rename(repo / "pkg" / "sub" / "extra.py", repo / "pkg" / "sub" / "moved.py")
    assert symbols(index, "brand_new") == [("pkg/sub/moved.py", "definition", 1)]
    os.rename(repo / "pkg" / "sub", repo / "pkg" / "sub2")
    assert symbols(index, "brand_new") == [("pkg/sub2/moved.py", "definition", 1)]
    # delete
    (repo / "pkg" / "sub2" / "moved.py").unlink()
    assert symbols(index, "brand_new") == []
    assert texts(index, "brand_new") == []
    # the rest was not re-parsed: parser.py's tags are the same objects
    assert index.stats()["files_indexed"] == 3


def test_gitignore_change_applies_without_rebuild(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    assert texts(index, "Nothing else") == [("notes.txt", 2)]
    (repo / ".gitignore").write_text("notes.txt\n")
    assert texts(index, "Nothing else") == []


def test_cache_reused_after_restart(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    first = make_index()
    assert first.parsed_last_build == 2
    first.close()
    second = make_index()
    assert second.parsed_last_build == 0
    assert symbols(second, "tokenize")[0] == ("pkg/parser.py", "definition", 6)
    (repo / "pkg" / "cli.py").write_text("def changed():\n    pass\n")
    second.close()
    third = make_index()
    assert third.parsed_last_build == 1
    assert symbols(third, "changed") == [("pkg/cli.py", "definition", 1)]


def test_cache_is_written_atomically_and_versioned(repo: Path, make_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    path = store.cache_file(str(tmp_path / "cache"), index.repo_path)
    assert path.parent.name == f"index-v{store.VERSION}"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.parametrize("damage", ["garbage", "truncate", "old-version", "other-repo"])
def test_corrupted_or_old_cache_is_rebuilt_not_crashed(repo: Path, make_index, tmp_path: Path, damage: str) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    index.close()
    path = store.cache_file(str(tmp_path / "cache"), index.repo_path)
    raw = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x00not msgpack at all")
    elif damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "old-version":
        path.write_bytes(store._encoder.encode(store.CacheDocument(store.VERSION - 1, index.repo_path, {})))
    else:
        path.write_bytes(store._encoder.encode(store.CacheDocument(store.VERSION, "/elsewhere", {})))
    rebuilt = make_index()
    assert rebuilt.parsed_last_build == 2
    assert symbols(rebuilt, "tokenize")[0] == ("pkg/parser.py", "definition", 6)


def test_ranking_exact_definition_beats_substrings_and_references(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    (repo / "pkg" / "more.py").write_text(
        "def parse_all():\n    pass\n\n\ndef reparse():\n    pass\n\n\ndef parser_factory():\n"
        "    return parse()\n\n\ndef Parse():\n    pass\n"
    )
    index = make_index()
    results = search_index(index, "parse", "symbol", limit=20).results
    first = results[0]
    assert (first["file"], first["kind"], first["symbol"]) == ("pkg/parser.py", "definition", "parse")
    order = [r["symbol"] for r in results]
    assert order.index("Parse") < order.index("parse_all") < order.index("reparse")
    kinds = [(r["symbol"], r["kind"]) for r in results]
    assert kinds.index(("parse", "definition")) < kinds.index(("parse", "reference"))


def test_files_already_read_rank_higher(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    (repo / "a.py").write_text("def shared():\n    pass\n")
    (repo / "z.py").write_text("def shared():\n    pass\n")
    index = make_index()
    plain = search_index(index, "shared", "symbol").results
    assert plain[0]["file"] == "a.py"
    boosted = search_index(index, "shared", "symbol", read_files=frozenset({"z.py"})).results
    assert boosted[0]["file"] == "z.py"


def test_text_search_smart_case_regex_context_and_filters(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    (repo / "lower.txt").write_text("a parser in lower case\n")
    index = make_index()
    assert ("lower.txt", 1) in texts(index, "parser")  # lower-case query: case-insensitive
    assert ("notes.txt", 1) in texts(index, "parser")
    assert ("lower.txt", 1) not in texts(index, "Parser")  # an upper-case letter: case-sensitive
    assert texts(index, "PARSER") == []
    assert texts(index, r"def \w+\(text\)", "regex") == [("pkg/parser.py", 6)]
    hit = search_index(index, "return tokenize", "text").results[0]
    assert hit["context_before"] == "    def parse(self, text):" and hit["context_after"] == ""
    only_txt = search_index(index, "parser", "text", glob="*.txt").results
    assert {r["file"] for r in only_txt} == {"notes.txt", "lower.txt"}
    only_pkg = search_index(index, "parser", "text", prefix=("pkg",)).results
    assert {r["file"] for r in only_pkg} == {"pkg/parser.py", "pkg/cli.py"}


def test_a_search_that_ignores_case_finds_every_spelling(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    (repo / "shout.txt").write_text("DEF LOUD_TEST(X)\nMixed Parser Here\nnaïve CAFÉ\n")
    index = make_index()
    assert ("shout.txt", 2) in texts(index, "mixed parser here")
    assert texts(index, r"def \w+_test\(", "regex") == [("shout.txt", 1)]  # its literal, upper case in the file
    assert ("shout.txt", 3) in texts(index, "café")  # non-ASCII letters fold too


def test_total_and_truncation(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    (repo / "many.txt").write_text("needle\n" * 30)
    index = make_index()
    result = search_index(index, "needle", "text", limit=10)
    assert len(result.results) == 10 and result.total == 30 and result.truncated is True


def test_catastrophic_regex_returns_promptly(repo: Path, make_index) -> None:  # type: ignore[no-untyped-def]
    (repo / "evil.txt").write_text("a" * 50_000 + "!\n")
    index = make_index()
    started = time.monotonic()
    result = search_index(index, "(a+)+$", "regex")
    assert time.monotonic() - started < 2
    assert result.results == []


@pytest.mark.parametrize("pattern", ["(?=x)y", "(?!x)y", "(?<=x)y", "(?<!x)y", r"(a)\1"])
def test_lookarounds_and_backreferences_rejected_with_param(make_index, pattern: str) -> None:  # type: ignore[no-untyped-def]
    index = make_index()
    with pytest.raises(QueryError) as caught:  # the API names it `q` (tests/api/test_search_tools_api.py)
        search_index(index, pattern, "regex")
    assert caught.value.param == "query"
    assert "RE2" in caught.value.message


def test_search_while_building_uses_a_direct_scan(repo: Path, tmp_path: Path) -> None:
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache2"))
    try:
        assert index.state == "building"
        result = search_index(index, "reads text", "text")
        assert result.state == "building"
        assert [(r["file"], r["line"]) for r in result.results] == [("notes.txt", 1)]
    finally:
        index.close()
        roots.close()


def test_an_unwritable_cache_is_reported_not_fatal(
    repo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(blocker))
    try:
        with caplog.at_level("WARNING", logger="assistant.index"):
            index.build()
        assert index.state == "ready"
        assert symbols(index, "tokenize")[0] == ("pkg/parser.py", "definition", 6)
        assert "cannot write the index cache" in caplog.text
    finally:
        index.close()
        roots.close()


def test_pausing_the_garbage_collector_nests_and_restores_what_was_there() -> None:
    """The index pauses the cyclic collector around bulk steps; it must never leave it off in
    the process that hosts it, nor turn it on where the host had turned it off."""
    import gc

    from assistant.index.records import gc_paused as _gc_paused

    assert gc.isenabled()
    with _gc_paused():
        with _gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with _gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_sweep_mode_sees_changes_after_at_most_a_second_and_sweeps_no_more_often(repo: Path, tmp_path: Path) -> None:
    """--watch sweep (network mounts, where inotify misses other machines' edits): every file's
    (mtime, size) is checked before a search, but at most once a second."""
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"), watch="sweep")
    try:
        index.build()
        (repo / "pkg" / "cli.py").write_text("def swept_in():\n    pass\n")
        time.sleep(SWEEP_INTERVAL + 0.05)
        swept_at = time.monotonic()
        assert symbols(index, "swept_in") == [("pkg/cli.py", "definition", 1)]
        (repo / "pkg" / "more.py").write_text("def swept_new():\n    pass\n")
        (repo / "notes.txt").unlink()
        early = symbols(index, "swept_new")
        if time.monotonic() - swept_at < SWEEP_INTERVAL:  # not yet: no sweep per search
            assert early == [] and texts(index, "Nothing else") == [("notes.txt", 2)]
        time.sleep(SWEEP_INTERVAL + 0.05)
        assert symbols(index, "swept_new") == [("pkg/more.py", "definition", 1)]
        assert texts(index, "Nothing else") == []
    finally:
        index.close()
        roots.close()


def test_symbol_search_while_building_scans_unparsed_files_for_definitions(repo: Path, tmp_path: Path) -> None:
    (repo / "pkg" / "client.go").write_text("package pkg\n\nfunc (c *Client) Dial() error {\n\treturn nil\n}\n")
    (repo / "pkg" / "use.py").write_text("from pkg.parser import Parser\nParser().parse('x')\n")
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"))  # not started: nothing parsed yet
    try:
        assert index.state == "building"
        found = search_index(index, "Parser", "symbol")
        assert found.state == "building"
        first = found.results[0]
        assert (first["file"], first["line"], first["kind"], first["symbol_kind"]) == (
            "pkg/parser.py",
            1,
            "definition",
            "class",
        )
        assert all(r["kind"] == "definition" for r in found.results)  # use.py only refers to it
        go = search_index(index, "Dial", "auto").results
        assert (go[0]["file"], go[0]["line"], go[0]["kind"]) == ("pkg/client.go", 3, "definition")
        assert search_index(index, "tokenize", "symbol").results[0]["line"] == 6
    finally:
        index.close()
        roots.close()
