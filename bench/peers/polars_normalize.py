"""Peer: polars lazy scan -> row-wise L2 normalize (or z-score) -> sink.

usage: python polars_normalize.py l2|zscore INPUT OUTPUT   (.csv or .parquet by extension)
"""

import sys

import polars as pl


def main() -> None:
    mode, src, dst = sys.argv[1:4]
    lf = pl.scan_parquet(src) if src.endswith(".parquet") else pl.scan_csv(src)
    schema = lf.collect_schema()
    num = [c for c, t in schema.items() if t.is_numeric()]
    if mode == "l2":
        norm = pl.sum_horizontal([pl.col(c) * pl.col(c) for c in num]).sqrt()
        lf = lf.with_columns([pl.col(c) / norm for c in num])
    elif mode == "zscore":
        lf = lf.with_columns(
            [(pl.col(c) - pl.col(c).mean()) / pl.col(c).std(ddof=0) for c in num]
        )
    else:
        raise SystemExit(f"unknown mode {mode}")
    if dst.endswith(".parquet"):
        lf.sink_parquet(dst)
    else:
        lf.sink_csv(dst)


if __name__ == "__main__":
    main()
