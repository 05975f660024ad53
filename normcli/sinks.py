"""Where an operation's batches go: a file (the command line) or a table in memory (the API).

An operation builds its output schema, then calls ``sink.open(job, schema)`` (a file sink checks
its destination there, before any pass over the data) and writes into what that returns, as a
context manager: ``write(batch)`` for one batch, ``write_all(chunks, transform)`` for a stream
(chunks transformed on worker threads, written in order). Leaving the block without an error
commits the output; an error rolls it back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from .pipeline import Output, OutputSpec, ordered_map, typed_output

if TYPE_CHECKING:
    from .io.reader import Chunk
    from .pipeline import Job


class SinkWriter(Protocol):
    def __enter__(self) -> Any: ...

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None: ...

    def write(self, batch: pa.RecordBatch) -> None: ...

    def write_all(self, chunks: Iterable[Chunk],
                  transform: Callable[[Chunk], pa.RecordBatch]) -> int: ...


class Sink(Protocol):
    def typed(self, job: Job) -> bool:
        """Whether numbers read from text are written as numbers (Parquet, JSON, a table), or
        the input's text is kept (CSV, TSV)."""
        ...

    def open(self, job: Job, schema: pa.Schema) -> SinkWriter: ...


class FileSink:
    """A file or standard output, written atomically (:class:`~normcli.pipeline.Output`)."""

    def __init__(self, out: OutputSpec) -> None:
        self.out = out

    def typed(self, job: Job) -> bool:
        return typed_output(self.out, job)

    def open(self, job: Job, schema: pa.Schema) -> Output:
        return Output(job, self.out, schema)


class TableSink:
    """Collects the batches into a :class:`pyarrow.Table` (:meth:`table`)."""

    def typed(self, job: Job) -> bool:
        return True

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None
        self._batches: list[pa.RecordBatch] = []
        self._done = False

    def open(self, job: Job, schema: pa.Schema) -> _Collector:
        self.schema = schema
        self._batches = []
        return _Collector(self)

    def table(self) -> pa.Table:
        if self.schema is None or not self._done:
            raise RuntimeError("nothing was written to this sink")
        return pa.Table.from_batches(self._batches, schema=self.schema)


class _Collector:
    def __init__(self, sink: TableSink) -> None:
        self.sink = sink

    def __enter__(self) -> _Collector:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.sink._done = True
        else:
            self.sink._batches = []

    def write(self, batch: pa.RecordBatch) -> None:
        schema = self.sink.schema
        if schema is not None and batch.schema != schema:
            batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
        self.sink._batches.append(batch)

    def write_all(self, chunks: Iterable[Chunk],
                  transform: Callable[[Chunk], pa.RecordBatch]) -> int:
        rows = 0
        for batch in ordered_map(transform, chunks):
            self.write(batch)
            rows += batch.num_rows
        return rows
