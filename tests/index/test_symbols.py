"""The symbol table on its own: its lookup structures are built from a bulk load by the first
search, then kept current file by file; both ways must find the same names."""

from __future__ import annotations

from assistant.index.symbols import SymbolTable
from assistant.index.tags import FileTags


def defs(*names: str) -> FileTags:
    return FileTags.pack([(name, "function", i + 1, i + 1) for i, name in enumerate(names)], [])


def found(table: SymbolTable, query: str) -> list[tuple[str, str]]:
    hits, _ = table.search(query, 50)
    return sorted((h.tag.name, h.path) for h in hits)


def test_names_loaded_before_and_after_the_first_search_are_found_alike() -> None:
    table = SymbolTable()
    table.add_file("a.py", defs("ParseTree", "parse_args"))
    assert found(table, "parse") == [("ParseTree", "a.py"), ("parse_args", "a.py")]  # first search builds
    table.add_file("b.py", defs("PARSER", "reparse"))  # kept current from now on
    assert found(table, "parse") == [
        ("PARSER", "b.py"),
        ("ParseTree", "a.py"),
        ("parse_args", "a.py"),
        ("reparse", "b.py"),
    ]
    assert found(table, "parser") == [("PARSER", "b.py")]
    table.remove_file("a.py", defs("ParseTree", "parse_args"))
    assert found(table, "parse") == [("PARSER", "b.py"), ("reparse", "b.py")]
    assert found(table, "parsetree") == [] and len(table) == 2


def test_prepare_then_update_matches_a_fresh_table() -> None:
    loaded = SymbolTable()
    loaded.add_file("a.py", defs("alpha", "Alphabet"))
    loaded.prepare()
    loaded.add_file("b.py", defs("ALPHA", "beta"))
    loaded.remove_file("a.py", defs("alpha", "Alphabet"))
    fresh = SymbolTable()
    fresh.add_file("b.py", defs("ALPHA", "beta"))
    for query in ("alpha", "ALPHA", "alp", "et", "Alphabet"):
        assert found(loaded, query) == found(fresh, query), query


def test_references_are_hits_line_by_line_and_count_towards_popularity() -> None:
    table = SymbolTable()
    table.add_file("lib.py", FileTags.pack([("parse", "function", 1, 3)], []))
    table.add_file("app.py", FileTags.pack([], [("parse", "call", [9, 4, 9]), ("run", "call", [2])]))
    hits, total = table.search("parse", 10)
    assert [(h.path, h.tag.is_definition, h.tag.line, h.tag.end_line) for h in hits] == [
        ("lib.py", True, 1, 3),
        ("app.py", False, 4, 4),
        ("app.py", False, 9, 9),
    ]
    assert total == 3 and table.ref_count("parse") == 2
    assert hits[0].score > 1100  # the definition is ranked up by the two references to it
    table.remove_file("app.py", FileTags.pack([], [("parse", "call", [4, 9]), ("run", "call", [2])]))
    assert table.ref_count("parse") == 0 and found(table, "run") == []
    assert table.search("parse", 10)[1] == 1 and table.search("parse", 10)[0][0].score == 1100


def test_a_name_in_several_files_and_spelled_several_ways_stays_findable_as_files_go() -> None:
    table = SymbolTable()
    table.add_file("a.py", defs("load"))
    table.prepare()
    table.add_file("b.py", defs("load", "Load"))
    table.add_file("c.py", defs("load"))
    assert found(table, "LOAD") == [("Load", "b.py"), ("load", "a.py"), ("load", "b.py"), ("load", "c.py")]
    assert table.files_with("load") == ["a.py", "b.py", "c.py"]
    table.remove_file("b.py", defs("load", "Load"))
    assert found(table, "load") == [("load", "a.py"), ("load", "c.py")]
    assert found(table, "Lo") == [("load", "a.py"), ("load", "c.py")]  # "Load" is gone from the prefix scan too
    table.remove_file("a.py", defs("load"))
    assert table.files_with("load") == ("c.py",) and table.definers("load") == ["c.py"]
    table.remove_file("c.py", defs("load"))
    assert found(table, "load") == [] and found(table, "oa") == [] and len(table) == 0


def test_any_sequence_of_adds_and_removes_after_preparing_matches_a_table_loaded_fresh() -> None:
    import random

    spellings = ["load", "Load", "LOAD", "loader", "reload", "parse", "Parse", "parse_args", "x", "run"]
    rng = random.Random(5)
    for _ in range(40):
        table = SymbolTable()
        files: dict[str, FileTags] = {}
        for step in range(rng.randrange(4, 14)):
            if step == 2:
                table.prepare()  # half the changes before the table is prepared, half after
            path = f"f{rng.randrange(5)}.py"
            if path in files and rng.random() < 0.5:
                table.remove_file(path, files.pop(path))
                continue
            if path in files:
                table.remove_file(path, files.pop(path))
            files[path] = FileTags.pack(
                [(n, "function", 1, 2) for n in rng.sample(spellings, 2)],
                [(n, "call", [3]) for n in rng.sample(spellings, 2)],
            )
            table.add_file(path, files[path])
        fresh = SymbolTable()
        for path, tags in files.items():
            fresh.add_file(path, tags)
        for name in spellings:
            assert sorted(table.files_with(name)) == sorted(fresh.files_with(name)), name
            assert found(table, name.lower()) == found(fresh, name.lower())
            assert table.ref_count(name) == fresh.ref_count(name)
        assert table.names() == fresh.names() and len(table) == len(fresh)
