"""What the index tests share: building an index of the module's ``repo`` fixture."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.index import RepoIndex
from sandbox import Roots

MakeIndex = Callable[..., RepoIndex]


@pytest.fixture
def make_index(repo: Path, tmp_path: Path) -> Iterator[MakeIndex]:
    """Build (in this thread) the index of ``repo``, or of another path; closed after the test."""
    made: list[tuple[RepoIndex, Roots]] = []

    def build(path: Path | None = None) -> RepoIndex:
        roots = Roots([str(path or repo)])
        index = RepoIndex(roots, roots.default, str(tmp_path / "cache"))
        index.build()
        made.append((index, roots))
        return index

    yield build
    for index, roots in made:
        index.close()
        roots.close()
