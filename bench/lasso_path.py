"""Lasso CV path at large p: normcli's Gram-based path against scikit-learn's LassoCV.

usage: python bench/lasso_path.py [--n 100000] [--p 2000] [--folds 5] [--n-alphas 100]
                                  [--repeat 1] [--no-sklearn]

Both tools get the same in-memory float64 data (fixed seed: sparse truth, correlated
features) and the same folds (normcli's ``fold_ids``, given to LassoCV as a
``PredefinedSplit``), so they choose from the same alpha grid. Timed, separately:

* normcli: per-fold sufficient statistics (``GramStats``), the K-fold path
  (``cross_validate``) and the final fit at the chosen alpha;
* scikit-learn: ``LassoCV(cv=folds, precompute=True, alphas=n_alphas)`` at its default tol.

Checked before any ratio is printed: the chosen alphas agree, and normcli's coefficients
are within 1e-6 (relative to the largest |coefficient|) of a tightly converged
``Lasso(alpha, tol=1e-12)`` at that alpha. Prints seconds (the path also as CPU seconds of
this process, less sensitive to a shared machine) and ratios, as medians and best of the
repeats. Run with ``OPENBLAS_NUM_THREADS=1`` to match the CLI.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from normcli.regression import GramStats, alpha_grid, cross_validate, fit, fold_ids


def make_data(n: int, p: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    # neighbouring features share a common factor (correlation about 0.5)
    X[:, 1:] += 0.7 * X[:, :-1]
    X += 3.0 * rng.standard_normal(p)[None, :]  # offsets: the intercept matters
    beta = np.zeros(p)
    k = max(10, p // 100)
    beta[rng.choice(p, k, replace=False)] = rng.standard_normal(k) * 2.0
    y = X @ beta + 5.0 * rng.standard_normal(n)
    return X, y


def run_normcli(X: np.ndarray, y: np.ndarray, ids: np.ndarray, k: int, n_alphas: int
                ) -> tuple[dict[str, float], float, np.ndarray, float]:
    t0 = time.perf_counter()
    folds = []
    for f in range(k):
        m = ids == f
        folds.append(GramStats.from_chunk(X[m], y[m]))
    total = folds[0].copy()
    for s in folds[1:]:
        total = total.merge(s)
    t1 = time.perf_counter()
    c1 = time.process_time()
    grid = alpha_grid(total, penalty="l1", n_alphas=n_alphas)
    cv = cross_validate(total, folds, grid, penalty="l1")
    t2 = time.perf_counter()
    c2 = time.process_time()
    res = fit(total, penalty="l1", alpha=cv.chosen)
    t3 = time.perf_counter()
    times = {"stats": t1 - t0, "path": t2 - t1, "path_cpu": c2 - c1, "final": t3 - t2,
             "total": t3 - t0}
    return times, cv.chosen, res.coef, res.intercept


def run_sklearn(X: np.ndarray, y: np.ndarray, ids: np.ndarray, n_alphas: int
                ) -> tuple[float, float]:
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import PredefinedSplit

    t0 = time.perf_counter()
    model = LassoCV(cv=PredefinedSplit(ids), precompute=True, alphas=n_alphas,
                    n_jobs=1).fit(X, y)
    return time.perf_counter() - t0, float(model.alpha_)


def reference(X: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    from sklearn.linear_model import Lasso

    return np.asarray(Lasso(alpha=alpha, tol=1e-12, max_iter=1_000_000, precompute=True)
                      .fit(X, y).coef_)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--p", type=int, default=2000)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--n-alphas", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-sklearn", action="store_true")
    args = ap.parse_args()

    X, y = make_data(args.n, args.p)
    ids = fold_ids(0, args.n, args.folds, 0)
    print(f"# n={args.n} p={args.p} folds={args.folds} n_alphas={args.n_alphas}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"python {platform.python_version()}, numpy {np.__version__}")
    ours: list[dict[str, float]] = []
    theirs: list[float] = []
    alpha = alpha_sk = float("nan")
    coef = np.zeros(0)
    for _ in range(args.repeat):  # interleaved
        times, alpha, coef, _b = run_normcli(X, y, ids, args.folds, args.n_alphas)
        ours.append(times)
        print("normcli " + "  ".join(f"{k} {v:.2f} s" for k, v in times.items()), flush=True)
        if not args.no_sklearn:
            t, alpha_sk = run_sklearn(X, y, ids, args.n_alphas)
            theirs.append(t)
            print(f"LassoCV {t:.2f} s", flush=True)
    ref = reference(X, y, alpha)
    err = float(np.max(np.abs(coef - ref)) / max(np.max(np.abs(ref)), 1e-300))
    print(f"alpha normcli {alpha:.10g}" + ("" if args.no_sklearn else
                                           f"  LassoCV {alpha_sk:.10g}"))
    print(f"max |coef - Lasso(tol=1e-12)| / max|coef| = {err:.2e}")
    if err > 1e-6:
        sys.exit("coefficients differ from the reference by more than 1e-6")
    if not args.no_sklearn and not np.isclose(alpha, alpha_sk, rtol=1e-9):
        print("warning: the chosen alphas differ (LassoCV's default tol moves its CV curve)")
    for label, pick in (("median", np.median), ("best", np.min)):
        agg = {key: float(pick([t[key] for t in ours])) for key in ours[0]}
        line = (f"normcli {label:6s} stats {agg['stats']:.2f} s  path {agg['path']:.2f} s "
                f"(cpu {agg['path_cpu']:.2f} s)  final fit {agg['final']:.3f} s  "
                f"total {agg['total']:.2f} s")
        if theirs:
            t_sk = float(pick(theirs))
            line += (f"\nLassoCV {label:6s} {t_sk:.2f} s  ratio normcli/LassoCV total "
                     f"{agg['total'] / t_sk:.2f}  path only {agg['path'] / t_sk:.2f}")
        print(line)

if __name__ == "__main__":
    main()
