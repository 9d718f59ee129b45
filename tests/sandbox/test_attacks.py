"""The known attack vectors, against both open paths and through the HTTP API."""

from __future__ import annotations

import base64
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import ERROR_CODES
from sandbox import Roots, SandboxError, list_directory, read_capped
from tests.helpers import CANARY, OPEN_MODES, Layout


def no_leak(body: bytes) -> bool:
    return CANARY not in body and base64.b64encode(CANARY)[:16] not in body


@pytest.fixture
def attack(layout: Layout) -> Layout:
    repo = layout.repo
    os.symlink(str(layout.canary), repo / "link_abs_out")
    os.symlink("../outside/secret.txt", repo / "link_rel_out")
    os.symlink("../outside", repo / "dir_out")
    os.symlink("chain2", repo / "chain1")
    os.symlink("src/../chain3", repo / "chain2")
    os.symlink("../outside/secret.txt", repo / "chain3")
    os.symlink("loop2", repo / "loop1")
    os.symlink("loop1", repo / "loop2")
    os.symlink(str(repo / "src" / "main.py"), repo / "abs_in")
    os.symlink("/proc/self/root", repo / "proc_root")
    depth = len(repo.parts) - 1
    os.symlink("../" * depth + "proc/self/root", repo / "proc_rel")
    os.symlink("src/main.py", repo / "in_link")
    os.symlink("src/pkg/../main.py", repo / "in_link_dotdot")
    os.symlink("src", repo / "in_dir")
    os.symlink(".git/config", repo / "gitlink")
    os.symlink(".git", repo / "gitdir")
    os.mkfifo(repo / "fifo")
    os.mknod(repo / "dev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(repo / "sock"))
    sock.close()
    with open(repo / "huge.bin", "wb") as handle:
        handle.truncate(1 << 40)
    return layout


def _table(layout: Layout) -> list[tuple[str, str | None]]:
    repo = layout.repo
    return [
        ("../outside/secret.txt", "access_denied"),
        ("src/../../outside/secret.txt", "access_denied"),
        ("a/../../x", "access_denied"),
        ("src/..", "access_denied"),
        (str(layout.canary), "access_denied"),
        (str(layout.sibling / "secret.txt"), "access_denied"),
        (str(repo) + "-evil/secret.txt", "access_denied"),
        ("/etc/passwd", "access_denied"),
        ("%2e%2e/outside/secret.txt", "file_not_found"),
        ("%2e%2e%2foutside%2fsecret.txt", "file_not_found"),
        ("\uff0e\uff0e/outside/secret.txt", "file_not_found"),
        ("..\\outside\\secret.txt", "invalid_parameter"),
        ("src\\main.py", "invalid_parameter"),
        ("C:\\Windows\\win.ini", "invalid_parameter"),
        ("C:/x", "invalid_parameter"),
        ("c:x", "invalid_parameter"),
        ("src/main.py\x00.png", "invalid_parameter"),
        ("\x00", "invalid_parameter"),
        ("link_abs_out", "access_denied"),
        ("link_rel_out", "access_denied"),
        ("dir_out/secret.txt", "access_denied"),
        ("dir_out/", "access_denied"),
        ("dir_out/./secret.txt", "access_denied"),
        ("chain1", "access_denied"),
        ("loop1", "access_denied"),
        ("loop1/x", "access_denied"),
        ("abs_in", "access_denied"),
        ("proc_root/etc/passwd", "access_denied"),
        ("proc_rel/etc/passwd", "access_denied"),
        (".git/config", "access_denied"),
        ("./.git/config", "access_denied"),
        ("src/../.git/config", "access_denied"),
        (".git", "access_denied"),
        ("gitlink", "access_denied"),
        ("gitdir/config", "access_denied"),
        (str(repo / ".git" / "config"), "access_denied"),
        ("fifo", "not_a_file"),
        ("sock", "not_a_file"),
        ("dev", "not_a_file"),
        ("x" * 256, "invalid_parameter"),
        ("a/" * 2100, "invalid_parameter"),
        ("nope.txt", "file_not_found"),
        ("src/main.py/x", "file_not_found"),
        ("src/nope/main.py", "file_not_found"),
        ("src/main.py", None),
        ("./src//main.py", None),
        (str(repo / "src" / "main.py"), None),
        ("in_link", None),
        ("in_link_dotdot", None),
        ("in_dir/main.py", None),
    ]


def _direct(roots: Roots, path: str) -> tuple[str | None, bytes]:
    with roots.open_repo(None) as repo:
        try:
            data = read_capped(repo, repo.components(path), 100_000)
        except SandboxError as exc:
            return exc.code, exc.message.encode()
    return None, data.data


@pytest.mark.parametrize("mode", OPEN_MODES)
def test_attack_table_direct(attack: Layout, mode: str) -> None:
    roots = Roots([str(attack.repo)], mode)  # type: ignore[arg-type]
    try:
        for path, expected in _table(attack):
            started = time.monotonic()
            code, body = _direct(roots, path)
            assert code == expected, (mode, path, code)
            assert no_leak(body), (mode, path)
            assert time.monotonic() - started < 2, (mode, path)
            if expected is None:
                assert body == b"def main():\n    return 42\n"
    finally:
        roots.close()


def test_both_modes_agree_on_every_attack(attack: Layout) -> None:
    answers: dict[str, dict[str, str | None]] = {}
    for mode in OPEN_MODES:
        roots = Roots([str(attack.repo)], mode)  # type: ignore[arg-type]
        answers[mode] = {path: _direct(roots, path)[0] for path, _ in _table(attack)}
        roots.close()
    first = answers[OPEN_MODES[0]]
    differ = {
        path: {mode: answers[mode][path] for mode in OPEN_MODES}
        for path in first
        if len({answers[mode][path] for mode in OPEN_MODES}) > 1
    }
    assert differ == {}, f"the open modes answer differently for: {differ}"


def test_attack_table_over_http(attack: Layout, client: Any) -> None:
    for path, expected in _table(attack):
        for response in (
            client.get("/api/v1/files", params={"path": path, "read": "true"}),
            client.post("/api/v1/files/read", json={"path": path, "repo_path": str(attack.repo)}),
        ):
            body = response.content
            assert no_leak(body), path
            if expected is None:
                assert response.status_code == 200
                assert response.json()["data"]["content"] == "def main():\n    return 42\n"
                continue
            assert response.status_code == ERROR_CODES[expected].status, (path, body)
            error = response.json()["error"]
            assert error["code"] == expected, path
            assert error["param"] == "path"
            assert error["type"] == ERROR_CODES[expected].type


def test_listing_through_escaping_links_is_denied(attack: Layout, client: Any) -> None:
    for path in ("dir_out", "dir_out/", "proc_root", "gitdir", ".git"):
        response = client.get("/api/v1/files", params={"path": path})
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "access_denied"
        assert no_leak(response.content)


def test_fifo_answers_without_blocking(attack: Layout, client: Any) -> None:
    started = time.monotonic()
    response = client.post("/api/v1/files/read", json={"path": "fifo", "repo_path": str(attack.repo)})
    assert time.monotonic() - started < 2
    assert response.json()["error"]["code"] == "not_a_file"


def test_terabyte_sparse_file_is_capped_fast(attack: Layout, client: Any) -> None:
    started = time.monotonic()
    response = client.get("/api/v1/files", params={"path": "huge.bin", "read": "true", "max_bytes": 1000})
    assert time.monotonic() - started < 2
    data = response.json()["data"]
    assert data["size"] == 1 << 40
    assert data["truncated"] is True
    assert data["binary"] is True
    assert data["encoding"] == "base64"
    assert len(base64.b64decode(data["content"])) == 1000


@pytest.mark.parametrize(
    "repo_value,code",
    [
        ("{sibling}", "access_denied"),
        ("{outside}", "access_denied"),
        ("{repo}/../outside", "access_denied"),
        ("{repo}/.git", "access_denied"),
        ("/", "access_denied"),
        ("relative/path", "repo_path_invalid"),
        ("{repo}/missing", "repo_path_not_found"),
        ("{repo}/README.md", "repo_path_invalid"),
        ("{repo}/dir_out", "access_denied"),
        ("{repo}\x00", "invalid_parameter"),
    ],
)
def test_repo_parameter_attacks(attack: Layout, client: Any, repo_value: str, code: str) -> None:
    value = repo_value.format(sibling=attack.sibling, outside=attack.outside, repo=attack.repo)
    response = client.get("/api/v1/files", params={"repo": value, "path": "secret.txt", "read": "true"})
    assert response.status_code == ERROR_CODES[code].status
    assert response.json()["error"] == {**response.json()["error"], "code": code, "param": "repo"}
    assert no_leak(response.content)
    post = client.post("/api/v1/files/read", json={"path": "secret.txt", "repo_path": value})
    assert post.json()["error"]["code"] == code
    assert post.json()["error"]["param"] == "repo_path"


def test_subdirectory_of_a_root_is_a_repo_confined_to_itself(attack: Layout, client: Any) -> None:
    sub = str(attack.repo / "src")
    ok = client.get("/api/v1/files", params={"repo": sub, "path": "main.py", "read": "true"})
    assert ok.json()["data"]["content"].startswith("def main")
    escaped = client.get("/api/v1/files", params={"repo": sub, "path": "../README.md", "read": "true"})
    assert escaped.json()["error"]["code"] == "access_denied"
    # a symlink into the parent repo leaves this (sub)repo: refused
    os.symlink("../README.md", attack.repo / "src" / "up")
    up = client.get("/api/v1/files", params={"repo": sub, "path": "up", "read": "true"})
    assert up.json()["error"]["code"] == "access_denied"


def test_invalid_utf8_names_are_listed_escaped_never_500(layout: Layout, client: Any) -> None:
    bad = os.fsencode(str(layout.repo / "src")) + b"/bad\xff\xfename.txt"
    with open(bad, "wb") as handle:
        handle.write(b"x")
    response = client.get("/api/v1/files", params={"path": "src"})
    assert response.status_code == 200
    entries = {e["name"]: e for e in response.json()["data"]["entries"]}
    entry = entries["bad\\xff\\xfename.txt"]
    assert entry["undecodable"] is True
    assert entry["path"] == "src/bad\\xff\\xfename.txt"
    assert "undecodable" not in entries["main.py"]
    # the display form cannot be used to open it
    read = client.get("/api/v1/files", params={"path": entry["path"], "read": "true"})
    assert read.status_code == 400
    assert read.json()["error"]["code"] == "invalid_parameter"


def test_hardlink_limitation_is_as_documented(layout: Layout, open_mode: str) -> None:
    """A hard link is the file itself: the sandbox cannot tell it from an ordinary file.

    docs/security.md says so; this test keeps that sentence true.
    """
    os.link(layout.canary, layout.repo / "hard")
    roots = Roots([str(layout.repo)], open_mode)  # type: ignore[arg-type]
    with roots.open_repo(None) as repo:
        assert read_capped(repo, ("hard",), 100).data == CANARY
    roots.close()
    assert "hard link" in (Path(__file__).parents[2] / "docs" / "security.md").read_text().lower()


def test_listing_never_shows_git_and_hides_ignored(layout: Layout, open_mode: str) -> None:
    (layout.repo / ".gitignore").write_text("*.log\nbuild/\n")
    (layout.repo / "app.log").write_text("x")
    (layout.repo / "build").mkdir()
    roots = Roots([str(layout.repo)], open_mode)  # type: ignore[arg-type]
    with roots.open_repo(None) as repo:
        names = [e.name for e in list_directory(repo, (), include_ignored=False).entries]
        assert ".git" not in names and "app.log" not in names and "build" not in names
        everything = [e.name for e in list_directory(repo, (), include_ignored=True).entries]
        assert "app.log" in everything and "build" in everything and ".git" not in everything
    roots.close()
