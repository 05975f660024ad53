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

from ..errors import UsageError

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
    #: Delimited text: the default field separator. Only delimited input has a field
    #: separator and a header row to go without (``--delimiter``, ``--no-header``).
    delimiter: str | None = None
    #: Cells are read from text that may spell a number or a missing value (CSV and TSV cells,
    #: JSON Lines strings), so the missing-value spellings (``--na-values``) apply.
    text_cells: bool = False
    #: The name users know it by, in messages.
    title: str = ""


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


#: The options that say how to read the input, as the command line and the Python API spell
#: them, and what each is for.
_READING_OPTIONS = {
    "delimiter": (("--delimiter", "delimiter"),
                  "it is the field separator of CSV/TSV input{output}"),
    "no_header": (("--no-header", "header=False"),
                  "it is for CSV/TSV input without a header row; {title} columns are named by "
                  "{names}"),
    "na_values": (("--na-values", "na_values"),
                  "it lists texts read as missing in CSV/TSV cells and JSON Lines strings; "
                  "{title} columns are typed, a missing value is a null"),
}


def check_reading_options(fmt: str, *, delimiter: bool = False, no_header: bool = False,
                          na_values: bool = False, api: bool = False) -> None:
    """The one rule for every input format: an option that says how to read the input and
    does not apply to ``fmt`` is a usage error (never silently ignored).

    ``--delimiter`` and ``--no-header`` apply to delimited text (CSV, TSV); ``--na-values`` to
    formats whose cells are text (CSV, TSV, and JSON Lines, whose strings are read as CSV
    cells are). ``api``: name the Python API's parameters instead of the options.
    """
    found = get(fmt)
    if found is None:
        return
    applies = {"delimiter": found.delimiter is not None, "no_header": found.delimiter is not None,
               "na_values": found.text_cells}
    given = {"delimiter": delimiter, "no_header": no_header, "na_values": na_values}
    for key, (spellings, why) in _READING_OPTIONS.items():
        if given[key] and not applies[key]:
            title = found.title or found.name
            names = "the file's schema" if found.typed else "the objects' keys"
            output = "" if api else "; the output's is --output-delimiter"
            raise UsageError(f"{spellings[1 if api else 0]} does not apply to {title} input ("
                             + why.format(title=title, names=names, output=output) + ")")


def is_delimited(fmt: str) -> bool:
    """Whether ``fmt`` is delimited text (CSV, TSV): it has a field separator."""
    found = get(fmt)
    return found is not None and found.delimiter is not None


def check_writing_options(fmt: str, *, delimiter: bool = False) -> None:
    """The output side of the same rule: ``--output-delimiter`` applies to delimited output
    (CSV, TSV) only; for any other output format it is a usage error."""
    if delimiter and not is_delimited(fmt):
        found = get(fmt)
        title = (found.title or found.name) if found is not None else fmt
        raise UsageError(f"--output-delimiter does not apply to {title} output (it is the field "
                         "separator of CSV/TSV output)")


def by_extension(path: str) -> Format | None:
    """The format whose extension ``path`` ends with (compression suffixes already removed)."""
    lower = path.lower()
    for fmt in all_formats():
        if lower.endswith(fmt.extensions):
            return fmt
    return None
