"""Errors raised by the sandbox.

Hierarchy::

    SandboxError                 base; ``code`` is the API error code it maps to
    ├── InvalidPath              invalid_parameter: NUL, backslash, drive form, over-long
    ├── AccessDenied             access_denied: ``..``, outside the repo, ``.git``, escaping link
    │   └── Ignored              a git-ignored path
    ├── FileNotFound             file_not_found
    ├── NotAFile                 not_a_file: directory, FIFO, socket or device where a file was needed
    ├── RepoPathInvalid          repo_path_invalid: not absolute, or not a directory
    └── RepoPathNotFound         repo_path_not_found: inside an allowed root but missing

``subject`` says which input was at fault (``"path"`` or ``"repo"``), so the HTTP layer can
name the parameter in the client's own spelling. Messages are shown to users: they say what
was wrong and what is allowed.
"""

from __future__ import annotations

from typing import Literal

Subject = Literal["path", "repo"]


class SandboxError(Exception):
    """Base class: a request the sandbox refuses or cannot satisfy."""

    code = "access_denied"

    def __init__(self, message: str, *, subject: Subject = "path") -> None:
        super().__init__(message)
        self.message = message
        self.subject: Subject = subject

    @property
    def param(self) -> str:
        """The input at fault, as the API names it unless an endpoint spells it otherwise."""
        return self.subject


class InvalidPath(SandboxError):
    code = "invalid_parameter"


class AccessDenied(SandboxError):
    code = "access_denied"


class Ignored(AccessDenied):
    """The path is git-ignored (and ignored paths were not asked for)."""


class FileNotFound(SandboxError):
    code = "file_not_found"


class NotAFile(SandboxError):
    code = "not_a_file"

    def __init__(self, message: str, *, subject: Subject = "path", directory: bool = False) -> None:
        super().__init__(message, subject=subject)
        self.directory = directory  # a directory (which can be listed) rather than a FIFO, socket or device


class RepoPathInvalid(SandboxError):
    code = "repo_path_invalid"


class RepoPathNotFound(SandboxError):
    code = "repo_path_not_found"
