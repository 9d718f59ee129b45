"""The symbol table on its own: its lookup structures are built from a bulk load by the first
search, then kept current file by file; both ways must find the same names."""

from __future__ import annotations

from assistant.index.symbols import SymbolTable
from assistant.index.tags import Tag, Tags


def defs(*names: str) -> Tags:
    return tuple(sorted((Tag(name, "function", True, i + 1, i + 1) for i, name in enumerate(names)), key=lambda t: t.name))


def found(table: SymbolTable, query: str) -> list[tuple[str, str]]:
    hits, _ = table.search(query, 50)
    return sorted((h.tag.name, h.path) for h in hits)


def test_names_loaded_before_and_after_the_first_search_are_found_alike() -> None:
    table = SymbolTable()
    table.add_file("a.py", defs("ParseTree", "parse_args"))
    assert found(table, "parse") == [("ParseTree", "a.py"), ("parse_args", "a.py")]  # first search builds
    table.add_file("b.py", defs("PARSER", "reparse"))  # kept current from now on
    assert found(table, "parse") == [("PARSER", "b.py"), ("ParseTree", "a.py"), ("parse_args", "a.py"), ("reparse", "b.py")]
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
