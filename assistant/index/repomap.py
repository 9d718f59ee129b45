"""The repository map: the most important files with their key definitions (signatures only),
cut to a token budget, for the model's orientation.

Importance is PageRank over the reference graph the index holds: a file that references a name
another file defines points at it (weighted by the square root of how often, divided among the
files defining that name, and a tenth for a private ``_name``). The walk restarts at the files
the current question is about (the ranked search's first files and the files defining names it
spells as code) rather than anywhere, so the map changes with the question. Within a file, the
definitions other files reference most are shown first.

The graph is built once per index version (every change makes a new version, so the map is
never stale after an edit); maps are cached per version, question and budget.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from .ranking import Terms, code_names, rank_files
from .records import IndexData

CHARS_PER_TOKEN = 4  # the estimate used for the model's context everywhere
DAMPING = 0.85
QUESTION_BOOST = 5.0  # a file the question is about (weight 1) ranks as if 6 times as central
EVERYWHERE = 0.1  # the share of restarts anywhere rather than at the question's files
ITERATIONS = 30
TOLERANCE = 1e-6
MAX_DEFINERS = 8  # a name defined in more files than this (get, new, run) says nothing about which
PERSONAL_FILES = 10
MAX_QUESTION_BYTES = 16 * 1024  # what a question is mapped by: as much as a search query may be
DEFS_PER_FILE = 8
SIGNATURE_CHARS = 110


@dataclass
class Graph:
    version: int
    files: list[str]
    edges: dict[str, dict[str, float]]  # from -> to -> weight
    weight: dict[str, dict[str, float]] = field(default_factory=dict)  # file -> its defined name -> weight in


@dataclass
class RepoMap:
    text: str
    tokens: int
    files: list[str]


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class MapMaker:
    """The maps of one repository's index, cached per index version."""

    def __init__(self, data: IndexData) -> None:
        self.data = data
        self._graph: Graph | None = None
        self._maps: OrderedDict[tuple[object, ...], RepoMap] = OrderedDict()
        self._lock = threading.Lock()

    def make(self, question: str | None, tokens: int, under: str = "") -> RepoMap:
        if tokens <= 0:
            return RepoMap("", 0, [])
        if question is not None:  # a pasted 900 KB question is mapped by its first 16 KB, like a search
            question = question.encode("utf-8", "surrogatepass")[:MAX_QUESTION_BYTES].decode("utf-8", "ignore")
        data = self.data
        with data.lock:
            graph = self._current_graph()
            personal = self._personal(question or "", under) if question and question.strip() else {}
        key = (graph.version, tuple(sorted(personal.items())), tokens, under)
        with self._lock:
            cached = self._maps.get(key)
            if cached is not None:
                self._maps.move_to_end(key)
                return cached
        ranks = pagerank(graph, personal, under)
        for path, weight in personal.items():  # the question's own files before the central ones
            if path in ranks:
                ranks[path] *= 1 + QUESTION_BOOST * weight
        with data.lock:
            made = self._render(graph, ranks, tokens, question or "", under)
        with self._lock:
            self._maps[key] = made
            if len(self._maps) > 64:
                self._maps.popitem(last=False)
        return made

    def _current_graph(self) -> Graph:
        if self._graph is None or self._graph.version != self.data.version:
            self._graph = build_graph(self.data)
            with self._lock:
                self._maps.clear()
        return self._graph

    def _personal(self, question: str, under: str) -> dict[str, float]:
        """Where the walk restarts: the files the question is about, by how much."""
        data = self.data

        def accept(path: str) -> bool:
            return path.startswith(under)

        terms = Terms.of(question, data.ranked)
        chosen = accept if under else None
        files, _ = rank_files(
            data.ranked, data.symbols, data.files, question, terms, chosen, frozenset(), want=PERSONAL_FILES
        )
        personal: dict[str, float] = {}
        top = files[0].score if files and files[0].score > 0 else 1.0
        for ranked in files:
            personal[ranked.path] = round(max(ranked.score, 0.0) / top, 3) or 0.001
        for name in code_names(question):
            for path, _ in data.symbols.defined_in(name):
                if path.startswith(under):
                    personal[path] = max(personal.get(path, 0.0), 1.0)
        return personal

    def _render(self, graph: Graph, ranks: dict[str, float], tokens: int, question: str, under: str) -> RepoMap:
        data = self.data
        asked = {n.lower() for n in code_names(question)}
        budget = tokens * CHARS_PER_TOKEN
        blocks: list[str] = []
        used = 0
        shown: list[str] = []
        for path in sorted(ranks, key=lambda p: (-ranks[p], p)):
            record = data.files.get(path)
            if record is None or record.tags is None or not record.tags.definition_count:
                continue
            weights = graph.weight.get(path, {})
            definitions = sorted(
                record.tags.definitions,
                key=lambda t: (-(weights.get(t.name, 0.0) + (10.0 if t.name.lower() in asked else 0.0)), t.line),
            )
            lines = record.text.split(b"\n")
            chosen = sorted(definitions[:DEFS_PER_FILE], key=lambda t: t.line)
            display = path[len(under) :]
            block = ""
            while chosen:
                rows = [f"{t.line:>5}│{_signature(lines, t.line)}" for t in chosen]
                block = display + ":\n" + "\n".join(rows) + "\n"
                if used + len(block) <= budget:
                    break
                chosen = chosen[:-1] if len(chosen) > 1 else []  # fewer definitions, then none
                block = ""
            if not block:
                break
            blocks.append(block)
            used += len(block)
            shown.append(display)
        text = "".join(blocks).rstrip("\n")
        return RepoMap(text, estimate_tokens(text), shown)


def _signature(lines: list[bytes], line: int) -> str:
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1].decode("utf-8", "replace").rstrip()
    return text if len(text) <= SIGNATURE_CHARS else text[: SIGNATURE_CHARS - 1] + "…"


def build_graph(data: IndexData) -> Graph:
    """The reference graph of every parsed file (call with the data's lock held)."""
    symbols = data.symbols
    edges: dict[str, dict[str, float]] = {}
    weight_in: dict[str, dict[str, float]] = {}
    definers_of: dict[str, list[str]] = {}
    files = sorted(p for p, r in data.files.items() if r.tags is not None and r.tags.names)
    for path in files:
        tags = data.files[path].tags
        assert tags is not None
        out: dict[str, float] = {}
        for name, count in tags.reference_counts():
            definers = definers_of.get(name)
            if definers is None:
                definers = definers_of[name] = symbols.definers(name)
            if not definers or len(definers) > MAX_DEFINERS:
                continue
            share = math.sqrt(count) / len(definers) * (0.1 if name.startswith("_") else 1.0)
            for target in definers:
                if target == path:
                    continue
                out[target] = out.get(target, 0.0) + share
                named = weight_in.setdefault(target, {})
                named[name] = named.get(name, 0.0) + share
        if out:
            edges[path] = out
    return Graph(data.version, files, edges, weight_in)


def pagerank(graph: Graph, personal: dict[str, float], under: str = "") -> dict[str, float]:
    """PageRank of the files (below ``under``), restarting at ``personal`` (or anywhere)."""
    nodes = [p for p in graph.files if p.startswith(under)]
    if not nodes:
        return {}
    inside = set(nodes)
    chosen = {p: w for p, w in personal.items() if p in inside and w > 0}
    total = sum(chosen.values())
    even = 1.0 / len(nodes)
    if total > 0:  # mostly at the question's files, a little anywhere (central files stay in view)
        restart = {p: (1 - EVERYWHERE) * chosen.get(p, 0.0) / total + EVERYWHERE * even for p in nodes}
    else:
        restart = {p: even for p in nodes}
    out_edges: dict[str, list[tuple[str, float]]] = {}
    for source in nodes:
        targets = [(t, w) for t, w in graph.edges.get(source, {}).items() if t in inside]
        out_total = sum(w for _, w in targets)
        if out_total > 0:
            out_edges[source] = [(t, w / out_total) for t, w in targets]
    rank = dict(restart)
    for _ in range(ITERATIONS):
        dangling = sum(rank.get(p, 0.0) for p in nodes if p not in out_edges)
        new = {p: (1 - DAMPING + DAMPING * dangling) * w for p, w in restart.items()}
        for source, targets in out_edges.items():
            mass = rank.get(source, 0.0)
            if mass:
                flow = DAMPING * mass
                for target, share in targets:
                    new[target] = new.get(target, 0.0) + flow * share
        change = sum(abs(new.get(p, 0.0) - rank.get(p, 0.0)) for p in set(new) | set(rank))
        rank = new
        if change < TOLERANCE:
            break
    return rank
