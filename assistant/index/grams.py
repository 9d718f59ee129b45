"""Trigram signatures: which files may hold a literal, known without reading them.

Each file's text gets a bitmap of its trigrams (three consecutive bytes, ASCII letters lower-
cased, hashed to one bit): about one bit per two bytes of text, rounded to a power of two
(512 to 262,144 bits), so a file's signature costs ~1/16 of its text and, for source code,
about two bits in five are set. A text or regex search that requires a literal (the query
itself, or the literal RE2 must see in every match) needs every trigram of it, so only files
whose signature has all those bits are scanned: one in ~250 unrelated files passes for a six-
trigram literal. A file is never left out that the scan would have matched: a missing bit means
a missing trigram. Signatures of one size sit in one matrix, so a query checks all files of
that size with a few numpy column operations.

Ignoring case, RE2 matches ``k`` with the Kelvin sign and ``s`` with the long s (their only
case folds outside ASCII), and any non-ASCII letter with its other cases: trigrams holding
those bytes say nothing about such a search and are not used for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

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


@dataclass
class _Tier:
    """The signatures of one size: rows of a matrix, a path per row (None: a free row)."""

    log: int
    rows: npt.NDArray[np.uint8] = field(init=False)
    paths: list[str | None] = field(default_factory=list)
    free: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rows = np.zeros((16, (1 << self.log) // 8), dtype=np.uint8)

    def put(self, path: str, bitmap: bytes) -> int:
        if self.free:
            row = self.free.pop()
            self.paths[row] = path
        else:
            row = len(self.paths)
            self.paths.append(path)
            if row == len(self.rows):
                grown = np.zeros((2 * len(self.rows), self.rows.shape[1]), dtype=np.uint8)
                grown[:row] = self.rows
                self.rows = grown
        self.rows[row] = np.frombuffer(bitmap, dtype=np.uint8)
        return row

    def drop(self, row: int) -> None:
        self.rows[row] = 0
        self.paths[row] = None
        self.free.append(row)

    def matching(self, trigrams: list[int]) -> list[str]:
        used = len(self.paths)
        if not used:
            return []
        hashed = (np.array(trigrams, dtype=np.uint32) * _MULTIPLIER) >> np.uint32(32 - self.log)
        keep: npt.NDArray[np.bool_] | None = None
        for bit in sorted({int(h) for h in hashed}):
            has = (self.rows[:used, bit >> 3] & (1 << (bit & 7))) != 0
            keep = has if keep is None else keep & has
            if not keep.any():
                return []
        assert keep is not None
        return [path for path in (self.paths[row] for row in np.flatnonzero(keep)) if path is not None]


class Grams:
    """The trigram signatures of one repository's files (guarded by the index's lock)."""

    def __init__(self) -> None:
        self._tiers: dict[int, _Tier] = {}
        self._where: dict[str, tuple[int, int]] = {}  # path -> (tier, row)

    def put(self, path: str, text: bytes) -> None:
        self.remove(path)
        if len(text) < 3:
            return  # no trigram: never a candidate
        log, bitmap = signature(text)
        tier = self._tiers.get(log)
        if tier is None:
            tier = self._tiers[log] = _Tier(log)
        self._where[path] = (log, tier.put(path, bitmap))

    def remove(self, path: str) -> None:
        where = self._where.pop(path, None)
        if where is not None:
            self._tiers[where[0]].drop(where[1])

    def candidates(self, trigrams: list[int]) -> set[str]:
        """The files whose signature has every one of ``trigrams`` (non-empty)."""
        found: set[str] = set()
        for tier in self._tiers.values():
            found.update(tier.matching(trigrams))
        return found
