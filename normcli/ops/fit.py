"""The ``fit`` command: penalized linear regression from one streaming pass.

Each chunk's rows are folded into weighted, centered sufficient statistics
(:class:`~normcli.regression.stats.GramStats`), one per cross-validation fold when ``--cv`` is
given; the solvers then work on those statistics alone, so memory grows with the number of
features, not rows.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from .. import __version__, formats
from .. import compute as pc
from ..columns import Selection, check_numbers, index_of
from ..errors import DataError, Rule, UsageError
from ..fit_report import (
    Stats,
    check_path_columns,
    check_side_paths,
    summarize,
    write_path_table,
    write_text,
)
from ..io.arrays import codes, strings, to_arrow
from ..io.formats import format_of, refuse_compressed_output, resolve_output_format
from ..io.reader import Chunk
from ..io.writer import Destination, Outputs, write_table
from ..pipeline import Job, OutputSpec, ordered_map, output_delimiter
from ..reduce import PartFold, parts_of
from ..regression import GramStats, cross_validate, fit, fit_path, fold_ids
from ..regression.cv import CVResult
from ..regression.solvers import FitResult, alpha_grid
from ..regression.stats import GroupStats

#: Most features ``fit`` accepts: the Gram matrix of 4,000 features is 128 MB per fold.
MAX_FEATURES = 4000
#: The term of the intercept in the coefficient table and the report's per-term statistics.
INTERCEPT_TERM = "(intercept)"

PENALTY_ALIASES = {
    "none": "none", "ols": "none", "l1": "l1", "lasso": "l1", "l2": "l2", "ridge": "l2",
    "elasticnet": "elasticnet", "enet": "elasticnet",
}


@dataclass(frozen=True)
class FitOptions:
    target: str
    penalty: str = "l2"
    alpha: float = 1.0
    l1_ratio: float = 0.5
    weights: str | None = None
    fit_intercept: bool = True
    standardize: bool = False
    tol: float = 1e-6
    max_iter: int = 1000
    cv: int | None = None
    alphas: Sequence[float] | None = None
    n_alphas: int = 100
    eps: float = 1e-3
    fold_column: str | None = None
    seed: int = 0
    select: str = "min"
    drop_missing: bool = False
    columns: Sequence[str] | None = None
    exclude: Sequence[str] | None = None
    plot: str | None = None
    path: str | None = None
    plot_log_mse: bool = False


@dataclass
class FitReport:
    """What ``fit`` found; :meth:`warning` is the message for a solver that did not converge."""

    options: FitOptions
    features: list[str]
    result: FitResult
    n_rows: int
    dropped: int
    sum_w: float
    cv: CVResult | None = None
    path: list[FitResult] = field(default_factory=list)
    stats: Stats | None = None

    def warning(self) -> str | None:
        r = self.result
        notes = []
        if not r.converged:
            notes.append(f"the solver did not converge in {self.options.max_iter} iterations "
                         f"(duality gap {r.duality_gap:.3g}); raise --max-iter or --tol")
        edge = self.grid_edge()
        if edge is not None:
            notes.append(edge)
        return "; ".join(notes) or None

    def grid_edge(self) -> str | None:
        """A note when cross-validation chose the largest or the smallest alpha of its grid."""
        cv = self.cv
        if cv is None or cv.alphas.size < 2:
            return None
        chosen = cv.chosen
        if chosen == cv.alphas[0]:
            end, hint = "largest", "larger"
        elif chosen == cv.alphas[-1]:
            end, hint = "smallest", "smaller"
        else:
            return None
        return (f"cross-validation chose the {end} alpha of the grid ({chosen:.6g}); the best "
                f"alpha may be {hint}: widen the grid (--alphas, --eps)")

    def to_json(self) -> dict[str, Any]:
        r = self.result
        out: dict[str, Any] = {
            "normcli": __version__,
            "kind": "linear_model",
            "target": self.options.target,
            "penalty": r.penalty,
            "alpha": r.alpha,
            "l1_ratio": r.l1_ratio,
            "fit_intercept": self.options.fit_intercept,
            "standardize": self.options.standardize,
            "intercept": r.intercept,
            "coefficients": {n: float(c) for n, c in zip(self.features, r.coef, strict=True)},
            "n_rows": self.n_rows,
            "dropped_rows": self.dropped,
            "sum_weights": self.sum_w,
            "weights": self.options.weights,
            "n_features": len(self.features),
            "n_nonzero": int(np.count_nonzero(r.coef)),
            "converged": bool(r.converged),
            "duality_gap": r.duality_gap,
            "n_iter": r.n_iter,
            "tol": self.options.tol,
            "max_iter": self.options.max_iter,
        }
        if self.stats is not None:
            out.update(self.stats.to_json(self.features))
        if self.cv is not None:
            cv = self.cv
            out["cv"] = {
                "folds": cv.folds,
                "fold_column": self.options.fold_column,
                "seed": None if self.options.fold_column else self.options.seed,
                "select": self.options.select,
                "alphas": [float(a) for a in cv.alphas],
                "mse_mean": [float(v) for v in cv.mse_mean],
                "mse_se": [float(v) for v in cv.mse_se],
                "alpha_min": cv.alpha_min,
                "alpha_1se": cv.alpha_1se,
            }
            if self.stats is not None:
                out["cv"].update(self.stats.cv_json())
        finite: dict[str, Any] = _finite(out)
        return finite


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def normalize_penalty(name: str) -> str:
    try:
        return PENALTY_ALIASES[name.lower()]
    except KeyError:
        raise UsageError(f"unknown penalty {name!r} (none, l1, l2, elasticnet)") from None


def parse_alphas(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--alphas must be numbers separated by commas (got {text!r})") from None
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        raise UsageError("--alphas must be finite numbers >= 0")
    return values


class _Accumulator:
    """Per-fold sufficient statistics, filled chunk by chunk; the rows used and dropped.

    One is filled per input file (its chunks in row order) and the files' accumulators are
    merged by :mod:`normcli.reduce`'s tree, by the local and the Dask engine alike. The folds'
    statistics are stacked (:class:`GroupStats`, fold ids in ``keys`` in order of appearance),
    so a chunk's folds are merged in with one vectorized update.
    """

    def __init__(self, p: int, opts: FitOptions | None = None) -> None:
        self.p = p
        self.keys: list[Any] = []
        self.index: dict[Any, int] = {}  # fold id -> its group in ``stats``
        self.stats = GroupStats.empty(0, p)  # room for more groups than keys (empty ones)
        self.n_rows = 0
        self.dropped = 0

    @property
    def by_fold(self) -> dict[Any, GramStats]:
        """Each fold id's statistics (folds with rows)."""
        return {key: self.stats[i] for i, key in enumerate(self.keys)
                if self.stats.n_rows[i] > 0}

    def merge(self, other: _Accumulator) -> _Accumulator:
        """The statistics of the rows of both (folds of the same id merged)."""
        out = _Accumulator(self.p)
        out.keys = list(self.keys)
        out.index = dict(self.index)
        out.stats = self.stats.copy()
        out.add_stats(other.keys, other.stats)
        out.n_rows = self.n_rows + other.n_rows
        out.dropped = self.dropped + other.dropped
        return out

    def add_stats(self, keys: list[Any], stats: GroupStats) -> None:
        """Merge ``stats``, the statistics of the folds ``keys`` of some rows (a list as long
        as ``stats``; more groups after them, if any, are empty)."""
        if keys == self.keys and len(stats) == len(self.stats):
            self.stats.absorb(stats)  # --cv K: the same folds in every chunk
            return
        new = [key for key in keys if key not in self.index]
        if new:
            need = len(self.keys) + len(new)
            if need > len(self.stats):  # room doubles: each group is copied O(1) times
                self.stats = self.stats.take(np.arange(len(self.stats)),
                                             max(need, 2 * len(self.stats)))
            for key in new:
                self.index[key] = len(self.keys)
                self.keys.append(key)
        if len(stats) > len(keys):
            stats = GroupStats(stats.n_rows[: len(keys)], stats.sum_w[: len(keys)],
                               stats.mean[: len(keys)], stats.cross[: len(keys)])
        self.stats.absorb(stats, at=[self.index[key] for key in keys])

    def folds(self) -> list[GramStats]:
        by_fold = self.by_fold
        keys = list(by_fold)
        try:
            keys.sort(key=lambda k: (0, float(k), "") if _is_number(k) else (1, 0.0, str(k)))
        except TypeError:
            keys.sort(key=str)
        return [by_fold[k] for k in keys]

    def total(self) -> GramStats:
        folds = self.folds()
        if not folds:
            return GramStats.empty(self.p)
        out = folds[0].copy()
        for f in folds[1:]:
            out = out.merge(f)
        return out


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _check_options(opts: FitOptions) -> None:
    if opts.cv is not None and opts.cv < 2 and opts.fold_column is None:
        raise UsageError("--cv needs at least 2 folds")
    if opts.fold_column is not None and opts.cv is None:
        raise UsageError("--fold-column needs --cv")
    if opts.alphas is not None and not all(math.isfinite(a) and a >= 0 for a in opts.alphas):
        raise UsageError("--alphas must be finite numbers >= 0")
    if opts.alphas is not None and opts.cv is None:
        raise UsageError("--alphas needs --cv (use --alpha for one fit)")
    if opts.cv is not None and opts.penalty == "none":
        raise UsageError("--cv chooses alpha; it needs --penalty l1, l2 or elasticnet")
    if not (0.0 <= opts.l1_ratio <= 1.0):
        raise UsageError("--l1-ratio must be between 0 and 1")
    if not (math.isfinite(opts.alpha) and opts.alpha >= 0):
        raise UsageError("--alpha must be a finite number >= 0")
    if not (opts.tol > 0 and math.isfinite(opts.tol)):
        raise UsageError("--tol must be a positive number")
    if opts.max_iter < 1:
        raise UsageError("--max-iter must be at least 1")
    if opts.n_alphas < 1:
        raise UsageError("--n-alphas must be at least 1")
    if not (0 < opts.eps < 1):
        raise UsageError("--eps must be between 0 and 1")
    if opts.select not in ("min", "1se"):
        raise UsageError("--select must be min or 1se")
    if opts.path is not None and opts.penalty == "none":
        raise UsageError("--path writes the regularization path; it needs --penalty l1, l2 or "
                         "elasticnet")
    check_side_files(opts)


def unused_options(opts: FitOptions) -> list[Rule]:
    """``(option, applies, message)`` for the options that only mean something with others;
    the command line refuses one given where it would be ignored."""
    cv = opts.cv is not None
    p = opts.penalty
    # l1 and elasticnet are solved by coordinate descent (their fit, CV and path, and the path
    # of the selection order); none and l2 in closed form everywhere (fit_path: one
    # eigendecomposition), whatever --cv, --standardize or --weights
    iterative = p in ("l1", "elasticnet")
    exact = f"--penalty {p} is solved exactly"
    # the alpha grid: --cv without --alphas, --path and --plot (a path on the grid), and the
    # selection order of l1 and elasticnet (fit_report.summarize: the grid down to alpha)
    grid = p != "none" and opts.alphas is None and (
        cv or opts.path is not None or opts.plot is not None or iterative)
    no_grid = ("which --alphas replaces (give one of them)" if opts.alphas is not None else
               "which --penalty none has none of" if p == "none" else
               "built for --cv, --path and --plot, and for the selection order of l1 and "
               f"elasticnet; --penalty {p} without them builds none")
    return [
        ("alpha", p != "none" and not cv,
         "--alpha is what --cv chooses (give the candidates with --alphas)" if cv else
         "--alpha weighs the penalty; --penalty none has none"),
        ("l1_ratio", p == "elasticnet",
         f"--l1-ratio applies to --penalty elasticnet only (not {p})"),
        ("tol", iterative, f"--tol stops the l1 and elasticnet solver; {exact}"),
        ("max_iter", iterative, f"--max-iter bounds the l1 and elasticnet solver; {exact}"),
        ("n_alphas", grid, f"--n-alphas sizes the alpha grid, {no_grid}"),
        ("eps", grid, f"--eps ends the alpha grid, {no_grid}"),
        ("select", cv, "--select picks alpha from the cross-validation; it needs --cv"),
        ("seed", cv and opts.fold_column is None,
         "--seed assigns the folds of --cv; it needs --cv (and no --fold-column)"),
        ("plot_log_mse", cv and opts.plot is not None,
         "--plot-log-mse draws the CV curve of --plot on a log axis; it needs --plot and --cv"),
    ]


def check_side_files(opts: FitOptions) -> tuple[str | None, str | None]:
    """The formats of ``--path`` and ``--plot`` (None: not given), from their extensions: the
    path table in any format the output registry writes, the plot in an image format
    matplotlib writes. An unknown or missing extension is a usage error, raised before any data
    is read (the command line checks here before it opens the input)."""
    path_fmt = plot_fmt = None
    if opts.path is not None:
        refuse_compressed_output(opts.path, "--path")
        path_fmt = format_of(opts.path)
        if path_fmt is None or path_fmt not in formats.writable():
            known = [e for f in formats.all_formats() if f.writer is not None
                     for e in f.extensions]
            raise UsageError(f"--path {opts.path}: the extension chooses the table's format; "
                             f"name a {', '.join(known[:-1])} or {known[-1]} file")
    if opts.plot is not None:
        from ..plot import image_format

        plot_fmt = image_format(opts.plot)
    return path_fmt, plot_fmt


def header_check(opts: FitOptions) -> Callable[[list[str]], None]:
    """A check of the header alone, before any data is read: more candidate features than
    ``fit`` supports is refused at once (a wide file would otherwise be read first)."""

    def check(names: list[str]) -> None:
        if opts.columns is not None:
            count = len(set(opts.columns))
        else:
            left_out = set(opts.exclude or ()) | {
                n for n in (opts.target, opts.weights, opts.fold_column) if n}
            count = sum(1 for n in names if n not in left_out)
        if count > MAX_FEATURES:
            raise UsageError(f"fit supports at most {MAX_FEATURES} features, the input has "
                             f"{count} columns besides the target; choose the features with "
                             "--columns or leave some out with --exclude")

    return check


def _selection(job: Job, opts: FitOptions) -> tuple[Selection, int, int | None, int | None]:
    t = index_of(job.names, opts.target, "target column")
    check_numbers(job.reader, job.kinds, t, "-y/--target")
    w = None
    if opts.weights is not None:
        w = index_of(job.names, opts.weights, "weights column")
        check_numbers(job.reader, job.kinds, w, "--weights")
    f = index_of(job.names, opts.fold_column, "fold column") if opts.fold_column else None
    reserved = [n for n in (opts.target, opts.weights, opts.fold_column) if n]
    if opts.columns is not None:
        named = {index_of(job.names, c) for c in opts.columns}  # as select() resolves them
        for i in (t, w, f):
            if i is not None and i in named:
                raise UsageError(f"column {job.names[i]!r} is the target, weights or fold "
                                 "column; leave it out of --columns")
    sel = job.select(opts.columns, opts.exclude, reserved=reserved, require=False)
    sel = Selection(sel.names, sorted(sel.used))  # the report lists features in input order
    job.note_used([t] + ([w] if w is not None else []))
    if len(sel.used) > MAX_FEATURES:
        raise UsageError(f"fit supports at most {MAX_FEATURES} features, the input has "
                         f"{len(sel.used)}; choose fewer with --columns or --exclude")
    return sel, t, w, f


def _first_where(bad: np.ndarray, names: Sequence[str]) -> tuple[int, str]:
    """Row and column name of the first True cell of ``bad``."""
    row = int(np.flatnonzero(bad.any(axis=1))[0])
    col = int(np.flatnonzero(bad[row])[0])
    return row, names[col]


FoldKeys = tuple[np.ndarray, list[str]]


def _fold_keys(chunk: Chunk, index: int) -> FoldKeys:
    """Each row's fold id as a code into a list of id texts (code -1: no id)."""
    arr = chunk.batch.column(index)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    encoded = pc.dictionary_encode(arr)
    values: list[str] = encoded.dictionary.to_pylist()
    row_codes = codes(encoded.indices)
    for code, text in enumerate(values):
        if text == "":
            row_codes[row_codes == code] = -1
    return row_codes, values


#: How an engine computes the merged statistics of a job's rows: ``(job, opts, selection,
#: target, weights, fold column) -> accumulator``; :func:`accumulate` is the local engine's.
Accumulate = Callable[[Job, "FitOptions", Selection, int, "int | None", "int | None"],
                      "_Accumulator"]


def compute(job: Job, opts: FitOptions, *, want_path: bool = False,
            ready: Callable[[], None] | None = None,
            engine: Accumulate | None = None) -> FitReport:
    """Read ``job`` once into sufficient statistics and solve. ``ready`` is called once the
    options and columns are checked, before the data is read (a caller checks its destinations
    there, so a bad one fails fast); ``want_path`` also fits the coefficient path."""
    _check_options(opts)
    sel, t_idx, w_idx, f_idx = _selection(job, opts)
    if INTERCEPT_TERM in sel.used_names:
        # The report names the intercept's term so: the two would share a row of the table and
        # a key of std_errors, p_values, ...
        raise UsageError(f"the feature {INTERCEPT_TERM!r} has the name of the intercept's term "
                         f"in the report; rename the column or leave it out with --exclude "
                         f"{shlex.quote(INTERCEPT_TERM)}")
    if opts.path is not None:
        check_path_columns(sel.used_names)
    if ready is not None:
        ready()
    acc = (engine or accumulate)(job, opts, sel, t_idx, w_idx, f_idx)
    n_rows, dropped = acc.n_rows, acc.dropped
    if n_rows == 0:
        raise DataError("no rows to fit" + (" (all had missing values)" if dropped else ""),
                        source=job.display)
    total = acc.total()
    if total.sum_w <= 0:
        raise DataError("the weights add up to 0", source=job.display)
    if not np.isfinite(total.sum_w):  # (each weight is finite: their sum overflowed)
        raise DataError("the weights add up to more than float64 holds; rescale them",
                        source=job.display, column=opts.weights)
    finite = np.isfinite(np.diag(total.cross)) & np.isfinite(total.mean)
    if not finite.all():
        name = [*sel.used_names, opts.target][int(np.flatnonzero(~finite)[0])]
        raise DataError("values too large: their squares overflow float64; rescale the column",
                        source=job.display, column=name)
    # The full-data path on the grid: the plot, --path and cv.n_nonzero read it (the selection
    # order too; without it, summarize() fits the path only down to the chosen alpha).
    want_path = (want_path or opts.plot is not None or opts.path is not None
                 or opts.cv is not None)
    result, cv_result, path = _solve(acc, total, opts, dropped, want_path=want_path)
    try:
        stats = summarize(total, acc.folds() if cv_result is not None else [], result,
                          cv_result, path, sel.used_names, opts)
    except ValueError as exc:
        raise DataError(str(exc)) from exc
    return FitReport(opts, sel.used_names, result, n_rows, dropped, float(total.sum_w),
                     cv_result, stats.path, stats)


def run(job: Job, out: OutputSpec, opts: FitOptions, *,
        engine: Accumulate | None = None) -> FitReport:
    """Fit ``job``'s input and write the model to ``out`` (and ``--path``, ``--plot``)."""
    dests: dict[str, Destination] = {}
    input_path = job.input_path or "-"
    outputs = Outputs()  # the model, --path and --plot land together, or none

    def ready() -> None:  # resolve the destinations before reading: a bad one fails fast
        dests["model"] = Destination(out.path, report_format(out), input_path=job.input_path,
                                     group=outputs)
        check_side_paths(input_path, out.path, {"--plot": opts.plot, "--path": opts.path})
        path_fmt, plot_fmt = check_side_files(opts)
        if out.delimiter is not None and not any(
                formats.is_delimited(f) for f in (dests["model"].fmt, path_fmt) if f):
            formats.check_writing_options(dests["model"].fmt, delimiter=True)
        if opts.path is not None and path_fmt is not None:
            dests["path"] = Destination(opts.path, path_fmt, input_path=job.input_path,
                                        group=outputs)
        if opts.plot is not None and plot_fmt is not None:
            from ..plot import check_available

            check_available()
            dests["plot"] = Destination(opts.plot, plot_fmt, input_path=job.input_path,
                                        group=outputs)

    report = compute(job, opts, ready=ready, engine=engine)
    dest, path_dest, plot_dest = dests["model"], dests.get("path"), dests.get("plot")
    fmt = dest.fmt
    with outputs:
        with dest as fh:
            if fmt == "json":
                fh.write((json.dumps(report.to_json(), indent=2) + "\n").encode("utf-8"))
            elif fmt == "text":
                write_text(fh, report)
            else:
                # the OUTPUT follows --no-header, as every command's; --path is a side file
                write_coefficients(fh, report, fmt, _delimiter(job, out, fmt),
                                   header=job.dialect.header)
        if path_dest is not None:
            with path_dest as tfh:
                write_path_table(tfh, report, path_dest.fmt,
                                 _delimiter(job, out, path_dest.fmt))
        if plot_dest is not None:
            from ..plot import plot_report

            with plot_dest as pfh:
                plot_report(report, pfh, plot_dest.fmt)
    return report


def _delimiter(job: Job, out: OutputSpec, fmt: str) -> str:
    """The field separator of a delimited table (``--output-delimiter`` may be meant for the
    other of the model and ``--path``: it was checked to apply to one of them)."""
    return output_delimiter(job, out, fmt) if formats.is_delimited(fmt) else ","


def report_format(out: OutputSpec) -> str:
    """The model's format: as asked, ``.txt`` is the text summary, and the text summary is the
    default when it goes to a terminal."""
    if out.fmt == "text":
        return "text"
    if out.fmt is None and out.path is not None and out.path.lower().endswith(".txt"):
        return "text"
    if out.fmt is None and (out.path is None or out.path == "-") and sys.stdout.isatty():
        return "text"
    return resolve_output_format(out.path, out.fmt, "csv")


def _nonfinite(block: np.ndarray, names: list[str]) -> tuple[np.ndarray, tuple[int, str] | None]:
    """The missing (NaN) cells of ``block`` and where its first infinite value is (None: none
    is); one scan of the block when every cell is finite."""
    missing = ~np.isfinite(block)
    if missing.any():
        inf = np.isinf(block)
        if inf.any():
            return missing, _first_where(inf, names)
    return missing, None


def accumulate(
    job: Job, opts: FitOptions, sel: Selection, t_idx: int, w_idx: int | None,
    f_idx: int | None, *, row_base: int = 0,
) -> _Accumulator:
    """One pass over the input: per-fold statistics, rows used, rows dropped.

    One accumulator per input file, merged by the tree of :mod:`normcli.reduce` (the Dask engine
    runs this on each file and merges by the same tree). Fold ids with ``--cv`` come from the
    global row number, as if the files were one: ``row_base`` is the number of rows before this
    job's first row (the Dask engine reads one file per task; it counts the rows of the files
    first, from the Parquet metadata or by a pass over CSV files).
    """
    columns = [*sel.used, t_idx] + ([w_idx] if w_idx is not None else [])
    names = [*sel.used_names, opts.target] + ([opts.weights] if opts.weights else [])
    conv = job.converter(columns)
    job.numbers_only(columns)  # only their numbers are used: CSV parses them as it reads
    p = len(sel.used)
    parts: PartFold[_Accumulator] = PartFold(lambda part: _Accumulator(p, opts),
                                             lambda a, b: a.merge(b), parts_of(job.reader))

    def fail(chunk: Chunk, row: int, column: str, what: str) -> DataError:
        return job.reader.error_at(chunk.row_start + row, column, what)

    def prepare(chunk: Chunk) -> tuple[Chunk, _ChunkStats]:
        keys = _fold_keys(chunk, f_idx) if f_idx is not None else None
        return chunk, _chunk_stats(conv.block(chunk), chunk, keys, p, names, opts,
                                   weighted=w_idx is not None, row_base=row_base)

    # Parsing numbers and reducing each chunk to per-fold statistics overlap on worker threads;
    # the chunks' statistics are merged here, in row order (the same order whatever the timing).
    for chunk, part in ordered_map(prepare, job.chunks()):
        if part.error is not None:
            raise fail(chunk, *part.error)
        acc = parts.state_for(chunk)
        acc.dropped += part.dropped
        acc.n_rows += part.n_rows
        if part.stats is not None:
            acc.add_stats(part.keys, part.stats)
    return parts.result()


@dataclass
class _ChunkStats:
    """One chunk reduced on a worker thread: the statistics of its folds ``keys`` (some may
    have no rows), the rows used and dropped, or the first error (row in the chunk, column,
    what)."""

    keys: list[Any] = field(default_factory=list)
    stats: GroupStats | None = None
    n_rows: int = 0
    dropped: int = 0
    error: tuple[int, str, str] | None = None


def _chunk_stats(block: np.ndarray, chunk: Chunk, keys: FoldKeys | None, p: int,
                 names: list[str], opts: FitOptions, *, weighted: bool,
                 row_base: int) -> _ChunkStats:
    """The per-fold statistics of one chunk's ``block`` (features, target, weights): one gather
    of the rows by fold and one symmetric product per fold (:meth:`GramStats.from_groups`).
    Checks as the rows are read: an infinite value, a missing one (unless ``--drop-missing``),
    a negative weight, each reported at its first row."""
    missing, inf_at = _nonfinite(block, names)
    if inf_at is not None:
        return _ChunkStats(error=(*inf_at, "infinite value"))
    bad = missing.any(axis=1)
    texts: list[Any]
    if keys is not None:
        groups, texts = keys
        bad |= groups < 0
    elif opts.cv is not None:
        groups = fold_ids(row_base + chunk.row_start, chunk.num_rows, opts.cv, opts.seed)
        texts = list(range(opts.cv))
    else:
        groups, texts = None, [0]
    dropped = 0
    if bad.any():
        if not opts.drop_missing:
            if missing.any():
                row, col = _first_where(missing, names)
            else:
                row, col = int(np.flatnonzero(bad)[0]), opts.fold_column or ""
            return _ChunkStats(error=(row, col,
                                      "missing value (use --drop-missing to leave such rows out)"))
        dropped = int(bad.sum())
    w = block[:, p + 1] if weighted else None
    if w is not None:
        negative = (w < 0) & ~bad
        if negative.any():
            return _ChunkStats(error=(int(np.flatnonzero(negative)[0]), opts.weights or "",
                                      "negative weight"))
    if dropped:
        groups = np.where(bad, -1, 0 if groups is None else groups)
    stats = GroupStats.from_groups(block[:, : p + 1], groups, len(texts), w)
    return _ChunkStats(texts, stats, chunk.num_rows - dropped, dropped)


def _empty_folds_message(k: int, filled: int, n_rows: int, dropped: int) -> str:
    """Why --cv K cannot run: some fold has no rows (each fold must be a validation set)."""
    if n_rows < k:
        return (f"--cv {k} needs at least {k} rows, one per fold (there are {n_rows}"
                + (f" after dropping {dropped:,} with missing values" if dropped else "") + ")")
    empty = "1 of the {k} folds has" if k - filled == 1 else f"{k - filled} of the {k} folds have"
    return (f"--cv {k}: {empty.format(k=k)} no rows: folds are assigned by row "
            f"position before rows with missing values are dropped, and the {n_rows:,} rows left "
            f"after dropping {dropped:,} fall in only {filled} folds; use fewer folds, "
            "--fold-column, or more rows")


def _solve(
    acc: _Accumulator, total: GramStats, opts: FitOptions, dropped: int, *, want_path: bool
) -> tuple[FitResult, CVResult | None, list[FitResult]]:
    """The final model, the cross-validation (with --cv) and the coefficient path (for --plot)."""
    common: dict[str, Any] = {
        "penalty": opts.penalty, "l1_ratio": opts.l1_ratio, "fit_intercept": opts.fit_intercept,
        "standardize": opts.standardize, "tol": opts.tol, "max_iter": opts.max_iter,
    }
    grid: dict[str, Any] = {
        "penalty": opts.penalty, "l1_ratio": opts.l1_ratio, "n_alphas": opts.n_alphas,
        "eps": opts.eps, "fit_intercept": opts.fit_intercept, "standardize": opts.standardize,
    }
    cv_result = None
    path: list[FitResult] = []
    alpha = opts.alpha
    try:
        if opts.cv is not None:
            folds = acc.folds()
            if opts.fold_column is not None and len(folds) != opts.cv:
                raise UsageError(f"--cv {opts.cv} but the fold column {opts.fold_column!r} "
                                 f"holds {len(folds)} fold ids")
            if len(folds) < opts.cv:
                raise DataError(_empty_folds_message(opts.cv, len(folds), total.n_rows,
                                                     dropped))
            alphas = (np.asarray(opts.alphas, dtype=np.float64) if opts.alphas is not None
                      else alpha_grid(total, **grid))
            cv_result = cross_validate(total, folds, alphas, select=opts.select, **common)
            alpha = cv_result.chosen
            if want_path:
                path = fit_path(total, cv_result.alphas, **common)
        elif want_path and opts.penalty != "none":
            path = fit_path(total, alpha_grid(total, **grid), **common)
        result = fit(total, alpha=alpha, **common)
    except ValueError as exc:
        # Parameters were checked before reading; what the solvers refuse now is the data.
        raise DataError(str(exc)) from exc
    return result, cv_result, path


def write_coefficients(fh: Any, report: FitReport, fmt: str, delimiter: str, *,
                       header: bool = True) -> None:
    """The ``term,coefficient`` table: ``(intercept)`` first, then the features in input order
    (delimited text without its header line when ``header`` is false)."""
    schema = pa.schema([pa.field("term", pa.string()), pa.field("coefficient", pa.float64())])
    terms = [INTERCEPT_TERM, *report.features]
    values = np.concatenate([[report.result.intercept], report.result.coef])
    batch = pa.RecordBatch.from_arrays([strings(terms), to_arrow(values)], schema=schema)
    write_table(fmt, fh, batch, delimiter=delimiter, header=header)
