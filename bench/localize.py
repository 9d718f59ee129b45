"""File localization: the 200 questions of shared/bench/localize through our search, beside the
two anchors its README defines (BM25 and grep-words), computed in the same run on the same files.

Each question goes through the code path the search_files tool uses (``IndexView.search``, mode
``auto``, the tool's default number of results); the files in the order they first appear are
ranked, and recall@k is the share of questions with a gold file in the first k. The anchors see
exactly the files our index holds.
Query times: our p50/p95 against ripgrep searching one literal word of the question on the same
snapshot (run by hand: ``.venv/bin/python bench/localize.py``; ripgrep from Debian's package).
The questions of more than one line (a commit message with a body: a pasted text) are also
asked by their first line alone: ``multi-line`` and ``first-line`` rows, the same questions.

``--history DIR`` adds a ``+history`` row: the same search with the repository's commit messages
as a field of the files they changed (what ranked search does for a repository with a git
history). ``DIR`` holds a git mirror of each repository (``DIR/requests``, ``DIR/flask``, …; the
tool library's ``fetch`` brings them: psf/requests, pallets/flask, spf13/cobra, axios/axios,
tokio-rs/axum). History is cut at each question's parent commit: the field holds only the
commits that are ancestors of the commit before the question's own, so the answer's commit (and
everything after it) is never evidence. The code searched is the snapshot, as in the other rows.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.history.graph import Graph, HistoryField
from assistant.history.graph import build as build_graph
from assistant.index import IndexManager
from assistant.tools.search_files import DEFAULT_RESULTS
from bench._common import p
from sandbox import Roots

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "localize"
KS = (1, 5, 10)
STOP = set(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "not",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "were",
        "when",
        "which",
        "while",
        "will",
        "with",
        "without",
        "you",
        "your",
        "should",
        "would",
        "could",
        "also",
        "only",
        "more",
        "most",
        "other",
        "some",
        "such",
        "than",
        "too",
        "very",
        "use",
        "used",
        "using",
        "make",
        "makes",
        "made",
        "add",
        "adds",
        "added",
        "fix",
        "fixes",
        "fixed",
        "remove",
        "removes",
        "removed",
        "update",
        "updates",
        "updated",
        "change",
        "changes",
        "changed",
    ]
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def tokens(text: str) -> list[str]:
    """Identifiers and words, lower-cased, plus their parts split at _, case changes and digits."""
    out: list[str] = []
    for ident in _IDENT.findall(text):
        whole = ident.lower()
        parts = [part.lower() for piece in ident.split("_") for part in _PARTS.findall(piece)]
        for token in {whole, *parts}:
            if len(token) > 1 and token not in STOP:
                out.append(token)
    return out


class BM25:
    """The README's BM25 anchor: each file one document (its path and its text)."""

    def __init__(self, files: dict[str, str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = {path: Counter(tokens(path + "\n" + text)) for path, text in files.items()}
        self.lengths = {path: sum(c.values()) for path, c in self.docs.items()}
        self.avg = sum(self.lengths.values()) / max(1, len(self.lengths))
        df: Counter[str] = Counter()
        for counts in self.docs.values():
            df.update(counts.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def rank(self, question: str) -> list[str]:
        terms = set(tokens(question))
        scores: dict[str, float] = {}
        for path, counts in self.docs.items():
            norm = self.k1 * (1 - self.b + self.b * self.lengths[path] / self.avg)
            score = sum(self.idf[t] * counts[t] * (self.k1 + 1) / (counts[t] + norm) for t in terms if t in counts)
            if score > 0:
                scores[path] = score
        return sorted(scores, key=lambda path: (-scores[path], path))


def grep_words(files: dict[str, str]) -> Callable[[str], list[str]]:
    """The README's grep-words anchor: words of 3+ letters as case-insensitive substrings,
    files ranked by the summed log(1 + N/df) of the words they contain."""
    lowered = {path: text.lower() for path, text in files.items()}

    def rank(question: str) -> list[str]:
        words = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", question)}
        holders = {w: [p for p, t in lowered.items() if w in t] for w in words}
        n = len(lowered)
        scores: defaultdict[str, float] = defaultdict(float)
        for paths in holders.values():
            for path in paths:
                scores[path] += math.log(1 + n / len(paths))
        return sorted(scores, key=lambda path: (-scores[path], path))

    return rank


def recall(rankings: Iterable[tuple[list[str], set[str]]]) -> dict[int, float]:
    rows = list(rankings)
    return {k: sum(1 for ranked, gold in rows if gold & set(ranked[:k])) / max(1, len(rows)) for k in KS}


def ripgrep_seconds(root: Path, word: str) -> float:
    started = time.perf_counter()
    subprocess.run(["rg", "-F", "-i", "-l", word, str(root)], capture_output=True, check=False)
    return time.perf_counter() - started


def commit_graph(mirror: Path, work: Path) -> tuple[Graph, Callable[[str], list[int]]]:
    """The commit graph of a mirror's default branch, and the ancestors (newest first) of a
    commit's parent: the history a question's field may hold."""
    import pygit2

    clone = work / "git"
    if not clone.exists():
        subprocess.run(["git", "clone", "-q", "--bare", str(mirror), str(clone)], check=True)
    git = pygit2.Repository(str(clone))
    graph = build_graph(git, git.head.peel(pygit2.Commit).id)
    assert graph is not None

    def before(commit: str) -> list[int]:
        at = graph.index.get(bytes.fromhex(commit))
        if at is None or not graph.parents[at]:
            return []
        seen: set[int] = set()
        stack = list(graph.parents[at])
        while stack:
            c = stack.pop()
            if c not in seen:
                seen.add(c)
                stack.extend(graph.parents[c])
        return sorted(seen)

    return graph, before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--history", type=Path, help="a directory of git mirrors, one per repository")
    args = parser.parse_args()
    questions = [json.loads(line) for line in (args.data / "questions.jsonl").read_text().splitlines() if line.strip()]
    by_repo: defaultdict[str, list[dict[str, object]]] = defaultdict(list)
    for q in questions:
        by_repo[str(q["repo"])].append(q)
    have_rg = shutil.which("rg") is not None
    totals: dict[str, list[tuple[list[str], set[str]]]] = defaultdict(list)
    ours_times: list[float] = []
    rg_times: list[float] = []
    print(f"{'repo':<10} {'method':<11} {'R@1':>5} {'R@5':>5} {'R@10':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for repo_name, items in sorted(by_repo.items()):
            root = Path(tmp) / repo_name
            root.mkdir()
            with tarfile.open(args.data / "snapshots" / f"{repo_name}.tar.gz") as archive:
                archive.extractall(root, filter="data")
            roots = Roots([str(root)])
            indexes = IndexManager(roots, str(Path(tmp) / "cache"))
            view = indexes.build(str(root))
            files = {path: record.text.decode("utf-8", "replace") for path, record in view.index.files.items()}
            bm25, grep = BM25(files), grep_words(files)
            rows: dict[str, list[tuple[list[str], set[str]]]] = defaultdict(list)
            history = commit_graph(args.history / repo_name, Path(tmp) / f"{repo_name}-git") if args.history else None
            for item in items:
                question, gold = str(item["question"]), set(item["gold"])  # type: ignore[call-overload]
                started = time.perf_counter()
                try:
                    found = view.search(question, "auto", limit=DEFAULT_RESULTS)
                    ranked = list(dict.fromkeys(hit["file"] for hit in found.results))
                except Exception as exc:
                    print(f"  {repo_name}: query refused: {exc}", file=sys.stderr)
                    ranked = []
                ours_times.append(time.perf_counter() - started)
                rows["ours"].append((ranked, gold))
                if "\n" in question.strip():  # a pasted text: against its first line alone
                    title = question.strip().splitlines()[0]
                    first = view.search(title, "auto", limit=DEFAULT_RESULTS)
                    rows["multi-line"].append((ranked, gold))
                    rows["first-line"].append((list(dict.fromkeys(hit["file"] for hit in first.results)), gold))
                if history is not None:
                    graph, before = history
                    field = HistoryField.of(graph, keep=before(str(item["commit"])))
                    view.index.history = field.evidence if field is not None else None
                    with_history = view.search(question, "auto", limit=DEFAULT_RESULTS)
                    view.index.history = None
                    rows["+history"].append((list(dict.fromkeys(hit["file"] for hit in with_history.results)), gold))
                rows["bm25"].append((bm25.rank(question), gold))
                rows["grep-words"].append((grep(question), gold))
                word = next((w for w in re.findall(r"[A-Za-z]{3,}", question) if w.lower() not in STOP), None)
                if have_rg and word:
                    rg_times.append(ripgrep_seconds(root, word))
            for method, method_rows in rows.items():
                r = recall(method_rows)
                totals[method] += method_rows
                print(f"{repo_name:<10} {method:<11} {r[1]:>5.2f} {r[5]:>5.2f} {r[10]:>5.2f}")
            indexes.close()
            roots.close()
    print()
    for method, method_rows in totals.items():
        r = recall(method_rows)
        print(f"{'overall':<10} {method:<11} {r[1]:>5.2f} {r[5]:>5.2f} {r[10]:>5.2f}")
    ours50, ours95 = p(ours_times, 0.5), p(ours_times, 0.95)
    line = f"\nquery time: ours p50 {ours50 * 1000:.1f} ms, p95 {ours95 * 1000:.1f} ms"
    if rg_times:
        rg50 = p(rg_times, 0.5)
        line += (
            f"; ripgrep one literal word p50 {rg50 * 1000:.1f} ms; ratio of p50s {ours50 / rg50:.2f}x (target <= 1.0x)"
        )
    else:
        line += " (ripgrep not installed: apt-get install ripgrep for the anchor)"
    print(line)


if __name__ == "__main__":
    main()
