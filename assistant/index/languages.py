"""Languages: the official grammar wheels and the tags query used for each.

Most wheels ship a ``TAGS_QUERY`` that compiles. Where one is missing or thin we add ours:

| language | wheel's query | ours |
| --- | --- | --- |
| TypeScript / TSX | interfaces, abstract members only | + JavaScript's query + types, enums, classes |
| C# | attribute is ``None`` | all of it |
| Bash | absent | function definitions, commands |
| Kotlin, Swift, Scala, Elixir, Zig, Haskell, Dart | absent | definitions and calls |
| Julia, Objective-C, Perl, Solidity, SQL, HCL, Groovy | absent (Perl's is ``None``) | definitions and calls |
| F# | a function's definition is its whole module | each declaration its own |
| Lua, OCaml | shipped | as shipped |

A ``.h`` is C++ when its text shows C++ (``language_for``), else C.
"""

from __future__ import annotations

import importlib
import re
import warnings
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


# Written for the grammar wheels that ship no tags query (checked against each wheel's node
# types; tests/index/test_tags.py has a file in each language). A definition's node is the whole
# declaration, so its lines are the definition's.
KOTLIN_TAGS = """
(class_declaration name: (identifier) @name) @definition.class
(object_declaration name: (identifier) @name) @definition.class
(function_declaration name: (identifier) @name) @definition.function
(type_alias type: (identifier) @name) @definition.type
(call_expression . (identifier) @name) @reference.call
(call_expression . (navigation_expression (identifier) @name .)) @reference.call
"""

SWIFT_TAGS = """
(class_declaration name: (type_identifier) @name) @definition.class
(class_declaration name: (user_type (type_identifier) @name)) @definition.class
(protocol_declaration name: (type_identifier) @name) @definition.interface
(function_declaration name: (simple_identifier) @name) @definition.function
(protocol_function_declaration name: (simple_identifier) @name) @definition.method
(typealias_declaration name: (type_identifier) @name) @definition.type
(call_expression . (simple_identifier) @name) @reference.call
(call_expression
  . (navigation_expression suffix: (navigation_suffix suffix: (simple_identifier) @name))) @reference.call
"""

SCALA_TAGS = """
(class_definition name: (identifier) @name) @definition.class
(object_definition name: (identifier) @name) @definition.class
(trait_definition name: (identifier) @name) @definition.interface
(enum_definition name: (identifier) @name) @definition.enum
(type_definition name: (type_identifier) @name) @definition.type
(function_definition name: (identifier) @name) @definition.function
(function_declaration name: (identifier) @name) @definition.function
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (field_expression field: (identifier) @name)) @reference.call
"""

ELIXIR_TAGS = """
(call target: (identifier) @_keyword (arguments . (alias) @name)
  (#any-of? @_keyword "defmodule" "defprotocol" "defimpl")) @definition.module
(call target: (identifier) @_keyword
  (arguments . [(identifier) @name (call target: (identifier) @name)
                (binary_operator left: (call target: (identifier) @name) operator: "when")])
  (#any-of? @_keyword "def" "defp" "defmacro" "defmacrop" "defguard" "defguardp" "defdelegate")) @definition.function
(call target: (identifier) @name
  (#not-match? @name "^(def|defp|defmacro|defmacrop|defguard|defguardp|defdelegate|defmodule|defprotocol)$")
  (#not-match? @name "^(defimpl|defstruct|defexception|import|alias|require|use|if|unless|case|cond)$")
  (#not-match? @name "^(with|for|raise|quote|unquote)$")) @reference.call
(call target: (dot right: (identifier) @name)) @reference.call
"""

ZIG_TAGS = """
(function_declaration name: (identifier) @name) @definition.function
(variable_declaration (identifier) @name (struct_declaration)) @definition.struct
(variable_declaration (identifier) @name (enum_declaration)) @definition.enum
(variable_declaration (identifier) @name (union_declaration)) @definition.type
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (field_expression member: (identifier) @name)) @reference.call
"""

HASKELL_TAGS = """
(function name: (variable) @name) @definition.function
(bind name: (variable) @name) @definition.function
(class_declarations (signature name: (variable) @name) @definition.method)
(data_type name: (name) @name) @definition.type
(newtype name: (name) @name) @definition.type
(type_synonym name: (name) @name) @definition.type
(class name: (name) @name) @definition.interface
(apply function: (variable) @name) @reference.call
"""

DART_TAGS = """
(class_definition name: (identifier) @name) @definition.class
(mixin_declaration (identifier) @name) @definition.class
(extension_declaration name: (identifier) @name) @definition.class
(enum_declaration name: (identifier) @name) @definition.enum
(type_alias . (type_identifier) @name) @definition.type
(function_signature name: (identifier) @name) @definition.function
(_ (identifier) @name . (selector (argument_part))) @reference.call
(selector (unconditional_assignable_selector (identifier) @name)) @reference.call
"""

JULIA_TAGS = """
(module_definition name: (identifier) @name) @definition.module
(struct_definition (type_head (identifier) @name)) @definition.struct
(struct_definition (type_head (binary_expression . (identifier) @name))) @definition.struct
(abstract_definition (type_head (identifier) @name)) @definition.type
(abstract_definition (type_head (binary_expression . (identifier) @name))) @definition.type
(function_definition (signature (call_expression . (identifier) @name))) @definition.function
(function_definition (signature (typed_expression (call_expression . (identifier) @name)))) @definition.function
(function_definition (signature (where_expression (call_expression . (identifier) @name)))) @definition.function
(macro_definition (signature (call_expression . (identifier) @name))) @definition.macro
(assignment . (call_expression . (identifier) @name)) @definition.function
(call_expression . (identifier) @name) @reference.call
(call_expression . (field_expression (identifier) @name .)) @reference.call
"""

OBJC_TAGS = """
(class_interface . (identifier) @name) @definition.class
(class_implementation . (identifier) @name) @definition.class
(protocol_declaration . (identifier) @name) @definition.interface
(method_declaration (identifier) @name) @definition.method
(method_definition (identifier) @name) @definition.method
(function_definition declarator: (function_declarator declarator: (identifier) @name)) @definition.function
(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator declarator: (identifier) @name))) @definition.function
(struct_specifier name: (type_identifier) @name body: (_)) @definition.struct
(message_expression method: (identifier) @name) @reference.call
(call_expression function: (identifier) @name) @reference.call
"""

PERL_TAGS = """
(package_statement name: (package) @name) @definition.module
(subroutine_declaration_statement name: (bareword) @name) @definition.function
(function_call_expression function: (function) @name) @reference.call
(method_call_expression method: (method) @name) @reference.call
"""

SOLIDITY_TAGS = """
(contract_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(library_declaration name: (identifier) @name) @definition.module
(struct_declaration name: (identifier) @name) @definition.struct
(enum_declaration name: (identifier) @name) @definition.enum
(event_definition name: (identifier) @name) @definition.type
(function_definition name: (identifier) @name) @definition.function
(modifier_definition name: (identifier) @name) @definition.function
(call_expression function: (expression (identifier) @name)) @reference.call
(call_expression function: (expression (member_expression property: (identifier) @name))) @reference.call
"""

SQL_TAGS = """
(create_table (object_reference name: (identifier) @name)) @definition.class
(create_view (object_reference name: (identifier) @name)) @definition.class
(create_function (object_reference name: (identifier) @name)) @definition.function
(invocation (object_reference name: (identifier) @name)) @reference.call
(relation (object_reference name: (identifier) @name)) @reference.class
"""

HCL_TAGS = """
(block (identifier) (string_lit (template_literal) @name) . (block_start)) @definition.module
(expression (variable_expr) . (get_attr (identifier) @name)) @reference.call
"""

GROOVY_TAGS = """
(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(method_declaration name: (identifier) @name) @definition.method
(function_definition name: (identifier) @name) @definition.function
(method_invocation name: (identifier) @name) @reference.call
"""


# The F# wheel's query captures a whole module as the definition of each of its functions, so a
# function's lines would be its module's: ours makes each declaration its own definition.
FSHARP_TAGS = """
(named_module name: (_) @name) @definition.module
(module_defn . (identifier) @name) @definition.module
(namespace name: (_) @name) @definition.module
(type_definition (_ (type_name type_name: (_) @name))) @definition.class
(exception_definition exception_name: (_) @name) @definition.class
(function_or_value_defn (function_declaration_left . (identifier) @name)) @definition.function
(member_defn (method_or_prop_defn name: (property_or_ident method: (identifier) @name))) @definition.method
(member_defn (method_or_prop_defn name: (property_or_ident . (identifier) @name .))) @definition.method
(application_expression . (long_identifier_or_op (identifier) @name)) @reference.call
(application_expression . (long_identifier_or_op (long_identifier (identifier) @name .))) @reference.call
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
        with warnings.catch_warnings():  # two wheels (Perl, Solidity) still hand over an int pointer
            warnings.filterwarnings("ignore", "int argument support is deprecated", DeprecationWarning)
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
        _spec("kotlin", "tree_sitter_kotlin", "language", KOTLIN_TAGS),
        _spec("swift", "tree_sitter_swift", "language", SWIFT_TAGS),
        _spec("scala", "tree_sitter_scala", "language", SCALA_TAGS),
        _spec("elixir", "tree_sitter_elixir", "language", ELIXIR_TAGS),
        _spec("lua", "tree_sitter_lua"),
        _spec("zig", "tree_sitter_zig", "language", ZIG_TAGS),
        _spec("haskell", "tree_sitter_haskell", "language", HASKELL_TAGS),
        _spec("dart", "tree_sitter_dart", "language", DART_TAGS),
        _spec("ocaml", "tree_sitter_ocaml", "language_ocaml"),
        _spec("ocaml_interface", "tree_sitter_ocaml", "language_ocaml_interface"),
        _spec("julia", "tree_sitter_julia", "language", JULIA_TAGS),
        _spec("objc", "tree_sitter_objc", "language", OBJC_TAGS),
        _spec("perl", "tree_sitter_perl", "language", PERL_TAGS),
        _spec("solidity", "tree_sitter_solidity", "language", SOLIDITY_TAGS),
        _spec("sql", "tree_sitter_sql", "language", SQL_TAGS),
        _spec("hcl", "tree_sitter_hcl", "language", HCL_TAGS),
        _spec("groovy", "tree_sitter_groovy", "language", GROOVY_TAGS),
        _spec("fsharp", "tree_sitter_fsharp", "language", FSHARP_TAGS),
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
    ".kt": "kotlin", ".kts": "kotlin",
    ".swift": "swift",
    ".scala": "scala", ".sc": "scala",
    ".ex": "elixir", ".exs": "elixir",
    ".lua": "lua",
    ".zig": "zig",
    ".hs": "haskell",
    ".dart": "dart",
    ".ml": "ocaml", ".mli": "ocaml_interface",
    ".jl": "julia",
    ".m": "objc",
    ".pl": "perl", ".pm": "perl",
    ".sol": "solidity",
    ".sql": "sql",
    ".tf": "hcl", ".hcl": "hcl", ".tfvars": "hcl",
    ".groovy": "groovy", ".gradle": "groovy",
    ".fs": "fsharp", ".fsx": "fsharp",
}  # fmt: skip


# what only C++ writes, at the start of a line of a header: a class, a namespace, a template,
# an access label, or the standard library by name
_CPP_HEADER = re.compile(
    rb"^[ \t]*(?:class[ \t]+\w+|namespace\b|template[ \t]*<|(?:public|private|protected)[ \t]*:)|\bstd::",
    re.MULTILINE,
)
SNIFF_BYTES = 65536


def language_for(path: str, text: bytes | None = None) -> str | None:
    """The language of a repo-relative path, by its extension (``None``: text only). A ``.h``
    is C unless its text (the first 64 KiB) shows C++: a class, a namespace, a template, an
    access label or ``std::``."""
    dot = path.rfind(".")
    if dot <= path.rfind("/"):
        return None
    extension = path[dot:].lower()
    if extension == ".h" and text is not None and _CPP_HEADER.search(text, 0, SNIFF_BYTES):
        return "cpp"
    return EXTENSIONS.get(extension)


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
      disabled (but not one a predicate reads, ``@_keyword``: disabled, its predicate passes), so
      tree-sitter does not record them; a definition's node is kept (its lines,
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
        # a capture a predicate reads (``@_keyword``) stays: disabled, its predicate passes
        if not (label.startswith(("name.", "definition.", "_"))):
            query.disable_capture(label)
    return language, query
