"""Tags for each language: a function and a class (or its nearest equivalent) are found."""

from __future__ import annotations

import pytest

from assistant.index import LANGUAGES, extract, language_for

FIXTURES: dict[str, tuple[str, str, str, str, str]] = {
    # language: (file name, source, function name, class-like name, class-like kind)
    "python": (
        "a.py",
        "class Greeter:\n    def greet(self):\n        return helper()\n\ndef helper():\n    return 1\n",
        "helper",
        "Greeter",
        "class",
    ),
    "javascript": (
        "a.js",
        "class Greeter {\n  greet() { return helper(); }\n}\nfunction helper() { return 1; }\n",
        "helper",
        "Greeter",
        "class",
    ),
    "typescript": (
        "a.ts",
        "interface Shape { area(): number }\nclass Greeter {\n  greet(): string { return helper(); }\n}\n"
        "function helper(): string { return 'x'; }\ntype Id = string;\n",
        "helper",
        "Greeter",
        "class",
    ),
    "tsx": (
        "a.tsx",
        "class Greeter {\n  greet() { return <div/>; }\n}\nfunction helper(): number { return 1; }\n",
        "helper",
        "Greeter",
        "class",
    ),
    "go": (
        "a.go",
        "package main\n\ntype Greeter struct{}\n\nfunc (g Greeter) Greet() string { return helper() }\n\n"
        'func helper() string { return "x" }\n',
        "helper",
        "Greeter",
        "type",
    ),
    "rust": (
        "a.rs",
        "struct Greeter;\n\nimpl Greeter {\n    fn greet(&self) -> u32 { helper() }\n}\n\nfn helper() -> u32 { 1 }\n",
        "helper",
        "Greeter",
        "class",
    ),
    "java": (
        "A.java",
        "class Greeter {\n    int greet() { return helper(); }\n    static int helper() { return 1; }\n}\n",
        "helper",
        "Greeter",
        "class",
    ),
    "c": (
        "a.c",
        "struct greeter { int n; };\n\nint helper(void) { return 1; }\n\nint main(void) { return helper(); }\n",
        "helper",
        "greeter",
        "class",
    ),
    "cpp": (
        "a.cpp",
        "class Greeter {\n public:\n  int greet();\n};\n\nint helper() { return 1; }\n",
        "helper",
        "Greeter",
        "class",
    ),
    "ruby": (
        "a.rb",
        "class Greeter\n  def greet\n    helper\n  end\nend\n\ndef helper\n  1\nend\n",
        "helper",
        "Greeter",
        "class",
    ),
    "csharp": (
        "A.cs",
        "namespace Demo {\n  class Greeter {\n    int Helper() { return 1; }\n"
        "    int Greet() { return Helper(); }\n  }\n}\n",
        "Helper",
        "Greeter",
        "class",
    ),
    "php": (
        "a.php",
        "<?php\nclass Greeter {\n  function greet() { return helper(); }\n}\nfunction helper() { return 1; }\n",
        "helper",
        "Greeter",
        "class",
    ),
    "bash": ("a.sh", "#!/bin/bash\nhelper() {\n  echo hi\n}\nhelper\n", "helper", "", ""),
    "kotlin": (
        "a.kt",
        "package demo\n\nimport demo.util.Thing\n\nclass Greeter(val name: String) {\n"
        '    fun greet(): String = helper()\n}\n\nfun helper(): String {\n    return "x"\n}\n',
        "helper",
        "Greeter",
        "class",
    ),
    "swift": (
        "a.swift",
        "class Greeter {\n    func greet() -> String { return helper() }\n}\n\n"
        'func helper() -> String {\n    return "x"\n}\n',
        "helper",
        "Greeter",
        "class",
    ),
    "scala": (
        "a.scala",
        "package demo\n\ntrait Shape { def area(): Double }\n\nclass Greeter(name: String) {\n"
        '  def greet(): String = helper()\n}\n\ndef helper(): String = "x"\n',
        "helper",
        "Shape",
        "interface",
    ),
    "elixir": (
        "a.ex",
        "defmodule Greeter do\n  def greet(name) do\n    helper(name)\n  end\n\n  defp helper(name), do: name\nend\n",
        "helper",
        "Greeter",
        "module",
    ),
    "lua": (
        "a.lua",
        "local Greeter = {}\n\nfunction Greeter.greet(self)\n  return helper()\nend\n\n"
        "function helper()\n  return 1\nend\n",
        "helper",
        "",
        "",
    ),
    "zig": (
        "a.zig",
        "const Greeter = struct {\n    fn greet(self: Greeter) u32 {\n        return helper();\n    }\n};\n\n"
        "fn helper() u32 {\n    return 1;\n}\n",
        "helper",
        "Greeter",
        "struct",
    ),
    "haskell": (
        "a.hs",
        "module Demo where\n\ndata Greeter = Greeter String\n\nhelper :: Int -> Int\nhelper x = x + 1\n\n"
        "greet :: Int -> Int\ngreet y = helper y\n",
        "helper",
        "Greeter",
        "type",
    ),
    "dart": (
        "a.dart",
        'class Greeter {\n  String greet() {\n    return helper();\n  }\n}\n\nString helper() {\n  return "x";\n}\n',
        "helper",
        "Greeter",
        "class",
    ),
    "ocaml": (
        "a.ml",
        "type greeter = { name : string }\n\nlet helper x = x\n\nlet greet g = helper g\n",
        "helper",
        "greeter",
        "type",
    ),
    "ocaml_interface": (
        "a.mli",
        "type greeter\n\nmodule type Shape = sig\n  val area : greeter -> float\nend\n\nval helper : int -> int\n",
        "",
        "Shape",
        "interface",
    ),
    "julia": (
        "a.jl",
        "struct Greeter\n    name::String\nend\n\nfunction helper(x)\n    return x + 1\nend\n\n"
        "greet(g::Greeter) = helper(1)\n",
        "helper",
        "Greeter",
        "struct",
    ),
    "objc": (
        "a.m",
        "@implementation Greeter\n- (NSString *)greet {\n    return helper();\n}\n@end\n\n"
        'NSString *helper(void) {\n    return @"x";\n}\n',
        "helper",
        "Greeter",
        "class",
    ),
    "perl": (
        "a.pl",
        "package Greeter;\n\nsub greet {\n    return helper();\n}\n\nsub helper {\n    return 1;\n}\n\n1;\n",
        "helper",
        "Greeter",
        "module",
    ),
    "solidity": (
        "a.sol",
        "pragma solidity ^0.8.0;\n\ncontract Greeter {\n    function greet() public returns (uint) {\n"
        "        return helper();\n    }\n    function helper() internal returns (uint) { return 1; }\n}\n",
        "helper",
        "Greeter",
        "class",
    ),
    "sql": (
        "a.sql",
        "CREATE TABLE greeter (id INT, name TEXT);\n\n"
        "CREATE FUNCTION helper() RETURNS integer AS $$ SELECT 1 $$ LANGUAGE sql;\n\n"
        "SELECT helper() FROM greeter;\n",
        "helper",
        "greeter",
        "class",
    ),
    "hcl": (
        "main.tf",
        'variable "region" {\n  type = string\n}\n\nresource "aws_instance" "web" {\n  region = var.region\n}\n',
        "",
        "web",
        "module",
    ),
    "groovy": (
        "a.groovy",
        "class Greeter {\n    String greet() {\n        return helper()\n    }\n}\n\n"
        'def helper() {\n    return "x"\n}\n',
        "helper",
        "Greeter",
        "class",
    ),
    "fsharp": (
        "a.fs",
        "module Demo\n\ntype Greeter(name: string) =\n    member this.Greet() = helper 1\n\nlet helper x = x + 1\n",
        "helper",
        "Greeter",
        "class",
    ),
}


def test_every_language_has_a_fixture() -> None:
    assert set(FIXTURES) == set(LANGUAGES)


@pytest.mark.parametrize("language", sorted(FIXTURES))
def test_definitions_found(language: str) -> None:
    filename, source, function, cls, cls_kind = FIXTURES[language]
    assert language_for(filename) == language
    tags = extract(language, source.encode()).every()
    definitions = {(t.name, t.kind) for t in tags if t.is_definition}
    if function:
        assert any(name == function and kind in ("function", "method") for name, kind in definitions), definitions
    if cls:
        assert (cls, cls_kind) in definitions, definitions
    lines = source.splitlines()
    for tag in tags:
        assert 1 <= tag.line <= tag.end_line <= len(lines)
    for name in (function, cls):
        if name:  # the range starts at the definition's first line
            found = next(t for t in tags if t.is_definition and t.name == name)
            assert name in lines[found.line - 1]


@pytest.mark.parametrize(
    "language",
    [
        *("python", "javascript", "bash", "csharp", "ruby", "kotlin", "swift", "scala", "elixir", "lua"),
        *("zig", "haskell", "dart", "ocaml", "julia", "objc", "perl", "solidity", "sql", "groovy", "fsharp"),
    ],
)
def test_references_found(language: str) -> None:
    _, source, function, _, _ = FIXTURES[language]
    tags = extract(language, source.encode()).every()
    assert any(t.name == function and not t.is_definition for t in tags), tags


def test_python_methods_are_methods_and_functions_are_functions() -> None:
    tags = {t.name: t.kind for t in extract("python", FIXTURES["python"][1].encode()).every() if t.is_definition}
    assert tags == {"Greeter": "class", "greet": "method", "helper": "function"}


def test_nested_decorated_and_top_level_functions_get_the_right_kind() -> None:
    source = (
        "def outer():\n"
        "    def inner():\n"
        "        pass\n"
        "class Box:\n"
        "    @property\n"
        "    def size(self):\n"
        "        def twice(n):\n"
        "            return 2 * n\n"
        "        return twice(1)\n"
    )
    kinds = {t.name: t.kind for t in extract("python", source.encode()).every() if t.is_definition}
    assert kinds == {"outer": "function", "inner": "function", "Box": "class", "size": "method", "twice": "function"}


def test_a_reference_is_the_line_of_its_name_and_each_is_found_once_per_line() -> None:
    source = "rows = (session\n    .query(Row)\n    .filter(ok))\nprint(len(x), len(y))\n"
    refs = [(t.name, t.line, t.end_line) for t in extract("python", source.encode()).every() if not t.is_definition]
    assert sorted(refs) == [("filter", 3, 3), ("len", 4, 4), ("print", 4, 4), ("query", 2, 2)]
    definition = next(t for t in extract("python", source.encode()).every() if t.is_definition)
    assert (definition.name, definition.line, definition.end_line) == ("rows", 1, 3)


def test_typescript_gets_types_and_classes_beyond_the_wheel_query() -> None:
    tags = {
        (t.name, t.kind) for t in extract("typescript", FIXTURES["typescript"][1].encode()).every() if t.is_definition
    }
    assert {("Shape", "interface"), ("Id", "type"), ("Greeter", "class"), ("greet", "method")} <= tags


def test_unknown_extensions_are_text_only() -> None:
    assert language_for("README.md") is None
    assert language_for("Makefile") is None
    assert language_for("dir.py/file") is None


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_each_pattern_of_a_tags_query_has_one_role_so_its_names_can_be_renamed_by_it(language: str) -> None:
    # the index runs each query with ``@name`` renamed by its pattern's role (one pass of
    # captures); a pattern mixing definitions and references, or two kinds of reference,
    # would lose tags there
    from tree_sitter import Query

    from assistant.index.languages import _ROLE, compiled, tags_query

    _, shipped = compiled(language)
    source = LANGUAGES[language].query_source().encode()
    for index in range(shipped.pattern_count):
        text = source[shipped.start_byte_for_pattern(index) : shipped.end_byte_for_pattern(index)].decode()
        roles = set(_ROLE.findall(text))
        references = {r for r in roles if r.startswith("reference.")}
        assert not references or (roles == references and len(references) == 1), text
    _, query = tags_query(language)
    assert isinstance(query, Query)
    labels = {query.capture_name(i) for i in range(query.capture_count)}
    assert "name" not in labels  # every name was renamed by its role


def test_a_rust_function_in_a_module_is_a_function_and_in_an_impl_a_method() -> None:
    source = b"mod tests {\n    fn check() {}\n}\nstruct S;\nimpl S {\n    fn go(&self) {}\n}\n"
    kinds = {t.name: t.kind for t in extract("rust", source).every() if t.is_definition}
    assert kinds["check"] == "function" and kinds["go"] == "method"


def test_packed_tags_give_back_what_was_packed_and_survive_the_cache_encoding() -> None:
    import msgspec

    from assistant.index.tags import FileTags

    tags = FileTags.pack(
        [("run", "function", 10, 20), ("Box", "class", 1, 30), ("run", "method", 3, 5)],
        [("run", "call", [40, 12, 40]), ("len", "call", [7]), ("run", "class", [50])],
    )
    assert tags.names == ("Box", "len", "run") and tags.definition_count == 3
    assert [(t.name, t.kind, t.line, t.end_line) for t in tags.definitions] == [
        ("Box", "class", 1, 30),
        ("run", "method", 3, 5),
        ("run", "function", 10, 20),
    ]
    assert [(t.kind, t.is_definition, t.line) for t in tags.named("run")] == [
        ("method", True, 3),
        ("function", True, 10),
        ("call", False, 12),  # each line once, ascending
        ("call", False, 40),
        ("class", False, 50),
    ]
    assert tags.named("missing") == [] and tags.named("len")[0].line == 7
    assert tags.defines("run") and not tags.defines("len") and not tags.defines("zzz")
    assert tags.reference_counts() == [("len", 1), ("run", 2), ("run", 1)]  # by name, then kind
    assert tags.referenced_names() == ["len", "run", "run"]
    assert FileTags.pack([("f", "function", 1, 2)], []).reference_counts() == []
    assert tags.defined_names() == {"Box", "run"}
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(tags), type=FileTags)
    assert decoded.every() == tags.every() and len(tags.every()) == 7


def test_tags_of_a_file_past_65535_lines_keep_their_line_numbers() -> None:
    from assistant.index.tags import FileTags

    narrow = FileTags.pack([("a", "function", 1, 9)], [("a", "call", [65535])])
    wide = FileTags.pack([("a", "function", 70_000, 70_010)], [("a", "call", [3, 100_000])])
    assert not narrow.wide and wide.wide
    assert [(t.line, t.end_line) for t in narrow.named("a")] == [(1, 9), (65535, 65535)]
    assert [(t.line, t.end_line) for t in wide.named("a")] == [(70_000, 70_010), (3, 3), (100_000, 100_000)]
    assert wide.definition_count == narrow.definition_count == 1


def test_a_typedef_struct_is_one_definition_of_the_kind_its_query_names_first() -> None:
    # captures come back in the order matches finish, not in the order of the text: here the
    # struct's name comes after the typedef's, and the kind must not depend on that
    source = (
        b'#ifdef __cplusplus\nextern "C" {\n#endif\n\ntypedef struct point {\n    int x;\n} point;\n\n'
        b"int point_wait(point *p, long timeout);\n\nvoid point_wakeup(point *p);\n\n"
        b"void point_init(point *p);\nvoid point_destroy(point *p);\n\n#ifdef __cplusplus\n}\n#endif\n"
    )
    definitions = [(t.name, t.kind, t.line) for t in extract("c", source).every() if t.name == "point"]
    assert definitions == [("point", "class", 5)]


def test_at_least_25_languages_have_symbols() -> None:
    assert len({spec.module for spec in LANGUAGES.values()}) >= 25  # one grammar wheel each


def test_a_header_that_is_cpp_is_parsed_as_cpp_and_a_c_header_as_c() -> None:
    cpp = b"#pragma once\nnamespace demo {\nclass Greeter {\n public:\n  int greet();\n};\n}\n"
    c = b'#ifdef __cplusplus\nextern "C" {\n#endif\nstruct greeter { int n; };\nint greet(struct greeter *g);\n'
    assert language_for("include/greeter.h", cpp) == "cpp"
    assert language_for("include/greeter.h", c) == "c"
    assert language_for("include/greeter.h") == "c"  # without its text: by the extension
    definitions = {(t.name, t.kind) for t in extract("cpp", cpp).every() if t.is_definition}
    assert ("Greeter", "class") in definitions


def test_an_elixir_def_is_a_definition_and_its_keywords_are_not_references() -> None:
    tags = extract("elixir", FIXTURES["elixir"][1].encode()).every()
    assert {(t.name, t.line, t.end_line) for t in tags if t.is_definition and t.kind == "function"} == {
        ("greet", 2, 4),
        ("helper", 6, 6),
    }
    references = {t.name for t in tags if not t.is_definition}
    assert "helper" in references and not references & {"def", "defp", "defmodule", "do"}


def test_an_fsharp_function_spans_its_own_lines_not_its_module() -> None:
    tags = extract("fsharp", FIXTURES["fsharp"][1].encode()).every()
    helper = next(t for t in tags if t.is_definition and t.name == "helper")
    assert (helper.line, helper.end_line) == (6, 6)
