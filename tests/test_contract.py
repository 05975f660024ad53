"""Contract checks: /work/shared/CLI.md and the rules in README.md, checked end to end.

Every expected value here is worked out by hand or by numpy / scikit-learn, never taken from an
earlier normcli run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import run_main

CMD = [sys.executable, "-m", "normcli"]


def run(args: list[str], input: bytes | None = None, cwd: Path | None = None):
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([*CMD, *args], input=input, capture_output=True, env=env, cwd=cwd,
                          timeout=60)


def ok(args: list[str], input: bytes | None = None) -> bytes:
    code, out, err = run_main(args, input=input)
    assert (code, err) == (0, ""), (code, err)
    return out


def err1(args: list[str], status: int, input: bytes | None = None) -> str:
    """Run, expect `status` and exactly one `normcli: error: ...` line on stderr."""
    code, _, err = run_main(args, input=input)
    lines = err.splitlines()
    assert code == status, (code, err)
    assert len(lines) == 1 and lines[0].startswith("normcli: error: "), err
    assert "Traceback" not in err
    return lines[0]


def w(tmp: Path, name: str, data: bytes | str) -> str:
    p = tmp / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(p)


def cells(out: bytes) -> list[list[str]]:
    import csv
    import io
    return list(csv.reader(io.StringIO(out.decode())))


# --------------------------------------------------------------------------- input and output

def test_passthrough_text_exact_with_quotes_crlf_bom(tmp_path: Path) -> None:
    src = w(tmp_path, "in.csv",
            b'\xef\xbb\xbfzip,when,big,name,x,y\r\n'
            b'00501,2024-01-05,1234567890123456789012345,"a,b",3,4\r\n'
            b'00502,2024-01-06,9999999999999999999999999,"two\nlines",0,0\r\n'
            b'00503,2024-01-07,1,"q""uote",1e200,1e200\r\n'
            b'00504,2024-01-08,2,z,1e-200,1e-200\r\n')
    out = ok(["normalize", src])
    assert out == (b'zip,when,big,name,x,y\n'
                   b'00501,2024-01-05,1234567890123456789012345,"a,b",0.6,0.8\n'
                   b'00502,2024-01-06,9999999999999999999999999,"two\nlines",0,0\n'
                   b'00503,2024-01-07,1,"q""uote",0.7071067811865475,0.7071067811865475\n'
                   b'00504,2024-01-08,2,z,0.7071067811865475,0.7071067811865475\n')


def test_stdin_stdout_dash_and_tsv(tmp_path: Path) -> None:
    assert ok(["normalize", "-", "-"], input=b"a,b\n3,4\n") == b"a,b\n0.6,0.8\n"
    src = w(tmp_path, "in.tsv", "a\tb\n3\t4\n")
    dst = tmp_path / "out.tsv"
    ok(["normalize", src, str(dst)])
    assert dst.read_bytes() == b"a\tb\n0.6\t0.8\n"
    assert ok(["normalize", "--output-format", "tsv", "-"],
              input=b"a,b\n3,4\n") == b"a\tb\n0.6\t0.8\n"
    assert ok(["normalize", "--input-format", "tsv", "-"],
              input=b"a\tb\n3\t4\n") == b"a,b\n0.6,0.8\n"


def test_delimiters_and_no_header() -> None:
    assert ok(["normalize", "--delimiter", ";", "-"], input=b"a;b\n3;4\n") == b"a;b\n0.6;0.8\n"
    assert ok(["norm", "--delimiter", ";", "--output-delimiter", ",", "-"],
              input=b"s;a;b\n\"x;y\";3;4\n") == b"s,a,b,norm\nx;y,3,4,5\n"
    assert ok(["normalize", "--no-header", "-"], input=b"3,4\n0,5\n") == b"0.6,0.8\n0,1\n"
    assert ok(["normalize", "--no-header", "--columns", "column_2", "-"],
              input=b"3,4\n0,5\n") == b"3,1\n0,1\n"


def test_missing_values_stay_missing() -> None:
    data = b"x,y,z\n3,4,\nNA,1,1\nNaN,3,4\nnull,0,2\n,,\n"
    out = ok(["normalize", "-"], input=data)
    assert out == (b"x,y,z\n0.6,0.8,\n,0.7071067811865475,0.7071067811865475\n"
                   b",0.6,0.8\n,0,1\n,,\n")
    out = ok(["norm", "--only", "-"], input=data)
    # the all-missing row's norm is missing: "" alone on its line (an empty line is skipped)
    assert out == b'norm\n5\n1.4142135623730951\n5\n2\n""\n'


def test_bad_cell_error_line(tmp_path: Path) -> None:
    src = w(tmp_path, "bad.csv", 'x,y\n1,2\n\n"3",4\n5,"bad\nval"\n')
    line = err1(["normalize", "--chunk-rows", "1", src], 1)
    assert line.startswith(f"normcli: error: {src}, line 5, column 'y': ")
    assert "bad" in line and "val" in line


def test_columns_and_exclude_errors_name_the_column() -> None:
    data = b"id,x,y\nab,1,2\n"
    assert "'nope'" in err1(["normalize", "--columns", "x,nope", "-"], 2, input=data)
    assert "'id'" in err1(["normalize", "--columns", "id,x", "-"], 2, input=data)
    assert "'zz'" in err1(["normalize", "--exclude", "zz", "-"], 2, input=data)


def test_atomic_output_after_error(tmp_path: Path) -> None:
    src = w(tmp_path, "bad.csv", "x,y\n1,2\n3,4\n5,oops\n")
    dst = tmp_path / "out.csv"
    dst.write_bytes(b"ORIGINAL")
    err1(["normalize", "--chunk-rows", "1", src, str(dst)], 1)
    assert dst.read_bytes() == b"ORIGINAL"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "out.csv"]


def test_parquet_output_error_is_one_line(tmp_path: Path) -> None:
    w(tmp_path, "bad.csv", "x,y\n1,2\n3,4\n5,oops\n")
    p = run(["normalize", "--chunk-rows", "1", "bad.csv", "out.parquet"], cwd=tmp_path)
    assert p.returncode == 1
    assert p.stderr.decode().splitlines() == [
        "normcli: error: bad.csv, line 4, column 'y': not a number: 'oops'"]


def test_inf_cell_norm_and_quiet_stderr() -> None:
    p = run(["norm", "--only", "-"], input=b"a,b\ninf,1\n")
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout == b"norm\n" + repr(float(np.linalg.norm([np.inf, 1.0]))).encode() + b"\n"


def test_norm_json_missing_is_null() -> None:
    # x holds a number in the first chunk, so it is used; its NA is missing -> null
    out = ok(["norm", "--output-format", "json", "-"], input=b"x,y\nNA,4\n3,4\n")
    assert json.loads(out) == [{"x": None, "y": 4.0, "norm": 4.0},
                               {"x": 3.0, "y": 4.0, "norm": 5.0}]


# --------------------------------------------------------------------------- normalize

def test_normalize_norms_match_sklearn() -> None:
    from sklearn.preprocessing import normalize
    X = np.array([[1.0, -2.0, 2.0], [0.0, 0.0, 0.0], [0.5, 4.0, -1.0]])
    data = ("a,b,c\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in X) + "\n").encode()
    for opt, kw in (("l1", "l1"), ("l2", "l2"), ("max", "max"), ("inf", "max")):
        got = np.array(cells(ok(["normalize", "--norm", opt, "-"], input=data))[1:], float)
        np.testing.assert_allclose(got, normalize(X, norm=kw), rtol=1e-15, atol=0)
    got = np.array(cells(ok(["normalize", "--axis", "columns", "-"], input=data))[1:], float)
    np.testing.assert_allclose(got, normalize(X, axis=0), rtol=1e-15, atol=0)
    got = np.array(cells(ok(["normalize", "--norm", "3", "-"], input=data))[1:], float)
    n3 = np.sum(np.abs(X) ** 3, axis=1) ** (1 / 3)
    n3[n3 == 0] = 1
    np.testing.assert_allclose(got, X / n3[:, None], rtol=1e-14)


def test_scalers_match_sklearn_and_constant_columns() -> None:
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
    X = np.array([[5.0, 0.0, 1.0], [5.0, 0.0, -2.0], [5.0, 0.0, 3.5]])
    data = ("a,b,c\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in X) + "\n").encode()
    for scale, ref, extra in (("minmax", MinMaxScaler(), []),
                              ("minmax", MinMaxScaler(feature_range=(-1, 1)), ["--range", "-1,1"]),
                              ("zscore", StandardScaler(), []), ("maxabs", MaxAbsScaler(), [])):
        got = np.array(cells(ok(["normalize", "--scale", scale, *extra, "-"], input=data))[1:],
                       float)
        # zscore centres on the compensated (more exact) mean: within an ulp of scikit-learn
        np.testing.assert_allclose(got, ref.fit_transform(X), rtol=1e-15, atol=0)


def test_params_roundtrip_and_mismatch(tmp_path: Path) -> None:
    from sklearn.preprocessing import MinMaxScaler
    train = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
    test = np.array([[2.0, 15.0], [7.0, 40.0]])
    src = w(tmp_path, "tr.csv", "id,a,b\nr,1,10\ns,3,30\nt,5,20\n")
    params = str(tmp_path / "p.json")
    ok(["normalize", "--scale", "minmax", "--save-params", params, src])
    json.loads(Path(params).read_text())  # JSON, never pickle
    out = ok(["normalize", "--scale", "minmax", "--params", params, "-"],
             input=b"b,id,a\n15,u,2\n40,v,7\n")
    ref = MinMaxScaler().fit(train).transform(test)
    assert cells(out) == [["b", "id", "a"], [repr(float(ref[0, 1])), "u", repr(float(ref[0, 0]))],
                          [repr(float(ref[1, 1])), "v", repr(float(ref[1, 0]))]]
    assert "'b'" in err1(["normalize", "--scale", "minmax", "--params", params, "-"], 1,
                         input=b"id,a\nu,2\n")


def test_params_keeps_saved_range(tmp_path: Path) -> None:
    from sklearn.preprocessing import MinMaxScaler
    src = w(tmp_path, "tr.csv", "a\n1\n5\n")
    params = str(tmp_path / "p.json")
    ok(["normalize", "--scale", "minmax", "--range", "-1,1", "--save-params", params, src])
    out = ok(["normalize", "--scale", "minmax", "--params", params, "-"], input=b"a\n2\n")
    ref = MinMaxScaler(feature_range=(-1, 1)).fit([[1.0], [5.0]]).transform([[2.0]])[0, 0]
    assert out == f"a\n{float(ref)!r}\n".encode()


# --------------------------------------------------------------------------- norm

def test_norm_orders_match_numpy() -> None:
    rows = [[3.0, -4.0, 0.0], [0.0, 0.0, 0.0], [-1.0, 2.0, 0.5]]
    data = ("id,x,y,z\n" + "".join(f"r{i}," + ",".join(repr(float(v)) for v in r) + "\n"
                                   for i, r in enumerate(rows))).encode()
    for opt, o in (("1", 1), ("2", 2), ("inf", np.inf), ("-inf", -np.inf), ("0", 0),
                   ("3", 3), ("0.5", 0.5), ("l1", 1), ("l2", 2), ("max", np.inf)):
        got = [float(c[0]) for c in cells(ok(["norm", "--ord", opt, "--only", "-"],
                                             input=data))[1:]]
        np.testing.assert_allclose(got, [np.linalg.norm(r, o) for r in rows], rtol=1e-15)


def test_norm_shapes_name_axis_to() -> None:
    data = b"id,x,y\nr1,3,-4\nr2,0,1\n"
    assert ok(["norm", "--name", "len", "-"], input=data) == b"id,x,y,len\nr1,3,-4,5\nr2,0,1,1\n"
    assert ok(["norm", "--axis", "columns", "--ord", "1", "-"], input=data) == \
        b"column,norm\nx,3\ny,5\n"
    assert ok(["norm", "--only", "--to", "3,0", "-"], input=data) == \
        b"norm\n4\n3.1622776601683795\n"
    pairs = b"x1,y1,x2,y2\n0,0,3,4\n1,1,1,1\n"
    assert ok(["norm", "--only", "--columns", "x1,y1", "--to-columns", "x2,y2", "-"],
              input=pairs) == b"norm\n5\n0\n"
    line = err1(["norm", "--to", "1,2,3", "-"], 2, input=data)
    assert "3" in line and "2" in line
    line = err1(["norm", "--columns", "x1", "--to-columns", "x2,y2", "-"], 2, input=pairs)
    assert "1" in line and "2" in line


# --------------------------------------------------------------------------- fit / predict

FIT = (b"id,x1,x2,y,w\na,1,2,3.1,1\nb,2,1,3.9,2\nc,3,5,8.2,1\nd,4,3,7.8,1\n"
       b"e,5,8,13.1,3\nf,6,4,10.2,1\n")
X_FIT = np.array([[1, 2], [2, 1], [3, 5], [4, 3], [5, 8], [6, 4]], float)
Y_FIT = np.array([3.1, 3.9, 8.2, 7.8, 13.1, 10.2])
W_FIT = np.array([1, 2, 1, 1, 3, 1], float)


def _coef(out: bytes) -> tuple[list[str], np.ndarray]:
    rows = cells(out)
    assert rows[0] == ["term", "coefficient"]
    return [r[0] for r in rows[1:]], np.array([float(r[1]) for r in rows[1:]])


@pytest.mark.parametrize("penalty", ["none", "ols", "l1", "lasso", "l2", "ridge", "elasticnet",
                                     "enet"])
@pytest.mark.parametrize("weighted", [False, True])
def test_fit_matches_sklearn(penalty: str, weighted: bool) -> None:
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
    ref = {"none": LinearRegression(), "ols": LinearRegression(),
           "l1": Lasso(0.1, tol=1e-12, max_iter=100000), "lasso": Lasso(0.1, tol=1e-12,
                                                                         max_iter=100000),
           "l2": Ridge(0.1), "ridge": Ridge(0.1),
           "elasticnet": ElasticNet(0.1, l1_ratio=0.3, tol=1e-12, max_iter=100000),
           "enet": ElasticNet(0.1, l1_ratio=0.3, tol=1e-12, max_iter=100000)}[penalty]
    ref.fit(X_FIT, Y_FIT, sample_weight=W_FIT if weighted else None)
    args = ["fit", "-y", "y", "--columns", "x1,x2", "--penalty", penalty]
    if penalty not in ("none", "ols"):  # the options are refused where they do nothing
        args += ["--alpha", "0.1"]
    if penalty in ("elasticnet", "enet"):
        args += ["--l1-ratio", "0.3"]
    if penalty in ("l1", "lasso", "elasticnet", "enet"):
        args += ["--tol", "1e-10"]
    out = ok([*args, *(["--weights", "w"] if weighted else []), "-"], input=FIT)
    terms, vals = _coef(out)
    assert terms == ["(intercept)", "x1", "x2"]
    np.testing.assert_allclose(vals, [ref.intercept_, *ref.coef_], rtol=1e-8, atol=1e-10)


def test_fit_json_report_and_cv_against_lassocv(tmp_path: Path) -> None:
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import PredefinedSplit
    rng = np.random.default_rng(3)
    X = np.round(rng.normal(size=(12, 3)), 2)
    y = np.round(X @ [1.5, 0.9, 0.2] + 0.2 + rng.normal(scale=0.3, size=12), 2)
    fold = np.arange(12) % 3
    body = "".join(",".join(repr(float(v)) for v in X[i]) + f",{float(y[i])!r},{fold[i]}\n"
                   for i in range(12))
    src = w(tmp_path, "cv.csv", "x1,x2,x3,y,fold\n" + body)
    dst = tmp_path / "m.json"
    ok(["fit", "-q", "-y", "y", "--columns", "x1,x2,x3", "--penalty", "l1", "--cv", "3",
        "--fold-column", "fold", "--n-alphas", "6", "--eps", "0.01", src, str(dst)])
    rep = json.loads(dst.read_text())
    for key in ("penalty", "alpha", "l1_ratio", "intercept", "coefficients", "n_rows",
                "n_nonzero", "converged", "duality_gap", "cv"):
        assert key in rep
    for key in ("folds", "alphas", "mse_mean", "mse_se", "alpha_min", "alpha_1se"):
        assert key in rep["cv"]
    ref = LassoCV(alphas=6, eps=0.01, cv=PredefinedSplit(fold), tol=1e-12,
                  max_iter=10**6).fit(X, y)
    np.testing.assert_allclose(rep["cv"]["alphas"], ref.alphas_, rtol=1e-12)
    np.testing.assert_allclose(rep["cv"]["mse_mean"], ref.mse_path_.mean(axis=1), rtol=1e-8)
    np.testing.assert_allclose(rep["cv"]["mse_se"],
                               ref.mse_path_.std(axis=1, ddof=1) / np.sqrt(3), rtol=1e-7)
    assert rep["cv"]["alpha_min"] == pytest.approx(ref.alpha_, rel=1e-12)
    assert rep["alpha"] == rep["cv"]["alpha_min"]
    assert rep["n_rows"] == 12 and list(rep["coefficients"]) == ["x1", "x2", "x3"]


def test_fit_errors() -> None:
    data = b"x,y,t\n1,2,a\n2,3,b\n"
    err1(["fit", "-"], 2, input=data)                       # -y required
    assert "'nope'" in err1(["fit", "-y", "nope", "-"], 2, input=data)
    assert "'t'" in err1(["fit", "-y", "t", "-"], 2, input=data)
    line = err1(["fit", "-y", "y", "-"], 1, input=b"x,y\n1,2\n2,\n3,4\n")
    assert "line 3" in line and "'y'" in line
    code, out, err = run_main(["fit", "-y", "y", "--penalty", "none", "--drop-missing", "-"],
                              input=b"x,y\n1,2\n2,\n3,4\n5,8\n")
    assert code == 0 and "1" in err
    slope, icpt = np.polyfit([1, 3, 5], [2, 4, 8], 1)
    np.testing.assert_allclose(_coef(out)[1], [icpt, slope], rtol=1e-12)


def test_fit_features_in_input_order() -> None:
    terms, _ = _coef(ok(["fit", "-y", "y", "--columns", "x2,x1", "--penalty", "none", "-"],
                        input=FIT))
    assert terms == ["(intercept)", "x1", "x2"]


def test_fit_csv_shortest_number_text() -> None:
    out = ok(["fit", "-y", "y", "--penalty", "none", "--no-intercept", "-"],
             input=b"x,y\n1,2\n2,4\n3,6\n")
    assert out == b"term,coefficient\n(intercept),0\nx,2\n"


def test_fit_parquet_output_is_parquet_or_refused(tmp_path: Path) -> None:
    dst = tmp_path / "coef.parquet"
    code, _, err = run_main(["fit", "-y", "y", "--penalty", "none", "-", str(dst)],
                            input=b"x,y\n1,2\n2,4\n3,7\n")
    assert (code, err) == (0, "")
    assert dst.read_bytes()[:4] == b"PAR1"
    table = pq.read_table(dst)
    assert table.column("term").to_pylist() == ["(intercept)", "x"]
    ref = np.polyfit([1.0, 2.0, 3.0], [2.0, 4.0, 7.0], 1)  # slope, intercept
    np.testing.assert_allclose(table.column("coefficient").to_pylist(), [ref[1], ref[0]],
                               rtol=1e-12)


def test_predict(tmp_path: Path) -> None:
    model = tmp_path / "m.json"
    ok(["fit", "-y", "y", "--penalty", "none", "-", str(model)],
       input=b"a,b,y\n1,0,3\n0,1,5\n1,1,6\n2,1,8\n")
    ref = np.linalg.lstsq(np.c_[np.ones(4), [[1, 0], [0, 1], [1, 1], [2, 1]]],
                          [3, 5, 6, 8], rcond=None)[0]
    out = ok(["predict", "--model", str(model), "--name", "yhat", "-"],
             input=b"b,id,a\n2,u,3\n,v,1\n")
    rows = cells(out)
    assert rows[0] == ["b", "id", "a", "yhat"] and rows[2] == ["", "v", "1", ""]
    np.testing.assert_allclose(float(rows[1][3]), ref[0] + 3 * ref[1] + 2 * ref[2], rtol=1e-12)
    assert "'b'" in err1(["predict", "--model", str(model), "-"], 1, input=b"a\n1\n")


def test_fit_large_values_sklearn_answer() -> None:
    from sklearn.linear_model import LinearRegression
    p = run(["fit", "-y", "y", "--penalty", "none", "-"], input=b"x,y\n1,2\n1e150,3\n2,5\n")
    assert (p.returncode, p.stderr) == (0, b"")
    ref = LinearRegression().fit([[1.0], [1e150], [2.0]], [2.0, 3.0, 5.0])
    np.testing.assert_allclose(_coef(p.stdout)[1], [ref.intercept_, *ref.coef_], rtol=1e-9)


def test_fit_values_whose_squares_overflow_one_line_error() -> None:
    p = run(["fit", "-y", "y", "--penalty", "none", "-"], input=b"x,y\n1,2\n1e160,3\n2,5\n")
    assert (p.returncode, p.stdout) == (1, b"")
    assert p.stderr.decode().splitlines() == [
        "normcli: error: <stdin>, column 'x': values too large: their squares overflow float64; "
        "rescale the column"]
