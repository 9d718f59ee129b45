"""Code search in words: the 116 questions of shared/bench/semble through our search, scored as
semble scores itself, beside BM25 computed in the same run and semble's published figures.

Each question goes through the code path the search_files tool uses (``IndexView.search``, mode
``auto``, the tool's default number of results), once over the whole repository and once
restricted to the question's ``root`` (``path=root``). Scores, per repository and as the mean of
repositories (the README of the data defines them):
- NDCG@10 of the results as returned (each result one rank; an annotated file, gold or
  secondary, gains 1 at the rank of its first result among the first ten);
- NDCG@10 over distinct files (each file once, in the order files first appear);
- recall@5 of the gold files over distinct files.
BM25 (each file one document, as in bench/localize.py) ranks the same indexed files.

Run by hand: ``.venv/bin/python -m bench.semble`` (``--repo cobra`` for one).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tarfile
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from assistant.index import IndexManager
from assistant.tools.search_files import DEFAULT_RESULTS
from bench._common import p
from bench.localize import BM25
from sandbox import Roots

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "semble"
# semble's published NDCG@10 per repository (restricted to root), from the data's README
PUBLISHED = {
    "cobra": {"bm25": 0.738, "coderankembed": 0.727, "semble": 0.959},
    "axum": {"bm25": 0.689, "coderankembed": 0.720, "semble": 0.801},
    "rack": {"bm25": 0.814, "coderankembed": 0.925, "semble": 0.893},
    "commons-lang": {"bm25": 0.653, "coderankembed": 0.873, "semble": 0.896},
    "pydantic": {"bm25": 0.594, "coderankembed": 0.694, "semble": 0.792},
    "trpc": {"bm25": 0.581, "coderankembed": 0.754, "semble": 0.811},
}


def ndcg10(ranked: Sequence[str], relevant: set[str]) -> float:
    """semble's NDCG@10: each relevant file gains 1 at the rank of its first appearance."""
    if not relevant:
        return 0.0
    dcg, seen = 0.0, set()
    for rank, path in enumerate(ranked[:10], start=1):
        if path in relevant and path not in seen:
            seen.add(path)
            dcg += 1 / math.log2(rank + 1)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(10, len(relevant)) + 1))
    return dcg / ideal


def distinct(paths: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(paths))


def recall5(files: Sequence[str], gold: set[str]) -> float:
    return len(gold & set(files[:5])) / len(gold) if gold else 0.0


def under(path: str, root: str) -> bool:
    return not root or path == root or path.startswith(root.rstrip("/") + "/")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repo", action="append", help="only these repositories")
    parser.add_argument("--show", action="store_true", help="print each question's first files")
    parser.add_argument("--work", type=Path, help="extract into (and keep the index cache in) this directory")
    args = parser.parse_args()
    questions = [json.loads(line) for line in (args.data / "questions.jsonl").read_text().splitlines() if line.strip()]
    by_repo: defaultdict[str, list[dict[str, object]]] = defaultdict(list)
    for q in questions:
        if not args.repo or q["repo"] in args.repo:
            by_repo[str(q["repo"])].append(q)
    columns = ("returned", "files", "R@5", "whole", "whole-files", "bm25")
    print(f"{'repo':<13} {'n':>3} " + " ".join(f"{c:>11}" for c in columns) + f" {'semble':>7} {'CRE':>6}")
    means: defaultdict[str, list[float]] = defaultdict(list)
    times: list[float] = []
    by_category: defaultdict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.work or Path(scratch)
        for repo_name, items in sorted(by_repo.items()):
            root = Path(tmp) / repo_name
            if not root.exists():
                root.mkdir(parents=True)
                with tarfile.open(args.data / "snapshots" / f"{repo_name}.tar.gz") as archive:
                    archive.extractall(root, filter="data")
            roots = Roots([str(root)])
            indexes = IndexManager(roots, str(Path(tmp) / "cache"))
            view = indexes.build(str(root))
            texts = {path: record.text.decode("utf-8", "replace") for path, record in view.index.files.items()}
            scores: defaultdict[str, list[float]] = defaultdict(list)
            for item in items:
                question = str(item["question"])
                gold = set(item["gold"])  # type: ignore[call-overload]
                relevant = gold | set(item.get("secondary") or [])  # type: ignore[call-overload]
                base = str(item.get("root") or "")
                prefix = tuple(part for part in base.split("/") if part)
                started = time.perf_counter()
                inside = [
                    r["file"] for r in view.search(question, "auto", prefix=prefix, limit=DEFAULT_RESULTS).results
                ]
                times.append(time.perf_counter() - started)
                whole = [r["file"] for r in view.search(question, "auto", limit=DEFAULT_RESULTS).results]
                bm25 = BM25({path: text for path, text in texts.items() if under(path, base)})
                scores["returned"].append(ndcg10(inside, relevant))
                scores["files"].append(ndcg10(distinct(inside), relevant))
                scores["R@5"].append(recall5(distinct(inside), gold))
                scores["whole"].append(ndcg10(whole, relevant))
                scores["whole-files"].append(ndcg10(distinct(whole), relevant))
                scores["bm25"].append(ndcg10(bm25.rank(question), relevant))
                by_category[str(item.get("category"))].append(scores["returned"][-1])
                if args.show:
                    score = scores["returned"][-1]
                    print(f"  {score:.2f} {item.get('category')} {question!r}: {inside[:6]} gold {sorted(relevant)}")
            row = {c: statistics.fmean(scores[c]) for c in columns}
            for c in columns:
                means[c].append(row[c])
            published = PUBLISHED.get(repo_name, {})
            print(
                f"{repo_name:<13} {len(items):>3} "
                + " ".join(f"{row[c]:>11.3f}" for c in columns)
                + f" {published.get('semble', float('nan')):>7.3f} {published.get('coderankembed', float('nan')):>6.3f}"
            )
            indexes.close()
            roots.close()
    semble = [PUBLISHED[r]["semble"] for r in sorted(by_repo) if r in PUBLISHED]
    cre = [PUBLISHED[r]["coderankembed"] for r in sorted(by_repo) if r in PUBLISHED]
    semble_mean = statistics.fmean(semble) if semble else math.nan
    cre_mean = statistics.fmean(cre) if cre else math.nan
    print(
        f"{'mean':<13} {sum(len(v) for v in by_repo.values()):>3} "
        + " ".join(f"{statistics.fmean(means[c]):>11.3f}" for c in columns)
        + f" {semble_mean:>7.3f} {cre_mean:>6.3f}"
    )
    print(
        "by category (returned): "
        + ", ".join(f"{c} {statistics.fmean(v):.3f} ({len(v)})" for c, v in sorted(by_category.items()))
    )
    print(f"\nquery time (restricted to root): p50 {p(times, 0.5) * 1000:.1f} ms, p95 {p(times, 0.95) * 1000:.1f} ms")
    print("returned/files/R@5: restricted to root; whole: the whole repository; bm25: restricted to root")


if __name__ == "__main__":
    main()
