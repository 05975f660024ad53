"""URLs: ``s3://``, ``gs://`` (input and output) and ``http(s)://`` (input).

Object stores go through pyarrow's own filesystems (``pyarrow.fs.S3FileSystem`` and
``GcsFileSystem``); ``http(s)://`` through the standard library (a plain GET, streamed). Nothing
here takes a credential or an endpoint as an argument: they come from the environment as each
cloud's own tools read them (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
``AWS_PROFILE`` and ``~/.aws``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL``; ``GOOGLE_APPLICATION_CREDENTIALS`` and ``STORAGE_EMULATOR_HOST`` for GCS).

Output to an object store is atomic: it is written to a temporary key beside the destination
(``.NAME.XXXXXXXX.normcli-tmp``) and copied to its key only when the command succeeds, then the
temporary key is deleted; on any failure or interrupt the temporary key is deleted and the
destination is untouched. So the object under its own key only ever appears complete.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tempfile
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlsplit

import pyarrow as pa

from ..errors import DataError, NormcliError, UsageError
from .formats import split_compression
from .paths import scheme_of
from .source import Source
from .writer import Destination, Outputs, signals_held

if TYPE_CHECKING:
    import pyarrow.fs as pafs

#: Schemes normcli reads; the object stores are also written.
READ_SCHEMES = ("s3", "gs", "gcs", "http", "https")
WRITE_SCHEMES = ("s3", "gs", "gcs")
HTTP_TIMEOUT = 60.0


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _endpoint(*names: str) -> tuple[str | None, str | None]:
    """(host[:port], scheme) of the first endpoint variable that is set."""
    for name in names:
        value = os.environ.get(name)
        if value:
            if "://" not in value:
                return value, None
            parts = urlsplit(value)
            return parts.netloc + parts.path.rstrip("/"), parts.scheme
    return None, None


_FS_CACHE: dict[tuple[str, ...], Any] = {}
_REGIONS: dict[str, str | None] = {}


def filesystem(url: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem for an object-store URL, and the path in it (``bucket/key``)."""
    scheme = scheme_of(url)
    rest = url.split("://", 1)[1]
    if scheme not in ("s3", "gs", "gcs"):
        raise UsageError(f"{url}: unsupported URL scheme {scheme!r} (s3, gs, http, https)")
    if not rest or rest.startswith("/"):
        raise UsageError(f"{url}: no bucket in the URL")
    import pyarrow.fs as pafs  # slow to import (S3, SSL): only for URLs

    kw: dict[str, Any] = {}
    if scheme == "s3":
        host, web = _endpoint("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
        if host is not None:
            kw["endpoint_override"] = host
            if web is not None:
                kw["scheme"] = web
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            kw["region"] = region
        elif host is None:
            # As pyarrow's from_uri does: the bucket's own region, else requests to a bucket
            # outside the profile's region fail with a redirect.
            bucket = rest.split("/", 1)[0]
            if bucket not in _REGIONS:
                try:
                    _REGIONS[bucket] = pafs.resolve_s3_region(bucket)
                except (OSError, pa.ArrowException, ValueError):
                    _REGIONS[bucket] = None  # the profile's region; the first request says why
            if _REGIONS[bucket]:
                kw["region"] = _REGIONS[bucket]
    else:
        host, web = _endpoint("STORAGE_EMULATOR_HOST", "CLOUD_STORAGE_EMULATOR_ENDPOINT")
        if host is not None:
            kw["endpoint_override"] = host
            kw["scheme"] = web or "http"
            kw["anonymous"] = True
    key = (scheme, *(f"{k}={v}" for k, v in sorted(kw.items())),
           os.environ.get("AWS_PROFILE", ""), os.environ.get("AWS_ACCESS_KEY_ID", ""))
    fs = _FS_CACHE.get(key)
    if fs is None:
        try:
            fs = pafs.S3FileSystem(**kw) if scheme == "s3" else pafs.GcsFileSystem(**kw)
        except (OSError, pa.ArrowException) as exc:
            raise NormcliError(f"{url}: cannot connect: {first_line(exc)}") from exc
        _FS_CACHE[key] = fs
    return fs, rest


def file_type(url: str) -> str:
    """``"file"``, ``"directory"`` or ``"missing"`` for an object-store URL."""
    import pyarrow.fs as pafs

    fs, path = filesystem(url)
    try:
        info = fs.get_file_info(path.rstrip("/") or path)
    except (OSError, pa.ArrowException) as exc:
        raise NormcliError(f"{url}: cannot read: {first_line(exc)}") from exc
    if info.type == pafs.FileType.File:
        return "file"
    if info.type == pafs.FileType.Directory:
        return "directory"
    return "missing"


# -- reading ------------------------------------------------------------------------------------
class RemoteSource(Source):
    """One remote file (an object, or an http(s) resource), read like a local file.

    CSV is streamed (pyarrow's native stream for object stores, the HTTP response otherwise);
    Parquet reads the object with random access (object stores) or from a local copy of the
    download (http), removed on :meth:`close`.
    """

    def __init__(self, url: str, size: int | None = None) -> None:
        # Source.__init__ checks a local path; everything it sets up is set up here instead.
        self.path = url
        self.display = url
        self.compression = split_compression(urlsplit(url).path)[1]
        self._size = size
        self._http = scheme_of(url) in ("http", "https")
        self._download: str | None = None
        self._opened: list[Any] = []

    @property
    def size(self) -> int | None:
        return self._size

    def _fail(self, exc: BaseException) -> DataError:
        import urllib.error

        if isinstance(exc, urllib.error.HTTPError):
            return DataError(f"cannot read: HTTP {exc.code} {exc.reason}", source=self.display)
        if isinstance(exc, urllib.error.URLError):
            return DataError(f"cannot read: {exc.reason}", source=self.display)
        return DataError(f"cannot read: {first_line(exc)}", source=self.display)

    def _http_open(self) -> BinaryIO:
        import urllib.request  # imports ssl: only for http(s) URLs

        request = urllib.request.Request(self.path, headers={"User-Agent": "normcli"})
        try:
            return cast(BinaryIO, urllib.request.urlopen(request, timeout=HTTP_TIMEOUT))
        except (OSError, ValueError) as exc:
            raise self._fail(exc) from exc

    def _native(self) -> pa.NativeFile:
        fs, path = filesystem(self.path)
        try:
            stream = fs.open_input_stream(path, compression=None, buffer_size=1 << 20)
        except (OSError, pa.ArrowException) as exc:
            raise self._fail(exc) from exc
        return stream

    def open_bytes(self) -> BinaryIO:
        if self._http:
            raw = self._http_open()
            if self.compression is None:
                return cast(BinaryIO, io.BufferedReader(cast(Any, raw), buffer_size=1 << 20))
            try:
                return cast(BinaryIO, pa.CompressedInputStream(pa.PythonFile(raw, mode="r"),
                                                               self.compression))
            except (pa.ArrowException, ValueError) as exc:
                raise self._fail(exc) from exc
        stream = self._native()
        if self.compression is not None:
            stream = pa.CompressedInputStream(stream, self.compression)
        return cast(BinaryIO, stream)

    def native_file(self, offset: int) -> pa.NativeFile | None:
        return None  # CSV readers read remote bytes through Python (see open_native)

    def open_native(self, skip: int) -> pa.NativeFile | None:
        if self._http:
            return None  # read through Python, as standard input is
        stream: pa.NativeFile = self._native()
        try:
            if self.compression is not None:
                stream = pa.CompressedInputStream(stream, self.compression)
            while skip > 0:
                got = len(stream.read(min(skip, 1 << 20)))
                if got == 0:
                    break
                skip -= got
        except (OSError, pa.ArrowException) as exc:
            raise self._fail(exc) from exc
        return stream

    def open_bytes_so_far(self) -> BinaryIO:
        return self.open_bytes()

    def open_random(self) -> pa.NativeFile:
        """The stored bytes with random access (for Parquet: :class:`ParquetReader` reads a
        remote file through this as it reads a local one)."""
        if self._http:
            if self._download is None:
                with signals_held():
                    fd, self._download = tempfile.mkstemp(prefix="normcli-http-",
                                                          suffix=".normcli-tmp")
                try:
                    with os.fdopen(fd, "wb") as out, self._http_open() as raw:
                        shutil.copyfileobj(raw, out, 1 << 20)
                except OSError as exc:
                    raise self._fail(exc) from exc
            handle: pa.NativeFile = pa.OSFile(self._download, mode="r")
        else:
            fs, path = filesystem(self.path)
            try:
                handle = fs.open_input_file(path)
            except (OSError, pa.ArrowException) as exc:
                raise self._fail(exc) from exc
        self._opened.append(handle)
        return handle

    def local_path(self) -> str:
        raise UsageError(f"{self.path}: a URL has no local path")

    def finish_spool(self) -> None:
        pass

    def close(self) -> None:
        for handle in self._opened:
            try:
                handle.close()
            except (OSError, pa.ArrowException):
                pass
        self._opened = []
        if self._download is not None:
            try:
                os.unlink(self._download)
            except OSError:
                pass
            self._download = None


# -- writing ------------------------------------------------------------------------------------
def temporary_key(path: str) -> str:
    """A hidden key beside ``bucket/.../NAME``: ``bucket/.../.NAME.XXXXXXXX.normcli-tmp``."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name}.{secrets.token_hex(4)}.normcli-tmp"


class RemoteDestination(Destination):
    """An object-store output: a temporary key, copied to its own key only on success."""

    def __init__(self, path: str | None, fmt: str, *, input_path: str | None = None,
                 group: Outputs | None = None) -> None:
        assert path is not None
        self.path = path
        self.fmt = fmt
        self._tmp = None
        self._file = None
        self.group = group
        self.direct = False
        scheme = scheme_of(path)
        if scheme not in WRITE_SCHEMES:
            raise UsageError(f"{path}: cannot write to a {scheme}:// URL (s3:// or gs:// can be "
                             "written)")
        if path.endswith("/"):
            raise UsageError(f"{path}: names a folder; give an object name")
        if input_path is not None and input_path == path:
            raise UsageError(f"{path}: the output is the input file; write to another file")
        self._fs, self._key = filesystem(path)
        if "/" not in self._key:
            raise UsageError(f"{path}: no object name after the bucket")
        if file_type(path) == "directory":
            raise UsageError(f"{path}: is a folder (a prefix holding objects)")
        if group is not None:
            group.add(self)

    def open(self) -> BinaryIO:
        with signals_held():
            self._tmp = temporary_key(self._key)
        try:
            self._file = cast(BinaryIO, self._fs.open_output_stream(self._tmp))
        except (OSError, pa.ArrowException) as exc:
            self._tmp = None
            raise NormcliError(f"{self.path}: cannot write: {first_line(exc)}") from exc
        return self._file

    @property
    def pending(self) -> bool:
        return self._tmp is not None and self._file is not None and self._file.closed

    def finish(self) -> None:
        """Complete the object under its temporary key."""
        if self._file is None or self._tmp is None or self._file.closed:
            return
        try:
            self._file.close()
        except (OSError, pa.ArrowException) as exc:
            self.abort()
            raise NormcliError(f"{self.path}: cannot write: {first_line(exc)}") from exc

    def publish(self) -> None:
        """Move the complete temporary object to its own key."""
        if not self.pending:
            return
        try:
            with signals_held():  # the copy and the clean-up are not split by an interrupt
                self._fs.move(self._tmp, self._key)
                self._tmp = None
        except (OSError, pa.ArrowException) as exc:
            self.abort()
            raise NormcliError(f"{self.path}: cannot write: {first_line(exc)}") from exc

    def commit(self) -> None:
        self.finish()
        if self.group is None:
            self.publish()

    def abort(self) -> None:
        if self._tmp is None:
            return
        with signals_held():
            try:
                if self._file is not None:
                    self._file.close()
            except (OSError, ValueError, pa.ArrowException):
                pass
            try:
                self._fs.delete_file(self._tmp)
            except (OSError, pa.ArrowException):
                pass
            self._tmp = None
