"""Ranked search: questions asked in words find the code they are about, with why each part
ranked; the ranked index follows every change like the rest of the index."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.index import QueryError, RepoIndex, search_index
from sandbox import Roots

SANDBOX = '''"""Path confinement for every read."""


class Confinement:
    """Keeps every path below the repository root."""

    def confine(self, path):
        """Resolve a path and refuse one that escapes the root."""
        resolved = self.resolve(path)
        if not resolved.startswith(self.root):
            raise PermissionError(path)
        return resolved

    def resolve(self, path):
        return normalise(path)


def normalise(path):
    return path.replace("//", "/")
'''
SANDBOX_TEST = """from pkg.sandbox import Confinement


def test_confine_refuses_a_path_that_escapes_the_root():
    assert Confinement().confine("a/b") == "a/b"
"""
CHAT = '''MAX_CHATS = 4


def take_chat_slot(slots):
    """Too many concurrent chats: refuse the next one."""
    if slots.busy >= MAX_CHATS:
        raise RuntimeError("busy")
    slots.busy += 1
'''


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "sandbox.py").write_text(SANDBOX)
    (root / "tests" / "test_sandbox.py").write_text(SANDBOX_TEST)
    (root / "pkg" / "chat.py").write_text(CHAT)
    (root / "README.md").write_text("# Demo\n\nA demo project.\n")
    return root


def ranked_files(index: RepoIndex, query: str, mode: str = "ranked") -> list[str]:
    return list(dict.fromkeys(r["file"] for r in search_index(index, query, mode, limit=50).results))


def test_a_question_in_words_finds_the_code_it_is_about(make_index: Callable[[], RepoIndex]) -> None:
    index = make_index()
    found = search_index(index, "how are paths confined to the root", "auto")
    assert found.mode == "ranked"
    first = found.results[0]
    assert first["kind"] == "chunk" and first["file"] == "pkg/sandbox.py"
    assert first["symbol"] == "Confinement.confine"
    assert (first["line"], first["end_line"]) == (7, 12)
    assert "escapes the root" in first["text"] or "confine" in first["text"]
    assert ranked_files(index, "too many concurrent chats")[0] == "pkg/chat.py"


def test_why_names_the_fields_that_matched_and_the_priors(make_index: Callable[[], RepoIndex]) -> None:
    index = make_index()
    first = search_index(index, "confine paths", "ranked").results[0]
    why = first["why"]
    assert "name:confine" in why  # the definition's name
    assert "path:paths" not in why and any(w.startswith("body:paths") or w.startswith("body:path") for w in why)
    assert "source file" in why
    sandbox_why = search_index(index, "sandbox confinement", "ranked").results[0]["why"]
    assert "path:sandbox" in sandbox_why


def test_a_source_file_ranks_above_its_test_unless_the_question_is_about_tests(
    make_index: Callable[[], RepoIndex],
) -> None:
    index = make_index()
    assert ranked_files(index, "confine a path that escapes the root")[:2] == [
        "pkg/sandbox.py",
        "tests/test_sandbox.py",
    ]
    about_tests = search_index(index, "test that confine refuses a path that escapes the root", "ranked").results
    assert about_tests[0]["file"] == "tests/test_sandbox.py"
    assert "test file" in about_tests[0]["why"]


def test_a_name_spelled_as_code_lifts_the_file_that_defines_it(make_index: Callable[[], RepoIndex]) -> None:
    index = make_index()
    found = search_index(index, "why does take_chat_slot() refuse", "ranked").results
    assert found[0]["file"] == "pkg/chat.py" and "defines take_chat_slot" in found[0]["why"]


def test_an_identifier_keeps_symbols_then_text_with_ranked_parts_after(make_index: Callable[[], RepoIndex]) -> None:
    index = make_index()
    found = search_index(index, "normalise", "auto", limit=20)
    kinds = [r["kind"] for r in found.results]
    assert kinds[0] == "definition" and found.results[0]["file"] == "pkg/sandbox.py"
    assert kinds.index("reference") < len(kinds)
    assert "chunk" not in kinds or kinds.index("chunk") > max(i for i, k in enumerate(kinds) if k != "chunk")


def test_edits_new_files_deletions_and_new_ignore_rules_reach_the_next_search(
    repo: Path, make_index: Callable[[], RepoIndex]
) -> None:
    index = make_index()
    assert "pkg/chat.py" in ranked_files(index, "concurrent refuse")
    (repo / "pkg" / "chat.py").write_text("def greet():\n    return 'hello'\n")
    assert "pkg/chat.py" not in ranked_files(index, "concurrent refuse")
    assert ranked_files(index, "greet hello") == ["pkg/chat.py"]
    (repo / "pkg" / "queue.py").write_text("def enqueue_job(job):\n    '''Put a job on the work queue.'''\n")
    assert ranked_files(index, "work queue job")[0] == "pkg/queue.py"
    (repo / "pkg" / "queue.py").unlink()
    assert "pkg/queue.py" not in ranked_files(index, "work queue job")
    (repo / ".gitignore").write_text("pkg/chat.py\n")
    assert ranked_files(index, "greet hello") == []


def test_ignored_binary_and_oversized_files_are_never_ranked(repo: Path, make_index: Callable[[], RepoIndex]) -> None:
    (repo / ".gitignore").write_text("secret/\n")
    (repo / "secret").mkdir()
    (repo / "secret" / "keys.py").write_text("def zebra_keys():\n    '''zebra zebra'''\n")
    (repo / "blob.bin").write_bytes(b"zebra\x00\x01 zebra")
    (repo / "big.txt").write_bytes(b"zebra stripes\n" * 100_000)
    index = make_index()
    assert ranked_files(index, "zebra stripes") == []


def test_the_ranked_index_survives_a_restart_and_only_changed_files_are_indexed_again(
    repo: Path, make_index: Callable[[], RepoIndex]
) -> None:
    first = make_index()
    assert ranked_files(first, "concurrent refuse")[0] == "pkg/chat.py"
    first.close()
    (repo / "pkg" / "chat.py").write_text("def greet():\n    return 'hello'\n")
    (repo / "README.md").unlink()
    second = make_index()
    assert set(second.data.ranked.indexed) == {"pkg/sandbox.py", "tests/test_sandbox.py", "pkg/chat.py"}
    assert "pkg/chat.py" not in ranked_files(second, "concurrent refuse")
    assert ranked_files(second, "greet hello") == ["pkg/chat.py"]
    assert ranked_files(second, "demo project") == []


def test_a_query_while_the_index_builds_says_so(repo: Path, tmp_path: Path) -> None:
    for n in range(300):
        (repo / "pkg" / f"mod{n}.py").write_text(f"def handler_{n}(request):\n    return route_{n}(request)\n")
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"))
    try:
        index.start()
        during = search_index(index, "concurrent chats", "ranked")
        assert during.state == "building" and during.mode == "ranked"
        assert index.ready.wait(60)
        after = search_index(index, "concurrent chats", "ranked")
        assert after.state == "ready" and after.results[0]["file"] == "pkg/chat.py"
        assert {r["file"] for r in during.results} <= {r["file"] for r in after.results} | {"pkg/chat.py"}
    finally:
        index.close()
        roots.close()


def test_a_pasted_issue_is_a_normal_query_and_too_long_or_empty_ones_are_refused(
    make_index: Callable[[], RepoIndex],
) -> None:
    index = make_index()
    issue = ("When too many concurrent chats arrive the server should refuse the next one. " * 110)[:8000]
    found = search_index(index, issue, "auto")
    assert found.mode == "ranked" and found.results[0]["file"] == "pkg/chat.py"
    with pytest.raises(QueryError, match="16 KB"):
        search_index(index, "word " * 4000, "ranked")
    with pytest.raises(QueryError, match="empty"):
        search_index(index, "   ", "ranked")


def test_the_same_query_gives_the_same_order(make_index: Callable[[], RepoIndex]) -> None:
    index = make_index()
    runs = [search_index(index, "path root resolve confine", "ranked").results for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) >= 2


def test_read_files_get_a_bonus_and_say_so(make_index: Callable[[], RepoIndex]) -> None:
    index = make_index()
    plain = search_index(index, "confine path root", "ranked").results
    test_file = next(r for r in plain if r["file"] == "tests/test_sandbox.py")
    read = search_index(index, "confine path root", "ranked", read_files=frozenset({"tests/test_sandbox.py"})).results
    again = next(r for r in read if r["file"] == "tests/test_sandbox.py")
    assert again["score"] > test_file["score"] and "read earlier" in again["why"]


def test_ranked_search_is_fast_enough_to_not_time_out(make_index: Callable[[], RepoIndex]) -> None:
    index = make_index()
    started = time.perf_counter()
    search_index(index, "paths", "ranked")
    assert time.perf_counter() - started < 5  # a sanity bound, not a benchmark (bench/localize.py)


def test_an_identifier_with_underscores_is_found_whole_where_it_is_defined_or_called(
    repo: Path, make_index: Callable[[], RepoIndex]
) -> None:
    # the body is indexed as words; a whole identifier with `_` is matched among the names a
    # file defines or references, so a file that only mentions its words ranks after both
    (repo / "pkg" / "server.py").write_text("def serve(slots):\n    take_chat_slot(slots)\n")
    (repo / "pkg" / "notes.py").write_text("def plan(slots):\n    # take the chat slot\n    pass\n")
    index = make_index()
    files = ranked_files(index, "take_chat_slot")
    assert files[:2] == ["pkg/chat.py", "pkg/server.py"]
    assert files.index("pkg/notes.py") == 2
    # an identifier without `_` is a word of the bodies: found in text, comments and names alike
    assert ranked_files(index, "resolved")[0] == "pkg/sandbox.py"


def test_a_files_second_part_comes_after_the_other_files_that_rank_about_as_well(
    repo: Path, make_index: Callable[[], RepoIndex]
) -> None:
    # three files about the question as much as each other; the first holds two parts about it.
    # Its second part must not take the place of another file: the first three results are the
    # three files, and the order is the order of the scores shown.
    about = "def {name}():\n    '''Throttle the upload bandwidth for each chunk.'''\n" + "    pass\n" * 30
    (repo / "pkg" / "first.py").write_text(about.format(name="one") + "\n\n" + about.format(name="two"))
    (repo / "pkg" / "second.py").write_text(about.format(name="three"))
    (repo / "pkg" / "third.py").write_text(about.format(name="four"))
    index = make_index()
    results = search_index(index, "throttle upload bandwidth", "ranked", limit=10).results
    files = [r["file"] for r in results]
    assert files.count("pkg/first.py") == 2, "the test needs a file with two parts"
    assert sorted(files[:3]) == ["pkg/first.py", "pkg/second.py", "pkg/third.py"]
    assert files[3] == "pkg/first.py"
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)


def test_in_a_language_parsed_since_this_round_a_one_word_question_finds_the_definition_before_the_docs(
    tmp_path: Path, make_index: Callable[..., RepoIndex]
) -> None:
    # Kotlin, Swift and Elixir had no symbols: a one-word question returned the changelog and the
    # docs, which say the name more often than the file that defines it
    root = tmp_path / "multi"
    (root / "app" / "src").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "app" / "src" / "Retry.kt").write_text(
        "package app\n\nclass RetryPolicy(val attempts: Int) {\n    fun nextDelay(n: Int): Long = backoff(n)\n}\n\n"
        "fun backoff(n: Int): Long = 100L shl n\n"
    )
    (root / "app" / "src" / "Cache.swift").write_text(
        "struct CacheEntry {\n    var key: String\n}\n\nfunc evictStale(_ entries: [CacheEntry]) -> [CacheEntry] {\n"
        "    return entries\n}\n"
    )
    (root / "app" / "src" / "mailer.ex").write_text(
        "defmodule Mailer do\n  def deliver_later(mail) do\n    enqueue(mail)\n  end\n\n"
        "  defp enqueue(mail), do: mail\nend\n"
    )
    (root / "CHANGELOG.md").write_text(
        "".join(f"- 1.{i}: RetryPolicy, CacheEntry, evictStale and deliver_later changed again\n" for i in range(30))
    )
    (root / "docs" / "guide.md").write_text("RetryPolicy RetryPolicy CacheEntry evictStale deliver_later Mailer\n" * 5)
    index = make_index(root)
    for question, file in [
        ("RetryPolicy", "app/src/Retry.kt"),
        ("evictStale", "app/src/Cache.swift"),
        ("deliver_later", "app/src/mailer.ex"),
        ("how is the retry backoff delay computed", "app/src/Retry.kt"),
    ]:
        found = search_index(index, question, "auto").results
        assert found[0]["file"] == file, (question, found[:3])
    assert search_index(index, "RetryPolicy", "auto").results[0]["kind"] == "definition"


def test_a_pasted_stack_trace_finds_the_files_and_functions_its_frames_name(
    make_index: Callable[..., RepoIndex],
) -> None:
    index = make_index()
    trace = (
        "Slots are busy and chats get refused\n\n"
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/site-packages/server/worker.py", line 88, in handle\n'
        '  File "/home/me/work/demo/pkg/sandbox.py", line 17, in resolve\n'
        "    return normalise(path)\n"
        "AttributeError: 'NoneType' object has no attribute 'replace'\n"
    )
    found = search_index(index, trace, "ranked").results
    assert found[0]["file"] == "pkg/sandbox.py"
    assert "in the stack trace" in found[0]["why"]
    assert ranked_files(index, "Slots are busy and chats get refused")[0] == "pkg/chat.py"  # without the frames


def test_a_12_kb_pasted_issue_ranks_its_file_as_its_title_does(make_index: Callable[..., RepoIndex]) -> None:
    index = make_index()
    title = "How are paths confined to the root"
    log = "".join(
        f"2026-12-04T10:{i % 60:02d}:00Z worker-{i} req={i * 7919:08x} GET /healthz 200 id={i * 104729:x} in {i}ms\n"
        for i in range(160)
    )
    # a pasted log's ids are the rarest terms of all (in no file): they must not crowd out the title
    issue = f"{title}\n\nSeen in production, log below.\n\n{log}"
    assert len(issue.encode()) >= 12_000
    assert ranked_files(index, title)[0] == "pkg/sandbox.py"
    assert ranked_files(index, issue)[0] == "pkg/sandbox.py"


def test_a_ranked_part_names_the_definition_that_holds_it_with_its_kind_and_whole_range(
    tmp_path: Path, make_index: Callable[..., RepoIndex]
) -> None:
    root = tmp_path / "defs"
    root.mkdir()
    body = "".join(f"        total += step_{i}(value)\n" for i in range(150))
    (root / "engine.py").write_text(
        "class Engine:\n    def warm_up(self, value):\n        total = 0\n"
        + body
        + "        return total  # the turbine spins up here\n"
    )
    index = make_index(root)
    first = search_index(index, "where does the turbine spin up", "ranked").results[0]
    assert first["file"] == "engine.py" and first["symbol"] == "Engine.warm_up"
    assert first["symbol_kind"] == "method"
    assert first["symbol_lines"] == [2, 154]  # the whole method, though the part is a window of it
    assert first["end_line"] - first["line"] < 154 - 2 and first["line"] <= 154 <= first["end_line"]


def test_ranking_is_deterministic_across_rebuilds_and_repeated_queries(
    repo: Path, tmp_path: Path, make_index: Callable[..., RepoIndex]
) -> None:
    # equal scores are ordered by path, never by hash or build order: the same question gives
    # the same parts in the same order, asked again or against an index built afresh
    for i in range(12):  # files that tie: the same words, the same length
        (repo / "pkg" / f"twin_{i:02d}.py").write_text("def refuse_slot():\n    return 'busy refuse slot'\n")
    first = make_index()
    questions = ["refuse a busy slot", "how are paths confined to the root", "normalise", "take_chat_slot()"]
    answers = [search_index(first, q, "auto", limit=30).results for q in questions]
    assert [search_index(first, q, "auto", limit=30).results for q in questions] == answers
    fresh = make_index(repo)  # a second index of the same files (built again, from the first one's cache)
    assert [search_index(fresh, q, "auto", limit=30).results for q in questions] == answers
    tied = [r["file"] for r in answers[0] if r["file"].startswith("pkg/twin_")]
    assert tied == sorted(tied) and len(tied) == 12


def test_terms_found_by_bytes_find_are_the_places_the_re2_pattern_finds() -> None:
    # the fast path (ASCII terms, bytes.find in a lower-case copy) must choose what the pattern
    # chooses: leftmost, the longest term first at a place, never overlapping
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from assistant.index.ranking import _matches, _pattern

    words = st.text(alphabet="abcAB_ ", min_size=1, max_size=4)

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(words.map(str.strip).filter(bool), min_size=1, max_size=5, unique=True),
        st.text("abcAB_ \n", max_size=80),
    )
    def same(terms: list[str], text: str) -> None:
        ordered = tuple(sorted({t.lower() for t in terms}, key=len, reverse=True))
        pattern = _pattern(ordered)
        data = text.encode()
        assert _matches(data, pattern, tuple(t.encode() for t in ordered)) == _matches(data, pattern, None)

    same()
