"""The file formats normcli reads and writes, one module each, in one registry.

A format module builds a :class:`Format` (its name, file extensions, reader, writer, and whether
its column types are declared or inferred) and the registry below imports it. Readers and
writers are imported when first used, so looking a format up costs nothing at start-up. Adding a
format is one module and one line in :data:`_MODULES` (JSON Lines, :mod:`normcli.formats.jsonl`,
is the example).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import pyarrow as pa

    from ..io.formats import CsvDialect
    from ..io.reader import TableReader
    from ..io.source import Source
    from ..io.writer import TableWriter

#: (source, dialect, chunk_rows) -> reader
ReaderFactory = Callable[["Source", "CsvDialect", "int | None"], "TableReader"]
#: (stream, schema, delimiter, header) -> writer
WriterFactory = Callable[[BinaryIO, "pa.Schema", str, bool], "TableWriter"]


@dataclass(frozen=True)
class Format:
    name: str
    #: Lower-case file name endings, with the dot; the first is the usual one.
    extensions: tuple[str, ...]
    #: Column types are declared by the file (Parquet), not inferred from the data (CSV).
    typed: bool
    reader: ReaderFactory | None = None
    writer: WriterFactory | None = None
    #: The output keeps the input's text of numbers that pass through (CSV, TSV); other
    #: formats write numbers read from text as numbers.
    keeps_text: bool = False
    #: Binary: never written to a terminal.
    binary: bool = False
    #: Delimited text: the default field separator.
    delimiter: str | None = None


#: The registry: one line per format module (each defines ``FORMATS``).
_MODULES = (
    "delimited",  # csv, tsv
    "parquet",
    "json",
    "jsonl",
)

_REGISTRY: dict[str, Format] = {}


def _load() -> dict[str, Format]:
    if not _REGISTRY:
        for module in _MODULES:
            mod: Any = importlib.import_module(f"{__name__}.{module}")
            for fmt in mod.FORMATS:
                _REGISTRY[fmt.name] = fmt
    return _REGISTRY


def get(name: str) -> Format | None:
    return _load().get(name)


def all_formats() -> list[Format]:
    return list(_load().values())


def readable() -> list[str]:
    return [f.name for f in all_formats() if f.reader is not None]


def writable() -> list[str]:
    return [f.name for f in all_formats() if f.writer is not None]


def by_extension(path: str) -> Format | None:
    """The format whose extension ``path`` ends with (compression suffixes already removed)."""
    lower = path.lower()
    for fmt in all_formats():
        if lower.endswith(fmt.extensions):
            return fmt
    return None
