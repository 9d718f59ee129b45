"""The trigram prefilter never changes what a text or regex search finds: over random files and
random literals and regexes (smart case, the letters whose case folds leave ASCII, non-ASCII
text, short queries), the search over the files it picks equals the search over every file;
and in a real index it picks few files for a rare literal."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.index import RepoIndex
from assistant.index.grams import Grams, tail
from assistant.index.text import Matcher, QueryError, search_text
from assistant.index.textstore import TextStore
from sandbox import Roots


def put(grams: Grams, store: TextStore, path: str, text: bytes) -> None:
    """A file's text and signature into the store, as the index puts them, and into ``grams``."""
    grams.put(path, store.put(text, tail(text)))


# letters that fold outside ASCII (k: the Kelvin sign, s: the long s), their non-ASCII partners,
# other cased non-ASCII letters, and the characters code is made of
ALPHABET = "abeksKSxyAB_ ().=\n\u017f\u212a\u00e9\u00c9\u03c3\u03a3\u0131I\u0130i0"
words = st.text(alphabet=ALPHABET, min_size=0, max_size=12)
texts = st.lists(words, min_size=0, max_size=40).map("".join)


def search(matcher: Matcher, files: dict[str, bytes], grams: Grams | None) -> tuple[object, ...]:
    if grams is not None and matcher.grams:
        keep = grams.candidates(list(matcher.grams))
        chosen = [(p, t) for p, t in sorted(files.items()) if p in keep]
    else:
        chosen = sorted(files.items())
    hits, total, truncated, _ = search_text(matcher, chosen, 1000)
    return tuple(hits), total, truncated


@st.composite
def queries(draw: st.DrawFn, files: dict[str, str]) -> tuple[str, bool]:
    """A literal or a regex, often built from a piece of a file (so that it matches), with its
    case sometimes changed."""
    source = draw(st.sampled_from(sorted(files.values()) or [""]))
    start = draw(st.integers(0, max(0, len(source) - 1)))
    piece = source[start : start + draw(st.integers(1, 10))] if source else ""
    folded = piece.lower().replace("\u017f", "s")  # matches the piece ignoring case, through the folds
    literal = draw(st.sampled_from([piece, folded, folded, piece.upper(), piece.swapcase(), draw(words)]))
    if not draw(st.booleans()):
        return literal, False
    escaped = "".join("\\" + ch if ch in "\\.^$|?*+()[]{}" else ch for ch in literal)
    shape = draw(st.sampled_from(["{}", "{}\\w*", "\\s*{}", "{}.?x", "(?i){}", "[a-z]{}", "{}|zz"]))
    return shape.format(escaped), True


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), contents=st.lists(texts, min_size=1, max_size=12))
def test_the_prefilter_finds_exactly_what_a_full_scan_finds(data: st.DataObject, contents: list[str]) -> None:
    files = {f"f{i}.txt": text for i, text in enumerate(contents)}
    encoded = {path: text.encode() for path, text in files.items()}
    grams, store = Grams(), TextStore(None, segment_bytes=1 << 16)  # small segments: several of them
    for path, text in encoded.items():
        put(grams, store, path, text)
    query, regex = data.draw(queries(files))
    try:
        matcher = Matcher.build(query, regex=regex)
    except QueryError:
        return
    assert search(matcher, encoded, grams) == search(matcher, encoded, None)


def test_a_file_that_changes_or_goes_is_found_as_it_is_now() -> None:
    grams, store = Grams(), TextStore(None)
    put(grams, store, "a.py", b"def parse_url(): pass\n")
    put(grams, store, "b.py", b"nothing here\n")
    matcher = Matcher.build("parse_url", regex=False)
    assert grams.candidates(list(matcher.grams)) == {"a.py"}
    put(grams, store, "a.py", b"renamed\n")
    put(grams, store, "b.py", b"x = parse_url\n")
    assert grams.candidates(list(matcher.grams)) == {"b.py"}
    grams.remove("b.py")
    assert grams.candidates(list(matcher.grams)) == set()


def test_a_rare_literal_reads_few_files_of_a_real_index(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for i in range(400):
        body = "".join(f"def handler_{i}_{j}(request, response):\n    return request.get({j})\n" for j in range(20))
        (repo / f"mod_{i}.py").write_text(body)
    (repo / "mod_17.py").write_text((repo / "mod_17.py").read_text() + "RETRY_BUDGET_SECONDS = 30\n")
    roots = Roots([str(repo)])
    index = RepoIndex(roots, roots.default, str(tmp_path / "cache"))
    try:
        index.build()
        for query, regex in (("RETRY_BUDGET", False), ("retry_budget", False), (r"RETRY_\w+_SECONDS", True)):
            matcher = Matcher.build(query, regex=regex)
            read = [path for path, _ in index.texts(None, matcher.grams)]
            assert "mod_17.py" in read and len(read) <= 8, (query, len(read))
            everything = list(index.texts(None))
            assert (
                search_text(matcher, index.texts(None, matcher.grams), 50)[:2]
                == search_text(matcher, everything, 50)[:2]
            )
    finally:
        index.close()
        roots.close()
