"""The one path rule, applied to every path that comes in from outside."""

from __future__ import annotations

import re

from ._errors import AccessDenied, InvalidPath

MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255

_DRIVE = re.compile(r"^[A-Za-z]:")

Components = tuple[str, ...]


def _encoded(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise InvalidPath("path is not valid Unicode (lone surrogate)") from None


def split_components(path: str, repo_abspath: str) -> Components:
    """Validate a client path and return its components relative to the repo.

    Args:
        path: the path as the client sent it (no decoding or normalisation is applied).
        repo_abspath: the repo's resolved absolute path; an absolute ``path`` inside it is
            accepted as the same relative path.

    Raises:
        InvalidPath: NUL byte, backslash, drive form, path over 4,096 bytes or component
            over 255 bytes.
        AccessDenied: a ``..`` component, an absolute path outside the repo, ``.git``.
    """
    if "\x00" in path:
        raise InvalidPath("path contains a NUL byte")
    if "\\" in path:
        raise InvalidPath("path contains a backslash; use '/' to separate components")
    if _DRIVE.match(path):
        raise InvalidPath("drive-letter paths are not supported; give a path relative to the repo")
    if len(_encoded(path)) > MAX_PATH_BYTES:
        raise InvalidPath(f"path is longer than {MAX_PATH_BYTES} bytes")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    for part in parts:
        if len(_encoded(part)) > MAX_COMPONENT_BYTES:
            raise InvalidPath(f"a path component is longer than {MAX_COMPONENT_BYTES} bytes")
    if ".." in parts:
        raise AccessDenied("'..' is not allowed in paths; give a path inside the repository")
    if path.startswith("/"):
        base = [p for p in repo_abspath.split("/") if p]
        if parts[: len(base)] != base:
            raise AccessDenied("absolute path is outside the repository")
        parts = parts[len(base) :]
    if ".git" in parts:
        raise AccessDenied("'.git' is never accessible")
    return tuple(parts)


def display_name(name: str) -> tuple[str, bool]:
    """Return a printable form of a file name and whether it was not valid UTF-8.

    Names come from the OS as ``str`` with surrogate escapes for undecodable bytes; those
    bytes are shown as ``\\xNN`` (display only: such a name cannot be opened through the API).
    """
    raw = name.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), True


def join(components: Components) -> str:
    return "/".join(components)
