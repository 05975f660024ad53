"""normcli on a Dask cluster, from Python: the same numbers, the same objects.

Every function takes either a **path** (a file, a folder, a glob or a URL that the workers can
read) or a **dask DataFrame**, and a ``client`` (a ``distributed.Client``; default: the one at
``scheduler``, ``DASK_SCHEDULER_ADDRESS``, or a local cluster started for the call)::

    import normcli.dask
    model = normcli.dask.fit("s3://bucket/sales/", target="price", penalty="l1", cv=5,
                             client=client)               # a normcli.Model
    scaler = normcli.dask.scaler(ddf, "zscore")           # a normcli.Scaler
    scaled = normcli.dask.normalize(ddf, scale="zscore")  # a lazy dask DataFrame
    normcli.dask.normalize("data/", "out/", scale="zscore", client=client)  # parts; rows

Statistics are computed per file (or per partition) on the workers and merged there by a tree
of the local engine's own merges; only the merged statistics reach the client, where ``fit``
solves. :func:`fit` returns the :class:`normcli.Model` and :func:`scaler` the
:class:`normcli.Scaler` that :func:`normcli.fit` and :meth:`normcli.Scaler.fit` return for the
same data. A path input with an ``output`` folder writes one part per file (all or nothing), as
``normcli ... --engine dask``; a dask DataFrame gives a dask DataFrame (``map_partitions`` over
:func:`normcli.normalize` and friends, with the statistics computed first).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any, Literal

from .engines import dask_engine as engine
from .engines import units as U
from .errors import UsageError, refuse_unused
from .pipeline import InputSpec, Job, OutputSpec
from .reduce import tree_levels

__all__ = ["fit", "norm", "normalize", "predict", "scaler"]


def _is_frame(data: Any) -> bool:
    try:
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover - the extra is installed with this module's users
        return False
    return isinstance(data, dd.DataFrame)


def _path(data: Any) -> str:
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    raise TypeError("data must be a path (file, folder, glob or URL) or a dask DataFrame; got "
                    f"{type(data).__name__}")


@contextmanager
def _client(client: Any, scheduler: str | None) -> Any:
    with engine.Cluster(engine.Settings(scheduler=scheduler, client=client)) as cluster:
        yield cluster


#: The reading options a path input takes (as :func:`normcli.normalize` does).
_READ_KEYS = ("input_format", "delimiter", "header", "chunk_rows", "na_values")
#: ... and the writing options of the functions that write parts.
_IO_KEYS = (*_READ_KEYS, "output_format", "output_delimiter")


def _spec(data: Any, io: dict[str, Any], keys: tuple[str, ...] = _IO_KEYS) -> InputSpec:
    unknown = sorted(set(io) - set(keys))
    if unknown:  # never silently ignored (a misspelt option included)
        raise TypeError(f"unknown option {unknown[0]!r}")
    na_values = io.get("na_values")
    return InputSpec(path=_path(data), fmt=io.get("input_format"), delimiter=io.get("delimiter"),
                     header=io.get("header", True), chunk_rows=io.get("chunk_rows"),
                     na_values=None if na_values is None else tuple(na_values), api=True)


def _no_io(io: dict[str, Any]) -> None:
    """Reading and writing options with a dask DataFrame: refused, never silently ignored."""
    if io:
        raise UsageError(f"{', '.join(sorted(io))}: these say how to read or write files; they "
                         "do not apply to a dask DataFrame (its columns are typed)")


def _no_output(output: Any) -> None:
    if output is not None:
        raise UsageError("a dask DataFrame gives a dask DataFrame: write it with its own "
                         "to_parquet/to_csv (leave out output)")


def _out(output: str | os.PathLike[str], io: dict[str, Any], folder: bool = True) -> OutputSpec:
    path = os.fspath(output)
    if folder and not path.endswith("/"):
        path += "/"  # parts: always a folder
    return OutputSpec(path=path, fmt=io.get("output_format"),
                      delimiter=io.get("output_delimiter"))


# -- dask DataFrames: partitions as units --------------------------------------------------
def _frame_job(pdf: Any, kinds: Any = None) -> Job:
    from .api import _frame_to_arrow
    from .io.arrow import ArrowReader, ArrowSource

    job = Job.from_reader(ArrowReader(ArrowSource(_frame_to_arrow(pdf), display="<DataFrame>")))
    if kinds is not None:
        job.kinds = kinds
    return job


def _part_stats(pdf: Any, kinds: Any, indices: list[int]) -> Any:
    from .reduce import LOCAL

    with _frame_job(pdf, kinds) as job:
        return LOCAL.column_stats(job, indices)


def _part_norms(pdf: Any, kinds: Any, indices: list[int], ord: float) -> Any:
    from .reduce import LOCAL

    with _frame_job(pdf, kinds) as job:
        return LOCAL.column_norms(job, indices, ord)


def _part_fit(pdf: Any, kinds: Any, opts: Any, sel: Any, t: int, w: int | None,
              f: int | None, row_base: Any) -> Any:
    from .ops.fit import accumulate

    with _frame_job(pdf, kinds) as job:
        return accumulate(job, opts, sel, t, w, f, row_base=int(row_base))


def _tree(leaves: list[Any], merge: Any) -> Any:
    from dask.delayed import delayed

    level = list(leaves)
    for pairs in tree_levels(len(level)):
        nxt = [delayed(merge, pure=True)(level[a], level[b]) for a, b in pairs]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class _FrameEngine:
    """Statistics over a dask DataFrame's partitions (delayed tasks, reduced by the tree)."""

    def __init__(self, cluster: engine.Cluster, ddf: Any) -> None:
        self.cluster = cluster
        self.ddf = ddf
        self.parts = ddf.to_delayed()

    def _compute(self, root: Any) -> Any:
        return self.cluster.client.compute(root).result()

    def column_stats(self, job: Job, indices: Sequence[int]) -> Any:
        from dask.delayed import delayed

        leaves = [delayed(_part_stats)(p, job.kinds, list(indices)) for p in self.parts]
        return self._compute(_tree(leaves, U.merge_column_stats))

    def column_norms(self, job: Job, indices: Sequence[int], ord: float) -> Any:
        from dask.delayed import delayed

        leaves = [delayed(_part_norms)(p, job.kinds, list(indices), ord) for p in self.parts]
        return self._compute(_tree(leaves, U.merge_column_norms))

    def fit(self, job: Job, opts: Any, sel: Any, t: int, w: int | None, f: int | None) -> Any:
        from dask.delayed import delayed

        bases: list[Any] = [0] * len(self.parts)
        if opts.cv is not None and opts.fold_column is None and len(self.parts) > 1:
            lengths = self.cluster.client.compute(self.ddf.map_partitions(len)).result()
            total = 0
            for i, n in enumerate(lengths):
                bases[i] = total
                total += int(n)
        leaves = [delayed(_part_fit)(p, job.kinds, opts, sel, t, w, f, base)
                  for p, base in zip(self.parts, bases, strict=True)]
        return self._compute(_tree(leaves, U.merge_fit))


def _meta_job(ddf: Any) -> Job:
    """A job over the DataFrame's empty ``_meta``: its columns and types, no rows."""
    return _frame_job(ddf._meta)


# -- the functions -------------------------------------------------------------------------
def fit(data: Any, target: str, *, client: Any = None, scheduler: str | None = None,
        **options: Any) -> Any:
    """:func:`normcli.fit` on the cluster: the same options, the same :class:`normcli.Model`.

    ``data`` is a path the workers can read, or a dask DataFrame. I/O options (``input_format``,
    ``delimiter``, ``header``, ``chunk_rows``, ``na_values``) apply to paths."""
    from .api import Model
    from .ops import fit as fit_mod

    io: dict[str, Any] = {k: options.pop(k) for k in ("input_format", "delimiter", "header",
                                                      "chunk_rows", "na_values") if k in options}
    opts = _fit_options(target, options)
    if _is_frame(data):
        _no_io(io)
    with _client(client, scheduler) as cluster:
        if _is_frame(data):
            with _meta_job(data) as job:
                report = fit_mod.compute(job, opts, engine=_FrameEngine(cluster, data).fit)
        else:
            job, _, units = engine.open_input(_spec(data, io))
            with job:
                report = fit_mod.compute(job, opts, engine=engine.ClusterFit(cluster, units))
    return Model(report.to_json())


def _fit_options(target: str, options: dict[str, Any]) -> Any:
    from .ops import fit as fit_mod

    # --plot and --path are files the command line writes; on the cluster they would be
    # accepted and never written
    known = set(fit_mod.FitOptions.__dataclass_fields__) - {"target", "plot", "plot_log_mse",
                                                            "path"}
    unknown = set(options) - known
    if unknown:
        raise TypeError(f"unknown option {sorted(unknown)[0]!r}")
    given = {key for key, value in options.items() if value is not None}
    options = {key: value for key, value in options.items() if value is not None}
    options["penalty"] = fit_mod.normalize_penalty(options.get("penalty", "l2"))
    for key in ("columns", "exclude"):
        if options.get(key) is not None:
            options[key] = [str(c) for c in options[key]]
    opts = fit_mod.FitOptions(target=str(target), **options)
    refuse_unused(fit_mod.unused_options(opts), given)  # before any task
    return opts


def scaler(data: Any, kind: Literal["minmax", "zscore", "maxabs"] = "minmax", *,
           feature_range: tuple[float, float] | None = None, clip: bool | None = None,
           columns: Sequence[Any] | None = None, exclude: Sequence[Any] | None = None,
           client: Any = None, scheduler: str | None = None, **io: Any) -> Any:
    """:meth:`normcli.Scaler.fit` on the cluster: the same :class:`normcli.Scaler` (and the
    same rules: ``feature_range`` and ``clip`` are for ``minmax``)."""
    from .api import Scaler
    from .ops import normalize as normalize_mod
    from .scalers import Scaler as CoreScaler

    rng, clip_ = normalize_mod.scaler_settings(kind, feature_range, clip)
    cols = None if columns is None else [str(c) for c in columns]
    excl = None if exclude is None else [str(c) for c in exclude]
    if _is_frame(data):
        _no_io(io)
    with _client(client, scheduler) as cluster:
        if _is_frame(data):
            with _meta_job(data) as job:
                sel = job.select(cols, excl)
                stats = _FrameEngine(cluster, data).column_stats(job, sel.used)
        else:
            job, _, units = engine.open_input(_spec(data, io, _READ_KEYS))
            with job:
                sel = job.select(cols, excl)
                stats = engine.ClusterStats(cluster, units).column_stats(job, sel.used)
    return Scaler(CoreScaler(kind, sel.used_names, stats, rng, clip_).to_json())


def normalize(data: Any, output: str | os.PathLike[str] | None = None, *,
              client: Any = None, scheduler: str | None = None, **options: Any) -> Any:
    """:func:`normcli.normalize` on the cluster.

    A path with ``output`` (a folder) writes one part per file and returns the rows written; a
    dask DataFrame gives a lazy dask DataFrame (statistics computed now)."""
    from . import api

    if _is_frame(data):
        _no_output(output)
        _no_io(_pop_io(options))
        api.normalize(data._meta, **options)  # every option checked before any task
        params = options.pop("params", None)
        if params is None and options.get("scale") is not None:
            params = scaler(data, options["scale"], feature_range=options.pop(
                "feature_range", None), clip=options.pop("clip", None),
                columns=options.get("columns"), exclude=options.get("exclude"),
                client=client, scheduler=scheduler).params
        elif params is None and options.get("axis") == "columns":
            params = _column_norm_params(data, options, client, scheduler)
        if params is not None:
            options["params"] = params
            options.pop("columns", None), options.pop("exclude", None)
        meta = api.normalize(data._meta, **options)
        return data.map_partitions(api.normalize, meta=meta, **options)
    if output is None:
        raise UsageError("give an output folder: the workers write one part per file")
    from .ops import normalize as normalize_mod

    io = _pop_io(options)
    opts = normalize_mod.NormalizeOptions(**_normalize_options(options))
    return engine.normalize(_spec(data, io), _out(output, io), opts,
                            engine.Settings(scheduler=scheduler, client=client))


def _column_norm_params(data: Any, options: dict[str, Any], client: Any,
                        scheduler: str | None) -> dict[str, Any]:
    from .kernels import parse_ord
    from .ops.normalize import _norm_params

    text = str(options.get("norm") or "l2")
    ord_ = parse_ord(text, allow_special=False, minimum=1.0)
    cols = options.get("columns")
    excl = options.get("exclude")
    with _client(client, scheduler) as cluster, _meta_job(data) as job:
        sel = job.select(None if cols is None else [str(c) for c in cols],
                         None if excl is None else [str(c) for c in excl])
        acc = _FrameEngine(cluster, data).column_norms(job, sel.used, ord_)
        return _norm_params(sel.used_names, acc, text)


def _pop_io(options: dict[str, Any]) -> dict[str, Any]:
    return {k: options.pop(k) for k in _IO_KEYS if k in options}


def _normalize_options(options: dict[str, Any]) -> dict[str, Any]:
    out = dict(options)
    if out.get("norm") is not None:
        out["norm"] = str(out["norm"])
    fr = out.get("feature_range")
    if fr is not None:
        out["feature_range"] = (float(fr[0]), float(fr[1]))
    params = out.get("params")
    if params is not None and hasattr(params, "params"):
        out["params"] = params.params
    return out


def norm(data: Any, output: str | os.PathLike[str] | None = None, *, client: Any = None,
         scheduler: str | None = None, **options: Any) -> Any:
    """:func:`normcli.norm` on the cluster (``axis="columns"``: a pandas DataFrame, one row per
    column; rows: parts written to ``output``, or a lazy dask DataFrame)."""
    from . import api
    from .ops import norm as norm_mod

    if _is_frame(data):
        _no_output(output)
        _no_io(_pop_io(options))
        meta = api.norm(data._meta, **options)  # every option checked before any task
        if options.get("axis") == "columns":
            from .kernels import parse_ord

            ord_ = parse_ord(str(options.get("ord", 2)))
            with _client(client, scheduler) as cluster, _meta_job(data) as job:
                cols, excl = options.get("columns"), options.get("exclude")
                sel = job.select(None if cols is None else [str(c) for c in cols],
                                 None if excl is None else [str(c) for c in excl])
                acc = _FrameEngine(cluster, data).column_norms(job, sel.used, ord_)
            import pandas as pd

            return pd.DataFrame({"column": sel.used_names,
                                 str(options.get("name", "norm")): acc.norms()})
        return data.map_partitions(api.norm, meta=meta, **options)
    io = _pop_io(options)
    if "ord" in options:
        options["ord"] = str(options["ord"])
    opts = norm_mod.NormOptions(**options)
    refuse_unused(norm_mod.unused_options(opts), {"only"} if opts.only else ())
    if opts.axis == "columns" and output is None:
        raise UsageError("give an output file for the table of column norms")
    if output is None:
        raise UsageError("give an output folder: the workers write one part per file")
    return engine.norm(_spec(data, io), _out(output, io, opts.axis != "columns"), opts,
                       engine.Settings(scheduler=scheduler, client=client))


def predict(model: Any, data: Any, output: str | os.PathLike[str] | None = None, *,
            name: str = "prediction", client: Any = None, scheduler: str | None = None,
            **io: Any) -> Any:
    """:func:`normcli.predict` on the cluster (parts written to ``output``, or a lazy dask
    DataFrame)."""
    from . import api

    core = api._core_model(model)
    if _is_frame(data):
        _no_output(output)
        _no_io(io)
        meta = api.predict(model, data._meta, name=name)
        return data.map_partitions(lambda pdf: api.predict(model, pdf, name=name), meta=meta)
    if output is None:
        raise UsageError("give an output folder: the workers write one part per file")
    return engine.predict(_spec(data, io), _out(output, io), core, name,
                          engine.Settings(scheduler=scheduler, client=client))
