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

:class:`GroupStats` holds the statistics of ``k`` groups of rows (cross-validation folds) in
stacked arrays: a chunk is reduced to all its groups in one pass (rows gathered group by
group, one symmetric product per group) and merged group by group with one vectorized update.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["GramStats", "GroupStats"]

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
        Z = np.empty((n, p + 1), dtype=np.float64, order="F")
        Z[:, :p] = Xa
        Z[:, p] = ya
        return GroupStats.compute(Z, None, 1, w, scratch=True)[0]

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
        out = self.copy()
        out.absorb(other)
        return out

    def absorb(self, other: GramStats) -> None:
        """:meth:`merge` in place: ``self`` becomes the pooled statistics of both (Chan et al.;
        either side without weight takes the other's numbers exactly)."""
        self._check_compatible(other)
        self.n_rows += other.n_rows
        wa, wb = self.sum_w, other.sum_w
        if wb <= 0.0:
            return
        if wa <= 0.0:
            self.sum_w, self.mean, self.cross = wb, other.mean.copy(), other.cross.copy()
            return
        total = wa + wb
        delta = other.mean - self.mean
        self.sum_w = total
        self.mean += delta * (wb / total)
        self.cross += other.cross
        self.cross += (wa * wb / total) * np.outer(delta, delta)

    def update(self, X: Any, y: Any, w: Any | None = None) -> None:
        """Merge a chunk of rows into ``self`` in place."""
        self.absorb(GramStats.from_chunk(X, y, w))

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


class GroupStats:
    """The :class:`GramStats` of ``k`` groups of rows (say, CV folds), in stacked arrays.

    One chunk is reduced to all its groups' statistics in one pass (:meth:`from_groups`), and
    two are merged group by group with one vectorized Chan update (:meth:`absorb`), which gives
    each group the same numbers as :meth:`GramStats.merge`.

    Attributes
    ----------
    n_rows : int64 array of shape (k,)
    sum_w : float64 array of shape (k,)
    mean : float64 array of shape (k, p + 1)
    cross : float64 array of shape (k, p + 1, p + 1)
        Per group, as the attributes of :class:`GramStats`; a group without rows (or with
        zero total weight) has a zero mean and zero cross-products.
    """

    __slots__ = ("n_rows", "sum_w", "mean", "cross")

    def __init__(self, n_rows: NDArray[np.int64], sum_w: FloatArray, mean: FloatArray,
                 cross: FloatArray) -> None:
        self.n_rows = n_rows
        self.sum_w = sum_w
        self.mean = mean
        self.cross = cross

    @classmethod
    def empty(cls, k: int, p: int) -> GroupStats:
        """``k`` groups without rows, ``p`` features."""
        return cls(np.zeros(k, dtype=np.int64), np.zeros(k), np.zeros((k, p + 1)),
                   np.zeros((k, p + 1, p + 1)))

    def __len__(self) -> int:
        return int(self.n_rows.size)

    def __getitem__(self, i: int) -> GramStats:
        """Group ``i`` as a :class:`GramStats` (copies)."""
        return GramStats(int(self.n_rows[i]), float(self.sum_w[i]), self.mean[i].copy(),
                         self.cross[i].copy())

    def take(self, index: Any, k: int) -> GroupStats:
        """``k`` groups: group ``index[j]`` is this one's group ``j``, the others empty."""
        out = GroupStats.empty(k, self.mean.shape[1] - 1)
        out.n_rows[index] = self.n_rows
        out.sum_w[index] = self.sum_w
        out.mean[index] = self.mean
        out.cross[index] = self.cross
        return out

    def copy(self) -> GroupStats:
        return GroupStats(self.n_rows.copy(), self.sum_w.copy(), self.mean.copy(),
                          self.cross.copy())

    def absorb(self, other: GroupStats, at: Any | None = None) -> None:
        """Merge ``other``'s groups into the same groups of ``self`` (with ``at``: group ``j``
        of ``other`` into group ``at[j]`` of ``self``, distinct), in place (Chan et al.; a
        group empty on either side takes the other side's numbers exactly)."""
        if at is not None:
            index = np.asarray(at, dtype=np.intp)
            part = GroupStats(self.n_rows[index], self.sum_w[index], self.mean[index],
                              self.cross[index])
            part.absorb(other)
            self.n_rows[index] = part.n_rows
            self.sum_w[index] = part.sum_w
            self.mean[index] = part.mean
            self.cross[index] = part.cross
            return
        if other.mean.shape != self.mean.shape:
            raise ValueError("cannot combine statistics of different shapes: "
                             f"{self.mean.shape} and {other.mean.shape}")
        wa, wb = self.sum_w, other.sum_w
        total = wa + wb
        safe = np.where(total > 0.0, total, 1.0)
        delta = other.mean - self.mean
        self.mean += delta * (wb / safe)[:, None]
        self.cross += other.cross
        self.cross += (wa * wb / safe)[:, None, None] * (delta[:, :, None] * delta[:, None, :])
        self.sum_w = total
        self.n_rows = self.n_rows + other.n_rows

    @classmethod
    def from_groups(cls, Z: Any, groups: Any, k: int, w: Any | None = None) -> GroupStats:
        """Statistics of the rows of ``Z = [X | y]`` in each of the groups ``0 .. k-1``.

        One pass over the chunk for all groups (a CV fold is a group): the rows are gathered
        group by group into one scratch block (a stable sort: each group's rows keep their
        order), and each group is centered at its own mean and reduced with one symmetric BLAS
        product (:meth:`GramStats.from_chunk`'s numbers for the group's rows). Rows whose
        ``groups`` entry is outside ``[0, k)`` (say ``-1``) are left out.

        Parameters
        ----------
        Z : array of shape (n, p + 1)
            Features, then the target in the last column (not modified).
        groups : integer array of shape (n,) or None
            Each row's group (None: every row is in group 0, and ``k`` is 1).
        k : int
            Number of groups (some may have no rows).
        w : array of shape (n,) or None
            Non-negative finite sample weights of the rows (those of the rows left out are
            not looked at); ``None`` means all ones.
        """
        Za = _as_2d_float(Z)
        g = None if groups is None else np.asarray(groups).reshape(-1)
        if g is not None and g.shape[0] != Za.shape[0]:
            raise ValueError(f"groups has {g.shape[0]} rows but Z has {Za.shape[0]}")
        if k < 1 or (g is None and k != 1):
            raise ValueError(f"k must be >= 1 (and 1 without groups), got {k}")
        return cls.compute(Za, g, int(k), w, scratch=False)

    @classmethod
    def compute(cls, Z: FloatArray, groups: NDArray[Any] | None, k: int, w: Any | None, *,
                scratch: bool) -> GroupStats:
        """:meth:`from_groups` of checked arguments (``scratch``: ``Z`` may be overwritten)."""
        n, p1 = Z.shape
        wa = None
        if w is not None:
            wa = np.asarray(w, dtype=np.float64).reshape(-1)
            if wa.shape[0] != n:
                raise ValueError(f"sample weights have {wa.shape[0]} rows but X has {n}")
        if groups is None:
            counts = np.array([n], dtype=np.int64)
            Zs = Z if scratch else np.array(Z, dtype=np.float64, order="F")
            ws = wa
        else:
            inside = (groups >= 0) & (groups < k)
            # Rows left out get the key k and sort last; narrow keys sort by radix.
            key = np.where(inside, groups, k).astype(np.int16 if k < 2**15 else np.int64)
            counts = np.bincount(key, minlength=k + 1)[:k].astype(np.int64)
            order = np.argsort(key, kind="stable")[: int(counts.sum())]
            Zs = Z[order]
            ws = None if wa is None else wa[order]
        if ws is not None and (not np.all(np.isfinite(ws)) or np.any(ws < 0)):
            raise ValueError("sample weights must be finite and non-negative")
        out = cls.empty(k, p1 - 1)
        out.n_rows[:] = counts
        filled = np.flatnonzero(counts)
        if filled.size:
            _centered(out, filled, counts[filled], Zs, ws)
        return out


def _centered(out: GroupStats, filled: NDArray[np.intp], counts: NDArray[np.int64],
              D: FloatArray, w: FloatArray | None) -> None:
    """Groups ``filled`` of ``out`` (their ``n_rows`` set) from their rows ``D`` (the rows of
    each group in turn, ``counts`` of them), which are overwritten.

    The corrected two-pass algorithm (Chan, Golub & LeVeque 1983), for all groups at once:
    center each group at the mean ``m`` of a first pass, then ``C = D^T D - W c c^T`` with
    ``c`` the (tiny, not zero after rounding) mean of the deviations ``D = Z - m``, and the
    mean is ``m + c``: as centering a second time, without a second pass over the rows.
    """
    starts = np.zeros(filled.size, dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    bounds = list(zip(starts.tolist(), (starts + counts).tolist(), strict=True))
    if w is None:
        sum_w = counts.astype(np.float64)
        mean = np.add.reduceat(D, starts, axis=0) / sum_w[:, None]
        for i, (start, stop) in enumerate(bounds):
            D[start:stop] -= mean[i]
        corr = np.add.reduceat(D, starts, axis=0) / sum_w[:, None]
    else:
        sum_w = np.add.reduceat(w, starts)
        weight = np.where(sum_w > 0.0, sum_w, 1.0)[:, None]  # a zero-weight group stays empty
        wcol = w[:, None]
        mean = np.add.reduceat(D * wcol, starts, axis=0) / weight
        for i, (start, stop) in enumerate(bounds):
            D[start:stop] -= mean[i]
        corr = np.add.reduceat(D * wcol, starts, axis=0) / weight
        D *= np.sqrt(wcol)
    cross = np.empty((filled.size, D.shape[1], D.shape[1]))
    for i, (start, stop) in enumerate(bounds):
        rows = D[start:stop]
        np.matmul(rows.T, rows, out=cross[i])  # symmetric: BLAS syrk
    cross -= sum_w[:, None, None] * (corr[:, :, None] * corr[:, None, :])
    used = sum_w > 0.0
    groups = filled[used]
    out.sum_w[groups] = sum_w[used]
    out.mean[groups] = (mean + corr)[used]
    out.cross[groups] = 0.5 * (cross + cross.transpose(0, 2, 1))[used]
