"""The one-regex shortcut of an ignore file's rules answers every path exactly as pathspec's
pattern-by-pattern check does: over random ignore files (wildcards, ``**``, classes, anchors,
negations, directory-only patterns, escapes, comments, names that are not UTF-8) and random
paths, files and directories."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox._ignore import _compile

piece = st.sampled_from(
    ["a", "b", "src", "build", "*", "**", "?", "[ab]", "[!a]", ".env", "x.py", "\\#c", "é", "\udcff"]
)
line = st.tuples(
    st.sampled_from(["", "!", "/", "#", "\\!"]),
    st.lists(piece, min_size=1, max_size=4).map("/".join),
    st.sampled_from(["", "/", " ", "\\ "]),
).map("".join)
ignore_file = st.lists(line, min_size=1, max_size=8).map("\n".join)
name = st.sampled_from(["a", "b", "src", "build", "x.py", ".env", "#c", "ab", "bb", "é", "\udcff", "a b"])
path = st.tuples(st.lists(name, min_size=1, max_size=5).map("/".join), st.sampled_from(["", "/"])).map("".join)


@settings(max_examples=600, deadline=None)
@given(text=ignore_file, paths=st.lists(path, min_size=1, max_size=20))
def test_the_shortcut_agrees_with_every_pattern_in_turn(text: str, paths: list[str]) -> None:
    rules = _compile(text.encode("utf-8", "surrogateescape"))
    if rules is None:
        return
    for one in paths:
        assert rules.include(one) == rules.spec.check_file(one).include, (text, one)


def test_ordinary_ignore_files_get_the_shortcut() -> None:
    rules = _compile(b"*.pyc\nbuild/\n!keep.pyc\n/dist\ndocs/**/tmp\n# a comment\n\n[a-c]?.log\n")
    assert rules is not None and rules.any is not None
    assert [rules.include(p) for p in ("a.pyc", "keep.pyc", "x/build/", "src/main.py")] == [True, False, True, None]
