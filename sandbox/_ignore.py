"""Git-ignore rules: nested ``.gitignore`` files plus ``.git/info/exclude``.

Git's own rule is followed for directories: once a directory is excluded nothing beneath it
is looked at (a pattern cannot re-include a file under an excluded directory), so walks prune
ignored directories top-down. Within one file the last matching pattern wins; a deeper file
wins over a shallower one. Patterns are compiled with pathspec's ``GitIgnoreSpec`` and the
``simple`` backend (the re2 backend crashes on names that are not valid UTF-8).
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass

import pathspec

from ._errors import SandboxError
from ._open import OpenMode, open_confined
from ._paths import Components

_MAX_IGNORE_FILE = 1 << 20
_Key = tuple[int, int, int, int]  # (st_dev, st_ino, st_size, st_mtime_ns): reload when it changes
_EXCLUDE = (".git", "info", "exclude")


def _read_small(dirfd: int, base: str, comps: Components, mode: OpenMode) -> tuple[_Key, bytes] | None:
    try:
        opened = open_confined(dirfd, base, comps, mode)
    except SandboxError:
        return None
    try:
        st = opened.st
        if not stat.S_ISREG(st.st_mode):
            return None
        return _key(st), os.read(opened.fd, _MAX_IGNORE_FILE)
    finally:
        os.close(opened.fd)


def _key(st: os.stat_result) -> _Key:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _compile(data: bytes) -> pathspec.GitIgnoreSpec | None:
    lines = data.decode("utf-8", "surrogateescape").splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines, backend="simple")
    return spec if spec.patterns else None


@dataclass(frozen=True)
class IgnoreChain:
    """The rules that apply to the entries of one directory, shallowest first."""

    directory: Components
    specs: tuple[tuple[int, pathspec.GitIgnoreSpec], ...]  # (depth of the ignore file's dir, spec)

    def excludes(self, name: str, is_dir: bool) -> bool:
        """Whether the entry ``name`` of this directory is excluded by these rules."""
        comps = self.directory + (name,)
        result: bool | None = None
        suffix = "/" if is_dir else ""
        for depth, spec in self.specs:
            include = spec.check_file("/".join(comps[depth:]) + suffix).include
            if include is not None:
                result = include
        return bool(result)


class IgnoreRules:
    """Answers "is this repo-relative path git-ignored?" for one repository.

    Each ignore file is read once and reloaded when its inode, size or mtime changes.
    Thread-safe: the index builder and request handlers share one instance.
    """

    def __init__(self, dirfd: int, base: str, mode: OpenMode) -> None:
        self._dirfd = dirfd
        self._base = base
        self._mode = mode
        self._lock = threading.Lock()
        self._specs: dict[Components, tuple[_Key | None, pathspec.GitIgnoreSpec | None]] = {}

    def _load(self, file_comps: Components) -> pathspec.GitIgnoreSpec | None:
        # Fast path: an lstat says whether the cached rules are still current. The rules
        # themselves only ever come from a confined open (below), never from this stat.
        with self._lock:
            cached = self._specs.get(file_comps)
        if cached is not None:
            try:
                st = os.stat("/".join(file_comps), dir_fd=self._dirfd, follow_symlinks=False)
                current: _Key | None = _key(st) if stat.S_ISREG(st.st_mode) else None
            except OSError:
                current = None
            if current == cached[0]:
                return cached[1]
        found = _read_small(self._dirfd, self._base, file_comps, self._mode)
        key = found[0] if found else None
        with self._lock:
            cached = self._specs.get(file_comps)
            if cached is not None and cached[0] == key:
                return cached[1]
        spec = _compile(found[1]) if found else None
        with self._lock:
            self._specs[file_comps] = (key, spec)
        return spec

    def root_chain(self) -> IgnoreChain:
        """Rules for the entries of the repository's top directory."""
        specs: list[tuple[int, pathspec.GitIgnoreSpec]] = []
        for file_comps in (_EXCLUDE, (".gitignore",)):
            spec = self._load(file_comps)
            if spec is not None:
                specs.append((0, spec))
        return IgnoreChain((), tuple(specs))

    def descend(self, chain: IgnoreChain, name: str) -> IgnoreChain:
        """Rules for the entries of subdirectory ``name`` of ``chain``'s directory."""
        directory = chain.directory + (name,)
        spec = self._load(directory + (".gitignore",))
        specs = chain.specs + ((len(directory), spec),) if spec is not None else chain.specs
        return IgnoreChain(directory, specs)

    def chain_for(self, directory: Components) -> tuple[IgnoreChain, bool]:
        """Rules for ``directory``'s entries, and whether ``directory`` itself is ignored."""
        chain = self.root_chain()
        ignored = False
        for name in directory:
            ignored = ignored or chain.excludes(name, True)
            chain = self.descend(chain, name)
        return chain, ignored

    def is_ignored(self, comps: Components, is_dir: bool) -> bool:
        """Whether ``comps`` or any directory above it is excluded."""
        if not comps:
            return False
        chain, ignored = self.chain_for(comps[:-1])
        return ignored or chain.excludes(comps[-1], is_dir)
