"""The tree-sitter code index.

Life cycle of one repository's index (``RepoIndex``): on first use a background thread walks
the repository through the sandbox (git-ignored, binary and over-1-MiB files skipped), keeps
every file's text in memory, reuses the cached tags of files whose (mtime, size) did not
change, and parses the rest on every core. The tags are cached on disk (``store``). inotify
(``watch``) reports every later change, which is applied before the next search.

The names below are imported on first use: a parser worker process imports
``assistant.index.tags``, and with it this package, and should not pay for the sandbox,
RE2 and the rest of the server it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .languages import EXTENSIONS, LANGUAGES, language_for
    from .manager import IndexManager, IndexView
    from .repo_index import MAX_FILE_BYTES, FileRecord, RepoIndex
    from .search import (
        DEADLINE_SECONDS,
        MAX_LIMIT,
        MAX_QUERY_BYTES,
        MODES,
        SearchQuery,
        SearchResult,
        path_filter,
        run_search,
        search_index,
    )
    from .tags import Tag, extract
    from .text import QueryError

_WHERE = {
    "EXTENSIONS": "languages",
    "LANGUAGES": "languages",
    "language_for": "languages",
    "MAX_FILE_BYTES": "repo_index",
    "FileRecord": "repo_index",
    "RepoIndex": "repo_index",
    "DEADLINE_SECONDS": "search",
    "MAX_LIMIT": "search",
    "MAX_QUERY_BYTES": "search",
    "MODES": "search",
    "IndexManager": "manager",
    "IndexView": "manager",
    "QueryError": "text",
    "SearchResult": "search",
    "path_filter": "search",
    "search_index": "search",
    "run_search": "search",
    "SearchQuery": "search",
    "Tag": "tags",
    "extract": "tags",
}

__all__ = [
    "DEADLINE_SECONDS",
    "EXTENSIONS",
    "LANGUAGES",
    "MAX_FILE_BYTES",
    "MAX_LIMIT",
    "MAX_QUERY_BYTES",
    "MODES",
    "FileRecord",
    "IndexManager",
    "IndexView",
    "QueryError",
    "RepoIndex",
    "SearchQuery",
    "SearchResult",
    "Tag",
    "extract",
    "language_for",
    "path_filter",
    "run_search",
    "search_index",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
