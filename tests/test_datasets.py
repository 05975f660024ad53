"""Datasets: a folder or a glob of files read as one table, hive partitions, folder outputs.

The reference for every dataset run is the same command on one file holding the files' rows
concatenated (written here with the csv module or pyarrow), and scikit-learn where numbers are
computed.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import (
    error_line,
    fail_json_outputs,
    invoke,
    out_matrix,
    parse_csv,
    run_main,
    write_csv,
)
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from normcli.io.dataset import Dataset
from normcli.io.formats import CsvDialect

SIZES = (100, 150, 50)  # rows per file; multiples of CHUNK, so chunks match the single file's
CHUNK = 50


def _rows(rng: np.random.Generator, n: int, start: int) -> list[list[object]]:
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 1e-3]
    y = X @ [1.5, -0.2, 300.0] + rng.normal(size=n)
    return [[float(a), float(b), float(c), f"id{start + i:05d}", float(t)]
            for i, ((a, b, c), t) in enumerate(zip(X, y, strict=True))]


HEADER = ["x1", "x2", "x3", "name", "y"]


@pytest.fixture
def csv_parts(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, Path, list[int]]:
    """A folder of three CSV files, and one file with their rows concatenated."""
    folder = tmp_path / "parts"
    folder.mkdir()
    everything: list[list[object]] = []
    for i, n in enumerate(SIZES):
        rows = _rows(rng, n, len(everything))
        write_csv(folder / f"part-{i}.csv", HEADER, rows)
        everything += rows
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".hidden.csv").write_bytes(b"not,the,same\n1,2,3\n")
    single = write_csv(tmp_path / "all.csv", HEADER, everything)
    return folder, single, list(SIZES)


def _hive_parquet(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, pa.Table]:
    """``data/year=2024|2025|2026/part-0.parquet`` and the concatenated table (no year)."""
    root = tmp_path / "data"
    tables = []
    for year, n in zip((2024, 2025, 2026), SIZES, strict=True):
        X = rng.normal(size=(n, 3))
        y = X @ [2.0, -1.0, 0.5] + 0.1 * rng.normal(size=n) + 3.0
        t = pa.table({"x1": X[:, 0], "x2": X[:, 1], "x3": (X[:, 2] * 10).round().astype(np.int32),
                      "y": y})
        (root / f"year={year}").mkdir(parents=True)
        pq.write_table(t, root / f"year={year}" / "part-0.parquet", row_group_size=50)
        tables.append(t)
    return root, pa.concat_tables(tables)


# -- reading ---------------------------------------------------------------------------------
def test_folder_rows_match_the_concatenated_file_byte_for_byte(csv_parts: tuple) -> None:
    folder, single, _ = csv_parts
    for args in (["normalize", "--norm", "l1"], ["norm", "--ord", "3"],
                 ["normalize", "--norm", "max", "--chunk-rows", "7"]):
        assert invoke([*args, str(folder)]) == invoke([*args, str(single)])


def test_zscore_over_the_folder_matches_the_single_file_and_sklearn(csv_parts: tuple) -> None:
    folder, single, _ = csv_parts
    args = ["normalize", "--scale", "zscore", "--chunk-rows", str(CHUNK)]
    got = invoke([*args, str(folder)])
    # The files' statistics are merged by a fixed tree (normcli/reduce.py, the same in every
    # engine), the single file's chunk by chunk: the same numbers to rounding, the same text.
    whole = invoke([*args, str(single)])
    np.testing.assert_allclose(out_matrix(got, ["x1", "x2", "x3", "y"]),
                               out_matrix(whole, ["x1", "x2", "x3", "y"]), rtol=1e-15,
                               atol=1e-15)
    assert [r[3] for r in parse_csv(got)] == [r[3] for r in parse_csv(whole)]
    raw = np.array([[float(c) for c in (r[0], r[1], r[2], r[4])]
                    for r in parse_csv(single.read_bytes())[1:]])
    expected = StandardScaler().fit_transform(raw)
    np.testing.assert_allclose(out_matrix(got, ["x1", "x2", "x3", "y"]), expected,
                               rtol=1e-13, atol=1e-15)
    # Chunks that do not line up with the files: the same numbers to rounding.
    other = invoke(["normalize", "--scale", "zscore", "--chunk-rows", "33", str(folder)])
    np.testing.assert_allclose(out_matrix(other, ["x1", "x2", "x3", "y"]), expected,
                               rtol=1e-13, atol=1e-15)


def test_a_glob_of_compressed_files(tmp_path: Path, csv_parts: tuple) -> None:
    folder, single, _ = csv_parts
    gz = tmp_path / "gz"
    gz.mkdir()
    for f in sorted(folder.glob("part-*.csv")):
        (gz / (f.name + ".gz")).write_bytes(gzip.compress(f.read_bytes()))
    (gz / "notes.txt").write_text("not data")
    got = invoke(["normalize", "--columns", "x1,x2", str(gz / "*.csv.gz")])
    assert got == invoke(["normalize", "--columns", "x1,x2", str(single)])


def test_files_are_read_in_sorted_path_order(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    (folder / "b").mkdir(parents=True)
    write_csv(folder / "b" / "x.csv", ["v"], [[3.0]])
    write_csv(folder / "a.csv", ["v"], [[1.0]])
    write_csv(folder / "b.csv", ["v"], [[2.0]])
    out = invoke(["norm", "--ord", "1", str(folder)])
    assert out == b"v,norm\n1.0,1\n2.0,2\n3.0,3\n"


def test_glob_levels(tmp_path: Path) -> None:
    for rel, v in (("a/x.csv", 1.0), ("a/b/y.csv", 2.0), ("z.csv", 3.0), ("a/b/c/w.tsv", 9.0)):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        write_csv(tmp_path / rel, ["v"], [[v]])
    def norms(pattern: str) -> bytes:
        return invoke(["norm", "--only", "--ord", "1", str(tmp_path) + "/" + pattern])
    assert norms("*/*.csv") == b"norm\n1\n"
    assert norms("**/*.csv") == b"norm\n2\n1\n3\n"  # a/b/y.csv < a/x.csv < z.csv
    assert norms("a/**/?.csv") == b"norm\n2\n1\n"
    code, _, err = run_main(["norm", str(tmp_path) + "/nothing/*.csv"])
    assert code == 2 and "no such folder" in error_line(err)
    code, _, err = run_main(["norm", str(tmp_path) + "/*.parquet"])
    assert code == 2 and "no files" in error_line(err)


def test_hive_partitions_become_columns(tmp_path: Path, rng: np.random.Generator) -> None:
    root, table = _hive_parquet(tmp_path, rng)
    out = tmp_path / "out.parquet"
    invoke(["norm", "--ord", "2", str(root), str(out)])
    got = pq.read_table(out)
    assert got.column_names == ["x1", "x2", "x3", "y", "year", "norm"]
    assert got.schema.field("year").type == pa.int64()
    assert got.column("year").to_pylist() == [2024] * 100 + [2025] * 150 + [2026] * 50
    # year is a label, not a measurement: the norm is over the files' own numeric columns
    X = np.column_stack([table.column(c).to_numpy().astype(float)
                         for c in ("x1", "x2", "x3", "y")])
    np.testing.assert_allclose(got.column("norm").to_numpy(), np.linalg.norm(X, axis=1),
                               rtol=1e-15)
    # ... but it can be named
    only = invoke(["norm", "--only", "--ord", "1", "--columns", "year", str(root)])
    assert parse_csv(only)[1:4] == [["2024"], ["2024"], ["2024"]]


def test_csv_partition_values_are_text(tmp_path: Path) -> None:
    for month, v in (("01", 1.0), ("11", 2.0)):
        folder = tmp_path / "d" / f"month={month}" / "city=New%20York"
        folder.mkdir(parents=True)
        write_csv(folder / "p.csv", ["v"], [[v]])
    out = invoke(["norm", "--ord", "1", str(tmp_path / "d")])
    assert out == b"v,month,city,norm\n1.0,01,New York,1\n2.0,11,New York,2\n"


def test_fit_on_a_hive_glob_matches_the_single_file_and_sklearn(
        tmp_path: Path, rng: np.random.Generator) -> None:
    root, table = _hive_parquet(tmp_path, rng)
    single = tmp_path / "all.parquet"
    pq.write_table(table, single, row_group_size=50)
    models = []
    for data in (str(root / "year=*" / "*.parquet"), str(single)):
        dest = tmp_path / f"model{len(models)}.json"
        invoke(["fit", "-y", "y", "--penalty", "l2", "--alpha", "0.5", "--chunk-rows", "50",
                data, str(dest)])
        models.append(json.loads(dest.read_text()))
    # statistics merged per file by a fixed tree: the single file's to rounding
    np.testing.assert_allclose(list(models[0]["coefficients"].values()),
                               list(models[1]["coefficients"].values()), rtol=1e-13)
    assert models[0]["intercept"] == pytest.approx(models[1]["intercept"], rel=1e-13)
    assert list(models[0]["coefficients"]) == ["x1", "x2", "x3"]  # not year
    X = np.column_stack([table.column(c).to_numpy().astype(float) for c in ("x1", "x2", "x3")])
    ref = Ridge(alpha=0.5, tol=1e-12).fit(X, table.column("y").to_numpy())
    np.testing.assert_allclose(list(models[0]["coefficients"].values()), ref.coef_, rtol=1e-9)


def test_cv_folds_are_those_of_the_concatenated_file(tmp_path: Path, csv_parts: tuple) -> None:
    folder, single, _ = csv_parts
    reports = []
    for data, chunk in ((folder, "50"), (single, "50"), (folder, "17")):
        dest = tmp_path / f"m{len(reports)}.json"
        invoke(["fit", "-q", "-y", "y", "--penalty", "l1", "--cv", "5", "--n-alphas", "8",
                "--chunk-rows", chunk, str(data), str(dest)])
        reports.append(json.loads(dest.read_text()))
    # the same folds (global row numbers); statistics merged per file by a fixed tree: the
    # same numbers to rounding
    for key in ("folds", "seed", "select"):
        assert reports[0]["cv"][key] == reports[1]["cv"][key]
    for key in ("alphas", "mse_mean", "mse_se"):
        np.testing.assert_allclose(reports[0]["cv"][key], reports[1]["cv"][key], rtol=1e-12)
    assert reports[0]["cv"]["alpha_min"] == pytest.approx(reports[1]["cv"]["alpha_min"],
                                                          rel=1e-13)
    np.testing.assert_allclose(list(reports[0]["coefficients"].values()),
                               list(reports[1]["coefficients"].values()), rtol=1e-9)
    # other chunk boundaries: the same folds (from global row numbers), the same numbers to
    # rounding (statistics merge in another order)
    np.testing.assert_allclose(reports[2]["cv"]["mse_mean"], reports[1]["cv"]["mse_mean"],
                               rtol=1e-12)
    assert reports[2]["cv"]["alpha_min"] == pytest.approx(reports[1]["cv"]["alpha_min"],
                                                          rel=1e-15)


def test_parquet_files_with_other_integer_widths_are_converted(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    pq.write_table(pa.table({"a": pa.array([1, 2], pa.int64())}), folder / "0.parquet")
    pq.write_table(pa.table({"a": pa.array([3], pa.int32())}), folder / "1.parquet")
    assert invoke(["norm", "--ord", "1", str(folder)]) == b"a,norm\n1,1\n2,2\n3,3\n"
    pq.write_table(pa.table({"a": pa.array(["x"])}), folder / "2.parquet")
    code, _, err = run_main(["norm", str(folder)])
    assert code == 1
    assert f"{folder / '2.parquet'}: its column types" in error_line(err)


# -- errors ----------------------------------------------------------------------------------
def test_a_bad_cell_names_its_file_and_physical_line(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    write_csv(folder / "a.csv", ["v", "w", "t"], [[1.0, 2.0, "s"]] * 5)
    (folder / "b.csv").write_text('v,w,t\n1,2,"x\ny"\n4,oops,z\n')
    code, out, err = run_main(["normalize", "--columns", "v,w", str(folder)])
    assert code == 1
    assert error_line(err) == (f"normcli: error: {folder / 'b.csv'}, line 4, column 'w': "
                               "not a number: 'oops'")


def test_files_must_agree_on_the_columns(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    write_csv(folder / "a.csv", ["v", "w"], [[1.0, 2.0]])
    write_csv(folder / "b.csv", ["w", "v"], [[1.0, 2.0]])
    code, _, err = run_main(["normalize", str(folder)])
    assert code == 1
    line = error_line(err)
    assert line.startswith(f"normcli: error: {folder / 'b.csv'}: its columns (w, v)")


@pytest.mark.parametrize("files, message", [
    ({}, "no files"),
    ({"a.csv": "v\n1\n", "b.parquet": None}, "a parquet file among csv files"),
    ({"a.csv": "v\n1\n", "notes.txt": "x"}, "not a file of a known format"),
])
def test_folders_that_are_not_one_dataset(tmp_path: Path, files: dict, message: str) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    for name, text in files.items():
        if text is None:
            pq.write_table(pa.table({"v": [1.0]}), folder / name)
        else:
            (folder / name).write_text(text)
    code, _, err = run_main(["normalize", str(folder)])
    assert code == 2
    assert message in error_line(err)


def test_partition_folders_must_agree(tmp_path: Path) -> None:
    (tmp_path / "d" / "year=1").mkdir(parents=True)
    write_csv(tmp_path / "d" / "year=1" / "a.csv", ["v"], [[1.0]])
    write_csv(tmp_path / "d" / "b.csv", ["v"], [[1.0]])
    code, _, err = run_main(["normalize", str(tmp_path / "d")])
    assert code == 1
    assert "partition folders" in error_line(err)


# -- units for an engine ---------------------------------------------------------------------
def test_units_are_files_and_row_groups_in_row_order(tmp_path: Path,
                                                     rng: np.random.Generator) -> None:
    root, _ = _hive_parquet(tmp_path, rng)
    units = Dataset.discover(str(root), None).units()
    assert [(u.file.relative, u.row_group, u.row_start, u.num_rows) for u in units] == [
        ("year=2024/part-0.parquet", 0, 0, 50), ("year=2024/part-0.parquet", 1, 50, 50),
        ("year=2025/part-0.parquet", 0, 100, 50), ("year=2025/part-0.parquet", 1, 150, 50),
        ("year=2025/part-0.parquet", 2, 200, 50), ("year=2026/part-0.parquet", 0, 250, 50),
    ]
    assert [u.file.partition for u in units][::2] == [("2024",), ("2025",), ("2025",)]


def _chunks(reader: object) -> list[tuple[int, pa.Table]]:
    return [(c.row_start, pa.Table.from_batches([c.batch])) for c in reader]  # type: ignore


def test_unit_readers_give_the_dataset_s_rows(tmp_path: Path, rng: np.random.Generator) -> None:
    root, table = _hive_parquet(tmp_path, rng)
    ds = Dataset.discover(str(root), None)
    dialect = CsvDialect()
    whole = _chunks(ds.reader(dialect, 20))
    pieces = [c for u in ds.units() for c in _chunks(ds.unit_reader(u, dialect, 20))]
    sizes = [t.num_rows for _, t in pieces]  # chunks end at row-group ends: 20, 20, 10, ...
    assert sizes[:3] == [20, 20, 10]
    assert [r for r, _ in pieces] == [sum(sizes[:k]) for k in range(len(sizes))]
    assert pa.concat_tables(t for _, t in pieces).equals(pa.concat_tables(t for _, t in whole))
    assert pa.concat_tables(t for _, t in pieces).drop_columns(["year"]).equals(table)
    unit = ds.units()[3]  # the second row group of year=2025: file rows 50..99
    reader = ds.unit_reader(unit, dialect)
    list(reader)
    err = reader.error_at(unit.row_start + 7, "x1", "boom")
    assert str(err) == f"{root / 'year=2025' / 'part-0.parquet'}, column 'x1': row 58: boom"


def test_csv_units_are_files(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    write_csv(folder / "a.csv", ["v"], [[1.0], [2.0]])
    (folder / "b.csv").write_text("v\n3\n\n4\n")
    ds = Dataset.discover(str(folder), None)
    units = ds.units()
    assert [(u.file.relative, u.row_group, u.row_start) for u in units] == [
        ("a.csv", None, 0), ("b.csv", None, None)]
    reader = ds.unit_reader(units[1], CsvDialect())
    assert [c.batch.column(0).to_pylist() for c in reader] == [["3", "4"]]
    assert reader.error_at(1, "v", "bad").line == 4  # b.csv's physical line


# -- folder outputs --------------------------------------------------------------------------
def _split(data: bytes, sizes: list[int]) -> list[bytes]:
    """A CSV output cut into parts of ``sizes`` rows, each with the header."""
    lines = data.decode().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    out, start = [], 0
    for n in sizes:
        out.append((header + "".join(body[start:start + n])).encode())
        start += n
    return out


def test_folder_output_one_part_per_file_with_whole_dataset_statistics(
        tmp_path: Path, csv_parts: tuple) -> None:
    folder, single, sizes = csv_parts
    args = ["normalize", "--scale", "zscore", "--chunk-rows", str(CHUNK)]
    dest = tmp_path / "out"
    invoke([*args, str(folder), str(dest) + "/"])
    assert sorted(os.listdir(dest)) == ["part-0.csv", "part-1.csv", "part-2.csv"]
    whole = invoke([*args, str(single)])
    parts = [(dest / f"part-{i}.csv").read_bytes() for i in range(3)]
    cols = ["x1", "x2", "x3", "y"]
    for got, expected in zip(parts, _split(whole, sizes), strict=True):  # to rounding (tree)
        np.testing.assert_allclose(out_matrix(got, cols), out_matrix(expected, cols),
                                   rtol=1e-15, atol=1e-15)
        assert [r[3] for r in parse_csv(got)] == [r[3] for r in parse_csv(expected)]
    assert [n for n in os.listdir(tmp_path) if n.endswith(".normcli-tmp")] == []


def test_folder_output_keeps_hive_folders_and_leaves_partitions_out(
        tmp_path: Path, rng: np.random.Generator) -> None:
    root, table = _hive_parquet(tmp_path, rng)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    invoke(["normalize", "--norm", "l2", str(root), str(dest)])
    assert (dest / "keep.txt").read_text() == "mine"
    back = pq.read_table(dest / "year=2025" / "part-0.parquet")
    assert back.column_names == ["x1", "x2", "x3", "y"]
    assert back.num_rows == 150
    # read back as a dataset, the parts are the single-file output, year column included
    whole = tmp_path / "whole.parquet"
    invoke(["normalize", "--norm", "l2", str(root), str(whole)])
    again = tmp_path / "again.parquet"
    invoke(["norm", "--columns", "x1", str(dest / "year=*" / "*.parquet"), str(again)])
    assert pq.read_table(again).drop_columns(["norm"]).equals(pq.read_table(whole))
    X = np.column_stack([table.column(c).to_numpy().astype(float)
                         for c in ("x1", "x2", "x3", "y")])
    np.testing.assert_allclose(
        pq.read_table(whole).select(["x1", "x2", "x3", "y"]).to_pandas().to_numpy(),
        X / np.linalg.norm(X, axis=1)[:, None], rtol=1e-15)


def test_folder_output_in_another_format_and_empty_files(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.tsv").write_text("v\tw\n3\t4\n")
    (folder / "sub" / "b.tsv.gz").write_bytes(gzip.compress(b"v\tw\n"))
    dest = tmp_path / "out"
    invoke(["normalize", str(folder), str(dest) + "/", "--output-format", "json"])
    assert json.loads((dest / "a.json").read_text()) == [{"v": 0.6, "w": 0.8}]
    assert json.loads((dest / "sub" / "b.json").read_text()) == []
    invoke(["normalize", str(folder), str(tmp_path / "tsv") + "/"])
    assert (tmp_path / "tsv" / "a.tsv").read_bytes() == b"v\tw\n0.6\t0.8\n"
    assert (tmp_path / "tsv" / "sub" / "b.tsv").read_bytes() == b"v\tw\n"


def test_folder_output_is_all_or_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    write_csv(folder / "a.csv", ["v"], [[1.0]] * 10)
    (folder / "b.csv").write_text("v\n1\nbad\n")
    for dest in (tmp_path / "new", tmp_path / "old"):
        if dest.name == "old":
            dest.mkdir()
            (dest / "a.csv").write_text("before")
        code, _, err = run_main(["normalize", "--norm", "l1", "--chunk-rows", "2", str(folder),
                                 str(dest) + "/"])
        assert code == 1, err
        assert "b.csv, line 3" in error_line(err)
        if dest.name == "new":
            assert not dest.exists()
        else:
            assert os.listdir(dest) == ["a.csv"]
            assert (dest / "a.csv").read_text() == "before"
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith(".normcli-tmp")) == []


def test_folder_output_and_saved_params_commit_together(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # --save-params failing at the end: the folder of parts must not appear either
    folder = tmp_path / "d"
    folder.mkdir()
    write_csv(folder / "a.csv", ["v"], [[1.0], [3.0]])
    fail_json_outputs(monkeypatch)
    out, params = tmp_path / "out", tmp_path / "p.json"
    code, _, err = run_main(["normalize", "--scale", "zscore", "--save-params", str(params),
                             str(folder), str(out) + "/"])
    assert code == 1 and "No space left" in error_line(err)
    assert not out.exists() and not params.exists()
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith(".normcli-tmp")) == []
    monkeypatch.undo()
    code, _, err = run_main(["normalize", "--scale", "zscore", "--save-params", str(params),
                             str(folder), str(out) + "/"])
    assert code == 0, err
    assert (out / "a.csv").read_text() == "v\n-1\n1\n"
    assert json.loads(params.read_text())["kind"] == "zscore"


def test_folder_output_refusals(tmp_path: Path, csv_parts: tuple) -> None:
    folder, single, _ = csv_parts
    code, _, err = run_main(["normalize", str(single), str(tmp_path / "o") + "/"])
    assert code == 2 and "needs a dataset input" in error_line(err)
    code, _, err = run_main(["normalize", str(folder), str(folder)])
    assert code == 2 and "would replace an input file" in error_line(err)
    code, _, err = run_main(["normalize", str(folder), str(folder / "part-1.csv")])
    assert code == 2 and "the output is a file of the input" in error_line(err)
    code, _, err = run_main(["norm", "--axis", "columns", str(folder), str(tmp_path / "c") + "/"])
    assert code == 2 and "one table" in error_line(err)
    assert not (tmp_path / "c").exists()
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith(".normcli-tmp")) == []


@pytest.mark.parametrize("fmt", ["parquet", "json", "jsonl"])
def test_folder_output_with_named_fields_refuses_repeated_names(tmp_path: Path, fmt: str) -> None:
    # A JSON Lines object holds a name once: the first 'a' would be lost from every part.
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "p1.csv").write_text("a,a,b\nx,y,3\n")
    code, _, err = run_main(["normalize", "--columns", "b", "--output-format", fmt, str(folder),
                             str(tmp_path / "o") + "/"])
    assert code == 2 and "column name 'a' is repeated" in error_line(err)
    assert not (tmp_path / "o").exists()


def test_folder_output_refuses_a_used_partition_column(tmp_path: Path,
                                                       rng: np.random.Generator) -> None:
    root, _ = _hive_parquet(tmp_path, rng)
    code, _, err = run_main(["normalize", "--scale", "minmax", "--columns", "x1,year", str(root),
                             str(tmp_path / "o") + "/"])
    assert code == 2 and "partition column 'year' is in use" in error_line(err)


def test_csv_module_reads_the_parts(tmp_path: Path, csv_parts: tuple) -> None:
    """Parts are ordinary CSV files (header, same columns as the input)."""
    folder, _, sizes = csv_parts
    dest = tmp_path / "p"
    invoke(["predict", "--model", str(_model(tmp_path)), str(folder), str(dest) + "/"])
    for i, n in enumerate(sizes):
        rows = list(csv.reader(io.StringIO((dest / f"part-{i}.csv").read_text())))
        assert rows[0] == [*HEADER, "prediction"]
        assert len(rows) == n + 1


def _model(tmp_path: Path) -> Path:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"coefficients": {"x1": 1.0, "x2": 2.0}, "intercept": 0.5}))
    return path



@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_folder_output_leaves_nothing(tmp_path: Path, big_csv: Path, sig: int,
                                                     code: int) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        os.symlink(big_csv, folder / f"part-{i}.csv")
    dest = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.Popen([sys.executable, "-m", "normcli", "normalize", "--scale", "zscore",
                             str(folder), str(dest) + "/"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def writing() -> bool:  # the second pass has started writing its first part
        return any(n.endswith(".normcli-tmp") and (tmp_path / n / "part-0.csv").exists()
                   for n in os.listdir(tmp_path))

    deadline = time.monotonic() + 120
    while not writing():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.skip("the run finished before it could be interrupted")
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == code
    assert error_line(err.decode()).startswith("normcli: error: ")
    assert not dest.exists()
    assert [n for n in os.listdir(tmp_path) if n.endswith(".normcli-tmp")] == []


def test_a_partition_key_that_is_also_a_column(tmp_path: Path) -> None:
    (tmp_path / "d" / "v=1").mkdir(parents=True)
    write_csv(tmp_path / "d" / "v=1" / "a.csv", ["v"], [[1.0]])
    code, _, err = run_main(["normalize", str(tmp_path / "d")])
    assert code == 1
    assert "the partition folder 'v' is also a column of the files" in error_line(err)
