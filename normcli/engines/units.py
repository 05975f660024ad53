"""Work units and what a worker does with one: no Dask here, only the local engine's own code.

A unit is one file of the input (the unit of :mod:`normcli.reduce`'s canonical order). A worker
opens it by itself (from shared or object storage: the client never ships rows) as a one-file
dataset, so its chunks, partition columns, row numbers and error messages are those the local
engine gives for that file, and runs on it:

* :func:`unit_column_stats`, :func:`unit_column_norms`, :func:`unit_fit`: the local engine's
  one-pass statistics of the file (a leaf of the reduction tree);
* :func:`unit_write`: the operation itself (:mod:`normcli.ops`), with the statistics handed in,
  writing the file's output part into the run's temporary folder.

Everything here is pickled by reference and must stay importable on the workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, cast

import pyarrow as pa

from ..columns import ColumnKinds, Selection
from ..io.dataset import DataFile, Dataset, MultiReader
from ..io.formats import CsvDialect
from ..io.reader import Chunk
from ..io.writer import TableWriter, make_writer
from ..kernels import ColumnNorms
from ..pipeline import Job
from ..reduce import LOCAL
from ..scalers import ColumnStats


@dataclass(frozen=True)
class UnitSpec:
    """What a worker needs to open one file of the input as the local engine reads it."""

    display: str  # the INPUT as given
    file: DataFile
    index: int  # the file's position in the dataset
    fmt: str
    partition_keys: tuple[str, ...]
    partition_types: tuple[pa.DataType, ...]
    dialect: CsvDialect
    chunk_rows: int | None
    header: bool
    delimiter: str | None  # --delimiter as given (checked), for delimited output
    na_values: tuple[str, ...] | None  # --na-values
    kinds: ColumnKinds  # what the client's first chunk said of the columns


@dataclass(frozen=True)
class PartTarget:
    """Where a unit's output part goes: ``tmp/name`` (a folder, or an object-store prefix)."""

    tmp: str
    name: str
    url: str | None  # the output URL when the parts go to an object store
    fmt: str
    delimiter: str
    header: bool
    keep: tuple[int, ...]  # the columns kept in a part (partition columns are left out)
    typed: bool


def open_unit(u: UnitSpec) -> Job:
    """The job of one unit: its file as a one-file dataset, the client's column kinds."""
    dataset = Dataset(u.display, [u.file], u.fmt, list(u.partition_keys),
                      list(u.partition_types))
    reader = MultiReader(dataset, u.dialect, u.chunk_rows)
    job = Job.from_reader(reader, header=u.header, delimiter=u.delimiter,
                          na_values=u.na_values)
    job.kinds = u.kinds  # the selection is the client's, whatever this file's first rows say
    return job


# -- statistics: the leaves of the reduction tree -------------------------------------------
def unit_column_stats(u: UnitSpec, indices: Sequence[int]) -> ColumnStats:
    with open_unit(u) as job:
        return LOCAL.column_stats(job, indices)


def unit_column_norms(u: UnitSpec, indices: Sequence[int], ord: float) -> ColumnNorms:
    with open_unit(u) as job:
        return LOCAL.column_norms(job, indices, ord)


def unit_fit(u: UnitSpec, opts: Any, sel: Selection, t_idx: int, w_idx: int | None,
             f_idx: int | None, row_base: int) -> Any:
    from ..ops.fit import accumulate

    with open_unit(u) as job:
        return accumulate(job, opts, sel, t_idx, w_idx, f_idx, row_base=row_base)


def unit_rows(u: UnitSpec) -> int:
    """The number of rows of a unit: from the metadata of a Parquet file, by a pass over a CSV
    file (its rows as the reader splits them: quoted newlines are inside a row)."""
    if u.fmt == "parquet":
        import pyarrow.parquet as pq

        from ..io.remote import RemoteSource

        dataset = Dataset(u.display, [u.file], u.fmt, [], [])
        source = dataset.source(u.file)
        try:
            handle: Any = (source.open_random() if isinstance(source, RemoteSource)
                           else u.file.location)
            return int(pq.read_metadata(handle).num_rows)
        finally:
            source.close()
    with open_unit(u) as job:
        return sum(chunk.num_rows for chunk in job.chunks())


def merge_column_stats(a: ColumnStats, b: ColumnStats) -> ColumnStats:
    return a.merge(b)


def merge_column_norms(a: ColumnNorms, b: ColumnNorms) -> ColumnNorms:
    a.merge(b)
    return a


def merge_fit(a: Any, b: Any) -> Any:
    return a.merge(b)


# -- the writing pass: the operation itself, on one file ----------------------------------
class Precomputed:
    """A statistics engine that hands out what the client computed (no pass over the data)."""

    def __init__(self, stats: ColumnStats | None = None, norms: ColumnNorms | None = None):
        self.stats = stats
        self.norms = norms

    def column_stats(self, job: Job, indices: Sequence[int]) -> ColumnStats:
        assert self.stats is not None, "column statistics were not computed"
        return self.stats

    def column_norms(self, job: Job, indices: Sequence[int], ord: float) -> ColumnNorms:
        assert self.norms is not None, "column norms were not computed"
        return self.norms


class PartSink:
    """The sink of one unit: its part, written into the run's temporary folder."""

    def __init__(self, target: PartTarget) -> None:
        self.target = target

    def typed(self, job: Job) -> bool:
        return self.target.typed

    def open(self, job: Job, schema: pa.Schema) -> _PartWriter:
        return _PartWriter(self.target, schema)


def _open_part(t: PartTarget) -> BinaryIO:
    if t.url is not None:
        from ..io.remote import filesystem

        fs, _ = filesystem(t.url)
        return cast(BinaryIO, fs.open_output_stream(f"{t.tmp}/{t.name}"))
    # Folders are made one level at a time below the temporary folder, never the folder itself:
    # a task still running after its run was cancelled (a thread cannot be stopped) then fails
    # instead of bringing back the folder the client removed.
    folder = t.tmp
    for part in t.name.split("/")[:-1]:
        folder = os.path.join(folder, part)
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
    return open(os.path.join(t.tmp, t.name), "wb", buffering=1 << 20)


class _PartWriter:
    def __init__(self, target: PartTarget, schema: pa.Schema) -> None:
        self.target = target
        self.schema = pa.schema([schema.field(i) for i in target.keep])
        self.keep = list(target.keep)
        self.full = len(self.keep) == len(schema)
        self._stream: BinaryIO | None = None
        self._writer: TableWriter | None = None

    def __enter__(self) -> _PartWriter:
        self._stream = _open_part(self.target)
        try:
            self._writer = make_writer(self.target.fmt, self._stream, self.schema,
                                       delimiter=self.target.delimiter,
                                       header=self.target.header)
        except BaseException:
            self._stream.close()
            raise
        return self

    def _strip(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self.full:
            return batch
        return pa.RecordBatch.from_arrays([batch.column(i) for i in self.keep],
                                          schema=self.schema)

    def write(self, batch: pa.RecordBatch) -> None:
        assert self._writer is not None
        self._writer.write(self._strip(batch))

    def write_all(self, chunks: Iterable[Chunk],
                  transform: Callable[[Chunk], pa.RecordBatch]) -> int:
        assert self._writer is not None
        rows = 0
        for chunk in chunks:
            self._writer.put(self._writer.encode(self._strip(transform(chunk))))
            rows += chunk.num_rows
        return rows

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._writer is not None and self._stream is not None
        try:
            if exc_type is None:
                self._writer.close()
            else:
                self._writer.abort()
        finally:
            self._stream.close()


def unit_write(u: UnitSpec, op: str, opts: Any, target: PartTarget,
               stats: Precomputed) -> int:
    """Run operation ``op`` on one unit into its part; returns the rows written."""
    from ..ops import norm as norm_op
    from ..ops import normalize as normalize_op
    from ..ops import predict as predict_op

    sink = PartSink(target)
    with open_unit(u) as job:
        if op == "normalize":
            return normalize_op.run(job, sink, replace(opts, save_params=None), engine=stats)
        if op == "norm":
            return norm_op.run(job, sink, opts, engine=stats)
        if op == "predict":
            model, name = opts
            return predict_op.run(job, sink, model, name)
    raise ValueError(f"unknown operation {op!r}")


def file_units(dataset: Dataset, dialect: CsvDialect, chunk_rows: int | None, header: bool,
               delimiter: str | None, na_values: tuple[str, ...] | None,
               kinds: ColumnKinds) -> list[UnitSpec]:
    """One unit per file of ``dataset``, in its (sorted) order."""
    return [
        UnitSpec(dataset.spec, f, i, dataset.fmt, tuple(dataset.partition_keys),
                 tuple(dataset.partition_types), dialect, chunk_rows, header, delimiter,
                 na_values, kinds)
        for i, f in enumerate(dataset.files)
    ]
