"""The sandbox: every file the assistant touches is opened through here, confined to a repo.

No HTTP and no model code lives here. See ``_open`` for the two confined-open
implementations (``openat2`` and the ``O_NOFOLLOW`` walk) and ``_paths`` for the path rule.
"""

from ._errors import (
    AccessDenied,
    FileNotFound,
    InvalidPath,
    NotAFile,
    RepoPathInvalid,
    RepoPathNotFound,
    SandboxError,
)
from ._ignore import IgnoreChain, IgnoreRules, IgnoreView, global_excludes_file
from ._open import Opened, OpenMode, default_mode, file_type, open_beneath, openat2_available
from ._paths import MAX_COMPONENT_BYTES, MAX_PATH_BYTES, Components, display_name, split_components
from ._repo import (
    BINARY_PROBE,
    MAX_READ_BYTES,
    Entry,
    FileData,
    Listing,
    Repo,
    Root,
    Roots,
    check_file,
    cut_utf8,
    list_directory,
    open_file,
    read_capped,
    read_opened,
    walk_files,
)

__all__ = [
    "BINARY_PROBE",
    "MAX_COMPONENT_BYTES",
    "MAX_PATH_BYTES",
    "MAX_READ_BYTES",
    "AccessDenied",
    "Components",
    "Entry",
    "FileData",
    "FileNotFound",
    "IgnoreChain",
    "IgnoreRules",
    "IgnoreView",
    "InvalidPath",
    "Listing",
    "NotAFile",
    "OpenMode",
    "Opened",
    "Repo",
    "RepoPathInvalid",
    "RepoPathNotFound",
    "Root",
    "Roots",
    "SandboxError",
    "check_file",
    "cut_utf8",
    "default_mode",
    "display_name",
    "file_type",
    "global_excludes_file",
    "list_directory",
    "open_beneath",
    "open_file",
    "openat2_available",
    "read_capped",
    "read_opened",
    "split_components",
    "walk_files",
]
