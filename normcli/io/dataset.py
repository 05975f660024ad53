"""Datasets: a directory, a glob or a URL read as one table.

``INPUT`` may be a directory (every file under it), a quoted glob (``'data/*.csv.gz'``,
``'data/year=*/*.parquet'``), or a URL (``s3://bucket/prefix/``, ``gs://...``, ``http(s)://...``).
Its files are read one after the other in sorted path order, each by the reader its format
registers (:mod:`normcli.formats`: CSV, TSV, Parquet, JSON Lines), so memory stays flat and every
error still names the file and its physical line.

Files and folders whose names start with ``.`` or ``_`` are skipped (``_SUCCESS``, temporary
files), as Spark and pyarrow skip them. All files must be of one format and have the same columns
in the same order.

Hive partition folders (``year=2026/month=11/``) become columns, appended after the files' own
columns in the order of the folders. In a CSV, TSV or JSON Lines dataset their values are text,
like every CSV cell; in a Parquet dataset a key whose values are all integers without leading
zeros is ``int64``, any other key is text. ``__HIVE_DEFAULT_PARTITION__`` is a missing value.
Partition columns pass through: the default selection of numeric columns leaves them out (a
folder label is not a measurement), ``--columns``/``-y`` may still name them.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pyarrow as pa

from .. import compute as pc
from ..columns import ColumnKinds
from ..errors import DataError, UsageError
from .arrays import int64s, string_scalar
from .formats import CsvDialect, format_of, keeps_text
from .paths import has_magic, is_url, scheme_of
from .reader import DEFAULT_PARQUET_ROWS, Chunk, ParquetReader, TableReader
from .remote import RemoteSource, filesystem, first_line
from .source import Source

_INT = re.compile(r"^-?(0|[1-9][0-9]{0,17})$")
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def _input_formats() -> list[str]:
    """The formats a dataset may hold: every registered format with a reader."""
    from .. import formats

    return formats.readable()


def _typed(fmt: str) -> bool:
    from .. import formats

    found = formats.get(fmt)
    return found is not None and found.typed


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset."""

    location: str  # a local path or a URL
    relative: str  # its name under the dataset's root, '/'-separated
    size: int | None
    partition: tuple[str | None, ...] = ()  # the partition keys' values (None: missing)


@dataclass(frozen=True)
class Unit:
    """A piece of work for an engine: a whole file, or one row group of a Parquet file.

    ``row_start`` is the global index of its first row (the same row numbers a sequential read
    gives, so fold ids and error locations agree).
    """

    file: DataFile
    index: int  # the file's position in the dataset
    row_group: int | None
    row_start: int | None
    num_rows: int | None


class DatasetSource(Source):
    """What a job knows of its input as a whole: its name as given."""

    def __init__(self, display: str) -> None:
        self.path = display
        self.display = display
        self.compression = None

    @property
    def size(self) -> int | None:
        return None

    def local_path(self) -> str:
        raise UsageError(f"{self.display}: a dataset has no single local path")

    def close(self) -> None:
        pass


def _split_root(pattern: str) -> tuple[str, str]:
    """``data/year=*/*.csv`` -> (``data``, ``year=*/*.csv``): the folder before any wildcard."""
    parts = pattern.split("/")
    for i, part in enumerate(parts):
        if has_magic(part):
            return "/".join(parts[:i]) or ("/" if i else ""), "/".join(parts[i:])
    return pattern, ""


def _matches(relative: str, pattern: str) -> bool:
    """Glob match where ``*``, ``?`` and ``[...]`` never cross a ``/``, and ``**`` spans folders."""
    names = relative.split("/")
    pats = pattern.split("/")

    def go(i: int, j: int) -> bool:
        if j == len(pats):
            return i == len(names)
        if pats[j] == "**":
            return any(go(k, j + 1) for k in range(i, len(names) + 1))
        return i < len(names) and fnmatch.fnmatchcase(names[i], pats[j]) and go(i + 1, j + 1)

    return go(0, 0)


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/"))


def _list_local(root: str) -> list[tuple[str, int]]:
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        for name in files:
            if name.startswith((".", "_")):
                continue
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                out.append((os.path.relpath(path, root).replace(os.sep, "/"),
                            os.path.getsize(path)))
    return out


def _list_remote(url_root: str) -> list[tuple[str, int]]:
    import pyarrow.fs as pafs

    fs, path = filesystem(url_root)
    path = path.rstrip("/")
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot list: {first_line(exc)}", source=url_root) from exc
    out = []
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        relative = info.path[len(path):].lstrip("/")
        if relative and not _hidden(relative):
            out.append((relative, int(info.size or 0)))
    return out


def dataset_files(spec: str) -> list[str]:
    """The location of every file of the dataset ``spec`` (listed, not read)."""
    return [loc for loc, _, _ in Dataset._find(spec)]


class Dataset:
    """The files of one ``INPUT`` and what they share: format, partition keys."""

    def __init__(self, spec: str, files: list[DataFile], fmt: str,
                 keys: list[str], key_types: list[pa.DataType]) -> None:
        self.spec = spec
        self.files = files
        self.fmt = fmt
        self.partition_keys = keys
        self.partition_types = key_types

    # -- discovery ---------------------------------------------------------------------------
    @classmethod
    def discover(cls, spec: str, fmt: str | None) -> Dataset:
        if fmt is not None and fmt not in _input_formats():
            raise UsageError(f"--input-format must be one of {', '.join(_input_formats())}")
        found = cls._find(spec)
        if not found:
            raise UsageError(f"{spec}: no files (files named .* or _* are skipped)")
        found.sort(key=lambda f: f[1])
        fmt = cls._format(found, fmt)
        keys, values = cls._partitions(found)
        types = [cls._key_type(fmt, [v[k] for v in values]) for k in range(len(keys))]
        files = [DataFile(loc, rel, size, tuple(vals))
                 for (loc, rel, size), vals in zip(found, values, strict=True)]
        return cls(spec, files, fmt, keys, types)

    @staticmethod
    def _find(spec: str) -> list[tuple[str, str, int | None]]:
        """(location, relative name, size) of every file of ``spec``."""
        if is_url(spec):
            scheme = scheme_of(spec)
            if scheme in ("http", "https"):
                name = urlsplit(spec).path.rsplit("/", 1)[-1]
                return [(spec, unquote(name) or spec, None)]
            filesystem(spec)  # checks the scheme and bucket
            prefix, rest = spec.split("://", 1)
            if has_magic(rest):
                root, pattern = _split_root(rest)
                base = f"{prefix}://{root}"
                return [(f"{base}/{rel}", rel, size) for rel, size in _list_remote(base)
                        if _matches(rel, pattern)]
            from .remote import file_type

            kind = file_type(spec)
            if kind == "file" and not spec.endswith("/"):
                return [(spec, rest.rsplit("/", 1)[-1], None)]
            if kind == "missing":
                raise UsageError(f"{spec}: no such file or folder")
            base = spec.rstrip("/")
            return [(f"{base}/{rel}", rel, size) for rel, size in _list_remote(base)]
        if os.path.isdir(spec):
            root = spec
            found = _list_local(root)
        else:
            root, pattern = _split_root(spec)
            if not os.path.isdir(root or "."):
                raise UsageError(f"{spec}: no such folder {root!r}")
            found = [(rel, size) for rel, size in _list_local(root or ".")
                     if _matches(rel, pattern)]
        return [(os.path.join(root, rel) if root else rel, rel, size) for rel, size in found]

    @staticmethod
    def _format(found: list[tuple[str, str, int | None]], fmt: str | None) -> str:
        if fmt is not None:
            return fmt
        seen: str | None = None
        first = ""
        names = _input_formats()
        for loc, _rel, _ in found:
            this = format_of(urlsplit(loc).path if is_url(loc) else loc)
            if this not in names:
                raise UsageError(f"{loc}: not a file of a known format by its extension "
                                 f"({', '.join(names)}; a dataset is files of one format: "
                                 "choose them with a glob, or give --input-format)")
            if seen is None:
                seen, first = this, loc
            elif this != seen:
                raise UsageError(f"{loc}: a {this} file among {seen} files ({first}); a dataset "
                                 "is files of one format")
        assert seen is not None
        return seen

    @staticmethod
    def _partitions(found: list[tuple[str, str, int | None]]
                    ) -> tuple[list[str], list[list[str | None]]]:
        keys: list[str] | None = None
        values: list[list[str | None]] = []
        for loc, rel, _ in found:
            these: list[str] = []
            vals: list[str | None] = []
            for part in rel.split("/")[:-1]:
                if "=" in part:
                    k, v = part.split("=", 1)
                    these.append(unquote(k))
                    v = unquote(v)
                    vals.append(None if v == HIVE_NULL else v)
            if keys is None:
                keys = these
            elif these != keys:
                raise DataError(f"its partition folders ({', '.join(these) or 'none'}) are not "
                                f"those of the other files ({', '.join(keys) or 'none'})",
                                source=loc)
            values.append(vals)
        return keys or [], values

    @staticmethod
    def _key_type(fmt: str, values: list[str | None]) -> pa.DataType:
        if not _typed(fmt):  # text, as every cell of a format whose types are inferred
            return pa.string()
        present = [v for v in values if v is not None]
        if present and all(_INT.match(v) for v in present):
            return pa.int64()
        return pa.string()

    def refuse_input_as_output(self, path: str | None) -> None:
        """Exit 2 if ``path`` (an output file) is one of the dataset's files."""
        if path is None or path == "-":
            return
        for f in self.files:
            if is_url(f.location) or is_url(path):
                same = f.location == path
            else:
                same = os.path.exists(path) and os.path.samefile(path, f.location)
            if same:
                raise UsageError(f"{path}: the output is a file of the input; write to another "
                                 "file")

    # -- reading -----------------------------------------------------------------------------
    def reader_source(self) -> DatasetSource:
        return DatasetSource(self.spec)

    def kinds(self, kinds: ColumnKinds) -> ColumnKinds:
        """``kinds`` with the partition columns (the last ones) out of the default selection."""
        k = len(self.partition_keys)
        if not k:
            return kinds
        numeric = list(kinds.numeric)
        numeric[-k:] = [False] * k
        ambiguous = list(kinds.ambiguous)
        if ambiguous:
            ambiguous[-k:] = [False] * k
        partition = [False] * (len(numeric) - k) + [True] * k
        return dataclasses.replace(kinds, numeric=numeric, ambiguous=ambiguous,
                                   partition=partition)

    def source(self, f: DataFile) -> Source:
        return RemoteSource(f.location, f.size) if is_url(f.location) else Source(f.location)

    def reader(self, dialect: CsvDialect, chunk_rows: int | None = None) -> MultiReader:
        return MultiReader(self, dialect, chunk_rows)

    def unit_reader(self, unit: Unit, dialect: CsvDialect,
                    chunk_rows: int | None = None) -> MultiReader:
        """A reader of one unit alone (what an engine's worker reads): its chunks carry the
        global row numbers of :meth:`units` (from 0 for a CSV file, whose start is unknown
        without reading the files before it), partition columns and located errors."""
        return MultiReader(self, dialect, chunk_rows, unit=unit)

    def units(self) -> list[Unit]:
        """The work units: one per file (CSV/TSV), one per row group (Parquet), in row order."""
        out: list[Unit] = []
        row: int | None = 0
        for i, f in enumerate(self.files):
            if self.fmt != "parquet":
                out.append(Unit(f, i, None, row, None))
                row = None  # CSV rows are only known by reading
                continue
            import pyarrow.parquet as pq  # here: ~50 ms that CSV datasets need not pay

            source = self.source(f)
            try:
                handle: Any = (source.open_random() if isinstance(source, RemoteSource)
                               else f.location)
                meta = pq.read_metadata(handle)
            except (OSError, pa.ArrowException) as exc:
                raise DataError(f"not a Parquet file: {first_line(exc)}",
                                source=f.location) from exc
            finally:
                source.close()
            for g in range(meta.num_row_groups):
                n = meta.row_group(g).num_rows
                out.append(Unit(f, i, g, row, n))
                if row is not None:
                    row += n
        return out


def _numbered(batches: Iterator[pa.RecordBatch], start: int, display: str) -> Iterator[Chunk]:
    row = start
    try:
        for batch in batches:
            yield Chunk(batch, row)
            row += batch.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot read: {first_line(exc)}", source=display) from exc


@dataclass
class PartChunk(Chunk):
    """A chunk and the index of the dataset file it came from."""

    part: int = 0


class MultiReader(TableReader):
    """The files of a dataset as one table: their readers chained, rows numbered globally,
    partition columns appended, and errors located in the file they come from."""

    def __init__(self, dataset: Dataset, dialect: CsvDialect,
                 chunk_rows: int | None = None, *, unit: Unit | None = None) -> None:
        self.dataset = dataset
        self.unit = unit
        self.dialect = dialect
        self.chunk_rows = chunk_rows
        self.kind = dataset.fmt
        self.source = DatasetSource(dataset.spec)
        self._sources: list[Source] = []
        #: (first global row, reader) of every file opened so far, in order.
        self._spans: list[tuple[int, TableReader]] = []
        self._current: TableReader | None = None
        try:
            self._set_up()
        except BaseException:
            self.close()
            raise

    def _set_up(self) -> None:
        dataset = self.dataset
        first = self._open(0)
        self._first: TableReader | None = first
        self.file_names = list(first.names)
        self.file_schema = first.schema
        for key in dataset.partition_keys:
            if key in self.file_names:
                raise DataError(f"the partition folder {key!r} is also a column of the files",
                                source=dataset.files[0].location)
        self.partition_index = list(range(len(self.file_names),
                                          len(self.file_names) + len(dataset.partition_keys)))
        self.names = self.file_names + list(dataset.partition_keys)
        self.schema = pa.schema(
            list(first.schema)
            + [pa.field(k, t) for k, t in zip(dataset.partition_keys, dataset.partition_types,
                                              strict=True)])

    def _open(self, i: int) -> TableReader:
        f = self.dataset.files[i]
        source = self.dataset.source(f)
        self._sources.append(source)
        from .. import formats  # remote Parquet too: RemoteSource.open_random

        found = formats.get(self.dataset.fmt)
        assert found is not None and found.reader is not None
        reader: TableReader = found.reader(source, self.dialect, self.chunk_rows)
        self._current = reader
        return reader

    def _check(self, i: int, reader: TableReader) -> None:
        f = self.dataset.files[i]
        if reader.names != self.file_names:
            raise DataError(f"its columns ({', '.join(reader.names)}) are not those of "
                            f"{self.dataset.files[0].location} ({', '.join(self.file_names)})",
                            source=f.location)

    def _conform(self, i: int, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.schema.equals(self.file_schema):
            return batch
        try:
            return batch.cast(self.file_schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise DataError(f"its column types do not convert to those of "
                            f"{self.dataset.files[0].location}: {first_line(exc)}",
                            source=self.dataset.files[i].location) from exc

    def _partition_arrays(self, i: int, n: int) -> list[pa.Array]:
        out = []
        values = self.dataset.files[i].partition
        for value, t in zip(values, self.dataset.partition_types, strict=True):
            # Built without pa.array/pa.scalar on Python values: they import pandas.
            if value is None:
                # missing: the empty cell in delimited text, a null elsewhere
                out.append(pa.repeat(string_scalar(""), n) if keeps_text(self.kind)
                           else pa.nulls(n, t))
            elif pa.types.is_integer(t):
                out.append(pc.cast(int64s(np.full(n, int(value), dtype=np.int64)), t))
            else:
                out.append(pc.cast(pa.repeat(string_scalar(value), n), t))
        return out

    def _reader(self, i: int) -> TableReader:
        """File ``i``'s reader (the first one is open already); the previous one is closed."""
        if i == 0 and self._first is not None:
            reader, self._first = self._first, None
            return reader
        if self._current is not None:
            self._current.close()
        reader = self._open(i)
        self._check(i, reader)
        return reader

    def _unit_chunks(self, unit: Unit) -> Iterator[Chunk]:
        i = unit.index
        reader = self._reader(i)
        row = unit.row_start or 0
        chunks: Iterator[Chunk] = iter(reader)
        if unit.row_group is not None:
            assert isinstance(reader, ParquetReader)
            meta = reader._file.metadata
            before = sum(meta.row_group(g).num_rows for g in range(unit.row_group))
            row -= before  # the file's first row, for locating errors within the file
            batches = reader._file.iter_batches(
                batch_size=self.chunk_rows or DEFAULT_PARQUET_ROWS,
                row_groups=[unit.row_group], use_threads=True)
            chunks = _numbered(batches, before, reader.source.display)
        self._spans.append((row, reader))
        for chunk in chunks:
            yield self._chunk(i, chunk, row)

    def _chunk(self, i: int, chunk: Chunk, row: int) -> PartChunk:
        batch = self._conform(i, chunk.batch)
        if self.dataset.partition_keys:
            batch = pa.RecordBatch.from_arrays(
                [*batch.columns, *self._partition_arrays(i, batch.num_rows)],
                schema=self.schema)
        return PartChunk(batch, row + chunk.row_start, i)

    def __iter__(self) -> Iterator[Chunk]:
        if self.unit is not None:
            yield from self._unit_chunks(self.unit)
            return
        row = 0
        for i in range(len(self.dataset.files)):
            reader = self._reader(i)
            self._spans.append((row, reader))
            rows = 0
            for chunk in reader:
                yield self._chunk(i, chunk, row)
                rows = chunk.row_start + chunk.num_rows
            row += rows

    def _span(self, row: int) -> tuple[int, TableReader]:
        found = self._spans[0]
        for span in self._spans:
            if span[0] <= row:
                found = span
            else:
                break
        return found

    def line_of(self, row: int) -> int | None:
        start, reader = self._span(row)
        return reader.line_of(row - start)

    def error_at(self, row: int, column: str | None, message: str) -> DataError:
        if not self._spans:
            return super().error_at(row, column, message)
        start, reader = self._span(row)
        return reader.error_at(row - start, column, message)

    def rewind(self) -> MultiReader:
        self.close()
        return MultiReader(self.dataset, self.dialect, self.chunk_rows, unit=self.unit)

    def close(self) -> None:
        try:
            if self._current is not None:
                self._current.close()
        finally:
            for source in self._sources:
                source.close()

    def units(self) -> list[Unit]:
        return self.dataset.units()
