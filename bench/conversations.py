"""Conversations store benchmarks, each against the bare sqlite3 query it runs, measured in the
same run on the same file: 10,000 stored conversations of 20 messages each.

- listing a page (50, newest first) through ``ConversationStore.page`` vs the bare SELECT;
- a full-text search (FTS5) through ``page(q=…)`` vs the bare SELECT … MATCH;
- storing a finished turn (an answer with its trace, usage and citations) in one transaction.

    python bench/conversations.py [--conversations 10000] [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import median, ms  # noqa: E402

from assistant.conversations import ConversationStore  # noqa: E402

# words with a Zipf-like frequency, as in real text: a few very common, most rare
_SYLLABLES = "ba de ki lo mu ne pi ro su ta ve wi xo ya ze cha sho thu gre pla".split()
WORDS = sorted({a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in ("", "n", "r", "s", "t")})[:5000]
WEIGHTS = [1 / (rank + 1) for rank in range(len(WORDS))]
TRACE = [
    {"type": "tool_call", "id": "tc_1", "name": "read_file", "status": "completed", "arguments": {"path": "src/a.py"},
     "timestamp": "2026-01-01T00:00:00.000Z", "duration_ms": 3, "summary": "read lines 1-80 of src/a.py",
     "result": {"content": "x = 1\n" * 300, "truncated": False}},
]  # fmt: skip


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(WORDS, WEIGHTS, k=words)).capitalize() + "."


def fill(path: Path, conversations: int, per: int) -> None:
    """Write the corpus straight into the store's schema (one transaction; the store made it)."""
    ConversationStore(path).close()
    rng = random.Random(7)
    db = sqlite3.connect(path)
    now = time.time() - conversations
    with db:
        for c in range(conversations):
            cid = f"c_{c:016x}"
            db.execute(
                "INSERT INTO conversations VALUES (?,?,?,?,?,?,?)",
                (cid, sentence(rng, 5), None, "m", now + c, now + c, f"m_{c:08x}{per - 1:04x}"),
            )
            db.execute("INSERT INTO search(text, conversation_id, message_id) VALUES (?,?,'')", (sentence(rng, 5), cid))
            parent = None
            for m in range(per):
                mid = f"m_{c:08x}{m:04x}"
                text = sentence(rng, 40)
                meta = json.dumps({"finish_reason": "stop"} if m % 2 else {})
                db.execute(
                    "INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, meta) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (mid, cid, parent, "user" if m % 2 == 0 else "assistant", text, now + c, meta),
                )
                db.execute("INSERT INTO search(text, conversation_id, message_id) VALUES (?,?,?)", (text, cid, mid))
                parent = mid
    db.close()


def timed(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "conversations.sqlite3"
        started = time.perf_counter()
        fill(path, args.conversations, args.messages)
        print(f"corpus: {args.conversations} conversations x {args.messages} messages "
              f"({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")  # fmt: skip
        store = ConversationStore(path)
        bare = sqlite3.connect(path)
        # the queries the store runs, as they are (times formatted by SQLite)
        columns = (
            "c.id, c.title, c.repo, c.model, strftime('%Y-%m-%dT%H:%M:%fZ', c.created_at, 'unixepoch'), "
            "strftime('%Y-%m-%dT%H:%M:%fZ', c.updated_at, 'unixepoch'), c.updated_at"
        )
        page_sql = f"SELECT {columns} FROM conversations c ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"
        search_sql = (
            f"SELECT {columns} FROM conversations c "
            "WHERE c.id IN (SELECT conversation_id FROM search WHERE search MATCH ?) "
            "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"
        )
        ours_page = timed(lambda: store.page(limit=50), args.runs)
        bare_page = timed(lambda: bare.execute(page_sql, (51,)).fetchall(), args.runs)
        rng = random.Random(3)
        queries = [" ".join(rng.choices(WORDS[:500], k=2)) for _ in range(20)]  # words people would search
        ours_search = median([timed(lambda q=q: store.page(q, limit=50), max(1, args.runs // 20)) for q in queries])
        bare_search = median(
            [
                timed(
                    lambda q=q: bare.execute(search_sql, (" ".join(f'"{w}"*' for w in q.split()), 51)).fetchall(),
                    max(1, args.runs // 20),
                )
                for q in queries
            ]
        )
        conversation = store.create("bench", None, "m")["id"]
        question = store.add(conversation, None, "user", "what does main return?")
        meta = {"tool_events": TRACE, "finish_reason": "stop", "usage": {"total_tokens": 900}, "model": "m",
                "timings": {"total_ms": 1200}, "citations": [], "sources": []}  # fmt: skip
        turns = []
        for _ in range(args.runs):
            started = time.perf_counter()
            store.add(conversation, question, "assistant", sentence(rng, 120), meta)
            turns.append(time.perf_counter() - started)
        store.close()
        bare.close()
    print(f"list a page of 50: ours {ms(ours_page)}, bare query {ms(bare_page)}; {ours_page / bare_page:.2f}x (target <= 2x)")
    print(
        f"full-text search (2 words, 20 queries): ours {ms(ours_search)}, bare query {ms(bare_search)}; "
        f"{ours_search / bare_search:.2f}x (target <= 2x)"
    )
    print(f"store a finished turn (answer, trace of {len(json.dumps(TRACE)) // 1024} KB): p50 {ms(median(turns))} (target <= 2 ms)")


if __name__ == "__main__":
    main()
