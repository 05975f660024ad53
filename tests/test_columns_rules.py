"""Which columns are used: missing spellings, ambiguous columns, repeated header names, saved
parameters that describe themselves, and messages that lead to the fix (issue 10, items 3, 5-7).

References are independent: pandas' own missing-value list and reader, scikit-learn's scalers and
``normalize``, hand-worked lines and texts.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import out_matrix, parse_csv, run_main
from sklearn.preprocessing import MinMaxScaler, StandardScaler, normalize

from normcli.columns import NA_VALUES


def ok(args: list[str], input: bytes | None = None) -> bytes:
    code, out, err = run_main(args, input=input)
    assert (code, err) == (0, ""), (code, err)
    return out


def fails(args: list[str], status: int, input: bytes | None = None) -> str:
    """Run, expect ``status`` and one ``normcli: error:`` line; return the message after it."""
    code, out, err = run_main(args, input=input)
    assert code == status, (code, err)
    assert out == b""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("normcli: error: "), err
    return lines[0].removeprefix("normcli: error: ")


def l2_rows(X: np.ndarray) -> np.ndarray:
    """scikit-learn's row normalization over each row's present values (missing stays)."""
    out = normalize(np.nan_to_num(X, nan=0.0), norm="l2")
    out[np.isnan(X)] = np.nan
    return out


# -- item 3: missing spellings, ambiguous columns --------------------------------------------

def test_missing_spellings_are_pandas_defaults() -> None:
    from pandas._libs.parsers import STR_NA_VALUES

    assert set(NA_VALUES) == set(STR_NA_VALUES)
    assert len(NA_VALUES) == len(set(NA_VALUES))


SPELLINGS = ["n/a", "None", "#N/A", "<NA>", "-1.#IND", "#NA", "NULL", "-nan", "#N/A N/A"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_pandas_spelling_is_missing_in_a_used_column(spelling: str) -> None:
    data = f"id,x,y\nr1,3,4\nr2,{spelling},2\nr3,1,1\n".encode()
    out = ok(["normalize", "-"], input=data)
    frame = pd.read_csv(io.BytesIO(data))  # pandas' reading is the reference
    assert frame["x"].isna().tolist() == [False, True, False]
    expected = l2_rows(frame[["x", "y"]].to_numpy(dtype=np.float64))
    got = out_matrix(out, ["x", "y"])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    assert [r[0] for r in parse_csv(out)[1:]] == ["r1", "r2", "r3"]


def test_number_and_text_in_first_chunk_is_refused_naming_line_column_text() -> None:
    data = b'id,x,y\na,1,2\nb,2,3\nc,"1,234",4\n'
    msg = fails(["normalize", "-"], 1, input=data)
    assert msg == ("<stdin>, line 4, column 'x': '1,234' is not a number, but the column holds "
                   "numbers too: pass it through with --exclude x, or choose the columns to use "
                   "with --columns")


@pytest.mark.parametrize("text", ["1_000", "12 kg", "-", "?", "missing", " "])
def test_other_stray_texts_are_ambiguous_too(text: str) -> None:
    data = f"x,y\n1,2\n{text},3\n".encode()
    msg = fails(["norm", "-"], 1, input=data)
    assert msg.startswith(f"<stdin>, line 3, column 'x': {text!r} is not a number")


def test_ambiguous_column_settled_by_exclude_or_columns() -> None:
    data = b'id,x,y,z\na,1,3,4\nb,"1,234",0,2\n'
    expected = [["id", "x", "y", "z"], ["a", "1", "0.6", "0.8"], ["b", "1,234", "0", "1"]]
    assert parse_csv(ok(["normalize", "--exclude", "x", "-"], input=data)) == expected
    assert parse_csv(ok(["normalize", "--columns", "y,z", "-"], input=data)) == expected
    # named in --columns: the usual not-a-number error at its line
    msg = fails(["normalize", "--columns", "x,y", "-"], 1, input=data)
    assert msg == "<stdin>, line 3, column 'x': not a number: '1,234'"


def test_excluding_another_column_does_not_settle_it() -> None:
    data = b"x,y,z\n1,2,3\nfoo,3,4\n"
    msg = fails(["normalize", "--exclude", "z", "-"], 1, input=data)
    assert msg.startswith("<stdin>, line 3, column 'x': 'foo' is not a number")


def test_ambiguous_target_or_feature_in_fit() -> None:
    data = b"x,y\n1,2\n2,n.a.\n3,5\n"
    assert fails(["fit", "-y", "y", "-"], 1, input=data) == (
        "<stdin>, line 3, column 'y': not a number: 'n.a.'")
    data = b"x,z,y\n1,1,2\n2,oops,3\n3,2,5\n"
    assert fails(["fit", "-y", "y", "-"], 1, input=data).startswith(
        "<stdin>, line 3, column 'z': 'oops' is not a number")
    out = ok(["fit", "-y", "y", "--penalty", "none", "--exclude", "z", "-"], input=data)
    assert [r[0] for r in parse_csv(out)] == ["term", "(intercept)", "x"]


def test_inf_is_a_number_not_text() -> None:
    out = ok(["norm", "--ord", "max", "--only", "-"], input=b"x,y\n1,2\ninf,3\n-Infinity,1\n")
    assert parse_csv(out) == [["norm"], ["2"], ["inf"], ["inf"]]


def test_text_and_identifier_columns_still_pass_through() -> None:
    data = (b"zip,post,big,name,x\n"
            b"00501,K1A 0B1,123456789012345678901,ann,3\n"
            b"02134,02134,5,bob,4\n")
    out = ok(["normalize", "--norm", "l1", "-"], input=data)
    rows = parse_csv(out)
    assert [r[:4] for r in rows[1:]] == [["00501", "K1A 0B1", "123456789012345678901", "ann"],
                                         ["02134", "02134", "5", "bob"]]
    assert [r[4] for r in rows[1:]] == ["1", "1"]


def test_na_values_replaces_the_list_on_every_command(tmp_path: Path) -> None:
    data = b"x,y\n3,-999\n4,4\n-999,5\n"
    out = ok(["normalize", "--na-values", "-999", "-"], input=data)
    X = np.array([[3.0, np.nan], [4.0, 4.0], [np.nan, 5.0]])
    np.testing.assert_allclose(out_matrix(out), l2_rows(X), rtol=1e-15)
    out = ok(["norm", "--only", "--ord", "1", "--na-values", "-999", "-"], input=data)
    assert parse_csv(out) == [["norm"], ["3"], ["8"], ["5"]]
    model = tmp_path / "m.json"
    fit_data = b"x,y\n1,2\n2,4\n-999,7\n3,6\n"
    ok(["fit", "-y", "y", "--penalty", "none", "--drop-missing", "-q", "--na-values", "-999",
        "-", str(model)], input=fit_data)
    coef = json.loads(model.read_text())["coefficients"]
    np.testing.assert_allclose(coef["x"], 2.0, rtol=1e-12)
    out = ok(["predict", "--model", str(model), "--na-values", "-999", "-"], input=b"x\n-999\n5\n")
    assert [r[1] for r in parse_csv(out)[1:]][0] == ""
    np.testing.assert_allclose(float(parse_csv(out)[2][1]), 10.0, rtol=1e-12)
    # the defaults are replaced: 'n/a' is now text, so the column is ambiguous
    msg = fails(["normalize", "--na-values", "-999", "-"], 1, input=b"x,y\n1,2\nn/a,3\n")
    assert msg.startswith("<stdin>, line 3, column 'x': 'n/a' is not a number")
    # an empty cell stays missing whatever the list
    out = ok(["normalize", "--na-values", "?", "-"], input=b"x,y\n?,2\n,3\n4,3\n")
    assert parse_csv(out) == [["x", "y"], ["", "1"], ["", "1"], ["0.8", "0.6"]]


def test_verbose_names_the_columns_used() -> None:
    code, _, err = run_main(["normalize", "-v", "-"],
                            input=b"id,zip,x,mixed,y\na,00501,3,1,4\nb,02134,0,q,0\n")
    assert code == 1  # 'mixed' is ambiguous
    code, _, err = run_main(["normalize", "-v", "--exclude", "mixed", "-"],
                            input=b"id,zip,x,mixed,y\na,00501,3,1,4\nb,02134,0,q,0\n")
    assert code == 0
    assert err.splitlines()[1] == ("normcli: columns used: x, y; passed through: id (text), "
                                   "zip (identifier), mixed (numbers and text)")


# -- item 5: repeated header names --------------------------------------------------------

RFC = b"field_name,field_name,field_name,x,y\naaa,bbb,ccc,3,4\nzzz,yyy,xxx,0,1\n"


def test_repeated_names_pass_through_when_not_used() -> None:
    out = ok(["normalize", "-"], input=RFC)
    assert parse_csv(out) == [["field_name", "field_name", "field_name", "x", "y"],
                              ["aaa", "bbb", "ccc", "0.6", "0.8"], ["zzz", "yyy", "xxx", "0", "1"]]
    out = ok(["norm", "--only", "-"], input=RFC)
    assert parse_csv(out) == [["norm"], ["5"], ["1"]]


def test_using_or_naming_a_repeated_name_is_an_error() -> None:
    data = b"a,a,y\n1,2,3\n4,5,6\n"
    assert fails(["normalize", "-"], 1, input=data) == (
        "<stdin>: column name 'a' is repeated in the header (columns 1 and 2) and holds numbers: "
        "rename the columns, or pass them through with --exclude a")
    for args in (["normalize", "--columns", "a"], ["fit", "-y", "a"],
                 ["fit", "-y", "y", "--weights", "a"]):
        msg = fails([*args, "-"], 2, input=data)
        assert msg.startswith("column name 'a' is repeated in the header (columns 1 and 2)"), msg
    out = ok(["normalize", "--exclude", "a", "-"], input=data)
    assert parse_csv(out) == [["a", "a", "y"], ["1", "2", "1"], ["4", "5", "1"]]


def test_repeated_names_refused_in_parquet_and_json_output(tmp_path: Path) -> None:
    for ext in ("parquet", "json"):
        msg = fails(["normalize", "-", str(tmp_path / f"o.{ext}")], 2, input=RFC)
        assert "'field_name' is repeated" in msg
        assert not (tmp_path / f"o.{ext}").exists()


# -- item 6: --params describes itself -----------------------------------------------------

TRAIN = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, -20.0], [2.0, 0.0]])
NEW = np.array([[0.0, 100.0], [4.0, 5.0], [6.0, -30.0]])


def _csv(X: np.ndarray) -> bytes:
    return ("a,b\n" + "".join(f"{float(r[0])!r},{float(r[1])!r}\n" for r in X)).encode()


def test_params_alone_applies_the_saved_minmax_range_and_clip(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    ok(["normalize", "--scale", "minmax", "--range", "-1,1", "--clip", "--save-params", str(p),
        "-", str(tmp_path / "o.csv")], input=_csv(TRAIN))
    out = ok(["normalize", "--params", str(p), "-"], input=_csv(NEW))
    ref = MinMaxScaler(feature_range=(-1, 1), clip=True).fit(TRAIN).transform(NEW)
    np.testing.assert_allclose(out_matrix(out), ref, rtol=1e-14, atol=1e-15)


def test_params_alone_zscore_and_column_norms(tmp_path: Path) -> None:
    p = tmp_path / "z.json"
    ok(["normalize", "--scale", "zscore", "--save-params", str(p), "-", str(tmp_path / "o.csv")],
       input=_csv(TRAIN))
    out = ok(["normalize", "--params", str(p), "-"], input=_csv(NEW))
    ref = StandardScaler().fit(TRAIN).transform(NEW)
    np.testing.assert_allclose(out_matrix(out), ref, rtol=1e-13, atol=1e-15)
    q = tmp_path / "n.json"
    ok(["normalize", "--axis", "columns", "--norm", "l1", "--save-params", str(q), "-",
        str(tmp_path / "o.csv")], input=_csv(TRAIN))
    out = ok(["normalize", "--params", str(q), "-"], input=_csv(NEW))
    np.testing.assert_allclose(out_matrix(out), NEW / np.abs(TRAIN).sum(axis=0), rtol=1e-15)


def test_params_contradicted_by_options_is_a_usage_error(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    ok(["normalize", "--scale", "zscore", "--save-params", str(p), "-", str(tmp_path / "o.csv")],
       input=_csv(TRAIN))
    assert fails(["normalize", "--scale", "minmax", "--params", str(p), "-"], 2,
                 input=_csv(NEW)) == (f"--scale minmax, but {p} holds zscore parameters "
                                      "(leave out --scale to apply them)")
    assert fails(["normalize", "--params", str(p), "--range", "0,2", "-"], 2,
                 input=_csv(NEW)).startswith("--range applies to --scale minmax only")


@pytest.mark.parametrize("args", [
    ["--range", "-1,1"], ["--clip"], ["--no-clip"], ["--scale", "zscore", "--range", "0,2"],
    ["--scale", "maxabs", "--clip"], ["--axis", "columns", "--range", "0,2"],
])
def test_range_and_clip_need_minmax(args: list[str]) -> None:
    msg = fails(["normalize", *args, "-"], 2, input=b"a,b\n1,2\n")
    assert "applies to --scale minmax only" in msg


# -- item 7: messages that lead to the fix -------------------------------------------------

def test_unknown_column_lists_close_matches_and_columns() -> None:
    data = b"price,units,label\n1,2,x\n"
    assert fails(["normalize", "--columns", "prise", "-"], 2, input=data) == (
        "no column named 'prise' in the input; did you mean 'price'? "
        "(columns: price, units, label)")
    assert fails(["fit", "-y", "unit", "-"], 2, input=data) == (
        "no target column named 'unit' in the input; did you mean 'units'? "
        "(columns: price, units, label)")


def test_header_with_spaces_is_named_in_the_message_and_can_be_named() -> None:
    data = b"a, b\n1, 2\n3, 4\n"
    msg = fails(["normalize", "--columns", "b", "-"], 2, input=data)
    assert msg == ("no column named 'b' in the input; the header has ' b', with spaces: name it "
                   "with them, e.g. ' b' (columns: a, ' b')")
    out = ok(["norm", "--only", "--ord", "1", "--columns", " b", "-"], input=data)
    assert parse_csv(out) == [["norm"], ["2"], ["4"]]


@pytest.mark.parametrize("sep,shown", [(";", "';'"), ("\t", "tab"), ("|", "'|'")])
def test_one_column_header_with_another_separator_suggests_delimiter(sep: str,
                                                                     shown: str) -> None:
    data = f"a{sep}b\n1{sep}2\n".encode()
    msg = fails(["normalize", "-"], 2, input=data)
    assert msg.endswith(f"the header is one column {'a' + sep + 'b'!r}: if the separator is "
                        f"{shown}, give --delimiter {shown}")


def test_columns_naming_a_text_column_says_line_and_text() -> None:
    data = b"id,x\n,1\nabc,2\n"
    assert fails(["normalize", "--columns", "id,x", "-"], 2, input=data) == (
        "<stdin>, line 3, column 'id': --columns names a column that does not hold numbers "
        "('abc' is not a number)")
    assert fails(["fit", "-y", "id", "-"], 2, input=data) == (
        "<stdin>, line 3, column 'id': -y/--target names a column that does not hold numbers "
        "('abc' is not a number)")


def test_cv_with_dropped_rows_says_which_folds_are_empty() -> None:
    # Folds are assigned by row position (rows 0-4 are one shuffled block of the 5 folds); the
    # missing row 4 leaves its fold empty unless row 5 falls in the same fold.
    from normcli.regression.cv import fold_ids

    ids = fold_ids(0, 6, 5, 0)
    assert ids[5] != ids[4]  # the premise of this input (seed 0)
    data = b"x,y\n1,2\n2,3\n3,5\n4,4\n5,\n6,7\n"
    msg = fails(["fit", "-y", "y", "--cv", "5", "--drop-missing", "-"], 1, input=data)
    assert msg == ("--cv 5: 1 of the 5 folds has no rows: folds are assigned by row position "
                   "before rows with missing values are dropped, and the 5 rows left after "
                   "dropping 1 fall in only 4 folds; use fewer folds, --fold-column, or more rows")
    assert fails(["fit", "-y", "y", "--cv", "5", "-"], 1, input=b"x,y\n1,2\n2,3\n3,5\n") == (
        "--cv 5 needs at least 5 rows, one per fold (there are 3)")


@pytest.mark.parametrize("data", [b"\n", b"\n\n\n", b"\r\n\r\n", b"\xef\xbb\xbf\n\n"])
def test_blank_lines_only_is_an_empty_input(data: bytes) -> None:
    assert fails(["normalize", "-"], 1, input=data) == fails(["normalize", "-"], 1, input=b"")
    assert fails(["normalize", "-"], 1, input=data) == (
        "<stdin>: the input is empty (no header row)")



# -- the first-chunk classification agrees with parsing ----------------------------------------

TRICKY = ["1", "-2", "+3", ".5", "5.", "1e5", "1E+5", "1e-400", "1e400", "inf", "-Inf",
          "INFINITY", "nan", "NaN", " 7 ", "\t8", "1e", "e5", ".", "-", "+", "1,234", "1_000",
          "0x10", "1d5", "1.2.3", "١٢", "infinit", "abc", "", " ", "00501", "-007",
          "1234567890123456", "123456789012345", "NA", "n/a", "None", "#N/A", "true"]


def _python_kind(cell: str) -> str:
    """Independent reference: the pandas list for missing, Python's float() for numbers (in
    ASCII, without the digit separator ``_`` that Python allows and float64 readers do not)."""
    if cell in NA_VALUES:
        return "missing"
    if not cell.strip() or "_" in cell or not cell.isascii():
        return "text"
    try:
        float(cell)
    except ValueError:
        return "text"
    return "number"


def test_each_cell_is_classified_as_python_reads_it() -> None:
    import pyarrow as pa

    from normcli.columns import classify_text

    for cell in TRICKY:
        kinds = classify_text([pa.array([cell, "1"])], pa.array(list(NA_VALUES), pa.string()))
        kind = _python_kind(cell)
        if kind == "text":
            assert kinds.first_text == [0] and kinds.ambiguous == [True], cell
        else:
            assert kinds.first_text == [-1], cell


def test_wide_first_chunk_classified_column_by_column() -> None:
    import pyarrow as pa

    from normcli.columns import classify_text

    rng = np.random.default_rng(5)
    k, n = 3000, 4
    cells = rng.choice(TRICKY, size=(k, n))
    kinds = classify_text([pa.array(list(col)) for col in cells],
                          pa.array(list(NA_VALUES), pa.string()))
    for j, col in enumerate(cells):
        ref = [_python_kind(c) for c in col]
        text = [i for i, r in enumerate(ref) if r == "text"]
        assert kinds.first_text[j] == (text[0] if text else -1)
        assert kinds.has_number[j] == ("number" in ref)
        assert kinds.parses[j] == (not text)
