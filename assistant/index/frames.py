"""Stack-trace frames in a query: a pasted traceback, panic or error log names the files and
functions the error went through, which is better evidence than any of its words.

Recognised (anywhere in the text, any number of frames):

- Python: ``File "pkg/mod.py", line 12, in parse``
- Java, Kotlin, Scala, Groovy: ``at com.acme.Parser.parse(Parser.java:12)``
- JavaScript / TypeScript: ``at parse (src/parser.ts:12:5)``, ``at src/parser.js:12:5``
- Ruby: ``lib/acme/parser.rb:12:in `parse'``
- Go: ``/home/u/acme/parser.go:12 +0x1d`` (with the function on the line before)
- Rust, C, C++, C#, PHP, Swift, …: any ``path.ext:LINE`` whose extension is a source language's

The patterns are RE2's (linear: a query may be a long pasted text). A frame's path is matched
to the repository's files by its last components (a frame from
another machine has another prefix); frames in installed libraries (``site-packages``,
``node_modules``, the standard library) are not the repository's and are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import re2

from .languages import EXTENSIONS

_SOURCE_EXTENSIONS = "|".join(sorted({ext[1:] for ext in EXTENSIONS}, key=len, reverse=True))
_PYTHON: Any = re2.compile(r'File "(?P<path>[^"\n]+)", line \d+(?:, in (?P<func>[\w<>.$]+))?')
_JVM: Any = re2.compile(
    r"\bat (?P<qual>[\w$.]+)\.(?P<func>[\w$<>]+)\((?P<file>[\w$-]+\.(?:java|kt|scala|groovy)):\d+\)"
)
_JS: Any = re2.compile(r"\bat (?:(?:async )?(?P<func>[\w$.<>\[\] ]+?) \()?(?:file://)?(?P<path>[^\s()]+?):\d+:\d+\)?")
_RUBY: Any = re2.compile(r"(?P<path>[^\s:'\"`(]+\.rb):\d+:in [`'](?:[\w:]+[#.])?(?P<func>[\w?!]+)'")
_GO_FUNC: Any = re2.compile(r"^\s*(?:[\w./-]+/)?[\w-]+\.(?:\(\*?[\w]+\)\.)?(?P<func>\w+)\(")
_ANY: Any = re2.compile(rf"(?P<path>[\w./\\@+-]*[\w-]\.(?:{_SOURCE_EXTENSIONS})):\d+\b")
_LIBRARY = re.compile(
    r"(^|[/\\])(site-packages|dist-packages|node_modules|\.cargo[/\\]registry|rustc[/\\][0-9a-f]+|"
    r"lib[/\\]python\d[\d.]*|go[/\\]src[/\\]runtime|<frozen [^>]*>|internal[/\\](?:modules|process))([/\\]|$)"
)
_NOT_A_NAME = {"<module>", "<lambda>", "<init>", "<clinit>", "<anonymous>", "Object", "new", "main", "run", "call"}


@dataclass(frozen=True)
class Frame:
    path: str  # as the trace spells it, ``/`` separated
    function: str | None


def frames(text: str) -> list[Frame]:
    """The frames a query holds, in the order they appear, each once (none in plain prose)."""
    if ":" not in text and "File " not in text:
        return []
    found: dict[Frame, int] = {}  # frame -> where it first appears

    def add(at: int, path: str, function: str | None) -> None:
        path = path.replace("\\", "/")
        if _LIBRARY.search(path):
            return
        if function is not None:
            function = function.rsplit(".", 1)[-1]
            if function in _NOT_A_NAME or not function.isidentifier():
                function = None
        frame = Frame(path, function)
        found[frame] = min(at, found.get(frame, at))

    for match in _PYTHON.finditer(text):
        add(match.start(), match.group("path"), match.group("func"))
    for match in _JVM.finditer(text):
        package = match.group("qual").split(".")[:-1]  # com.acme.Parser -> com/acme/Parser.java
        add(match.start(), "/".join([*[p for p in package if p.islower()], match.group("file")]), match.group("func"))
    for match in _JS.finditer(text):
        if "." in match.group("path").rsplit("/", 1)[-1]:
            add(match.start(), match.group("path"), match.group("func"))
    for match in _RUBY.finditer(text):
        add(match.start(), match.group("path"), match.group("func"))
    for match in _ANY.finditer(text):
        path = match.group("path")
        function = None
        if path.endswith(".go"):  # a Go frame's function is on the line before its path
            start = text.rfind("\n", 0, match.start())
            line = text[text.rfind("\n", 0, max(start, 0)) + 1 : max(start, 0)]
            go = _GO_FUNC.search(line)
            function = go.group("func") if go else None
        add(match.start(), path, function)
    # a frame found by a specific pattern and again by the generic one (its file name alone)
    named = [f.path for f in found if f.function]
    kept = [f for f in found if f.function or not any(n == f.path or n.endswith("/" + f.path) for n in named)]
    return sorted(kept, key=found.__getitem__)


def matching_files(frame_path: str, paths: dict[str, list[str]]) -> list[str]:
    """The repository's files a frame's path names: those sharing its longest tail of path
    components (at least the file name). ``paths``: file name -> the repository paths with it."""
    components = [c for c in frame_path.split("/") if c and c != "."]
    if not components:
        return []
    candidates = paths.get(components[-1], [])
    best: list[str] = []
    best_depth = 0
    for candidate in candidates:
        theirs = candidate.split("/")
        depth = 0
        while depth < min(len(theirs), len(components)) and theirs[-1 - depth] == components[-1 - depth]:
            depth += 1
        if depth > best_depth:
            best, best_depth = [candidate], depth
        elif depth == best_depth:
            best.append(candidate)
    return best
