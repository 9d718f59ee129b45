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
from collections.abc import Callable
from functools import partial
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.conversations import AnswerFields, NewMessage, SqliteStore
from bench._common import median, ms

# words with a Zipf-like frequency, as in real text: a few very common, most rare
_SYLLABLES = [
    "ba",
    "de",
    "ki",
    "lo",
    "mu",
    "ne",
    "pi",
    "ro",
    "su",
    "ta",
    "ve",
    "wi",
    "xo",
    "ya",
    "ze",
    "cha",
    "sho",
    "thu",
    "gre",
    "pla",
]
WORDS = sorted({a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in ("", "n", "r", "s", "t")})[:5000]
WEIGHTS = [1 / (rank + 1) for rank in range(len(WORDS))]
TRACE = [
    {
        "type": "tool_call",
        "id": "tc_1",
        "name": "read_file",
        "status": "completed",
        "arguments": {"path": "src/a.py"},
        "timestamp": "2026-01-01T00:00:00.000Z",
        "duration_ms": 3,
        "summary": "read lines 1-80 of src/a.py",
        "result": {"content": "x = 1\n" * 300, "truncated": False},
    },
]


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(WORDS, WEIGHTS, k=words)).capitalize() + "."


def fill(path: Path, conversations: int, per: int) -> None:
    """Write the corpus straight into the store's schema (one transaction; the store made it)."""
    SqliteStore(path).close()
    rng = random.Random(7)
    db = sqlite3.connect(path)
    now = time.time() - conversations
    with db:
        for c in range(conversations):
            cid = f"c_{c:016x}"
            title = sentence(rng, 5)
            row = db.execute(
                "INSERT INTO conversations(id, title, repo, model, created_at, updated_at, active_id) "
                "VALUES (?,?,?,?,?,?,?)",
                (cid, title, None, "m", now + c, now + c, f"m_{c:08x}{per - 1:04x}"),
            ).lastrowid
            db.execute("INSERT INTO title_text(rowid, text) VALUES (?,?)", (row, title))
            parent = None
            for m in range(per):
                mid = f"m_{c:08x}{m:04x}"
                text = sentence(rng, 40)
                meta = json.dumps({"finish_reason": "stop"} if m % 2 else {})
                row = db.execute(
                    "INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, meta) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (mid, cid, parent, "user" if m % 2 == 0 else "assistant", text, now + c, meta),
                ).lastrowid
                db.execute("INSERT INTO message_text(rowid, text) VALUES (?,?)", (row, text))
                parent = mid
    db.close()


def timed(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
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
        print(
            f"corpus: {args.conversations} conversations x {args.messages} messages "
            f"({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        store = SqliteStore(path)
        bare = sqlite3.connect(path)
        # the queries the store runs, as they are (times formatted by SQLite)
        columns = (
            "c.id, c.title, c.repo, c.model, strftime('%Y-%m-%dT%H:%M:%fZ', c.created_at, 'unixepoch'), "
            "strftime('%Y-%m-%dT%H:%M:%fZ', c.updated_at, 'unixepoch'), c.forked_from, c.updated_at"
        )
        page_sql = f"SELECT {columns} FROM conversations c ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"
        search_sql = (
            f"SELECT {columns} FROM conversations c "
            "WHERE (c.rowid IN (SELECT rowid FROM title_text WHERE title_text MATCH ?) OR c.id IN "
            "(SELECT m.conversation_id FROM message_text JOIN messages m ON m.rowid = message_text.rowid "
            "WHERE message_text MATCH ?)) ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"
        )
        ours_page = timed(lambda: store.page([], None, 50, None), args.runs)
        bare_page = timed(lambda: bare.execute(page_sql, (51,)).fetchall(), args.runs)
        rng = random.Random(3)
        queries = [" ".join(rng.choices(WORDS[:500], k=2)) for _ in range(20)]  # words people would search
        runs = max(1, args.runs // 20)
        ours_search = median([timed(partial(store.page, q.split(), None, 50, None), runs) for q in queries])

        def bare_query(q: str) -> object:
            match = " ".join(f'"{w}"*' for w in q.split())
            return bare.execute(search_sql, (match, match, 51)).fetchall()

        bare_search = median([timed(partial(bare_query, q), runs) for q in queries])
        conversation = store.create("bench", None, "m").id
        question = store.add(conversation, NewMessage(role="user", content="what does main return?"))
        fields = msgspec.convert(
            {
                "tool_events": TRACE,
                "finish_reason": "stop",
                "usage": {"prompt_tokens": 800, "completion_tokens": 100, "total_tokens": 900},
                "model": "m",
                "timings": {"total_ms": 1200},
                "citations": [],
                "sources": [],
            },
            AnswerFields,
        )
        turns = []
        for _ in range(args.runs):
            answer = NewMessage(role="assistant", content=sentence(rng, 120), parent_id=question, fields=fields)
            started = time.perf_counter()
            store.add(conversation, answer)
            turns.append(time.perf_counter() - started)
        store.close()
        bare.close()
    print(
        f"list a page of 50: ours {ms(ours_page)}, bare query {ms(bare_page)}; {ours_page / bare_page:.2f}x "
        "(target <= 2x)"
    )
    print(
        f"full-text search (2 words, 20 queries): ours {ms(ours_search)}, bare query {ms(bare_search)}; "
        f"{ours_search / bare_search:.2f}x (target <= 2x)"
    )
    print(
        f"store a finished turn (answer, trace of {len(json.dumps(TRACE)) // 1024} KB): p50 "
        f"{ms(median(turns))} (target <= 2 ms)"
    )


if __name__ == "__main__":
    main()
