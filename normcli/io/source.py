"""Input byte sources: a regular file, or a stream (standard input, a FIFO, ``<(...)``, a device).

A regular file can be opened as often as needed. A stream is opened once and read once: every
byte read from it is copied ("spooled") into a temporary file, so that a second pass (column
statistics), a reader restarted past an oversized record and the error path (finding the
physical line of a bad row) can read it again. The spool has no name: it is created unlinked
(``O_TMPFILE``, or created and unlinked at once), so nothing is left behind whatever ends the
process, even SIGKILL; it is read back through its descriptor with ``pread``.

Reads from a stream return what is available (waiting only for the first byte), so rows that
trickle in on a pipe reach the output without waiting for a full block; :attr:`Source.stalled`
says that the last read found nothing more to read for now.
"""

from __future__ import annotations

import io
import os
import select
import stat
import sys
import tempfile
import threading
from typing import Any, BinaryIO, cast

import pyarrow as pa

from ..errors import DataError, UsageError
from .formats import (
    is_std,
    is_stream_path,
    sniff_compression,
    sniff_length,
    split_compression,
)
from .writer import signals_held


def _anonymous_file() -> int:
    """A read-write descriptor on a temporary file that has no name."""
    folder = tempfile.gettempdir()
    flag = getattr(os, "O_TMPFILE", 0)
    if flag:
        try:
            return os.open(folder, flag | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError:
            pass  # a file system without O_TMPFILE: create and unlink at once
    with signals_held():  # no interrupt between creating the name and removing it
        fd, name = tempfile.mkstemp(prefix="normcli-stdin-", suffix=".spool", dir=folder)
        os.unlink(name)
    return fd


class FdReader(io.RawIOBase):
    """A seekable read-only view of ``fd`` from ``start`` up to ``end()`` (``pread``: its own
    position, whatever else reads or writes the descriptor)."""

    def __init__(self, fd: int, end: Any, start: int = 0) -> None:
        self._fd = fd
        self._end = end
        self._pos = start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            self._pos = int(self._end()) + offset
        return self._pos

    def readinto(self, b: Any) -> int:
        n = min(len(b), int(self._end()) - self._pos)
        if n <= 0:
            return 0
        data = os.pread(self._fd, n, self._pos)
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)


class Prefixed(io.RawIOBase):
    """``prefix`` followed by the rest of ``rest``."""

    def __init__(self, prefix: bytes, rest: Any) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if len(self._prefix):
            n = min(len(b), len(self._prefix))
            b[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(b))
        if not data:
            return 0
        b[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            out = bytes(self._prefix) + self._rest.read()
            self._prefix = memoryview(b"")
            return out
        if len(self._prefix):
            n = min(size, len(self._prefix))
            out = bytes(self._prefix[:n])
            self._prefix = self._prefix[n:]
            return out
        return bytes(self._rest.read(size))

    def close(self) -> None:
        try:
            close = getattr(self._rest, "close", None)
            if close is not None:
                close()
        finally:
            super().close()


class _Replay(io.RawIOBase):
    """A stream from its first byte: the spool first, then live reads (spooled as they go)."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._pos = 0
        self.stopped = False  # set from another thread: the waiting read returns end-of-file

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        source = self._source
        data = source._read_at(self._pos, len(b), lambda: self.stopped or source.cancelled)
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)


class Source:
    """One input: a path, or ``-`` for standard input."""

    # Defaults for subclasses that set up their own state (remote objects, datasets).
    is_stream = False
    stalled = False
    cancelled = False
    codec: str | None = None

    def __init__(self, path: str) -> None:
        self.path = path
        self.display = "<stdin>" if is_std(path) else path
        self._fd: int | None = None  # the stream's descriptor, once open
        self._own_fd = False
        self._eof = False
        self._spool_fd: int | None = None
        self._spooled = 0
        self._lock = threading.Lock()
        self.is_stream = is_stream_path(path)
        if not is_std(path):
            if os.path.isdir(path):
                raise UsageError(f"{path}: is a directory")
            if not os.path.exists(path):
                raise UsageError(f"{path}: no such file")
            if not os.access(path, os.R_OK):
                raise UsageError(f"{path}: permission denied")
        self.compression: str | None = None if is_std(path) else split_compression(path)[1]
        # A stream without a compression extension (stdin, /dev/fd/63): from the first bytes.
        self._sniff = self.is_stream and self.compression is None
        self.codec: str | None = self.compression  # as found once opened

    # -- size and progress ---------------------------------------------------------------------
    @property
    def size(self) -> int | None:
        """Bytes in the file as stored (compressed), when known."""
        if self.is_stream:
            return None
        return os.path.getsize(self.path)

    # -- the stream and its spool --------------------------------------------------------------
    def _open_stream(self) -> None:
        if self._fd is not None:
            return
        if self._spool_fd is None:
            self._spool_fd = _anonymous_file()
        if is_std(self.path):
            try:
                self._fd = sys.stdin.fileno()
            except (AttributeError, OSError, ValueError):
                self._fd = -1  # no real descriptor (tests): read sys.stdin.buffer
        else:
            # Python's os.open retries after a signal whose handler returns and raises what the
            # handler raises: a FIFO with no writer yet can still be interrupted.
            try:
                self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError as exc:
                raise DataError(f"cannot open: {exc.strerror}", source=self.display) from exc
            self._own_fd = True

    def _live(self, size: int, stopped: Any) -> bytes:
        """Up to ``size`` bytes from the stream: waits for the first (in slices, so that a
        stopped reader gives up), then takes what is there without waiting."""
        fd = self._fd
        assert fd is not None
        if fd < 0:
            return bytes(cast(Any, sys.stdin.buffer).read1(size))
        poller: Any = None
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
        except (OSError, ValueError, AttributeError):
            poller = None
        if poller is not None:
            while not poller.poll(100):
                if stopped():
                    return b""
        data = os.read(fd, size)
        if not data or poller is None:
            return data
        parts = [data]
        got = len(data)
        stalled = False
        while got < size:
            if not poller.poll(0):
                stalled = True
                break
            more = os.read(fd, size - got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        self.stalled = stalled
        return b"".join(parts)

    def _read_at(self, pos: int, size: int, stopped: Any = lambda: False) -> bytes:
        """``size`` bytes at most of the stream at ``pos``, from the spool or read live."""
        assert self._spool_fd is not None
        with self._lock:
            if pos < self._spooled:
                return os.pread(self._spool_fd, min(size, self._spooled - pos), pos)
            if self._eof:
                return b""
            data = self._live(size, stopped)
            if not data:
                self._eof = not stopped()
                return data
            view = memoryview(data)
            while view:
                written = os.pwrite(self._spool_fd, view, self._spooled)
                self._spooled += written
                view = view[written:]
            return data

    def idle(self) -> bool:
        """Whether the stream has stalled: its last read found nothing more, and nothing has
        arrived since."""
        fd = self._fd
        if not self.stalled or self._eof or fd is None or fd < 0:
            return False
        try:
            return not select.select([fd], [], [], 0)[0]
        except (OSError, ValueError):
            return False

    def spooled(self) -> int:
        return self._spooled

    def finish_spool(self) -> None:
        """Read the rest of the stream into the spool."""
        if not self.is_stream:
            return
        self._open_stream()
        while not self._eof:
            self._read_at(self._spooled, 1 << 20)

    # -- opening ---------------------------------------------------------------------------------
    def open_bytes(self) -> BinaryIO:
        """The decompressed bytes of the whole input, from the start (any number of times)."""
        if self.is_stream:
            self._open_stream()
            self.cancelled = False
            raw: Any = _Replay(self)
        elif self.compression is None:
            try:
                raw = open(self.path, "rb", buffering=1 << 20)  # noqa: SIM115 - the caller's
            except OSError as exc:
                raise DataError(f"cannot read: {exc.strerror}", source=self.display) from exc
        else:
            try:
                raw = pa.BufferedInputStream(pa.OSFile(self.path, mode="r"), 1 << 20)
            except (OSError, pa.ArrowException) as exc:
                raise DataError(f"cannot read: {exc}", source=self.display) from exc
        return self._decompress(raw)

    def native_file(self, offset: int) -> pa.NativeFile | None:
        """The decompressed bytes of a regular local file from byte ``offset`` on, as a native
        Arrow stream (Arrow then reads it on its own threads, without calling Python per block),
        or None if the input is not such a file (a stream, a device, a codec Arrow lacks)."""
        if self.is_stream:
            return None
        codec = self.compression
        if codec is not None and not pa.Codec.is_available(codec):
            return None
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                return None  # a block device: read through Python, as before
            raw = pa.OSFile(self.path, mode="r")
        except (OSError, pa.ArrowException):
            return None  # open_bytes reports it
        try:
            if codec is None:
                raw.seek(offset)
                return raw
            stream = pa.CompressedInputStream(raw, codec)
            while offset > 0:
                got = len(stream.read(min(offset, 1 << 20)))
                if got == 0:
                    break
                offset -= got
            return stream
        except (OSError, pa.ArrowException) as exc:
            raw.close()
            raise DataError(f"cannot read: {exc}", source=self.display) from exc

    def open_bytes_so_far(self) -> BinaryIO:
        """The decompressed bytes read so far (all of a file), for finding line numbers."""
        if self.is_stream:
            self._open_stream()
            assert self._spool_fd is not None
            raw: Any = FdReader(self._spool_fd, self.spooled)
            return self._decompress(raw)
        return self.open_bytes()

    def local_path(self) -> str:
        """The path of a regular file (a stream's spool has no path: see :meth:`open_random`)."""
        if self.is_stream:
            raise UsageError(f"{self.display}: a stream has no local path")
        return self.path

    def open_random(self) -> Any:
        """A path or seekable file with the stored bytes (spooling a stream whole first)."""
        if not self.is_stream:
            return self.local_path()
        self.finish_spool()
        assert self._spool_fd is not None
        return io.BufferedReader(FdReader(self._spool_fd, self.spooled), buffer_size=1 << 20)

    def _decompress(self, raw: Any) -> BinaryIO:
        codec = self.compression
        if self._sniff:
            head = b""
            while len(head) < sniff_length(head):
                more = raw.read(sniff_length(head) - len(head))
                if not more:
                    break
                head += bytes(more)
            codec = sniff_compression(head)
            raw = Prefixed(head, raw)
        self.codec = codec
        if codec is None:
            return cast(BinaryIO, raw)
        try:
            native = raw if isinstance(raw, pa.NativeFile) else pa.PythonFile(raw, mode="r")
            stream = pa.CompressedInputStream(native, codec)
        except (pa.ArrowException, ValueError) as exc:
            raise DataError(f"cannot decompress ({codec}): {exc}", source=self.display) from exc
        return cast(BinaryIO, stream)

    def cancel(self) -> None:
        """Make a live read that is waiting for input give up (its reader is being stopped)."""
        self.cancelled = True

    def close(self) -> None:
        self.cancelled = True
        # A read still waiting (it gives up within 0.1 s) holds the lock.
        if not self._lock.acquire(timeout=5):
            return  # the process is ending: the descriptors go with it
        try:
            if self._spool_fd is not None:
                try:
                    os.close(self._spool_fd)
                except OSError:
                    pass
                self._spool_fd = None
            if self._fd is not None and self._own_fd:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
            self._fd = None
        finally:
            self._lock.release()
