"""Every command-line option, defined once; commands pick the groups they need."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

#: The names --penalty accepts: the keys of ``ops.fit.PENALTY_ALIASES`` (a test keeps them
#: equal), written out so that ``--help`` and ``--version`` need not import fit (numpy, pyarrow).
PENALTY_CHOICES = ("elasticnet", "enet", "l1", "l2", "lasso", "none", "ols", "ridge")
#: The format names, as ``formats.readable()`` and ``formats.writable()`` give them (a test keeps
#: them equal), written out so that a command's ``--help`` need not load the format modules
#: (which import numpy and pyarrow).
READABLE_FORMATS = ("csv", "tsv", "parquet", "jsonl")
WRITABLE_FORMATS = ("csv", "tsv", "parquet", "json", "jsonl")


def _apply(decorators: list[Callable[[F], F]]) -> Callable[[F], F]:
    def wrap(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return wrap


class _FormatChoice(click.Choice[str]):
    """Format names, and those that only the current command accepts (``extra``, asked each
    time: the choice is shared by every command)."""

    def __init__(self, names: tuple[str, ...],
                 extra: Callable[[], list[str]] | None = None) -> None:
        self._names = names
        self._extra = extra
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:
        return self._names + tuple(self._extra() if self._extra is not None else ())

    @choices.setter
    def choices(self, value: object) -> None:
        pass


def _fit_text() -> list[str]:
    """``text`` (the readable summary) for ``fit`` alone."""
    ctx = click.get_current_context(silent=True)
    fit = ctx is not None and ctx.command is not None and ctx.command.name == "fit"
    return ["text"] if fit else []


input_argument = click.argument("input", metavar="INPUT", type=str)
output_argument = click.argument("output", metavar="[OUTPUT]", type=str, required=False)

io_options = _apply(
    [
        click.option(
            "--input-format",
            type=_FormatChoice(READABLE_FORMATS),
            help="Input format (default: from the extension; standard input: csv). INPUT may "
            "also be a folder, a quoted glob or a URL: files of one format, read as one table.",
        ),
        click.option(
            "--output-format",
            type=_FormatChoice(WRITABLE_FORMATS, _fit_text),
            help="Output format (default: from the extension; standard output: csv).",
        ),
        click.option(
            "--delimiter",
            metavar="CHAR",
            help="Field separator of CSV/TSV input, one ASCII character (and of the output, "
            "unless --output-delimiter). '\\t' or 'tab' for a tab.",
        ),
        click.option(
            "--output-delimiter",
            metavar="CHAR",
            help="Field separator of CSV/TSV output, one ASCII character (not a digit, '.', "
            "'e', 'E', '+' or '-').",
        ),
        click.option(
            "--no-header",
            is_flag=True,
            help="The CSV/TSV input has no header row; columns are column_1, column_2, ...",
        ),
        click.option(
            "--chunk-rows",
            type=click.IntRange(min=1),
            metavar="N",
            help="Rows per chunk (default: about 1 MB of CSV text after a first chunk of "
            "about 4 MB, 4 MB of JSON Lines text, or 16,384 Parquet rows).",
        ),
    ]
)

column_options = _apply(
    [
        click.option(
            "--columns",
            metavar="A,B,C",
            help="Work on exactly these columns (each must exist and hold numbers).",
        ),
        click.option("--exclude", metavar="A,B", help="Leave these columns out."),
        click.option(
            "--na-values",
            metavar="A,B",
            help="Texts read as missing in CSV/TSV cells and JSON Lines strings, replacing the "
            "default list (pandas': NA, N/A, n/a, NaN, null, NULL, None, #N/A, <NA>, ...). An "
            "empty cell is always missing.",
        ),
    ]
)

run_options = _apply(
    [
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Show a progress bar on standard error (default: when it is a terminal).",
        ),
        click.option(
            "-q", "--quiet", is_flag=True, help="Print nothing but errors on standard error."
        ),
        click.option(
            "-v", "--verbose", is_flag=True, help="Report what was done on standard error."
        ),
        click.option("--debug", is_flag=True, help="Show a Python traceback on errors."),
    ]
)


engine_options = _apply(
    [
        click.option(
            "--engine",
            type=click.Choice(["local", "dask"]),
            default="local",
            show_default=True,
            help="Run here, or on a Dask cluster (one task per input file; needs "
            "normcli[dask]; OUTPUT is then a folder of parts).",
        ),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            help="The Dask scheduler for --engine dask (default: $DASK_SCHEDULER_ADDRESS, else "
            "a local cluster sized to this machine).",
        ),
    ]
)


def common_options(f: F) -> F:
    return input_argument(output_argument(io_options(column_options(engine_options(
        run_options(f))))))


# -- per command ---------------------------------------------------------------------------

normalize_options = _apply(
    [
        click.option(
            "--norm",
            "norm",
            metavar="l1|l2|max|P",
            help="Divide each row (or column) by this norm; inf = max; P >= 1 a p-norm. "
            "[default: l2]",
        ),
        click.option(
            "--axis",
            type=click.Choice(["rows", "columns"]),
            default="rows",
            show_default=True,
            help="Normalize each row, or each column over all rows.",
        ),
        click.option(
            "--scale",
            type=click.Choice(["minmax", "zscore", "maxabs"]),
            help="Per-column scaler instead of --norm (as scikit-learn's MinMaxScaler, "
            "StandardScaler, MaxAbsScaler).",
        ),
        click.option(
            "--range",
            "feature_range",
            metavar="MIN,MAX",
            help="Target range of --scale minmax. [default: 0,1, or the range of --params]",
        ),
        click.option(
            "--clip/--no-clip",
            default=None,
            help="Clip --scale minmax output to --range. [default: no, or as in --params]",
        ),
        click.option(
            "--save-params", metavar="FILE.json", help="Write the statistics used as JSON."
        ),
        click.option(
            "--params",
            metavar="FILE.json",
            help="Apply saved statistics instead of computing them (one pass); the file names "
            "its scaler (or column norm) and range.",
        ),
    ]
)

norm_options = _apply(
    [
        click.option(
            "--ord",
            "ord_",
            default="2",
            show_default=True,
            metavar="1|2|inf|-inf|0|P",
            help="Norm order, any real number, as numpy.linalg.norm (aliases l1, l2, max).",
        ),
        click.option(
            "--axis",
            type=click.Choice(["rows", "columns"]),
            default="rows",
            show_default=True,
            help="A norm per row (appended), or per column (a table).",
        ),
        click.option("--name", default="norm", show_default=True, help="Name of the new column."),
        click.option("--only", is_flag=True, help="Write the norm column alone."),
        click.option("--to", metavar="V1,V2,...", help="Distance of each row to this point."),
        click.option(
            "--to-columns",
            metavar="B1,B2,...",
            help="Distance between the point in --columns and the point in these columns.",
        ),
    ]
)

fit_options = _apply(
    [
        click.option("-y", "--target", required=True, metavar="COL", help="The column to predict."),
        click.option(
            "--penalty",
            default="l2",
            show_default=True,
            type=click.Choice(PENALTY_CHOICES, case_sensitive=False),
            metavar="none|l1|l2|elasticnet",
            help="none (ols), l1 (lasso), l2 (ridge) or elasticnet (enet).",
        ),
        click.option(
            "--alpha",
            type=float,
            default=1.0,
            show_default=True,
            help="Penalty strength, as scikit-learn's alpha.",
        ),
        click.option(
            "--l1-ratio",
            type=float,
            default=0.5,
            show_default=True,
            help="Share of the L1 penalty for elasticnet.",
        ),
        click.option(
            "--weights", metavar="COL", help="Sample weights (scikit-learn's sample_weight)."
        ),
        click.option("--no-intercept", is_flag=True, help="Fit without an intercept."),
        click.option(
            "--standardize",
            is_flag=True,
            help="Penalize standardized features; report coefficients on the original scale.",
        ),
        click.option(
            "--tol",
            type=float,
            default=1e-6,
            show_default=True,
            help="l1/elasticnet: accept a solution when every optimality (KKT) condition "
            "holds to TOL x alpha (not scikit-learn's duality-gap tolerance); none and l2 are "
            "solved exactly (README: Objectives).",
        ),
        click.option(
            "--max-iter",
            type=int,
            default=1000,
            show_default=True,
            help="l1/elasticnet: coordinate-descent sweeps at most.",
        ),
        click.option(
            "--cv",
            type=click.IntRange(min=2),
            metavar="K",
            help="Choose alpha by K-fold cross-validation.",
        ),
        click.option("--alphas", metavar="a,b,...", help="Alphas to try with --cv."),
        click.option(
            "--n-alphas",
            type=click.IntRange(min=1),
            default=100,
            show_default=True,
            help="Size of the alpha grid with --cv (and --path).",
        ),
        click.option(
            "--eps",
            type=float,
            default=1e-3,
            show_default=True,
            help="Span of the --cv grid: l1/elasticnet from the largest useful alpha down to "
            "EPS times it; l2 from d1/EPS down to EPS x min(dr, alpha_HKB), d the eigenvalues "
            "of the Gram matrix (README: Objectives).",
        ),
        click.option(
            "--fold-column", metavar="COL", help="Fold ids for --cv come from this column."
        ),
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help="Seed of the reproducible fold assignment.",
        ),
        click.option(
            "--select",
            type=click.Choice(["min", "1se"]),
            default="min",
            show_default=True,
            help="Pick the alpha of least mean MSE, or the largest within one standard error.",
        ),
        click.option(
            "--drop-missing",
            is_flag=True,
            help="Leave out rows with a missing target, feature or weight (and report how many).",
        ),
        click.option(
            "--plot",
            metavar="FILE.png",
            help="Draw the coefficient path and the CV curve (needs normcli[plot]); the "
            "extension chooses the image format: .png, .svg, .pdf, .eps, .jpg, .tiff, ...",
        ),
        click.option(
            "--plot-log-mse", is_flag=True, help="Draw the CV curve of --plot on a log MSE axis."
        ),
        click.option(
            "--path",
            "path_file",
            metavar="FILE.csv",
            help="Also write the coefficients at every alpha of the grid "
            "(alpha,n_nonzero,cv_mse,cv_mse_se,<feature>...); the extension chooses the format "
            "(.csv, .tsv, .parquet, .json, .jsonl).",
        ),
    ]
)

predict_options = _apply(
    [
        click.option(
            "--model",
            "model",
            required=True,
            metavar="MODEL.json",
            help="A model written by 'normcli fit ... model.json'.",
        ),
        click.option(
            "--name", default="prediction", show_default=True, help="Name of the new column."
        ),
        click.option(
            "--selected",
            is_flag=True,
            help="Write the model's selected features (non-zero coefficients, in selection "
            "order) as a table feature,coefficient,entry_alpha instead of predictions; INPUT "
            "is only checked to hold them.",
        ),
    ]
)
