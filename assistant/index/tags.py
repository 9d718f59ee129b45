"""Tags: definitions and references extracted from one file with its tags query.

Runs in parser processes too (``serve``, started by ``pool``): everything here is plain data
in, plain data out, and importing it pulls in only tree-sitter and msgspec.
"""

from __future__ import annotations

import gc
import sys
from array import array
from collections.abc import Iterable, Sequence
from operator import itemgetter

import msgspec
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from .languages import DEFINED_NAME, REFERENCED_NAME, tags_query

_CLASS_LIKE = ("class", "impl_item", "trait_item", "interface", "struct")


class Tag(msgspec.Struct, array_like=True, gc=False):
    """One definition, or one reference at one line (lines are 1-based and inclusive): what
    a symbol search finds. A definition's first line is not stored: the index holds the
    file's text, and search results read it there.

    The structs here are ones the garbage collector does not track (they hold only strings,
    ints and tuples of them): a large repository has hundreds of thousands of tags, and
    tracking them made the collector's passes a large part of loading them.
    """

    name: str
    kind: str  # function, method, class, … for definitions; call, class, type, … for references
    is_definition: bool
    line: int
    end_line: int


class References(msgspec.Struct, array_like=True, gc=False):
    """Every reference of one name and kind in one file: the lines the name is on.

    Most tags are references, and most names are referenced many times in a file, so they
    are kept per name (a fifth as many objects to build, send, decode and cache), and their
    lines packed four bytes each (a tuple of Python ints took ten times the memory)."""

    name: str
    kind: str
    packed: bytes  # the lines, ascending, each once, as native unsigned 32-bit integers

    @classmethod
    def of(cls, name: str, kind: str, lines: Iterable[int]) -> References:
        return cls(name, kind, array("I", lines).tobytes())

    @property
    def lines(self) -> Sequence[int]:
        return memoryview(self.packed).cast("I")

    @property
    def count(self) -> int:
        """How many lines reference the name."""
        return len(self.packed) // 4


class FileTags(msgspec.Struct, array_like=True, gc=False):
    """A file's tags, each part sorted by name (the symbol table bisects them)."""

    definitions: tuple[Tag, ...]  # by name, then line
    references: tuple[References, ...]

    def every(self) -> tuple[Tag, ...]:
        """Definitions and each reference as a ``Tag``, sorted by name and line."""
        refs = (Tag(r.name, r.kind, False, line, line) for r in self.references for line in r.lines)
        return tuple(sorted((*self.definitions, *refs), key=lambda t: (t.name, t.line)))


NO_TAGS = FileTags((), ())
RawTag = tuple[str, str, bool, int, int]
RawRefs = tuple[str, str, bytes]

_by_name_line = itemgetter(0, 3)
_by_name_kind = itemgetter(0, 1)
_parsers: dict[str, Parser] = {}
_label_order: dict[str, tuple[str, ...]] = {}
_class_kinds: dict[str, frozenset[int]] = {}  # language -> ids of its class-like node kinds


def _classes(language: str, grammar: Language) -> frozenset[int]:
    kinds = _class_kinds.get(language)
    if kinds is None:
        kinds = _class_kinds[language] = frozenset(
            kind
            for kind in range(grammar.node_kind_count)
            if any(word in (grammar.node_kind_for_id(kind) or "") for word in _CLASS_LIKE)
        )
    return kinds


def _labels(language: str, query: Query) -> tuple[str, ...]:
    """The query's captures in the order ``_extract_raw`` reads them: a node captured as two
    kinds of definition keeps the first, and ``function`` comes first (Rust's query also calls
    every function in a ``{ … }`` list a method, in a ``mod`` too; whether a function is a
    method is decided by its enclosing class, the same way for every language)."""
    labels = _label_order.get(language)
    if labels is None:
        names = [query.capture_name(i) for i in range(query.capture_count)]
        labels = _label_order[language] = tuple(
            sorted((n for n in names if n != DEFINED_NAME), key=lambda n: n != "definition.function")
        )
    return labels


def extract(language: str, source: bytes) -> FileTags:
    """Parse ``source`` and run the language's tags query over it."""
    definitions, references = _extract_raw(language, source)
    return FileTags(tuple(Tag(*d) for d in definitions), tuple(References(n, k, lines) for n, k, lines in references))


def _extract_raw(language: str, source: bytes) -> tuple[list[RawTag], list[RawRefs]]:
    """``extract`` as plain tuples and lists (what parser processes encode: cheaper to build
    than structs, and encoded the same).

    One pass of the language's tags query (``tags_query``: captures by role, unused ones not
    recorded) gives lists of nodes: a reference costs a slice and a position; a definition's
    name is paired with the nearest enclosing node its pattern captured as a definition.
    Class-likeness is a set lookup of node kind ids.
    """
    grammar, query = tags_query(language)
    parser = _parsers.get(language)
    if parser is None:
        parser = _parsers[language] = Parser(grammar)
    root_node = parser.parse(source).root_node
    captured = QueryCursor(query).captures(root_node)
    grouped: list[RawRefs] = []
    defined: dict[int, tuple[str, Node]] = {}  # node id -> (kind, node), the first kind captured
    for label in _labels(language, query):
        nodes = captured.get(label)
        if not nodes:
            continue
        if label.startswith(REFERENCED_NAME):
            kind = label[len(REFERENCED_NAME) :]
            rows: dict[bytes, list[int]] = {}  # a name's bytes -> its rows (0-based)
            for node in nodes:
                start, end = node.byte_range
                spelled = source[start:end]
                lines = rows.get(spelled)
                if lines is None:
                    rows[spelled] = [node.start_point[0]]
                else:
                    lines.append(node.start_point[0])
            for spelled, lines in rows.items():
                if spelled:
                    name = spelled.decode("utf-8", "replace")
                    grouped.append((name, kind, array("I", sorted({row + 1 for row in lines})).tobytes()))
        elif label.startswith("definition."):
            kind = label[11:]
            for node in nodes:
                defined.setdefault(node.id, (kind, node))
    definitions: list[RawTag] = []
    if defined:
        root = root_node.kind_id
        classes = _classes(language, grammar)
        seen: set[tuple[str, int]] = set()
        for name_node in captured.get(DEFINED_NAME, ()):
            name = source[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace")
            found: Node | None = name_node
            while found is not None and found.id not in defined:
                found = found.parent
            if not name or found is None:
                continue
            kind, node = defined[found.id]
            row = node.start_point[0] + 1
            if (name, row) in seen:  # each name and line once (patterns can overlap)
                continue
            seen.add((name, row))
            if kind == "function":  # a function within a class (up to 3 levels up) is a method
                parent = node.parent
                for _ in range(3):
                    if parent is None or parent.kind_id == root:
                        break
                    if parent.kind_id in classes:
                        kind = "method"
                        break
                    parent = parent.parent
            definitions.append((name, kind, True, row, node.end_point[0] + 1))
    definitions.sort(key=_by_name_line)
    grouped.sort(key=_by_name_kind)
    return definitions, grouped


Batch = list[tuple[str, str, bytes]]  # (path, language, source) items for a parser process
BatchResult = list[tuple[str, FileTags]]
_batch_decoder = msgspec.msgpack.Decoder(Batch)
_result_encoder = msgspec.msgpack.Encoder()
_result_decoder = msgspec.msgpack.Decoder(BatchResult)


def extract_batch(batch: Batch) -> bytes:
    """Tag every file of a batch: encoded ``(path, tags)`` out, decoded by ``decode_batch``
    straight into ``FileTags`` structs (far cheaper for the receiving process than unpickling)."""
    out: list[tuple[str, tuple[list[RawTag], list[RawRefs]]]] = []
    for path, language, source in batch:
        try:
            tags = _extract_raw(language, source)
        except Exception:  # a grammar error on one odd file must not lose the batch
            tags = ([], [])
        out.append((path, tags))
    return _result_encoder.encode(out)


def decode_batch(data: bytes) -> BatchResult:
    decoded = _result_decoder.decode(data)
    for _, tags in decoded:
        share_names(tags)
    return decoded


def share_names(tags: FileTags) -> None:
    """Make every name and kind the one shared string of that spelling (decoding makes a new
    string for each: the names of a repository repeat across its files)."""
    intern = sys.intern
    for tag in tags.definitions:
        tag.name = intern(tag.name)
        tag.kind = intern(tag.kind)
    for refs in tags.references:
        refs.name = intern(refs.name)
        refs.kind = intern(refs.kind)


def serve(read_fd: int, write_fd: int) -> None:
    """A parser process's main loop (see ``pool``): length-prefixed msgpack batches in on
    ``read_fd``, their encoded tags out on ``write_fd``, until end of input.

    The cyclic garbage collector is off: this process only makes acyclic data (tuples,
    strings, nodes) that reference counting frees, so its passes would be pure overhead."""
    gc.disable()
    with open(read_fd, "rb") as down, open(write_fd, "wb") as up:
        while len(header := down.read(4)) == 4:
            body = down.read(int.from_bytes(header, "little"))
            result = extract_batch(_batch_decoder.decode(body))
            up.write(len(result).to_bytes(4, "little"))
            up.write(result)
            up.flush()
