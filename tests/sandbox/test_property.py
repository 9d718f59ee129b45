"""Property: for hostile paths over generated trees with symlinks, the sandbox either opens
something inside the repo or refuses; both open paths agree; nothing else ever escapes."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import Roots, SandboxError, open_beneath
from tests.helpers import OPEN_MODES

NAMES = ["a", "b", "c", "d"]
PATHS_PER_TREE = 50
TREES = 210  # x 50 paths = 10,500 generated paths per run

link_part = st.sampled_from([*NAMES, "..", ".", "", ".git", "x"])
link_target = st.one_of(
    st.lists(link_part, min_size=1, max_size=5).map("/".join),
    st.sampled_from(["/", "/etc", "/proc/self/root", "/proc/self/cwd", "{outside}", "{outside}/secret", "{repo}/a"]),
)
entry = st.tuples(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=3),  # where
    st.sampled_from(["dir", "file", "link", "link"]),
    link_target,
)
path_part = st.sampled_from([*NAMES, "..", ".", "", ".git", "%2e%2e", "\uff0e\uff0e", "secret", "x"])
hostile_path = st.one_of(
    st.lists(path_part, max_size=6).map("/".join),
    st.tuples(
        st.sampled_from(["/", "{repo}/", "{outside}/", "{repo}-evil/", "C:", "a\\", "a\x00"]),
        st.lists(path_part, max_size=4).map("/".join),
    ).map("".join),
    st.text(max_size=12),
)


def _build(base: Path, entries: list[tuple[list[str], str, str]]) -> Path:
    repo = base / "repo"
    outside = base / "outside"
    (repo / ".git").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("outside")
    (repo / ".git" / "secret").write_text("git")
    (base / "repo-evil").mkdir()
    (base / "repo-evil" / "secret").write_text("evil")
    for where, kind, target in entries:
        path = repo.joinpath(*where)
        parent = repo
        try:
            for name in where[:-1]:  # create missing parents, never through a link
                parent = parent / name
                if parent.is_symlink():
                    raise OSError("a parent is a link")
                if not os.path.lexists(parent):
                    parent.mkdir()
            if os.path.lexists(path) or not parent.is_dir():
                continue
            if kind == "dir":
                path.mkdir()
            elif kind == "file":
                path.write_text("/".join(where))
            else:
                os.symlink(target.replace("{outside}", str(outside)).replace("{repo}", str(repo)), path)
        except OSError:  # a parent is a file or a link: this entry cannot exist
            continue
    return repo


def _inside_inodes(repo: Path) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in dirnames + filenames + ["."]:
            st_ = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st_.st_mode) or stat.S_ISDIR(st_.st_mode):
                found.add((st_.st_dev, st_.st_ino))
    return found


def _answer(roots: Roots, path: str) -> tuple[str, object]:
    with roots.open_repo(None) as repo:
        try:
            comps = repo.components(path)
            opened = open_beneath(repo.fd, repo.path, comps, roots.mode or "walk")
        except SandboxError as exc:
            return "refused", exc.code
        os.close(opened.fd)
        return "opened", (opened.st.st_dev, opened.st.st_ino)


@settings(max_examples=TREES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    entries=st.lists(entry, max_size=12), paths=st.lists(hostile_path, min_size=PATHS_PER_TREE, max_size=PATHS_PER_TREE)
)
def test_opens_inside_or_refuses_and_both_paths_agree(
    entries: list[tuple[list[str], str, str]], paths: list[str]
) -> None:
    base = Path(tempfile.mkdtemp(prefix="sbprop"))
    try:
        repo = _build(base, entries)
        inside = _inside_inodes(repo)
        all_roots = [Roots([str(repo)], mode) for mode in OPEN_MODES]  # type: ignore[arg-type]
        try:
            for raw in paths:
                path = raw.replace("{repo}", str(repo)).replace("{outside}", str(base / "outside"))
                answers = [_answer(roots, path) for roots in all_roots]
                assert all(a == answers[0] for a in answers), (path, answers)
                kind, value = answers[0]
                if kind == "opened":
                    assert value in inside, path
                else:
                    assert value in {"invalid_parameter", "access_denied", "file_not_found"}, (path, value)
        finally:
            for roots in all_roots:
                roots.close()
    finally:
        shutil.rmtree(base)
