"""Streaming, weighted, centered sufficient statistics for linear regression.

For a design matrix ``X`` of shape ``(n, p)``, a target ``y`` of shape ``(n,)`` and
non-negative sample weights ``w`` (all ones when unweighted), write ``Z = [X | y]``
(shape ``(n, p + 1)``, the target is the last column). :class:`GramStats` holds

.. math::

    W = \\sum_i w_i, \\qquad
    \\bar z = \\frac{1}{W} \\sum_i w_i z_i, \\qquad
    C = \\sum_i w_i (z_i - \\bar z)(z_i - \\bar z)^T,

which is everything a (penalized) least-squares fit with or without intercept needs.
Memory is ``O(p^2)`` regardless of the number of rows.

Chunks are reduced with one BLAS matrix product on the chunk's own centered block and
merged with the pairwise update of Chan, Golub & LeVeque (1979):

.. math::

    C = C_a + C_b + \\frac{W_a W_b}{W_a + W_b} \\, \\delta \\delta^T,
    \\qquad \\delta = \\bar z_b - \\bar z_a,

so ``E[z^2] - E[z]^2`` is never formed and features with huge offsets (means near
``1e9``) keep their full relative precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["GramStats"]

FloatArray = NDArray[np.float64]


def _as_2d_float(X: Any) -> FloatArray:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"X must be a 2-D array, got an array with {arr.ndim} dimensions")
    return arr


class GramStats:
    """Weighted centered sufficient statistics of ``Z = [X | y]``.

    Attributes
    ----------
    n_rows : int
        Number of rows seen (including rows with zero weight).
    sum_w : float
        :math:`W = \\sum_i w_i` (the number of rows when unweighted).
    mean : ndarray of shape (p + 1,)
        Weighted means of the columns of ``Z``; the last entry is the target mean.
    cross : ndarray of shape (p + 1, p + 1)
        Centered weighted cross-products :math:`\\sum_i w_i (z_i - \\bar z)(z_i - \\bar z)^T`.
    """

    __slots__ = ("n_rows", "sum_w", "mean", "cross")

    def __init__(self, n_rows: int, sum_w: float, mean: FloatArray, cross: FloatArray) -> None:
        self.n_rows = int(n_rows)
        self.sum_w = float(sum_w)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.cross = np.asarray(cross, dtype=np.float64)
        if self.mean.ndim != 1 or self.cross.shape != (self.mean.size, self.mean.size):
            raise ValueError("mean must have shape (p+1,) and cross shape (p+1, p+1)")

    # ------------------------------------------------------------------ constructors
    @property
    def n_features(self) -> int:
        """Number of features ``p`` (the target column excluded)."""
        return int(self.mean.size - 1)

    @classmethod
    def empty(cls, p: int) -> GramStats:
        """Statistics of zero rows with ``p`` features."""
        if p < 0:
            raise ValueError(f"number of features must be >= 0, got {p}")
        return cls(0, 0.0, np.zeros(p + 1), np.zeros((p + 1, p + 1)))

    @classmethod
    def from_chunk(cls, X: Any, y: Any, w: Any | None = None) -> GramStats:
        """Statistics of one chunk of rows.

        Parameters
        ----------
        X : array of shape (n, p)
            Features (C- or F-ordered, converted to float64).
        y : array of shape (n,)
            Target.
        w : array of shape (n,) or None
            Non-negative finite sample weights; ``None`` means all ones.
        """
        Xa = _as_2d_float(X)
        n, p = Xa.shape
        ya = np.asarray(y, dtype=np.float64).reshape(-1)
        if ya.shape[0] != n:
            raise ValueError(f"y has {ya.shape[0]} rows but X has {n}")
        if n == 0:
            return cls.empty(p)
        Z = np.empty((n, p + 1), dtype=np.float64)
        Z[:, :p] = Xa
        Z[:, p] = ya
        if w is None:
            mean = Z.mean(axis=0)
            Z -= mean
            # second pass: the deviations are exact, so their mean refines the center
            corr = Z.mean(axis=0)
            Z -= corr
            mean = mean + corr
            cross = Z.T @ Z
            sum_w = float(n)
        else:
            wa = np.asarray(w, dtype=np.float64).reshape(-1)
            if wa.shape[0] != n:
                raise ValueError(f"sample weights have {wa.shape[0]} rows but X has {n}")
            if not np.all(np.isfinite(wa)) or np.any(wa < 0):
                raise ValueError("sample weights must be finite and non-negative")
            sum_w = float(wa.sum())
            if sum_w <= 0.0:
                return cls(n, 0.0, np.zeros(p + 1), np.zeros((p + 1, p + 1)))
            mean = (wa @ Z) / sum_w
            Z -= mean
            corr = (wa @ Z) / sum_w  # refinement pass (see the unweighted branch)
            Z -= corr
            mean = mean + corr
            Z *= np.sqrt(wa)[:, None]
            cross = Z.T @ Z
        cross = 0.5 * (cross + cross.T)
        return cls(n, sum_w, mean, cross)

    # ------------------------------------------------------------------ combination
    def _check_compatible(self, other: GramStats) -> None:
        if other.mean.size != self.mean.size:
            raise ValueError(
                f"cannot combine statistics with {self.n_features} and "
                f"{other.n_features} features"
            )

    def copy(self) -> GramStats:
        """Deep copy."""
        return GramStats(self.n_rows, self.sum_w, self.mean.copy(), self.cross.copy())

    def merge(self, other: GramStats) -> GramStats:
        """Pooled statistics of the rows of ``self`` and ``other`` (Chan et al.)."""
        self._check_compatible(other)
        n_rows = self.n_rows + other.n_rows
        wa, wb = self.sum_w, other.sum_w
        if wb <= 0.0:
            return GramStats(n_rows, wa, self.mean.copy(), self.cross.copy())
        if wa <= 0.0:
            return GramStats(n_rows, wb, other.mean.copy(), other.cross.copy())
        total = wa + wb
        delta = other.mean - self.mean
        mean = self.mean + delta * (wb / total)
        cross = self.cross + other.cross + (wa * wb / total) * np.outer(delta, delta)
        return GramStats(n_rows, total, mean, cross)

    def update(self, X: Any, y: Any, w: Any | None = None) -> None:
        """Merge a chunk of rows into ``self`` in place."""
        merged = self.merge(GramStats.from_chunk(X, y, w))
        self.n_rows, self.sum_w = merged.n_rows, merged.sum_w
        self.mean, self.cross = merged.mean, merged.cross

    def subtract(self, part: GramStats) -> GramStats:
        """Statistics of the rows of ``self`` that are not in ``part``.

        ``part`` must be a subset of the rows summarized by ``self`` (e.g. one CV fold
        of the full data); the result is the complement (the CV training set).
        """
        self._check_compatible(part)
        n_rows = self.n_rows - part.n_rows
        if n_rows < 0:
            raise ValueError("cannot subtract more rows than the statistics contain")
        wt, wb = self.sum_w, part.sum_w
        wa = wt - wb
        p1 = self.mean.size
        if wb <= 0.0:
            return GramStats(n_rows, wt, self.mean.copy(), self.cross.copy())
        if n_rows == 0 or wa <= 1e-12 * max(wt, 1e-300):
            return GramStats(n_rows, 0.0, np.zeros(p1), np.zeros((p1, p1)))
        diff = part.mean - self.mean  # = (W_a / W_t) (mean_b - mean_a)
        mean = self.mean - diff * (wb / wa)
        cross = self.cross - part.cross - (wb * wt / wa) * np.outer(diff, diff)
        cross = 0.5 * (cross + cross.T)
        return GramStats(n_rows, wa, mean, cross)

    # ------------------------------------------------------------------ evaluation
    def residual_ss(self, coef: Any, intercept: float) -> float:
        """Weighted residual sum of squares of a linear model, from the statistics alone.

        .. math::

            \\sum_i w_i (y_i - b - x_i^T \\beta)^2
            = a^T C a + W (a^T \\bar z - b)^2, \\qquad a = (-\\beta, 1).

        The validation MSE of a CV fold is ``residual_ss / sum_w``.
        """
        beta = np.asarray(coef, dtype=np.float64).reshape(1, -1)
        return float(self.residual_ss_many(beta, np.array([float(intercept)]))[0])

    def residual_ss_many(self, coefs: Any, intercepts: Any) -> FloatArray:
        """:meth:`residual_ss` of ``m`` models at once (``coefs`` of shape (m, p)): one
        matrix product with the cross-products instead of ``m`` quadratic forms (a CV path
        scores 100 alphas per fold)."""
        B = np.asarray(coefs, dtype=np.float64)
        if B.ndim != 2 or B.shape[1] != self.n_features:
            raise ValueError(f"coef has {B.shape[-1]} entries, expected {self.n_features}")
        b = np.asarray(intercepts, dtype=np.float64).reshape(-1)
        if self.sum_w <= 0.0:
            return np.zeros(B.shape[0])
        A = np.empty((B.shape[0], self.mean.size))
        A[:, :-1] = -B
        A[:, -1] = 1.0
        quad = np.einsum("ij,ij->i", A @ self.cross, A)
        offset = A @ self.mean - b
        return np.maximum(quad, 0.0) + self.sum_w * offset * offset

    # ------------------------------------------------------------------ views
    @property
    def x_mean(self) -> FloatArray:
        """Weighted feature means, shape (p,)."""
        return self.mean[:-1]

    @property
    def y_mean(self) -> float:
        """Weighted target mean."""
        return float(self.mean[-1])

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "n_rows": self.n_rows,
            "sum_w": self.sum_w,
            "mean": self.mean.tolist(),
            "cross": self.cross.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GramStats:
        """Inverse of :meth:`to_dict`."""
        return cls(
            int(data["n_rows"]),
            float(data["sum_w"]),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["cross"], dtype=np.float64).reshape(
                len(data["mean"]), len(data["mean"])
            ),
        )

    def __repr__(self) -> str:
        return f"GramStats(n_rows={self.n_rows}, sum_w={self.sum_w:g}, p={self.n_features})"
