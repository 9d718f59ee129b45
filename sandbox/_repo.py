"""Allowed roots, repositories inside them, and everything read from a repository."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ._errors import (
    AccessDenied,
    FileNotFound,
    Ignored,
    InvalidPath,
    NotAFile,
    RepoPathInvalid,
    RepoPathNotFound,
    SandboxError,
)
from ._ignore import IgnoreChain, IgnoreRules, IgnoreView, global_excludes_file, read_excludes_file
from ._open import FileType, Opened, OpenMode, default_mode, file_type, open_beneath
from ._paths import MAX_PATH_BYTES, Components, display_name, split_components

MAX_READ_BYTES = 10 * 1024 * 1024
BINARY_PROBE = 8192


@dataclass(frozen=True)
class Root:
    """An allowed root, resolved once at start-up and held open."""

    path: str
    fd: int

    @property
    def components(self) -> Components:
        return tuple(p for p in self.path.split("/") if p)


class Repo:
    """A repository directory opened beneath an allowed root.

    Every path is opened relative to ``fd``; ``path`` is only for display and for the
    absolute-path form of the path rule.
    """

    def __init__(self, root: Root, path: str, fd: int, mode: OpenMode, ignore: IgnoreView) -> None:
        self.root = root
        self.path = path
        self.fd = fd
        self.mode = mode
        self.ignore = ignore

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @property
    def name(self) -> str:
        return os.path.basename(self.path) or self.path

    def components(self, path: str) -> Components:
        """Apply the path rule to a client path (see ``split_components``)."""
        return split_components(path, self.path)

    def open(self, comps: Components) -> Opened:
        """Open a repo-relative path confined to the repo (any file type; caller closes)."""
        return open_beneath(self.fd, self.path, comps, self.mode)

    def require(self, comps: Components) -> None:
        """Refuse a path that does not exist in the repo (``file_not_found``) or leaves it."""
        os.close(self.open(comps).fd)

    def read(self, comps: Components, max_bytes: int, *, include_ignored: bool = False) -> FileData:
        """A regular file's first ``max_bytes`` (see ``read_opened``), opened confined to the repo;
        a directory, FIFO, socket or device is ``NotAFile`` (``directory`` says which), a
        git-ignored file ``AccessDenied`` unless ``include_ignored``. No descriptor is left open."""
        return read_capped(self, comps, max_bytes, include_ignored=include_ignored)

    def check_not_ignored(self, comps: Components, resolved: Components, is_dir: bool) -> None:
        """Refuse a path that is git-ignored, by its own name or by where its links lead."""
        for candidate in (comps,) if resolved == comps else (comps, resolved):
            if self.ignore.is_ignored(candidate, is_dir):
                raise Ignored("this path is git-ignored; ignored files are hidden unless include_ignored=true")


@dataclass
class Roots:
    """The allowed repository roots and the repositories opened beneath them."""

    paths: list[str]
    mode: OpenMode | None = None
    roots: list[Root] = field(init=False)
    _ignores: dict[str, IgnoreRules] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.mode is None:
            self.mode = default_mode()
        self.roots = []
        for given in self.paths:
            real = os.path.realpath(given)
            try:
                fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError as exc:
                raise RepoPathInvalid(
                    f"allowed root {given!r} is not a readable directory: {exc.strerror}", subject="repo"
                ) from None
            self.roots.append(Root(real, fd))
        if not self.roots:
            raise RepoPathInvalid("at least one repository root is required", subject="repo")

    @property
    def default(self) -> str:
        return self.roots[0].path

    def close(self) -> None:
        for root in self.roots:
            os.close(root.fd)
        self.roots = []
        with self._lock:
            for rules in self._ignores.values():
                rules.close()
            self._ignores.clear()

    def ignore_rules(self, root: Root) -> IgnoreRules:
        """The ignore rules of an allowed root (one instance per root, shared by every
        repository inside it)."""
        with self._lock:
            rules = self._ignores.get(root.path)
            if rules is None:
                # The rules keep their own descriptor: they outlive one request's repo fd.
                rules = IgnoreRules(
                    os.dup(root.fd), root.path, self.mode or "walk", read_excludes_file(global_excludes_file())
                )
                self._ignores[root.path] = rules
            return rules

    def locate(self, requested: str | None) -> tuple[Root, Components]:
        """Find the root a requested repo path lies in, comparing whole components."""
        if requested is None or requested == "":
            return self.roots[0], ()
        if "\x00" in requested:
            raise InvalidPath("repository path contains a NUL byte", subject="repo")
        if len(requested.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
            raise InvalidPath(f"repository path is longer than {MAX_PATH_BYTES} bytes", subject="repo")
        if not requested.startswith("/"):
            raise RepoPathInvalid("the repository path must be absolute", subject="repo")
        real = tuple(p for p in os.path.realpath(requested).split("/") if p)
        best: tuple[Root, Components] | None = None
        for root in self.roots:
            base = root.components
            if real[: len(base)] == base and (best is None or len(base) > len(best[0].components)):
                best = (root, real[len(base) :])
        if best is None:
            raise AccessDenied("this repository is outside the allowed roots (--repo)", subject="repo")
        if ".git" in best[1]:
            raise AccessDenied("'.git' is never accessible", subject="repo")
        return best

    def resolve(self, requested: str | None) -> str:
        """The resolved path of a requested repository (refused as ``open_repo`` refuses it)."""
        with self.open_repo(requested) as repo:
            return repo.path

    @contextmanager
    def open_repo(self, requested: str | None) -> Iterator[Repo]:
        """Open a requested repository (default: the first root) for the length of a block."""
        repo = self.acquire(requested)
        try:
            yield repo
        finally:
            repo.close()

    def acquire(self, requested: str | None) -> Repo:
        """Open a requested repository; the caller closes it (``Repo.close``)."""
        root, rel = self.locate(requested)
        try:
            opened = open_beneath(root.fd, root.path, rel, self.mode or "walk")
        except FileNotFound:
            raise RepoPathNotFound("the repository directory does not exist", subject="repo") from None
        except SandboxError as exc:
            exc.subject = "repo"
            raise
        if not stat.S_ISDIR(opened.st.st_mode):
            os.close(opened.fd)
            raise RepoPathInvalid("the repository path is not a directory", subject="repo")
        rules = self.ignore_rules(root)
        if rules.is_ignored(opened.resolved, True):
            os.close(opened.fd)
            raise AccessDenied("this directory is git-ignored, so it cannot be used as a repository", subject="repo")
        path = "/" + "/".join(root.components + opened.resolved)
        return Repo(root, path, opened.fd, self.mode or "walk", rules.view(opened.resolved))


@dataclass(frozen=True)
class FileData:
    """Bytes read from a regular file, capped."""

    path: str
    data: bytes
    size: int
    mtime: float
    truncated: bool
    binary: bool
    mtime_ns: int = 0  # the same moment in nanoseconds, as caches key files by it


def _read_upto(fd: int, limit: int, size_hint: int) -> bytes:
    """Up to ``limit`` bytes. The first read asks for the size the file had when opened (and
    one byte more, to see it end): a read allocates what it asks for, and asking every file
    for a mebibyte left each small file's text in a block of its own once large blocks are
    mapped separately (see ``keep_large_allocations_apart`` in the index)."""
    chunks: list[bytes] = []
    remaining = limit
    step = max(size_hint + 1, 4096)
    while remaining > 0:
        chunk = os.read(fd, min(remaining, step))
        step = 1 << 20
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def check_file(repo: Repo, comps: Components, opened: Opened, *, include_ignored: bool) -> None:
    """Refuse an opened path that is not a regular file or is git-ignored (closes it then)."""
    try:
        kind = file_type(opened.st)
        if kind != "file":
            what = "a directory" if kind == "directory" else "a FIFO, socket or device"
            raise NotAFile(f"this path is {what}, not a regular file", directory=kind == "directory")
        if not include_ignored:
            repo.check_not_ignored(comps, opened.resolved, False)
    except BaseException:
        os.close(opened.fd)
        raise


def open_file(repo: Repo, comps: Components, *, include_ignored: bool) -> Opened:
    """Open a regular file: directories, FIFOs, sockets and devices are ``NotAFile``."""
    opened = repo.open(comps)
    check_file(repo, comps, opened, include_ignored=include_ignored)
    return opened


def read_opened(opened: Opened, comps: Components, max_bytes: int) -> FileData:
    """Read at most ``max_bytes`` from an opened file (plus one byte to detect truncation),
    then close it. The binary check always looks at the first 8 KB, whatever the cap."""
    try:
        raw = _read_upto(opened.fd, max(max_bytes + 1, BINARY_PROBE), opened.st.st_size)
    finally:
        os.close(opened.fd)
    return FileData(
        path="/".join(comps),
        data=raw[:max_bytes],
        size=opened.st.st_size,
        mtime=opened.st.st_mtime,
        truncated=len(raw) > max_bytes,
        binary=b"\x00" in raw[:BINARY_PROBE],
        mtime_ns=opened.st.st_mtime_ns,
    )


def read_capped(repo: Repo, comps: Components, max_bytes: int, *, include_ignored: bool = False) -> FileData:
    """Open and read a regular file, capped (see ``read_opened``)."""
    return read_opened(open_file(repo, comps, include_ignored=include_ignored), comps, max_bytes)


def cut_utf8(data: bytes) -> bytes:
    """Drop an incomplete UTF-8 sequence at the end of ``data`` (after a cap)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data[:-back] if back < need else data
    return data


@dataclass(frozen=True)
class Entry:
    """One directory entry, as shown to clients (symlinks are not followed)."""

    name: str
    path: str
    type: FileType
    size: int | None
    mtime: float
    undecodable: bool


@dataclass(frozen=True)
class Listing:
    path: str
    entries: list[Entry]
    truncated: bool


def _entry(de: os.DirEntry[str], parent: Components) -> Entry:
    st = de.stat(follow_symlinks=False)
    kind = file_type(st)
    name, bad = display_name(de.name)
    rel = "/".join(display_name(p)[0] for p in (*parent, de.name))
    return Entry(name, rel, kind, None if kind == "directory" else st.st_size, st.st_mtime, bad)


def list_directory(repo: Repo, comps: Components, *, include_ignored: bool, limit: int = 5000) -> Listing:
    """List a directory: directories first, then by name; ``.git`` always hidden.

    Git-ignored entries are hidden unless ``include_ignored``; listing an ignored directory
    itself needs ``include_ignored`` too. A file path lists that one file.
    """
    opened = repo.open(comps)
    try:
        if not stat.S_ISDIR(opened.st.st_mode):
            if not include_ignored:
                repo.check_not_ignored(comps, opened.resolved, False)
            name = comps[-1] if comps else ""
            entry = Entry(name, "/".join(comps), file_type(opened.st), opened.st.st_size, opened.st.st_mtime, False)
            return Listing("/".join(comps), [entry], False)
        chain = None
        if not include_ignored:
            repo.check_not_ignored(comps, opened.resolved, True)
            chain, _ = repo.ignore.chain_for(comps)
        dirs: list[Entry] = []
        files: list[Entry] = []
        with os.scandir(opened.fd) as it:
            for de in it:
                if de.name == ".git":
                    continue
                try:
                    is_dir = de.is_dir(follow_symlinks=False)
                    if chain is not None and chain.excludes(de.name, is_dir):
                        continue
                    entry = _entry(de, comps)
                except FileNotFoundError:  # removed while we listed
                    continue
                (dirs if is_dir else files).append(entry)
    finally:
        os.close(opened.fd)
    dirs.sort(key=lambda e: e.name)
    files.sort(key=lambda e: e.name)
    entries = dirs + files
    return Listing("/".join(comps), entries[:limit], len(entries) > limit)


def walk_files(
    repo: Repo,
    *,
    max_size: int | None = None,
    start: Components = (),
    on_directory: Callable[[int, Components], None] | None = None,
) -> Iterator[tuple[Components, os.stat_result]]:
    """Yield every regular, non-ignored file of the repo, pruning ignored directories.

    Symlinks are not followed (a link cannot take the walk outside the repo or into a loop).
    Files over ``max_size`` bytes are skipped. ``start`` walks one subtree only (nothing is
    yielded if it is ignored); ``on_directory(fd, comps)`` sees each directory's descriptor
    before it is read, so a watcher added there misses no later change.
    """
    chain, ignored = repo.ignore.chain_for(start)
    if ignored:
        return
    stack: list[tuple[Components, IgnoreChain]] = [(start, chain)]
    while stack:
        comps, chain = stack.pop()
        files: list[tuple[Components, os.stat_result]] = []
        subdirs: list[tuple[Components, IgnoreChain]] = []
        try:
            opened = repo.open(comps)
        except SandboxError:
            continue
        try:
            if stat.S_ISDIR(opened.st.st_mode):
                if on_directory is not None:
                    on_directory(opened.fd, comps)
                with os.scandir(opened.fd) as it:
                    entries = sorted(it, key=lambda d: d.name)
                for de in entries:
                    if de.name == ".git":
                        continue
                    try:
                        st = de.stat(follow_symlinks=False)
                    except FileNotFoundError:  # removed while we walked
                        continue
                    is_dir = stat.S_ISDIR(st.st_mode)
                    if not (is_dir or stat.S_ISREG(st.st_mode)) or chain.excludes(de.name, is_dir):
                        continue
                    if is_dir:
                        subdirs.append(((*comps, de.name), repo.ignore.descend(chain, de.name)))
                    elif max_size is None or st.st_size <= max_size:
                        files.append(((*comps, de.name), st))
        finally:
            os.close(opened.fd)
        yield from files
        stack.extend(reversed(subdirs))
