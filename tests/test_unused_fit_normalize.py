"""fit's and normalize's options that would have no effect are refused (exit 2, one line, no
output), in the command line, the Python API and normcli.dask alike, with one message: the rule
is defined once (the ops' ``unused_options``). Where they apply they still work (checked against
scikit-learn)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import error_line, leftover_temp_files, out_matrix, parse_csv, run_main

import normcli
from normcli.errors import UsageError

N = 80


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, 3))
    y = X @ np.array([1.5, -2.0, 0.0]) + 0.4 * rng.normal(size=N)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y,
                          "w": rng.uniform(0.5, 2.0, size=N)})
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False, float_format="%.17g")
    return path, frame


# (the command line's options, the Python call's keywords); the function is fit's or
# normalize's as the first word says
FIT = ["fit", "-y", "y", "--exclude", "w"]
CASES = [
    # --l1-ratio mixes elasticnet's two penalties: with any other it does nothing
    pytest.param([*FIT, "--l1-ratio", "0.3"], {"l1_ratio": 0.3},
                 "--l1-ratio applies to --penalty elasticnet only (not l2)", id="l1-ratio-l2"),
    pytest.param([*FIT, "--penalty", "lasso", "--l1-ratio", "0.5"],
                 {"penalty": "lasso", "l1_ratio": 0.5},  # the default value, given
                 "--l1-ratio applies to --penalty elasticnet only (not l1)", id="l1-ratio-l1"),
    pytest.param([*FIT, "--penalty", "none", "--l1-ratio", "0.2"],
                 {"penalty": "none", "l1_ratio": 0.2},
                 "--l1-ratio applies to --penalty elasticnet only (not none)",
                 id="l1-ratio-none"),
    pytest.param([*FIT, "--penalty", "l2", "--l1-ratio", "0.2", "--cv", "3"],
                 {"penalty": "l2", "l1_ratio": 0.2, "cv": 3},
                 "--l1-ratio applies to --penalty elasticnet only (not l2)", id="l1-ratio-l2-cv"),
    # --alpha: --cv chooses it; none has no penalty to weigh
    pytest.param([*FIT, "--penalty", "l1", "--cv", "3", "--alpha", "0.1"],
                 {"penalty": "l1", "cv": 3, "alpha": 0.1},
                 "--alpha is what --cv chooses (give the candidates with --alphas)",
                 id="alpha-cv"),
    pytest.param([*FIT, "--penalty", "none", "--alpha", "1"], {"penalty": "none", "alpha": 1.0},
                 "--alpha weighs the penalty; --penalty none has none", id="alpha-none"),
    # --tol and --max-iter: none and l2 are solved exactly, with --cv, --standardize and
    # --weights too (fit_path: one eigendecomposition)
    pytest.param([*FIT, "--tol", "1e-10"], {"tol": 1e-10},
                 "--tol stops the l1 and elasticnet solver; --penalty l2 is solved exactly",
                 id="tol-l2"),
    pytest.param([*FIT, "--penalty", "ridge", "--cv", "3", "--tol", "1e-10"],
                 {"penalty": "ridge", "cv": 3, "tol": 1e-10},
                 "--tol stops the l1 and elasticnet solver; --penalty l2 is solved exactly",
                 id="tol-l2-cv"),
    pytest.param([*FIT, "--penalty", "none", "--tol", "1e-6"], {"penalty": "none", "tol": 1e-6},
                 "--tol stops the l1 and elasticnet solver; --penalty none is solved exactly",
                 id="tol-none"),
    pytest.param(["fit", "-y", "y", "--weights", "w", "--standardize", "--max-iter", "5"],
                 {"weights": "w", "standardize": True, "max_iter": 5},
                 "--max-iter bounds the l1 and elasticnet solver; --penalty l2 is solved "
                 "exactly", id="max-iter-l2-weights-standardize"),
    pytest.param([*FIT, "--penalty", "ols", "--max-iter", "1000"],
                 {"penalty": "ols", "max_iter": 1000},
                 "--max-iter bounds the l1 and elasticnet solver; --penalty none is solved "
                 "exactly", id="max-iter-none"),
    # --n-alphas and --eps build the alpha grid: not for l2 without --cv (nor --path, --plot),
    # never for none, never with --alphas
    pytest.param([*FIT, "--n-alphas", "10"], {"n_alphas": 10},
                 "--n-alphas sizes the alpha grid, built for --cv, --path and --plot, and for "
                 "the selection order of l1 and elasticnet; --penalty l2 without them builds "
                 "none", id="n-alphas-l2"),
    pytest.param([*FIT, "--eps", "0.01"], {"eps": 0.01},
                 "--eps ends the alpha grid, built for --cv, --path and --plot, and for the "
                 "selection order of l1 and elasticnet; --penalty l2 without them builds none",
                 id="eps-l2"),
    pytest.param([*FIT, "--penalty", "none", "--eps", "0.01"], {"penalty": "none", "eps": 0.01},
                 "--eps ends the alpha grid, which --penalty none has none of", id="eps-none"),
    pytest.param([*FIT, "--penalty", "l1", "--cv", "3", "--alphas", "0.1,0.01",
                  "--n-alphas", "10"],
                 {"penalty": "l1", "cv": 3, "alphas": [0.1, 0.01], "n_alphas": 10},
                 "--n-alphas sizes the alpha grid, which --alphas replaces (give one of them)",
                 id="n-alphas-alphas"),
    pytest.param([*FIT, "--cv", "3", "--alphas", "1,2", "--eps", "0.001"],
                 {"cv": 3, "alphas": [1.0, 2.0], "eps": 0.001},
                 "--eps ends the alpha grid, which --alphas replaces (give one of them)",
                 id="eps-alphas"),
    # --axis chooses rows or columns for norms; a scaler works per column
    pytest.param(["normalize", "--scale", "zscore", "--axis", "columns"],
                 {"scale": "zscore", "axis": "columns"},
                 "--axis chooses rows or columns for --norm; --scale zscore scales each column",
                 id="axis-columns-scale"),
    pytest.param(["normalize", "--scale", "minmax", "--axis", "rows"],
                 {"scale": "minmax", "axis": "rows"},
                 "--axis chooses rows or columns for --norm; --scale minmax scales each column",
                 id="axis-rows-scale"),
]


def _call(args: list[str], kwargs: dict[str, Any], data: Any) -> Any:
    if args[0] == "fit":
        return normcli.fit(data, "y", **({"exclude": ["w"]} | kwargs
                                          if "weights" not in kwargs else kwargs))
    return normcli.normalize(data, **kwargs)


@pytest.mark.parametrize(("args", "kwargs", "message"), CASES)
def test_refused_on_the_command_line_and_in_the_api(data: tuple[Path, pd.DataFrame],
                                                    tmp_path: Path, args: list[str],
                                                    kwargs: dict[str, Any], message: str) -> None:
    path, frame = data
    out = tmp_path / "out.csv"
    code, stdout, err = run_main([*args, str(path), str(out)])
    assert code == 2
    assert error_line(err) == f"normcli: error: {message}"
    assert stdout == b""
    assert not out.exists()
    assert leftover_temp_files(tmp_path) == []
    for source in (path, frame):
        with pytest.raises(UsageError, match=f"^{re.escape(message)}$"):
            _call(args, kwargs, source)


def test_refused_in_normcli_dask_before_any_task(data: tuple[Path, pd.DataFrame]) -> None:
    pytest.importorskip("dask.dataframe")
    pytest.importorskip("distributed")
    import dask.dataframe as dd

    import normcli.dask as nd

    path, frame = data
    ddf = dd.from_pandas(frame, npartitions=2)
    no_client = object()  # no cluster call could use it: the refusal comes first
    for source in (path, ddf):
        with pytest.raises(UsageError, match="^--l1-ratio applies to --penalty elasticnet"):
            nd.fit(source, "y", penalty="l1", l1_ratio=0.5, client=no_client)
        with pytest.raises(UsageError, match="^--tol stops the l1 and elasticnet solver"):
            nd.fit(source, "y", tol=1e-9, client=no_client)
        with pytest.raises(UsageError, match="^--n-alphas sizes the alpha grid, built for"):
            nd.fit(source, "y", n_alphas=5, client=no_client)
    with pytest.raises(UsageError, match="^--axis chooses rows or columns for --norm"):
        nd.normalize(ddf, scale="maxabs", axis="columns", client=no_client)


def test_axis_with_saved_parameters(data: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    """A scaler's --params: --axis has no effect; column norms' --params: --axis rows would be
    silently changed to columns; --axis columns agrees with the file."""
    path, frame = data
    scaler = tmp_path / "scaler.json"
    norms = tmp_path / "norms.json"
    assert run_main(["normalize", "--scale", "maxabs", "--save-params", str(scaler), str(path),
                     str(tmp_path / "s.csv")])[0] == 0
    assert run_main(["normalize", "--axis", "columns", "--save-params", str(norms), str(path),
                     str(tmp_path / "n.csv")])[0] == 0
    out = tmp_path / "out.csv"
    code, _, err = run_main(["normalize", "--params", str(scaler), "--axis", "columns",
                             str(path), str(out)])
    assert code == 2
    message = ("--axis chooses rows or columns for --norm; --scale maxabs scales each column "
               "(the parameters are for maxabs)")
    assert error_line(err) == f"normcli: error: {message}"
    with pytest.raises(UsageError, match=f"^{re.escape(message)}$"):
        normcli.normalize(frame, params=json.loads(scaler.read_text()), axis="columns")
    code, _, err = run_main(["normalize", "--params", str(norms), "--axis", "rows", str(path),
                             str(out)])
    assert code == 2
    assert error_line(err) == (f"normcli: error: --axis rows, but {norms} holds column norms "
                               "(leave out --axis to apply them)")
    assert not out.exists()
    # --axis columns agrees with column norms' parameters: each column over its own norm
    code, stdout, err = run_main(["normalize", "--params", str(norms), "--axis", "columns",
                                  str(path)])
    assert (code, err) == (0, "")
    X = frame.to_numpy()
    np.testing.assert_allclose(out_matrix(stdout), X / np.linalg.norm(X, axis=0), rtol=1e-14)


# -- where they apply, they work --------------------------------------------------------------
def _coefficients(stdout: bytes) -> np.ndarray:
    rows = parse_csv(stdout)
    assert rows[0] == ["term", "coefficient"]
    return np.array([float(r[1]) for r in rows[1:]])


def test_l1_ratio_tol_max_iter_with_elasticnet(data: tuple[Path, pd.DataFrame]) -> None:
    from sklearn.linear_model import ElasticNet

    path, frame = data
    X, y = frame[["a", "b", "c"]].to_numpy(), frame["y"].to_numpy()
    ref = ElasticNet(alpha=0.2, l1_ratio=0.8, tol=1e-12, max_iter=10**5).fit(X, y)
    code, stdout, err = run_main([*FIT, "--penalty", "enet", "--alpha", "0.2", "--l1-ratio",
                                  "0.8", "--tol", "1e-12", "--max-iter", "100000", str(path)])
    assert (code, err) == (0, "")
    expected = [ref.intercept_, *ref.coef_]
    np.testing.assert_allclose(_coefficients(stdout), expected, rtol=1e-9, atol=1e-12)
    model = normcli.fit(frame, "y", exclude=["w"], penalty="elasticnet", alpha=0.2,
                        l1_ratio=0.8, tol=1e-12, max_iter=100_000)
    np.testing.assert_allclose([model.intercept_, *model.coef_.to_numpy()], expected,
                               rtol=1e-9, atol=1e-12)
    # a different mix gives scikit-learn's other model: --l1-ratio is used
    other = ElasticNet(alpha=0.2, l1_ratio=0.1, tol=1e-12, max_iter=10**5).fit(X, y)
    model = normcli.fit(frame, "y", exclude=["w"], penalty="elasticnet", alpha=0.2,
                        l1_ratio=0.1)
    np.testing.assert_allclose(model.coef_.to_numpy(), other.coef_, rtol=1e-6, atol=1e-9)
    assert not np.allclose(other.coef_, ref.coef_, rtol=1e-3)


def test_max_iter_bounds_the_lasso_solver() -> None:
    rng = np.random.default_rng(1)  # 40 nearly collinear features: many sweeps to converge
    X = rng.normal(size=(200, 1)) + 0.05 * rng.normal(size=(200, 40))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(40)])
    frame["y"] = X[:, :5].sum(axis=1) + rng.normal(size=200)
    capped = normcli.fit(frame, "y", penalty="l1", alpha=0.001, max_iter=1)
    assert capped.report["converged"] is False
    assert normcli.fit(frame, "y", penalty="l1", alpha=0.001).report["converged"] is True


def test_n_alphas_and_eps_make_scikit_learns_grid(data: tuple[Path, pd.DataFrame],
                                                   tmp_path: Path) -> None:
    """--path without --cv fits the path on the grid of --n-alphas and --eps: LassoCV's."""
    from sklearn.linear_model import LassoCV

    path, frame = data
    X, y = frame[["a", "b", "c"]].to_numpy(), frame["y"].to_numpy()
    grid = LassoCV(alphas=7, eps=0.02, cv=3).fit(X, y).alphas_
    table = tmp_path / "path.csv"
    code, _, err = run_main([*FIT, "--penalty", "l1", "--path", str(table), "--n-alphas", "7",
                             "--eps", "0.02", str(path)])
    assert (code, err) == (0, "")
    rows = parse_csv(table.read_bytes())
    assert rows[0][0] == "alpha"
    np.testing.assert_allclose([float(r[0]) for r in rows[1:]], grid, rtol=1e-12)
    # l1 without --cv or --path: the grid gives the selection order, at its alphas
    model = normcli.fit(frame, "y", exclude=["w"], penalty="l1", alpha=float(grid[-1]),
                        n_alphas=7, eps=0.02)
    entries = model.report["selection_order"]
    assert {e["feature"] for e in entries} == {"a", "b", "c"} - {
        n for n, v in model.coef_.items() if v == 0.0}
    assert all(np.isclose(grid, e["alpha"], rtol=1e-12).any() for e in entries)
    # ridge with --cv: the grid has --n-alphas alphas
    ridge = normcli.fit(frame, "y", exclude=["w"], cv=3, n_alphas=9, eps=0.01)
    assert len(ridge.report["cv"]["alphas"]) == 9


def test_axis_where_it_applies(data: tuple[Path, pd.DataFrame]) -> None:
    from sklearn.preprocessing import StandardScaler, normalize

    path, frame = data
    X = frame.to_numpy()
    for axis in ("rows", "columns"):
        code, stdout, err = run_main(["normalize", "--norm", "l1", "--axis", axis, str(path)])
        assert (code, err) == (0, "")
        ref = normalize(X, norm="l1", axis=0 if axis == "columns" else 1)
        np.testing.assert_allclose(out_matrix(stdout), ref, rtol=1e-14)
        got = normcli.normalize(frame, "l1", axis=axis).to_numpy()  # type: ignore[arg-type]
        np.testing.assert_allclose(got, ref, rtol=1e-14)
    # a scaler without --axis: per column, as scikit-learn's
    got = normcli.normalize(frame, scale="zscore").to_numpy()
    np.testing.assert_allclose(got, StandardScaler().fit_transform(X), rtol=1e-12, atol=1e-14)
