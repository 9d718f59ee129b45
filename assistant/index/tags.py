"""Tags: definitions and references extracted from one file with its tags query.

Runs in worker processes too (tree-sitter holds the GIL while parsing, so threads would not
use the second core): everything here is plain data in, plain data out.
"""

from __future__ import annotations

import gc
from typing import NamedTuple

import msgspec

from tree_sitter import Node, Parser, QueryCursor

from .languages import compiled

MAX_FIRST_LINE = 200
_CLASS_LIKE = ("class", "impl_item", "trait_item", "interface", "struct")


class Tag(NamedTuple):
    """One definition or reference (lines are 1-based and inclusive)."""

    name: str
    kind: str  # function, method, class, … for definitions; call, class, type, … for references
    is_definition: bool
    line: int
    end_line: int
    first_line: str  # the definition's first line ("" for references)


_parsers: dict[str, Parser] = {}
_roles: dict[str, dict[int, str]] = {}  # language -> pattern index -> its definition./reference. capture


def _inside_class(node: Node) -> bool:
    parent = node.parent
    for _ in range(3):
        if parent is None:
            return False
        if any(word in parent.type for word in _CLASS_LIKE):
            return True
        parent = parent.parent
    return False


def extract(language: str, source: bytes) -> list[Tag]:
    """Parse ``source`` and run the language's tags query over it (sorted by name, line)."""
    return [Tag(*raw) for raw in _extract_raw(language, source)]


RawTag = tuple[str, str, bool, int, int, str]


def _extract_raw(language: str, source: bytes) -> list[RawTag]:
    """``extract`` as plain tuples (a NamedTuple's constructor is Python code: in the workers,
    which only encode the tags, plain tuples are cheaper and encode the same)."""
    grammar, query = compiled(language)
    parser = _parsers.get(language)
    if parser is None:
        parser = _parsers[language] = Parser(grammar)
    tree = parser.parse(source)
    roles = _roles.setdefault(language, {})
    lines: list[bytes] | None = None
    seen: set[tuple[str, int, bool]] = set()
    tags: list[RawTag] = []
    for pattern, captures in QueryCursor(query).matches(tree.root_node):
        role = roles.get(pattern)
        if role is None:
            role = roles[pattern] = next((c for c in captures if c.startswith(("definition.", "reference."))), "")
        names = captures.get("name")
        if not role or not names:
            continue
        name_node = names[0]
        name = source[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace")
        if not name:
            continue
        node = captures[role][0]
        row = node.start_point[0]
        is_def = role[0] == "d"
        key = (name, row, is_def)
        if key in seen:
            continue
        seen.add(key)
        if is_def:
            kind = role[11:]
            if kind == "function" and _inside_class(node):
                kind = "method"
            if lines is None:
                lines = source.split(b"\n")
            first = lines[row].strip()[:MAX_FIRST_LINE].decode("utf-8", "replace")
        else:
            kind = role[10:]
            first = ""
        tags.append((name, kind, is_def, row + 1, node.end_point[0] + 1, first))
    tags.sort()  # by name, then line: the symbol table finds a file's tags by bisection
    return tags


def worker_init() -> None:
    """Set up a parser process: it only allocates acyclic data (tags, tuples, strings) that
    reference counting frees, so the cyclic garbage collector's passes are pure overhead."""
    gc.disable()


BatchResult = list[tuple[str, list[Tag]]]
_batch_encoder = msgspec.msgpack.Encoder()
_batch_decoder = msgspec.msgpack.Decoder(BatchResult)


def extract_batch(batch: list[tuple[str, str, bytes]]) -> bytes:
    """Worker entry point: ``(path, language, source)`` items in, encoded ``(path, tags)`` out.

    Results travel as msgpack (decoded straight into ``Tag`` tuples by ``decode_batch``),
    which costs the parent far less than unpickling hundreds of thousands of tuples.
    """
    out: list[tuple[str, list[RawTag]]] = []
    for path, language, source in batch:
        try:
            tags = _extract_raw(language, source)
        except Exception:  # a grammar crash on one odd file must not lose the batch
            tags = []
        out.append((path, tags))
    return _batch_encoder.encode(out)


def decode_batch(data: bytes) -> BatchResult:
    return _batch_decoder.decode(data)
