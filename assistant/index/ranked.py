"""The ranked-search index of one repository: one tantivy document per file, kept on disk under
the cache directory beside the tags cache and kept current with the rest of the index.

A document's fields (weights in ``FIELDS``): the path, the names the file defines and the names
it references (from the tree-sitter tags), and the body; the path and names both split
(``parts``, stemmed) and whole (``ident``, ``whole``), the body as words (``words``: an
identifier without ``_`` is a word there, and one with ``_`` is whole among the names); see
``tokens``. Files rank whole (BM25 over these fields, summed with the weights); ``chunks`` then
picks the parts of a file a person reads. Measured on the localization questions, files ranked
whole found a right file in the first five more often than definition-sized documents (0.795
against 0.76, same fields).

Identity: each file's (mtime, size) at the time it was indexed is kept in a small state file
written after each commit, so a restart re-indexes only files that changed; a file listed
there with another identity, or indexed but missing there, is simply indexed again (a document
is always deleted by its path before it is added).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import tantivy

from .tags import NO_TAGS
from .tokens import analyzers, body_text, identifier_text, name_words, stem_of

if TYPE_CHECKING:
    from .records import FileRecord

log = logging.getLogger("assistant.index")

VERSION = 1
# field -> (analyzer, weight); the same words count in the whole-identifier twin of a field (a
# whole identifier in the body is a word of it)
FIELDS: dict[str, tuple[str, float]] = {
    "path": ("parts", 3.0),
    "path_id": ("ident", 3.0),
    "name": ("parts", 3.0),
    "name_id": ("ident", 3.0),
    "refs_id": ("whole", 0.5),
    "body": ("words", 1.0),
}
PART_FIELDS = ("path", "name", "body")
IDENT_FIELDS = ("path_id", "name_id", "refs_id", "body")
# the endings a stem takes in the bodies' words that are looked up (each kept only if the
# stemmer gives it back the same stem)
ENDINGS = (
    "s", "es", "e", "ed", "ing", "er", "ers", "ion", "ions", "ation", "ations", "ment", "ments", "y", "ies",
    "ied", "ly", "ity", "able", "al", "ive", "ize", "ized", "ise", "ised", "ence", "ance", "ent", "ant",
)  # fmt: skip
MAX_TERMS = 64  # a long query (a pasted issue) keeps its rarest terms
COMMIT_EVERY = 2.0  # seconds between commits while a build adds files
BUILD_HEAP = 64 * 1024 * 1024  # the writer's memory while building (released after)
UPDATE_HEAP = 16 * 1024 * 1024


class _State(msgspec.Struct):
    version: int
    files: dict[str, tuple[int, int]]  # path -> (mtime_ns, size) as indexed


def file_id(path: str) -> int:
    """A file's number in the index: stable across restarts, from its path."""
    return int.from_bytes(hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name, (analyzer, _) in FIELDS.items():
        builder.add_text_field(name, tokenizer_name=analyzer, index_option="freq")
    builder.add_text_field("key", tokenizer_name="raw", index_option="basic")
    builder.add_unsigned_field("fid", fast=True)
    return builder.build()


class RankedIndex:
    """The tantivy index of one repository. Writes happen under the owner's lock (the index
    data's); searches read the last committed state from any thread."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._writer_lock = threading.Lock()
        self.indexed: dict[str, tuple[int, int]] = {}  # committed or pending, as (mtime_ns, size)
        self.paths: dict[int, str] = {}  # file id -> path
        self._dirty = False
        self._last_commit = time.monotonic()
        self.failed = False  # the index cannot be written (searches use what it holds)
        self.building = False  # a build is adding every file: a larger writer

    # -- opening ---------------------------------------------------------------------------

    def open(self) -> None:
        """Open the index on disk (or make a new one; in memory without a directory)."""
        if self.directory is None:
            self._index = self._make(None)
            return
        state = self._load_state()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._index = self._make(str(self.directory))
        except (OSError, ValueError) as exc:
            log.warning("the ranked index in %s cannot be opened (%s); rebuilding it", self.directory, exc)
            shutil.rmtree(self.directory, ignore_errors=True)
            state = {}
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._index = self._make(str(self.directory))
            except (OSError, ValueError) as exc2:
                log.warning("the ranked index cannot be kept on disk (%s); it is kept in memory", exc2)
                self.directory = None
                self._index = self._make(None)
        self.indexed = state
        self.paths = {file_id(p): p for p in state}

    def _make(self, path: str | None) -> tantivy.Index:
        index = tantivy.Index(_schema(), path=path, reuse=True) if path else tantivy.Index(_schema())
        for name, analyzer in analyzers().items():
            index.register_tokenizer(name, analyzer)
        return index

    def _state_file(self) -> Path | None:
        return self.directory / "files.msgpack" if self.directory is not None else None

    def _load_state(self) -> dict[str, tuple[int, int]]:
        state_file = self._state_file()
        if state_file is None:
            return {}
        try:
            state = msgspec.msgpack.decode(state_file.read_bytes(), type=_State)
        except FileNotFoundError:
            return {}
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("the ranked index's file list %s is unreadable (%s); re-indexing every file", state_file, exc)
            return {}
        return state.files if state.version == VERSION else {}

    def _save_state(self) -> None:
        state_file = self._state_file()
        if state_file is None:
            return
        data = msgspec.msgpack.encode(_State(VERSION, self.indexed))
        fd, tmp = tempfile.mkstemp(dir=state_file.parent, prefix=state_file.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, state_file)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            log.warning("cannot write the ranked index's file list %s: %s", state_file, exc)

    # -- writing ---------------------------------------------------------------------------

    def current(self, path: str, record: FileRecord) -> bool:
        """Whether ``path`` is indexed as it is now."""
        return self.indexed.get(path) == (record.mtime_ns, record.size)

    def _write(self) -> tantivy.IndexWriter | None:
        if self._writer is None and self._index is not None and not self.failed:
            # one indexing thread: while building, the parser processes use the cores
            heap = BUILD_HEAP if self.building else UPDATE_HEAP
            try:
                self._writer = self._index.writer(heap_size=heap, num_threads=1)
            except ValueError as exc:  # another process holds the index's lock
                log.warning("the ranked index cannot be written (%s); ranked search uses what it holds", exc)
                self.failed = True
        return self._writer

    def put(self, path: str, record: FileRecord) -> None:
        """Index (or re-index) a file with its tags."""
        writer = self._write()
        if writer is None:
            return
        tags = record.tags or NO_TAGS
        names = " ".join(tags.definition_names())
        refs = " ".join(tags.referenced_names())
        doc = tantivy.Document()
        doc.add_text("path", name_words(path))
        doc.add_text("path_id", identifier_text(path.encode("utf-8", "replace")))
        doc.add_text("name", name_words(names))
        doc.add_text("name_id", names)
        doc.add_text("refs_id", refs)
        if not record.minified:  # a minified or generated file is found by its path and names
            body = body_text(record.text)
            doc.add_text("body", body)
        doc.add_text("key", path)
        fid = file_id(path)
        doc.add_unsigned("fid", fid)
        if path in self.indexed:
            writer.delete_documents_by_term("key", path)
        writer.add_document(doc)
        self.indexed[path] = (record.mtime_ns, record.size)
        self.paths[fid] = path
        self._dirty = True

    def remove(self, path: str) -> None:
        if path not in self.indexed:
            return
        writer = self._write()
        if writer is None:
            return
        writer.delete_documents_by_term("key", path)
        del self.indexed[path]
        self.paths.pop(file_id(path), None)
        self._dirty = True

    def commit(self, *, due: bool = False, final: bool = False) -> None:
        """Make what was written visible to searches. ``due``: only if ``COMMIT_EVERY`` has
        passed since the last commit (a build's periodic commit); ``final``: then release the
        writer and its memory (after a build or a batch of changes)."""
        if due and time.monotonic() - self._last_commit < COMMIT_EVERY:
            return
        writer = self._writer
        if writer is None or self._index is None:
            return
        if self._dirty:
            try:
                writer.commit()
            except ValueError as exc:
                log.warning("the ranked index could not be committed (%s)", exc)
                self.failed = True
            self._index.reload()
            self._dirty = False
            self._last_commit = time.monotonic()
            self._save_state()
        if final:
            self._writer = None
            with contextlib.suppress(ValueError):
                writer.wait_merging_threads()

    def close(self) -> None:
        self.commit(final=True)

    # -- reading ---------------------------------------------------------------------------

    def variants(self, words: dict[str, str]) -> dict[str, list[str]]:
        """For each stem (of the query's word, ``words``: stem -> word), the words of the bodies
        that share it: the body is indexed unstemmed (stemming every word of every file was a
        third of the ranked index's build time), so a stemmed query term is matched on the forms
        it has there."""
        index = self._index
        if index is None:
            return {stem: [] for stem in words}
        searcher = index.searcher()
        found: dict[str, list[str]] = {}
        for stem, word in words.items():
            candidates = dict.fromkeys([word, stem, *(stem + ending for ending in ENDINGS)])
            found[stem] = [c for c in candidates if searcher.doc_freq("body", c) and (c == word or stem_of(c) == stem)]
        return found

    def search(
        self,
        part_terms: list[str],
        ident_terms: list[str],
        variants: dict[str, list[str]],
        limit: int,
        keep: frozenset[str] = frozenset(),
    ) -> tuple[list[tuple[str, float]], int]:
        """Files by BM25 over the weighted fields, best first, as (path, score); and how many
        files matched in all. ``variants``: each part term's forms in the bodies; ``keep``: the
        terms a long query keeps whatever their rarity (its first line's)."""
        index = self._index
        if index is None:
            return [], 0
        searcher = index.searcher()
        part_terms, ident_terms = _rarest(searcher, part_terms, ident_terms, keep)
        schema = index.schema
        should = tantivy.Occur.Should
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for terms, fields in ((part_terms, PART_FIELDS), (ident_terms, IDENT_FIELDS)):
            for term in terms:
                for field in fields:
                    if field == "body" and terms is ident_terms and "_" in term:
                        continue  # the body has its words (the part terms), not it whole
                    if field == "body" and terms is part_terms:
                        forms = variants.get(term, [])
                        if not forms:
                            continue
                        one = [tantivy.Query.term_query(schema, field, form) for form in forms]
                        query = one[0] if len(one) == 1 else tantivy.Query.disjunction_max_query(one)
                    else:
                        query = tantivy.Query.term_query(schema, field, term)
                    clauses.append((should, tantivy.Query.boost_query(query, FIELDS[field][1])))
        if not clauses:
            return [], 0
        result = searcher.search(tantivy.Query.boolean_query(clauses), limit=limit, count=True)
        fids = searcher.fast_field_values("fid", [address for _, address in result.hits])
        found: list[tuple[str, float]] = []
        for (score, _), fid in zip(result.hits, fids, strict=True):
            path = self.paths.get(int(fid)) if fid is not None else None
            if path is not None:
                found.append((path, float(score)))
        return found, int(getattr(result, "count", 0) or 0)

    def weights(
        self, part_terms: list[str], ident_terms: list[str], variants: dict[str, list[str]]
    ) -> dict[str, float]:
        """Each term's inverse document frequency over the files' bodies (how rare it is; a
        part term by its most common form)."""
        index = self._index
        if index is None:
            return {}
        searcher = index.searcher()
        files = max(1, searcher.num_docs)
        weights: dict[str, float] = {}
        for term in part_terms:
            df = max((searcher.doc_freq("body", form) for form in variants.get(term, ())), default=0)
            weights.setdefault(term, math.log(1 + (files - df + 0.5) / (df + 0.5)))
        for term in ident_terms:
            df = _ident_df(searcher, term)
            weights.setdefault(term, math.log(1 + (files - df + 0.5) / (df + 0.5)))
        return weights


def _ident_df(searcher: tantivy.Searcher, term: str) -> int:
    """In how many files a whole identifier is: in the bodies when it is one word (a word is
    its own identifier there), else among the names the files define or reference (an
    identifier with ``_`` is in the bodies only as its words)."""
    if "_" not in term:
        return int(searcher.doc_freq("body", term))
    return max(int(searcher.doc_freq("name_id", term)), int(searcher.doc_freq("refs_id", term)))


def _rarest(
    searcher: tantivy.Searcher, part_terms: list[str], ident_terms: list[str], keep: frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """At most ``MAX_TERMS`` terms in all: those in ``keep`` (a pasted text's first line: its
    title says what it is about), then the rarest in the body that some file has (a long pasted
    text keeps what distinguishes it; a short question keeps every term)."""
    if len(part_terms) + len(ident_terms) <= MAX_TERMS:
        return part_terms, ident_terms
    scored = [(t not in keep, searcher.doc_freq("body", t), 0, t) for t in part_terms]
    scored += [(t not in keep, _ident_df(searcher, t), 1, t) for t in ident_terms]
    # a term in no file matches nothing: it must not take the place of one that does (a pasted
    # log's ids and hashes are the rarest terms of all)
    scored = [item for item in scored if item[1] or not item[0]]
    scored.sort()
    kept = scored[:MAX_TERMS]
    return [t for _, _, kind, t in kept if kind == 0], [t for _, _, kind, t in kept if kind == 1]
