"""``--engine dask``: the operations of :mod:`normcli.ops` on a Dask cluster.

The client (this process) opens the input as a dataset (a folder, glob or URL; a single file is a
dataset of one), reads its first chunk only to learn the columns, and runs the operation itself
with two things swapped in:

* a statistics engine (:class:`ClusterStats`, :class:`ClusterFit`) that maps the local engine's
  one-pass statistics over the files on the workers (:mod:`normcli.engines.units`) and combines
  them on the cluster by the canonical tree of :mod:`normcli.reduce` (the same merges in the same
  order as the local engine, so the numbers are the same bits); only the final statistics
  (``O(p)``, or ``O(K p^2)`` for ``fit``) travel to the client, where ``fit`` solves;
* a sink (:class:`ClusterParts`) whose writing pass is a map over the files: each worker runs the
  operation on its file, with the statistics handed in, and writes its part into a temporary
  folder beside ``OUTPUT``; the folder is moved into place only when every task succeeded.

A failing task cancels the others; its error is the one the local engine reports (the failure
of the first file in order), as the same one line. Ctrl-C cancels the cluster's tasks. Nothing
of a failed or cancelled run is left behind.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click
import pyarrow as pa

from ..errors import UsageError
from ..io.dataset import DataFile, Dataset, MultiReader
from ..io.formats import CsvDialect, check_delimiter, default_delimiter, resolve_input_format
from ..io.paths import is_dataset, is_directory_output, is_url
from ..io.reader import Chunk
from ..kernels import ColumnNorms
from ..pipeline import InputSpec, Job, OutputSpec
from ..reduce import tree_levels
from ..scalers import ColumnStats
from . import units as U

INSTALL = "--engine dask needs the extra: pip install 'normcli[dask]'"

T = TypeVar("T")

#: Tasks submitted and bytes of results fetched by the client in the last run (for bench/).
LAST_RUN: dict[str, int] = {}


def _distributed() -> Any:
    """``distributed`` (untyped: mypy sees it as Any)."""
    import importlib

    return importlib.import_module("distributed")


def require_dask() -> None:
    """Exit 2 with the install hint when Dask's distributed scheduler is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL) from None


@dataclass(frozen=True)
class Settings:
    scheduler: str | None = None  # address; None: DASK_SCHEDULER_ADDRESS, else a LocalCluster
    verbose: bool = False
    progress: bool = False
    #: An already connected ``distributed.Client`` (the Python API); the engine leaves it open.
    client: Any = None

    def __post_init__(self) -> None:
        if self.client is not None and self.scheduler is not None:  # never silently ignored
            raise UsageError("give client or scheduler, not both (a client is connected "
                             "to its scheduler already)")


class Cluster(AbstractContextManager["Cluster"]):
    """A connection to a Dask scheduler, or a LocalCluster started for this run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: Any = None
        self._cluster: Any = None
        self._own_client = False
        #: Tasks submitted and results gathered, for --verbose and the benchmark.
        self.tasks = 0
        self.gathered_bytes = 0
        self.token = secrets.token_hex(4)  # task keys of this run
        self.leaf_bytes = 0

    def __enter__(self) -> Cluster:
        require_dask()
        distributed = _distributed()

        if not self.settings.verbose:
            for name in ("distributed", "tornado", "bokeh"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        if self.settings.client is not None:
            self.client = self.settings.client
            return self
        address = self.settings.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
        if address:
            try:
                self.client = distributed.Client(address, timeout="30s",
                                                 set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"cannot connect to the Dask scheduler at {address}: "
                                 f"{exc}") from None
            self._own_client = True
            self._say(f"connected to the Dask scheduler at {address}")
            return self
        n = os.cpu_count() or 1
        try:
            with warnings.catch_warnings():
                # the dashboard is off; its HTTP server's "port 8787 in use" notice is noise
                warnings.simplefilter("ignore", UserWarning)
                self._cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, silence_logs=(
                        logging.WARNING if self.settings.verbose else logging.CRITICAL))
            self.client = distributed.Client(self._cluster, set_as_default=False)
        except BaseException:  # Ctrl-C while starting: no worker process may outlive us
            if self._cluster is not None:
                self._cluster.close()
            raise
        self._own_client = True
        self._say(f"started a local Dask cluster: {n} worker processes x 1 thread "
                  "(no --scheduler or DASK_SCHEDULER_ADDRESS given)")
        return self

    def _say(self, message: str) -> None:
        if self.settings.verbose:
            click.echo(f"normcli: {message}", err=True)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        LAST_RUN.update(tasks=self.tasks, gathered_bytes=self.gathered_bytes,
                        leaf_bytes=self.leaf_bytes)
        if exc_type is None:
            self._say(f"{self.tasks} Dask tasks; {self.gathered_bytes:,} bytes of results "
                      "fetched by the client")
        try:
            if self._own_client and self.client is not None:
                self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()

    # -- running tasks ---------------------------------------------------------------------
    def submit(self, fn: Callable[..., T], *args: Any, key: str) -> Any:
        self.tasks += 1
        return self.client.submit(fn, *args, key=key, pure=False)

    def wait_ordered(self, futures: Sequence[Any], label: str, *, fetch: bool = True
                     ) -> list[Any]:
        """The results of ``futures`` (one per file, in file order), with a progress bar;
        ``fetch=False`` only waits for them (their results stay on the workers).

        On the first failure the others are cancelled, after the files before the failed one
        have finished: the error reported is that of the first file in order that failed, the
        one the local engine, reading the files in order, would have met first.
        """
        as_completed = _distributed().as_completed
        bar: Any = None
        if self.settings.progress:
            bar = click.progressbar(length=len(futures), file=sys.stderr,
                                    label=f"normcli: {label}", show_eta=True)
            bar.__enter__()
        index = {f.key: i for i, f in enumerate(futures)}
        failed: int | None = None
        try:
            for fut in as_completed(futures, loop=self.client.loop):
                if fut.status == "error":
                    i = index[fut.key]
                    failed = i if failed is None else min(failed, i)
                    break
                if bar is not None:
                    bar.update(1)
            if failed is not None:
                for fut in futures[:failed]:  # every earlier file: done or failed
                    fut.exception()
                first = next(i for i, f in enumerate(futures[: failed + 1])
                             if f.status == "error")
                error = futures[first].exception()
                self.cancel(f for f in futures if f.status != "error")
                futures[first].result()  # raises the worker's error here, its traceback kept
                raise error  # pragma: no cover - result() raised it
            if not fetch:
                return []
            results = list(self.client.gather(list(futures)))
            self.gathered_bytes += sum(_size_of(r) for r in results)
            return results
        except BaseException:
            self.cancel(futures)
            raise
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)

    def cancel(self, futures: Iterable[Any]) -> None:
        try:
            self.client.cancel(list(futures), force=True)
        except Exception:  # noqa: BLE001 - the connection may be gone already
            pass

    def reduce(self, leaves: list[Any], merge: Callable[[T, T], T], label: str) -> T:
        """Wait for the leaves (in file order, as :meth:`wait_ordered`), combine them on the
        cluster by the canonical tree (:func:`normcli.reduce.tree_levels`) and fetch the root."""
        level = list(leaves)
        all_futures = list(leaves)
        for depth, pairs in enumerate(tree_levels(len(level))):
            nxt = [self.submit(merge, level[a], level[b],
                               key=f"normcli-{label}-merge-{depth}-{a}-{self.token}")
                   for a, b in pairs]
            if len(level) % 2:
                nxt.append(level[-1])
            all_futures.extend(nxt)
            level = nxt
        try:
            self.wait_ordered(leaves, label, fetch=False)
            root = level[0].result()
        except BaseException:
            self.cancel(all_futures)
            raise
        self.leaf_bytes = _size_of(root)  # a file's statistics have the root's shape
        self.gathered_bytes += self.leaf_bytes
        return root  # the futures go out of scope: the workers release the partial results


def _size_of(value: Any) -> int:
    import pickle

    try:
        return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001 - a statistic only
        return 0


# -- opening the input on the client -------------------------------------------------------
def open_input(spec: InputSpec) -> tuple[Job, Dataset, list[U.UnitSpec]]:
    """The client's job (first chunk only: the columns) and one unit per file."""
    if spec.path == "-":
        raise UsageError("--engine dask reads files, not standard input: the workers read the "
                         "data themselves (give a file, a folder, a glob or a URL)")
    if spec.chunk_rows is not None and spec.chunk_rows < 1:
        raise UsageError("--chunk-rows must be at least 1")
    if is_dataset(spec.path):
        dataset = Dataset.discover(spec.path, spec.fmt)
    else:
        if not os.path.isfile(spec.path):
            raise UsageError(f"{spec.path}: no such file")
        fmt = resolve_input_format(spec.path, spec.fmt)
        name = os.path.basename(spec.path)
        dataset = Dataset(spec.path, [DataFile(spec.path, name, os.path.getsize(spec.path))],
                          fmt, [], [])
    spec.check_options(dataset.fmt)
    delimiter = (check_delimiter(spec.delimiter, "--delimiter") if spec.delimiter is not None
                 else None)
    dialect = CsvDialect(delimiter or default_delimiter(dataset.fmt), spec.header)
    reader = MultiReader(dataset, dialect, spec.chunk_rows)
    job = Job.from_reader(reader, header=spec.header, delimiter=delimiter,
                          na_values=spec.na_values)
    job.kinds = dataset.kinds(job.kinds)
    job.dataset = dataset
    job.input_path = None
    units = U.file_units(dataset, dialect, spec.chunk_rows, spec.header, delimiter,
                         spec.na_values, job.kinds)
    return job, dataset, units


# -- the engines handed to the operations --------------------------------------------------
class ClusterStats:
    """Column statistics over the files, on the cluster; remembers them for the writing pass."""

    def __init__(self, cluster: Cluster, units: list[U.UnitSpec]) -> None:
        self.cluster = cluster
        self.units = units
        self.computed = U.Precomputed()

    def _leaves(self, fn: Callable[..., Any], *args: Any, label: str) -> list[Any]:
        token = self.cluster.token
        return [self.cluster.submit(fn, u, *args, key=f"normcli-{label}-{u.index}-{token}")
                for u in self.units]

    def column_stats(self, job: Job, indices: Sequence[int]) -> ColumnStats:
        leaves = self._leaves(U.unit_column_stats, list(indices), label="stats")
        stats: ColumnStats = self.cluster.reduce(leaves, U.merge_column_stats, "statistics")
        self.computed.stats = stats
        return stats

    def column_norms(self, job: Job, indices: Sequence[int], ord: float) -> ColumnNorms:
        leaves = self._leaves(U.unit_column_norms, list(indices), ord, label="norms")
        norms: ColumnNorms = self.cluster.reduce(leaves, U.merge_column_norms, "column norms")
        self.computed.norms = norms
        return norms


class ClusterFit:
    """``fit``'s per-fold statistics over the files, on the cluster (``ops.fit.Accumulate``)."""

    def __init__(self, cluster: Cluster, units: list[U.UnitSpec]) -> None:
        self.cluster = cluster
        self.units = units

    def __call__(self, job: Job, opts: Any, sel: Any, t_idx: int, w_idx: int | None,
                 f_idx: int | None) -> Any:
        bases = [0] * len(self.units)
        if opts.cv is not None and opts.fold_column is None and len(self.units) > 1:
            # Fold ids come from global row numbers: count each file's rows first.
            counts = self.cluster.wait_ordered(
                [self.cluster.submit(U.unit_rows, u, key=f"normcli-rows-{u.index}-"
                                     f"{self.cluster.token}") for u in self.units], "rows")
            for i in range(1, len(counts)):
                bases[i] = bases[i - 1] + int(counts[i - 1])
        leaves = [self.cluster.submit(U.unit_fit, u, opts, sel, t_idx, w_idx, f_idx, base,
                                      key=f"normcli-fit-{u.index}-{self.cluster.token}")
                  for u, base in zip(self.units, bases, strict=True)]
        return self.cluster.reduce(leaves, U.merge_fit, "statistics")


def check_folder_output(out: OutputSpec) -> None:
    if not is_directory_output(out.path):
        raise UsageError("--engine dask writes one part per input file: give a folder as "
                         "OUTPUT (ending in /)")


class ClusterParts:
    """The sink of a row-wise operation: one part per file, written by the workers.

    ``task(unit, target)`` returns the function call a worker makes for one unit (it runs the
    operation on the unit into ``target``).
    """

    def __init__(self, cluster: Cluster, units: list[U.UnitSpec], out: OutputSpec,
                 task: Callable[[U.UnitSpec, U.PartTarget], tuple[Any, ...]]) -> None:
        check_folder_output(out)
        self.cluster = cluster
        self.units = units
        self.out = out
        self.task = task
        self._typed: bool | None = None

    def typed(self, job: Job) -> bool:
        from ..pipeline import typed_output

        return typed_output(self.out, job)

    def open(self, job: Job, schema: pa.Schema) -> _ClusterWriter:
        from ..io.parts import PartsOutput

        # Every check of the local folder output (names, partition columns, the output is not
        # an input), and its all-or-nothing temporary folder; nothing is created yet.
        parts = PartsOutput(job, self.out, schema)
        return _ClusterWriter(self, parts, self.typed(job))


class _ClusterWriter:
    def __init__(self, owner: ClusterParts, parts: Any, typed: bool) -> None:
        self.owner = owner
        self.parts = parts
        self.typed = typed
        self.rows = 0

    def __enter__(self) -> _ClusterWriter:
        self.parts.sink.begin()
        return self

    def write(self, batch: pa.RecordBatch) -> None:
        self.parts.write(batch)  # refuses: one table is not a folder of parts

    def write_all(self, chunks: Iterable[Chunk],
                  transform: Callable[[Chunk], pa.RecordBatch]) -> int:
        if isinstance(chunks, Iterator) and hasattr(chunks, "close"):
            chunks.close()  # the workers read the rows; nothing is read here
        sink = self.parts.sink
        url = self.owner.out.path if is_url(self.owner.out.path or "") else None
        futures = []
        cluster = self.owner.cluster
        for u, name in zip(self.owner.units, self.parts.part_names, strict=True):
            target = U.PartTarget(sink.tmp, name, url, self.parts.fmt, self.parts.delimiter,
                                  self.parts.header, tuple(self.parts._keep), self.typed)
            fn, *args = self.owner.task(u, target)
            futures.append(cluster.submit(fn, *args, key=f"normcli-part-{u.index}-{cluster.token}"))
        counts = cluster.wait_ordered(futures, "parts")
        self.rows = int(sum(counts))
        return self.rows

    def join(self, group: Any) -> None:
        """Commit the parts with the run's other outputs (``--save-params``), as the local
        engine's folder output does (:meth:`~normcli.io.parts.PartsOutput.join`)."""
        self.parts.join(group)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.parts._written = True  # the workers wrote every part
            if self.parts._group is None:
                self.parts.sink.commit()
        else:
            self.parts.sink.abort()


# -- the commands ----------------------------------------------------------------------------
def normalize(spec: InputSpec, out: OutputSpec, opts: Any, settings: Settings) -> int:
    from ..ops import normalize as op
    from ..scalers import load_params

    check_folder_output(out)
    with Cluster(settings) as cluster:
        job, _, units = open_input(spec)
        with job:
            worker_opts = opts
            if isinstance(opts.params, str):  # the workers may not see the client's files
                worker_opts = replace(opts, params=load_params(opts.params))
            stats = ClusterStats(cluster, units)
            sink = ClusterParts(cluster, units, out, lambda u, t: (
                U.unit_write, u, "normalize", worker_opts, t, stats.computed))
            return op.run(job, sink, opts, engine=stats)


def norm(spec: InputSpec, out: OutputSpec, opts: Any, settings: Settings) -> int:
    from ..ops import norm as op
    from ..sinks import FileSink

    if opts.axis != "columns":
        check_folder_output(out)
    with Cluster(settings) as cluster:
        job, _, units = open_input(spec)
        with job:
            stats = ClusterStats(cluster, units)
            if opts.axis == "columns":  # one small table, written here
                return op.run(job, FileSink(out), opts, engine=stats)
            sink = ClusterParts(cluster, units, out, lambda u, t: (
                U.unit_write, u, "norm", opts, t, stats.computed))
            return op.run(job, sink, opts, engine=stats)


def predict(spec: InputSpec, out: OutputSpec, model: Any, name: str, settings: Settings,
            **kw: Any) -> int:
    from ..ops import predict as op

    check_folder_output(out)
    if isinstance(model, str):
        model = op.Model.load(model)
    with Cluster(settings) as cluster:
        job, _, units = open_input(spec)
        with job:
            sink = ClusterParts(cluster, units, out, lambda u, t: (
                U.unit_write, u, "predict", (model, name), t, U.Precomputed()))
            return op.run(job, sink, model, name, **kw)


def fit(spec: InputSpec, out: OutputSpec, opts: Any, settings: Settings) -> Any:
    from ..ops import fit as op

    with Cluster(settings) as cluster:
        job, _, units = open_input(spec)
        with job:
            return op.run(job, out, opts, engine=ClusterFit(cluster, units))
