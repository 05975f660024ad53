"""Parquet: typed columns, read row group by row group."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from . import Format

if TYPE_CHECKING:
    import pyarrow as pa

    from ..io.formats import CsvDialect
    from ..io.reader import TableReader
    from ..io.source import Source
    from ..io.writer import TableWriter


def _reader(source: Source, dialect: CsvDialect, chunk_rows: int | None) -> TableReader:
    from ..io.reader import ParquetReader

    return ParquetReader(source, chunk_rows=chunk_rows)


def _writer(stream: BinaryIO, schema: pa.Schema, delimiter: str, header: bool) -> TableWriter:
    from ..io.writer import ParquetWriter

    return ParquetWriter(stream, schema)


FORMATS = (
    Format("parquet", (".parquet", ".pq"), typed=True, reader=_reader, writer=_writer,
           binary=True, title="Parquet"),
)
