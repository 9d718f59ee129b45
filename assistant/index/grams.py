"""Trigram signatures: which files may hold a literal, known without reading them.

Each file's text gets a bitmap of its trigrams (three consecutive bytes, ASCII letters lower-
cased, hashed to one bit): about one bit per two bytes of text, rounded to a power of two
(512 to 262,144 bits), so a file's signature costs ~1/16 of its text and, for source code,
about two bits in five are set. The text store keeps it right after the text: mapped, not on
the heap, and kept across restarts with the text. A text or regex search that requires a literal
(the query itself, or the literal RE2 must see in every match) needs every trigram of it, so
only files whose signature has all those bits are scanned: one in ~250 unrelated files passes
for a six-trigram literal. A file is never left out that the scan would have matched: a missing
bit means a missing trigram. A query checks all the files of one size in one segment with a
few numpy gathers, reading each signature's bytes in place.

Ignoring case, RE2 matches ``k`` with the Kelvin sign and ``s`` with the long s (their only
case folds outside ASCII), and any non-ASCII letter with its other cases: trigrams holding
those bytes say nothing about such a search and are not used for it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .textstore import Segment, Where

MIN_BITS_LOG = 9
MAX_BITS_LOG = 18
_MULTIPLIER = np.uint32(0x9E3779B1)  # Fibonacci hashing: the top bits of trigram x this
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[ord("A") : ord("Z") + 1] += 32
_FOLDS_OUTSIDE_ASCII = frozenset(b"kKsS")


def _trigrams(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint32]:
    low = _LOWER[data]
    out: npt.NDArray[np.uint32] = low[:-2].astype(np.uint32)
    out <<= 16
    out |= low[1:-1].astype(np.uint32) << 8
    out |= low[2:]
    return out


def _bits_log(size: int) -> int:
    return min(MAX_BITS_LOG, max(MIN_BITS_LOG, (size // 2).bit_length()))


def signature(text: bytes) -> tuple[int, bytes]:
    """(log2 of its bits, the bitmap) of a text of three bytes or more."""
    log = _bits_log(len(text))
    hashed = _trigrams(np.frombuffer(text, dtype=np.uint8))
    hashed *= _MULTIPLIER
    hashed >>= 32 - log
    bits = np.zeros(1 << log, dtype=np.bool_)
    bits[hashed] = True
    return log, np.packbits(bits, bitorder="little").tobytes()


def needles(literal: bytes, ignore_case: bool) -> list[int]:
    """The trigrams (as numbers) a text must hold to contain ``literal``: all of them, or
    ignoring case those of ASCII bytes other than k and s."""
    if len(literal) < 3:
        return []
    usable = [
        not ignore_case or all(b < 0x80 and b not in _FOLDS_OUTSIDE_ASCII for b in literal[i : i + 3])
        for i in range(len(literal) - 2)
    ]
    found = _trigrams(np.frombuffer(literal, dtype=np.uint8))
    return sorted({int(t) for t, ok in zip(found, usable, strict=True) if ok})


def signature_bytes(length: int) -> int:
    """The bytes of the signature of a text of ``length`` bytes (none under three)."""
    return 0 if length < 3 else (1 << _bits_log(length)) // 8


def tail(text: bytes) -> bytes:
    """What the text store keeps after a text: its signature (nothing for a text too short to
    hold a trigram)."""
    return signature(text)[1] if len(text) >= 3 else b""


class _Group:
    """The signatures of one size in one segment: where each starts, read in place."""

    def __init__(self, segment: Segment, log: int) -> None:
        self.segment = segment
        self.log = log
        self.entries: dict[str, int] = {}  # path -> offset of its signature in the segment
        self._arrays: tuple[npt.NDArray[np.int64], list[str]] | None = None

    def put(self, path: str, offset: int) -> None:
        self.entries[path] = offset
        self._arrays = None

    def remove(self, path: str) -> None:
        del self.entries[path]
        self._arrays = None

    def matching(self, trigrams: list[int]) -> list[str]:
        if self._arrays is None:
            count = len(self.entries)
            self._arrays = np.fromiter(self.entries.values(), dtype=np.int64, count=count), list(self.entries)
        offsets, paths = self._arrays
        data = self.segment.array()
        hashed = (np.array(trigrams, dtype=np.uint32) * _MULTIPLIER) >> np.uint32(32 - self.log)
        keep: npt.NDArray[np.bool_] | None = None
        for bit in sorted({int(h) for h in hashed}):
            has = (data[offsets + (bit >> 3)] & (1 << (bit & 7))) != 0
            keep = has if keep is None else keep & has
            if not keep.any():
                return []
        assert keep is not None
        return [paths[i] for i in np.flatnonzero(keep)]


class Grams:
    """The trigram signatures of one repository's files, each read where the text store keeps
    it, after its text (guarded by the index's lock)."""

    def __init__(self) -> None:
        self._groups: dict[tuple[int, int], _Group] = {}  # (id of the segment, log2 of its bits)
        self._where: dict[str, tuple[int, int]] = {}  # path -> its group

    def put(self, path: str, where: Where) -> None:
        """A file's text and signature, where the store put them (``tail`` made the signature)."""
        self.remove(path)
        segment, offset, length, _ = where
        if length < 3:
            return  # no trigram: never a candidate
        log = _bits_log(length)
        key = (id(segment), log)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(segment, log)
        group.put(path, offset + length)
        self._where[path] = key

    def remove(self, path: str) -> None:
        key = self._where.pop(path, None)
        if key is not None:
            group = self._groups[key]
            group.remove(path)
            if not group.entries:
                del self._groups[key]

    def candidates(self, trigrams: list[int]) -> set[str]:
        """The files whose signature has every one of ``trigrams`` (non-empty)."""
        found: set[str] = set()
        for group in list(self._groups.values()):
            found.update(group.matching(trigrams))
        return found
