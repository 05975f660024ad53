"""Gaps found reviewing the session's merge (startup, polish, floats): options that the one rule
("an option that does not apply is refused, never silently ignored") had missed."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import error_line, run_main

from normcli.errors import UsageError


@pytest.mark.parametrize("engine", [[], ["--engine", "dask"]], ids=["local", "dask"])
def test_save_params_with_a_compression_suffix_is_refused(tmp_path: Path,
                                                          engine: list[str]) -> None:
    # Output is never compressed: like OUTPUT and fit --path, --save-params p.json.gz used to
    # receive plain JSON under a gzip name (exit 0). Refused before the input is read (with
    # Dask it does not even exist: no cluster is started), nothing written.
    params = tmp_path / "p.json.gz"
    out = tmp_path / "o.csv"
    src = tmp_path / ("missing.csv" if engine else "in.csv")
    if not engine:
        src.write_text("a,b\n1,2\n3,5\n")
    code, stdout, err = run_main(["normalize", "--scale", "minmax", *engine, "--save-params",
                                  str(params), str(src), str(out)])
    assert code == 2
    assert error_line(err) == (f"normcli: error: --save-params {params}: normcli does not "
                               "compress its output; name the file p.json and compress it "
                               "afterwards (or write to standard output and pipe it through "
                               "a compressor)")
    assert stdout == b""
    assert not params.exists() and not out.exists()


def test_dask_column_norms_of_a_dask_dataframe_refuse_reading_options() -> None:
    # normcli.dask.norm(ddf, axis="columns", delimiter=";") went on to start a cluster and
    # ignored the option; every other function refuses it for a dask DataFrame.
    dd = pytest.importorskip("dask.dataframe")
    pytest.importorskip("distributed")
    import pandas as pd

    import normcli.dask as nd

    ddf = dd.from_pandas(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}), npartitions=1)
    for option, value in (("delimiter", ";"), ("na_values", ["x"]), ("header", False)):
        with pytest.raises(UsageError, match=f"^{option}: these say how to read or write "
                           "files; they do not apply to a dask DataFrame"):
            nd.norm(ddf, axis="columns", scheduler="tcp://127.0.0.1:9", **{option: value})
        # the other routes refuse it too (the rule is the same everywhere)
        with pytest.raises(UsageError, match=f"^{option}: these say how to read"):
            nd.scaler(ddf, "minmax", scheduler="tcp://127.0.0.1:9", **{option: value})
