"""Peer: pandas read -> sklearn.preprocessing.normalize (or StandardScaler) -> pandas write.

usage: python sklearn_normalize.py l2|zscore INPUT OUTPUT   (.csv or .parquet by extension)
"""

import sys

import pandas as pd
from sklearn.preprocessing import StandardScaler, normalize


def main() -> None:
    mode, src, dst = sys.argv[1:4]
    df = pd.read_parquet(src) if src.endswith(".parquet") else pd.read_csv(src)
    num = df.select_dtypes("number").columns
    X = df[num].to_numpy(dtype="float64")
    if mode == "l2":
        Y = normalize(X, norm="l2")
    elif mode == "zscore":
        Y = StandardScaler().fit_transform(X)
    else:
        raise SystemExit(f"unknown mode {mode}")
    df[num] = Y
    if dst.endswith(".parquet"):
        df.to_parquet(dst, index=False)
    else:
        df.to_csv(dst, index=False)


if __name__ == "__main__":
    main()
