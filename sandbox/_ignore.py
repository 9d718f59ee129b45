"""Git-ignore rules: nested ``.gitignore`` files, ``.git/info/exclude`` and git's global
excludes file (``core.excludesFile``, by default ``$XDG_CONFIG_HOME/git/ignore``), as git does.

The rules belong to an allowed root; a repository that is a subdirectory of it sees them
through an ``IgnoreView`` at its prefix, so the root's ``.gitignore`` chain down to the
subdirectory still applies there (``ROOT/.gitignore`` listing ``src/.env`` hides it from the
repository ``ROOT/src`` too).

Git's own rule is followed for directories: once a directory is excluded nothing beneath it
is looked at (a pattern cannot re-include a file under an excluded directory), so walks prune
ignored directories top-down. Within one file the last matching pattern wins; a deeper file
wins over a shallower one. Patterns are compiled with pathspec's ``GitIgnoreSpec`` and the
``simple`` backend (the re2 backend crashes on names that are not valid UTF-8), plus one regex
per file that tells at once when none of its patterns can match (``Rules``).
"""

from __future__ import annotations

import os
import re
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


def _config_value(text: str, section: str, key: str) -> str | None:
    """The last value of ``section.key`` in a git config file's text (git's INI-like format:
    case-insensitive names, quoted values, ``#``/``;`` comments; includes are not followed)."""
    found = None
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            current = line[1 : line.find("]")].strip().lower() if "]" in line else None
            line = line[line.find("]") + 1 :].strip() if "]" in line else ""
            if not line:
                continue
        if current != section or "=" not in line:
            continue
        name, _, value = line.partition("=")
        if name.strip().lower() != key:
            continue
        out = []
        quoted = False
        for char in value.strip():
            if char == '"':
                quoted = not quoted
            elif char in "#;" and not quoted:
                break
            else:
                out.append(char)
        found = "".join(out).strip()
    return found


def global_excludes_file(environ: dict[str, str] | None = None) -> str | None:
    """The path of git's global excludes file: ``core.excludesFile`` from the user's git config
    (``$XDG_CONFIG_HOME/git/config``, then ``~/.gitconfig``, which wins, as git reads them), else
    ``$XDG_CONFIG_HOME/git/ignore`` (``~/.config/git/ignore``) as git's default. The files are
    read here: no ``git`` command is ever run."""
    env = dict(os.environ if environ is None else environ)
    home = env.get("HOME") or os.path.expanduser("~")
    base = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    chosen = None
    for config in (os.path.join(base, "git", "config"), os.path.join(home, ".gitconfig")):
        try:
            with open(config, "rb") as handle:
                text = handle.read(_MAX_IGNORE_FILE).decode("utf-8", "replace")
        except OSError:
            continue
        value = _config_value(text, "core", "excludesfile")
        if value:
            chosen = value
    if chosen:
        return os.path.join(home, chosen[2:]) if chosen.startswith("~/") else chosen
    return os.path.join(base, "git", "ignore")


def read_excludes_file(path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read(_MAX_IGNORE_FILE)
    except OSError:
        return None


_NAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


@dataclass(frozen=True)
class Rules:
    """One ignore file's patterns, compiled by pathspec, and one regex that matches a path
    wherever any of the patterns does (``None`` if it could not be made). Most paths match no
    pattern: that regex alone answers them, instead of every pattern in turn (pathspec's
    ``simple`` backend tries each pattern's regex, in Python, for every path)."""

    spec: pathspec.GitIgnoreSpec
    any: re.Pattern[str] | None

    def include(self, path: str) -> bool | None:
        """pathspec's answer for ``path``: True (excluded), False (re-included), None (no pattern)."""
        if self.any is not None and self.any.search(path) is None:
            return None
        return self.spec.check_file(path).include


def _union(spec: pathspec.GitIgnoreSpec) -> re.Pattern[str] | None:
    """A regex that matches where any of the spec's patterns matches (their named groups made
    plain: pathspec names the same group in each)."""
    parts: list[str] = []
    flags: set[int] = set()
    for pattern in spec.patterns:
        regex = getattr(pattern, "regex", None)
        if getattr(pattern, "include", None) is None or regex is None:
            continue  # a comment or a blank line: it matches nothing
        if not isinstance(regex.pattern, str):
            return None
        parts.append(_NAMED_GROUP.sub("(?:", regex.pattern))
        flags.add(regex.flags)
    if not parts or len(flags) != 1:
        return None
    try:
        return re.compile("|".join(f"(?:{part})" for part in parts), flags.pop())
    except re.error:
        return None


def _compile(data: bytes) -> Rules | None:
    lines = data.decode("utf-8", "surrogateescape").splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines, backend="simple")
    return Rules(spec, _union(spec)) if spec.patterns else None


@dataclass(frozen=True)
class IgnoreChain:
    """The rules that apply to the entries of one directory, shallowest first."""

    directory: Components
    specs: tuple[tuple[int, Rules], ...]  # (depth of the ignore file's dir, its rules)

    def excludes(self, name: str, is_dir: bool) -> bool:
        """Whether the entry ``name`` of this directory is excluded by these rules."""
        comps = (*self.directory, name)
        result: bool | None = None
        suffix = "/" if is_dir else ""
        for depth, rules in self.specs:
            include = rules.include("/".join(comps[depth:]) + suffix)
            if include is not None:
                result = include
        return bool(result)


class IgnoreRules:
    """Answers "is this repo-relative path git-ignored?" for one repository.

    Each ignore file is read once and reloaded when its inode, size or mtime changes.
    Thread-safe: the index builder and request handlers share one instance.
    """

    def __init__(self, dirfd: int, base: str, mode: OpenMode, global_excludes: bytes | None = None) -> None:
        """``global_excludes``: the content of git's global excludes file (read by the caller,
        which knows the user's environment); its patterns rank below every other file's."""
        self._dirfd = dirfd
        self._base = base
        self._mode = mode
        self._lock = threading.Lock()
        self._specs: dict[Components, tuple[_Key | None, Rules | None]] = {}
        self._global = _compile(global_excludes) if global_excludes else None

    def close(self) -> None:
        if self._dirfd >= 0:
            os.close(self._dirfd)
            self._dirfd = -1

    def view(self, prefix: Components) -> IgnoreView:
        """These rules as seen from the subdirectory ``prefix`` (a repository inside the root)."""
        return IgnoreView(self, prefix)

    def _load(self, file_comps: Components) -> Rules | None:
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
        specs: list[tuple[int, Rules]] = [(0, self._global)] if self._global is not None else []
        for file_comps in (_EXCLUDE, (".gitignore",)):
            spec = self._load(file_comps)
            if spec is not None:
                specs.append((0, spec))
        return IgnoreChain((), tuple(specs))

    def descend(self, chain: IgnoreChain, name: str) -> IgnoreChain:
        """Rules for the entries of subdirectory ``name`` of ``chain``'s directory."""
        directory = (*chain.directory, name)
        spec = self._load((*directory, ".gitignore"))
        specs = (*chain.specs, (len(directory), spec)) if spec is not None else chain.specs
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


class IgnoreView:
    """The ignore rules of a root as one repository sees them: its paths are relative to
    ``prefix`` (empty for the root itself), the rules are the root's, applied from the root down."""

    def __init__(self, rules: IgnoreRules, prefix: Components) -> None:
        self.rules = rules
        self.prefix = prefix

    def chain_for(self, directory: Components) -> tuple[IgnoreChain, bool]:
        """Rules for ``directory``'s entries, and whether ``directory`` itself is ignored."""
        return self.rules.chain_for(self.prefix + directory)

    def descend(self, chain: IgnoreChain, name: str) -> IgnoreChain:
        return self.rules.descend(chain, name)

    def is_ignored(self, comps: Components, is_dir: bool) -> bool:
        """Whether ``comps`` (repo-relative) or any directory above it, up to the root, is excluded."""
        return bool(comps) and self.rules.is_ignored(self.prefix + comps, is_dir)
