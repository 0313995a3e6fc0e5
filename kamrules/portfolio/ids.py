"""Account ids of a streamed run, held as one buffer instead of one string object each.

The main process of a ranked `kamrules portfolio` keeps every account's id from the first pass
to the end (the ranking, the fold and the summary name accounts by their index in the first
pass). As a list of `str`, each id is a ~60-byte object and a pointer, and the first pass's
duplicate check was a dict of them with an int object per value: ≈ 190 bytes per account, most
of it in small blocks scattered among the pass's transient garbage, whose arenas Python could
then not give back. Here an id costs its UTF-8 bytes plus 16 bytes (its end offset and its
hash) plus a slot or two of the open-addressing table: no object per account survives an add.

Identity is the string's: `hash(str)` and its UTF-8 bytes (lone surrogates pass through, as in
the text they came from). The hashes are this process's, never written anywhere.
"""
from __future__ import annotations

from array import array
from typing import Iterator, Sequence, overload

_EMPTY = -1
_CODEC = ("utf-8", "surrogatepass")  # an id is any text a file gave: lone surrogates included


class Ids(Sequence[str]):
    """Distinct ids in the order first added; `add` returns an id's index, adding it when new."""

    __slots__ = ("_data", "_ends", "_hashes", "_table", "_mask")

    def __init__(self, ids: Sequence[str] = ()) -> None:
        self._data = bytearray()
        self._ends = array("q")  # ids[i] is _data[_ends[i - 1]:_ends[i]]
        self._hashes = array("q")  # hash(ids[i]): the table is grown without decoding any id
        self._table = array("i", [_EMPTY]) * 16  # index into ids, or _EMPTY; a power of two long
        self._mask = 15
        for i in ids:
            self.add(i)

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...

    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        ends = self._ends
        end = ends[i]  # IndexError past the end, as a list; negative indexes as a list's
        if i < 0:
            i += len(ends)
        return self._data[ends[i - 1] if i else 0:end].decode(*_CODEC)

    def __iter__(self) -> Iterator[str]:
        data, start = self._data, 0
        for end in self._ends:
            yield data[start:end].decode(*_CODEC)
            start = end

    def __contains__(self, ident: object) -> bool:
        return isinstance(ident, str) and self.index_of(ident) is not None

    def index_of(self, ident: str) -> int | None:
        """The index of ident, None when it was never added."""
        slot = self._find(ident, hash(ident), ident.encode(*_CODEC))
        k = self._table[slot]
        return None if k == _EMPTY else k

    def add(self, ident: str) -> tuple[int, bool]:
        """(index of ident, whether it was new)."""
        h = hash(ident)
        raw = ident.encode(*_CODEC)
        slot = self._find(ident, h, raw)
        k = self._table[slot]
        if k != _EMPTY:
            return k, False
        k = len(self._ends)
        self._data += raw
        self._ends.append(len(self._data))
        self._hashes.append(h)
        self._table[slot] = k
        if 2 * (k + 1) > len(self._table):  # at most half full: short probe runs
            self._grow()
        return k, True

    def _find(self, ident: str, h: int, raw: bytes) -> int:
        """The slot holding ident, or the empty slot where it would go (linear probing)."""
        table, hashes, ends, data, mask = self._table, self._hashes, self._ends, self._data, self._mask
        slot = h & mask
        while True:
            k = table[slot]
            if k == _EMPTY:
                return slot
            if hashes[k] == h and data[ends[k - 1] if k else 0:ends[k]] == raw:
                return slot
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        size = 2 * len(self._table)
        mask = size - 1
        table = array("i", [_EMPTY]) * size
        for k, h in enumerate(self._hashes):
            slot = h & mask
            while table[slot] != _EMPTY:
                slot = (slot + 1) & mask
            table[slot] = k
        self._table, self._mask = table, mask


class Picked(Sequence[str]):
    """ids[k] for each k of `at`, in that order: a subset of a run's ids without a string each.
    A negative k stands for others[-1 - k] (an id that is not in `ids`)."""

    __slots__ = ("ids", "at", "others")

    def __init__(self, ids: Sequence[str], at: Sequence[int], others: Sequence[str] = ()) -> None:
        self.ids, self.at, self.others = ids, at, others

    def __len__(self) -> int:
        return len(self.at)

    def _id(self, k: int) -> str:
        return self.ids[k] if k >= 0 else self.others[-1 - k]

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...

    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        if isinstance(i, slice):
            return [self._id(k) for k in self.at[i]]
        return self._id(self.at[i])

    def __iter__(self) -> Iterator[str]:
        for k in self.at:
            yield self._id(k)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Picked):
            other = list(other)
        return isinstance(other, (list, tuple)) and list(self) == list(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Picked({list(self)!r})"
