"""The tools over several allowed repositories: ``repo`` names another one, ``search_files``
with ``repo='*'`` searches them all; with one repository the argument is not offered."""

from __future__ import annotations

from pathlib import Path

from assistant.index import IndexManager
from assistant.tools import TOOLS, ToolContext, run_tool, tools_for
from sandbox import Roots


def make(tmp_path: Path) -> tuple[ToolContext, Path, Path]:
    first = tmp_path / "first"
    second = tmp_path / "second"
    (first / "app").mkdir(parents=True)
    (second / "lib").mkdir(parents=True)
    (first / "app" / "billing.py").write_text("def charge_invoice(total):\n    return total * 1.2\n")
    (second / "lib" / "invoices.py").write_text("def render_invoice(total):\n    return f'{total:.2f}'\n")
    roots = Roots([str(first), str(second)])
    indexes = IndexManager(roots, str(tmp_path / "cache"))
    for root in (first, second):
        assert indexes.get(str(root)).index.ready.wait(30)
    return ToolContext(roots, indexes, str(first)), first, second


def test_search_every_repository_and_read_from_another(tmp_path: Path) -> None:
    ctx, first, second = make(tmp_path)
    found = run_tool(ctx, "search_files", {"query": "invoice", "repo": "*"})
    assert found.status == "completed", found.content
    assert f"In repository {first}" in found.content and f"In repository {second}" in found.content
    assert "app/billing.py" in found.content and "lib/invoices.py" in found.content
    read = run_tool(ctx, "read_file", {"path": "lib/invoices.py", "repo": str(second)})
    assert read.status == "completed" and "render_invoice" in read.content
    listed = run_tool(ctx, "list_files", {"repo": str(second)})
    assert "invoices.py" in listed.content and "billing.py" not in listed.content
    symbol = run_tool(ctx, "find_symbol", {"name": "render_invoice", "repo": str(second)})
    assert "lib/invoices.py:1" in symbol.content
    nowhere = run_tool(ctx, "search_files", {"query": "invoice", "repo": "*", "path": "no/such/dir"})
    assert nowhere.status == "failed" and nowhere.error_code == "file_not_found"
    assert "no repository has 'no/such/dir'" in nowhere.content
    outside = run_tool(ctx, "read_file", {"path": "x", "repo": "/etc"})
    assert outside.status == "failed" and outside.error_code == "access_denied"
    # the tools offer repo here, as the chat sends them
    schema = TOOLS["search_files"].openai_schema(ctx.several)
    assert "repo" in schema["function"]["parameters"]["properties"]
    ctx.indexes.close()


def test_one_repository_offers_no_repo_argument(tmp_path: Path) -> None:
    root = tmp_path / "only"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    roots = Roots([str(root)])
    ctx = ToolContext(roots, IndexManager(roots, str(tmp_path / "cache")), None)
    assert not ctx.several
    for tool in tools_for(ctx):
        assert "repo" not in tool.openai_schema(ctx.several)["function"]["parameters"]["properties"], tool.name
    ctx.indexes.close()
