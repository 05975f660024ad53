"""The Python API: the CLI's numbers on DataFrames and Arrow data, typed errors, kept columns."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import invoke, out_matrix, parse_csv
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso, LinearRegression
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.preprocessing import normalize as sk_normalize

import normcli
from normcli.io.arrow import ArrowReader, ArrowSource
from normcli.ops import normalize as normalize_mod
from normcli.pipeline import Job
from normcli.sinks import TableSink


def bits(a: np.ndarray) -> np.ndarray:
    """float64 values as their bit patterns, NaN as one pattern: equality means identical."""
    a = np.where(np.isnan(a), np.nan, np.asarray(a, dtype=np.float64))
    return a.view(np.int64)


@pytest.fixture
def frame(rng: np.random.Generator) -> pd.DataFrame:
    n = 200
    X = rng.normal(size=(n, 3)) * [1.0, 1e3, 1e-3] + [0.0, 5.0, -2.0]
    X[7, 1] = np.nan
    return pd.DataFrame({
        "id": [f"r{i:04d}" for i in range(n)],
        "a": X[:, 0],
        "count": rng.integers(-50, 50, size=n),  # int64: used, becomes float64
        "b": X[:, 1],
        "when": pd.date_range("2026-01-01", periods=n, freq="h"),
        "c": X[:, 2],
        "flag": rng.integers(0, 2, size=n).astype(bool),
    }, index=pd.Index(np.arange(n)[::-1] * 10, name="key"))



def write_exact_csv(df: pd.DataFrame, path: Path) -> Path:
    """CSV with every float as its shortest round-trip text (repr), so both routes read the same
    float64 values."""
    out = df.copy()
    for name in out.columns:
        if pd.api.types.is_float_dtype(out[name]):
            out[name] = [("" if math.isnan(v) else repr(float(v))) for v in out[name]]
    out.to_csv(path, index=False)
    return path


NUMERIC = ["a", "count", "b", "c"]


# -- normalize -------------------------------------------------------------------------------
def test_normalize_rows_matches_sklearn_and_keeps_the_rest(frame: pd.DataFrame) -> None:
    out = normcli.normalize(frame, norm="l2")
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(frame.columns)
    pd.testing.assert_index_equal(out.index, frame.index)
    for name in ("id", "when", "flag"):  # passthrough: values and dtype as they were
        pd.testing.assert_series_equal(out[name], frame[name])
    assert all(out[n].dtype == np.float64 for n in NUMERIC)
    X = frame[NUMERIC].to_numpy(dtype=np.float64)
    ok = ~np.isnan(X).any(axis=1)
    expected = sk_normalize(X[ok], norm="l2")
    np.testing.assert_allclose(out[NUMERIC].to_numpy()[ok], expected, rtol=1e-15)
    # The row with a missing cell: normalized over its present values, the missing stays missing.
    row = X[7]
    present = ~np.isnan(row)
    np.testing.assert_allclose(out[NUMERIC].to_numpy()[7][present],
                               row[present] / np.linalg.norm(row[present]), rtol=1e-15)
    assert np.isnan(out["b"].to_numpy()[7])
    assert frame["count"].dtype == np.int64  # the input is not modified


def test_normalize_same_numbers_as_cli(frame: pd.DataFrame, tmp_path: Path) -> None:
    src = write_exact_csv(frame, tmp_path / "in.csv")
    for args, kw in [
        (["--norm", "l1"], {"norm": "l1"}),
        (["--scale", "zscore"], {"scale": "zscore"}),
        (["--scale", "minmax", "--range", "-1,1", "--clip"],
         {"scale": "minmax", "feature_range": (-1, 1), "clip": True}),
        (["--axis", "columns", "--norm", "3"], {"axis": "columns", "norm": 3}),
    ]:
        cli = out_matrix(invoke(["normalize", *args, str(src)]), NUMERIC)
        api = normcli.normalize(frame, **kw)[NUMERIC].to_numpy()
        np.testing.assert_array_equal(bits(api), bits(cli), err_msg=str(args))
        from_path = normcli.normalize(src, **kw)[NUMERIC].to_numpy()
        np.testing.assert_array_equal(bits(from_path), bits(cli), err_msg=str(args))


def test_scaler_json_is_save_params_and_transform_is_params(frame: pd.DataFrame,
                                                            tmp_path: Path) -> None:
    src = write_exact_csv(frame, tmp_path / "in.csv")
    params = tmp_path / "p.json"
    invoke(["normalize", "--scale", "minmax", "--range", "-2,3", "--save-params", str(params),
            str(src)])
    scaler = normcli.Scaler.fit(frame, "minmax", feature_range=(-2, 3))
    assert scaler.to_json() == params.read_text()  # byte for byte
    assert scaler.columns == NUMERIC
    # Applied to new data, as --params does, and as scikit-learn's MinMaxScaler does.
    new = frame.iloc[::3].copy()
    new["a"] = new["a"] * 2
    new_csv = write_exact_csv(new, tmp_path / "new.csv")
    cli = out_matrix(invoke(["normalize", "--scale", "minmax", "--params", str(params),
                                 str(new_csv)]), NUMERIC)
    loaded = normcli.Scaler.from_json(params.read_text())
    api = loaded.transform(new)
    np.testing.assert_array_equal(bits(api[NUMERIC].to_numpy()), bits(cli))
    pd.testing.assert_index_equal(api.index, new.index)
    ref = MinMaxScaler(feature_range=(-2, 3)).fit(frame[NUMERIC].to_numpy(dtype=float))
    np.testing.assert_allclose(api[NUMERIC].to_numpy(),
                               ref.transform(new[NUMERIC].to_numpy(dtype=float)),
                               rtol=1e-13, atol=1e-13)


def test_scaler_zscore_matches_standard_scaler(frame: pd.DataFrame) -> None:
    scaler = normcli.Scaler.fit(frame, "zscore", columns=["a", "c"])
    out = scaler.transform(frame)
    ref = StandardScaler().fit_transform(frame[["a", "c"]].to_numpy())
    # column c is -2 +- 1e-3: StandardScaler's rounded mean moves its z-scores by ~1e-13;
    # normcli centres on the compensated mean (closer to the exact z-scores)
    np.testing.assert_allclose(out[["a", "c"]].to_numpy(), ref, rtol=1e-12, atol=1e-12)
    pd.testing.assert_series_equal(out["b"], frame["b"])  # not a scaler column
    stats = scaler.statistics_
    assert list(stats.index) == ["a", "c"]
    np.testing.assert_allclose(stats.loc["a", "mean"], frame["a"].mean(), rtol=1e-14)


# -- norm ------------------------------------------------------------------------------------
def test_norm_rows_columns_and_only(frame: pd.DataFrame) -> None:
    X = frame[NUMERIC].to_numpy(dtype=np.float64)
    out = normcli.norm(frame, ord=1, columns=["a", "c"])
    assert list(out.columns) == [*frame.columns, "norm"]
    pd.testing.assert_series_equal(out["count"], frame["count"])  # int kept (typed input)
    np.testing.assert_allclose(out["norm"].to_numpy(),
                               np.linalg.norm(X[:, [0, 3]], ord=1, axis=1), rtol=1e-15)
    only = normcli.norm(frame, ord=math.inf, only=True, name="m", columns=["a", "c"])
    assert list(only.columns) == ["m"]
    pd.testing.assert_index_equal(only.index, frame.index)
    np.testing.assert_array_equal(only["m"].to_numpy(), np.abs(X[:, [0, 3]]).max(axis=1))
    cols = normcli.norm(frame, axis="columns", columns=["a", "c"])
    assert list(cols["column"]) == ["a", "c"]
    np.testing.assert_allclose(cols["norm"].to_numpy(),
                               np.linalg.norm(X[:, [0, 3]], axis=0), rtol=1e-15)
    dist = normcli.norm(frame, columns=["a", "c"], to=[1.0, -1.0])
    np.testing.assert_allclose(dist["norm"].to_numpy(),
                               np.linalg.norm(X[:, [0, 3]] - [1.0, -1.0], axis=1), rtol=1e-15)


# -- Arrow in, Arrow out ---------------------------------------------------------------------
def test_arrow_table_and_stream(frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(frame[["id", "a", "c"]], preserve_index=False)
    out = normcli.normalize(table, scale="maxabs", chunk_rows=17)
    assert isinstance(out, pa.Table)
    assert out.column("id").equals(table.column("id"))
    expected = normcli.normalize(frame[["id", "a", "c"]], scale="maxabs")
    np.testing.assert_array_equal(bits(out.column("a").to_numpy()),
                                  bits(expected["a"].to_numpy()))
    np.testing.assert_allclose(out.column("a").to_numpy(),
                               frame["a"].to_numpy() / np.abs(frame["a"]).max(), rtol=1e-15)
    # A stream is read once; its second pass comes from a spool that is removed afterwards.
    before = set(os.listdir(tempfile.gettempdir()))
    stream = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=50))
    streamed = normcli.normalize(stream, scale="maxabs")
    assert streamed.equals(out)
    assert {n for n in set(os.listdir(tempfile.gettempdir())) - before
            if n.startswith("normcli-arrow-")} == set()


def test_stream_without_spool_refuses_a_second_pass() -> None:
    table = pa.table({"x": [1.0, 2.0, 4.0]})
    stream = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    job = Job.from_reader(ArrowReader(ArrowSource(stream, spool=False)))
    with job, pytest.raises(normcli.UsageError, match="reads its input twice"):
        normalize_mod.run(job, TableSink(), normalize_mod.NormalizeOptions(scale="minmax"))
    # One pass is fine.
    stream = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    job = Job.from_reader(ArrowReader(ArrowSource(stream, spool=False)))
    sink = TableSink()
    with job:
        normalize_mod.run(job, sink, normalize_mod.NormalizeOptions(norm="max"))
    assert sink.table().column("x").to_pylist() == [1.0, 1.0, 1.0]


# -- fit and predict -------------------------------------------------------------------------
@pytest.fixture
def diabetes_frame() -> pd.DataFrame:
    X, y = load_diabetes(return_X_y=True)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    df["y"] = y
    return df


def test_fit_model_equals_cli_report_and_sklearn(diabetes_frame: pd.DataFrame,
                                                 tmp_path: Path) -> None:
    src = write_exact_csv(diabetes_frame, tmp_path / "d.csv")
    model_path = tmp_path / "model.json"
    # -q: the CV picks the grid's smallest alpha here, which warns on stderr
    invoke(["fit", "-q", "-y", "y", "--penalty", "l1", "--cv", "5", str(src), str(model_path)])
    model = normcli.fit(diabetes_frame, target="y", penalty="l1", cv=5)
    assert model.to_json() == model_path.read_text()  # byte for byte
    assert isinstance(model.coef_, pd.Series)
    assert list(model.coef_.index) == [f"x{j}" for j in range(10)]
    report = json.loads(model_path.read_text())
    assert model.alpha_ == report["cv"]["alpha_min"] == report["alpha"]
    assert model.cv_results_ is not None and len(model.cv_results_) == 100
    np.testing.assert_array_equal(model.cv_results_["mse_mean"], report["cv"]["mse_mean"])
    X, y = diabetes_frame.drop(columns="y").to_numpy(), diabetes_frame["y"].to_numpy()
    tight = normcli.fit(diabetes_frame, target="y", penalty="lasso", alpha=model.alpha_,
                        tol=1e-12, max_iter=100_000)
    ref = Lasso(alpha=model.alpha_, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(tight.coef_.to_numpy(), ref.coef_, rtol=1e-6, atol=1e-6)
    assert tight.intercept_ == pytest.approx(ref.intercept_, rel=1e-9)
    # predict: the CLI's numbers, and X @ coef + intercept.
    scored = invoke(["predict", "--model", str(model_path), str(src)])
    cli_pred = out_matrix(scored, ["prediction"])[:, 0]
    pred = model.predict(diabetes_frame)
    assert list(pred.columns) == [*diabetes_frame.columns, "prediction"]
    np.testing.assert_array_equal(bits(pred["prediction"].to_numpy()), bits(cli_pred))
    np.testing.assert_allclose(pred["prediction"].to_numpy(),
                               X @ model.coef_.to_numpy() + model.intercept_, rtol=1e-12)
    again = normcli.Model.from_json(model_path.read_text())
    np.testing.assert_array_equal(normcli.predict(again, diabetes_frame)["prediction"],
                                  pred["prediction"])
    np.testing.assert_array_equal(normcli.predict(model_path, diabetes_frame)["prediction"],
                                  pred["prediction"])


def test_fit_ols_matches_linear_regression(diabetes_frame: pd.DataFrame) -> None:
    model = normcli.fit(diabetes_frame, "y", penalty="none")
    ref = LinearRegression().fit(diabetes_frame.drop(columns="y"), diabetes_frame["y"])
    np.testing.assert_allclose(model.coef_.to_numpy(), ref.coef_, rtol=1e-9)
    assert model.intercept_ == pytest.approx(ref.intercept_, rel=1e-12)
    assert model.cv_results_ is None


# -- errors ----------------------------------------------------------------------------------
def test_errors_are_typed_exceptions_naming_row_and_column() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 2.0, np.nan, 4.0]})
    with pytest.raises(normcli.DataError) as info:
        normcli.fit(df, target="y")
    assert info.value.row == 3 and info.value.column == "y"
    assert "row 3" in str(info.value) and "'y'" in str(info.value)
    with pytest.raises(normcli.UsageError, match="no column named 'nope'"):
        normcli.normalize(df, columns=["nope"])
    with pytest.raises(normcli.UsageError, match="--norm or --scale"):
        normcli.normalize(df, norm="l1", scale="minmax")
    with pytest.raises(normcli.UsageError):
        normcli.Scaler.fit(df, "minmax", feature_range=(1, 0))
    with pytest.raises(normcli.UsageError):
        normcli.norm(df, to=[math.inf])
    with pytest.raises(normcli.UsageError, match="no such file"):
        normcli.normalize("/nonexistent/file.csv")
    with pytest.raises(TypeError):
        normcli.normalize([[1.0, 2.0]])  # type: ignore[arg-type]


def test_csv_path_error_names_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("x,y\n1,2\n3,oops\n")
    with pytest.raises(normcli.DataError) as info:
        normcli.normalize(src, columns=["x", "y"], chunk_rows=1)
    assert info.value.line == 3 and info.value.column == "y"


# -- the command line stays free of pandas ---------------------------------------------------
def test_cli_does_not_import_pandas(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n3,4\n")
    code = (
        "import sys\n"
        "from normcli.cli import main\n"
        "try:\n"
        f"    main(['normalize', {str(src)!r}, {str(tmp_path / 'out.csv')!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print('pandas' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                          check=True)
    assert proc.stdout.strip() == b"False"
    assert parse_csv((tmp_path / "out.csv").read_bytes())[0] == ["a", "b"]


def test_public_names() -> None:
    assert set(normcli.__all__) >= {"normalize", "norm", "fit", "predict", "Scaler", "Model",
                                    "DataError", "UsageError"}
    assert callable(normcli.normalize) and callable(normcli.fit)
    assert (Path(normcli.__file__).parent / "py.typed").exists()


def test_path_options_as_keywords(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("a;b;name\n3;-;x\n0;2;y\n")
    out = normcli.normalize(src, input_format="csv", delimiter=";", na_values=["-"])
    assert list(out.columns) == ["a", "b", "name"]
    np.testing.assert_array_equal(out["a"].to_numpy(), [1.0, 0.0])
    assert np.isnan(out["b"].to_numpy()[0]) and out["b"].to_numpy()[1] == 1.0
    assert list(out["name"]) == ["x", "y"]


def test_dataset_folder_dataframe_and_cli_agree(frame: pd.DataFrame, tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    parts = [frame.iloc[:70], frame.iloc[70:150], frame.iloc[150:]]
    for i, part in enumerate(parts):
        write_exact_csv(part[["id", *NUMERIC]], folder / f"part-{i}.csv")
    whole = frame[["id", *NUMERIC]]
    rows_api = normcli.normalize(whole, norm="l2")[NUMERIC].to_numpy()
    rows_dir = normcli.normalize(folder, norm="l2")[NUMERIC].to_numpy()
    rows_cli = out_matrix(invoke(["normalize", "--norm", "l2", str(folder)]), NUMERIC)
    np.testing.assert_array_equal(bits(rows_dir), bits(rows_api))
    np.testing.assert_array_equal(bits(rows_cli), bits(rows_api))
    z_api = normcli.normalize(whole, scale="zscore")[NUMERIC].to_numpy()
    z_dir = normcli.normalize(folder, scale="zscore")[NUMERIC].to_numpy()
    z_cli = out_matrix(invoke(["normalize", "--scale", "zscore", str(folder)]), NUMERIC)
    np.testing.assert_array_equal(bits(z_cli), bits(z_dir))
    # Three files are three chunks, the DataFrame one: the merged mean may differ in its last
    # bit, which (x - mean) / std magnifies by |mean| / std (2000 for 'c': -2 +- 0.001).
    X = whole[NUMERIC].to_numpy(dtype=np.float64)
    mean, std = np.nanmean(X, axis=0), np.nanstd(X, axis=0)
    bound = 4 * np.finfo(float).eps * np.maximum(1.0, np.abs(mean) / std)
    assert (np.abs(z_dir - z_api) <= bound + 1e-15 * np.abs(z_api))[~np.isnan(z_api)].all()
    assert bound[:3].max() < 1e-14  # the well-conditioned columns agree to rounding


@pytest.mark.parametrize("kw", [{"delimiter": ";"}, {"na_values": ["-999"]},
                                {"input_format": "csv"}, {"header": False}])
def test_reading_options_are_refused_for_frames(kw: dict) -> None:
    """Options that say how to read a file would be silently ignored for in-memory data."""
    df = pd.DataFrame({"a": [3.0, -999.0], "b": [4.0, 1.0]})
    with pytest.raises(normcli.UsageError, match="do not apply to a DataFrame"):
        normcli.normalize(df, **kw)
    with pytest.raises(normcli.UsageError):
        normcli.norm(pa.Table.from_pandas(df), **kw)
