"""Per-column scalers with mergeable statistics, as scikit-learn's MinMaxScaler, StandardScaler and
MaxAbsScaler compute them.

Statistics are accumulated chunk by chunk in a centered form and merged with Chan et al.'s update::

    n = n_a + n_b,  d = mean_b - mean_a
    mean = mean_a + d * n_b / n
    M2   = M2_a + M2_b + d**2 * n_a * n_b / n

never as E[x**2] - E[x]**2. Each column is held divided by a power of two at least as large as its
largest |value| (exact in binary floating point), so that neither the mean nor M2 can overflow, and
results equal the unscaled arithmetic on ordinary data.

Transforms (x a present value, missing cells stay missing):

* ``minmax`` (range [a, b]): ``s = (b - a) / (max - min)`` (1 for a constant column),
  ``x * s + (a - min * s)``; with ``clip``, the result is clipped to [a, b].
* ``zscore``: ``(x - mean) / std`` with the population standard deviation (1 for a constant column,
  so a constant column gives 0).
* ``maxabs``: ``x / max|x|`` (1 for an all-zero column).

An infinite cell is left out of the statistics and stays ``±inf`` under ``minmax`` and ``zscore``
(``a`` or ``b`` with ``clip``), also in a column with no finite cell (no statistics), where a
finite value (from other data, ``--params``) gives what a constant column's own value gives:
``a``, or 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import __version__, sidefiles
from .errors import DataError


def _pow2_at_least(x: np.ndarray) -> np.ndarray:
    """The smallest power of two >= x, at most 2**1023 (0 where x is 0).

    2**1024 is not a float64; for |x| above 2**1023, x / 2**1023 < 2, which is as safe.
    """
    mant, exp = np.frexp(x)
    out = np.ldexp(1.0, np.minimum(exp, 1023))
    exact = (mant == 0.5) & (exp <= 1023)
    out[exact] = x[exact]
    out[x == 0] = 0.0
    return out


def _safe(scale: np.ndarray) -> np.ndarray:
    """The divisor for a scale: 1 where the scale is 0 (no present value, or all zero)."""
    return np.where(scale > 0, scale, 1.0)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``s + e == a + b`` exactly, ``s = fl(a + b)`` (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _fast_two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(s, e)`` with ``s = fl(a + b)``, ``e`` its error (exact when ``|a| >= |b|``)."""
    s = a + b
    return s, b - (s - a)


@dataclass
class ColumnStats:
    """Mergeable statistics of k columns (missing values left out)."""

    count: np.ndarray
    scale: np.ndarray  # power of two >= max |x| (capped at 2**1023; 0 if all zero or none)
    mean_s: np.ndarray  # mean of x / scale
    m2_s: np.ndarray  # sum of (x / scale - mean_s) ** 2
    min: np.ndarray
    max: np.ndarray
    # the rounding error of mean_s (mean = (mean_s + mean_lo) * scale, a double-double), so
    # that a column constant up to its last digits is centred on its exact mean
    mean_lo: np.ndarray | None = None
    # infinite cells: left out of every statistic above, counted here
    n_inf: np.ndarray | None = None

    def __post_init__(self) -> None:
        k = self.count.shape[0]
        if self.mean_lo is None:
            self.mean_lo = np.zeros(k)
        if self.n_inf is None:
            self.n_inf = np.zeros(k, dtype=np.int64)

    @property
    def lo(self) -> np.ndarray:
        assert self.mean_lo is not None
        return self.mean_lo

    @property
    def infinite(self) -> np.ndarray:
        assert self.n_inf is not None
        return self.n_inf

    @classmethod
    def empty(cls, k: int) -> ColumnStats:
        return cls(
            count=np.zeros(k, dtype=np.int64),
            scale=np.zeros(k),
            mean_s=np.zeros(k),
            m2_s=np.zeros(k),
            min=np.full(k, np.inf),
            max=np.full(k, -np.inf),
        )

    @classmethod
    def of(cls, X: np.ndarray) -> ColumnStats:
        k = X.shape[1]
        n_inf = np.isinf(X).sum(axis=0)
        present = np.isfinite(X)
        count = present.sum(axis=0)
        if X.shape[0] == 0:
            return cls.empty(k)
        with np.errstate(invalid="ignore"):
            lo = np.where(count > 0, np.nanmin(np.where(present, X, np.inf), axis=0), np.inf)
            hi = np.where(count > 0, np.nanmax(np.where(present, X, -np.inf), axis=0), -np.inf)
        big = np.maximum(np.abs(np.where(count > 0, lo, 0)), np.abs(np.where(count > 0, hi, 0)))
        scale = _pow2_at_least(big)
        S = X / _safe(scale)[None, :]
        S0 = np.where(present, S, 0.0)
        safe_n = np.maximum(count, 1)
        mean_s = S0.sum(axis=0) / safe_n
        D = np.where(present, S - mean_s[None, :], 0.0)
        # second pass: the mean of the deviations is the first mean's rounding error
        mean_lo = D.sum(axis=0) / safe_n
        D = np.where(present, D - mean_lo[None, :], 0.0)
        m2_s = np.einsum("ij,ij->j", D, D)
        mean_s, mean_lo = _fast_two_sum(mean_s, mean_lo)
        return cls(count, scale, mean_s, m2_s, lo, hi, mean_lo, n_inf)

    def merge(self, other: ColumnStats) -> ColumnStats:
        # An empty or all-zero side has scale 0 and must not force its scale on the other side
        # (a scale of 1 would underflow the M2 of a column of values near 1e-300).
        scale = np.maximum(self.scale, other.scale)
        fa, fb = self.scale / _safe(scale), other.scale / _safe(scale)  # powers of two: exact
        ma, mb = self.mean_s * fa, other.mean_s * fb
        la, lb = self.lo * fa, other.lo * fb
        m2a, m2b = self.m2_s * fa**2, other.m2_s * fb**2
        n = self.count + other.count
        safe_n = np.maximum(n, 1)
        f = other.count / safe_n
        d_hi, d_lo = mb - ma, lb - la
        d = d_hi + d_lo
        hi, err = _two_sum(ma, d_hi * f)
        mean, mean_lo = _fast_two_sum(hi, (la + d_lo * f) + err)
        m2 = m2a + m2b + d**2 * (self.count * other.count / safe_n)
        return ColumnStats(
            n, scale, mean, m2, np.minimum(self.min, other.min), np.maximum(self.max, other.max),
            mean_lo, self.infinite + other.infinite,
        )

    def update(self, X: np.ndarray) -> None:
        merged = self.merge(ColumnStats.of(X))
        self.__dict__.update(merged.__dict__)

    # -- derived -------------------------------------------------------------------------------
    @property
    def mean(self) -> np.ndarray:
        return (self.mean_s + self.lo) * self.scale

    @property
    def std_s(self) -> np.ndarray:
        """Population standard deviation of x / scale."""
        return np.sqrt(self.m2_s / np.maximum(self.count, 1))

    @property
    def std(self) -> np.ndarray:
        with np.errstate(over="ignore"):
            return self.std_s * self.scale

    @property
    def max_abs(self) -> np.ndarray:
        lo = np.where(self.count > 0, np.abs(self.min), 0.0)
        hi = np.where(self.count > 0, np.abs(self.max), 0.0)
        return np.maximum(lo, hi)


@dataclass
class Scaler:
    """A fitted per-column scaler."""

    kind: str
    columns: list[str]
    stats: ColumnStats
    feature_range: tuple[float, float] = (0.0, 1.0)
    clip: bool = False

    def transform(self, X: np.ndarray) -> np.ndarray:
        st = self.stats
        if self.kind == "maxabs":
            m = np.where(st.infinite > 0, np.inf, st.max_abs)
            with np.errstate(invalid="ignore"):
                out = X / np.where(m > 0, m, 1.0)[None, :]
            # an infinite cell dominates its column (the max norm): finite cells 0, it ±1
            inf = np.isinf(X)
            out[inf] = np.sign(X[inf])
            return out
        if self.kind == "zscore":
            constant = (st.min == st.max) | (st.count == 0) | (st.std_s == 0)
            std_s = np.where(constant, 1.0, st.std_s)
            S = X / _safe(st.scale)[None, :]
            out = ((S - st.mean_s[None, :]) - st.lo[None, :]) / std_s[None, :]
            if constant.any():
                out[:, constant] = np.where(np.isnan(X[:, constant]), np.nan, 0.0)
            # A constant column c: as StandardScaler (scale 1), x - c; exactly 0 on the fitted
            # data, and the offset from c on other data (--params).
            const = (st.count > 0) & (st.min == st.max)
            if const.any():
                out[:, const] = X[:, const] - st.min[const][None, :]
            # an infinite cell lies beyond every finite value, also in a column with no finite
            # cell (no statistics: treated as constant above, where it would become 0)
            inf = np.isinf(X)
            out[inf] = np.sign(X[inf]) * np.inf
            return out
        if self.kind == "minmax":
            a, b = self.feature_range
            lo_s = np.where(st.count > 0, st.min, 0.0) / _safe(st.scale)
            hi_s = np.where(st.count > 0, st.max, 0.0) / _safe(st.scale)
            data_range = hi_s - lo_s
            safe_range = np.where(data_range > 0, data_range, 1.0)
            S = X / _safe(st.scale)[None, :]
            with np.errstate(over="ignore", invalid="ignore"):
                s = (b - a) / safe_range
                offset = a - lo_s * s
                out = S * s[None, :] + offset[None, :]
            # A constant column c: as MinMaxScaler, (x - c) * (b - a) + a (a range of 1 in the
            # data's own units, not in the scaled ones); on the fitted data that is exactly a.
            const = (st.count > 0) & (st.min == st.max)
            t = np.where(const[None, :], X - np.where(const, st.min, 0.0)[None, :],
                         (S - lo_s[None, :]) / safe_range[None, :])
            with np.errstate(over="ignore", invalid="ignore"):
                if const.any():
                    out[:, const] = t[:, const] * (b - a) + a
                # A range too wide for b - a (--range=-1e308,1e308): the same map as
                # a * (1 - t) + b * t, which cannot overflow for t in [0, 1].
                wide = ~np.isfinite(s) | ~np.isfinite(offset) | (const & (not math.isfinite(b - a)))
                if wide.any():
                    tw = t[:, wide]
                    out[:, wide] = a * (1.0 - tw) + b * tw
                    out[:, wide] = np.where(tw == 0, a, np.where(tw == 1, b, out[:, wide]))
            # A column with no finite cell (no statistics): a finite value (--params on other
            # data) maps as a constant column's own value does, to a (zscore gives 0).
            none = st.count == 0
            if none.any():
                out[:, none] = np.where(np.isnan(X[:, none]), np.nan, a)
            inf = np.isinf(X)
            out[inf] = np.sign(X[inf]) * np.inf  # beyond every finite value (clipped below)
            if self.clip:
                np.clip(out, a, b, out=out)
            return out
        raise ValueError(f"unknown scaler {self.kind!r}")

    # -- parameters as JSON --------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        st = self.stats
        cols = {}
        for j, name in enumerate(self.columns):
            cols[name] = {
                "count": int(st.count[j]),
                "mean": float(st.mean[j]),
                "std": float(st.std[j]),
                "min": float(st.min[j]) if st.count[j] else None,
                "max": float(st.max[j]) if st.count[j] else None,
                "max_abs": float(st.max_abs[j]),
                "scale": float(st.scale[j]),
                "mean_scaled": float(st.mean_s[j]),
                "m2_scaled": float(st.m2_s[j]),
                "mean_scaled_lo": float(st.lo[j]),
                "infinite": int(st.infinite[j]),
            }
        out: dict[str, Any] = {"normcli": __version__, "kind": self.kind, "columns": cols}
        if self.kind == "minmax":
            out["range"] = list(self.feature_range)
            out["clip"] = self.clip
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], columns: Sequence[str], source: str) -> Scaler:
        try:
            kind = data["kind"]
            saved = data["columns"]
            k = len(columns)
            st = ColumnStats.empty(k)
            for j, name in enumerate(columns):
                if name not in saved:
                    raise DataError(f"no statistics for column {name!r}", source=source)
                c = saved[name]
                st.count[j] = int(c["count"])
                st.scale[j] = float(c["scale"])
                st.mean_s[j] = float(c["mean_scaled"])
                st.m2_s[j] = float(c["m2_scaled"])
                st.lo[j] = float(c.get("mean_scaled_lo", 0.0))
                st.infinite[j] = int(c.get("infinite", 0))
                st.min[j] = np.inf if c["min"] is None else float(c["min"])
                st.max[j] = -np.inf if c["max"] is None else float(c["max"])
                if c["min"] is not None and c["max"] is not None and st.min[j] > st.max[j]:
                    raise DataError(f"not a normcli parameters file: column {name!r} has min "
                                    f"{c['min']!r} > max {c['max']!r}", source=source)
            rng = data.get("range", [0.0, 1.0])
            low, high = float(rng[0]), float(rng[1])
            if kind == "minmax" and not low < high:  # as --range (and scikit-learn) require
                raise DataError(f"not a normcli parameters file: its range needs MIN < MAX "
                                f"(got {rng[0]!r},{rng[1]!r})", source=source)
            return cls(kind, list(columns), st, (low, high), bool(data.get("clip", False)))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DataError(f"not a normcli parameters file ({exc})", source=source) from exc


def load_params(path: str) -> dict[str, Any]:
    data: dict[str, Any] = sidefiles.load(path, sidefiles.PARAMS_SCHEMA,
                                          "normcli parameters file")
    return data
