"""Change detection without a per-search stat of every file.

inotify (through ctypes) watches every indexed directory. The kernel queues an event the
moment a file changes, and the index drains that queue, without blocking, before each search:
so an edit is always seen by the next search, at the cost of one ``read`` when nothing changed.
(watchfiles debounces in a background thread, so an edit just before a search could be missed.)
Where inotify is unavailable the index falls back to a full sweep at most once a second; where
it runs out of watches (the kernel's ``max_user_watches``), only the directories it could not
watch are swept, at most once a second, and ``/status`` says how many.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import struct
from dataclasses import dataclass, field

from sandbox import Components

log = logging.getLogger("assistant.index")

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
    | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
)  # fmt: skip
_EVENT = struct.Struct("iIII")

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class Changes:
    """What happened since the last drain."""

    files: set[Components] = field(default_factory=set)
    new_dirs: set[Components] = field(default_factory=set)
    gone_dirs: set[Components] = field(default_factory=set)
    resync: bool = False
    sweep: set[Components] = field(default_factory=set)  # unwatched directories to look through

    def __bool__(self) -> bool:
        return bool(self.files or self.new_dirs or self.gone_dirs or self.resync or self.sweep)


class Watcher:
    """inotify watches on a repository's directories, keyed by their repo-relative path."""

    def __init__(self, limit: int | None = None) -> None:
        """``limit``: watches this watcher may add (None: as many as the kernel allows)."""
        self.limit = limit
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self.fd: int = fd
        self._dirs: dict[int, Components] = {}
        self._wds: dict[Components, int] = {}

    def watch(self, dir_fd: int, comps: Components) -> None:
        """Watch an opened directory (its descriptor came from the sandbox)."""
        if self.limit is not None and len(self._wds) >= self.limit and comps not in self._wds:
            raise OSError(errno.ENOSPC, "the inotify watch limit is reached")
        path = f"/proc/self/fd/{dir_fd}".encode()
        wd = _libc.inotify_add_watch(self.fd, path, _MASK)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self._dirs[wd] = comps
        self._wds[comps] = wd

    def forget(self, prefix: Components) -> None:
        """Stop watching a directory and everything beneath it (it moved or went away)."""
        for comps, wd in list(self._wds.items()):
            if comps[: len(prefix)] == prefix:
                _libc.inotify_rm_watch(self.fd, wd)
                del self._wds[comps]
                self._dirs.pop(wd, None)

    @property
    def watched(self) -> int:
        return len(self._wds)

    def drain(self) -> Changes:
        """Read every queued event without blocking."""
        changes = Changes()
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            if not buf:
                break
            self._parse(buf, changes)
        return changes

    def _parse(self, buf: bytes, changes: Changes) -> None:
        offset = 0
        while offset + _EVENT.size <= len(buf):
            wd, mask, _cookie, length = _EVENT.unpack_from(buf, offset)
            raw = buf[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            if mask & IN_Q_OVERFLOW:
                changes.resync = True
                continue
            directory = self._dirs.get(wd)
            if mask & IN_IGNORED:
                if directory is not None:
                    self._wds.pop(directory, None)
                self._dirs.pop(wd, None)
                continue
            if directory is None:
                continue
            if mask & (IN_DELETE_SELF | IN_MOVE_SELF):
                if not directory:
                    changes.resync = True  # the repository itself moved or went away
                continue
            name = os.fsdecode(raw)
            path = (*directory, name)
            if name == ".gitignore":
                changes.resync = True
            if mask & IN_ISDIR:
                if mask & (IN_CREATE | IN_MOVED_TO):
                    changes.new_dirs.add(path)
                elif mask & (IN_DELETE | IN_MOVED_FROM):
                    changes.gone_dirs.add(path)
                    self.forget(path)
            else:
                changes.files.add(path)

    def close(self) -> None:
        os.close(self.fd)
