"""Tags: definitions and references extracted from one file with its tags query.

Runs in parser processes too (``serve``, started by ``pool``): everything here is plain data
in, plain data out, and importing it pulls in only tree-sitter and msgspec.
"""

from __future__ import annotations

import gc
from operator import itemgetter

import msgspec
from tree_sitter import Language, Node, Parser, QueryCursor

from .languages import compiled

_CLASS_LIKE = ("class", "impl_item", "trait_item", "interface", "struct")


class Tag(msgspec.Struct, array_like=True, gc=False):
    """One definition or reference (lines are 1-based and inclusive). A definition's first
    line is not stored: the index holds the file's text, and search results read it there.

    A struct the garbage collector does not track (it holds only strings, ints and a bool):
    a large repository has hundreds of thousands of tags, and tracking them made the
    collector's passes a large part of loading them.
    """

    name: str
    kind: str  # function, method, class, … for definitions; call, class, type, … for references
    is_definition: bool
    line: int
    end_line: int


# A file's tags: a tuple of untracked structs is itself untracked after one collection.
Tags = tuple[Tag, ...]
RawTag = tuple[str, str, bool, int, int]
Role = tuple[str, bool, str]  # the capture naming the tagged node, is it a definition, kind

_by_name = itemgetter(0)
_parsers: dict[str, Parser] = {}
_roles: dict[str, dict[int, Role | None]] = {}  # language -> pattern index -> its role
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


def _role(captures: dict[str, list[Node]]) -> Role | None:
    for capture in captures:
        if capture.startswith("definition."):
            return capture, True, capture[11:]
        if capture.startswith("reference."):
            return capture, False, capture[10:]
    return None


def extract(language: str, source: bytes) -> Tags:
    """Parse ``source`` and run the language's tags query over it (sorted by name, line)."""
    return tuple(Tag(*raw) for raw in _extract_raw(language, source))


def _extract_raw(language: str, source: bytes) -> list[RawTag]:
    """``extract`` as plain tuples (what the workers encode: cheaper to build than structs).

    This loop runs once per query match, hundreds of thousands of times in a large
    repository, so it does the least it can per match: roles are worked out once per
    pattern, class-likeness is a set lookup of node kind ids, and a reference costs one
    position lookup.
    """
    grammar, query = compiled(language)
    parser = _parsers.get(language)
    if parser is None:
        parser = _parsers[language] = Parser(grammar)
    root_node = parser.parse(source).root_node
    root = root_node.kind_id
    roles = _roles.setdefault(language, {})
    classes = _classes(language, grammar)
    seen: set[tuple[str, int, bool]] = set()
    tags: list[RawTag] = []
    for pattern, captures in QueryCursor(query).matches(root_node):
        try:
            role = roles[pattern]
        except KeyError:
            role = roles[pattern] = _role(captures)
        names = captures.get("name")
        if role is None or not names:
            continue
        name_node = names[0]
        name = source[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace")
        if not name:
            continue
        capture, is_def, kind = role
        count = len(seen)
        if not is_def:  # a reference is the line of its name (a call may start lines earlier)
            row = name_node.start_point[0] + 1
            seen.add((name, row, False))  # each name, line and role once (patterns can overlap)
            if len(seen) != count:
                tags.append((name, kind, False, row, row))
            continue
        node = captures[capture][0]  # a definition spans its whole node
        row = node.start_point[0] + 1
        seen.add((name, row, True))
        if len(seen) == count:
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
        tags.append((name, kind, True, row, node.end_point[0] + 1))
    tags.sort(key=_by_name)  # stable: by name, then position; the symbol table bisects by name
    return tags


Batch = list[tuple[str, str, bytes]]  # (path, language, source) items for a parser process
BatchResult = list[tuple[str, Tags]]
_batch_decoder = msgspec.msgpack.Decoder(Batch)
_result_encoder = msgspec.msgpack.Encoder()
_result_decoder = msgspec.msgpack.Decoder(BatchResult)


def extract_batch(batch: Batch) -> bytes:
    """Tag every file of a batch: encoded ``(path, tags)`` out, decoded by ``decode_batch``
    straight into ``Tag`` structs (far cheaper for the receiving process than unpickling)."""
    out: list[tuple[str, list[RawTag]]] = []
    for path, language, source in batch:
        try:
            tags = _extract_raw(language, source)
        except Exception:  # a grammar error on one odd file must not lose the batch
            tags = []
        out.append((path, tags))
    return _result_encoder.encode(out)


def decode_batch(data: bytes) -> BatchResult:
    return _result_decoder.decode(data)


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
