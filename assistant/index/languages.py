"""Languages: the official grammar wheels and the tags query used for each.

Most wheels ship a ``TAGS_QUERY`` that compiles. Where one is missing or thin we add ours:

| language | wheel's query | ours |
| --- | --- | --- |
| TypeScript / TSX | interfaces, abstract members only | + JavaScript's query + types, enums, classes |
| C# | attribute is ``None`` | all of it |
| Bash | absent | function definitions, commands |
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache

from tree_sitter import Language, Query

TS_EXTRA = """
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum
(class_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class
(function_declaration name: (identifier) @name) @definition.function
(method_definition name: (property_identifier) @name) @definition.method
(internal_module name: (identifier) @name) @definition.module
"""

CSHARP_TAGS = """
(class_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.struct
(record_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(property_declaration name: (identifier) @name) @definition.property
(delegate_declaration name: (identifier) @name) @definition.type
(namespace_declaration name: (_) @name) @definition.module
(invocation_expression function: (identifier) @name) @reference.call
(invocation_expression function: (member_access_expression name: (identifier) @name)) @reference.call
(object_creation_expression type: (identifier) @name) @reference.class
(base_list (identifier) @name) @reference.class
"""

BASH_TAGS = """
(function_definition name: (word) @name) @definition.function
(command name: (command_name (word) @name)) @reference.call
"""


@dataclass(frozen=True)
class LanguageSpec:
    """How to parse one language: its grammar loader and its tags query source."""

    name: str
    module: str
    loader: str
    queries: tuple[str, ...]  # each an attribute name on a module ("module:ATTR") or query text

    def load(self) -> Language:
        mod = importlib.import_module(self.module)
        return Language(getattr(mod, self.loader)())

    def query_source(self) -> str:
        parts = []
        for item in self.queries:
            if item.startswith("wheel:"):
                module, attr = item[len("wheel:") :].split(":")
                value = getattr(importlib.import_module(module), attr, None)
                if value:
                    parts.append(value)
            else:
                parts.append(item)
        return "\n".join(parts)


def _spec(name: str, module: str, loader: str = "language", *queries: str) -> LanguageSpec:
    return LanguageSpec(name, module, loader, queries or (f"wheel:{module}:TAGS_QUERY",))


LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        _spec("python", "tree_sitter_python"),
        _spec("javascript", "tree_sitter_javascript"),
        _spec(
            "typescript",
            "tree_sitter_typescript",
            "language_typescript",
            "wheel:tree_sitter_typescript:TAGS_QUERY",
            "wheel:tree_sitter_javascript:TAGS_QUERY",
            TS_EXTRA,
        ),
        _spec(
            "tsx",
            "tree_sitter_typescript",
            "language_tsx",
            "wheel:tree_sitter_typescript:TAGS_QUERY",
            "wheel:tree_sitter_javascript:TAGS_QUERY",
            TS_EXTRA,
        ),
        _spec("go", "tree_sitter_go"),
        _spec("rust", "tree_sitter_rust"),
        _spec("java", "tree_sitter_java"),
        _spec("c", "tree_sitter_c"),
        _spec("cpp", "tree_sitter_cpp"),
        _spec("ruby", "tree_sitter_ruby"),
        _spec("csharp", "tree_sitter_c_sharp", "language", CSHARP_TAGS),
        _spec("php", "tree_sitter_php", "language_php"),
        _spec("bash", "tree_sitter_bash", "language", BASH_TAGS),
    )
}

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".rb": "ruby",
    ".cs": "csharp",
    ".php": "php",
    ".sh": "bash", ".bash": "bash",
}  # fmt: skip


def language_for(path: str) -> str | None:
    """The language of a repo-relative path, by its extension (``None``: text only)."""
    dot = path.rfind(".")
    if dot <= path.rfind("/"):
        return None
    return EXTENSIONS.get(path[dot:].lower())


@cache
def compiled(name: str) -> tuple[Language, Query]:
    """The grammar and the compiled tags query of a language (once per process)."""
    spec = LANGUAGES[name]
    language = spec.load()
    return language, Query(language, spec.query_source())


_ROLE = re.compile(r"@((?:definition|reference)\.[\w.-]+)")
_NAME = re.compile(r"@name(?![\w.-])")
DEFINED_NAME = "name.definition"
REFERENCED_NAME = "name.reference."  # + the reference's kind


@cache
def tags_query(name: str) -> tuple[Language, Query]:
    """The language's tags query made for ``QueryCursor.captures`` (one pass returning only the
    nodes the index uses; per-match dictionaries cost more than the rest of extracting tags):

    - each pattern's ``@name`` is renamed by the pattern's role: ``@name.definition``, or
      ``@name.reference.<kind>`` (every pattern of the shipped queries has one role);
    - patterns without a role (the Go query's package and import names, Ruby's ``@ignore``)
      are dropped: they never made a tag;
    - captures nothing reads (a reference's whole call, a definition's ``@doc`` comments) are
      disabled, so tree-sitter does not record them; a definition's node is kept (its lines,
      and whether a function sits in a class).

    The query's matches are the shipped query's: predicates see the same captures by their
    new names. (``compiled`` keeps the query as shipped: the index benchmark's bare loop.)"""
    language, shipped = compiled(name)
    source = LANGUAGES[name].query_source().encode()
    patterns = []
    for index in range(shipped.pattern_count):
        text = source[shipped.start_byte_for_pattern(index) : shipped.end_byte_for_pattern(index)].decode()
        roles = set(_ROLE.findall(text))
        if not roles:
            continue
        role = min(roles)  # a pattern's roles are all definitions (of any kind) or one reference kind
        renamed = DEFINED_NAME if role.startswith("definition.") else "name." + role
        patterns.append(_NAME.sub("@" + renamed, text))
    query = Query(language, "\n".join(patterns))
    for capture in range(query.capture_count):
        label = query.capture_name(capture)
        if not (label.startswith("name.") or label.startswith("definition.")):
            query.disable_capture(label)
    return language, query
