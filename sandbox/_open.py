"""Confined opening: a path is opened beneath a directory descriptor or not at all.

Two implementations give the same answers:

- ``openat2``: the kernel resolves the path with ``RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS``
  (Linux 5.6+, called through ctypes because the standard library has no wrapper).
- ``walk``: a component-by-component walk with ``O_NOFOLLOW`` and ``dir_fd`` that reads each
  symlink itself and refuses absolute targets and any ``..`` that would climb above the start.

Neither ever opens by an absolute path that was checked earlier, so a symlink swapped in
between a check and the open cannot leak: the check *is* the open.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections import deque
from dataclasses import dataclass
from typing import Literal

from ._errors import AccessDenied, FileNotFound, InvalidPath, NotAFile, SandboxError
from ._paths import Components

OpenMode = Literal["openat2", "walk"]

_SYS_OPENAT2 = 437  # the same number on every architecture (unified syscall table)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_BENEATH = 0x08
_MAX_LINKS = 40  # the kernel's MAXSYMLINKS
# openat2 answers EAGAIN when a rename anywhere on the mount raced a resolution that crossed
# ".." (RESOLVE_BENEATH checks the rename sequence count); retried this many times, then the
# walk, which is safe by construction, opens the path instead
_EAGAIN_RETRIES = 16

# O_NONBLOCK: a FIFO opens at once instead of waiting for a writer; fstat then refuses it.
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_DIR_STEP_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _openat2(dirfd: int, path: bytes, flags: int) -> int:
    how = _OpenHow(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS)
    retries = _EAGAIN_RETRIES
    while True:
        fd = _syscall(
            ctypes.c_long(_SYS_OPENAT2),
            ctypes.c_int(dirfd),
            ctypes.c_char_p(path),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err == errno.EAGAIN and retries > 0:
            retries -= 1
            continue
        if err != errno.EINTR:
            raise OSError(err, os.strerror(err))


def openat2_available() -> bool:
    """Whether this kernel (and seccomp policy) lets us call openat2."""
    try:
        fd = _openat2(-100, b".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # AT_FDCWD
    except OSError:
        return False
    os.close(fd)
    return True


def default_mode() -> OpenMode:
    return "openat2" if openat2_available() else "walk"


@dataclass(frozen=True)
class Opened:
    """An open descriptor (the caller closes it), its stat and its resolved components."""

    fd: int
    st: os.stat_result
    resolved: Components


def _error_for(err: int) -> SandboxError:
    if err in (errno.ENOENT, errno.ENOTDIR):
        return FileNotFound("no such file or directory in the repository")
    if err == errno.EXDEV:
        return AccessDenied("the path leads outside the repository (absolute or escaping symlink)")
    if err == errno.ELOOP:
        return AccessDenied("too many levels of symbolic links, or a link into /proc")
    if err in (errno.EACCES, errno.EPERM):
        return AccessDenied("the file system denied access to this path")
    if err in (errno.ENXIO, errno.ENODEV, errno.EOPNOTSUPP):
        return NotAFile("this is a socket or device, not a regular file")
    if err == errno.ENAMETOOLONG:
        return InvalidPath("the path (after following links) is too long")
    return AccessDenied(f"cannot open this path ({os.strerror(err)})")


def _proc_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def _relative_to(path: str, base: str) -> Components | None:
    if path == base:
        return ()
    prefix = base.rstrip("/") + "/"
    if not path.startswith(prefix):
        return None
    return tuple(path[len(prefix) :].split("/"))


def _open_openat2(dirfd: int, base: str, comps: Components) -> Opened:
    path = "/".join(comps) or "."
    try:
        fd = _openat2(dirfd, path.encode("utf-8", "surrogateescape"), OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.EAGAIN:  # renames kept racing the resolution: not a refusal
            return _open_walk(dirfd, comps)
        raise _error_for(exc.errno or 0) from None
    try:
        resolved = _relative_to(_proc_path(fd), base)
        if resolved is None:
            raise AccessDenied("the path leads outside the repository")
        return Opened(fd, os.fstat(fd), resolved)
    except BaseException:
        os.close(fd)
        raise


def _open_walk(dirfd: int, comps: Components) -> Opened:
    queue: deque[str] = deque(comps)
    stack: list[tuple[int, str]] = []  # directories opened beneath dirfd, with their names
    links = 0
    try:
        while True:
            cur = stack[-1][0] if stack else dirfd
            while queue and queue[0] in ("", "."):
                queue.popleft()
            if not queue:
                fd = os.open(".", OPEN_FLAGS, dir_fd=cur)
                return Opened(fd, os.fstat(fd), tuple(name for _, name in stack))
            name = queue.popleft()
            if name == "..":
                if not stack:
                    raise OSError(errno.EXDEV, "escaping symlink")
                os.close(stack.pop()[0])
                continue
            last = not queue
            try:
                fd = os.open(name, (OPEN_FLAGS | os.O_NOFOLLOW) if last else _DIR_STEP_FLAGS, dir_fd=cur)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                try:
                    target = os.readlink(name, dir_fd=cur)
                except OSError as link_exc:
                    if link_exc.errno == errno.EINVAL:  # not a symlink after all
                        raise exc from None
                    raise
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, "too many links") from None
                if target.startswith("/"):
                    raise OSError(errno.EXDEV, "absolute symlink") from None
                queue.extendleft(reversed(target.split("/")))
                continue
            if last:
                resolved = (*tuple(n for _, n in stack), name)
                try:
                    return Opened(fd, os.fstat(fd), resolved)
                except BaseException:
                    os.close(fd)
                    raise
            stack.append((fd, name))
    except OSError as exc:
        raise _error_for(exc.errno or 0) from None
    finally:
        for fd, _ in stack:
            os.close(fd)


def open_confined(dirfd: int, base: str, comps: Components, mode: OpenMode) -> Opened:
    """``open_beneath`` without the ``.git`` rule, for the sandbox's own reads of git metadata."""
    return _open_openat2(dirfd, base, comps) if mode == "openat2" else _open_walk(dirfd, comps)


def open_beneath(dirfd: int, base: str, comps: Components, mode: OpenMode) -> Opened:
    """Open ``comps`` beneath ``dirfd`` (whose real path is ``base``), never leaving it.

    Relative symlinks that stay beneath are followed; absolute symlinks, links that climb
    out, loops and magic links are refused with ``AccessDenied``. The result may be any file
    type: callers decide with ``st`` (nothing blocks, thanks to ``O_NONBLOCK``). A resolved
    path through ``.git`` is refused, whatever link led there.
    """
    opened = open_confined(dirfd, base, comps, mode)
    if ".git" in opened.resolved:
        os.close(opened.fd)
        raise AccessDenied("'.git' is never accessible")
    return opened


FileType = Literal["file", "directory", "symlink", "other"]


def file_type(st: os.stat_result) -> FileType:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"
