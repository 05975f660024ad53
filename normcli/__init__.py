"""normcli: normalize, measure and fit regularized linear regressions on tabular data.

The Python API (pandas DataFrames, Arrow tables and streams, or files)::

    import normcli
    normcli.normalize(df, norm="l2")
    model = normcli.fit(df, target="y", penalty="l1", cv=5)

The API lives in :mod:`normcli.api` and is imported on first use, so that the command line,
which imports this package, never imports pandas.
"""

from __future__ import annotations

from .errors import DataError, NormcliError, UsageError

__version__ = "0.1.0"
#: What ``normcli --version`` prints (Click's default wording, given to Click explicitly so that
#: the fast path in ``__main__``, which answers without importing Click, prints the same).
_VERSION_MESSAGE = "%(prog)s, version %(version)s"

__all__ = [
    "DataError",
    "Model",
    "NormcliError",
    "Scaler",
    "UsageError",
    "__version__",
    "fit",
    "norm",
    "normalize",
    "predict",
]

# typing's own TYPE_CHECKING would import typing (10-15 ms of a 20 ms `normcli --version`)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .api import Model, Scaler, fit, norm, normalize, predict

_API = frozenset({"Model", "Scaler", "fit", "norm", "normalize", "predict"})


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'normcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
