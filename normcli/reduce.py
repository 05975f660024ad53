"""The one order in which per-file statistics are combined, by every engine.

Floating-point merges (:meth:`~normcli.scalers.ColumnStats.merge`,
:meth:`~normcli.kernels.ColumnNorms.merge`, :meth:`~normcli.regression.stats.GramStats.merge`) are
associative only up to rounding, so two engines give the same bits only if they merge in the same
order. That order is fixed here, and depends on nothing but the number of files:

* within a file (a *part*), chunks are folded in row order, as they are read;
* the files' results (one leaf per file of the input, an empty one for a file without rows) are
  combined by a balanced pairwise tree, level by level: ``(0,1), (2,3), ...``, an odd last one
  carried to the next level unchanged.

The local engine streams this tree with :class:`TreeMerger` (at most ``log2(files)`` partial
results held at once); the Dask engine builds the same tree as tasks (:func:`tree_levels`), so the
cluster's statistics equal the local ones bit for bit, whichever task finishes first. A single file
is one leaf: its statistics are exactly the sequential fold of its chunks, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from .io.reader import Chunk
from .kernels import ColumnNorms
from .scalers import ColumnStats

if TYPE_CHECKING:
    from .pipeline import Job

T = TypeVar("T")


def tree_merge(items: Sequence[T], merge: Callable[[T, T], T]) -> T:
    """``items`` combined level by level: ``(0,1), (2,3), ...``, an odd last one carried up."""
    if not items:
        raise ValueError("nothing to merge")
    level = list(items)
    while len(level) > 1:
        nxt = [merge(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def tree_levels(n: int) -> list[list[tuple[int, int]]]:
    """The pairs :func:`tree_merge` combines at each level, as indices into that level's list
    (for an engine that builds the tree as tasks). ``n`` leaves need ``ceil(log2 n)`` levels."""
    levels = []
    while n > 1:
        levels.append([(i, i + 1) for i in range(0, n - 1, 2)])
        n = (n + 1) // 2
    return levels


class TreeMerger(Generic[T]):
    """:func:`tree_merge` over leaves that arrive one at a time, holding ``O(log n)`` of them.

    Pushing leaf ``i`` merges complete subtrees of equal size as a binary counter does; at the end
    the remaining subtrees (sizes decreasing to the right) are merged from the right, which is the
    shape :func:`tree_merge` gives. Leaves must be pushed in order; ``empty`` fills the leaves of
    parts that never showed up (files without rows).
    """

    def __init__(self, merge: Callable[[T, T], T], empty: Callable[[], T]) -> None:
        self.merge = merge
        self.empty = empty
        self._stack: list[tuple[int, T]] = []  # (leaves in the subtree, its value)
        self.count = 0

    def push(self, value: T) -> None:
        size = 1
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            value = self.merge(left, value)
            size += left_size
        self._stack.append((size, value))
        self.count += 1

    def push_at(self, index: int, value: T) -> None:
        """Push the leaf of part ``index``, after empty leaves for the parts skipped."""
        while self.count < index:
            self.push(self.empty())
        self.push(value)

    def result(self, parts: int | None = None) -> T:
        """The merged value; ``parts`` (the number of files) pads with empty leaves first."""
        while parts is not None and self.count < parts:
            self.push(self.empty())
        if not self._stack:
            return self.empty()
        _, value = self._stack[-1]
        for _, left in reversed(self._stack[:-1]):
            value = self.merge(left, value)
        return value


def part_of(chunk: Chunk) -> int:
    """The index of the file a chunk came from (0 for an input of one file)."""
    return int(getattr(chunk, "part", 0))


S = TypeVar("S")


class PartFold(Generic[S]):
    """Fold chunks into one state per part and merge the parts' states by the canonical tree.

    ``start(part)`` makes a part's empty state; ``merge(a, b)`` combines two (it may return a new
    state or ``a`` updated). Feed chunks in row order with :meth:`begin` before each; read
    :meth:`result` at the end.
    """

    def __init__(self, start: Callable[[int], S], merge: Callable[[S, S], S],
                 parts: int | None = None) -> None:
        self.start = start
        self.parts = parts
        self._tree: TreeMerger[S] = TreeMerger(merge, lambda: start(-1))
        self._part = -1
        self._state: S | None = None

    def state_for(self, chunk: Chunk) -> S:
        """The state of the chunk's part (a new one when the chunk starts a part)."""
        part = part_of(chunk)
        if part != self._part or self._state is None:
            self._flush()
            self._part = part
            self._state = self.start(part)
        return self._state

    def _flush(self) -> None:
        if self._state is not None:
            self._tree.push_at(self._part, self._state)
            self._state = None

    def result(self) -> S:
        self._flush()
        return self._tree.result(self.parts)


def parts_of(reader: object) -> int | None:
    """The number of files of a dataset reader (None: one file)."""
    dataset = getattr(reader, "dataset", None)
    files = getattr(dataset, "files", None)
    return len(files) if files is not None else None


class StatsEngine(Protocol):
    """How an operation gets the column statistics of a job's rows (one pass over them, or
    none: the Dask engine computes them on its workers; a unit's job is handed them ready)."""

    def column_stats(self, job: Job, indices: Sequence[int]) -> ColumnStats: ...

    def column_norms(self, job: Job, indices: Sequence[int], ord: float) -> ColumnNorms: ...


def _merge_norms(a: ColumnNorms, b: ColumnNorms) -> ColumnNorms:
    a.merge(b)
    return a


class LocalStats:
    """One pass over the job's chunks on this machine, in the canonical order."""

    def column_stats(self, job: Job, indices: Sequence[int]) -> ColumnStats:
        conv = job.converter(indices)
        k = len(indices)
        fold: PartFold[ColumnStats] = PartFold(lambda part: ColumnStats.empty(k),
                                               lambda a, b: a.merge(b), parts_of(job.reader))
        for chunk in job.chunks():
            fold.state_for(chunk).update(conv.block(chunk))
        return fold.result()

    def column_norms(self, job: Job, indices: Sequence[int], ord: float) -> ColumnNorms:
        conv = job.converter(indices)
        k = len(indices)
        fold: PartFold[ColumnNorms] = PartFold(lambda part: ColumnNorms(k, ord), _merge_norms,
                                               parts_of(job.reader))
        for chunk in job.chunks():
            fold.state_for(chunk).update(conv.block(chunk))
        return fold.result()


LOCAL = LocalStats()
