"""Every command-line option, defined once; commands pick the groups they need."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _apply(decorators: list[Callable[[F], F]]) -> Callable[[F], F]:
    def wrap(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return wrap


input_argument = click.argument("input", metavar="INPUT", type=str)
output_argument = click.argument("output", metavar="[OUTPUT]", type=str, required=False)

io_options = _apply([
    click.option("--input-format", type=click.Choice(["csv", "tsv", "parquet"]),
                 help="Input format (default: from the extension; standard input: csv)."),
    click.option("--output-format", type=click.Choice(["csv", "tsv", "parquet", "json"]),
                 help="Output format (default: from the extension; standard output: csv)."),
    click.option("--delimiter", metavar="CHAR",
                 help="Field separator of the input (and the output, unless "
                      "--output-delimiter). '\\t' or 'tab' for a tab."),
    click.option("--output-delimiter", metavar="CHAR", help="Field separator of the output."),
    click.option("--no-header", is_flag=True,
                 help="The input has no header row; columns are column_1, column_2, ..."),
    click.option("--chunk-rows", type=click.IntRange(min=1), metavar="N",
                 help="Rows per chunk (default: about 4 MB of CSV text, or 16,384 Parquet rows)."),
])

column_options = _apply([
    click.option("--columns", metavar="A,B,C",
                 help="Work on exactly these columns (each must exist and hold numbers)."),
    click.option("--exclude", metavar="A,B", help="Leave these columns out."),
])

run_options = _apply([
    click.option("--progress/--no-progress", default=None,
                 help="Show a progress bar on standard error (default: when it is a terminal)."),
    click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors on standard error."),
    click.option("-v", "--verbose", is_flag=True,
                 help="Report what was done on standard error."),
    click.option("--debug", is_flag=True, help="Show a Python traceback on errors."),
])


def common_options(f: F) -> F:
    return input_argument(output_argument(io_options(column_options(run_options(f)))))
