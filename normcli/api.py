"""The Python API: normcli's operations on pandas DataFrames, Arrow tables and streams, or files.

Every function here opens a source, calls the same operation the command line calls
(:mod:`normcli.ops`) and collects its output, so the numbers are the command line's. What comes
back follows what went in:

* a :class:`pandas.DataFrame` gives a DataFrame with the same index, the same columns in the same
  order, and every column the operation did not change exactly as it was (values and dtype);
* a :class:`pyarrow.Table` or :class:`pyarrow.RecordBatchReader` gives a :class:`pyarrow.Table`;
* a path (or URL) gives a DataFrame (CSV passthrough columns keep their text, as strings).

Errors are exceptions, never ``SystemExit``: :class:`~normcli.errors.DataError` (bad data, with
``source``, ``line`` or ``row`` and ``column``) and :class:`~normcli.errors.UsageError` (bad
arguments, unknown columns). This module is the only one that imports pandas; the command line
never imports it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from .errors import UsageError, refuse_unused
from .io.arrow import ArrowReader, ArrowSource
from .ops import fit as fit_mod
from .ops import norm as norm_mod
from .ops import normalize as normalize_mod
from .ops import predict as predict_mod
from .pipeline import InputSpec, Job
from .scalers import Scaler as _CoreScaler
from .sinks import TableSink

__all__ = ["Data", "Model", "Scaler", "fit", "norm", "normalize", "predict"]

#: What every function accepts as its data.
Data: TypeAlias = "pd.DataFrame | pa.Table | pa.RecordBatchReader | str | os.PathLike[str]"

Number = float | int | str


class _Opened:
    """A job over ``data``, and what the result must be turned back into."""

    def __init__(self, job: Job, frame: pd.DataFrame | None, arrow: bool) -> None:
        self.job = job
        self.frame = frame
        self.arrow = arrow


def _frame_to_arrow(df: pd.DataFrame) -> pa.Table:
    """The columns of ``df`` as Arrow (no index); a column Arrow cannot hold becomes all-null,
    so it is passed through, and the caller keeps it from ``df`` itself."""
    arrays = []
    for j in range(df.shape[1]):
        series = df.iloc[:, j]
        try:
            arr = pa.Array.from_pandas(series)
        except (pa.ArrowException, TypeError, ValueError):
            arr = pa.nulls(len(series))
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=[str(c) for c in df.columns])


@contextmanager
def _open(data: Any, *, two_pass: bool = False, input_format: str | None = None,
          delimiter: str | None = None, header: bool = True, chunk_rows: int | None = None,
          na_values: Sequence[str] | None = None) -> Any:
    if not isinstance(data, (str, os.PathLike)):
        given = [name for name, value in (("input_format", input_format),
                                          ("delimiter", delimiter), ("na_values", na_values))
                 if value is not None] + ([] if header else ["header=False"])
        if given:
            raise UsageError(f"{', '.join(given)}: these say how to read a file; they do not "
                             "apply to a DataFrame or an Arrow table (its columns are typed)")
    if isinstance(data, pd.DataFrame):
        source = ArrowSource(_frame_to_arrow(data), display="<DataFrame>")
        job = Job.from_reader(ArrowReader(source, chunk_rows=chunk_rows))
        opened = _Opened(job, data, arrow=False)
    elif isinstance(data, (pa.Table, pa.RecordBatchReader)):
        source = ArrowSource(data, display="<arrow>", spool=two_pass)
        job = Job.from_reader(ArrowReader(source, chunk_rows=chunk_rows))
        opened = _Opened(job, None, arrow=True)
    elif isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if path == "-":
            raise UsageError("'-' (standard input) is for the command line; pass a path or data")
        spec = InputSpec(path=path, fmt=input_format, delimiter=delimiter, header=header,
                         chunk_rows=chunk_rows,
                         na_values=None if na_values is None
                         else tuple(_columns(na_values, "na_values") or ()), api=True)
        opened = _Opened(Job(spec), None, arrow=False)
    else:
        raise TypeError("data must be a pandas DataFrame, a pyarrow Table or RecordBatchReader, "
                        f"or a path; got {type(data).__name__}")
    with opened.job:
        yield opened


def _columns(names: Sequence[Any] | None, what: str = "columns") -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, (str, bytes)):  # iterating would give its characters
        raise UsageError(f"{what} must be a list of names, not the string {names!r} (write "
                         f"[{names!r}] for one name)")
    return [str(n) for n in names]


def _float(value: Any, what: str) -> float:
    """``value`` as a float, or a UsageError naming the argument (never a ValueError)."""
    if isinstance(value, (bool, str, bytes)):
        raise UsageError(f"{what} must be a number (got {value!r})")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number (got {value!r})") from None


def _floats(values: Any, what: str) -> list[float]:
    if isinstance(values, (str, bytes)):
        raise UsageError(f"{what} must be a list of numbers, not the string {values!r}")
    try:
        items = list(values)
    except TypeError:
        raise UsageError(f"{what} must be a list of numbers (got {values!r})") from None
    return [_float(v, what) for v in items]


def _int(value: Any, what: str) -> int:
    """``value`` as an int (an integral float too), or a UsageError naming the argument."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__index__"):
        raise UsageError(f"{what} must be an integer (got {value!r})")
    return int(value.__index__())


def _loads(text: str | bytes, source: str) -> Any:
    """The JSON value of ``text``; bad text is a DataError, as a bad file is."""
    from .errors import DataError

    try:
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at offset {exc.start})",
                        source=source) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"not JSON: {exc.msg} (column {exc.colno})", source=source,
                        line=exc.lineno) from None


def _number(value: Number) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(value)


def _rows_result(opened: _Opened, table: pa.Table, *, replaced: Sequence[int] = (),
                 appended: bool = False) -> Any:
    """The result in the caller's form: the operation replaced the columns at ``replaced`` and,
    with ``appended``, added one last column."""
    if opened.arrow:
        return table
    df = opened.frame
    if df is None:  # a file
        return table.to_pandas()
    out = df.copy()
    for j in replaced:
        out.isetitem(j, _float_column(table.column(j)))
    if appended:
        name = table.schema.names[-1]
        out[name] = _float_column(table.column(table.num_columns - 1))
    return out


def _float_column(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(col.to_numpy(), dtype=np.float64)


def _table_result(opened: _Opened, table: pa.Table, index: Any = None) -> Any:
    if opened.arrow:
        return table
    df = table.to_pandas()
    if index is not None:
        df.index = index
    return df


# -- normalize ---------------------------------------------------------------------------------
def normalize(
    data: Data,
    norm: Number | None = None,
    axis: Literal["rows", "columns"] | None = None,
    scale: Literal["minmax", "zscore", "maxabs"] | None = None,
    *,
    feature_range: tuple[float, float] | None = None,
    clip: bool | None = None,
    params: Scaler | dict[str, Any] | str | None = None,
    columns: Sequence[Any] | None = None,
    exclude: Sequence[Any] | None = None,
    input_format: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    chunk_rows: int | None = None,
    na_values: Sequence[str] | None = None,
) -> Any:
    """Divide each row (or column) by its norm, or scale each column; as ``normcli normalize``.

    ``norm`` is ``"l1"``, ``"l2"`` (the default), ``"max"`` or a number ``p >= 1``; ``scale``
    is ``"minmax"`` (with ``feature_range`` and ``clip``), ``"zscore"`` or ``"maxabs"``.
    ``params`` applies saved statistics: a :class:`Scaler`, its JSON, or a ``--save-params``
    file. The used columns come back as float64; every other column as it was. ``axis``
    (default ``"rows"``) is for norms: given with ``scale`` (or a scaler's ``params``), a
    :class:`~normcli.errors.UsageError`, as on the command line.
    """
    if isinstance(params, Scaler):
        params = params.params
    opts = normalize_mod.NormalizeOptions(
        norm=None if norm is None else _number(norm), axis=axis, scale=scale,
        feature_range=_range(feature_range), clip=clip, columns=_columns(columns),
        exclude=_columns(exclude, "exclude"), params=params,
    )
    two_pass = params is None and (scale is not None or axis == "columns")
    with _open(data, two_pass=two_pass, input_format=input_format, delimiter=delimiter,
               header=header, chunk_rows=chunk_rows, na_values=na_values) as opened:
        sink = TableSink()
        normalize_mod.run(opened.job, sink, opts)
        selection = opened.job.last_selection
        replaced = selection.used if selection is not None else []
        return _rows_result(opened, sink.table(), replaced=replaced)


def _range(feature_range: Any) -> tuple[float, float] | None:
    if feature_range is None:
        return None
    values = _floats(feature_range, "feature_range")
    if len(values) != 2:
        raise UsageError(f"feature_range must be (MIN, MAX) (got {feature_range!r})")
    return values[0], values[1]


# -- norm ----------------------------------------------------------------------------------------
def norm(
    data: Data,
    ord: Number = 2,
    axis: Literal["rows", "columns"] = "rows",
    *,
    name: str = "norm",
    only: bool = False,
    to: Sequence[float] | None = None,
    to_columns: Sequence[Any] | None = None,
    columns: Sequence[Any] | None = None,
    exclude: Sequence[Any] | None = None,
    input_format: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    chunk_rows: int | None = None,
    na_values: Sequence[str] | None = None,
) -> Any:
    """The norm of each row (a new last column ``name``), of each column (a table
    ``column, norm``), or each row's distance to a point; as ``normcli norm``.

    ``ord`` has :func:`numpy.linalg.norm`'s meaning (``1``, ``2``, ``math.inf``, ``-math.inf``,
    ``0``, any real ``p``; aliases ``"l1"``, ``"l2"``, ``"max"``). With ``only``, the result
    holds the norm column alone (a DataFrame keeps its index); it is for rows
    (``axis="columns"`` gives the table alone already).
    """
    opts = norm_mod.NormOptions(
        ord=_number(ord), axis=axis, name=name, only=only,
        to=None if to is None else _floats(to, "to"),
        to_columns=_columns(to_columns, "to_columns"),
        columns=_columns(columns), exclude=_columns(exclude, "exclude"),
    )
    refuse_unused(norm_mod.unused_options(opts), {"only"} if only else ())
    with _open(data, input_format=input_format, delimiter=delimiter, header=header,
               chunk_rows=chunk_rows, na_values=na_values) as opened:
        sink = TableSink()
        norm_mod.run(opened.job, sink, opts)
        table = sink.table()
        frame = opened.frame
        if axis == "columns":
            return _table_result(opened, table)
        if only:
            return _table_result(opened, table, None if frame is None else frame.index)
        return _rows_result(opened, table, appended=True)


# -- predict -------------------------------------------------------------------------------------
def predict(
    model: Model | dict[str, Any] | str | os.PathLike[str],
    data: Data,
    *,
    name: str = "prediction",
    input_format: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    chunk_rows: int | None = None,
    na_values: Sequence[str] | None = None,
) -> Any:
    """``data`` with the predictions of ``model`` (a :class:`Model`, its JSON, or the path of a
    ``model.json`` that ``normcli fit`` wrote) as a new last column ``name``."""
    core = _core_model(model)
    with _open(data, input_format=input_format, delimiter=delimiter, header=header,
               chunk_rows=chunk_rows, na_values=na_values) as opened:
        sink = TableSink()
        predict_mod.run(opened.job, sink, core, name)
        return _rows_result(opened, sink.table(), appended=True)


def _core_model(model: Any) -> predict_mod.Model:
    if isinstance(model, Model):
        return predict_mod.Model.from_dict(model.report)
    if isinstance(model, dict):
        return predict_mod.Model.from_dict(model)
    if isinstance(model, (str, os.PathLike)):
        return predict_mod.Model.load(os.fspath(model))
    raise TypeError(f"model must be a normcli.Model, its JSON, or a path; got "
                    f"{type(model).__name__}")


# -- fit -----------------------------------------------------------------------------------------
class Model:
    """A fitted linear model, as ``normcli fit`` reports it.

    ``coef_`` (a Series by feature name), ``intercept_``, ``alpha_``, ``cv_results_`` (with
    ``cv``: one row per alpha, ``alpha``, ``mse_mean``, ``mse_se``; else None), ``report`` (the
    JSON report as a dict). :meth:`to_json` gives the text ``normcli fit ... model.json`` writes
    and :meth:`from_json` reads it back; ``normcli predict --model`` reads it too.
    """

    def __init__(self, report: dict[str, Any]) -> None:
        predict_mod.Model.from_dict(report)  # checks it is a model
        self.report = report
        coefs = report["coefficients"]
        self.coef_ = pd.Series([float(v) for v in coefs.values()], index=list(coefs),
                               dtype=np.float64, name="coefficient")
        self.intercept_ = float(report.get("intercept") or 0.0)
        self.alpha_ = report.get("alpha")
        self.target_ = report.get("target")
        self.penalty_ = report.get("penalty")
        self.n_rows_ = report.get("n_rows")
        cv = report.get("cv")
        self.cv_results_: pd.DataFrame | None = None
        if cv:
            self.cv_results_ = pd.DataFrame({
                "alpha": np.asarray(cv["alphas"], dtype=np.float64),
                "mse_mean": np.asarray([np.nan if v is None else v for v in cv["mse_mean"]],
                                       dtype=np.float64),
                "mse_se": np.asarray([np.nan if v is None else v for v in cv["mse_se"]],
                                     dtype=np.float64),
            })

    def __repr__(self) -> str:
        return (f"Model(target={self.target_!r}, penalty={self.penalty_!r}, "
                f"alpha={self.alpha_!r}, features={len(self.coef_)})")

    def predict(self, data: Data, *, name: str = "prediction", **io: Any) -> Any:
        """``data`` with a new last column of predictions (see :func:`predict`)."""
        return predict(self, data, name=name, **io)

    def to_json(self) -> str:
        return json.dumps(self.report, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes | dict[str, Any]) -> Model:
        report = text if isinstance(text, dict) else _loads(text, "<model>")
        return cls(report)


def fit(
    data: Data,
    target: str,
    *,
    penalty: str = "l2",
    alpha: float | None = None,
    l1_ratio: float | None = None,
    weights: str | None = None,
    fit_intercept: bool = True,
    standardize: bool = False,
    tol: float | None = None,
    max_iter: int | None = None,
    cv: int | None = None,
    alphas: Sequence[float] | None = None,
    n_alphas: int | None = None,
    eps: float | None = None,
    fold_column: str | None = None,
    seed: int | None = None,
    select: Literal["min", "1se"] | None = None,
    drop_missing: bool = False,
    columns: Sequence[Any] | None = None,
    exclude: Sequence[Any] | None = None,
    input_format: str | None = None,
    delimiter: str | None = None,
    header: bool = True,
    chunk_rows: int | None = None,
    na_values: Sequence[str] | None = None,
) -> Model:
    """Fit a penalized linear regression of ``target`` on the other numeric columns (or
    ``columns``) in one pass; as ``normcli fit``, with the same options.

    ``seed`` (default 0) assigns the folds of ``cv`` and ``select`` (default ``"min"``) picks
    its alpha: either given without ``cv`` (``seed`` with ``fold_column``) is a
    :class:`~normcli.errors.UsageError`, as on the command line. So are ``alpha`` (default
    1.0) with ``cv`` (which chooses it) or with ``"none"``, ``l1_ratio`` (default
    0.5) with a penalty other than ``"elasticnet"``, ``tol`` (default 1e-6) and ``max_iter``
    (default 1000) with ``"none"`` or ``"l2"`` (solved exactly), and ``n_alphas`` (default
    100) and ``eps`` (default 1e-3) where no alpha grid is built: with ``alphas``, and without
    ``cv`` for ``"none"`` and ``"l2"`` (for ``"l1"`` and ``"elasticnet"`` the grid also gives
    the report's ``selection_order``)."""
    given = {name for name, value in (("alpha", alpha), ("seed", seed), ("select", select),
                                      ("l1_ratio", l1_ratio), ("tol", tol),
                                      ("max_iter", max_iter), ("n_alphas", n_alphas),
                                      ("eps", eps)) if value is not None}
    defaults = fit_mod.FitOptions(target="")
    opts = fit_mod.FitOptions(
        target=str(target), penalty=fit_mod.normalize_penalty(penalty),
        alpha=defaults.alpha if alpha is None else _float(alpha, "alpha"),
        l1_ratio=defaults.l1_ratio if l1_ratio is None else _float(l1_ratio, "l1_ratio"),
        weights=weights, fit_intercept=fit_intercept, standardize=standardize,
        tol=defaults.tol if tol is None else _float(tol, "tol"),
        max_iter=defaults.max_iter if max_iter is None else _int(max_iter, "max_iter"),
        cv=None if cv is None else _int(cv, "cv"),
        alphas=None if alphas is None else _floats(alphas, "alphas"),
        n_alphas=defaults.n_alphas if n_alphas is None else _int(n_alphas, "n_alphas"),
        eps=defaults.eps if eps is None else _float(eps, "eps"), fold_column=fold_column,
        seed=0 if seed is None else _int(seed, "seed"),
        select="min" if select is None else select, drop_missing=drop_missing,
        columns=_columns(columns), exclude=_columns(exclude, "exclude"),
    )
    refuse_unused(fit_mod.unused_options(opts), given)
    with _open(data, input_format=input_format, delimiter=delimiter, header=header,
               chunk_rows=chunk_rows, na_values=na_values) as opened:
        report = fit_mod.compute(opened.job, opts)
    return Model(report.to_json())


# -- scalers -------------------------------------------------------------------------------------
class Scaler:
    """A per-column scaler with saved statistics (``minmax``, ``zscore`` or ``maxabs``).

    :meth:`fit` computes the statistics, :meth:`transform` applies them (as
    ``normcli normalize --params``); :meth:`to_json` is the text ``--save-params`` writes and
    :meth:`from_json` reads it (or such a file's text) back.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        if params.get("kind") not in normalize_mod.SCALERS or not isinstance(
                params.get("columns"), dict):
            raise UsageError("not the parameters of a scaler (minmax, zscore or maxabs)")
        self.params = params
        self.kind: str = params["kind"]
        self.columns: list[str] = list(params["columns"])

    def __repr__(self) -> str:
        return f"Scaler(kind={self.kind!r}, columns={self.columns!r})"

    @property
    def statistics_(self) -> pd.DataFrame:
        """One row per column: count, mean, std, min, max, max_abs (and the scaled forms)."""
        return pd.DataFrame.from_dict(self.params["columns"], orient="index")

    @classmethod
    def fit(
        cls,
        data: Data,
        kind: Literal["minmax", "zscore", "maxabs"] = "minmax",
        *,
        feature_range: tuple[float, float] | None = None,
        clip: bool | None = None,
        columns: Sequence[Any] | None = None,
        exclude: Sequence[Any] | None = None,
        input_format: str | None = None,
        delimiter: str | None = None,
        header: bool = True,
        chunk_rows: int | None = None,
        na_values: Sequence[str] | None = None,
    ) -> Scaler:
        """The statistics of ``data``'s columns for a ``kind`` scaler. ``feature_range``
        (default ``(0, 1)``) and ``clip`` (default False) are for ``minmax``: given with
        another kind, a :class:`~normcli.errors.UsageError` (as ``--range`` and ``--clip`` are
        for ``--scale minmax``)."""
        rng, clip_ = normalize_mod.scaler_settings(kind, feature_range, clip)
        with _open(data, input_format=input_format, delimiter=delimiter, header=header,
                   chunk_rows=chunk_rows, na_values=na_values) as opened:
            job = opened.job
            sel = job.select(_columns(columns), _columns(exclude, "exclude"))
            stats = normalize_mod.column_stats(job, sel.used)
        return cls(_CoreScaler(kind, sel.used_names, stats, rng, clip_).to_json())

    def transform(self, data: Data, **io: Any) -> Any:
        """``data`` with the scaler's columns scaled (see :func:`normalize`)."""
        return normalize(data, scale=self.kind,  # type: ignore[arg-type]
                         params=self.params, **io)

    def to_json(self) -> str:
        return json.dumps(self.params, indent=2, allow_nan=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes | dict[str, Any]) -> Scaler:
        params = text if isinstance(text, dict) else _loads(text, "<params>")
        if not isinstance(params, dict):
            raise UsageError("not the parameters of a scaler")
        return cls(params)
