"""Vector norms that are safe at the ends of float64.

Every kernel works on a float64 block whose missing cells are NaN; missing cells are left out of
every norm. Sums of powers are formed from values divided by the row's (or column's) largest
absolute value first, so that squaring cannot overflow or underflow::

    ||x||_p = m * (sum_i (|x_i| / m) ** p) ** (1 / p),   m = max_i |x_i|

Rows whose plain sum of powers is comfortably inside float64 take the direct route, which gives
numpy's and scikit-learn's numbers exactly on ordinary data.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import UsageError

# Plain power sums inside (TINY, inf) kept full precision; outside, rows are redone scaled.
_TINY = 1e-280


def parse_ord(
    text: str | float, *, allow_special: bool = True, minimum: float = -math.inf
) -> float:
    """``"l1"`` -> 1, ``"l2"`` -> 2, ``"max"``/``"inf"`` -> inf, ``"-inf"``, ``"0"``, ``"P"``."""
    aliases = {"l1": 1.0, "l2": 2.0, "max": math.inf, "inf": math.inf, "-inf": -math.inf}
    key = str(text).strip().lower()
    if key in aliases:
        value = aliases[key]
    else:
        try:
            value = float(key)
        except ValueError:
            raise UsageError(f"not a norm: {text!r} (use l1, l2, max, inf or a number)") from None
    if math.isnan(value):
        raise UsageError("the norm order may not be NaN")
    if not allow_special and (value == -math.inf or value == 0):
        raise UsageError(f"unsupported norm order {text!r} here")
    if value != -math.inf and value != 0 and value < minimum:
        raise UsageError(f"the norm order must be >= {minimum:g} (got {text})")
    return value


def _abs0(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|X| with missing cells as 0, and the mask of present cells."""
    present = ~np.isnan(X)
    A = np.abs(X)
    A[~present] = 0.0
    return A, present


def _power_sum(A: np.ndarray, p: float, axis: int) -> np.ndarray:
    if p == 2.0:
        return np.einsum("ij,ij->i" if axis == 1 else "ij,ij->j", A, A)
    if p == 1.0:
        return A.sum(axis=axis)
    return np.power(A, p).sum(axis=axis)


def _root(s: np.ndarray, p: float) -> np.ndarray:
    if p == 2.0:
        return np.sqrt(s)
    if p == 1.0:
        return s
    return np.power(s, 1.0 / p)


def _always_scaled(p: float) -> bool:
    """Whether every row takes the scaled route.

    For p other than 1 and 2 the root is ``s ** (1/p)`` with ``1/p`` rounded, whose relative error
    grows as ``|ln s|`` (about 1e-14 at s = 1e300: the row ``1e100,0`` would normalize to
    1.0000000000000129 under p = 3). Scaled sums lie in [1, n], where that error is negligible.
    """
    return p not in (1.0, 2.0)


def scaled_parts(A: np.ndarray, p: float, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """``(m, r)`` with the norm equal to ``m * r``: ``m`` the largest |value| (1 where every
    value is 0), ``r = (sum (|x| / m) ** p) ** (1 / p)`` in [1, n ** (1 / p)] (0 for a zero row).

    Dividing by the largest value itself (rather than a power of two) makes rows of equal values
    exact: ``[c, c]`` scales to ``[1, 1]`` for every ``c``, so ``1e200,1e200`` and
    ``1e-200,1e-200`` normalize to ``1 / sqrt(2)`` rounded as for ``1,1``.
    """
    biggest = A.max(axis=axis) if A.shape[axis] else np.zeros(A.shape[1 - axis])
    m = np.where(biggest > 0, biggest, 1.0)
    with np.errstate(invalid="ignore"):  # inf / inf: such lines follow _infinite_rule
        scaled = A / (m[:, None] if axis == 1 else m[None, :])
    r = _root(_power_sum(scaled, p, axis), p)
    return m, r


def row_norms(X: np.ndarray, ord: float) -> np.ndarray:
    """Norm of each row over its present values (NaN for a row with none), as numpy.linalg.norm."""
    A, present = _abs0(X)
    n_present = present.sum(axis=1)
    if ord == math.inf:
        out = A.max(axis=1) if X.shape[1] else np.zeros(X.shape[0])
    elif ord == -math.inf:
        B = np.abs(X)
        B[~present] = np.inf
        out = B.min(axis=1) if X.shape[1] else np.zeros(X.shape[0])
    elif ord == 0:
        out = ((A != 0) & present).sum(axis=1).astype(np.float64)
    elif ord < 0:
        out = _negative_norms(A, present, ord, axis=1)
    elif _always_scaled(ord):
        m, r = scaled_parts(A, ord, axis=1)
        with np.errstate(over="ignore"):
            out = m * r
    else:
        with np.errstate(over="ignore", under="ignore"):
            s = _power_sum(A, ord, axis=1)
            out = _root(s, ord)
            redo = ~((s > _TINY) & np.isfinite(s))
        if redo.any():
            m, r = scaled_parts(A[redo], ord, axis=1)
            with np.errstate(over="ignore"):
                out[redo] = m * r
    out = out.astype(np.float64, copy=False)
    if ord > 0:
        out[np.isinf(A).any(axis=1)] = np.inf  # an infinite value makes the norm infinite
    out[n_present == 0] = np.nan
    return out


def _negative_parts(
    A: np.ndarray, present: np.ndarray, p: float, axis: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``p < 0``: ``(m, s, zero)`` with the norm ``m * s ** (1/p)``.

    ``m`` is the smallest |value| (inf when none is finite), ``s = sum (|x| / m) ** p`` lies in
    [1, n] (each term in (0, 1]; infinite values add 0), ``zero`` marks lines holding a 0, whose
    norm is 0 (``|0| ** p`` is infinite), as numpy gives it.
    """
    B = np.where(present, A, np.inf)
    zero = ((A == 0) & present).any(axis=axis)
    B = np.where(B == 0, np.inf, B)
    m = B.min(axis=axis) if B.shape[axis] else np.full(B.shape[1 - axis], np.inf)
    safe = np.where(np.isfinite(m), m, 1.0)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        ratio = B / (safe[:, None] if axis == 1 else safe[None, :])
        s = np.power(ratio, p).sum(axis=axis)  # inf ** p = 0
    return m, s, zero


def _negative_norms(A: np.ndarray, present: np.ndarray, p: float, axis: int) -> np.ndarray:
    m, s, zero = _negative_parts(A, present, p, axis)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        out = np.where(np.isfinite(m), m * np.power(np.where(s > 0, s, 1.0), 1.0 / p), np.inf)
    out[zero] = 0.0
    return np.asarray(out, dtype=np.float64)


def _infinite_rule(X: np.ndarray, ord: float, axis: int) -> np.ndarray:
    """The limit of ``x / ||x||`` as the infinite cells of a line grow at one rate.

    Finite cells become 0 (missing ones stay missing); the ``k`` infinite cells of the line
    become ``sign / k ** (1/p)`` (``±1`` for one infinite cell, and for ``max`` always).
    """
    inf = np.isinf(X)
    k = inf.sum(axis=axis).astype(np.float64)
    k = k[:, None] if axis == 1 else k[None, :]
    root = np.ones_like(k) if ord == math.inf else np.power(np.maximum(k, 1.0), 1.0 / ord)
    return np.where(inf, np.sign(X) / root, np.where(np.isnan(X), np.nan, 0.0))


def normalize_rows(X: np.ndarray, ord: float, out: np.ndarray | None = None) -> np.ndarray:
    """Each row divided by its norm, as ``sklearn.preprocessing.normalize``; zero rows stay zero.

    Always by the scaled route, ``(x / m) / r`` with ``m`` the row's largest |value|: every row
    is then safe from overflow and underflow, and the result does not depend on the row's scale
    (``c * x`` normalizes exactly as ``x`` for a power of two ``c``). It agrees with
    scikit-learn's ``x / ||x||`` to a few units in the last place on ordinary data.

    The result is written into ``out`` (an array of X's shape that does not overlap it) when
    given. The arithmetic is that of :func:`scaled_parts`, in one block-sized array: ``|X|``,
    then ``|X| / m``, then the result (each new block-sized temporary cost its page faults
    again: 5.3 ms a 16,384 x 20 chunk before, about 1.6 ms now). A row holds an infinite value
    exactly when its largest |value| is infinite. The sums of squares are taken in X's memory
    order (numpy adds a row's terms in another order for the other layout), so ``out`` serves
    as that array only when it has X's layout: the result never depends on ``out``.
    """
    same = out is not None and (
        (out.flags.f_contiguous and X.flags.f_contiguous)
        or (out.flags.c_contiguous and X.flags.c_contiguous))
    if ord == 2.0 and X.shape[1] and (out is None or same):
        res = _normalize_rows_l2(X, out)
        if res is not None:
            return res
    A = np.abs(X, out=out if same else None)
    nan = np.isnan(A)
    if nan.any():
        A[nan] = 0.0  # missing cells are left out of the norm
    del nan
    biggest = A.max(axis=1) if X.shape[1] else np.zeros(X.shape[0])
    m = np.where(biggest > 0, biggest, 1.0)
    with np.errstate(invalid="ignore"):
        if ord != math.inf:
            np.divide(A, m[:, None], out=A)  # inf / inf: such rows follow _infinite_rule
            r = _root(_power_sum(A, ord, axis=1), ord)
            r[r == 0] = 1.0  # a zero row stays zero
        res = out if out is not None else A
        np.divide(X, m[:, None], out=res)  # (a zero row: m is 1, the row stays zero)
        if ord != math.inf:
            np.divide(res, r[:, None], out=res)
    rows = np.isinf(m)
    if rows.any():  # an infinite cell dominates its row
        res[rows] = _infinite_rule(X[rows], ord, axis=1)
    return res


def _normalize_rows_l2(X: np.ndarray, out: np.ndarray | None) -> np.ndarray | None:
    """:func:`normalize_rows` for ``ord=2`` in fewer passes, with the same arithmetic (the same
    result to the bit); None for a block holding a missing cell (the general route then).

    ``m = max(max x, -min x)`` is the largest |value| without a block of |X|; ``Q = X / m`` is
    the result's first step, and ``Q * Q`` equals ``(|X| / m) ** 2`` exactly (division rounds
    symmetrically), summed in the same memory order. Five passes over the block (two of them
    writing), against nine."""
    hi = X.max(axis=1)
    lo = X.min(axis=1)
    biggest = np.maximum(hi, -lo)
    if np.isnan(biggest).any():
        return None
    m = np.where(biggest > 0, biggest, 1.0)
    with np.errstate(invalid="ignore"):
        res = np.divide(X, m[:, None], out=out)  # inf / inf: such rows follow _infinite_rule
        r = np.sqrt(np.einsum("ij,ij->i", res, res))
        r[r == 0] = 1.0  # a zero row stays zero
        np.divide(res, r[:, None], out=res)
    rows = np.isinf(m)
    if rows.any():  # an infinite cell dominates its row
        res[rows] = _infinite_rule(X[rows], 2.0, axis=1)
    return res


class ColumnNorms:
    """Mergeable per-column norm accumulator: ``norm_j = scale_j * total_j ** (1/p)``.

    ``p > 0``: ``scale`` is the largest |value| and ``total = sum (|x| / scale) ** p``; in a
    column holding an infinite value ``scale`` is inf and ``total`` counts the infinite cells.
    ``p < 0``: ``scale`` is the smallest non-zero |value|, ``total = sum (|x| / scale) ** p``
    over the non-zero values and ``zeros`` counts zeros (any zero makes the norm 0).
    Two accumulators merge by rescaling to the common scale, so chunks may be combined in any
    order.
    """

    def __init__(self, k: int, ord: float) -> None:
        self.ord = ord
        # p = inf / -inf: the largest / smallest |value|; otherwise the largest (0 if none yet:
        # an initial 1 would underflow (1e-150 / 1) ** 3 and give tiny columns a norm of 0)
        self.scale = np.zeros(k)
        self.total = np.zeros(k)  # sum of (|x| / scale) ** p (p = 0: count of non-zeros)
        self.count = np.zeros(k, dtype=np.int64)
        self.zeros = np.zeros(k, dtype=np.int64)
        if ord == -math.inf or ord < 0:
            self.scale[:] = np.inf

    def update(self, X: np.ndarray) -> None:
        A, present = _abs0(X)
        self.count += present.sum(axis=0)
        p = self.ord
        if p == math.inf:
            if X.shape[0]:
                np.maximum(self.scale, A.max(axis=0), out=self.scale)
            return
        if p == -math.inf:
            B = np.abs(X)
            B[~present] = np.inf
            if X.shape[0]:
                np.minimum(self.scale, B.min(axis=0), out=self.scale)
            return
        if p == 0:
            self.total += ((A != 0) & present).sum(axis=0)
            return
        if X.shape[0] == 0:
            return
        if p < 0:
            m, s, _zero = _negative_parts(A, present, p, axis=0)
            self.zeros += ((A == 0) & present).sum(axis=0)
            self._merge_negative(m, s)
            return
        m = A.max(axis=0)
        safe = np.where((m > 0) & np.isfinite(m), m, 1.0)
        with np.errstate(invalid="ignore"):
            s = _power_sum(A / safe[None, :], p, axis=0)
        infcol = np.isinf(m)
        s[infcol] = np.isinf(A[:, infcol]).sum(axis=0)  # a column holding inf: count them
        self._merge(m, s)

    def _merge(self, m: np.ndarray, s: np.ndarray) -> None:
        p = self.ord
        new = np.maximum(self.scale, m)
        safe = np.where((new > 0) & np.isfinite(new), new, 1.0)
        with np.errstate(under="ignore", over="ignore", invalid="ignore"):
            total = self.total * (self.scale / safe) ** p + s * (m / safe) ** p
        inf = np.isinf(new)
        total[inf] = (np.where(np.isinf(self.scale), self.total, 0.0)
                      + np.where(np.isinf(m), s, 0.0))[inf]
        total[new == 0] = 0.0
        self.total = total
        self.scale = new

    def _merge_negative(self, m: np.ndarray, s: np.ndarray) -> None:
        p = self.ord
        new = np.minimum(self.scale, m)
        safe = np.where(np.isfinite(new), new, 1.0)
        with np.errstate(under="ignore", over="ignore", invalid="ignore"):
            ta = np.where(np.isfinite(self.scale), self.total * (self.scale / safe) ** p, 0.0)
            tb = np.where(np.isfinite(m), s * (m / safe) ** p, 0.0)
        self.total = ta + tb
        self.scale = new

    def merge(self, other: ColumnNorms) -> None:
        self.count += other.count
        if self.ord == math.inf:
            np.maximum(self.scale, other.scale, out=self.scale)
        elif self.ord == -math.inf:
            np.minimum(self.scale, other.scale, out=self.scale)
        elif self.ord == 0:
            self.total += other.total
        elif self.ord < 0:
            self.zeros += other.zeros
            self._merge_negative(other.scale, other.total)
        else:
            self._merge(other.scale, other.total)

    def root(self) -> np.ndarray:
        """``r`` such that the norm is ``scale * r``."""
        p = self.ord
        if p in (math.inf, -math.inf):
            return np.ones_like(self.scale)
        if p == 0:
            return self.total.astype(np.float64)
        if p < 0:
            with np.errstate(divide="ignore"):
                return np.asarray(np.power(np.where(self.total > 0, self.total, 1.0), 1.0 / p))
        return _root(self.total, p)

    def norms(self) -> np.ndarray:
        p = self.ord
        if p == 0:
            out = self.total.astype(np.float64)
        else:
            with np.errstate(over="ignore"):
                out = self.scale * self.root()
        out = np.asarray(out, dtype=np.float64).copy()
        if p < 0 and p != -math.inf:
            out[self.zeros > 0] = 0.0
        out[self.count == 0] = np.nan
        return out

    def divide(self, X: np.ndarray) -> np.ndarray:
        """``X`` with each column divided by its norm (columns of norm 0 are left as they are)."""
        return divide_columns(X, self.scale, self.root(), self.ord)


def divide_columns(X: np.ndarray, scale: np.ndarray, root: np.ndarray, ord: float) -> np.ndarray:
    """Each column divided by its norm ``scale * root``; a column whose scale is infinite (it
    holds an infinite value) follows the infinite-value rule: finite cells become 0, its ``k``
    infinite cells ``sign / k ** (1/p)`` (``root`` is ``k ** (1/p)`` there)."""
    if ord == 0:
        norm = np.where(root > 0, root, 1.0)
        return X / norm[None, :]
    with np.errstate(over="ignore"):
        norm = scale * root
    plain = np.isfinite(norm) & (norm > _TINY)
    out = np.empty_like(X)
    if plain.all():
        return X / norm[None, :]
    safe_norm = np.where(plain, norm, 1.0)
    out[:, plain] = X[:, plain] / safe_norm[plain][None, :]
    infinite = np.isinf(scale)
    rest = ~plain & ~infinite
    m = np.where(scale[rest] > 0, scale[rest], 1.0)
    r = np.where(root[rest] > 0, root[rest], 1.0)
    out[:, rest] = (X[:, rest] / m[None, :]) / r[None, :]
    if infinite.any():
        Xi = X[:, infinite]
        ri = np.where(root[infinite] > 0, root[infinite], 1.0)[None, :]
        out[:, infinite] = np.where(np.isinf(Xi), np.sign(Xi) / ri,
                                    np.where(np.isnan(Xi), np.nan, 0.0))
    return out
