"""normcli: normalize, measure and fit regularized linear regressions on tabular files."""

__version__ = "0.1.0"
