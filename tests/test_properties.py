"""Property tests (hypothesis) for the kernels, the scalers' statistics and text passthrough."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
from conftest import invoke, parse_csv
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from normcli.kernels import normalize_rows, row_norms
from normcli.scalers import ColumnStats

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
moderate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).filter(
    lambda v: v == 0 or abs(v) > 1e-6)
wide = st.builds(lambda m, e, s: s * m * 10.0**e, st.floats(1.0, 9.999), st.integers(-300, 299),
                 st.sampled_from([-1.0, 1.0])) | st.just(0.0)
rows = st.lists(finite, min_size=1, max_size=6).map(lambda v: np.array([v]))
P = st.sampled_from([1.0, 2.0, math.inf, 3.0, 1.5])


def _norm(v: np.ndarray, p: float) -> float:
    """Norm computed safely for the check: scale by the largest |value| first."""
    m = np.abs(v).max()
    return 0.0 if m == 0 else float(m * np.linalg.norm(v / m, ord=p))


@SETTINGS
@given(rows, P)
def test_normalized_row_has_norm_one_or_stays_zero(X: np.ndarray, p: float) -> None:
    out = normalize_rows(X, p)
    assert np.isfinite(out).all()
    if not X.any():
        assert (out == 0).all()
    else:
        assert abs(_norm(out[0], p) - 1.0) <= 1e-14
        assert (out[X == 0] == 0).all()  # zeros stay zeros
        # no sign flips; a value may underflow to 0 next to a much larger one, the largest not
        assert (np.sign(out) * np.sign(X) >= 0).all()
        big = np.abs(X) == np.abs(X).max()
        assert (np.sign(out[big]) == np.sign(X[big])).all()


@SETTINGS
@given(st.lists(wide, min_size=1, max_size=6).map(lambda v: np.array([v])), P,
       st.integers(-60, 60))
def test_power_of_two_scaling_does_not_change_normalization(X: np.ndarray, p: float,
                                                            k: int) -> None:
    with np.errstate(over="ignore", under="ignore"):
        Y = X * 2.0**k
    # scaling must be exact: no overflow, no subnormal results
    assume(np.isfinite(Y).all() and not (np.abs(Y[X != 0]) < 2.0**-1022).any())
    np.testing.assert_array_equal(normalize_rows(Y, p), normalize_rows(X, p))


@SETTINGS
@given(rows, P)
def test_normalizing_twice_equals_once(X: np.ndarray, p: float) -> None:
    once = normalize_rows(X, p)
    twice = normalize_rows(once, p)
    np.testing.assert_allclose(twice, once, rtol=1e-15, atol=1e-300)


@SETTINGS
@given(st.lists(moderate, min_size=1, max_size=6).map(lambda v: np.array([v])),
       st.sampled_from([1.0, 2.0, math.inf, -math.inf, 0.0, 3.0, 0.5]))
def test_row_norms_agree_with_numpy(X: np.ndarray, p: float) -> None:
    np.testing.assert_allclose(row_norms(X, p)[0], np.linalg.norm(X[0], ord=p), rtol=1e-14)


@SETTINGS
@given(st.lists(wide, min_size=1, max_size=6).map(lambda v: np.array([v])), P)
def test_never_nan_or_inf_at_wide_magnitudes(X: np.ndarray, p: float) -> None:
    assert np.isfinite(normalize_rows(X, p)).all()
    n = row_norms(X, p)[0]
    assert np.isfinite(n) and n >= 0
    if X.any():
        assert abs(n / _norm(X[0], p) - 1.0) <= 1e-14


@SETTINGS
@given(st.lists(st.lists(st.one_of(moderate, st.just(math.nan)), min_size=3, max_size=3),
                min_size=1, max_size=30),
       st.lists(st.integers(0, 30), max_size=4))
def test_column_stats_merge_of_splits_equals_whole(cells: list[list[float]],
                                                   cuts: list[int]) -> None:
    X = np.array(cells)
    n = X.shape[0]
    bounds = sorted({min(c, n) for c in cuts})
    acc = ColumnStats.empty(3)
    for piece in np.split(X, bounds):
        acc = acc.merge(ColumnStats.of(piece))
    whole = ColumnStats.of(X)
    present = ~np.isnan(X)
    for j in range(3):
        col = X[present[:, j], j]
        assert acc.count[j] == col.size == whole.count[j]
        if col.size == 0:
            continue
        scale = max(np.abs(col).max(), 1.0)
        assert abs(acc.mean[j] - np.mean(col)) <= 1e-13 * scale
        assert abs(acc.std[j] - np.std(col)) <= 1e-12 * scale
        assert acc.min[j] == col.min() and acc.max[j] == col.max()


_TEXT_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",),
                               exclude_characters="\x00")
texts = st.one_of(
    st.text(alphabet=_TEXT_ALPHABET, max_size=12),
    st.sampled_from(['"', '""', ",", "a,b", "\n", "\r\n", "x\ny", "00501", "007", "",
                     "123456789012345678901234567890", "naïve ☃", " lead", "trail ", "NA"]),
    st.from_regex(r"0[0-9]{1,25}", fullmatch=True),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(texts, min_size=1, max_size=15), st.integers(1, 7))
def test_text_round_trip(tmp_path: Path, values: list[str], chunk: int) -> None:
    buf = io.StringIO()
    # CRLF line ends: with "\n" alone, Python's writer leaves a bare "\r" unquoted, which no
    # CSV reader (Python's included) reads back as one field
    w = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    w.writerow(["text", "x"])
    for i, v in enumerate(values):
        w.writerow([v, str(i + 1)])
    path = tmp_path / "t.csv"
    path.write_bytes(buf.getvalue().encode("utf-8"))
    out = invoke(["normalize", "--columns", "x", "--chunk-rows", str(chunk), str(path)])
    rows = parse_csv(out)
    assert rows[0] == ["text", "x"]
    assert [r[0] for r in rows[1:]] == values
    assert [r[1] for r in rows[1:]] == ["1"] * len(values)
