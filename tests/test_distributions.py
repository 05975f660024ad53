"""The t and F tails and the t quantile of normcli.regression.distributions, against scipy."""

from __future__ import annotations

import itertools
import math

import pytest
from scipy import special, stats

from normcli.regression.distributions import betainc_pair, f_sf, t_ppf, t_sf2

DFS = [1, 2, 3, 4.5, 7, 10, 19.5, 30, 100, 431, 1000, 1e4, 1e5, 1e6]
T_VALUES = [0.001, 0.1, 0.5, 1.0, 1.96, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 1e4]


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("df", DFS)
def test_t_two_sided_tail_matches_scipy(df: float) -> None:
    for t in T_VALUES:
        ref = 2.0 * stats.t.sf(t, df)
        if ref < 1e-300:
            continue
        tol = 1e-11 if df <= 1e5 else 1e-10
        assert rel(t_sf2(t, df), ref) < tol, (df, t)
        assert t_sf2(-t, df) == t_sf2(t, df)


def test_t_tail_at_very_large_df_is_still_close() -> None:
    # Lentz's continued fraction loses about df * 1e-17 relative when x is near 1.
    for df, t in itertools.product([1e7], [1.0, 2.0, 3.0, 6.0]):
        assert rel(t_sf2(t, df), 2.0 * stats.t.sf(t, df)) < 1e-9


def test_t_tail_edges() -> None:
    assert t_sf2(0.0, 5) == 1.0
    assert t_sf2(math.inf, 5) == 0.0
    assert math.isnan(t_sf2(math.nan, 5))
    with pytest.raises(ValueError):
        t_sf2(1.0, 0)
    # Cauchy (df = 1): P(|T| > t) = 1 - 2 atan(t) / pi, exactly.
    for t in (1e-8, 0.3, 1.0, 7.0):
        assert rel(t_sf2(t, 1), 1 - 2 * math.atan(t) / math.pi) < 1e-13


@pytest.mark.parametrize(("d1", "d2"), list(itertools.product(
    [1, 2, 3, 5, 10, 50, 1000, 4000], [1, 2, 5, 10, 100, 431, 1e4, 1e6])))
def test_f_tail_matches_scipy(d1: float, d2: float) -> None:
    for f in [1e-6, 0.1, 0.5, 1.0, 2.0, 5.0, 20.0, 46.27, 1000.0]:
        ref = stats.f.sf(f, d1, d2)
        if ref < 1e-300:
            continue
        assert rel(f_sf(f, d1, d2), ref) < 1e-10, (d1, d2, f)
    assert f_sf(0.0, d1, d2) == 1.0
    assert f_sf(math.inf, d1, d2) == 0.0


@pytest.mark.parametrize("df", DFS)
def test_t_quantile_matches_scipy(df: float) -> None:
    for q in [0.51, 0.6, 0.9, 0.975, 0.995, 0.999999, 0.025, 1e-10]:
        ref = stats.t.ppf(q, df)
        assert rel(t_ppf(q, df), ref) < 1e-10, (df, q)
    assert t_ppf(0.5, df) == 0.0
    with pytest.raises(ValueError):
        t_ppf(1.0, df)


def test_t_quantile_near_the_median_is_exact_for_cauchy() -> None:
    # Near q = 1/2 scipy itself loses digits; df = 1 has the closed form tan(pi (q - 1/2)).
    for q in (0.5000001, 0.5001, 0.3, 0.975):
        assert rel(t_ppf(q, 1), math.tan(math.pi * (q - 0.5))) < 1e-13


@pytest.mark.parametrize(("a", "b"), list(itertools.product(
    [0.5, 1, 2.5, 9.9, 10, 50, 1e3, 1e5], [0.5, 1, 3, 10, 75.5, 1e4])))
def test_incomplete_beta_matches_scipy(a: float, b: float) -> None:
    for x in [1e-12, 1e-4, 0.01, 0.2, 0.5, 0.7, 0.99, 1 - 1e-9]:
        lower, upper = betainc_pair(a, b, x)
        ref_lo, ref_up = special.betainc(a, b, x), special.betaincc(a, b, x)
        if ref_lo > 1e-280:
            assert rel(lower, ref_lo) < 5e-10, (a, b, x)
        if ref_up > 1e-280:
            assert rel(upper, ref_up) < 5e-10, (a, b, x)
