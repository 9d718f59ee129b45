"""What the model's first round sees: for each question of both development sets
(shared/bench/localize and shared/bench/semble), the share of questions with a gold file among
the parts the chat puts in front of the question (``assistant.chat.context.gather``, the code
path the chat runs) at 1k, 2k and 4k tokens of budget.

Beside it, in the same run: how many parts and distinct files were given, how many of the
budget's tokens were used, how long gathering took (p50), and, as the anchor, recall@5 of ranked
search's distinct files for the same questions (a budget that holds the first five files would
match it). semble's questions are asked over the whole repository (the chat does not restrict to
the benchmark's ``root``). Neither set annotates gold line ranges, so gold lines are not measured.

Run by hand: ``.venv/bin/python -m bench.context`` (``--set localize`` or ``--set semble`` for
one; ``--work DIR`` keeps the snapshots and index cache between runs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from assistant.chat import context as code_context
from assistant.index import IndexManager
from bench._common import p
from sandbox import Roots

SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"
SETS = ("localize", "semble")
BUDGETS = (1024, 2048, 4096)
TARGET = {"localize": (2048, 0.85)}


def questions(name: str) -> dict[str, list[dict[str, object]]]:
    by_repo: defaultdict[str, list[dict[str, object]]] = defaultdict(list)
    for line in (SHARED / name / "questions.jsonl").read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            by_repo[str(item["repo"])].append(item)
    return by_repo


def run_set(name: str, work: Path) -> None:
    hits: defaultdict[int, list[bool]] = defaultdict(list)
    files: defaultdict[int, list[int]] = defaultdict(list)
    parts: defaultdict[int, list[int]] = defaultdict(list)
    used: defaultdict[int, list[float]] = defaultdict(list)
    times: defaultdict[int, list[float]] = defaultdict(list)
    recall5: list[bool] = []
    print(f"\n{name}: share of questions with a gold file among the given parts")
    print(f"{'repo':<13} {'n':>4} " + " ".join(f"{b:>7}" for b in BUDGETS) + f" {'R@5':>6}")
    for repo_name, items in sorted(questions(name).items()):
        root = work / name / repo_name
        if not root.exists():
            root.mkdir(parents=True)
            with tarfile.open(SHARED / name / "snapshots" / f"{repo_name}.tar.gz") as archive:
                archive.extractall(root, filter="data")
        roots = Roots([str(root)])
        indexes = IndexManager(roots, str(work / "cache"))
        view = indexes.build(str(root))
        row: defaultdict[int, list[bool]] = defaultdict(list)
        row_recall: list[bool] = []
        with roots.open_repo(str(root)) as repo:
            for item in items:
                question, gold = str(item["question"]), set(item["gold"])  # type: ignore[call-overload]
                ranked = list(dict.fromkeys(r["file"] for r in view.search(question, "ranked", limit=30).results))
                row_recall.append(bool(gold & set(ranked[:5])))
                for tokens in BUDGETS:
                    started = time.perf_counter()
                    given = code_context.gather(indexes, repo, question, tokens)
                    times[tokens].append(time.perf_counter() - started)
                    paths = {part.path for part in given.parts}
                    row[tokens].append(bool(gold & paths))
                    files[tokens].append(len(paths))
                    parts[tokens].append(len(given.parts))
                    used[tokens].append(given.tokens / tokens)
        for tokens in BUDGETS:
            hits[tokens] += row[tokens]
        recall5.extend(row_recall)
        print(
            f"{repo_name:<13} {len(items):>4} "
            + " ".join(f"{statistics.fmean(row[b]):>7.2f}" for b in BUDGETS)
            + f" {statistics.fmean(row_recall):>6.2f}"
        )
        indexes.close()
        roots.close()
    n = len(recall5)
    print(
        f"{'all':<13} {n:>4} "
        + " ".join(f"{statistics.fmean(hits[b]):>7.2f}" for b in BUDGETS)
        + f" {statistics.fmean(recall5):>6.2f}"
    )
    for tokens in BUDGETS:
        print(
            f"  {tokens:>5} tokens: {statistics.fmean(parts[tokens]):.1f} parts from "
            f"{statistics.fmean(files[tokens]):.1f} files on average, {statistics.fmean(used[tokens]):.0%} of the "
            f"budget used, gathering p50 {p(times[tokens], 0.5) * 1000:.1f} ms"
        )
    if name in TARGET:
        tokens, target = TARGET[name]
        print(f"  target: a gold file among the parts for >= {target:.2f} at {tokens} tokens")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--set", choices=SETS, action="append", help="only this set (default: both)")
    parser.add_argument("--work", type=Path, help="extract into (and keep the index cache in) this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        for name in args.set or SETS:
            run_set(name, work)


if __name__ == "__main__":
    main()
