"""The sandbox: every file the assistant touches is opened through here, confined to a repo.

No HTTP and no model code lives here. See ``_open`` for the two confined-open
implementations (``openat2`` and the ``O_NOFOLLOW`` walk) and ``_paths`` for the path rule.
"""

from ._errors import AccessDenied, FileNotFound, Ignored, NotAFile, SandboxError
from ._open import open_beneath, openat2_available
from ._paths import Components, display_name
from ._repo import MAX_READ_BYTES, FileData, Listing, Repo, Roots, cut_utf8, list_directory, read_capped, walk_files

# what callers use: a repository is opened with Roots.open_repo (or resolved with Roots.resolve),
# read with Repo.read, listed with list_directory and walked with walk_files; no descriptor leaves
# the sandbox. open_beneath and openat2_available are for the tests of the two open paths.
__all__ = [
    "MAX_READ_BYTES",
    "AccessDenied",
    "Components",
    "FileData",
    "FileNotFound",
    "Ignored",
    "Listing",
    "NotAFile",
    "Repo",
    "Roots",
    "SandboxError",
    "cut_utf8",
    "display_name",
    "list_directory",
    "open_beneath",
    "openat2_available",
    "read_capped",
    "walk_files",
]
