"""GET /api/v1/files and POST /api/v1/files/read: every parameter and limit of SPEC §3."""

from __future__ import annotations

import base64
import os
from typing import Any

from tests.helpers import Layout


def data_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_listing_entries_shape_and_order(client: Any, layout: Layout) -> None:
    (layout.repo / "src" / "b.txt").write_text("b")
    (layout.repo / "src" / "a_dir").mkdir()
    data = data_of(client.get("/api/v1/files", params={"path": "src"}))
    assert data["path"] == "src"
    assert [e["name"] for e in data["entries"]] == ["a_dir", "pkg", "b.txt", "main.py"]
    main = data["entries"][-1]
    assert main == {**main, "path": "src/main.py", "type": "file", "size": len("def main():\n    return 42\n")}
    assert data["entries"][0]["type"] == "directory" and data["entries"][0]["size"] is None


def test_listing_caps_at_5000_entries(client: Any, layout: Layout) -> None:
    many = layout.repo / "many"
    many.mkdir()
    for i in range(5003):
        (many / f"f{i:05d}").touch()
    data = data_of(client.get("/api/v1/files", params={"path": "many"}))
    assert len(data["entries"]) == 5000 and data["truncated"] is True


def test_ignored_entries_hidden_unless_asked(client: Any, layout: Layout) -> None:
    repo = layout.repo
    (repo / ".gitignore").write_text("*.secret\n/dist/\n")
    (repo / "src" / ".gitignore").write_text("generated_*\n!generated_keep.py\n")
    (repo / "src" / "generated_a.py").write_text("a")
    (repo / "src" / "generated_keep.py").write_text("k")
    (repo / "k.secret").write_text("s")
    (repo / "dist").mkdir()
    (repo / "dist" / "out.js").write_text("o")
    top = [e["name"] for e in data_of(client.get("/api/v1/files"))["entries"]]
    assert "k.secret" not in top and "dist" not in top and ".gitignore" in top
    src = [e["name"] for e in data_of(client.get("/api/v1/files", params={"path": "src"}))["entries"]]
    assert "generated_a.py" not in src and "generated_keep.py" in src
    everything = [
        e["name"] for e in data_of(client.get("/api/v1/files", params={"include_ignored": "true"}))["entries"]
    ]
    assert "k.secret" in everything and "dist" in everything
    denied = client.get("/api/v1/files", params={"path": "k.secret", "read": "true"})
    assert denied.status_code == 403 and "include_ignored" in denied.json()["error"]["message"]
    inside_ignored_dir = client.get("/api/v1/files", params={"path": "dist/out.js", "read": "true"})
    assert inside_ignored_dir.status_code == 403
    assert client.get("/api/v1/files", params={"path": "dist"}).status_code == 403
    allowed = data_of(client.get("/api/v1/files", params={"path": "k.secret", "read": "1", "include_ignored": "1"}))
    assert allowed["content"] == "s"


def test_read_utf8_text(client: Any, layout: Layout) -> None:
    data = data_of(client.get("/api/v1/files", params={"path": "README.md", "read": "true"}))
    assert data == {
        **data,
        "path": "README.md",
        "content": "# Demo repo\n\nA small repository.\n",
        "encoding": "utf-8",
        "truncated": False,
        "binary": False,
        "size": 33,
    }
    assert set(data) == {"path", "content", "size", "modified_at", "encoding", "truncated", "binary"}


def test_read_on_a_directory_returns_the_listing(client: Any) -> None:
    data = data_of(client.get("/api/v1/files", params={"path": "src", "read": "true"}))
    assert "entries" in data and data["path"] == "src"


def test_cut_never_splits_a_utf8_character(client: Any, layout: Layout) -> None:
    (layout.repo / "u.txt").write_text("aé€😀" * 10)  # 1 + 2 + 3 + 4 bytes per round
    for cap in range(1, 25):
        data = data_of(client.get("/api/v1/files", params={"path": "u.txt", "read": "true", "max_bytes": cap}))
        assert data["encoding"] == "utf-8" and data["truncated"] is True
        raw = data["content"].encode()
        assert len(raw) <= cap and ("aé€😀" * 10).encode().startswith(raw)
        assert len(raw) > cap - 4


def test_non_utf8_comes_back_base64_or_replaced(client: Any, layout: Layout) -> None:
    (layout.repo / "latin1.txt").write_bytes("café".encode("latin-1"))
    auto = data_of(client.get("/api/v1/files", params={"path": "latin1.txt", "read": "true"}))
    assert auto["encoding"] == "base64" and base64.b64decode(auto["content"]) == "café".encode("latin-1")
    forced = data_of(client.get("/api/v1/files", params={"path": "latin1.txt", "read": "true", "encoding": "utf-8"}))
    assert forced["encoding"] == "utf-8" and forced["content"] == "caf\ufffd"
    b64 = data_of(
        client.get("/api/v1/files", params={"path": "README.md", "read": "true", "encoding": "base64", "max_bytes": 6})
    )
    assert base64.b64decode(b64["content"]) == b"# Demo" and b64["truncated"] is True


def test_binary_detected_by_nul_in_first_8k(client: Any, layout: Layout) -> None:
    (layout.repo / "early.bin").write_bytes(b"abc\x00def")
    (layout.repo / "late.txt").write_bytes(b"a" * 9000 + b"\x00")
    early = data_of(client.get("/api/v1/files", params={"path": "early.bin", "read": "true", "max_bytes": 2}))
    assert early["binary"] is True
    late = data_of(client.get("/api/v1/files", params={"path": "late.txt", "read": "true"}))
    assert late["binary"] is False


def test_post_read_line_ranges(client: Any, layout: Layout) -> None:
    (layout.repo / "lines.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    repo = str(layout.repo)
    mid = data_of(
        client.post("/api/v1/files/read", json={"path": "lines.txt", "repo_path": repo, "start_line": 3, "end_line": 5})
    )
    assert mid["content"] == "line 3\nline 4\nline 5\n"
    assert (mid["start_line"], mid["end_line"], mid["total_lines"]) == (3, 5, 10)
    tail = data_of(client.post("/api/v1/files/read", json={"path": "lines.txt", "repo_path": repo, "start_line": 9}))
    assert tail["content"] == "line 9\nline 10\n" and tail["end_line"] == 10
    past = data_of(client.post("/api/v1/files/read", json={"path": "lines.txt", "repo_path": repo, "start_line": 50}))
    assert past["content"] == "" and past["total_lines"] == 10
    capped = data_of(
        client.post(
            "/api/v1/files/read",
            json={"path": "lines.txt", "repo_path": repo, "start_line": 1, "end_line": 10, "max_bytes": 10},
        )
    )
    assert capped["content"] == "line 1\nlin" and capped["truncated"] is True


def test_line_count_is_null_beyond_10_mib(client: Any, layout: Layout) -> None:
    with open(layout.repo / "big.txt", "wb") as handle:
        handle.write(b"x\n" * (6 * 1024 * 1024))
    data = data_of(
        client.post(
            "/api/v1/files/read",
            json={"path": "big.txt", "repo_path": str(layout.repo), "start_line": 2, "end_line": 3},
        )
    )
    assert data["content"] == "x\nx\n" and data["total_lines"] is None


def test_absolute_path_inside_repo_is_the_relative_path(client: Any, layout: Layout) -> None:
    data = data_of(client.get("/api/v1/files", params={"path": str(layout.repo / "src" / "main.py"), "read": "1"}))
    assert data["path"] == "src/main.py"


def test_read_respects_default_and_max_caps(client: Any, layout: Layout) -> None:
    with open(layout.repo / "big.txt", "wb") as handle:
        handle.write(b"y" * 200_000)
    default = data_of(client.get("/api/v1/files", params={"path": "big.txt", "read": "1"}))
    assert len(default["content"]) == 100_000 and default["truncated"] is True
    whole = data_of(
        client.post(
            "/api/v1/files/read", json={"path": "big.txt", "repo_path": str(layout.repo), "max_bytes": 10_485_760}
        )
    )
    assert len(whole["content"]) == 200_000 and whole["truncated"] is False


def test_listing_a_file_path_lists_that_file(client: Any) -> None:
    data = data_of(client.get("/api/v1/files", params={"path": "README.md"}))
    assert [e["name"] for e in data["entries"]] == ["README.md"]


def test_symlink_entries_are_typed_not_followed(client: Any, layout: Layout) -> None:
    os.symlink("src/main.py", layout.repo / "alias.py")
    entries = {e["name"]: e for e in data_of(client.get("/api/v1/files"))["entries"]}
    assert entries["alias.py"]["type"] == "symlink"
    read = data_of(client.get("/api/v1/files", params={"path": "alias.py", "read": "1"}))
    assert read["content"].startswith("def main")
