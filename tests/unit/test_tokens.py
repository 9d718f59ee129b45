"""Code-aware tokens: identifiers split into their words and kept whole, common words dropped,
words stemmed, non-ASCII letters kept; the index and a query use the same analyzers."""

from __future__ import annotations

import pytest

from assistant.index.tokens import analyzers, body_text, identifier_text, idents, parts, stem_of


@pytest.mark.parametrize(
    "text,words",
    [
        ("read_file", ["read", "file"]),
        ("parseHeader", ["pars", "header"]),
        ("utf8Decode2", ["utf", "8", "decod", "2"]),
        ("__init__", ["init"]),
        ("naïveBayes", ["naïv", "bay"]),
        ("größe", ["größe"]),
        ("parseHTTPHeader", ["pars", "http", "header"]),
        ("XMLHttpRequest", ["xml", "http", "request"]),
    ],
)
def test_identifiers_split_at_underscores_case_changes_and_digits(text: str, words: list[str]) -> None:
    assert parts(text) == words


def test_words_are_stemmed_so_forms_of_a_word_meet() -> None:
    assert parts("redirects") == parts("redirected") == parts("redirect") == ["redirect"]
    assert parts("paths confined") == ["path", "confin"]


def test_common_english_words_are_dropped() -> None:
    assert parts("how are the paths of this repo confined") == ["path", "repo", "confin"]
    assert idents("the read_file of it") == ["read_file"]


def test_a_stem_is_what_the_parts_analyzer_gives_one_word() -> None:
    assert stem_of("redirects") == stem_of("redirecting") == "redirect"
    assert stem_of("the") == ""


def test_whole_identifiers_are_kept_lower_cased() -> None:
    assert idents("raise_for_status parseHTTPHeader") == ["raise_for_status", "parsehttpheader"]


def test_file_text_is_indexed_as_words_and_names_as_whole_identifiers() -> None:
    every = analyzers()
    source = b"def Read_File(path):  # naive parseHeader\n"
    body = body_text(source)  # lower-cased, punctuation gone, in one pass
    # the body is not stemmed (a query's stemmed words are looked up in its forms instead); an
    # identifier without `_` is its own word there, one with `_` is whole among the names
    assert every["words"].analyze(body) == ["def", "read", "file", "path", "naive", "parseheader"]
    assert every["whole"].analyze(identifier_text(source)) == ["def", "read_file", "path", "naive", "parseheader"]
    assert body_text("Größe = Straße".encode()).split() == ["größe", "straße"]  # non-ASCII lower-cased too


def test_non_ascii_identifiers_survive_the_byte_translation() -> None:
    assert analyzers()["whole"].analyze(identifier_text("größe = Straße(東京)".encode())) == ["größe", "straße", "東京"]
