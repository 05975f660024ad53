"""Goodness of fit and OLS/WLS inference from the sufficient statistics alone.

Everything here is computed from a :class:`~normcli.regression.stats.GramStats` (``n``,
``W = sum w``, weighted means, centered cross-products ``C``) and the fitted coefficients: no
second pass over the rows. Definitions follow statsmodels' ``OLS``/``WLS`` results:

* ``SSR = sum_i w_i r_i^2`` (from the statistics: ``a' C a + W (a' zbar - b)^2``);
* ``TSS = sum_i w_i (y_i - ybar_w)^2`` with an intercept, ``sum_i w_i y_i^2`` without
  (statsmodels' uncentered R^2 for a model without a constant);
* ``R^2 = 1 - SSR / TSS``; ``R^2_adj = 1 - (n - k) / df_resid (1 - R^2)`` with ``k = 1`` with an
  intercept, 0 without, ``df_resid = n - rank``;
* ``MSE = SSR / W`` (scikit-learn's weighted ``mean_squared_error``), ``RMSE = sqrt(MSE)``;
* for OLS: ``sigma^2 = SSR / df_resid``, ``Var(beta) = sigma^2 C^-`` (slopes),
  ``Var(b) = sigma^2 (1/W + xbar' C^- xbar)`` (intercept), t, two-sided p, 95% intervals with
  Student's t on ``df_resid`` degrees of freedom; ``F = (ESS / df_model) / (SSR / df_resid)``,
  ``ESS = TSS - SSR``, ``df_model = rank - k``;
* the condition number of the design (with its constant column) as statsmodels reports it:
  ``sqrt(lambda_max / lambda_min)`` of the uncentered ``X' W X``, formed as
  ``C + W xbar xbar'`` bordered by ``W`` and ``W xbar``.

Rank-deficient designs: a coefficient is *identified* (estimable) when its unit vector is
orthogonal to the null space of the design; only identified coefficients get standard errors,
the others are listed in ``not_identified``. The numerical rank is decided as the solver does
(correlation-scaled Gram matrix, see :func:`normcli.regression.solvers._min_norm_lstsq`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from normcli.regression.distributions import f_sf, t_ppf, t_sf2
from normcli.regression.solvers import _prepare
from normcli.regression.stats import GramStats

__all__ = ["GoodnessOfFit", "Inference", "goodness_of_fit", "ols_inference", "rank_cutoff"]

FloatArray = NDArray[np.float64]

_EPS = float(np.finfo(np.float64).eps)
#: A null-space vector component above this (in correlation-scaled units) makes a coefficient
#: unidentified.
_IDENTIFIED_TOL = 1e-7


def rank_cutoff(evals: FloatArray, p: int) -> float:
    """Eigenvalues of a correlation-scaled Gram matrix at or below this count as zero."""
    lam_max = float(evals[-1]) if evals.size else 0.0
    return lam_max * max(p, 16) * 100.0 * _EPS


@dataclass
class GoodnessOfFit:
    """Fit on the training data (see the module docstring for the formulas)."""

    n: int
    sum_w: float
    ssr: float
    tss: float
    r2: float
    r2_adj: float
    mse: float
    rmse: float
    df_model: float
    df_resid: float


def _tss(stats: GramStats, fit_intercept: bool) -> float:
    p = stats.n_features
    centered = float(max(stats.cross[p, p], 0.0))
    if fit_intercept:
        return centered
    return centered + stats.sum_w * stats.y_mean * stats.y_mean


def goodness_of_fit(
    stats: GramStats, coef: FloatArray, intercept: float, *, fit_intercept: bool,
    df_model: float,
) -> GoodnessOfFit:
    """R^2, adjusted R^2, MSE and RMSE of a fitted model on the rows of ``stats``.

    ``df_model`` is the number of estimated slopes (the rank less the intercept for OLS; the
    number of non-zero coefficients for penalized fits).
    """
    ssr = stats.residual_ss(coef, intercept)
    tss = _tss(stats, fit_intercept)
    n = stats.n_rows
    k = 1 if fit_intercept else 0
    df_resid = float(n - k - df_model)
    r2 = 1.0 - ssr / tss if tss > 0 else math.nan
    r2_adj = 1.0 - (n - k) / df_resid * (1.0 - r2) if df_resid > 0 else math.nan
    mse = ssr / stats.sum_w if stats.sum_w > 0 else math.nan
    return GoodnessOfFit(n, stats.sum_w, ssr, tss, r2, r2_adj, mse, math.sqrt(mse),
                         float(df_model), df_resid)


@dataclass
class Inference:
    """OLS/WLS inference. Arrays hold the intercept first (when fitted), then the features;
    NaN where a coefficient is not identified or ``df_resid`` is 0."""

    terms: list[str]
    params: FloatArray
    std_errors: FloatArray
    t_values: FloatArray
    p_values: FloatArray
    conf_int: FloatArray  # shape (k, 2)
    f_statistic: float
    f_pvalue: float
    df_model: float
    df_resid: float
    rank: int
    condition_number: float
    not_identified: list[str]
    level: float = 0.95


def ols_inference(
    stats: GramStats, coef: FloatArray, intercept: float, features: list[str], *,
    fit_intercept: bool, level: float = 0.95,
) -> Inference:
    """Standard errors, t and p values, confidence intervals and the F test of an OLS/WLS fit.

    ``coef``/``intercept`` must be the least-squares solution on ``stats`` (as
    :func:`normcli.regression.fit` with ``penalty="none"`` returns it).
    """
    prob = _prepare(stats, fit_intercept=fit_intercept, standardize=False)
    p = stats.n_features
    W = stats.sum_w
    keep = prob.keep
    Q = prob.Q  # kept features, 1/W scale (centered with an intercept)
    d = np.sqrt(np.diag(Q)) if keep.size else np.zeros(0)
    d = np.where(d > 0, d, 1.0)
    if keep.size:
        S = Q / np.outer(d, d)
        evals, evecs = np.linalg.eigh(0.5 * (S + S.T))
        pos = evals > rank_cutoff(evals, keep.size)
    else:
        evals, evecs, pos = np.zeros(0), np.zeros((0, 0)), np.zeros(0, dtype=bool)
    rank_x = int(pos.sum())
    rank = rank_x + (1 if fit_intercept else 0)
    V, N = evecs[:, pos], evecs[:, ~pos]
    # g-inverse of Q in original units: G = U L^-1 U', U = D^-1 V; Var(beta) = sigma^2 G / W.
    # Only diag(G) and xbar' G xbar are needed: O(p^2), not the O(p^3) product.
    U = V / d[:, None]
    inv = 1.0 / evals[pos]

    identified = np.zeros(p, dtype=bool)
    if keep.size:
        identified[keep] = np.linalg.norm(N, axis=1) <= _IDENTIFIED_TOL if N.size else True
    intercept_ok = True
    if fit_intercept:
        dropped = np.setdiff1d(np.arange(p), keep)
        xbar = stats.x_mean
        # A dropped (constant) feature that is not all zeros is collinear with the intercept.
        if dropped.size and np.any(np.abs(xbar[dropped]) > 0):
            intercept_ok = False
        if N.size:
            xs = xbar[keep] / d  # x-bar in the units of the scaled null vectors
            along = np.abs(xs @ N)
            ref = max(1.0, float(np.linalg.norm(xs)))
            if np.any(along > _IDENTIFIED_TOL * ref):
                intercept_ok = False

    gof = goodness_of_fit(stats, coef, intercept, fit_intercept=fit_intercept,
                          df_model=float(rank_x))
    n = stats.n_rows
    df_resid = float(n - rank)
    sigma2 = gof.ssr / df_resid if df_resid > 0 else math.nan

    var = np.full(p, math.nan)
    if keep.size:
        gdiag = (U * U) @ inv / W
        idx = keep[identified[keep]]
        pos_in_keep = np.searchsorted(keep, idx)
        var[idx] = sigma2 * gdiag[pos_in_keep]
    terms = list(features)
    params = np.asarray(coef, dtype=np.float64).copy()
    if fit_intercept:
        xk = stats.x_mean[keep]
        ux = U.T @ xk
        v0 = sigma2 * (1.0 / W + (float(ux * ux @ inv) / W if keep.size else 0.0))
        var = np.concatenate([[v0 if intercept_ok else math.nan], var])
        params = np.concatenate([[intercept], params])
        terms = ["(intercept)", *terms]
        ident_all = np.concatenate([[intercept_ok], identified])
    else:
        ident_all = identified
    se = np.sqrt(np.maximum(var, 0.0))
    se[~np.isfinite(var)] = math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        tv = params / se
    pv = np.array([t_sf2(float(t), df_resid) if math.isfinite(t) and df_resid > 0
                   else math.nan for t in tv])
    if df_resid > 0:
        q = t_ppf(0.5 + level / 2.0, df_resid)
        ci = np.column_stack([params - q * se, params + q * se])
    else:
        ci = np.full((params.size, 2), math.nan)

    df_model = float(rank_x)
    ess = gof.tss - gof.ssr
    if df_model > 0 and df_resid > 0 and gof.ssr > 0:
        f = (ess / df_model) / (gof.ssr / df_resid)
        fp = f_sf(f, df_model, df_resid) if math.isfinite(f) else math.nan
    else:
        f = fp = math.nan
    return Inference(
        terms=terms, params=params, std_errors=se, t_values=tv, p_values=pv, conf_int=ci,
        f_statistic=f, f_pvalue=fp, df_model=df_model, df_resid=df_resid, rank=rank,
        condition_number=condition_number(stats, fit_intercept=fit_intercept),
        not_identified=[t for t, ok in zip(terms, ident_all, strict=True) if not ok],
        level=level,
    )


def condition_number(stats: GramStats, *, fit_intercept: bool) -> float:
    """statsmodels' ``condition_number``: ``sqrt(lambda_max / lambda_min)`` of ``X' W X``.

    ``X`` is the design as statsmodels sees it: the features, and a leading column of ones when
    an intercept is fitted; ``X' W X`` is rebuilt from the centered statistics.
    """
    p = stats.n_features
    W = stats.sum_w
    xbar = stats.x_mean
    A = stats.cross[:p, :p] + W * np.outer(xbar, xbar)
    if fit_intercept:
        B = np.empty((p + 1, p + 1))
        B[0, 0] = W
        B[0, 1:] = B[1:, 0] = W * xbar
        B[1:, 1:] = A
        A = B
    if A.size == 0:
        return math.nan
    evals = np.linalg.eigvalsh(0.5 * (A + A.T))
    if evals[0] <= 0:
        return math.inf
    return float(math.sqrt(evals[-1] / evals[0]))
