"""What ``fit`` reports beyond the coefficients: goodness of fit, OLS inference, the path table,
the selection order and the text summary. The numbers come from :mod:`normcli.regression`
(inference, selection); this module gathers and formats them."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pyarrow as pa

from .errors import UsageError
from .io.arrays import int64s, to_arrow
from .io.formats import is_std
from .io.writer import write_table
from .regression.cv import CVResult
from .regression.inference import GoodnessOfFit, Inference, goodness_of_fit, ols_inference
from .regression.selection import Entry, cv_r2, selection_order
from .regression.solvers import FitResult, alpha_grid, fit_path
from .regression.stats import GramStats

if TYPE_CHECKING:
    from .ops.fit import FitOptions, FitReport

PATH_COLUMNS = ("alpha", "n_nonzero", "cv_mse", "cv_mse_se")
PENALTY_NAMES = {"none": "least squares (OLS)", "l1": "lasso (l1)", "l2": "ridge (l2)",
                 "elasticnet": "elastic net"}


@dataclass
class Stats:
    """Everything ``fit`` adds to the coefficients; see README "fit reports"."""

    gof: GoodnessOfFit
    inference: Inference | None
    path: list[FitResult]  # full-data fits, decreasing alpha
    selection: list[Entry] | None
    cv_nonzero: list[int] | None = None
    cv_r2: np.ndarray | None = None
    cv_index: int | None = None  # the chosen alpha's position in cv.alphas
    cv_mse: float | None = None
    cv_mse_se: float | None = None

    def to_json(self, features: Sequence[str]) -> dict[str, Any]:
        g = self.gof
        out: dict[str, Any] = {
            "r2": g.r2, "r2_adj": g.r2_adj, "rmse": g.rmse, "mse": g.mse,
            "df_model": g.df_model,
        }
        if self.cv_index is not None and self.cv_r2 is not None:
            out["cv_mse"] = self.cv_mse
            out["cv_mse_se"] = self.cv_mse_se
            out["cv_r2"] = float(self.cv_r2[self.cv_index])
        inf = self.inference
        if inf is not None:
            out.update({
                "std_errors": _by_term(inf.terms, inf.std_errors),
                "t_values": _by_term(inf.terms, inf.t_values),
                "p_values": _by_term(inf.terms, inf.p_values),
                "conf_int": {t: [float(lo), float(hi)] if math.isfinite(lo) else None
                             for t, (lo, hi) in zip(inf.terms, inf.conf_int, strict=True)},
                "conf_level": inf.level,
                "f_statistic": inf.f_statistic,
                "f_pvalue": inf.f_pvalue,
                "df_resid": inf.df_resid,
                "rank": inf.rank,
                "condition_number": inf.condition_number,
                "not_identified": inf.not_identified,
            })
        else:
            for key in ("std_errors", "t_values", "p_values", "conf_int", "conf_level",
                        "f_statistic", "f_pvalue", "df_resid", "rank", "condition_number",
                        "not_identified"):
                out[key] = None
        if self.selection is not None:
            out["selection_order"] = [{"feature": e.feature, "alpha": e.alpha}
                                      for e in self.selection]
        return out

    def cv_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.cv_nonzero is not None:
            out["n_nonzero"] = self.cv_nonzero
        if self.cv_r2 is not None:
            out["r2"] = [float(v) for v in self.cv_r2]
        return out


def _by_term(terms: Sequence[str], values: np.ndarray) -> dict[str, float]:
    return {t: float(v) for t, v in zip(terms, values, strict=True)}


def summarize(
    total: GramStats, folds: Sequence[GramStats], result: FitResult, cv: CVResult | None,
    path: Sequence[FitResult], features: list[str], opts: FitOptions,
) -> Stats:
    """Goodness of fit, inference (``none``), selection order (l1/elasticnet), CV extras."""
    ordered = sorted(path, key=lambda r: -r.alpha)
    inference = None
    if result.penalty == "none":
        inference = ols_inference(total, result.coef, result.intercept, features,
                                  fit_intercept=opts.fit_intercept)
        df_model = inference.df_model
    else:
        df_model = float(np.count_nonzero(result.coef))
    gof = goodness_of_fit(total, result.coef, result.intercept,
                          fit_intercept=opts.fit_intercept, df_model=df_model)
    selection = None
    if result.penalty in ("l1", "elasticnet"):
        steps = ordered
        if not steps:  # the grid down to the chosen alpha, warm-started: the entries above it
            grid = alpha_grid(total, penalty=opts.penalty, l1_ratio=opts.l1_ratio,
                              n_alphas=opts.n_alphas, eps=opts.eps,
                              fit_intercept=opts.fit_intercept, standardize=opts.standardize)
            steps = fit_path(total, [float(a) for a in grid if a > result.alpha],
                             penalty=opts.penalty, l1_ratio=opts.l1_ratio,
                             fit_intercept=opts.fit_intercept, standardize=opts.standardize,
                             tol=opts.tol, max_iter=opts.max_iter)
        selection = selection_order(total, steps, result, features,
                                    fit_intercept=opts.fit_intercept,
                                    standardize=opts.standardize)
    stats = Stats(gof, inference, ordered, selection)
    if cv is not None:
        by_alpha = {r.alpha: r for r in ordered}
        stats.cv_nonzero = [int(np.count_nonzero(by_alpha[float(a)].coef))
                            if float(a) in by_alpha else 0 for a in cv.alphas]
        stats.cv_r2 = cv_r2(cv, folds)
        i = int(np.flatnonzero(cv.alphas == cv.chosen)[0])
        stats.cv_index = i
        stats.cv_mse = float(cv.mse_mean[i])
        stats.cv_mse_se = float(cv.mse_se[i])
    return stats


# -- side files -------------------------------------------------------------------------------
def _same(a: str, b: str) -> bool:
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_side_paths(input_path: str, output: str | None, side: Mapping[str, str | None]) -> None:
    """Refuse a side file (``--plot``, ``--path``) that is the input, the output or another
    side file."""
    seen: list[tuple[str, str]] = []
    if output is not None and not is_std(output):
        seen.append(("the output", output))
    if not is_std(input_path):
        seen.append(("the input", input_path))
    for option, path in side.items():
        if path is None:
            continue
        if is_std(path):
            raise UsageError(f"{option} needs a file name (standard output carries the model)")
        for what, other in seen:
            if _same(path, other):
                raise UsageError(f"{option} {path}: is {what}; write it to another file")
        seen.append((option, path))


def check_path_columns(features: Sequence[str]) -> None:
    """A feature may not take the name of a leading column of the ``--path`` table."""
    clash = [f for f in features if f in PATH_COLUMNS]
    if clash:
        raise UsageError(f"--path: the feature {clash[0]!r} has the name of a path column "
                         f"({', '.join(PATH_COLUMNS)}); rename it or leave it out")


def write_path_table(fh: BinaryIO, report: FitReport, fmt: str, delimiter: str) -> None:
    """``alpha,n_nonzero,cv_mse,cv_mse_se,<feature>...``: one row per alpha of the grid."""
    check_path_columns(report.features)
    path = report.path
    alphas = np.array([r.alpha for r in path], dtype=np.float64)
    coefs = (np.array([r.coef for r in path], dtype=np.float64).reshape(len(path), -1))
    nonzero = np.count_nonzero(coefs, axis=1).astype(np.int64)
    cv = report.cv
    mse = np.full(len(path), np.nan)  # NaN: no CV score at this alpha (written as missing)
    se = np.full(len(path), np.nan)
    if cv is not None:
        where = {float(a): i for i, a in enumerate(cv.alphas)}
        for k, a in enumerate(alphas):
            i = where.get(float(a))
            if i is not None:
                mse[k] = float(cv.mse_mean[i])
                se[k] = float(cv.mse_se[i])
    fields = [pa.field("alpha", pa.float64()), pa.field("n_nonzero", pa.int64()),
              pa.field("cv_mse", pa.float64()), pa.field("cv_mse_se", pa.float64())]
    fields += [pa.field(f, pa.float64()) for f in report.features]
    schema = pa.schema(fields)
    arrays = [to_arrow(alphas), int64s(nonzero), to_arrow(mse), to_arrow(se)]
    arrays += [to_arrow(np.ascontiguousarray(coefs[:, j])) for j in range(coefs.shape[1])]
    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
    write_table(fmt, fh, batch, delimiter=delimiter)


# -- the text summary -------------------------------------------------------------------------
def _num(v: float | None, digits: int = 6) -> str:
    if v is None or math.isnan(v):
        return "NA"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    return f"{v:.{digits}g}"


def _pvalue(p: float) -> str:
    if not math.isfinite(p):
        return "NA"
    if p < 2.2e-16:
        return "<2e-16"
    return f"{p:.3g}"


def _stars(p: float) -> str:
    if not math.isfinite(p):
        return ""
    for cut, mark in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return mark
    return ""


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:],
                                                                     strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


def format_text(report: FitReport) -> str:
    """A compact summary in the manner of R's ``summary(lm)``."""
    opts = report.options
    r = report.result
    st = report.stats
    assert st is not None
    g = st.gof
    lines = [f"Linear model of {opts.target!r}: {PENALTY_NAMES.get(r.penalty, r.penalty)}"
             + ("" if opts.fit_intercept else ", no intercept")
             + (", standardized features" if opts.standardize else "")]
    if r.penalty != "none":
        how = (f"{report.cv.folds}-fold cross-validation, rule {opts.select}"
               if report.cv is not None else "set with --alpha")
        extra = f", l1_ratio = {_num(r.l1_ratio)}" if r.penalty == "elasticnet" else ""
        lines.append(f"alpha = {_num(r.alpha)}{extra} ({how})")
    lines.append(f"n = {report.n_rows:,}" + (f", sum of weights = {_num(report.sum_w)}"
                                             f" (--weights {opts.weights})"
                                             if opts.weights else "")
                 + (f", dropped rows = {report.dropped:,}" if report.dropped else ""))
    lines.append("")
    lines.append("Coefficients:")
    terms = (["(intercept)"] if opts.fit_intercept else []) + list(report.features)
    values = ([r.intercept] if opts.fit_intercept else []) + [float(c) for c in r.coef]
    inf = st.inference
    if inf is not None:
        rows = [[t, _num(v), _num(float(se)), _num(float(tv), 4), _pvalue(float(pv)),
                 _stars(float(pv))]
                for t, v, se, tv, pv in zip(inf.terms, inf.params, inf.std_errors,
                                            inf.t_values, inf.p_values, strict=True)]
        lines += _table(["", "Estimate", "Std. Error", "t value", "Pr(>|t|)", ""], rows)
        lines.append("---")
        lines.append("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
        if inf.not_identified:
            lines.append("Not identified (collinear): " + ", ".join(inf.not_identified))
    else:
        entry = {e.feature: e.alpha for e in (st.selection or [])}
        order = {e.feature: i + 1 for i, e in enumerate(st.selection or [])}
        header = ["", "Estimate"]
        if st.selection is not None:
            header += ["Enters at alpha", "Order"]
        rows = []
        for t, v in zip(terms, values, strict=True):
            row = [t, _num(v)]
            if st.selection is not None:
                row += [_num(entry[t]) if t in entry else "", str(order.get(t, ""))]
            rows.append(row)
        lines += _table(header, rows)
        lines.append(f"{int(np.count_nonzero(r.coef))} of {len(report.features)} "
                     "coefficients are non-zero")
    lines.append("")
    if inf is not None:
        sigma = math.sqrt(g.ssr / inf.df_resid) if inf.df_resid > 0 else math.nan
        lines.append(f"Residual standard error: {_num(sigma, 4)} on {inf.df_resid:g} "
                     "degrees of freedom")
    lines.append(f"R-squared: {_num(g.r2, 4)},  Adjusted R-squared: {_num(g.r2_adj, 4)}"
                 + ("" if opts.fit_intercept else "  (uncentered: no intercept)"))
    lines.append(f"RMSE: {_num(g.rmse, 4)},  MSE: {_num(g.mse, 4)}  (training data)")
    if inf is not None:
        lines.append(f"F-statistic: {_num(inf.f_statistic, 4)} on {inf.df_model:g} and "
                     f"{inf.df_resid:g} DF,  p-value: {_pvalue(inf.f_pvalue)}")
        lines.append(f"Condition number: {_num(inf.condition_number, 4)}")
    if st.cv_index is not None and st.cv_r2 is not None:
        lines.append(f"Cross-validated MSE: {_num(st.cv_mse, 4)} (SE {_num(st.cv_mse_se, 4)}),"
                     f"  R-squared: {_num(float(st.cv_r2[st.cv_index]), 4)}")
    if not r.converged:
        lines.append(f"Warning: the solver did not converge (duality gap {r.duality_gap:.3g})")
    return "\n".join(lines) + "\n"


def write_text(fh: BinaryIO, report: FitReport) -> None:
    fh.write(format_text(report).encode("utf-8"))
