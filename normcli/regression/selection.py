"""The order in which features enter a regularization path, and the path's sparsity.

For the lasso and the elastic net the coefficient path, followed from the largest alpha down,
adds features one by one (the LARS view of importance). :func:`selection_order` reads that order
off a path computed on a grid of alphas: a feature *enters* at the largest grid alpha at which
its coefficient is non-zero. The true entry point lies between that alpha and the previous
(larger) one of the grid, so the reported alpha is exact only to the grid's resolution. Features
that enter between the same two grid alphas are ordered by an estimate of their entry point:
the correlation ``c_j(alpha) = x_j' r / W`` (on the solver's scale) is piecewise linear along the
path, so it is extrapolated linearly from the two previous grid alphas to where it meets the
penalty, ``|c_j| = rho alpha`` (exact while the active set does not change in between).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from normcli.regression.cv import CVResult
from normcli.regression.solvers import FitResult, _prepare
from normcli.regression.stats import GramStats

__all__ = ["Entry", "cv_r2", "selection_order"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Entry:
    feature: str
    alpha: float


def selection_order(
    stats: GramStats,
    path: Sequence[FitResult],
    final: FitResult,
    features: Sequence[str],
    *,
    fit_intercept: bool,
    standardize: bool,
) -> list[Entry]:
    """The features of ``final`` (non-zero coefficients) in the order they enter ``path``.

    ``path`` holds fits on the same data at several alphas (any order); only alphas at or above
    ``final.alpha`` count. A feature of ``final`` that is zero at every such alpha enters at
    ``final.alpha``.
    """
    selected = np.flatnonzero(final.coef)
    if selected.size == 0:
        return []
    steps = sorted((r for r in path if r.alpha >= final.alpha), key=lambda r: -r.alpha)
    if not steps or steps[-1].alpha != final.alpha:
        steps.append(final)
    prob = _prepare(stats, fit_intercept=fit_intercept, standardize=standardize)
    rho = float(final.l1_ratio)

    def gradient(result: FitResult | None) -> FloatArray:
        """``q - Q gamma`` per feature (0 for features the solver dropped): ``x_j' r / W``."""
        out = np.zeros(len(features))
        gamma = (np.zeros(prob.keep.size) if result is None
                 else result.coef[prob.keep] * prob.scale)
        out[prob.keep] = prob.q - prob.Q @ gamma
        return out

    # Before the grid's first alpha the path is all zeros: the gradient is q, at alpha = inf.
    grads: list[tuple[float, FloatArray]] = [(math.inf, gradient(None))]
    entered: dict[int, tuple[int, float, float]] = {}
    for step, res in enumerate(steps):
        new = [int(j) for j in selected if j not in entered and res.coef[j] != 0.0]
        if new:
            a1, g1 = grads[-1]
            a2, g2 = grads[-2] if len(grads) > 1 else (math.inf, g1)
            for j in new:
                entered[j] = (step, res.alpha, _entry_estimate(
                    res.alpha, a1, float(g1[j]), a2, float(g2[j]),
                    float(np.sign(res.coef[j])) * rho))
        grads.append((res.alpha, gradient(res)))
    order = sorted(entered, key=lambda j: (entered[j][0], -entered[j][2], j))
    return [Entry(features[j], entered[j][1]) for j in order]


def _entry_estimate(a0: float, a1: float, g1: float, a2: float, g2: float,
                    s_rho: float) -> float:
    """Where between the grid alphas ``a0 < a1`` the correlation ``c(alpha)`` of an entering
    feature reaches the penalty, ``c = s rho alpha``: ``c`` is linear in alpha while the active set
    does not change (the LARS path), so it is extrapolated from its values at ``a1`` and the
    alpha before, ``a2``. Only orders features entering between the same two grid alphas."""
    slope = 0.0 if not math.isfinite(a2) or a2 == a1 else (g2 - g1) / (a2 - a1)
    den = s_rho - slope
    if not math.isfinite(a1):
        est = g1 / s_rho if s_rho else a0  # constant correlation before the path starts
    elif den == 0.0:
        est = a0
    else:
        est = (g1 - slope * a1) / den
    upper = a1 if math.isfinite(a1) else math.inf
    return float(min(max(est, a0), upper))


def cv_r2(cv: CVResult, folds: Sequence[GramStats]) -> FloatArray:
    """Per alpha, the mean over folds of each fold's R^2 (scikit-learn's ``r2_score`` on the
    fold, weighted): ``1 - MSE_f / Var_f(y)``, ``Var_f`` the fold's weighted target variance
    about the fold's own mean. NaN for a fold whose target is constant."""
    var = np.array([f.cross[-1, -1] / f.sum_w if f.sum_w > 0 else np.nan for f in folds])
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - cv.mse / np.where(var > 0, var, np.nan)[None, :]
    return np.asarray(r2.mean(axis=1), dtype=np.float64)
