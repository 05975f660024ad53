"""Peer: DuckDB COPY (SELECT ...) TO ... -- row-wise L2 normalize (or two-pass z-score).

usage: python duckdb_normalize.py l2|zscore INPUT OUTPUT   (.csv or .parquet by extension)
"""

import sys

import duckdb


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def main() -> None:
    mode, src, dst = sys.argv[1:4]
    con = duckdb.connect()
    reader = "read_parquet" if src.endswith(".parquet") else "read_csv"
    rel = f"{reader}('{src}')"
    cols = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
    numeric = {"DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT"}
    num = [name for name, typ, *_ in cols if typ in numeric or typ.startswith("DECIMAL")]
    if mode == "l2":
        norm = "sqrt(" + " + ".join(f"{q(c)}*{q(c)}" for c in num) + ")"
        sel = ", ".join(
            f"{q(name)} / {norm} AS {q(name)}" if name in num else q(name) for name, *_ in cols
        )
        sql = f"SELECT {sel} FROM {rel}"
    elif mode == "zscore":
        stats = ", ".join(
            f"avg({q(c)}) AS m_{i}, stddev_pop({q(c)}) AS s_{i}" for i, c in enumerate(num)
        )
        idx = {c: i for i, c in enumerate(num)}
        sel = ", ".join(
            f"({q(name)} - m_{idx[name]}) / s_{idx[name]} AS {q(name)}" if name in idx else q(name)
            for name, *_ in cols
        )
        sql = f"WITH s AS (SELECT {stats} FROM {rel}) SELECT {sel} FROM {rel}, s"
    else:
        raise SystemExit(f"unknown mode {mode}")
    opts = "(FORMAT parquet)" if dst.endswith(".parquet") else "(HEADER)"
    con.execute(f"COPY ({sql}) TO '{dst}' {opts}")


if __name__ == "__main__":
    main()
