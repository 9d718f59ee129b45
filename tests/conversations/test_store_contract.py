"""One contract for every conversation store (as Litestar tests its stores): the SQLite file and
the in-memory store answer the same way to the same calls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.conversations import (
    AnswerFields,
    ConversationStore,
    ImportedMessage,
    MemoryStore,
    NewMessage,
    SqliteStore,
    StoreError,
    check_import,
)


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConversationStore]:
    made: ConversationStore = SqliteStore(tmp_path / "c.sqlite3") if request.param == "sqlite" else MemoryStore()
    yield made
    made.close()


def question(store: ConversationStore, cid: str, text: str, parent: str | None = None) -> str:
    return store.add(cid, NewMessage(role="user", content=text, parent_id=parent))


def answer(store: ConversationStore, cid: str, text: str, parent: str, **fields: object) -> str:
    return store.add(cid, NewMessage(role="assistant", content=text, parent_id=parent, fields=AnswerFields(**fields)))  # type: ignore[arg-type]


def test_a_conversation_is_made_read_renamed_and_deleted(store: ConversationStore) -> None:
    made = store.create(None, "/repo", "m")
    assert (made.title, made.repo, made.model, made.messages, made.forked_from) == (
        "New conversation",
        "/repo",
        "m",
        [],
        None,
    )
    assert store.get(made.id).id == made.id and store.summary(made.id).title == "New conversation"
    assert store.update(made.id, title="  Named  ").title == "Named"
    store.delete(made.id)
    with pytest.raises(StoreError) as missing:
        store.get(made.id)
    assert (missing.value.code, missing.value.param) == ("conversation_not_found", "id")
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(StoreError) as refused:
            store.create(bad, None, None)
        assert refused.value.param == "title"


def test_branches_siblings_and_the_newest_continuation(store: ConversationStore) -> None:
    cid = store.create(None, None, None).id
    q1 = question(store, cid, "first")
    a1 = answer(store, cid, "one", q1)
    a2 = answer(store, cid, "two", q1)  # asked again
    shown = store.get(cid)
    assert [m.content for m in shown.messages] == ["first", "two"]
    assert (shown.messages[1].sibling_count, shown.messages[1].sibling_index, shown.messages[1].sibling_ids) == (
        2,
        1,
        [a1, a2],
    )
    q2 = question(store, cid, "follow", a1)
    answer(store, cid, "three", q2)
    switched = store.update(cid, active_id=a1)  # its newest continuation is shown
    assert [m.content for m in switched.messages] == ["first", "one", "follow", "three"]
    assert [m.content for m in store.path_to(cid, q2)] == ["first", "one", "follow"]
    assert store.role_of(cid, q2) == "user" and store.active(cid) == switched.active_id
    with pytest.raises(StoreError) as foreign:
        store.update(cid, active_id="m_nope")
    assert foreign.value.param == "active_id"


def test_the_title_follows_the_first_question_until_a_person_names_it(store: ConversationStore) -> None:
    cid = store.create(None, None, None).id
    question(store, cid, "\n  How does it start?\nmore")
    assert store.get(cid).title == "How does it start?"
    question(store, cid, "How does it start, really?")  # an edit of the first question
    assert store.get(cid).title == "How does it start, really?"
    store.update(cid, title="Mine")
    question(store, cid, "Another first question")
    assert store.get(cid).title == "Mine"
    named = store.create("Given", None, None).id
    question(store, named, "a question")
    assert store.get(named).title == "Given"


def test_pages_newest_first_by_repository_and_by_words(store: ConversationStore) -> None:
    ids = []
    for i in range(5):
        cid = store.create(f"conversation {i}", "/a" if i % 2 else "/b", None).id
        ids.append(cid)
        time.sleep(0.002)  # distinct update times, as a person's would be
    question(store, ids[1], "where is the tokenizer defined")
    first = store.page([], None, 2, None)
    assert [c.id for c in first.conversations] == [ids[1], ids[4]] and first.next_cursor
    rest = store.page([], None, 10, first.next_cursor)
    assert [c.id for c in rest.conversations] == [ids[3], ids[2], ids[0]] and rest.next_cursor is None
    assert [c.id for c in store.page([], "/a", 10, None).conversations] == [ids[1], ids[3]]
    assert [c.id for c in store.page(["tokeniz", "defin"], None, 10, None).conversations] == [ids[1]]
    assert [c.id for c in store.page(["conversation", "3"], None, 10, None).conversations] == [ids[3]]
    assert store.page(["tokenizer", "nowhere"], None, 10, None).conversations == []
    with pytest.raises(StoreError) as cursor:
        store.page([], None, 10, "not-a-cursor")
    assert cursor.value.param == "cursor"


def test_progress_interrupted_answers_and_their_fields(store: ConversationStore) -> None:
    cid = store.create(None, None, None).id
    q = question(store, cid, "q")
    a = store.add(cid, NewMessage(role="assistant", content="par", parent_id=q, streaming=True))
    store.set_answer(cid, a, "partial", AnswerFields(model="m"), streaming=True)
    assert store.end_unfinished() == 1 and store.end_unfinished() == 0
    kept = store.get(cid).messages[1]
    assert (kept.content, kept.finish_reason, kept.model) == ("partial", "interrupted", "m")
    with pytest.raises(StoreError):
        store.set_answer(cid, q, "a question is no answer", AnswerFields(), streaming=False)


def test_fork_export_and_import_keep_the_tree(store: ConversationStore) -> None:
    cid = store.create("Tree", "/r", "m").id
    q = question(store, cid, "q")
    a1 = answer(store, cid, "a1", q, finish_reason="stop")
    a2 = answer(store, cid, "a2", q, finish_reason="stop")
    forked = store.fork(cid, a1)
    assert (
        forked.forked_from == cid
        and forked.title == "Tree (fork)"
        and [m.content for m in forked.messages] == ["q", "a1"]
    )
    exported = store.export(cid)
    assert [m.content for m in exported.messages] == ["q", "a1", "a2"] and exported.active_id == a2
    messages = [
        ImportedMessage(id=m.id, parent_id=m.parent_id, role=m.role, content=m.content) for m in exported.messages
    ]
    check_import(messages)
    imported = store.import_("Copy", "/r", "m", messages, a1)
    assert [m.content for m in imported.messages] == ["q", "a1"] and imported.id != cid
    assert len(store.export(imported.id).messages) == 3
    with pytest.raises(StoreError) as twice:
        check_import([*messages, messages[0]])
    assert twice.value.param == "messages[3].id"
