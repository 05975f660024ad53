"""Writing to descriptors: everything or an error, and standard streams that may be closed.

:class:`WriteAll` is the one stream every output byte and every message goes through. Its
``write`` returns only when all bytes are written, whatever the descriptor is: a raw ``FileIO``
under ``python -u`` (whose ``write`` may be short), a pipe with ``O_NONBLOCK`` set by someone else
(``EAGAIN``: it waits with ``poll`` until the descriptor is writable), or a full disk (the
``OSError`` is raised, never swallowed). A closed pipe raises :class:`BrokenPipeError` (exit 141
upstream); any other failure a :class:`~normcli.errors.NormcliError` naming the destination.

:func:`reserve_std_fds` runs first thing: a standard descriptor the process was started without
(``>&-``, ``2>&-``, ``<&-``) is opened on ``/dev/null``, so that no file normcli opens later can
take its number and receive stray writes, and is remembered as closed.
"""

from __future__ import annotations

import errno
import io
import os
import select
import sys

from ..errors import EXIT_BROKEN_PIPE, EXIT_DATA, NormcliError

TYPE_CHECKING = False  # not typing's: `normcli --version` imports this module, not typing
if TYPE_CHECKING:
    from typing import Any, BinaryIO

#: Writes smaller than this are gathered; larger ones go to the descriptor directly.
_BUFFER = 1 << 18

#: Standard descriptors (0, 1, 2) that were closed when normcli started.
closed_at_start: set[int] = set()

#: Signals that were ignored when normcli started (``nohup`` ignores SIGHUP); they stay so.
ignored_signals: set[int] = set()


def reserve_std_fds() -> None:
    """Open ``/dev/null`` on each standard descriptor that is closed; remember which."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            except OSError:
                continue
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            closed_at_start.add(fd)
    if 1 in closed_at_start or sys.stdout is None:
        sys.stdout = _ClosedOutput()
    if 2 in closed_at_start or sys.stderr is None:
        # Messages go nowhere, but code that writes them needs a stream.
        sys.stderr = io.TextIOWrapper(open(os.devnull, "wb"), write_through=True)  # noqa: SIM115


class _ClosedOutput(io.TextIOBase):
    """``sys.stdout`` when the process has none: writing to it is an error (exit 1)."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


def stdout_closed() -> bool:
    return 1 in closed_at_start or sys.stdout is None


def stdin_closed() -> bool:
    return 0 in closed_at_start or sys.stdin is None


def _wait_writable(fd: int) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    poller.poll()  # a signal handler that raises (SIGTERM, SIGINT, SIGHUP) ends the wait


def write_fd(fd: int, data: Any) -> None:
    """Write all of ``data`` (bytes-like) to descriptor ``fd``; return only when done."""
    view = memoryview(data).cast("B")
    while len(view):
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            _wait_writable(fd)
            continue
        view = view[n:]


class WriteAll(io.RawIOBase):
    """A binary stream on a descriptor (or a Python stream) whose writes write everything.

    Small writes are gathered into a buffer of 256 KB; :meth:`flush` writes it out. ``name``
    names the destination in error messages. ``target`` is either a descriptor number or a
    stream without one (in-process tests); a stream's short counts are followed up too.
    """

    def __init__(self, target: int | BinaryIO, name: str, *, owns_fd: bool = False) -> None:
        super().__init__()
        self._fd = target if isinstance(target, int) else None
        self._stream = None if isinstance(target, int) else target
        self.name = name
        #: The regular file behind the descriptor, when a native writer may open it again by
        #: name (a temporary output file that nothing else writes; see ParquetWriter).
        self.path: str | None = None
        self._owns = owns_fd
        self._buf = bytearray()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        if self._fd is None:
            raise io.UnsupportedOperation("fileno")
        return self._fd

    def _out(self, data: Any) -> None:
        try:
            if self._fd is not None:
                write_fd(self._fd, data)
            else:
                assert self._stream is not None
                view = memoryview(data).cast("B")
                while len(view):
                    n = self._stream.write(view)
                    if n is None:  # a non-blocking stream: nothing written yet
                        continue
                    view = view[n:]
        except BrokenPipeError:
            raise
        except OSError as exc:
            self._buf.clear()  # never retried (nor reported again at exit)
            raise NormcliError(f"{self.name}: cannot write: {exc.strerror or exc}") from exc

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed stream")
        view = memoryview(data).cast("B")
        n = len(view)
        if n < _BUFFER:
            self._buf += view
            if len(self._buf) >= _BUFFER:
                self.flush()
        else:
            self.flush()
            self._out(view)
        return n

    def flush(self) -> None:
        if self._buf:
            data, self._buf = self._buf, bytearray()
            self._out(data)
        if self._stream is not None:
            self._stream.flush()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.flush()
        finally:
            if self._owns and self._fd is not None:
                os.close(self._fd)
            super().close()

    def discard(self) -> None:
        """Close without writing what is buffered (the output is being thrown away)."""
        self._buf.clear()
        if not self.closed:
            if self._owns and self._fd is not None:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
            super().close()


def stdout_stream() -> BinaryIO:
    """Standard output as a :class:`WriteAll` (after what Python's own stream holds)."""
    if stdout_closed():
        raise NormcliError("standard output is closed; give an output file")
    out = sys.stdout
    out.flush()
    try:
        fd = out.fileno()
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return WriteAll(out.buffer, "standard output")  # type: ignore[return-value]
    return WriteAll(fd, "standard output")  # type: ignore[return-value]


def message(text: str) -> None:
    """Write ``text`` to standard error in full; a closed or failing stderr is ignored (the
    exit status still tells)."""
    err = sys.stderr
    if err is None:
        return
    data = text.encode("utf-8", "replace")
    try:
        err.flush()
        try:
            fd = err.fileno()
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            err.write(text)
            err.flush()
            return
        write_fd(fd, data)
    except (OSError, ValueError):
        pass


def quiet_std_streams() -> int | None:
    """Flush Python's standard streams before exit, so the interpreter's own flush at exit has
    nothing left to fail on (it would print "Exception ignored" and exit 120).

    Returns the errno of a failed standard-output flush (None if it succeeded). A failing stream
    is pointed at ``/dev/null`` so that nothing it still buffers can fail again.
    """
    failed: int | None = None
    for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
        if stream is None or isinstance(stream, _ClosedOutput):
            continue
        try:
            stream.flush()
        except (OSError, ValueError) as exc:
            if fd == 1:
                failed = getattr(exc, "errno", None) or errno.EIO
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, stream.fileno())
                os.close(null)
                stream.flush()
            except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
                pass
    return failed


def stdout_gone() -> None:
    """The reader of standard output went away (a broken pipe): point the descriptor at
    ``/dev/null`` so that nothing still buffered fails again; the run stops quietly (141), as
    ``yes | head`` does."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def final_status(code: int) -> tuple[int, str | None]:
    """The exit status once Python's standard streams are flushed (:func:`quiet_std_streams`),
    and the error to report, if any: a failed standard output turns a success into 141 (a
    closed pipe) or 1. Nothing may be left for the interpreter's flush at exit, which cannot
    report a failure."""
    failed = quiet_std_streams()
    if failed is None or code != 0:
        return code, None
    if failed == errno.EPIPE:
        return EXIT_BROKEN_PIPE, None
    return EXIT_DATA, f"standard output: cannot write: {os.strerror(failed)}"
