"""CSV and TSV: delimited text, read as text (the caller infers which columns hold numbers)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa

from ..io.arrays import strings
from ..io.writer import TableWriter
from . import Format

if TYPE_CHECKING:
    from ..io.formats import CsvDialect
    from ..io.reader import TableReader
    from ..io.source import Source


def _reader(source: Source, dialect: CsvDialect, chunk_rows: int | None) -> TableReader:
    from ..io.reader import CsvReader

    return CsvReader(source, dialect, chunk_rows=chunk_rows)


def _nested(t: pa.DataType) -> bool:
    return bool(pa.types.is_nested(t))


def _writer(stream: BinaryIO, schema: pa.Schema, delimiter: str, header: bool) -> TableWriter:
    from ..io.writer import CsvWriter

    writer = CsvWriter(stream, schema.names, delimiter=delimiter, header=header)
    if any(_nested(f.type) for f in schema):
        return _NestedAsJson(writer)
    return writer


def _json_text(values: list[Any]) -> pa.Array:
    # A missing cell is empty in CSV either way; strings() keeps pandas out (see io.arrays).
    return strings(["" if v is None else json.dumps(v, ensure_ascii=False, default=str)
                    for v in values])


def _flatten(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Objects and lists (JSON Lines, Parquet) as their JSON text."""
    arrays = [_json_text(col.to_pylist()) if _nested(col.type) else col
              for col in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


class _NestedAsJson(TableWriter):
    """A CSV writer for batches holding objects or lists: those cells are written as JSON."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def encode(self, batch: pa.RecordBatch) -> Any:
        return self.inner.encode(_flatten(batch))

    def put(self, encoded: Any) -> None:
        self.inner.put(encoded)

    def abort(self) -> None:
        self.inner.abort()

    def close(self) -> None:
        self.inner.close()


FORMATS = (
    Format("csv", (".csv",), typed=False, reader=_reader, writer=_writer, keeps_text=True,
           delimiter=",", text_cells=True, title="CSV"),
    Format("tsv", (".tsv", ".tab"), typed=False, reader=_reader, writer=_writer,
           keeps_text=True, delimiter="\t", text_cells=True, title="TSV"),
)
