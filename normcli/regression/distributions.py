"""Student t and F tail probabilities and the t quantile, without scipy.

Both reduce to the regularized incomplete beta function

.. math::

    I_x(a, b) = \\frac{1}{B(a, b)} \\int_0^x t^{a-1} (1-t)^{b-1} \\, dt,

    P(|T_\\nu| > t) = I_{\\nu/(\\nu+t^2)}(\\nu/2, 1/2), \\qquad
    P(F_{d_1,d_2} > f) = I_{d_2/(d_2+d_1 f)}(d_2/2, d_1/2).

:func:`betainc_pair` evaluates the continued fraction of Numerical Recipes (``betacf``, by the
modified Lentz method) on whichever side of the mean it converges fast, and returns both
``I_x(a, b)`` and ``1 - I_x(a, b)`` so that a small upper tail is never ``1 - (1 - tiny)``.
``x`` and ``y = 1 - x`` are passed separately (computed each without cancellation by the
caller), and the prefactor ``x^a y^b / B(a, b)`` is formed from Stirling-series differences
when ``a`` or ``b`` is large, so that ``lgamma`` of large degrees of freedom (values near
``1e8`` with absolute errors near ``1e-8``) never enters: the p-values keep about 1e-13
relative accuracy for any degrees of freedom. Tested against scipy over a grid in
``tests/test_distributions.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["betainc_pair", "f_sf", "t_ppf", "t_sf2"]

FloatArray = NDArray[np.float64]

_EPS = 1e-16
_TINY = 1e-300
_MAX_ITER = 1_000_000
_STIRLING_MIN = 10.0
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _stirling_delta(x: float) -> float:
    """``lgamma(x) - ((x - 1/2) ln x - x + ln(2 pi)/2)`` for ``x >= 10`` (error < 1e-16)."""
    x2 = x * x
    return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - 1.0 / (1188.0 * x2))
                                         / x2) / x2) / x2) / x


def _log_front(a: float, b: float, x: float, y: float) -> float:
    """``log(x^a y^b / B(a, b))`` without large cancelling terms."""
    small, large = (a, b) if a <= b else (b, a)
    if large < _STIRLING_MIN:
        lbeta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
        return a * _log(x, y) + b * _log(y, x) - lbeta
    if small >= _STIRLING_MIN:
        # Both large: log(x^a y^b / B) = a log(x (a+b)/a) + b log(y (a+b)/b)
        #   + log(ab/(a+b))/2 - log(2 pi)/2 - delta(a) - delta(b) + delta(a+b).
        u = (x * b - y * a) / a  # x (a+b)/a - 1, from the exact inputs
        v = (y * a - x * b) / b  # y (a+b)/b - 1
        # log1p near 0; far from it (near -1 it would cancel) the logs of the parts.
        lu = math.log1p(u) if abs(u) < 0.5 else _log(x, y) + math.log1p(b / a)
        lv = math.log1p(v) if abs(v) < 0.5 else _log(y, x) + math.log1p(a / b)
        return (a * lu + b * lv
                + 0.5 * math.log(a * b / (a + b)) - _HALF_LOG_2PI
                - _stirling_delta(a) - _stirling_delta(b) + _stirling_delta(a + b))
    # One large: lgamma(L) - lgamma(L + s) by Stirling, lgamma(s) directly.
    s = small
    big = large
    diff = (-(big - 0.5) * math.log1p(s / big) - s * math.log(big + s) + s
            + _stirling_delta(big) - _stirling_delta(big + s))
    lbeta = math.lgamma(s) + diff
    return a * _log(x, y) + b * _log(y, x) - lbeta


def _log(x: float, y: float) -> float:
    """``log(x)`` where ``y = 1 - x`` is known exactly."""
    return math.log1p(-y) if x > 0.5 else math.log(x)


def _betacf(a: float, b: float, x: float, y: float) -> float:
    """Continued fraction of ``I_x(a, b)`` (Numerical Recipes ``betacf``, modified Lentz).

    ``y = 1 - x``: the first denominator ``1 - (a+b) x / (a+1)`` is formed as
    ``(1 - b + (a+b) y) / (a+1)``, which does not cancel when ``x`` is near ``a / (a+b)``
    and ``a`` is large (a t test with millions of degrees of freedom).
    """
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = (1.0 - b + qab * y) / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_ITER + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) <= _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b})")


def betainc_pair(a: float, b: float, x: float, y: float | None = None) -> tuple[float, float]:
    """``(I_x(a, b), 1 - I_x(a, b))`` for ``a, b > 0`` and ``0 <= x <= 1``.

    ``y`` is ``1 - x``; pass it when it is known more accurately than ``1 - x`` rounds.
    """
    if not (a > 0 and b > 0):
        raise ValueError("a and b must be positive")
    if y is None:
        y = 1.0 - x
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError("x must be in [0, 1]")
    if x == 0.0:
        return 0.0, 1.0
    if y == 0.0:
        return 1.0, 0.0
    front = _log_front(a, b, x, y)
    if x < (a + 1.0) / (a + b + 2.0):
        lower = math.exp(front + math.log(_betacf(a, b, x, y)) - math.log(a))
        return lower, 1.0 - lower
    upper = math.exp(front + math.log(_betacf(b, a, y, x)) - math.log(b))
    return 1.0 - upper, upper


def t_sf2(t: float, df: float) -> float:
    """Two-sided tail ``P(|T| > |t|)`` of Student's t with ``df`` degrees of freedom."""
    if not df > 0:
        raise ValueError("degrees of freedom must be positive")
    if math.isnan(t):
        return math.nan
    t = abs(t)
    if math.isinf(t):
        return 0.0
    t2 = t * t
    den = df + t2
    return betainc_pair(0.5 * df, 0.5, df / den, t2 / den)[0]


def f_sf(f: float, df1: float, df2: float) -> float:
    """Upper tail ``P(F > f)`` of the F distribution with ``(df1, df2)`` degrees of freedom."""
    if not (df1 > 0 and df2 > 0):
        raise ValueError("degrees of freedom must be positive")
    if math.isnan(f):
        return math.nan
    if f <= 0:
        return 1.0
    if math.isinf(f):
        return 0.0
    den = df2 + df1 * f
    return betainc_pair(0.5 * df2, 0.5 * df1, df2 / den, df1 * f / den)[0]


def t_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (``0 < q < 1``)."""
    if not (0.0 < q < 1.0):
        raise ValueError("q must be in (0, 1)")
    if not df > 0:
        raise ValueError("degrees of freedom must be positive")
    if q == 0.5:
        return 0.0
    tail = 2.0 * min(q, 1.0 - q)  # two-sided tail of the positive quantile
    central = abs(2.0 * q - 1.0)  # P(|T| < t): exact for q near 1/2, where tail is near 1
    sign = 1.0 if q > 0.5 else -1.0

    def excess(t: float) -> float:
        """Positive while ``t`` is below the quantile."""
        if tail >= 0.5:
            t2 = t * t
            den = df + t2
            return central - betainc_pair(0.5 * df, 0.5, df / den, t2 / den)[1]
        return t_sf2(t, df) - tail

    # Bracket, then safeguarded Newton with the t density as the derivative.
    lo, hi = 0.0, 1.0
    while excess(hi) > 0:
        lo, hi = hi, hi * 4.0
        if hi > 1e300:
            return sign * math.inf
    log_c = (math.lgamma(0.5 * (df + 1.0)) - math.lgamma(0.5 * df)
             - 0.5 * math.log(df * math.pi))
    t = 0.5 * (lo + hi)
    for _ in range(200):
        g = excess(t)
        if g > 0:
            lo = t
        else:
            hi = t
        if g == 0 or hi - lo <= 4e-16 * hi:
            break
        dens = 2.0 * math.exp(log_c - 0.5 * (df + 1.0) * math.log1p(t * t / df))
        step = t + g / dens if dens > 0 else math.nan
        t = step if lo < step < hi else 0.5 * (lo + hi)
    return sign * t
