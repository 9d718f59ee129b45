"""Tags: definitions and references extracted from one file with its tags query.

Runs in parser processes too (``serve``, started by ``pool``): everything here is plain data
in, plain data out, and importing it pulls in only tree-sitter and msgspec.
"""

from __future__ import annotations

import bisect
import sys
from array import array
from collections.abc import Sequence
from operator import itemgetter

import msgspec
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from assistant import procs

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


_name_then_line = itemgetter(0, 2)
_name_then_kind = itemgetter(0, 1)
_DEF = 4  # a packed definition: name index, kind index, first line, last line
_REF = 3  # a packed reference group: name index, kind index, end of its lines in ``reference_lines``


def _ints(packed: bytes, wide: bool) -> Sequence[int]:
    return memoryview(packed).cast("I" if wide else "H")


def _run(packed: Sequence[int], stride: int, name: int) -> range:
    """The records (``stride`` integers each, sorted by their first, the name index) of one name."""
    low, high = 0, len(packed) // stride
    while low < high:
        middle = (low + high) // 2
        if packed[middle * stride] < name:
            low = middle + 1
        else:
            high = middle
    end = low
    while end * stride < len(packed) and packed[end * stride] == name:
        end += 1
    return range(low, end)


class FileTags(msgspec.Struct, array_like=True, gc=False):
    """A file's tags, packed: its names once each, and its definitions and references as
    integers that point at them, 16-bit (32-bit in a file with 65,536 lines or names or more).
    ``Tag``s are made only for what a search or a layout reads. (As a struct per tag, the tags
    of the standard library took 18 MB, more than half its text; packed they take a sixth of
    that, and cost less to decode and to cache.)

    References are grouped by name and kind (most names are referenced many times in a file);
    their lines are ascending and each once within a group."""

    names: tuple[str, ...]  # every name tagged in the file, each once, sorted
    kinds: tuple[str, ...]  # the kinds of its tags, each once
    packed_definitions: bytes  # _DEF integers each, by name index, then line
    packed_references: bytes  # _REF integers each, by name index, then kind index
    reference_lines: bytes
    wide: bool = False  # 32-bit integers

    @classmethod
    def pack(
        cls, definitions: list[tuple[str, str, int, int]], references: list[tuple[str, str, list[int]]]
    ) -> FileTags:
        """From (name, kind, line, end_line) definitions and (name, kind, lines) references
        (sorted here, in place: strings sort as their indexes into sorted ``names`` do)."""
        names = sorted({d[0] for d in definitions}.union([r[0] for r in references]))
        kinds = sorted({d[1] for d in definitions}.union([r[1] for r in references]))
        name_at = {name: i for i, name in enumerate(names)}
        kind_at = {kind: i for i, kind in enumerate(kinds)}
        definitions.sort(key=_name_then_line)
        defined: list[int] = []
        for name, kind, line, end_line in definitions:
            defined += (name_at[name], kind_at[kind], line, end_line)
        references.sort(key=_name_then_kind)
        referenced: list[int] = []
        lines: list[int] = []
        for name, kind, rows in references:
            lines += sorted(set(rows))
            referenced += (name_at[name], kind_at[kind], len(lines))
        wide = max(max(defined, default=0), max(referenced, default=0), max(lines, default=0)) > 0xFFFF
        code = "I" if wide else "H"
        return cls(
            tuple(names), tuple(kinds), array(code, defined).tobytes(), array(code, referenced).tobytes(),
            array(code, lines).tobytes(), wide,
        )  # fmt: skip

    def _definitions(self) -> Sequence[int]:
        return _ints(self.packed_definitions, self.wide)

    def _references(self) -> Sequence[int]:
        return _ints(self.packed_references, self.wide)

    @property
    def definition_count(self) -> int:
        return len(self._definitions()) // _DEF

    @property
    def definitions(self) -> tuple[Tag, ...]:
        """Every definition, by name then line."""
        packed, names, kinds = self._definitions(), self.names, self.kinds
        return tuple(
            Tag(names[packed[i]], kinds[packed[i + 1]], True, packed[i + 2], packed[i + 3])
            for i in range(0, len(packed), _DEF)
        )

    def definition_names(self) -> list[str]:
        """The name of each definition (a name defined twice is there twice)."""
        packed, names = self._definitions(), self.names
        return [names[packed[i]] for i in range(0, len(packed), _DEF)]

    def defined_names(self) -> set[str]:
        return set(self.definition_names())

    def referenced_names(self) -> list[str]:
        """The name of each (name, kind) referenced (a name referenced as two kinds is there twice)."""
        packed, names = self._references(), self.names
        return [names[packed[i]] for i in range(0, len(packed), _REF)]

    def reference_counts(self) -> list[tuple[str, int]]:
        """(name, how many lines reference it) for each (name, kind) referenced."""
        packed, names = self._references(), self.names
        ends = list(packed[2::_REF])
        starts = [0, *ends[:-1]] if ends else []
        return [(names[packed[i * _REF]], end - start) for i, (start, end) in enumerate(zip(starts, ends, strict=True))]

    def _index(self, name: str) -> int:
        at = bisect.bisect_left(self.names, name)
        return at if at < len(self.names) and self.names[at] == name else -1

    def defines(self, name: str) -> bool:
        at = self._index(name)
        return at >= 0 and bool(_run(self._definitions(), _DEF, at))

    def named(self, name: str) -> list[Tag]:
        """The definitions of ``name``, then each line that references it."""
        at = self._index(name)
        if at < 0:
            return []
        packed = self._definitions()
        found = [
            Tag(name, self.kinds[packed[r * _DEF + 1]], True, packed[r * _DEF + 2], packed[r * _DEF + 3])
            for r in _run(packed, _DEF, at)
        ]
        groups = self._references()
        lines = _ints(self.reference_lines, self.wide)
        for r in _run(groups, _REF, at):
            start = groups[(r - 1) * _REF + 2] if r else 0
            kind = self.kinds[groups[r * _REF + 1]]
            found.extend(Tag(name, kind, False, line, line) for line in lines[start : groups[r * _REF + 2]])
        return found

    def every(self) -> tuple[Tag, ...]:
        """Definitions and each reference as a ``Tag``, sorted by name and line."""
        found = [tag for name in self.names for tag in self.named(name)]
        return tuple(sorted(found, key=lambda t: (t.name, t.line)))


NO_TAGS = FileTags((), (), b"", b"", b"")
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
    """The query's captures in the order ``extract`` reads them: a node captured as two
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
    """Parse ``source`` and run the language's tags query over it.

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
    references: list[tuple[str, str, list[int]]] = []
    # node id -> (rank, kind, node): the first kind it was captured as (rank: that capture's
    # place in ``_labels``)
    defined: dict[int, tuple[int, str, Node]] = {}
    for rank, label in enumerate(_labels(language, query)):
        nodes = captured.get(label)
        if not nodes:
            continue
        if label.startswith(REFERENCED_NAME):
            kind = label[len(REFERENCED_NAME) :]
            lines_of: dict[bytes, list[int]] = {}  # a name's bytes -> the lines it is on
            for node in nodes:
                start, end = node.byte_range
                spelled = source[start:end]
                lines = lines_of.get(spelled)
                if lines is None:
                    lines_of[spelled] = [node.start_point[0] + 1]
                else:
                    lines.append(node.start_point[0] + 1)
            for spelled, lines in lines_of.items():
                if spelled:
                    references.append((spelled.decode("utf-8", "replace"), kind, lines))
        elif label.startswith("definition."):
            kind = label[11:]
            for node in nodes:
                defined.setdefault(node.id, (rank, kind, node))
    # (name, first line) -> (rank, kind, last line): one definition a name and line (a
    # ``typedef struct X {…} X;`` is a struct and a type at one line: the kind whose pattern
    # comes first in the query, as it would be read, wins)
    chosen: dict[tuple[str, int], tuple[int, str, int]] = {}
    if defined:
        root = root_node.kind_id
        classes = _classes(language, grammar)
        for name_node in captured.get(DEFINED_NAME, ()):
            name = source[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace")
            found: Node | None = name_node
            while found is not None and found.id not in defined:
                found = found.parent
            if not name or found is None:
                continue
            rank, kind, node = defined[found.id]
            row = node.start_point[0] + 1
            earlier = chosen.get((name, row))
            if earlier is not None and earlier[0] <= rank:
                continue
            if kind == "function":  # a function within a class (up to 3 levels up) is a method
                parent = node.parent
                for _ in range(3):
                    if parent is None or parent.kind_id == root:
                        break
                    if parent.kind_id in classes:
                        kind = "method"
                        break
                    parent = parent.parent
            chosen[name, row] = (rank, kind, node.end_point[0] + 1)
    definitions = [(name, kind, row, end) for (name, row), (_, kind, end) in chosen.items()]
    return FileTags.pack(definitions, references)


Batch = list[tuple[str, str, bytes]]  # (path, language, source) items for a parser process
BatchResult = list[tuple[str, FileTags]]
_batch_decoder = msgspec.msgpack.Decoder(Batch)
_result_encoder = msgspec.msgpack.Encoder()
_result_decoder = msgspec.msgpack.Decoder(BatchResult)


def extract_batch(batch: Batch) -> bytes:
    """Tag every file of a batch: encoded ``(path, tags)`` out, decoded by ``decode_batch``
    straight into ``FileTags`` structs (far cheaper for the receiving process than unpickling)."""
    out: BatchResult = []
    for path, language, source in batch:
        try:
            tags = extract(language, source)
        except Exception:  # a grammar error on one odd file must not lose the batch
            tags = NO_TAGS
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
    tags.names = tuple(map(intern, tags.names))
    tags.kinds = tuple(map(intern, tags.kinds))


def serve(read_fd: int, write_fd: int) -> None:
    """A parser process's main loop (see ``assistant.procs``): batches in, their encoded tags out."""
    procs.serve(read_fd, write_fd, lambda body: extract_batch(_batch_decoder.decode(body)))
