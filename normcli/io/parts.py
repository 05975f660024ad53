"""A folder of output parts: one per input file of a dataset, committed all together or not at all.

``OUTPUT`` ending in ``/`` (or naming an existing folder, or an object-store prefix holding
objects) with a dataset input writes one part per input file, under the same relative name with
the output format's extension (``year=2026/part-0.csv.gz`` -> ``year=2026/part-0.parquet``). The
partition columns are left out of the parts: their values are in the folder names, as hive
writers (Spark, pyarrow) lay them out, so the output reads back as the same dataset.

All or nothing: the parts are written into a temporary folder beside the target
(``.NAME.XXXXXXXX.normcli-tmp``; a temporary prefix in an object store). On success a new local
folder is renamed into place in one step; into an existing folder the parts are moved one by one
(each an atomic rename, with interrupts held off), and files already there with other names are
left alone. In an object store each part is copied to its key and the temporary prefix is
deleted. On any failure or interrupt the temporary folder is removed and the target is as it was.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO, cast

import pyarrow as pa

from ..errors import NormcliError, UsageError
from ..pipeline import Job, Output, OutputSpec, _check_distinct, ordered_map, output_delimiter
from .dataset import MultiReader
from .formats import keeps_text, resolve_output_format, split_compression
from .paths import is_url
from .reader import Chunk
from .remote import filesystem, first_line
from .writer import Outputs, TableWriter, make_writer, signals_held


def part_name(relative: str, fmt: str) -> str:
    """``year=2026/part-0.csv.gz`` -> ``year=2026/part-0.parquet`` (for ``fmt`` parquet): the
    input's extension replaced by the usual one of ``fmt`` in the format registry."""
    from .. import formats

    base, _ = split_compression(relative)
    found = formats.by_extension(base)
    if found is not None:
        ext = next(e for e in found.extensions if base.lower().endswith(e))
        base = base[: -len(ext)]
    out = formats.get(fmt)
    return base + (out.extensions[0] if out is not None else "." + fmt)


class _LocalParts:
    def __init__(self, target: str, names: list[str], inputs: list[str]) -> None:
        self.target = target.rstrip("/") or "/"
        self.names = names
        self.tmp: str | None = None
        parent = os.path.dirname(os.path.abspath(self.target))
        if os.path.exists(self.target) and not os.path.isdir(self.target):
            raise UsageError(f"{target}: is a file, not a folder")
        if not os.path.isdir(parent):
            raise UsageError(f"{target}: no such folder {parent}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise NormcliError(f"{target}: permission denied (cannot write in {parent})")
        self.parent = parent
        if os.path.isdir(self.target):
            local = {os.path.realpath(p) for p in inputs if not is_url(p)}
            for name in names:
                path = os.path.join(self.target, name)
                if os.path.isdir(path):
                    raise UsageError(f"{path}: is a folder; a part cannot replace it")
                if os.path.realpath(path) in local:
                    raise UsageError(f"{path}: the output would replace an input file; write "
                                     "to another folder")

    def begin(self) -> None:
        with signals_held():
            self.tmp = tempfile.mkdtemp(dir=self.parent, suffix=".normcli-tmp",
                                        prefix=f".{os.path.basename(self.target)}.")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o777 & ~umask)  # mkdtemp's 0700 would become the folder's mode

    def open(self, name: str) -> BinaryIO:
        assert self.tmp is not None
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return open(path, "wb", buffering=1 << 20)

    def commit(self) -> None:
        assert self.tmp is not None
        try:
            with signals_held():
                if not os.path.exists(self.target):
                    os.rename(self.tmp, self.target)
                else:
                    for name in self.names:
                        dest = os.path.join(self.target, name)
                        os.makedirs(os.path.dirname(dest), exist_ok=True)
                        os.replace(os.path.join(self.tmp, name), dest)
                    shutil.rmtree(self.tmp, ignore_errors=True)
                self.tmp = None
        except OSError as exc:
            self.abort()
            raise NormcliError(f"{self.target}: cannot write: {exc.strerror or exc}") from exc

    def abort(self) -> None:
        if self.tmp is not None:
            with signals_held():
                shutil.rmtree(self.tmp, ignore_errors=True)
                self.tmp = None


class _RemoteParts:
    def __init__(self, target: str, names: list[str], inputs: list[str]) -> None:
        self.target = target.rstrip("/")
        self.names = names
        self.fs, prefix = filesystem(self.target)
        self.prefix = prefix.rstrip("/")
        self.tmp: str | None = None
        base = self.target + "/"
        for name in names:
            if base + name in inputs:
                raise UsageError(f"{base + name}: the output would replace an input file; "
                                 "write to another prefix")

    def begin(self) -> None:
        folder, _, name = self.prefix.rpartition("/")
        if not folder:  # the bucket itself
            folder, name = self.prefix, "normcli"
        with signals_held():
            self.tmp = f"{folder}/.{name}.{secrets.token_hex(4)}.normcli-tmp"

    def open(self, name: str) -> BinaryIO:
        assert self.tmp is not None
        try:
            return cast(BinaryIO, self.fs.open_output_stream(f"{self.tmp}/{name}"))
        except (OSError, pa.ArrowException) as exc:
            raise NormcliError(f"{self.target}/{name}: cannot write: {first_line(exc)}") from exc

    def commit(self) -> None:
        assert self.tmp is not None
        try:
            with signals_held():
                for name in self.names:
                    self.fs.move(f"{self.tmp}/{name}", f"{self.prefix}/{name}")
        except (OSError, pa.ArrowException) as exc:
            self.abort()
            raise NormcliError(f"{self.target}: cannot write: {first_line(exc)}") from exc
        self.abort()  # removes what is left of the temporary prefix

    def abort(self) -> None:
        if self.tmp is not None:
            with signals_held():
                try:
                    self.fs.delete_dir(self.tmp)
                except (OSError, pa.ArrowException):
                    pass
                self.tmp = None


class PartsOutput(Output):
    """:class:`~normcli.pipeline.Output` into a folder: one part per input file."""

    def __init__(self, job: Job, out: OutputSpec, schema: pa.Schema, *,
                 default_fmt: str = "csv") -> None:
        reader = job.reader
        assert out.path is not None
        if not isinstance(reader, MultiReader):
            raise UsageError(f"{out.path}: a folder output needs a dataset input (a folder, a "
                             "quoted glob or a URL)")
        self.reader = reader
        if out.fmt == "text":
            raise UsageError("--output-format text is fit's summary; choose csv, tsv, parquet, "
                             "json or jsonl")
        self.fmt = resolve_output_format(None, out.fmt, job.fmt)  # a registered writer
        self.delimiter = output_delimiter(job, out, self.fmt)
        self.header = job.dialect.header
        self.schema = schema
        keep = []
        for i, f in enumerate(schema):
            if i in reader.partition_index and f.name == reader.names[i]:
                if f.type != reader.schema.field(i).type:
                    raise UsageError(f"the partition column {f.name!r} is in use, and a folder "
                                     "output keeps partition values in its folder names; "
                                     "write to a file instead")
                continue
            keep.append(i)
        self._keep = keep
        self.part_schema = pa.schema([schema.field(i) for i in keep])
        if not keeps_text(self.fmt):  # named fields (Parquet, JSON, JSON Lines)
            _check_distinct(self.part_schema.names, self.fmt)
        files = reader.dataset.files
        self.part_names = [part_name(f.relative, self.fmt) for f in files]
        if len(set(self.part_names)) != len(self.part_names):
            seen: set[str] = set()
            for name in self.part_names:
                if name in seen:
                    raise UsageError(f"two input files would both write the part {name!r}")
                seen.add(name)
        inputs = [f.location for f in files]
        self.sink: _LocalParts | _RemoteParts = (
            _RemoteParts(out.path, self.part_names, inputs) if is_url(out.path)
            else _LocalParts(out.path, self.part_names, inputs))
        self._encoder: TableWriter | None = None
        self._part = -1
        self._stream: BinaryIO | None = None
        self._writer: TableWriter | None = None
        #: The run's outputs (:meth:`join`): the parts are then published by the group.
        self._group: Outputs | None = None
        self._written = False

    def join(self, group: Outputs) -> None:
        """Commit the parts with the run's other outputs (``--save-params``)."""
        self._group = group
        group.add(_GroupMember(self))

    def _new_writer(self, stream: BinaryIO) -> TableWriter:
        return make_writer(self.fmt, stream, self.part_schema, delimiter=self.delimiter,
                           header=self.header)

    def __enter__(self) -> PartsOutput:
        self.sink.begin()
        try:
            self._encoder = self._new_writer(cast(BinaryIO, io.BytesIO()))
        except BaseException:
            self.sink.abort()
            raise
        return self

    def _strip(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if len(self._keep) == batch.num_columns:
            return batch
        return pa.RecordBatch.from_arrays([batch.column(i) for i in self._keep],
                                          schema=self.part_schema)

    def _finish_part(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _to(self, part: int) -> None:
        """Make ``part`` the part being written (every part before it written, if empty)."""
        while self._part < part:
            self._finish_part()
            self._part += 1
            self._stream = self.sink.open(self.part_names[self._part])
            self._writer = self._new_writer(self._stream)

    def write(self, batch: pa.RecordBatch) -> None:
        raise UsageError("this result is one table, not one per input file; give an output "
                         "file rather than a folder")

    def encode(self, batch: pa.RecordBatch) -> Any:
        assert self._encoder is not None
        return self._encoder.encode(self._strip(batch))

    def put(self, encoded: Any) -> None:  # pragma: no cover - parts are written by write_all
        raise NotImplementedError("a folder output is written by write_all")

    def write_all(self, chunks: Iterable[Chunk],
                  transform: Callable[[Chunk], pa.RecordBatch]) -> int:
        rows = 0

        def one(c: Chunk) -> tuple[int, int, Any]:
            return getattr(c, "part", 0), c.num_rows, self.encode(transform(c))

        for part, n, encoded in ordered_map(one, chunks):
            self._to(part)
            assert self._writer is not None
            self._writer.put(encoded)
            rows += n
        return rows

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                try:
                    self._to(len(self.part_names) - 1)
                    self._finish_part()
                except BaseException:
                    self._abort_part()
                    self.sink.abort()
                    raise
                self._written = True
                if self._group is None:
                    self.sink.commit()
            else:
                self._abort_part()
                self.sink.abort()
        finally:
            if self._encoder is not None:
                self._encoder.abort()
                self._encoder = None

    def _abort_part(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if self._stream is not None:
            try:
                self._stream.close()
            except (OSError, ValueError, pa.ArrowException):
                pass
            self._stream = None


class _GroupMember:
    """A folder of parts as a member of :class:`~normcli.io.writer.Outputs`."""

    def __init__(self, output: PartsOutput) -> None:
        self.output = output
        self.path: str | None = output.sink.target

    @property
    def pending(self) -> bool:
        return self.output._written and self.output.sink.tmp is not None

    def finish(self) -> None:
        pass  # the parts are complete when the output's block ends

    def publish(self) -> None:
        if self.pending:
            self.output.sink.commit()

    def abort(self) -> None:
        self.output.sink.abort()
