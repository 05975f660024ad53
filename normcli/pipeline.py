"""The flow every command shares: open the input, pick the columns, stream chunks to the output.

One chunk flows reader -> :class:`~normcli.columns.Converter` (float64 block) -> kernel ->
:func:`~normcli.columns.reassemble` -> writer, and nothing of it is kept afterwards, so memory does
not grow with the number of rows. Commands that need statistics first read the input twice
(:meth:`Job.again`); standard input is spooled for that by :class:`~normcli.io.source.Source`.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa

from .columns import (
    ColumnKinds,
    Converter,
    Selection,
    column_kinds,
    missing_values,
    select,
)
from .errors import UsageError
from .io.formats import (
    CsvDialect,
    check_delimiter,
    default_delimiter,
    keeps_text,
    resolve_input_format,
    resolve_output_format,
)
from .io.paths import is_dataset, is_directory_output, is_url
from .io.reader import (
    Chunk,
    TableReader,
    open_reader,
)
from .io.source import Source
from .io.writer import Destination, NotText, TableWriter, make_writer

if TYPE_CHECKING:
    from .io.dataset import Dataset

#: Called after each chunk with (rows done, input bytes done or None when unknown).
ProgressHook = Callable[[int, int | None], None]

T = TypeVar("T")
R = TypeVar("R")


#: jemalloc's decay time (ms) for Arrow's freed pages; see :func:`choose_memory_pool`.
_DECAY_MS = 200


def choose_memory_pool() -> None:
    """Use jemalloc for Arrow's buffers when available (unless ARROW_DEFAULT_MEMORY_POOL says).

    Streaming allocates and frees a few MB per chunk; measured on the benchmark job, jemalloc
    keeps peak RSS about 25% lower than mimalloc and spends a third of its system time.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        # Freed pages go back to the system after 200 ms, not at once: a streaming job frees a
        # chunk's worth every few milliseconds, and with 0 every chunk faulted its pages in
        # again (1M-row CSV job: 2-3.5 s of system time, against about 1 s now). Chunks are
        # about 1 MB (io/reader.py), so what is kept meanwhile is small: peak RSS 170-190 MB.
        pa.jemalloc_set_decay_ms(_DECAY_MS)
    except (NotImplementedError, pa.ArrowNotImplementedError):
        pass


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int | None = None,
    urgent: Callable[[T], bool] | None = None,
) -> Iterator[R]:
    """``map(fn, items)`` computed on worker threads, yielding results in input order.

    numpy and Arrow release the GIL for the heavy work (parsing numbers, kernels, formatting CSV),
    so chunks overlap across cores while the caller writes them out in order. At most
    ``workers + 1`` chunks are in flight, so memory stays bounded. An exception in ``fn`` is
    raised when its result's turn comes; pending work is cancelled when the caller stops early.
    After an item for which ``urgent(item)`` holds (the input stalled after it), every pending
    result is waited for and yielded before the next item is asked for.
    """
    n = workers if workers is not None else min(4, os.cpu_count() or 1)
    if n <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="normcli")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if urgent is not None and urgent(item):
                while pending:
                    yield pending.popleft().result()
            while len(pending) > n or (pending and pending[0].done()):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class InputSpec:
    path: str
    fmt: str | None = None
    delimiter: str | None = None
    header: bool = True
    chunk_rows: int | None = None
    #: Missing-value spellings (``--na-values``); None: pandas' defaults.
    na_values: tuple[str, ...] | None = None
    #: Called with the column names before any data row is read (may raise).
    check_header: Callable[[list[str]], None] | None = None
    #: Messages name the Python API's parameters (``header=False``), not the options.
    api: bool = False

    def check_options(self, fmt: str) -> None:
        """Refuse a reading option that does not apply to input in ``fmt`` (the format
        registry's one rule, :func:`normcli.formats.check_reading_options`)."""
        from .formats import check_reading_options

        check_reading_options(fmt, delimiter=self.delimiter is not None,
                              no_header=not self.header, na_values=self.na_values is not None,
                              api=self.api)


@dataclass(frozen=True)
class OutputSpec:
    path: str | None = None
    fmt: str | None = None
    delimiter: str | None = None


class Job:
    """An opened input, its first chunk, and what it says of the columns.

    Built from an :class:`InputSpec` (a path, or ``-``) by the command line, or from any
    :class:`~normcli.io.reader.TableReader` with :meth:`from_reader` (an Arrow table or stream, a
    DataFrame, a dataset): the operations only see the reader's chunks, names, schema, whether
    its types are declared (``reader.typed``), ``again()`` for a second pass and ``error_at``.
    """

    spec: InputSpec
    #: The input file, for the check that the output is not the input (None: not a file).
    input_path: str | None
    #: The input's delimiter was given (--delimiter): delimited output uses it too.
    delimiter_given: bool

    def __init__(self, spec: InputSpec, progress: ProgressHook | None = None) -> None:
        if spec.chunk_rows is not None and spec.chunk_rows < 1:
            raise UsageError("--chunk-rows must be at least 1")
        self.spec = spec
        dataset: Dataset | None = None
        if (spec.path.endswith(("/", os.sep)) and not is_url(spec.path)
                and not os.path.isdir(spec.path)):
            raise UsageError(f"{spec.path}: no such folder")
        if is_dataset(spec.path):  # a directory, glob or URL (see normcli.io.dataset)
            from .io.dataset import Dataset

            dataset = Dataset.discover(spec.path, spec.fmt)
            self.fmt = dataset.fmt
        else:
            self.fmt = resolve_input_format(spec.path, spec.fmt)
        spec.check_options(self.fmt)
        if spec.delimiter is not None:
            delimiter = check_delimiter(spec.delimiter, "--delimiter")
        else:
            delimiter = default_delimiter(self.fmt)
        dialect = CsvDialect(delimiter, spec.header)
        self.source = Source(spec.path) if dataset is None else dataset.reader_source()
        try:
            reader = (open_reader(self.source, self.fmt, dialect, spec.chunk_rows)
                      if dataset is None else dataset.reader(dialect, spec.chunk_rows))
        except BaseException:
            self.source.close()
            raise
        self._start(reader, progress, input_path=spec.path, dialect=dialect,
                    delimiter_given=spec.delimiter is not None, dataset=dataset)

    @classmethod
    def from_reader(cls, reader: TableReader, progress: ProgressHook | None = None, *,
                    header: bool = True, delimiter: str | None = None,
                    na_values: tuple[str, ...] | None = None) -> Job:
        """A job over an open reader (closed with the job). ``header`` and ``delimiter`` are
        what delimited output should use."""
        job = cls.__new__(cls)
        job.spec = InputSpec(path=reader.source.display, header=header, delimiter=delimiter,
                             na_values=na_values)
        job.fmt = reader.kind
        job.source = reader.source
        job._start(reader, progress, input_path=getattr(reader.source, "path", None),
                   dialect=CsvDialect(delimiter or ",", header),
                   delimiter_given=delimiter is not None, dataset=None)
        return job

    def _start(self, reader: TableReader, progress: ProgressHook | None, *,
               input_path: str | None, dialect: CsvDialect, delimiter_given: bool,
               dataset: Dataset | None) -> None:
        self.dataset = dataset
        self.missing = missing_values(self.spec.na_values)
        #: The columns used, for --verbose (set by :meth:`select` or the command).
        self.used: list[str] = []
        self.last_selection: Selection | None = None
        self.progress = progress
        self.input_path = input_path
        self.delimiter_given = delimiter_given
        self.dialect = dialect
        self.reader = reader
        self._numbers: list[int] = []
        try:
            check = getattr(self.spec, "check_header", None)
            if check is not None:
                check(self.reader.names)
            self._iter: Iterator[Chunk] | None = iter(self.reader)
            self.first: Chunk | None = next(self._iter, None)
            self.kinds: ColumnKinds = column_kinds(self.reader, self.first, self.missing)
            if dataset is not None:
                self.kinds = dataset.kinds(self.kinds)
        except BaseException:
            self.close()
            raise

    @property
    def names(self) -> list[str]:
        return self.reader.names

    @property
    def display(self) -> str:
        return self.source.display

    def select(
        self,
        columns: Sequence[str] | None,
        exclude: Sequence[str] | None,
        reserved: Sequence[str] = (),
        *,
        require: bool = True,
        option: str = "--columns",
    ) -> Selection:
        sel = select(self.names, self.kinds, columns=columns, exclude=exclude, reserved=reserved,
                     reader=self.reader, option=option)
        if require and not sel.used and self.first is not None and self.first.num_rows:
            raise UsageError(f"{self.display}: no numeric columns to work on (see {option})"
                             + self._delimiter_hint())
        self.note_used(sel.used)
        self.last_selection = sel  # which columns an operation replaced (the API reads it)
        return sel

    def _delimiter_hint(self) -> str:
        """A header read as one column that holds another separator: suggest --delimiter."""
        if len(self.names) != 1 or not keeps_text(self.fmt):  # delimited text only
            return ""
        for sep, shown in ((";", "';'"), ("\t", "tab"), ("|", "'|'"), (",", "','")):
            if sep != self.dialect.delimiter and sep in self.names[0]:
                return (f"; the header is one column {self.names[0]!r}: if the separator is "
                        f"{shown}, give --delimiter {shown}")
        return ""

    def note_used(self, indices: Sequence[int]) -> None:
        """Record columns in use (for --verbose); a set keeps it linear on wide inputs."""
        seen = set(self.used)
        for i in indices:
            name = self.names[i]
            if name not in seen:
                seen.add(name)
                self.used.append(name)

    def column_report(self) -> str:
        """Which columns were used and which passed through (and why), for --verbose."""
        def shown(name: str) -> str:
            return repr(name) if name != name.strip() or not name else name

        def listing(items: list[str]) -> str:
            shown = items[:20]
            more = f", ... ({len(items)} in all)" if len(items) > 20 else ""
            return ", ".join(shown) + more

        used = set(self.used)
        passed = [
            f"{shown(n)} ({why})" if (why := self.kinds.why_passed(i)) else shown(n)
            for i, n in enumerate(self.names) if n not in used
        ]
        out = f"columns used: {listing([shown(n) for n in self.used]) or 'none'}"
        if passed:
            out += f"; passed through: {listing(passed)}"
        return out

    def numbers_only(self, indices: Sequence[int]) -> None:
        """Say that the passes to come need only the numbers of the columns at ``indices``
        (their text is not written out): a CSV input then has Arrow parse them to float64 as
        it reads (:meth:`~normcli.io.reader.CsvReader.with_numbers`), instead of building
        text columns and parsing those. Call it before taking the chunks."""
        self._numbers = sorted(set(self._numbers) | set(indices))

    def _typed_reader(self) -> TableReader | None:
        """A reader of the input from the first row that parses the columns of
        :meth:`numbers_only` itself (None: keep reading text)."""
        first = self.first
        retype = getattr(self.reader, "with_numbers", None)
        if not self._numbers or retype is None or first is None or first.flush:
            return None  # (a stream whose first rows trickled in stays as it is)
        reader: TableReader | None = retype(self._numbers, self.missing.to_pylist())
        return reader

    def converter(self, indices: Sequence[int]) -> Converter:
        return Converter(self.reader, indices, self.missing)

    def _tick(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        for chunk in chunks:
            yield chunk
            if self.progress is not None:
                self.progress(chunk.row_start + chunk.num_rows,
                              self.reader.position())

    def chunks(self) -> Iterator[Chunk]:
        """The chunks of the first pass (the first one included); once only."""
        if self._iter is None:
            raise RuntimeError("the first pass was already taken")
        it, self._iter = self._iter, None
        typed = self._typed_reader()
        first_chunk = self.first
        if typed is not None:  # the first chunk is read again, with the numbers parsed
            self.reader = typed
            if first_chunk is not None:
                self.first = Chunk(first_chunk.batch.slice(0, 0), 0)
            return self._tick(_split_first(iter(typed)))

        def gen() -> Iterator[Chunk]:
            if self.first is not None:
                first = self.first
                self.first = Chunk(first.batch.slice(0, 0), 0)
                yield from _pieces(first)
                del first
            yield from it

        return self._tick(gen())

    def next_pass(self) -> Iterator[Chunk]:
        """The first pass if it was not taken yet (statistics came from elsewhere), else a
        second pass (:meth:`again`)."""
        return self.chunks() if self._iter is not None else self.again()

    def again(self) -> Iterator[Chunk]:
        """The chunks of a second pass from the first row."""
        self.reader = self.reader.rewind()
        return self._tick(_split_first(iter(self.reader)))

    def __enter__(self) -> Job:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.reader.close()  # no background read may outlive the job (see CsvReader.close)
        finally:
            self.source.close()


def _pieces(chunk: Chunk) -> Iterator[Chunk]:
    """``chunk`` in ``chunk.pieces`` slices of equal rows (no copy).

    The first chunk of a CSV input is about 4 MB of text (column types are decided from it),
    later ones about one Arrow block: processed whole, its temporaries would be the largest of
    the run. The reader says how many slices (the same for its text and typed reads)."""
    n = chunk.num_rows
    if chunk.pieces <= 1 or n <= 1:
        yield chunk
        return
    step = -(-n // chunk.pieces)
    for start in range(0, n, step):
        last = start + step >= n
        yield Chunk(chunk.batch.slice(start, step), chunk.row_start + start,
                    flush=chunk.flush and last)


def _split_first(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    for chunk in chunks:
        yield from _pieces(chunk)


@contextmanager
def open_job(spec: InputSpec, progress: ProgressHook | None = None) -> Iterator[Job]:
    job = Job(spec, progress)
    try:
        yield job
    finally:
        job.close()


def typed_output(out: OutputSpec, job: Job | None = None) -> bool:
    """Whether ``out`` is a typed format (Parquet, JSON), where numbers read from text are
    written as numbers; text formats keep the input's text."""
    if job is not None and out.fmt is None and is_directory_output(out.path):
        return not keeps_text(job.fmt)  # a folder of parts is in the input's format
    return not keeps_text(resolve_output_format(out.path, out.fmt))


def output_delimiter(job: Job, out: OutputSpec, fmt: str) -> str:
    if out.delimiter is not None:
        from .formats import check_writing_options

        check_writing_options(fmt, delimiter=True)  # not silently ignored (Parquet, JSON)
        return check_delimiter(out.delimiter, "--output-delimiter")
    natural = default_delimiter(fmt)
    if natural != ",":  # TSV is tab-separated whatever the input's delimiter
        return natural
    if job.delimiter_given:
        return job.dialect.delimiter
    return ","


def _check_distinct(names: Sequence[str], fmt: str) -> None:
    from . import formats

    seen: set[str] = set()
    for name in names:
        if name in seen:
            found = formats.get(fmt)
            title = (found.title or found.name) if found is not None else fmt
            raise UsageError(f"column name {name!r} is repeated in the header: {title} "
                             "output needs distinct names (write CSV, or rename the columns)")
        seen.add(name)


class Output:
    """An open destination and the writer on it; commit on success, roll back on failure."""

    def __new__(cls, job: Job, out: OutputSpec, schema: pa.Schema, *,
                default_fmt: str = "csv") -> Output:
        if cls is Output and is_directory_output(out.path):
            from .io.parts import PartsOutput  # one part per input file

            return super().__new__(PartsOutput)
        return super().__new__(cls)

    def __init__(self, job: Job, out: OutputSpec, schema: pa.Schema, *,
                 default_fmt: str = "csv") -> None:
        if out.fmt == "text":
            raise UsageError("--output-format text is fit's summary; choose csv, tsv, parquet, "
                             "json or jsonl")
        self.fmt = resolve_output_format(out.path, out.fmt, default_fmt)
        if not keeps_text(self.fmt):  # named fields (Parquet, JSON, JSON Lines)
            _check_distinct(schema.names, self.fmt)
        if job.dataset is not None:
            job.dataset.refuse_input_as_output(out.path)
        self.dest = Destination(out.path, self.fmt, input_path=job.input_path)
        self.delimiter = output_delimiter(job, out, self.fmt)
        self.header = job.dialect.header
        self.schema = schema
        self._writer: TableWriter | None = None
        self._rows = 0  # rows written so far (to say where a value cannot be written)

    def __enter__(self) -> Output:
        try:
            stream = self.dest.open()
            self._writer = make_writer(self.fmt, stream, self.schema, delimiter=self.delimiter,
                                       header=self.header)
        except BaseException:
            self.dest.abort()
            raise
        return self

    def write(self, batch: pa.RecordBatch) -> None:
        assert self._writer is not None
        try:
            self._writer.write(batch)
        except NotText as exc:
            raise exc.after(self._rows) from None
        self._rows += batch.num_rows

    def encode(self, batch: pa.RecordBatch) -> Any:
        """The output form of ``batch`` (CSV text), safe to compute on a worker thread."""
        assert self._writer is not None
        return self._writer.encode(batch)

    def put(self, encoded: Any) -> None:
        """Write what :meth:`encode` returned; called in order, on one thread."""
        assert self._writer is not None
        self._writer.put(encoded)

    def write_all(self, chunks: Iterable[Chunk],
                  transform: Callable[[Chunk], pa.RecordBatch]) -> int:
        """Transform and encode chunks in parallel, write them in order; returns the rows."""
        rows = 0
        try:
            for n, flush, encoded in ordered_map(
                    lambda c: (c.num_rows, c.flush, self.encode(transform(c))), chunks,
                    urgent=lambda c: c.flush):
                rows += n
                self.put(encoded)  # Parquet: the writer gathers its row groups
                if flush:  # the input stalled: what is complete goes out now
                    self.flush()
        except NotText as exc:  # (raised in its chunk's turn: ``rows`` are those before it)
            raise exc.after(self._rows + rows) from None
        self._rows += rows
        return rows

    def flush(self) -> None:
        stream = getattr(self._writer, "stream", None)
        if stream is not None and self.fmt != "parquet":
            stream.flush()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._writer is not None
        if exc_type is None:
            try:
                self._writer.close()
            except BaseException:
                self._writer.abort()
                self.dest.abort()
                raise
            self.dest.commit()
        else:
            self._writer.abort()
            self.dest.abort()
