"""Peer: pandas read -> sklearn.linear_model.LassoCV(cv=5) -> JSON with alpha and coefficients.

usage: python sklearn_lassocv.py TARGET INPUT OUTPUT.json   (.csv or .parquet by extension)
"""

import json
import sys

import pandas as pd
from sklearn.linear_model import LassoCV


def main() -> None:
    target, src, dst = sys.argv[1:4]
    df = pd.read_parquet(src) if src.endswith(".parquet") else pd.read_csv(src)
    y = df[target].to_numpy(dtype="float64")
    feats = [c for c in df.select_dtypes("number").columns if c != target]
    X = df[feats].to_numpy(dtype="float64")
    model = LassoCV(cv=5).fit(X, y)
    report = {
        "alpha": float(model.alpha_),
        "intercept": float(model.intercept_),
        "coefficients": {f: float(c) for f, c in zip(feats, model.coef_, strict=True)},
    }
    with open(dst, "w") as fh:
        json.dump(report, fh)


if __name__ == "__main__":
    main()
