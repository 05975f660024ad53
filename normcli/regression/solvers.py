"""Penalized least-squares solvers working from :class:`~normcli.regression.stats.GramStats`.

All solvers see the data only through the weighted centered cross-products, so they
cost ``O(p^2)`` memory and never touch rows again. Notation: ``W = sum_i w_i``,
``x_c = x - xbar`` and ``y_c = y - ybar`` (weighted means; no centering when
``fit_intercept=False``), ``beta`` the coefficients, ``b`` the intercept.

Objectives (identical to scikit-learn's estimators with the same parameter names):

``penalty="none"`` (``LinearRegression``)

.. math::

    \\min_{\\beta, b} \\sum_i w_i (y_i - b - x_i^T \\beta)^2

ties (rank-deficient designs) are broken by the minimum Euclidean norm of ``beta``.

``penalty="l2"`` (``Ridge(alpha)``)

.. math::

    \\min_{\\beta, b} \\sum_i w_i (y_i - b - x_i^T \\beta)^2 + \\alpha \\|\\beta\\|_2^2

``penalty="l1"`` (``Lasso(alpha)``) and ``penalty="elasticnet"``
(``ElasticNet(alpha, l1_ratio)``; the lasso is ``l1_ratio = 1``)

.. math::

    \\min_{\\beta, b} \\frac{1}{2W} \\sum_i w_i (y_i - b - x_i^T \\beta)^2
    + \\alpha \\rho \\|\\beta\\|_1 + \\frac{\\alpha (1 - \\rho)}{2} \\|\\beta\\|_2^2,
    \\qquad \\rho = \\text{l1\\_ratio}.

With ``standardize=True`` the penalty applies to the coefficients of the standardized
features ``(x_j - xbar_j) / s_j`` (``s_j`` the weighted population standard deviation;
about zero, ``s_j^2 = sum_i w_i x_ij^2 / W``, when ``fit_intercept=False``) and the
reported coefficients are mapped back to the original scale, ``beta_j = gamma_j / s_j``
(glmnet's convention). Constant features then get a zero coefficient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from normcli.regression.stats import GramStats

__all__ = ["PENALTIES", "FitResult", "alpha_grid", "fit", "fit_path", "validate_params"]

FloatArray = NDArray[np.float64]

PENALTIES: tuple[str, ...] = ("none", "l1", "l2", "elasticnet")

_EPS = float(np.finfo(np.float64).eps)
# glmnet's floor on the mixing parameter when deriving alpha_max for (near-)ridge paths.
_RIDGE_GRID_L1_RATIO = 1e-3
# Elastic nets below this l1_ratio get a grid reaching down to the nearly unshrunk fits.
_SMALL_L1_RATIO = 0.1


@dataclass
class FitResult:
    """Result of one fit.

    Attributes
    ----------
    coef : ndarray of shape (p,)
        Coefficients on the original feature scale.
    intercept : float
        Intercept (0.0 when ``fit_intercept=False``).
    alpha, l1_ratio : float
        Effective penalty parameters (``l1`` reports ``l1_ratio=1``, ``l2`` reports
        ``l1_ratio=0``, ``none`` reports ``alpha=0``).
    penalty : str
        One of :data:`PENALTIES`.
    converged : bool
        Whether the stopping rule was met (always true for the closed-form solvers).
    duality_gap : float
        Duality gap at the returned solution on scikit-learn's scale (divided by ``W``;
        reported, not the stopping rule, see :func:`_enet_cd`). For the closed
        form solvers it is the gap evaluated at the returned solution (≈ 0).
    n_iter : int
        Coordinate-descent sweeps plus exact active-set steps (0 for closed-form solvers).
    """

    coef: FloatArray
    intercept: float
    alpha: float
    l1_ratio: float
    penalty: str
    converged: bool
    duality_gap: float
    n_iter: int


# ---------------------------------------------------------------------------- validation
def validate_params(
    *, penalty: str, alpha: float = 1.0, l1_ratio: float = 0.5, tol: float = 1e-6,
    max_iter: int = 1000,
) -> None:
    """Raise ``ValueError`` with a user-readable message on invalid parameters."""
    if penalty not in PENALTIES:
        raise ValueError(
            f"unknown penalty {penalty!r}; expected one of {', '.join(PENALTIES)}"
        )
    if not isinstance(alpha, (int, float, np.floating, np.integer)) or not math.isfinite(
        float(alpha)
    ) or float(alpha) < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    if not isinstance(l1_ratio, (int, float, np.floating, np.integer)) or not (
        0.0 <= float(l1_ratio) <= 1.0
    ):
        raise ValueError(f"l1_ratio must be between 0 and 1, got {l1_ratio!r}")
    if not isinstance(tol, (int, float, np.floating, np.integer)) or not (
        math.isfinite(float(tol)) and float(tol) > 0
    ):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")


# ---------------------------------------------------------------------------- problem setup
@dataclass
class _Problem:
    """Reduced problem on the kept features, on scikit-learn's ``1/W`` scale.

    ``Q = X_s^T W X_s / W``, ``q = X_s^T W y_c / W``, ``yy = y_c^T W y_c / W`` where
    ``X_s`` holds the kept (possibly centered and standardized) feature columns.
    """

    p: int
    keep: NDArray[np.intp]
    scale: FloatArray  # per kept feature: coef_original = gamma / scale
    Q: FloatArray
    q: FloatArray
    yy: float
    sum_w: float
    x_mean: FloatArray
    y_mean: float
    fit_intercept: bool

    def to_original(self, gamma: FloatArray) -> tuple[FloatArray, float]:
        coef = np.zeros(self.p)
        coef[self.keep] = gamma / self.scale
        if self.fit_intercept:
            intercept = self.y_mean - float(self.x_mean @ coef) if self.p else self.y_mean
        else:
            intercept = 0.0
        return coef, float(intercept)


def _prepare(stats: GramStats, *, fit_intercept: bool, standardize: bool) -> _Problem:
    if not isinstance(stats, GramStats):
        raise TypeError("stats must be a GramStats instance")
    p = stats.n_features
    if stats.n_rows <= 0:
        raise ValueError("cannot fit a model on zero rows")
    W = stats.sum_w
    if not W > 0.0:
        raise ValueError("cannot fit a model: the total sample weight is zero")
    cross = stats.cross
    mean = stats.mean
    # (one sum is finite iff every entry is, unless it overflows: then look at each entry)
    if not (np.isfinite(cross.sum()) and np.isfinite(mean.sum())) and not (
        np.all(np.isfinite(cross)) and np.all(np.isfinite(mean))
    ):
        raise ValueError("cannot fit a model: the data contain NaN or infinite values")
    var = np.diag(cross)[:p] / W
    # A feature is constant when its spread is at rounding level of its mean.
    constant = np.sqrt(np.maximum(var, 0.0)) <= 64.0 * _EPS * np.abs(mean[:p])
    # M = cross / W (+ mean mean^T without an intercept), formed only where it is needed
    col = cross[:, p] / W
    if fit_intercept:
        second = var
    else:
        col = col + mean * mean[p]
        second = var + mean[:p] * mean[:p]
    drop = second <= 0.0
    if fit_intercept or standardize:
        drop = drop | constant
    keep = np.flatnonzero(~drop)
    if keep.size == p:
        Q = cross[:p, :p] / W
    else:
        Q = cross[np.ix_(keep, keep)]
        Q /= W
    if not fit_intercept:
        Q += np.outer(mean[keep], mean[keep])
    q = col[keep]
    yy = float(max(col[p], 0.0))
    if standardize:
        scale = np.sqrt(second[keep])
        Q /= np.outer(scale, scale)
        q = q / scale
    else:
        scale = np.ones(keep.size)
    _symmetrize(Q)
    return _Problem(
        p=p, keep=keep, scale=scale, Q=Q, q=np.array(q, dtype=np.float64),
        yy=yy, sum_w=W, x_mean=mean[:p].copy(), y_mean=float(mean[p]),
        fit_intercept=fit_intercept,
    )


def _symmetrize(Q: FloatArray, block: int = 64) -> None:
    """In place: ``Q = (Q + Q^T) / 2``, by tiles (a whole-matrix transpose is cache-hostile)."""
    n = Q.shape[0]
    for i in range(0, n, block):
        ie = min(i + block, n)
        D = Q[i:ie, i:ie]
        D[...] = 0.5 * (D + D.T)
        for j in range(ie, n, block):
            je = min(j + block, n)
            T = 0.5 * (Q[i:ie, j:je] + Q[j:je, i:ie].T)
            Q[i:ie, j:je] = T
            Q[j:je, i:ie] = T.T


# ---------------------------------------------------------------------------- duality gap
def _gap(
    Q: FloatArray, q: FloatArray, yy: float, w: FloatArray, Qw: FloatArray, l1: float, l2: float
) -> float:
    """Duality gap of 0.5 w'Qw - q'w + 0.5 yy + l1 |w|_1 + l2/2 |w|^2 (sklearn's gap_enet_gram)."""
    qw = float(q @ w)
    wQw = float(w @ Qw)
    r2 = yy + wQw - 2.0 * qw
    w2 = float(w @ w)
    xta = q - Qw
    if l1 == 0.0:
        dn = float(xta @ xta)
        if l2 == 0.0:
            return dn
        ry = yy - qw
        return r2 + 0.5 * l2 * w2 - ry + dn / (2.0 * l2)
    if l2 != 0.0:
        xta = xta - l2 * w
    ry = yy - qw
    dual_norm = float(np.max(np.abs(xta))) if xta.size else 0.0
    primal = 0.5 * (r2 + l2 * w2) + l1 * float(np.sum(np.abs(w)))
    scale = l1 / dual_norm if dual_norm > l1 else 1.0
    dual = -0.5 * scale * scale * (r2 + l2 * w2) + scale * ry
    return primal - dual


# ---------------------------------------------------------------------------- closed forms
def _min_norm_lstsq(Q: FloatArray, q: FloatArray) -> FloatArray:
    """Minimum-norm solution of the normal equations ``Q w = q`` (``Q`` PSD).

    The rank is decided on the correlation-scaled matrix ``D^-1 Q D^-1`` so that
    feature units do not matter; the minimum *Euclidean* norm in the coordinates of
    ``Q`` is then enforced exactly over the numerical null space.
    """
    p = q.size
    if p == 0:
        return np.zeros(0)
    d = np.sqrt(np.diag(Q))
    d = np.where(d > 0, d, 1.0)
    S = Q / np.outer(d, d)
    evals, evecs = np.linalg.eigh(0.5 * (S + S.T))
    lam_max = float(evals[-1]) if evals.size else 0.0
    if lam_max <= 0.0:
        return np.zeros(p)
    cutoff = lam_max * max(p, 16) * 100.0 * _EPS
    pos = evals > cutoff
    V = evecs[:, pos]
    v0 = V @ ((V.T @ (q / d)) / evals[pos])
    w = v0 / d
    N = evecs[:, ~pos]
    if N.shape[1]:
        # w(z) = D^-1 (v0 + N z); pick z minimizing ||w(z)||.
        B = N / d[:, None]
        z, *_ = np.linalg.lstsq(B, -w, rcond=None)
        w = w + B @ z
    return np.asarray(w, dtype=np.float64)


def _ridge_solve(Q: FloatArray, q: FloatArray, lam: float) -> FloatArray:
    """Solve ``(Q + lam I) w = q`` by Cholesky, falling back to an eigendecomposition."""
    p = q.size
    if p == 0:
        return np.zeros(0)
    A = Q + lam * np.eye(p)
    try:
        L = np.linalg.cholesky(A)
        z = np.linalg.solve(L, q)
        w = np.linalg.solve(L.T, z)
        if np.all(np.isfinite(w)):
            return np.asarray(w, dtype=np.float64)
    except np.linalg.LinAlgError:
        pass
    evals, evecs = np.linalg.eigh(Q)
    denom = np.maximum(evals, 0.0) + lam
    coeffs = np.where(denom > 0, (evecs.T @ q) / np.where(denom > 0, denom, 1.0), 0.0)
    return np.asarray(evecs @ coeffs, dtype=np.float64)


# ---------------------------------------------------------------------------- active-set factor
# Rows per block of the blocked triangular solves (numpy has no triangular solve: each block
# is one matrix product with the rows already solved and one with the inverted diagonal block).
_TRI_BLOCK = 64
# A feature joins the factor only if its pivot keeps this fraction of its diagonal (otherwise
# it is numerically in the span of the others and the active-set system is singular).
_PIVOT_FLOOR = 1e-12


class _ActiveCholesky:
    """Cholesky factor ``L L^T = Q[A, A] + l2 I`` of an ordered active set ``A``, kept up to date.

    Along a path the active set changes by a few features per alpha, so the factor is
    updated instead of recomputed: appending ``m`` features costs one blocked triangular
    solve with ``m`` right-hand sides and an ``m x m`` Cholesky (``O(k^2 m)``); removing
    features refactors only the rows after the first removed position (a rank-one update
    per removed feature when that tail is long). A solve is two blocked triangular solves,
    ``O(k^2)``. numpy has no triangular solve, so the blocks are matrix products with the
    explicitly inverted diagonal blocks of ``L`` (``_TRI_BLOCK`` rows each).
    """

    def __init__(self, Q: FloatArray, l2: float) -> None:
        self.Q = Q
        self.l2 = float(l2)
        self.idx = np.zeros(0, dtype=np.intp)
        self._buf = np.zeros((0, 0))
        self._dinv: list[FloatArray] = []  # inverses of the diagonal blocks, valid prefix

    @property
    def k(self) -> int:
        return int(self.idx.size)

    @property
    def L(self) -> FloatArray:
        return self._buf[: self.k, : self.k]

    def _reserve(self, n: int) -> None:
        cap = self._buf.shape[0]
        if n <= cap:
            return
        new = np.zeros((max(n, min(2 * cap, self.Q.shape[0]), 64),) * 2)
        k = self.k
        new[:k, :k] = self._buf[:k, :k]
        self._buf = new

    def _invalidate(self, pos: int) -> None:
        del self._dinv[pos // _TRI_BLOCK :]

    def _blocks(self) -> list[FloatArray]:
        L, k = self.L, self.k
        for s in range(len(self._dinv) * _TRI_BLOCK, k, _TRI_BLOCK):
            e = min(s + _TRI_BLOCK, k)
            self._dinv.append(np.asarray(np.linalg.inv(L[s:e, s:e]), dtype=np.float64))
        return self._dinv

    def forward(self, b: FloatArray) -> FloatArray:
        """``L^-1 b`` (``b`` of shape ``(k,)`` or ``(k, m)``)."""
        L, k = self.L, self.k
        dinv = self._blocks()
        y = np.empty_like(b)
        for bi, s in enumerate(range(0, k, _TRI_BLOCK)):
            e = min(s + _TRI_BLOCK, k)
            r = b[s:e] - L[s:e, :s] @ y[:s] if s else b[s:e]
            y[s:e] = dinv[bi] @ r
        return y

    def backward(self, y: FloatArray) -> FloatArray:
        """``L^-T y``."""
        L, k = self.L, self.k
        dinv = self._blocks()
        x = np.empty_like(y)
        starts = list(range(0, k, _TRI_BLOCK))
        for bi in range(len(starts) - 1, -1, -1):
            s = starts[bi]
            e = min(s + _TRI_BLOCK, k)
            r = y[s:e] - L[e:k, s:e].T @ x[e:k] if e < k else y[s:e]
            x[s:e] = dinv[bi].T @ r
        return x

    def solve(self, b: FloatArray) -> FloatArray:
        """``(Q[A, A] + l2 I)^-1 b`` in the order of :attr:`idx`."""
        return self.backward(self.forward(b))

    def append(self, new: NDArray[np.intp]) -> bool:
        """Add features ``new`` (not in the set) at the end; ``False`` (factor unchanged) when
        one of them is numerically in the span of the set."""
        m = new.size
        if m == 0:
            return True
        k = self.k
        C = self.Q[np.ix_(new, new)]
        C[np.diag_indices_from(C)] += self.l2
        if k:
            X = self.forward(self.Q[np.ix_(self.idx, new)])  # L21^T
            S = C - X.T @ X
        else:
            X = np.zeros((0, m))
            S = C
        try:
            L22 = np.linalg.cholesky(S)
        except np.linalg.LinAlgError:
            return False
        piv = np.diag(L22)
        if not (np.all(np.isfinite(L22)) and np.all(piv * piv > _PIVOT_FLOOR * np.diag(C))):
            return False
        self._reserve(k + m)
        buf = self._buf
        buf[:k, k : k + m] = 0.0
        buf[k : k + m, :k] = X.T
        buf[k : k + m, k : k + m] = L22
        self._invalidate(k)
        self.idx = np.concatenate([self.idx, new])
        return True

    def remove(self, pos: NDArray[np.intp]) -> None:
        """Remove the features at positions ``pos`` (sorted, unique) of :attr:`idx`."""
        if pos.size == 0:
            return
        k = self.k
        i = int(pos[0])
        keep = np.ones(k, dtype=bool)
        keep[pos] = False
        tail = np.flatnonzero(keep[i:]) + i
        t = tail.size
        buf = self._buf
        if t:
            lead = buf[tail, :i]  # copies
            if t * t <= 65536 * pos.size:  # BLAS-3 refactor of the tail beats the loop
                T = buf[tail, i:k]
                new_tail = np.linalg.cholesky(T @ T.T)
            else:
                new_tail = buf[np.ix_(tail, tail)]
                for r in pos.tolist():
                    v = buf[tail, r]
                    _chol_rank1_update(new_tail, v, int(np.searchsorted(tail, r)))
            buf[i : i + t, :i] = lead
            buf[i : i + t, i : i + t] = new_tail
        self._invalidate(i)
        self.idx = self.idx[keep]

    def set_active(self, target: NDArray[np.intp]) -> bool:
        """Make the set equal to ``target`` (features); new ones are appended in the given
        order. ``False`` when the factor could not be formed (singular system)."""
        p = self.Q.shape[0]
        want = np.zeros(p, dtype=bool)
        want[target] = True
        have = np.zeros(p, dtype=bool)
        have[self.idx] = True
        drop = np.flatnonzero(~want[self.idx])
        if drop.size > (self.k - drop.size):  # most of it goes: start over
            self.idx = np.zeros(0, dtype=np.intp)
            self._dinv = []
        else:
            self.remove(drop)
        add = target[~have[target]]
        return self.append(add)


def _chol_rank1_update(L: FloatArray, v: FloatArray, start: int) -> None:
    """In place: ``L`` becomes the Cholesky factor of ``L L^T + v v^T`` (``v[:start] == 0``)."""
    n = L.shape[0]
    v = v.copy()
    for j in range(start, n):
        ljj = L[j, j]
        vj = v[j]
        if vj == 0.0:
            continue
        r = math.hypot(ljj, vj)
        c = r / ljj
        s = vj / ljj
        L[j, j] = r
        if j + 1 < n:
            col = L[j + 1 :, j]
            col += s * v[j + 1 :]
            col /= c
            v[j + 1 :] *= c
            v[j + 1 :] -= s * col


# ---------------------------------------------------------------------------- coordinate descent
def _spd_solve(A: FloatArray, b: FloatArray) -> FloatArray:
    """Solve ``A x = b`` (LU; numpy only, so ``fit`` needs no scipy import)."""
    return np.asarray(np.linalg.solve(A, b), dtype=np.float64)


def _gram_times(Q: FloatArray, w: FloatArray) -> FloatArray:
    """``Q @ w`` for a sparse ``w`` (rows of the symmetric ``Q``, contiguous, when few)."""
    support = np.flatnonzero(w)
    if 8 * support.size > w.size:
        return np.asarray(Q @ w, dtype=np.float64)
    if support.size:
        return np.asarray(w[support] @ Q[support], dtype=np.float64)
    return np.zeros(w.size)


def _kkt_violation(
    Q: FloatArray, q: FloatArray, w: FloatArray, l1: float, l2: float, usable: NDArray[np.bool_],
    thr: float,
    d: FloatArray | None = None,
    Qw: FloatArray | None = None,
) -> tuple[float, FloatArray, FloatArray]:
    """Largest violation of the optimality conditions of the elastic net at ``w``.

    With ``g = q - Qw - l2 w`` (minus the gradient of the smooth part), ``w`` is the minimizer
    iff ``g_j = l1 sign(w_j)`` where ``w_j != 0`` and ``|g_j| <= l1`` where ``w_j = 0``. Returns
    ``(excess, g, Qw)``: ``excess`` is the largest violation beyond ``thr`` plus the rounding
    level of ``g_j`` (``<= 0`` when ``w`` passes), ``g`` and ``Qw`` as computed (``Qw`` may be
    given).
    """
    if Qw is None:
        Qw = _gram_times(Q, w)
    g = q - Qw - l2 * w
    # Rounding in forming g: a few units of the magnitudes that were summed, bounded through
    # |Q_jk| <= sqrt(Q_jj Q_kk) (Q is positive semi-definite).
    if d is None:
        d = np.sqrt(np.maximum(np.diag(Q), 0.0))
    size = d * float(d @ np.abs(w))
    floor = 64.0 * _EPS * (np.abs(q) + size + l1)
    active = w != 0.0
    viol = np.where(active, np.abs(g - l1 * np.sign(w)), np.abs(g) - l1)
    viol = np.where(usable, viol - floor, -np.inf)
    excess = float(np.max(viol)) - thr if viol.size else -thr
    return excess, g, Qw


@dataclass
class _PathState:
    """What one alpha of a path hands to the next: the active-set factor and ``Q @ w``."""

    fac: _ActiveCholesky | None = None
    Qw: FloatArray | None = None


# Exact active-set steps per alpha before coordinate descent takes over.
_PDAS_STEPS = 30


def _active_set_steps(
    Q: FloatArray,
    q: FloatArray,
    l1: float,
    l2: float,
    w0: FloatArray,
    fac: _ActiveCholesky,
    usable: NDArray[np.bool_],
    thr: float,
    sd: FloatArray,
    max_steps: int,
    tried: set[bytes],
) -> tuple[FloatArray, FloatArray, int, bool]:
    """Primal-dual active set iterations (semismooth Newton) from the warm start's support.

    Each step solves the elastic net exactly on a support ``A`` with fixed signs ``s``
    (``(Q_AA + l2 I) x = q_A - l1 s``, from the kept-up factor ``fac``), then moves to the
    support and signs of ``z = g + (diag(Q) + l2) w`` (``g`` as in :func:`_kkt_violation`):
    coordinate ``j`` is in the next support iff ``|z_j| > l1``, which is the support that one
    coordinate-descent update of each coordinate would give. Along a path, warm-started
    from the previous alpha's solution, this reaches the new support in a few steps; the
    result is accepted only by the KKT test. Returns ``(w, Qw, steps, accepted)``; stops
    (not accepted) on a repeated support, a singular system or after ``max_steps``.
    """
    p = q.size
    den = np.diag(Q) + l2
    sign = np.sign(w0)
    A = np.flatnonzero(w0)
    steps = 0
    w = w0
    Qw = np.zeros(p)
    while steps < max_steps:
        key = np.sort(A).tobytes() + np.signbit(sign[np.sort(A)]).tobytes()
        if key in tried:
            break
        tried.add(key)
        steps += 1
        if not fac.set_active(A):
            break
        idx = fac.idx
        s = sign[idx]
        x = fac.solve(q[idx] - l1 * s)
        for refine in range(3):
            w = np.zeros(p)
            w[idx] = x
            Qw = _gram_times(Q, w)
            right = np.sign(x) == s
            if not right.all():
                break
            excess, g, _ = _kkt_violation(Q, q, w, l1, l2, usable, thr, sd, Qw)
            if excess <= 0.0:
                return w, Qw, steps, True
            r = g[idx] - l1 * s  # rounding left in the solve: one refinement step
            if refine == 2 or not r.size or float(np.max(np.abs(r))) <= thr:
                break
            x = x + fac.solve(r)
        g = q - Qw - l2 * w
        z = g + den * w
        nxt = usable & (np.abs(z) > l1)
        sign = np.where(nxt, np.sign(z), 0.0)
        # the factor's order first (cheap to keep), then the entering ones, strongest first
        stay = idx[nxt[idx]]
        fresh = nxt.copy()
        fresh[idx] = False
        enter = np.flatnonzero(fresh)
        enter = enter[np.argsort(-np.abs(z[enter]), kind="stable")]
        A = np.concatenate([stay, enter])
        if A.size == 0:
            break
    return w, Qw, steps, False


def _enet_cd(  # noqa: C901 - the solver loop, kept in one piece for speed
    Q: FloatArray,
    q: FloatArray,
    yy: float,
    l1: float,
    l2: float,
    w_init: FloatArray,
    tol: float,
    max_iter: int,
    screen: NDArray[np.intp] | None = None,
    state: _PathState | None = None,
) -> tuple[FloatArray, float, int, bool]:
    """Exact elastic net on a Gram matrix: active-set solves + working-set coordinate descent.

    Minimizes ``0.5 w'Qw - q'w + l1 |w|_1 + l2/2 |w|^2``. **Stopping rule**: ``w`` is
    accepted when every optimality (KKT) condition holds to ``tol * (l1 + l2)`` (that is
    ``tol * alpha``), beyond the rounding level of the gradient (see :func:`_kkt_violation`).

    From a warm start (a path's previous alpha), exact active-set steps come first
    (:func:`_active_set_steps`: the previous support and signs with the new penalty, then
    the supports the optimality conditions point to), each one linear solve from a Cholesky
    factor of the active set that is updated, not recomputed, as features enter and leave
    (:class:`_ActiveCholesky`; ``state`` carries it along the path).

    Otherwise (a cold start, or when those steps do not settle), coordinate descent runs
    on a working set (glmnet's active sets): the current support, the coordinates in
    ``screen`` (e.g. a sequential strong-rule set from the path) and every coordinate found
    to violate the KKT conditions at a check; each check is one ``O(p |support|)`` product,
    a sweep costs ``O(|working set|^2)``. Whenever coordinate descent has settled on a
    support, the exact solution with that support and those signs is obtained from one
    linear solve (the *polish*) and accepted when it passes the same test, so an accepted
    solution is the minimizer to rounding whenever the support is right, not just a point
    near it. When the sweeps crawl (ill-conditioned Gram), feature-sign steps take over.

    Returns ``(w, gap, n_iter, converged)``; ``n_iter`` counts sweeps and active-set steps,
    ``gap`` is the duality gap at ``w`` (scikit-learn's ``gap_enet_gram``, for the report).
    """
    p = q.size
    w = np.array(w_init, dtype=np.float64)
    diag = np.diag(Q).copy()
    usable = diag > 0.0
    w[~usable] = 0.0
    if state is None:
        state = _PathState()
    if p == 0:
        state.Qw = np.zeros(0)
        return w, 0.0, 0, True
    if state.fac is None or state.fac.Q is not Q or state.fac.l2 != l2:
        state.fac = _ActiveCholesky(Q, l2)
    fac = state.fac
    thr = tol * (l1 + l2)
    sd = np.sqrt(np.maximum(diag, 0.0))
    n_iter = 0
    tried: set[bytes] = set()

    def finish(v: FloatArray, Qv: FloatArray, ok: bool) -> tuple[FloatArray, float, int, bool]:
        state.Qw = Qv
        return v, _gap(Q, q, yy, v, Qv, l1, l2), n_iter, ok

    def polish(v: FloatArray) -> tuple[FloatArray, float, FloatArray, FloatArray] | None:
        support = np.flatnonzero(v)
        if support.size == 0:
            return None
        key = support.tobytes() + np.signbit(v[support]).tobytes()
        if key in tried:
            return None
        tried.add(key)
        cand = np.zeros(p)
        if fac.set_active(support):
            s = np.sign(v[fac.idx])
            x = fac.solve(q[fac.idx] - l1 * s)
            support = fac.idx
        else:
            if support.size > 3000:
                return None
            s = np.sign(v[support])
            A = Q[np.ix_(support, support)]
            A[np.diag_indices_from(A)] += l2
            try:
                x = _spd_solve(A, q[support] - l1 * s)
            except (np.linalg.LinAlgError, ValueError):
                return None
        if not np.all(np.isfinite(x)) or np.any(np.sign(x) != s):
            return None
        cand[support] = x
        excess, g, Qc = _kkt_violation(Q, q, cand, l1, l2, usable, thr, sd)
        return cand, excess, g, Qc

    warm = bool(np.any(w != 0.0))
    if warm:
        # 1. Exact active-set steps from the warm start's support (along a path: the
        #    previous alpha's solution).
        v, Qv, steps, ok = _active_set_steps(
            Q, q, l1, l2, w, fac, usable, thr, sd, min(_PDAS_STEPS, max_iter), tried
        )
        n_iter += steps
        if ok:
            return finish(v, Qv, True)
    excess, g, Qw = _kkt_violation(Q, q, w, l1, l2, usable, thr, sd)
    # (a zero coordinate violating its condition, even within the tolerance, is worked on:
    # just below alpha_max the answer is not all zeros)
    if excess <= 0.0 and not np.any((w == 0.0) & usable & (np.abs(g) > l1)):
        return finish(w, Qw, True)
    # 2. Working set: support, screened coordinates, violators.
    in_ws = (w != 0.0) | ((np.abs(g) > l1) & usable)
    if screen is not None:
        in_ws[screen] = True
    in_ws &= usable
    inner_tol = 1e-4
    stall = 0
    while n_iter < max_iter:
        ws = np.flatnonzero(in_ws)
        if ws.size == 0:
            break
        QA = np.ascontiguousarray(Q[np.ix_(ws, ws)])
        rows = list(QA)
        qs = q[ws].tolist()
        dg = diag[ws].tolist()
        den = [d + l2 for d in dg]
        wA = w[ws].copy()
        QwA = QA @ wA
        full = range(ws.size)
        idx: Sequence[int] = full
        last_key = b""
        same = 0
        while n_iter < max_iter:
            d_max = 0.0
            w_max = 0.0
            for j in idx:
                wj = float(wA[j])
                tmp = qs[j] - float(QwA[j]) + wj * dg[j]
                if tmp > l1:
                    new = (tmp - l1) / den[j]
                elif tmp < -l1:
                    new = (tmp + l1) / den[j]
                else:
                    new = 0.0
                if new != wj:
                    np.add(QwA, (new - wj) * rows[j], out=QwA)
                    wA[j] = new
                    d = abs(new - wj)
                    if d > d_max:
                        d_max = d
                a = abs(new)
                if a > w_max:
                    w_max = a
            n_iter += 1
            if idx is not full:
                # glmnet's inner loop: the non-zero coordinates until they settle, then a
                # sweep over the whole working set again
                if w_max == 0.0 or d_max <= inner_tol * w_max:
                    idx = full
                continue
            if w_max == 0.0 or d_max <= inner_tol * w_max:
                break
            nz = np.flatnonzero(wA)
            if 2 * nz.size < ws.size:
                idx = nz.tolist()
            # A sign pattern that survived a whole sweep is worth one exact solve.
            key = np.signbit(wA).tobytes() + (wA == 0.0).tobytes()
            same = same + 1 if key == last_key else 0
            if same == _POLISH_AFTER:
                w[:] = 0.0
                w[ws] = wA
                res = polish(w)
                if res is not None and res[1] <= 0.0:
                    return finish(res[0], res[3], True)
            last_key = key
            stall += 1
            if stall >= _CD_STALL_SWEEPS:
                break
        w[:] = 0.0
        w[ws] = wA
        excess, g, Qw = _kkt_violation(Q, q, w, l1, l2, usable, thr, sd)
        new_viol = (w == 0.0) & usable & ~in_ws & (np.abs(g) > l1)
        if new_viol.any():
            in_ws |= new_viol
            continue
        res = polish(w)
        if res is not None and res[1] <= 0.0:
            return finish(res[0], res[3], True)
        if excess <= 0.0:
            return finish(w, Qw, True)
        inner_tol = max(inner_tol * 0.01, 1e-15)
        if stall >= _CD_STALL_SWEEPS and n_iter < max_iter:
            # Coordinate descent crawls (ill-conditioned Gram): feature-sign steps.
            def done(v: FloatArray) -> bool:
                return _kkt_violation(Q, q, v, l1, l2, usable, thr, sd)[0] <= 0.0

            w, steps, ok = _active_set_newton(Q, q, l1, l2, w, done, max_iter - n_iter, usable)
            n_iter += steps
            stall = 0
            res = polish(w)
            if res is not None and res[1] <= 0.0:
                return finish(res[0], res[3], True)
            if ok:
                return finish(w, Q @ w, True)
            in_ws |= (w != 0.0)
    excess, g, Qw = _kkt_violation(Q, q, w, l1, l2, usable, thr, sd)
    return finish(w, Qw, excess <= 0.0)


_CD_STALL_SWEEPS = 30
# Sweeps a sign pattern must survive before the exact solve on it is tried.
_POLISH_AFTER = 2


def _subproblem_objective(
    QB: FloatArray, qB: FloatArray, v: FloatArray, l1: float, l2: float
) -> float:
    return float(
        0.5 * v @ (QB @ v) - qB @ v + l1 * np.sum(np.abs(v)) + 0.5 * l2 * float(v @ v)
    )


def _active_set_newton(
    Q: FloatArray,
    q: FloatArray,
    l1: float,
    l2: float,
    w_init: FloatArray,
    done: Callable[[FloatArray], bool],
    max_steps: int,
    usable: NDArray[np.bool_],
) -> tuple[FloatArray, int, bool]:
    """Feature-sign search (Lee et al., 2007) for the elastic net on a Gram matrix.

    Each step fixes the signs on the support plus the strongest KKT violators, solves
    the resulting quadratic exactly and moves along the segment to the best of its
    sign-change points (a descent step), dropping coordinates that reach zero. Used
    when coordinate descent stalls on ill-conditioned problems; returns
    ``(w, n_steps, converged)`` (``done(w)`` is the stopping rule) and never increases the
    objective.
    """
    w = np.array(w_init, dtype=np.float64)
    steps = 0
    while steps < max_steps:
        Qw = Q @ w
        if done(w):
            return w, steps, True
        steps += 1
        g = q - Qw - l2 * w
        support = np.flatnonzero(w)
        inactive = np.flatnonzero((w == 0.0) & usable)
        excess = np.abs(g[inactive]) - l1
        viol = inactive[excess > 0]
        if viol.size:
            order = np.argsort(-(np.abs(g[viol])))
            viol = viol[order[: max(1, min(viol.size, 10, support.size // 4 + 1))]]
        theta = np.zeros(q.size)
        theta[support] = np.sign(w[support])
        theta[viol] = np.sign(g[viol])
        B = np.concatenate([support, viol])
        x = np.zeros(0)
        for _ in range(viol.size + 1):
            QB = Q[np.ix_(B, B)]
            rhs = q[B] - l1 * theta[B]
            A = QB + l2 * np.eye(B.size)
            try:
                x = _spd_solve(A, rhs)
                if not np.all(np.isfinite(x)):
                    raise np.linalg.LinAlgError
            except (np.linalg.LinAlgError, ValueError):
                x = np.linalg.lstsq(A, rhs, rcond=None)[0]
            # new coordinates must move in the direction of their violation
            is_new = w[B] == 0.0
            bad = is_new & (np.sign(x) != theta[B])
            if not bad.any():
                break
            B = B[~bad]
        if B.size == 0:
            return w, steps, False
        QB = Q[np.ix_(B, B)]
        qB = q[B]
        v0 = w[B]
        d = x - v0
        f0 = _subproblem_objective(QB, qB, v0, l1, l2)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_cross = np.where((v0 != 0.0) & (np.sign(x) != np.sign(v0)), v0 / (v0 - x), np.inf)
        cands = np.unique(t_cross[(t_cross > 0) & (t_cross < 1)])[:20]
        best_v = v0
        best_f = f0
        for t in [*cands.tolist(), 1.0]:
            v = v0 + t * d
            if t < 1.0:
                v[np.isclose(t_cross, t, rtol=1e-12, atol=0.0)] = 0.0
            f = _subproblem_objective(QB, qB, v, l1, l2)
            if f < best_f:
                best_f, best_v = f, v
        if not best_f < f0 - 1e-15 * max(abs(f0), 1e-300):
            return w, steps, False
        w[B] = best_v
    return w, steps, done(w)


# ---------------------------------------------------------------------------- public API
def _effective(penalty: str, alpha: float, l1_ratio: float) -> tuple[float, float]:
    if penalty == "none":
        return 0.0, float(l1_ratio)
    if penalty == "l1":
        return float(alpha), 1.0
    if penalty == "l2":
        return float(alpha), 0.0
    return float(alpha), float(l1_ratio)


def _solve(
    prob: _Problem,
    penalty: str,
    alpha: float,
    l1_ratio: float,
    tol: float,
    max_iter: int,
    gamma_init: FloatArray | None,
    screen: NDArray[np.intp] | None = None,
    state: _PathState | None = None,
) -> tuple[FloatArray, bool, float, int]:
    """Solve on the reduced, scaled problem; returns (gamma, converged, gap, n_iter)."""
    Q, q, yy = prob.Q, prob.q, prob.yy
    k = q.size
    if k == 0:
        return np.zeros(0), True, 0.0, 0
    if penalty == "none" or alpha == 0.0:
        g = _min_norm_lstsq(Q, q)
        return g, True, _gap(Q, q, yy, g, Q @ g, 0.0, 0.0), 0
    if penalty == "l2":
        lam = alpha / prob.sum_w  # Ridge's sum-scale alpha on the 1/W scale
        g = _ridge_solve(Q, q, lam)
        return g, True, _gap(Q, q, yy, g, Q @ g, 0.0, lam), 0
    l1 = alpha * l1_ratio
    l2 = alpha * (1.0 - l1_ratio)
    if l1 == 0.0:
        g = _ridge_solve(Q, q, l2)
        return g, True, _gap(Q, q, yy, g, Q @ g, 0.0, l2), 0
    w0 = np.zeros(k) if gamma_init is None else gamma_init
    g, gap, n_iter, conv = _enet_cd(Q, q, yy, l1, l2, w0, tol, max_iter, screen, state)
    return g, conv, gap, n_iter


def fit(
    stats: GramStats,
    *,
    penalty: str,
    alpha: float = 1.0,
    l1_ratio: float = 0.5,
    fit_intercept: bool = True,
    standardize: bool = False,
    tol: float = 1e-6,
    max_iter: int = 1000,
    coef_init: FloatArray | None = None,
) -> FitResult:
    """Fit a (penalized) linear regression from sufficient statistics.

    See the module docstring for the objectives. ``tol`` and ``max_iter`` only matter
    for ``l1``/``elasticnet`` (stopping rule: every KKT condition holds to ``tol * alpha``,
    and an exact solve on the active set; see :func:`_enet_cd`). ``coef_init`` (original
    scale) warm-starts coordinate descent.
    """
    validate_params(penalty=penalty, alpha=alpha, l1_ratio=l1_ratio, tol=tol, max_iter=max_iter)
    a, r = _effective(penalty, alpha, l1_ratio)
    prob = _prepare(stats, fit_intercept=fit_intercept, standardize=standardize)
    g0: FloatArray | None = None
    if coef_init is not None:
        ci = np.asarray(coef_init, dtype=np.float64).reshape(-1)
        if ci.size != prob.p:
            raise ValueError(f"coef_init has {ci.size} entries, expected {prob.p}")
        g0 = ci[prob.keep] * prob.scale
    g, conv, gap, n_iter = _solve(prob, penalty, a, r, float(tol), int(max_iter), g0)
    coef, intercept = prob.to_original(g)
    return FitResult(coef, intercept, a, r, penalty, conv, float(gap), n_iter)


def fit_path(
    stats: GramStats,
    alphas: Sequence[float] | FloatArray,
    *,
    penalty: str,
    l1_ratio: float = 0.5,
    fit_intercept: bool = True,
    standardize: bool = False,
    tol: float = 1e-6,
    max_iter: int = 1000,
) -> list[FitResult]:
    """Fit one model per alpha, warm-starting along decreasing alphas.

    Results are returned in the order of ``alphas``. For ``l2`` all alphas share one
    eigendecomposition of the Gram matrix.
    """
    alist = [float(a) for a in np.asarray(alphas, dtype=np.float64).reshape(-1)]
    for a in alist:
        validate_params(penalty=penalty, alpha=a, l1_ratio=l1_ratio, tol=tol, max_iter=max_iter)
    if not alist:
        return []
    prob = _prepare(stats, fit_intercept=fit_intercept, standardize=standardize)
    order = sorted(range(len(alist)), key=lambda i: -alist[i])
    out: list[FitResult | None] = [None] * len(alist)
    k = prob.q.size
    if penalty == "l2" and k > 0:
        evals, evecs = np.linalg.eigh(prob.Q)
        evals = np.maximum(evals, 0.0)
        proj = evecs.T @ prob.q
        for i in order:
            a = alist[i]
            if a == 0.0:
                g = _min_norm_lstsq(prob.Q, prob.q)
                lam = 0.0
            else:
                lam = a / prob.sum_w
                g = evecs @ (proj / (evals + lam))
            gap = _gap(prob.Q, prob.q, prob.yy, g, prob.Q @ g, 0.0, lam)
            coef, intercept = prob.to_original(g)
            out[i] = FitResult(coef, intercept, a, 0.0, penalty, True, float(gap), 0)
        return [r for r in out if r is not None]
    g_prev: FloatArray | None = None
    l1_prev = 0.0
    state = _PathState()  # the active-set factor and Q @ g_prev, along the path
    for i in order:
        a, r = _effective(penalty, alist[i], l1_ratio)
        screen = None
        if g_prev is not None and penalty in ("l1", "elasticnet"):
            # sequential strong rule (Tibshirani et al., 2012): coordinates likely to enter
            l1_new, l2_new = a * r, a * (1.0 - r)
            Qg = state.Qw if state.Qw is not None else _gram_times(prob.Q, g_prev)
            grad = prob.q - Qg - l2_new * g_prev
            screen = np.flatnonzero(np.abs(grad) >= 2.0 * l1_new - l1_prev)
        state.Qw = None
        g, conv, gap, n_iter = _solve(
            prob, penalty, a, r, float(tol), int(max_iter), g_prev, screen, state
        )
        if penalty in ("l1", "elasticnet") and a > 0.0:
            g_prev = g
            l1_prev = a * r
        coef, intercept = prob.to_original(g)
        out[i] = FitResult(coef, intercept, a, r, penalty, conv, float(gap), n_iter)
    return [r for r in out if r is not None]


def _hkb_alpha(prob: _Problem, n_rows: int, rank: int, fit_intercept: bool) -> float | None:
    """Hoerl, Kennard & Baldwin's (1975) ridge estimate ``r s^2 / |b_ols|^2`` on Ridge's scale.

    ``s^2 = RSS / (n - r - 1)`` from the least-squares fit; ``None`` when it is undefined
    (no residual degrees of freedom, or a zero fit).
    """
    dof = n_rows - rank - (1 if fit_intercept else 0)
    if dof <= 0:
        return None
    b = _min_norm_lstsq(prob.Q, prob.q)
    rss = max(prob.yy - float(prob.q @ b), 0.0) * prob.sum_w
    bb = float(b @ b)
    if not (bb > 0.0 and rss > 0.0):
        return None
    return rank * (rss / dof) / bb


def alpha_grid(
    stats: GramStats,
    *,
    penalty: str,
    l1_ratio: float = 0.5,
    n_alphas: int = 100,
    eps: float = 1e-3,
    fit_intercept: bool = True,
    standardize: bool = False,
) -> FloatArray:
    """Decreasing, log-spaced grid of ``n_alphas`` alphas.

    For ``l1``/``elasticnet`` this is scikit-learn's ``_alpha_grid``, from

    .. math::

        \\alpha_{max} = \\frac{\\max_j |x_{c,j}^T W y_c|}{W \\rho}

    (the smallest alpha with an all-zero solution; ``rho = 1`` for ``l1``) down to
    ``eps * alpha_max``. If ``alpha_max`` is below float64 resolution every entry is
    ``1e-15``.

    For ``l2`` the grid follows the spectrum ``d_1 >= ... >= d_r > 0`` of the centered
    weighted Gram matrix ``C = sum_i w_i x_c,i x_c,i^T`` (standardized with
    ``standardize=True``), through the effective degrees of freedom
    ``df(alpha) = sum_i d_i / (d_i + alpha)``: from ``alpha_max = d_1 / eps`` (``df < r eps``,
    almost every coefficient shrunk to 0) down to ``alpha_min = eps * d_r`` (``df > r / (1 +
    eps)``, almost the least-squares fit), where ``d_r`` is the smallest eigenvalue above
    ``1e-10 d_1`` (the numerical rank) or, when smaller, Hoerl, Kennard & Baldwin's estimate
    ``r s^2 / |b_ols|^2`` of a good ridge penalty (``s^2`` the residual variance of least
    squares): with much data the cross-validated optimum lies far below ``d_r``, and the grid
    then still brackets it.

    For ``elasticnet`` with ``l1_ratio < 0.1`` (mostly ridge), the lasso grid's lower end
    ``eps * alpha_max`` is extended down to ``eps * d_r / (W (1 - rho))`` when that is smaller,
    so that the grid also reaches the nearly unshrunk fits.
    """
    validate_params(penalty=penalty, l1_ratio=l1_ratio)
    if penalty == "none":
        raise ValueError("an alpha grid is meaningless for penalty 'none'")
    if isinstance(n_alphas, bool) or int(n_alphas) != n_alphas or n_alphas < 1:
        raise ValueError(f"n_alphas must be an integer >= 1, got {n_alphas!r}")
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a number > 0, got {eps!r}")
    n_alphas = int(n_alphas)
    prob = _prepare(stats, fit_intercept=fit_intercept, standardize=standardize)
    W = prob.sum_w
    res = float(np.finfo(np.float64).resolution)
    rho = 1.0 if penalty == "l1" else float(l1_ratio)
    spectrum = None
    if penalty == "l2" or (penalty == "elasticnet" and rho < _SMALL_L1_RATIO):
        evals = np.linalg.eigvalsh(prob.Q) * W if prob.q.size else np.zeros(0)
        top = float(evals[-1]) if evals.size else 0.0
        if top > 0.0:
            rank_evals = evals[evals > 1e-10 * top]
            low = float(np.min(rank_evals))
            hkb = _hkb_alpha(prob, stats.n_rows, rank_evals.size, fit_intercept)
            if hkb is not None:
                low = min(low, hkb)
            spectrum = (top, low)
    if penalty == "l2":
        if spectrum is None:
            return np.full(n_alphas, res)
        return np.geomspace(spectrum[0] / eps, spectrum[1] * eps, num=n_alphas)
    xy = prob.q * W  # sum_i w_i x_ij y_i (centered when fitting an intercept)
    xy_max = float(np.max(np.abs(xy))) if xy.size else 0.0
    alpha_max = xy_max / (W * (rho if rho > 0 else _RIDGE_GRID_L1_RATIO))
    if alpha_max <= res:
        return np.full(n_alphas, res)
    alpha_min = alpha_max * eps
    if spectrum is not None:
        alpha_min = min(alpha_min, eps * spectrum[1] / (W * (1.0 - rho)))
    return np.geomspace(alpha_max, alpha_min, num=n_alphas)
