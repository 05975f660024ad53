"""K-fold cross-validation of the penalty strength from per-fold sufficient statistics.

Every row gets a deterministic fold id (:func:`fold_ids`), each fold's rows are reduced
to a :class:`~normcli.regression.stats.GramStats`, and for fold ``f`` the model is
fitted on ``total - fold_f`` (intercept included) and scored on fold ``f``:

.. math::

    \\mathrm{MSE}_f(\\alpha) = \\frac{\\sum_{i \\in f} w_i
    (y_i - \\hat b_{-f}(\\alpha) - x_i^T \\hat\\beta_{-f}(\\alpha))^2}{\\sum_{i \\in f} w_i}

(scikit-learn's ``LassoCV`` ``_path_residuals``). Then

.. math::

    \\overline{\\mathrm{MSE}}(\\alpha) = \\frac{1}{K} \\sum_f \\mathrm{MSE}_f(\\alpha), \\qquad
    \\mathrm{SE}(\\alpha) = \\frac{\\mathrm{sd}_{ddof=1}(\\mathrm{MSE}_f(\\alpha))}{\\sqrt{K}},

``alpha_min = argmin MSE-bar`` (the largest alpha among ties) and ``alpha_1se`` is the
largest alpha with ``MSE-bar(alpha) <= MSE-bar(alpha_min) + SE(alpha_min)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from normcli.regression.solvers import fit_path, validate_params
from normcli.regression.stats import GramStats

__all__ = ["CVResult", "cross_validate", "fold_ids", "splitmix64"]

FloatArray = NDArray[np.float64]

#: Up to this many folds, :func:`fold_ids` ranks keys by counting (``k`` comparisons a row)
#: rather than by sorting each block of ``k`` keys.
_RANK_BY_COUNTING = 16

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Vectorized splitmix64 finalizer of ``x + 0x9E3779B97F4A7C15`` (wrapping uint64)."""
    z = np.asarray(x, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


@functools.lru_cache(maxsize=16)
def _seed_key(seed: int) -> np.uint64:
    return np.uint64(splitmix64(np.array([seed], dtype=np.uint64))[0])


def fold_ids(row_start: int, n: int, k: int, seed: int) -> NDArray[np.int64]:
    """Deterministic fold ids in ``[0, k)`` for global rows ``row_start .. row_start + n - 1``.

    Rows are grouped in consecutive blocks of ``k`` rows (block ``b`` holds rows
    ``b*k .. b*k + k - 1``). Row ``r`` gets the key ``splitmix64(splitmix64(seed) XOR r)``
    and its fold id is the rank of its key within its block, so every complete block
    is a pseudo-random permutation of ``0..k-1``. The ids depend only on
    ``(seed, r, k)``, never on how rows are chunked, and fold sizes differ by at most
    one.
    """
    if isinstance(k, bool) or int(k) != k or k < 2:
        raise ValueError(f"the number of CV folds must be an integer >= 2, got {k!r}")
    if n < 0 or row_start < 0:
        raise ValueError("row_start and n must be >= 0")
    k = int(k)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    first_block = row_start // k
    last_block = (row_start + n - 1) // k
    rows = np.arange(first_block * k, (last_block + 1) * k, dtype=np.uint64)
    seed_key = _seed_key(int(seed) & 0xFFFFFFFFFFFFFFFF)
    keys = splitmix64(rows ^ seed_key).reshape(-1, k)
    if k <= _RANK_BY_COUNTING:
        # The keys of a block are distinct (splitmix64 is a bijection and the rows differ), so
        # a key's rank is the number of keys of its block below it: k comparisons a row, no
        # sort of each block.
        kt = np.ascontiguousarray(keys.T)  # (k, blocks): the comparisons run along blocks
        ranks = (kt[None, :, :] < kt[:, None, :]).sum(axis=1, dtype=np.int64).T
    else:
        order = np.argsort(keys, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(k)[None, :].repeat(order.shape[0], axis=0),
                          axis=1)
    offset = row_start - first_block * k
    return np.asarray(ranks.reshape(-1)[offset : offset + n], dtype=np.int64)


@dataclass
class CVResult:
    """Cross-validation summary.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
        The alphas, sorted in decreasing order (as scikit-learn's ``alphas_``).
    mse : ndarray of shape (n_alphas, k)
        Validation MSE of each alpha on each fold (scikit-learn's ``mse_path_``).
    mse_mean : ndarray of shape (n_alphas,)
        Plain mean of the K fold MSEs.
    mse_se : ndarray of shape (n_alphas,)
        ``std(ddof=1) / sqrt(K)`` of the K fold MSEs.
    alpha_min : float
        Alpha minimizing ``mse_mean`` (the largest one on ties).
    alpha_1se : float
        Largest alpha with ``mse_mean <= mse_mean[i_min] + mse_se[i_min]``.
    folds : int
        K.
    chosen : float
        ``alpha_min`` if ``select == "min"``, ``alpha_1se`` if ``select == "1se"``.
    """

    alphas: FloatArray
    mse: FloatArray
    mse_mean: FloatArray
    mse_se: FloatArray
    alpha_min: float
    alpha_1se: float
    folds: int
    chosen: float


SELECT_RULES: tuple[str, ...] = ("min", "1se")


def cross_validate(
    total: GramStats,
    folds: Sequence[GramStats],
    alphas: FloatArray | Sequence[float],
    *,
    penalty: str,
    l1_ratio: float = 0.5,
    fit_intercept: bool = True,
    standardize: bool = False,
    tol: float = 1e-6,
    max_iter: int = 1000,
    select: str = "min",
) -> CVResult:
    """Score every alpha by K-fold CV; see the module docstring for the definitions.

    ``total`` must be the merge of all ``folds``. Raises ``ValueError`` for
    ``penalty="none"`` (nothing to tune), fewer than two folds, an empty fold or an
    empty alpha list.
    """
    if penalty == "none":
        raise ValueError(
            "cross-validation selects the penalty strength alpha; it cannot be used with "
            "penalty 'none' (choose l1, l2 or elasticnet)"
        )
    validate_params(penalty=penalty, l1_ratio=l1_ratio, tol=tol, max_iter=max_iter)
    if select not in SELECT_RULES:
        raise ValueError(f"unknown selection rule {select!r}; expected 'min' or '1se'")
    a = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if a.size == 0:
        raise ValueError("at least one alpha is needed for cross-validation")
    for v in a:
        validate_params(penalty=penalty, alpha=float(v), l1_ratio=l1_ratio)
    k = len(folds)
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {k}")
    a = np.sort(a)[::-1].copy()
    mse = np.empty((a.size, k))
    for f, fold in enumerate(folds):
        if fold.n_rows == 0 or fold.sum_w <= 0.0:
            raise ValueError(
                f"CV fold {f} is empty (no rows or zero total weight); use fewer folds"
            )
        train = total.subtract(fold)
        if train.n_rows == 0 or train.sum_w <= 0.0:
            raise ValueError(f"CV training set for fold {f} is empty; use more data")
        results = fit_path(
            train, a, penalty=penalty, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
            standardize=standardize, tol=tol, max_iter=max_iter,
        )
        coefs = np.array([res.coef for res in results]).reshape(len(results), -1)
        intercepts = np.array([res.intercept for res in results])
        mse[:, f] = fold.residual_ss_many(coefs, intercepts) / fold.sum_w
    mse_mean = mse.mean(axis=1)
    mse_se = mse.std(axis=1, ddof=1) / np.sqrt(k)
    i_min = int(np.argmin(mse_mean))
    alpha_min = float(a[i_min])
    threshold = mse_mean[i_min] + mse_se[i_min]
    i_1se = int(np.flatnonzero(mse_mean <= threshold)[0])  # alphas decrease: first = largest
    alpha_1se = float(a[i_1se])
    chosen = alpha_min if select == "min" else alpha_1se
    return CVResult(a, mse, mse_mean, mse_se, alpha_min, alpha_1se, k, chosen)
