"""Writers for CSV/TSV, Parquet and JSON, and atomic output.

Output to a path goes into a temporary file beside it, which is renamed over the destination only
when the command succeeds (:class:`Destination`). On any failure or interrupt the temporary file is
removed and the destination is left as it was. The outputs of one run (data, ``--save-params``,
the model, ``--plot``) form one :class:`Outputs` group: all are written and synced before any is
renamed, and a failure leaves every destination as it was.
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import re
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, BinaryIO, Protocol, cast

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .. import compute as pc
from ..errors import DataError, NormcliError, UsageError
from . import numtext
from .arrays import string_scalar, value_offsets
from .formats import is_binary, is_std
from .stdio import WriteAll, stdout_closed, stdout_stream

_QUOTE = string_scalar('"')
_QUOTE2 = string_scalar('""')
_EMPTY = string_scalar("")
_NEWLINE = string_scalar("\n")


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back (main thread only) until the block ends.

    Blocking them in this thread is not enough: the kernel hands a signal sent to the process
    to any thread that does not block it (a worker thread, Dask's event loop), and Python then
    runs the handler in the main thread at once, inside the block. So the handlers are also
    replaced by one that only records the signal, which is raised again when the block ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    caught: list[int] = []

    def record(signum: int, frame: object) -> None:
        caught.append(signum)

    handlers = {}
    for sig in held:
        current = signal.getsignal(sig)
        if current not in (signal.SIG_IGN, signal.SIG_DFL, None):
            handlers[sig] = signal.signal(sig, record)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, set(held))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a pending one is recorded now
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if caught:
            signal.raise_signal(caught[0])  # to the real handler, now that the block is done


class Destination:
    """Where output goes: a path (written atomically) or standard output (``None`` or ``-``).

    With a ``group``, :meth:`commit` only completes the temporary file; the group renames it
    together with the run's other outputs (:class:`Outputs`).
    """

    def __new__(cls, path: str | None, fmt: str, *, input_path: str | None = None,
                group: Outputs | None = None) -> Destination:
        if cls is Destination and path is not None and "://" in path:
            from .remote import RemoteDestination  # an object-store URL (s3://, gs://)

            return super().__new__(RemoteDestination)
        return super().__new__(cls)

    def __init__(self, path: str | None, fmt: str, *, input_path: str | None = None,
                 group: Outputs | None = None) -> None:
        self.path = None if path is None or is_std(path) else path
        #: The file written: the path, or where it leads if it is a symbolic link (written
        #: through, as ``>`` does: the link stays a link; a dangling one gets its target made).
        self.target = self.path
        self.fmt = fmt
        self._tmp: str | None = None
        self._file: BinaryIO | None = None
        self.group = group
        #: A destination that is not a regular file (``/dev/null``, a FIFO, ``/dev/stdout``) is
        #: written in place: renaming over it would replace the device or pipe with a file.
        self.direct = False
        if self.path is None:
            if stdout_closed():
                raise NormcliError("standard output is closed; give an output file")
            if is_binary(fmt) and sys.stdout.isatty():
                raise UsageError(f"refusing to write {fmt.capitalize()} to a terminal; give an "
                                 "output file")
        else:
            if os.path.islink(self.path):
                self.target = os.path.realpath(self.path)
            folder = os.path.dirname(os.path.abspath(self.target or self.path))
            if os.path.isdir(self.path):
                raise UsageError(f"{self.path}: is a directory")
            try:
                self.direct = not stat.S_ISREG(os.stat(self.path).st_mode)
            except OSError:
                pass
            if not os.path.isdir(folder):
                raise UsageError(f"{self.path}: no such folder {folder}")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise NormcliError(f"{self.path}: permission denied (cannot write in {folder})")
            if input_path is not None and not is_std(input_path) and os.path.exists(self.path):
                # (input_path may be a glob or a URL: no file of that name)
                if _same_file(self.path, input_path):
                    raise UsageError(
                        f"{self.path}: the output is the input file; write to another file"
                    )
        if group is not None:
            group.add(self)

    @property
    def pending(self) -> bool:
        """Whether a complete temporary file waits to be renamed over the destination."""
        return self._tmp is not None and self._file is not None and self._file.closed

    def open(self) -> BinaryIO:
        if self.path is None:
            self._file = stdout_stream()
            return self._file
        if self.direct:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise NormcliError(f"{self.path}: cannot write: {exc.strerror or exc}") from exc
            self._file = cast(BinaryIO, WriteAll(fd, self.path, owns_fd=True))
            return self._file
        target = self.target or self.path
        folder = os.path.dirname(os.path.abspath(target))
        with signals_held():  # an interrupt may not fall between creating and recording it
            try:
                fd, self._tmp = tempfile.mkstemp(
                    dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".normcli-tmp"
                )
            except OSError as exc:
                raise NormcliError(f"{self.path}: cannot write: {exc.strerror or exc}") from exc
            stream = WriteAll(fd, self.path, owns_fd=True)
            stream.path = self._tmp
            self._file = cast(BinaryIO, stream)
        return self._file

    def finish(self) -> None:
        """Write out everything (standard output: flush); a file is synced and closed, complete
        in its temporary place. On failure the temporary file is removed."""
        if self._file is None:
            return
        if self.path is None:
            self._file.flush()
            return
        if self.direct:
            if not self._file.closed:
                try:
                    self._file.close()
                except BaseException:
                    self.abort()
                    raise
            return
        if self._tmp is None or self._file.closed:  # aborted, or finished already
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.chmod(self._tmp, _mode_for(self.target or self.path))
        except OSError as exc:
            self.abort()
            raise NormcliError(f"{self.path}: cannot write: {exc.strerror or exc}") from exc
        except BaseException:
            self.abort()
            raise

    def publish(self) -> None:
        """Rename the finished temporary file over the destination."""
        if not self.pending:
            return
        assert self._tmp is not None and self.path is not None
        try:
            os.replace(self._tmp, self.target or self.path)
        except OSError as exc:
            self.abort()
            raise NormcliError(f"{self.path}: cannot write: {exc.strerror or exc}") from exc
        self._tmp = None

    def commit(self) -> None:
        self.finish()
        if self.group is None:
            self.publish()

    def abort(self) -> None:
        if self.direct and self._file is not None:
            discard = getattr(self._file, "discard", None)
            if discard is not None:
                discard()
            return
        if self._tmp is not None:
            if self._file is not None:
                try:
                    discard = getattr(self._file, "discard", None)
                    if discard is not None:
                        discard()
                    else:
                        self._file.close()
                except (OSError, ValueError, NormcliError):
                    pass
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None

    def __enter__(self) -> BinaryIO:
        return self.open()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class Member(Protocol):
    """What :class:`Outputs` commits: a :class:`Destination`, or a folder of parts."""

    path: str | None

    @property
    def pending(self) -> bool: ...

    def finish(self) -> None: ...

    def publish(self) -> None: ...

    def abort(self) -> None: ...


class Outputs:
    """The outputs of one run, committed together.

    ``with Outputs() as group:`` -- destinations made with ``group=group`` are written inside
    the block; on success every one is written out and synced first (standard output flushed),
    and only then are the files renamed over their destinations. If anything fails, every
    temporary file is removed; a rename that fails after others succeeded puts the earlier
    destinations back (from hard links kept until the renames are done).
    """

    def __init__(self) -> None:
        self._members: list[Member] = []

    def add(self, dest: Member) -> None:
        self._members.append(dest)

    def adopt(self, output: object) -> None:
        """Join the destination of an opened sink output: a file or standard output, or a
        folder of parts (which publishes last: it cannot be put back); a table in memory has
        nothing to commit."""
        dest = getattr(output, "dest", None)
        if isinstance(dest, Destination) and dest.group is None:
            dest.group = self
            self.add(dest)
        join = getattr(output, "join", None)
        if join is not None:
            join(self)

    def commit(self) -> None:
        try:
            for d in self._members:
                d.finish()
        except BaseException:
            self.abort()
            raise
        files = [d for d in self._members if d.pending]
        files.sort(key=lambda d: not isinstance(d, Destination))  # a folder of parts last
        if len(files) <= 1:
            for d in files:
                d.publish()
            return
        with signals_held():
            self._publish_together(files)

    def _publish_together(self, files: list[Member]) -> None:
        keep: list[tuple[Member, bool, str | None]] = []  # (dest, existed, hard link)
        done: list[tuple[Member, bool, str | None]] = []
        try:
            for d in files:
                assert d.path is not None
                if "://" in d.path or not isinstance(d, Destination):
                    # an object store or a folder of parts: moved in turn, not put back
                    keep.append((d, True, None))
                else:
                    target = d.target or d.path
                    keep.append((d, os.path.lexists(target), _hard_link(target)))
            for item in keep:
                item[0].publish()
                done.append(item)
        except BaseException:
            for d, existed, link in reversed(done):
                back: str | None = getattr(d, "target", None) or d.path
                assert back is not None
                try:
                    if link is not None:
                        os.replace(link, back)
                    elif not existed:
                        os.unlink(back)
                except OSError:
                    pass
            self.abort()
            raise
        finally:
            for _, _, link in keep:
                if link is not None:
                    try:
                        os.unlink(link)
                    except OSError:
                        pass

    def abort(self) -> None:
        for d in self._members:
            d.abort()

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _hard_link(path: str) -> str | None:
    """A hard link to the existing file ``path`` beside it (None if there is none, or the file
    system has no hard links)."""
    if not os.path.isfile(path):
        return None
    folder, base = os.path.split(os.path.abspath(path))
    link = os.path.join(folder, f".{base}.{os.getpid()}.{os.urandom(4).hex()}.normcli-tmp")
    try:
        os.link(path, link)
    except OSError:
        return None
    return link


def check_distinct(files: Sequence[tuple[str, str | None]]) -> None:
    """Refuse (exit 2) two of one run's files -- (option, path) pairs: the input, the output and
    the side files -- that are the same file, before anything is read or written.

    An ``INPUT`` that is a dataset (a folder, a glob, a URL) stands for each of its files: the
    output and every side file must be none of them."""
    seen: list[tuple[str, str]] = []
    for option, path in files:
        if path is None or is_std(path):
            continue
        for other_option, other in seen:
            # (output = input is refused where the output is opened, datasets included)
            if {option, other_option} != {"INPUT", "OUTPUT"} and _same_file(path, other):
                raise UsageError(f"{path}: {option} names the same file as {other_option} "
                                 f"({other}); use another file")
        seen.append((option, path))
    inputs = [path for option, path in seen if option == "INPUT"]
    if inputs:
        _check_dataset_members(inputs[0], [(o, p) for o, p in seen if o != "INPUT"])


def _check_dataset_members(input: str, others: list[tuple[str, str]]) -> None:
    """Refuse an output or side file that is one of the files of the dataset ``input``.

    The dataset is listed (not read) only when one of the other files could be in it: a local
    file that exists, or an object named by a URL of a URL input."""
    from .paths import is_dataset, is_directory_output, is_url

    if not is_dataset(input):
        return
    url = is_url(input)
    # A folder OUTPUT (one part per input file) checks its parts itself (normcli.io.parts).
    candidates = [(o, p) for o, p in others
                  if is_url(p) == url and (url or os.path.exists(p))
                  and not (o == "OUTPUT" and is_directory_output(p))]
    if not candidates:
        return
    from .dataset import dataset_files

    members = dataset_files(input)
    for option, path in candidates:
        if url:
            hit = next((m for m in members if m == path), None)
        else:
            try:
                st = os.stat(path)
            except OSError:
                continue
            hit = next((m for m in members if _stat_is(m, st)), None)
        if hit is not None:
            what = "the output" if option == "OUTPUT" else option
            raise UsageError(f"{path}: {what} is a file of the input ({input}: {hit}); use "
                             "another file")


def _stat_is(path: str, st: os.stat_result) -> bool:
    try:
        other = os.stat(path)
    except OSError:
        return False
    return (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino)


def _same_file(a: str, b: str) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _mode_for(path: str) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


class TableWriter:
    """``write(batch)`` is ``put(encode(batch))``; ``encode`` may run on any thread, ``put`` must
    be called in order on one thread."""

    def encode(self, batch: pa.RecordBatch) -> Any:
        return batch

    def put(self, encoded: Any) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """Give up: release what the writer holds (its output is about to be removed)."""

    def write(self, batch: pa.RecordBatch) -> None:
        self.put(self.encode(batch))

    def close(self) -> None:
        raise NotImplementedError


class NotText(DataError):
    """A binary column holds bytes that are not UTF-8, for an output that is text. The batch's
    writer knows the row within its batch (``batch_row``, 1-based); the row of the output is
    named once :meth:`after` has counted the rows written before the batch."""

    def __init__(self, name: str, batch_row: int, fmt: str, row: int | None = None) -> None:
        self.name, self.batch_row, self.fmt = name, batch_row, fmt
        where = f" (row {row})" if row is not None else ""
        super().__init__(f"column {name!r} holds bytes that are not UTF-8 text{where}; "
                         f"{fmt} output is text: write Parquet, or convert the column")
        self.row = row

    def after(self, rows: int) -> NotText:
        return NotText(self.name, self.batch_row, self.fmt, row=self.batch_row + rows)


def binary_as_text(batch: pa.RecordBatch, fmt: str) -> pa.RecordBatch:
    """``batch`` with its binary columns as text (UTF-8, checked: a text output cannot hold
    other bytes, and a repr such as ``b'\\x00'`` would change their meaning)."""
    if not any(pa.types.is_binary(t) or pa.types.is_large_binary(t)
               for t in batch.schema.types):
        return batch
    cols = []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
            text_type = pa.large_string() if pa.types.is_large_binary(col.type) else pa.string()
            try:
                col = pc.cast(col, text_type)
            except pa.ArrowInvalid:
                row = next(i for i, v in enumerate(col.to_pylist())
                           if v is not None and not _utf8(v))
                raise NotText(name, row + 1, fmt) from None
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


#: Written bytes after which :class:`_Writeback` asks the kernel to start writing them out.
WRITEBACK_BYTES = 8 << 20


class _Writeback:
    """Starts the writeback of a regular output file as it is written, a few MB at a time.

    The output is synced before it is renamed into place (:class:`Destination`); left to the
    kernel, the dirty pages of a 400 MB output are only written then, and that final
    ``fsync`` waited 0.2-0.25 s on the 1M-row benchmark (about 5 ms with this). This is only
    a hint (``posix_fadvise(DONTNEED)``: write what is dirty, drop what is clean from the
    cache); durability still comes from the ``fsync``."""

    def __init__(self, stream: Any) -> None:
        self._fd: int | None = None
        self._done = self._pos = 0
        try:
            fd = stream.fileno()
            if hasattr(os, "posix_fadvise") and stat.S_ISREG(os.fstat(fd).st_mode):
                self._fd = fd
                self._done = self._pos = os.lseek(fd, 0, os.SEEK_CUR)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            self._fd = None

    def wrote(self, nbytes: int) -> None:
        if self._fd is None:
            return
        self._pos += nbytes
        if self._pos - self._done >= WRITEBACK_BYTES:
            try:
                os.posix_fadvise(self._fd, self._done, self._pos - self._done,
                                 os.POSIX_FADV_DONTNEED)
            except OSError:
                self._fd = None
            self._done = self._pos

    def caught_up(self) -> None:
        """Count what another layer wrote to the descriptor (Arrow's Parquet writer)."""
        if self._fd is None:
            return
        try:
            pos = os.lseek(self._fd, 0, os.SEEK_CUR)
        except OSError:
            self._fd = None
            return
        self.wrote(pos - self._pos)


def _text_of(lines: pa.Array) -> pa.Buffer:
    """The bytes of a binary or string array's values, end to end (no copy: lines are
    contiguous in its data buffer)."""
    if len(lines) == 0:
        return pa.py_buffer(b"")
    offsets = value_offsets(lines)
    start = int(offsets[0])
    return lines.buffers()[2].slice(start, int(offsets[-1]) - start)


def _has_empty_cells(col: pa.Array) -> bool:
    """Whether a cell of ``col`` is written as nothing: missing, or empty text."""
    if col.null_count:
        return True
    if not _is_text(col.type) or len(col) == 0:
        return False
    offsets = value_offsets(col)
    return bool((offsets[1:] == offsets[:-1]).any())


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _patch_lines(lines: pa.Array, parts: list[pa.Array | pa.Scalar],
                 patched: dict[int, numtext.CsvRows]) -> list[bytes | pa.Buffer]:
    """The text of ``lines`` (the join of ``parts``) in pieces, with the lines of the patched
    rows of some parts built again (a small join of those rows) between slices of the rest."""
    rows = sorted({r for p in patched.values() for r in p.patch_rows})
    index = pa.Array.from_buffers(pa.int64(), len(rows),
                                  [None, pa.py_buffer(np.array(rows, dtype=np.int64))])
    small: list[pa.Array | pa.Scalar] = []
    for k, part in enumerate(parts):
        if k in patched:
            got = patched[k]
            texts = dict(zip(got.patch_rows, got.patches, strict=True))
            picked = pc.take(part, index).to_pylist()
            small.append(numtext.binaries([texts.get(r, old) for r, old in
                                           zip(rows, picked, strict=True)]))
        elif isinstance(part, pa.Scalar):
            small.append(part)
        else:
            small.append(pc.cast(pc.take(part, index), pa.binary()))
    again = pc.binary_join_element_wise(*small, numtext.binary_scalar(b""))
    text = _text_of(lines)
    offsets = value_offsets(lines)
    base = int(offsets[0])
    pieces: list[bytes | pa.Buffer] = []
    done = 0  # text before line ``done`` is in pieces
    for r, line in zip(rows, again.to_pylist(), strict=True):
        if r > done:
            pieces.append(text.slice(int(offsets[done]) - base,
                                     int(offsets[r]) - int(offsets[done])))
        pieces.append(line)
        done = r + 1
    if done < len(lines):
        pieces.append(text.slice(int(offsets[done]) - base, int(offsets[-1]) - int(offsets[done])))
    return pieces


def format_header(names: Sequence[str], delimiter: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerow(names)
    return buf.getvalue().encode("utf-8")


class CsvWriter(TableWriter):
    """Delimited text. Text columns keep their exact text, quoted only where CSV needs it."""

    def __init__(
        self, stream: BinaryIO, names: Sequence[str], *, delimiter: str = ",", header: bool = True
    ) -> None:
        self.stream = stream
        self.names = list(names)
        self.delimiter = delimiter
        self._header_pending = header
        self._special = "[" + re.escape(delimiter + '"\r\n') + "]"
        self._special_bytes = [c.encode() for c in delimiter + '"\r\n']
        self._fast = numtext.csv_fast_delimiter(delimiter)
        self._sep_b = numtext.binary_scalar(delimiter.encode())
        self._newline_b = numtext.binary_scalar(b"\n")
        self._empty_b = numtext.binary_scalar(b"")
        self._options = pacsv.WriteOptions(
            include_header=False, delimiter=delimiter, quoting_style="none"
        )
        self._writeback = _Writeback(stream)

    def _write_header(self) -> None:
        if self._header_pending:
            self.stream.write(format_header(self.names, self.delimiter))
            self._header_pending = False

    def format(self, batch: pa.RecordBatch) -> bytes | pa.Buffer:
        """The CSV text of ``batch`` (no header)."""
        pieces = self._pieces(batch)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _pieces(self, batch: pa.RecordBatch) -> list[bytes | pa.Buffer]:
        """The CSV text of ``batch`` (no header), in pieces to be written one after another."""
        if batch.num_rows == 0:
            return [b""]
        batch = binary_as_text(batch, "TSV" if self.delimiter == "\t" else "CSV")
        if any(pa.types.is_dictionary(col.type) for col in batch.columns):
            batch = pa.RecordBatch.from_arrays(
                [col.dictionary_decode() if pa.types.is_dictionary(col.type) else col
                 for col in batch.columns],
                names=batch.schema.names,
            )
        if batch.num_columns == 1 and _has_empty_cells(batch.column(0)):
            return [self._format_one(batch.column(0))]
        if self._fast and any(col.type == pa.float64() for col in batch.columns) and all(
            col.type == pa.float64() or _is_text(col.type) or pa.types.is_integer(col.type)
            for col in batch.columns
        ):
            return self._format_fast(batch)
        if any(_is_text(col.type) and self._needs_quotes(col) for col in batch.columns):
            return [self._format_quoted(batch)]
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch, sink, self._options)
        return [sink.getvalue()]

    def _needs_quotes(self, col: pa.Array) -> bool:
        """Whether any value of a text column holds a delimiter, quote or line end.

        Searches the column's character data as one byte string (memchr speed); in UTF-8 these
        ASCII bytes never occur inside another character.
        """
        data = col.buffers()[2]
        if data is None or len(col) == 0:
            return False
        ends = value_offsets(col)
        text = memoryview(data)[int(ends[0]): int(ends[-1])].tobytes()
        return any(ch in text for ch in self._special_bytes)

    def _quoted(self, col: pa.Array) -> pa.Array:
        """A text column with the values that need it quoted (CSV's rules)."""
        need = pc.match_substring_regex(col, self._special)
        quoted = pc.binary_join_element_wise(
            _QUOTE, pc.replace_substring(col, '"', '""'), _QUOTE, _EMPTY
        )
        return pc.if_else(need, quoted, col)

    def _format_fast(self, batch: pa.RecordBatch) -> list[bytes | pa.Buffer]:
        """Runs of float64 columns formatted together by :func:`numtext.csv_rows` (the same
        bytes as Arrow's cast), the other columns as in :meth:`_format_quoted`; one join.

        The few lines holding a number that orjson spells otherwise than Arrow are built on
        their own and written in place of theirs: the text comes in pieces, with no copy."""
        cols = batch.columns
        parts: list[pa.Array | pa.Scalar] = []
        patched: dict[int, numtext.CsvRows] = {}  # part index -> its rows, where patched
        i = 0
        while i < len(cols):
            col = cols[i]
            if col.type == pa.float64():
                j = i
                while j < len(cols) and cols[j].type == pa.float64():
                    j += 1
                rows = numtext.csv_rows(cols[i:j], self.delimiter)
                if rows is None:
                    texts = [numtext.arrow_text(c) for c in cols[i:j]]
                else:
                    if rows.patch_rows:
                        patched[len(parts)] = rows
                    texts = [rows.rows]
                i = j
            else:
                if _is_text(col.type):
                    text = self._quoted(col) if self._needs_quotes(col) else col
                    texts = [pc.fill_null(pc.cast(text, pa.binary()), numtext.binary_scalar(b""))]
                else:
                    texts = [numtext.arrow_text(col)]
                i += 1
            for t in texts:
                parts.append(t)
                parts.append(self._sep_b)
        parts[-1] = self._newline_b
        lines = pc.binary_join_element_wise(*parts, self._empty_b)
        if not patched:
            return [_text_of(lines)]
        return _patch_lines(lines, parts, patched)

    def _format_one(self, col: pa.Array) -> pa.Buffer:
        """A one-column table: a missing or empty cell is written ``""``, as Python's csv module
        writes it. An empty line would be skipped by CSV readers (normcli's, pandas', Python's
        csv gives an empty row), and its row lost."""
        if _is_text(col.type):
            text = self._quoted(col) if self._needs_quotes(col) else col
        else:
            text = pc.cast(col, pa.string())
        text = pc.fill_null(pc.cast(text, pa.binary()), numtext.binary_scalar(b""))
        offsets = value_offsets(text)
        cells = pc.if_else(numtext.bool_array(offsets[1:] == offsets[:-1]),
                           numtext.binary_scalar(b'""'), text)
        return _text_of(pc.binary_join_element_wise(cells, self._newline_b, self._empty_b))

    def _format_quoted(self, batch: pa.RecordBatch) -> pa.Buffer:
        parts = []
        for col in batch.columns:
            if _is_text(col.type):
                text = self._quoted(col)
            else:
                text = pc.cast(col, pa.string())
            parts.append(pc.fill_null(text, _EMPTY))
        rows = pc.binary_join_element_wise(*parts, string_scalar(self.delimiter))
        return _text_of(pc.binary_join_element_wise(rows, _EMPTY, _NEWLINE))

    def encode(self, batch: pa.RecordBatch) -> Any:
        return self._pieces(batch)

    def put(self, encoded: Any) -> None:
        self._write_header()
        for piece in encoded:
            self.stream.write(piece)
            self._writeback.wrote(len(piece))

    def close(self) -> None:
        self._write_header()


#: Parquet output: rows of a row group (at least; the last one of a file may have fewer).
PARQUET_ROW_GROUP_ROWS = 1 << 14

#: Parquet output: row groups handed to the write thread and not yet written, at most.
PARQUET_WRITE_AHEAD = 2

#: A column that is not floating point is dictionary-encoded when its first row group holds at
#: most this share of distinct values.
PARQUET_DICTIONARY_SHARE = 0.5


class ParquetWriter(TableWriter):
    """Parquet. Into an output file (the temporary file of a path), Arrow writes by itself, on
    a thread of its own: encoding and compressing a row group (a third of a Parquet-to-Parquet
    job's work) overlaps reading and computing the next ones.

    Row groups go to the thread in order through a queue of :data:`PARQUET_WRITE_AHEAD`; a
    failure there is raised by the next :meth:`put` or by :meth:`close`, and :meth:`abort`
    waits for the row group being written (a regular file's write ends) before the file is
    given up. Other streams (standard output, a pipe, a FIFO, an object store) are written in
    the caller's thread, as they may block for as long as their reader likes: an interrupt
    then ends the write itself, not a wait for another thread.
    """

    def __init__(self, stream: BinaryIO, schema: pa.Schema) -> None:
        self._stream = stream
        self._name = str(getattr(stream, "name", "output"))
        # A temporary output file is written by Arrow itself, not through Python's stream
        # (a quarter less work for the write thread, and no GIL taken for each page).
        self._native = _native_file(stream)
        self.schema = schema
        self._writer: Any = None  # opened with the first row group (see _open)
        # Batches waiting for their row group: CSV chunks are small (about 1 MB of text, a
        # few thousand rows); one row group each would make the file slow to read.
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(PARQUET_WRITE_AHEAD)
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None
        self._stop = False
        self._writeback = _Writeback(self._native if self._native is not None else stream)

    def _open(self, first: pa.RecordBatch | None) -> None:
        """Open Arrow's writer; ``first`` (the first row group) decides the dictionaries."""
        import pyarrow.parquet as pq  # here: 50 ms of start-up that CSV jobs need not pay

        sink = self._native if self._native is not None else self._stream
        try:
            # Values go to the encoders 16,384 at a time, not Arrow's 1,024: a tenth less work
            # per row group (pages still end near Arrow's 1 MB).
            self._writer = pq.ParquetWriter(sink, self.schema, compression="snappy",
                                            use_dictionary=_dictionary_columns(self.schema,
                                                                               first),
                                            write_batch_size=PARQUET_ROW_GROUP_ROWS)
        except OSError as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: OSError) -> BaseException:
        """A write error of the native file as the one line WriteAll would give."""
        if self._native is None or isinstance(exc, NormcliError):
            return exc
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        return NormcliError(f"{self._name}: cannot write: {why}")

    def put(self, encoded: Any) -> None:
        self._check()
        batch = encoded
        if batch.schema != self.schema:
            batch = pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= PARQUET_ROW_GROUP_ROWS:
            self._write_pending()

    def _check(self) -> None:
        if self._failed is not None:
            raise self._failed

    def _write_pending(self) -> None:
        if not self._pending:
            return
        pending = self._pending
        batch = pending[0] if len(pending) == 1 else pa.concat_batches(pending)
        self._pending, self._pending_rows = [], 0
        if self._writer is None:
            self._open(batch)
        if self._native is None:
            self._writer.write_batch(batch)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="normcli-parquet",
                                            daemon=True)
            self._thread.start()
        self._queue.put(batch)

    def _run(self) -> None:
        """The write thread: row groups in order until ``None``; after a failure (or
        :meth:`abort`) the rest are taken and dropped, so that :meth:`put` never waits."""
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._failed is not None or self._stop:
                continue
            try:
                self._writer.write_batch(batch)
                self._writeback.caught_up()
            except OSError as exc:  # raised in the caller's thread by _check
                self._failed = self._failure(exc)
            except BaseException as exc:  # noqa: BLE001 - any failure is the caller's to raise
                self._failed = exc
            del batch

    def _join(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        self._check()
        self._write_pending()
        if self._writer is None:
            self._open(None)
        self._join()
        self._check()
        try:
            self._writer.close()
            if self._native is not None:
                self._native.close()
        except OSError as exc:
            raise self._failure(exc) from exc

    def abort(self) -> None:
        self._pending = []
        self._stop = True
        self._join()
        # Closed now, while its file is still open; left to the garbage collector, pyarrow's
        # ParquetWriter.__del__ would write to a closed file and print a traceback.
        for obj in (self._writer, self._native):
            if obj is not None:
                try:
                    obj.close()
                except (OSError, ValueError, pa.ArrowException, NormcliError):
                    pass


def _native_file(stream: BinaryIO) -> Any:
    """Arrow's own file on the temporary output file behind ``stream`` (a :class:`WriteAll`
    on which nothing was written yet), or None: other streams are written through Python."""
    path = getattr(stream, "path", None) if type(cast(Any, stream)) is WriteAll else None
    if path is None:
        return None
    try:
        stream.flush()
        if os.lseek(stream.fileno(), 0, os.SEEK_CUR) != 0 or os.path.getsize(path) != 0:
            return None
        return pa.OSFile(path, "wb")
    except (OSError, ValueError):
        return None


def _dictionary_columns(schema: pa.Schema, first: pa.RecordBatch | None) -> list[str]:
    """The columns to dictionary-encode: those whose values repeat (passthrough text, ids,
    dates), judged on the first row group. Computed floats are never worth it (4x slower
    writes, and the encoder falls back to plain anyway), nor are text ids that are all
    different (the 1M-row benchmark's id column: hashing every value for nothing)."""
    names = []
    for i, field in enumerate(schema):
        if pa.types.is_floating(field.type):
            continue
        if first is not None and first.num_rows:
            col = first.column(i)
            try:
                distinct = pc.count_distinct(col, mode="all").as_py()
            except pa.ArrowNotImplementedError:  # (a type without hashing: keep Arrow's way)
                distinct = 0
            if distinct > PARQUET_DICTIONARY_SHARE * first.num_rows:
                continue
        names.append(field.name)
    return names




class JsonWriter(TableWriter):
    """A JSON array of objects, one per row; missing values are ``null``.

    Rows are built column by column: float64 values by :func:`numtext.json_values` (orjson's
    shortest round-trip text), integers and booleans by Arrow, text quoted as JSON; other types
    (and text that needs escapes) value by value with :func:`json.dumps`."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self._first = True
        self.stream.write(b"[")
        self._writeback = _Writeback(stream)

    def _values(self, col: pa.Array) -> pa.Array:
        t = col.type
        if t == pa.float64():
            return numtext.json_values(col)
        null = numtext.binary_scalar(b"null")
        if pa.types.is_integer(t) or pa.types.is_boolean(t):
            return pc.fill_null(pc.cast(pc.cast(col, pa.string()), pa.binary()), null)
        if _is_text(t) and not _needs_json_escape(col):
            quote = numtext.binary_scalar(b'"')
            return pc.fill_null(
                pc.binary_join_element_wise(quote, pc.cast(col, pa.binary()), quote,
                                            numtext.binary_scalar(b"")), null)
        return numtext.binaries([
            json.dumps(v, ensure_ascii=False, default=str).encode("utf-8")
            for v in col.to_pylist()
        ])

    def encode(self, batch: pa.RecordBatch) -> Any:
        if batch.num_rows == 0:
            return b""
        batch = binary_as_text(batch, "JSON")
        parts: list[pa.Array | pa.Scalar] = []
        for i, name in enumerate(batch.schema.names):
            col = batch.column(i)
            if pa.types.is_dictionary(col.type):
                col = col.dictionary_decode()
            key = json.dumps(name, ensure_ascii=False).encode("utf-8")
            parts.append(numtext.binary_scalar((b"{" if i == 0 else b", ") + key + b": "))
            parts.append(self._values(col))
        parts.append(numtext.binary_scalar(b"},\n"))
        text = _text_of(pc.binary_join_element_wise(*parts, numtext.binary_scalar(b"")))
        return text.slice(0, len(text) - 2)  # less the last ",\n"

    def put(self, encoded: Any) -> None:
        if len(encoded):
            self.stream.write(b"\n" if self._first else b",\n")
            self.stream.write(encoded)
            self._first = False
            self._writeback.wrote(len(encoded))

    def close(self) -> None:
        self.stream.write(b"\n]\n" if not self._first else b"]\n")


def _needs_json_escape(col: pa.Array) -> bool:
    """Whether any value holds a quote, a backslash or a control character."""
    data = col.buffers()[2]
    if data is None or len(col) == 0:
        return False
    ends = value_offsets(col)
    text = np.frombuffer(data, dtype=np.uint8)[int(ends[0]): int(ends[-1])]
    return bool((text < 0x20).any() or (text == ord('"')).any() or (text == ord("\\")).any())


def make_writer(
    fmt: str,
    stream: BinaryIO,
    schema: pa.Schema,
    *,
    delimiter: str = ",",
    header: bool = True,
) -> TableWriter:
    from .. import formats

    found = formats.get(fmt)
    if found is None or found.writer is None:
        raise UsageError(f"normcli cannot write {fmt!r} (it writes "
                         f"{', '.join(formats.writable())})")
    return found.writer(stream, schema, delimiter, header)


def write_table(fmt: str, stream: BinaryIO, batch: pa.RecordBatch, *,
                delimiter: str = ",", header: bool = True) -> None:
    """Write one whole table in ``fmt`` (delimited text with its header line unless ``header``
    is false); the writer is aborted on failure."""
    writer = make_writer(fmt, stream, batch.schema, delimiter=delimiter, header=header)
    try:
        writer.write(batch)
        writer.close()
    except BaseException:
        writer.abort()
        raise
