"""Code-aware tokens for ranked search, made by tantivy's analyzers (Rust, on the writer's
threads) for the index and by the same analyzers for a query, so both sides always agree.

- ``parts``: the words of identifiers, split (in Python, one pass per file: ``name_words``)
  at ``_``, lower→upper case changes, the end of a run of capitals before a capitalised word and
  between letters and digits (``read_file`` → ``read``, ``file``; ``parseHTTPHeader`` → ``pars``,
  ``http``, ``header``), lower-cased, common English words dropped, stemmed with Snowball's
  English stemmer (``redirects`` and ``redirected`` → ``redirect``). Used for paths and for the
  names the tree-sitter index holds (defined and referenced).
- ``ident``: identifiers whole (``read_file``, ``utf8decode``), lower-cased.
- ``words``: file text as words, split at every character that is not a letter or a digit
  (``read_file`` → ``read``, ``file``; ``parseHeader`` stays whole), lower-cased, common English
  words dropped, stemmed. The text of a file is the bulk of what is indexed, and this is the
  cheapest tokenizer tantivy has (about five times the speed of a regular expression one); the
  case-change words of its identifiers come from the names fields instead.
- ``whole``: names (and a path with every byte that cannot be in an identifier made a space
  first, ``bytes.translate``) split at spaces and lower-cased: identifiers whole, cheaply. A
  file's text is not indexed this way too: an identifier without ``_`` is its own word in
  ``words``, and one with ``_`` is whole among the names the file defines and references
  (indexing every body twice was a third of the ranked index's build, and recall did not need
  it: 0.57/0.82/0.89 without, 0.56/0.82/0.89 with).

Stemming was decided by measurement on the localization questions (recall@1 0.555 → 0.56,
recall@5 0.81 → 0.825 with it).
"""

from __future__ import annotations

import functools
import re

import tantivy

_STOP_TEXT = (
    "a an and are as at be been but by can could did do does for from had has have how if in into is it its "
    "not of on or should so than that the their them then there these they this those to was we were what "
    "when where which while who why will with would you your"
)
STOP_WORDS = frozenset(_STOP_TEXT.split())
_STOP = sorted(STOP_WORDS)
MAX_TOKEN = 64  # longer tokens (base64, hashes) carry no meaning and bloat the dictionary
# a word of an identifier: a run of capitals not followed by a lower-case letter (HTTP in
# HTTPHeader), an optional capital and lower-case letters (letters without ASCII case count as
# lower-case), digits, or other letters
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[^\W\d_A-Z]+|[0-9]+|[^\W\d_]+")
# bytes.translate table: ASCII letters, digits, `_` and every byte of a multi-byte UTF-8
# character kept, everything else a space
IDENT_BYTES = bytes(c if c >= 128 or c == 95 or chr(c).isalnum() else 32 for c in range(256))
# the same, lower-casing ASCII letters on the way (a file's body is lower-cased here, for free,
# rather than token by token by the analyzers)
BODY_BYTES = IDENT_BYTES.translate(bytes(range(256)).lower())


def _build(tokenizer: tantivy.Tokenizer, *, stop: bool, stem: bool, lower: bool = True) -> tantivy.TextAnalyzer:
    builder = tantivy.TextAnalyzerBuilder(tokenizer).filter(tantivy.Filter.remove_long(MAX_TOKEN))
    if lower:
        builder = builder.filter(tantivy.Filter.lowercase())
    if stop:
        builder = builder.filter(tantivy.Filter.custom_stopword(_STOP))
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


def analyzers() -> dict[str, tantivy.TextAnalyzer]:
    """The analyzers by the name the schema gives them (each index registers them). Every one
    splits at spaces or at what is not a letter or digit, the cheapest tokenizers tantivy has:
    identifiers are split into their words here, in Python, once per distinct name."""
    return {
        "parts": _build(tantivy.Tokenizer.whitespace(), stop=True, stem=True),
        "ident": _build(tantivy.Tokenizer.whitespace(), stop=False, stem=False),
        "words": _build(tantivy.Tokenizer.simple(), stop=True, stem=False, lower=False),
        "whole": _build(tantivy.Tokenizer.whitespace(), stop=False, stem=False),
    }


_ANALYZERS = analyzers()


def name_words(text: str) -> str:
    """``text`` with every identifier split into its words by spaces: at ``_``, lower→upper case
    changes, the end of a run of capitals before a capitalised word (``HTTPHeader`` → ``HTTP
    Header``) and between letters and digits (one pass over a whole file's names)."""
    return " ".join(_WORD.findall(text))


def parts(text: str) -> list[str]:
    """The ``parts`` tokens of ``text``: its identifiers' words, stemmed, common words dropped."""
    return list(_ANALYZERS["parts"].analyze(name_words(text)))


def idents(text: str) -> list[str]:
    """Whole identifiers of ``text``, lower-cased (one character and common words dropped)."""
    found = _ANALYZERS["ident"].analyze(identifier_text(text.encode("utf-8", "replace")))
    return [t for t in found if len(t) > 1 and t not in STOP_WORDS and not t.isdigit()]


@functools.lru_cache(maxsize=4096)
def stem_of(word: str) -> str:
    """The stem the ``parts`` analyzer gives one word (``""`` for a common word)."""
    found = _ANALYZERS["parts"].analyze(word)
    return found[0] if len(found) == 1 else ""


def identifier_text(text: bytes) -> str:
    """``text`` with everything that cannot be part of an identifier made a space."""
    return text.translate(IDENT_BYTES).decode("utf-8", "replace")


def body_text(text: bytes) -> str:
    """A file's text as the body field takes it: identifiers and words, lower-cased, separated
    by spaces (``words`` splits it further at ``_``)."""
    if text.isascii():
        return text.translate(BODY_BYTES).decode("ascii")
    return text.translate(IDENT_BYTES).decode("utf-8", "replace").lower()
