"""Input byte sources: a file path or standard input.

Standard input is read once. Everything read from it is copied ("spooled") into a temporary
file beside the system's temp folder, so that a second pass (column statistics) and the
error path (finding the physical line of a bad row) can read it again. The spool is removed
when the source is closed.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from typing import Any, BinaryIO, cast

import pyarrow as pa

from ..errors import DataError, UsageError
from .formats import is_std, sniff_compression, split_compression
from .writer import signals_held


class _Tee(io.RawIOBase):
    """Standard input, with every byte read also written to the spool."""

    def __init__(self, raw: BinaryIO, spool: BinaryIO) -> None:
        self._raw = raw
        self._spool = spool

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size) if size is not None and size >= 0 else self._raw.read()
        if data:
            self._spool.write(data)
        return data


class Prefixed(io.RawIOBase):
    """``prefix`` followed by the rest of ``rest``."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
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
        return self._rest.read(size)


class Source:
    """One input: a path, or ``-`` for standard input."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.display = "<stdin>" if is_std(path) else path
        self._spool_path: str | None = None
        self._spool: BinaryIO | None = None
        self._stdin_consumed = False
        self._tee: _Tee | None = None
        if is_std(path):
            self.compression: str | None = None
            self._sniff = True  # from the first bytes
        else:
            if os.path.isdir(path):
                raise UsageError(f"{path}: is a directory")
            if not os.path.exists(path):
                raise UsageError(f"{path}: no such file")
            if not os.access(path, os.R_OK):
                raise UsageError(f"{path}: permission denied")
            self.compression = split_compression(path)[1]
            self._sniff = False

    # -- size and progress ---------------------------------------------------------------------
    @property
    def size(self) -> int | None:
        """Bytes in the file as stored (compressed), when known."""
        if is_std(self.path):
            return None
        return os.path.getsize(self.path)

    # -- opening ---------------------------------------------------------------------------------
    def open_bytes(self) -> BinaryIO:
        """The decompressed bytes of the whole input, from the start.

        The first call on standard input reads it as it arrives (copying it to the spool);
        a later call reads the spool, after copying the rest of standard input into it.
        """
        if not is_std(self.path):
            raw: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed with the stream
        elif not self._stdin_consumed:
            self._stdin_consumed = True
            with signals_held():
                fd, self._spool_path = tempfile.mkstemp(prefix="normcli-stdin-", suffix=".spool")
                self._spool = os.fdopen(fd, "wb")
            self._tee = _Tee(sys.stdin.buffer, self._spool)
            raw = cast(BinaryIO, self._tee)
        else:
            self.finish_spool()
            assert self._spool_path is not None
            raw = open(self._spool_path, "rb")  # noqa: SIM115
        return self._decompress(raw)

    def open_native(self, skip: int) -> pa.NativeFile | None:
        """The decompressed bytes of a file after the first ``skip``, as an Arrow stream.

        Arrow then reads on its own threads without calling back into Python (faster, and
        nothing of Python's can be in flight when an interrupt ends the interpreter). None for
        standard input, which must go through the spool.
        """
        if is_std(self.path):
            return None
        try:
            # pa.OSFile rather than pa.input_stream, which imports pyarrow.fs (S3, SSL: slow).
            raw = pa.OSFile(self.path, mode="r")
            stream: pa.NativeFile = pa.BufferedInputStream(raw, 1 << 20)
            if self.compression is not None:
                stream = pa.CompressedInputStream(stream, self.compression)
            while skip > 0:
                got = len(stream.read(min(skip, 1 << 20)))
                if got == 0:
                    break
                skip -= got
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"cannot read: {exc}", source=self.display) from exc
        return stream

    def open_bytes_so_far(self) -> BinaryIO:
        """The decompressed bytes read so far (all of a file), for finding line numbers."""
        if is_std(self.path) and self._spool_path is not None:
            if self._spool is not None:
                self._spool.flush()
            raw: BinaryIO = open(self._spool_path, "rb")  # noqa: SIM115
        else:
            raw = open(self.path, "rb")  # noqa: SIM115
        return self._decompress(raw)

    def _decompress(self, raw: BinaryIO) -> BinaryIO:
        codec = self.compression
        if self._sniff:
            head = raw.read(4)
            codec = sniff_compression(head)
            raw = cast(BinaryIO, Prefixed(head, raw))
        if codec is None:
            return cast(BinaryIO, io.BufferedReader(cast(Any, raw), buffer_size=1 << 20))
        try:
            stream = pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), codec)
        except (pa.ArrowException, ValueError) as exc:
            raise DataError(f"cannot decompress ({codec}): {exc}", source=self.display) from exc
        return cast(BinaryIO, stream)

    def finish_spool(self) -> None:
        """Copy what is left of standard input into the spool and close it for writing."""
        if self._spool is not None:
            assert self._tee is not None
            while self._tee.read(1 << 20):
                pass
            self._spool.close()
            self._spool = None

    def local_path(self) -> str:
        """A path holding the stored bytes (spooling standard input whole if needed)."""
        if not is_std(self.path):
            return self.path
        if not self._stdin_consumed:
            self.open_bytes().close()
        self.finish_spool()
        assert self._spool_path is not None
        return self._spool_path

    def close(self) -> None:
        if self._spool is not None:
            try:
                self._spool.close()
            finally:
                self._spool = None
        if self._spool_path is not None:
            try:
                os.unlink(self._spool_path)
            except OSError:
                pass
            self._spool_path = None
