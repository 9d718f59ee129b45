"""The tree-sitter code index.

Life cycle of one repository's index (``RepoIndex``): on first use a background thread walks
the repository through the sandbox (git-ignored, binary and over-1-MiB files skipped), keeps
every file's text in memory, reuses the cached tags of files whose (mtime, size) did not
change, and parses the rest on every core. The tags are cached on disk (``store``). inotify
(``watch``) reports every later change, which is applied before the next search.
"""

from .languages import EXTENSIONS, LANGUAGES, language_for
from .repo_index import MAX_FILE_BYTES, FileRecord, RepoIndex
from .search import MAX_LIMIT, MODES, IndexManager, SearchResult, path_filter, search_index
from .tags import Tag, extract

__all__ = [
    "EXTENSIONS",
    "LANGUAGES",
    "MAX_FILE_BYTES",
    "MAX_LIMIT",
    "MODES",
    "FileRecord",
    "IndexManager",
    "RepoIndex",
    "SearchResult",
    "Tag",
    "extract",
    "language_for",
    "path_filter",
    "search_index",
]
