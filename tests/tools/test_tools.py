"""Each tool's model-facing text: normal, truncated, missing-file and denied cases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.errors import AssistantError
from assistant.index import IndexManager
from assistant.tools import TOOLS, ToolContext, ToolResult, get_tool, run_tool
from sandbox import Roots
from tests.helpers import CANARY, Layout


@pytest.fixture
def ctx(layout: Layout, tmp_path: Path) -> Iterator[ToolContext]:
    repo = layout.repo
    (repo / ".gitignore").write_text(".env\nbuild/\n")
    (repo / ".env").write_text("API_KEY=hunter2\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.txt").write_text("built")
    (repo / "long.py").write_text("".join(f"value_{i} = {i}\n" for i in range(1, 1001)))
    (repo / "wide.txt").write_text("x" * 5000 + "\nshort\n")
    (repo / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    os.symlink("../outside/secret.txt", repo / "escape")
    roots = Roots([str(repo)])
    indexes = IndexManager(roots, str(tmp_path / "cache"))
    yield ToolContext(roots, indexes, None)
    indexes.close()
    roots.close()


def call(ctx: ToolContext, name: str, arguments: dict[str, object] | None = None, **more: object) -> ToolResult:
    result = run_tool(ctx, name, {**(arguments or {}), **more})
    assert result.rejected is None, result.rejected
    return result


def test_read_file_normal(ctx: ToolContext) -> None:
    result = call(ctx, "read_file", path="src/main.py")
    assert result.status == "completed" and not result.truncated
    assert result.content == "src/main.py (2 lines)\n1  def main():\n2      return 42"
    assert "src/main.py" in ctx.read_files


def test_read_file_default_window_and_ranges(ctx: ToolContext) -> None:
    result = call(ctx, "read_file", path="long.py")
    lines = result.content.splitlines()
    assert lines[1] == "  1  value_1 = 1" and lines[400] == "400  value_400 = 400"
    assert lines[-1] == "[showing lines 1-400 of 1,000; call read_file with start_line=401 to read more]"
    assert result.truncated
    ranged = call(ctx, "read_file", path="long.py", start_line=998, end_line=2000)
    assert ranged.content.splitlines()[1:] == [
        " 998  value_998 = 998",
        " 999  value_999 = 999",
        "1000  value_1000 = 1000",
    ]


def test_read_file_budget_and_long_lines(ctx: ToolContext) -> None:
    small = run_tool(ctx, "read_file", {"path": "long.py", "end_line": 1000}, budget=1024)
    assert len(small.content.encode()) <= 1024 and small.truncated
    assert "call read_file with start_line=" in small.content.splitlines()[-1]
    wide = call(ctx, "read_file", path="wide.txt")
    assert "[line cut at 2,000 characters]" in wide.content
    assert len(wide.content) < 2200


def test_read_file_missing_binary_directory_denied(ctx: ToolContext) -> None:
    missing = call(ctx, "read_file", path="nope.py")
    assert missing.status == "failed" and missing.error_code == "file_not_found"
    assert missing.content.startswith("Error (file_not_found)")
    binary = call(ctx, "read_file", path="image.png")
    assert (
        binary.status == "completed"
        and binary.content == "image.png is a binary file (10 bytes); its contents are not shown."
    )
    directory = call(ctx, "read_file", path="src")
    assert directory.error_code == "not_a_file" and "list_files" in directory.content
    for path in (".env", "build/out.txt"):
        ignored = call(ctx, "read_file", path=path)
        assert ignored.status == "failed" and ignored.error_code == "access_denied"
        assert "hunter2" not in ignored.content and "git-ignored" in ignored.content
    for path in ("../outside/secret.txt", "escape", ".git/config"):
        denied = call(ctx, "read_file", path=path)
        assert denied.status == "failed" and denied.error_code == "access_denied"
        assert CANARY.decode() not in denied.content


def test_search_files_normal_truncated_and_empty(ctx: ToolContext, layout: Layout) -> None:
    ctx.indexes.get(ctx.roots.default).ready.wait(10)
    found = call(ctx, "search_files", query="main")
    assert found.status == "completed"
    assert "Symbols:\n  main — function — src/main.py:1  def main():" in found.content
    many = call(ctx, "search_files", query="value_", mode="text", max_results=5)
    assert many.truncated and "more matches not shown" in many.content
    assert many.summary.startswith("1000+ matches") or many.summary.startswith("1000 matches") or "1000" in many.summary
    none = call(ctx, "search_files", query="zzz_nothing_here")
    assert none.content == "No matches for 'zzz_nothing_here'." and none.summary == "0 matches in 0 files"
    secret = call(ctx, "search_files", query="hunter2")
    assert "hunter2" not in secret.content.replace("'hunter2'", "")


def test_search_files_in_words_groups_ranked_parts_by_file_with_why(ctx: ToolContext, layout: Layout) -> None:
    (layout.repo / "src" / "retry.py").write_text(
        "import time\n\n\n"
        "class Backoff:\n"
        "    def wait_before_retry(self, attempt):\n"
        '        """Sleep longer after each failed attempt."""\n'
        "        time.sleep(2 ** attempt)\n"
    )
    ctx.indexes.get(ctx.roots.default).ready.wait(10)
    found = call(ctx, "search_files", query="how long do we sleep before a retry after a failed attempt")
    lines = found.content.splitlines()
    assert lines[0].startswith("Ranked by relevance (") and lines[0].endswith("best first):")
    assert lines[1] == "src/retry.py  [source file]"
    assert lines[2].startswith("  lines 5-7 Backoff.wait_before_retry (method) — name:")
    assert "name:retry" in lines[2] and "body:attempt×3" in lines[2]  # noqa: RUF001 - the UI's own characters
    assert lines[3] == '    6: """Sleep longer after each failed attempt."""'
    assert lines[4] == "long.py  [source file]" and lines[5] == "  lines 1-40 — path:long"  # matched by its name
    assert found.summary == "2 matches in 2 files"
    assert "in words" in get_tool("search_files").description


def test_search_files_denied_path_and_bad_regex(ctx: ToolContext) -> None:
    denied = call(ctx, "search_files", query="x", path="../outside")
    assert denied.status == "failed" and denied.error_code == "access_denied"
    bad = call(ctx, "search_files", query="(?=x)", mode="regex")
    assert bad.status == "failed" and bad.error_code == "invalid_parameter"


def test_list_files_normal_capped_and_denied(ctx: ToolContext, layout: Layout) -> None:
    tree = call(ctx, "list_files")
    lines = tree.content.splitlines()
    assert lines[:4] == ["./", "  src/", "    pkg/", "    main.py  (26 bytes)"]
    names = {line.strip().split("  (")[0] for line in lines}
    assert "build/" not in names and ".env" not in names and ".git/" not in names and ".gitignore" in names
    big = layout.repo / "big"
    big.mkdir()
    for i in range(300):
        (big / f"file_{i:03d}.txt").touch()
    capped = run_tool(ctx, "list_files", {"path": "big"}, budget=2048)
    assert capped.truncated and "list a subdirectory with path=" in capped.content
    denied = call(ctx, "list_files", path="../outside")
    assert denied.status == "failed" and denied.error_code == "access_denied"
    missing = call(ctx, "list_files", path="nope")
    assert missing.error_code == "file_not_found"


def test_arguments_are_decoded_strictly_and_a_refusal_names_the_argument(ctx: ToolContext) -> None:
    for arguments, code, param, words in [
        ({}, "missing_parameter", "path", "`path` is required by read_file"),
        ({"path": None}, "missing_parameter", "path", "`path` is required by read_file"),
        ({"path": 1}, "invalid_parameter", "path", "`path` must be a string"),
        ({"path": "a", "start_line": 0}, "invalid_parameter", "start_line", "at least 1"),
        ({"path": "a", "start_line": "10"}, "invalid_parameter", "start_line", "must be an integer"),
        ({"path": "a", "start_line": True}, "invalid_parameter", "start_line", "must be an integer"),
        ({"path": "a", "bogus": 1}, "invalid_parameter", "bogus", "takes no argument `bogus`"),
        (["src/main.py"], "invalid_parameter", None, "must be a JSON object"),
    ]:
        result = run_tool(ctx, "read_file", arguments)
        assert result.status == "failed" and result.rejected is not None, arguments
        assert (result.rejected.code, result.rejected.param) == (code, param), arguments
        assert words in result.rejected.message and result.content.startswith(f"Error ({code}):")
    assert "from 1 to 100" in run_tool(ctx, "search_files", {"query": "x", "max_results": 101}).content
    assert "one of auto" in run_tool(ctx, "search_files", {"query": "x", "mode": "fuzzy"}).content
    unknown = run_tool(ctx, "rm_rf", {})
    assert unknown.rejected is not None and unknown.rejected.code == "tool_not_found"
    with pytest.raises(AssistantError) as caught:
        get_tool("rm_rf")
    assert caught.value.param == "name"


def test_the_schema_the_model_sees_is_the_arguments_the_tool_takes() -> None:
    read = get_tool("read_file").schema
    assert read["required"] == ["path"] and read["additionalProperties"] is False
    assert read["properties"]["start_line"] == {
        "description": "first line to read (1-based)",
        "type": "integer",
        "minimum": 1,
    }
    search = get_tool("search_files").schema["properties"]
    assert search["mode"]["type"] == "string" and "ranked" in search["mode"]["enum"]
    assert search["max_results"]["maximum"] == 100
    assert "required" not in get_tool("list_files").schema  # every argument optional


def test_registry_holds_exactly_the_tools_with_schemas() -> None:
    assert sorted(TOOLS) == [
        "find_symbol",
        "git_blame",
        "git_diff",
        "git_log",
        "git_show",
        "list_files",
        "read_file",
        "search_files",
    ]
    assert sorted(t.name for t in TOOLS.values() if t.needs_history) == ["git_blame", "git_diff", "git_log", "git_show"]
    for tool in TOOLS.values():
        schema = tool.openai_schema()
        assert schema["function"]["name"] == tool.name and schema["function"]["parameters"]["type"] == "object"
        assert tool.description


def test_every_tool_is_documented_for_integrations() -> None:
    from pathlib import Path

    root = Path(__file__).parents[2]
    docs = (root / "README.md").read_text() + (root / "docs" / "integrations.md").read_text()
    for name in TOOLS:
        assert f"`{name}`" in docs, name


def test_search_files_says_when_a_part_is_a_window_of_a_longer_definition(ctx: ToolContext, layout: Layout) -> None:
    body = "".join(f"        total += step_{i}(value)\n" for i in range(150))
    (layout.repo / "src" / "engine.py").write_text(
        "class Engine:\n    def warm_up(self, value):\n        total = 0\n"
        + body
        + "        return total  # the turbine spins up here\n"
    )
    ctx.indexes.get(ctx.roots.default).ready.wait(10)
    found = call(ctx, "search_files", query="where does the turbine spin up")
    head = found.content.splitlines()[2]
    assert " of Engine.warm_up (method, lines 2-154) — " in head, head


def test_find_symbol_gives_definitions_then_each_use_with_the_definition_that_holds_it(
    ctx: ToolContext, layout: Layout
) -> None:
    (layout.repo / "src" / "config.py").write_text(
        "class Loader:\n"
        "    def parse_config(self, text):\n"
        "        return dict(line.split('=') for line in text.splitlines())\n"
    )
    (layout.repo / "src" / "app.py").write_text(
        "from src.config import Loader\n\n\n"
        "def start(text):\n"
        "    settings = Loader().parse_config(text)\n"
        "    return settings\n\n\n"
        "DEFAULTS = Loader().parse_config('a=1')\n"
    )
    (layout.repo / "build" / "gen.py").write_text("def parse_config(text):\n    return {}\n")  # ignored
    ctx.indexes.get(ctx.roots.default).ready.wait(10)
    found = call(ctx, "find_symbol", {"name": "parse_config"})
    assert found.status == "completed"
    assert found.content.splitlines() == [
        "Definitions of parse_config (1, best first):",
        "  src/config.py:2-3  method in Loader (class)",
        "    2: def parse_config(self, text):",
        "References to parse_config (2 in 1 file):",
        "src/app.py",
        "  5: settings = Loader().parse_config(text)  [in start (function)]",
        "  9: DEFAULTS = Loader().parse_config('a=1')  [top level]",
    ]
    assert found.summary == "1 definition, 2 references"
    assert "build/gen.py" not in found.content  # an ignored file is never shown
    dotted = call(ctx, "find_symbol", {"name": "Loader.parse_config", "kind": "definition"})
    assert dotted.content.splitlines()[0] == "Definitions of parse_config (1, best first):"
    assert "References" not in dotted.content and dotted.summary == "1 definition"
    callers = call(ctx, "find_symbol", {"name": "parse_config", "kind": "reference", "path": "src"})
    assert callers.content.startswith("References to parse_config (2 in 1 file):")
    none = call(ctx, "find_symbol", {"name": "no_such_function"})
    assert none.content.startswith("No definitions or references of 'no_such_function' in the index")
    assert none.summary == "0 definitions, 0 references"


def test_find_symbol_refuses_a_path_outside_and_a_name_that_is_not_one(ctx: ToolContext) -> None:
    outside = call(ctx, "find_symbol", {"name": "main", "path": "../outside"})
    assert outside.status == "failed" and outside.error_code == "access_denied"
    assert CANARY.decode() not in outside.content
    not_a_name = call(ctx, "find_symbol", {"name": "a b; rm -rf"})
    assert not_a_name.status == "failed" and not_a_name.error_code == "invalid_parameter"
    bad_kind = run_tool(ctx, "find_symbol", {"name": "main", "kind": "everything"})
    assert bad_kind.rejected is not None or bad_kind.status == "failed"
