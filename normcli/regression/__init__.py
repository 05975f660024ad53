"""Numerical regression core: streaming sufficient statistics, solvers and CV."""

from normcli.regression.cv import CVResult, cross_validate, fold_ids
from normcli.regression.solvers import PENALTIES, FitResult, alpha_grid, fit, fit_path
from normcli.regression.stats import GramStats

__all__ = [
    "PENALTIES",
    "CVResult",
    "FitResult",
    "GramStats",
    "alpha_grid",
    "cross_validate",
    "fit",
    "fit_path",
    "fold_ids",
]
