"""The command-line layer: options onto the core, errors onto exit statuses. Nothing else."""

from __future__ import annotations

# The C module behind ``signal`` (whose enums cost about 1 ms of every start; see __main__)
import _signal as signal
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from . import _VERSION_MESSAGE, __version__, options
from .errors import (
    EXIT_BROKEN_PIPE,
    EXIT_DATA,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    NormcliError,
    Rule,
    UsageError,
    os_error_message,
    refuse_unused,
)
from .io import stdio
from .options import common_options

if TYPE_CHECKING:
    from .pipeline import InputSpec, Job, OutputSpec
    from .sinks import FileSink

# The command modules (numpy, pyarrow: 0.1-0.2 s) are imported inside the commands, so that
# --version, --help and usage errors start in a few tens of milliseconds.

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (removing temporary files) and exit 128 + signal."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


# -- run-time settings: progress, verbosity --------------------------------------------------
class Progress:
    """Progress on standard error: a bar by input bytes when the size is known (files), else a
    running row count (standard input, compressed files). A second pass starts a new bar."""

    #: The one shown now, if any: an error line must first end its line.
    active: Progress | None = None

    def __init__(self, size: int | None) -> None:
        Progress.active = self
        self.size = size
        self._bar: Any = None
        self._done = 0
        self._counted = False

    def __call__(self, rows: int, nbytes: int | None) -> None:
        if self.size and nbytes is not None:
            if self._bar is None or nbytes < self._done:
                self._end_bar()
                self._bar = click.progressbar(length=self.size, file=sys.stderr,
                                              label="normcli", show_eta=True)
                self._bar.__enter__()
                self._done = 0
            self._bar.update(nbytes - self._done)
            self._done = nbytes
        else:
            sys.stderr.write(f"\rnormcli: {rows:,} rows")
            sys.stderr.flush()
            self._counted = True

    def _end_bar(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def close(self) -> None:
        self._end_bar()
        if self._counted:
            sys.stderr.write("\n")
            self._counted = False
        Progress.active = None


class Session:
    # A plain class: --version and --help need not import dataclasses.
    def __init__(self, quiet: bool = False, verbose: bool = False,
                 progress: bool = False) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.progress = progress
        self.started = time.perf_counter()
        self._progress: Progress | None = None

    def hook(self, size: int | None) -> Progress | None:
        if not self.progress or self.quiet:
            return None
        self._progress = Progress(size)
        return self._progress

    def finish(self, message: str, job: Job | None = None) -> None:
        if self._progress is not None:
            self._progress.close()
        if self.verbose and not self.quiet:
            _note(f"normcli: {message} in {time.perf_counter() - self.started:.2f} s")
            if job is not None:
                _note(f"normcli: {job.column_report()}")


def _session(progress: bool | None, quiet: bool, verbose: bool) -> Session:
    from .pipeline import choose_memory_pool

    choose_memory_pool()  # before Arrow allocates anything
    if progress is None:
        progress = sys.stderr.isatty()
    return Session(quiet=quiet, verbose=verbose, progress=bool(progress))


def _note(line: str) -> None:
    """A line on standard error; a failing standard error never fails a run (whose outputs
    are committed by now): the exit status still tells."""
    stdio.message(line + "\n")


def _distinct(input: str, output: str | None, side: dict[str, str | None],
              written: tuple[str, ...] = ()) -> None:
    """Before anything is read: side files that are the input, the output or each other; and
    two of the files a run writes (OUTPUT and the ``written`` side files) that both go to
    standard output (``-``, or the file or pipe standard output is), where they would be mixed
    or one renamed over the other."""
    from .io.writer import check_distinct

    for option, path in (("INPUT", input), ("OUTPUT", output), *side.items()):
        if path == "":  # (else "normcli: error: : cannot tell the format", or ignored)
            std = "" if option.startswith("--") else (
                ", or - for standard input" if option == "INPUT" else ", or - for standard output")
            raise UsageError(f"{option} is an empty path: give a file name{std}")
    check_distinct([("INPUT", input), ("OUTPUT", output), *side.items()])
    if _is_stdout(output) and _stdout_is_input(input):
        # (`normcli normalize f.csv >> f.csv`: it would read its own output, maybe forever)
        what = ("standard output is the file on standard input" if input == "-" else
                f"{input}: standard output is one of the input's files" if _is_dataset(input)
                else f"{input}: standard output is the input file")
        raise UsageError(f"{what} (normcli would read what it writes); write to another file")
    to_stdout = ["OUTPUT"] if _is_stdout(output) else []
    to_stdout += [option for option in written
                  if side.get(option) is not None and _is_stdout(side[option])]
    if len(to_stdout) > 1:
        path = side[to_stdout[1]]
        first = "the data" if to_stdout[0] == "OUTPUT" else to_stdout[0]
        raise UsageError(f"{path}: {to_stdout[1]} writes to standard output, where {first} "
                         "goes too; give it a file of its own")


def _stdout_is_input(input: str) -> bool:
    """Whether standard output is a regular file that is the input (or one of its files)."""
    import stat

    try:
        out = os.fstat(1)
    except (OSError, ValueError):
        return False
    if not stat.S_ISREG(out.st_mode):
        return False

    def same(st: os.stat_result) -> bool:
        return (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino)

    from .io.paths import is_dataset, is_url

    try:
        if input == "-":
            return same(os.fstat(0))
        if is_url(input):
            return False
        if is_dataset(input):
            from .io.dataset import dataset_files

            return any(same(os.stat(member)) for member in dataset_files(input))
        return same(os.stat(input))
    except (OSError, ValueError, NormcliError):
        return False  # a missing input is reported where it is opened


def _is_dataset(input: str) -> bool:
    from .io.paths import is_dataset

    return is_dataset(input)


def _is_stdout(path: str | None) -> bool:
    """Whether writing to ``path`` writes to standard output: ``None`` or ``-``, or the regular
    file or pipe that standard output is (``/dev/stdout``, or the file of ``> FILE``)."""
    import stat

    if path is None or path == "-":
        return True
    try:
        out = os.fstat(1)
        if not (stat.S_ISREG(out.st_mode) or stat.S_ISFIFO(out.st_mode)):
            return False  # a terminal, /dev/null: nothing to lose
        st = os.stat(path)
    except (OSError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino)


def _refuse_unused(rules: list[Rule]) -> None:
    """Options given on the command line that would have no effect, as ``(parameter, applies,
    message)``: a usage error (:func:`normcli.errors.refuse_unused`)."""
    refuse_unused(rules, _given(*(param for param, _, _ in rules)))


def _given(*params: str) -> set[str]:
    """The ``params`` whose value came from the command line or the environment (not a
    default)."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    return {param for param in params if ctx.get_parameter_source(param)
            in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}


def _open(session: Session, input: str, input_format: str | None, delimiter: str | None,
          no_header: bool, chunk_rows: int | None, na_values: str | None,
          check_header: Callable[[list[str]], None] | None = None) -> Job:
    from .pipeline import InputSpec, Job

    if input == "-" and stdio.stdin_closed():
        raise UsageError("standard input is closed; give an input file")
    spec = InputSpec(path=input, fmt=input_format, delimiter=delimiter, header=not no_header,
                     chunk_rows=chunk_rows, na_values=_na_values(na_values),
                     check_header=check_header)
    return Job(spec, session.hook(_size(input)))


def _spec(input: str, input_format: str | None, delimiter: str | None, no_header: bool,
          chunk_rows: int | None, na_values: str | None) -> InputSpec:
    from .pipeline import InputSpec

    return InputSpec(path=input, fmt=input_format, delimiter=delimiter, header=not no_header,
                     chunk_rows=chunk_rows, na_values=_na_values(na_values))


def _dask() -> Any:
    """The Dask engine (imported only for --engine dask; exit 2 without the extra)."""
    from .engines import dask_engine

    dask_engine.require_dask()
    return dask_engine


def _use_dask(engine: str, scheduler: str | None) -> bool:
    """Whether the command runs on Dask; ``--scheduler`` alone is a usage error."""
    if engine != "dask" and scheduler is not None:
        raise click.UsageError("--scheduler needs --engine dask")
    return engine == "dask"


def _settings(session: Session, scheduler: str | None) -> Any:
    from .engines.dask_engine import Settings

    return Settings(scheduler=scheduler, verbose=session.verbose and not session.quiet,
                    progress=session.progress and not session.quiet)


def _na_values(text: str | None) -> tuple[str, ...] | None:
    """``--na-values A,B`` as a tuple (an empty cell is always missing besides)."""
    return None if text is None else tuple(text.split(","))


def _output_spec(output: str | None, output_format: str | None,
                 output_delimiter: str | None) -> OutputSpec:
    from .io.formats import check_delimiter
    from .pipeline import OutputSpec

    if output_delimiter is not None:  # a usage error before any row is read
        output_delimiter = check_delimiter(output_delimiter, "--output-delimiter")
    return OutputSpec(path=output, fmt=output_format, delimiter=output_delimiter)


def _sink(output: str | None, output_format: str | None,
          output_delimiter: str | None) -> FileSink:
    from .sinks import FileSink

    return FileSink(_output_spec(output, output_format, output_delimiter))


def _size(path: str) -> int | None:
    if path == "-":
        return None
    try:
        return os.path.getsize(path)
    except OSError:
        return None


# -- commands --------------------------------------------------------------------------------
class _Carried(BaseException):
    """An exception on its way out through Click's ``main`` untouched: Click would print a blank
    line for Ctrl-C and exit 1 on a broken pipe; :func:`_handled` decides instead."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc


class _Group(click.Group):
    #: Set while :func:`main` runs Click's ``main`` (not under a test's CliRunner).
    carrying = False

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, EOFError, OSError) as exc:
            if not _Group.carrying:
                raise
            raise _Carried(exc) from exc

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        # --help and --version print while the arguments are parsed: a closed standard output
        # there would be Click's exit 1, not the broken pipe's 141.
        try:
            return super().make_context(info_name, args, parent, **extra)
        except OSError as exc:
            if not _Group.carrying:
                raise
            raise _Carried(exc) from exc


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="normcli", message=_VERSION_MESSAGE)
@click.option("--debug", is_flag=True, hidden=True)
def cli(debug: bool) -> None:
    """Normalize, measure and fit regularized linear regressions on CSV, TSV, Parquet and JSON
    Lines data (a file, standard input, a folder, a glob or a URL).

    Data is streamed in chunks; standard output carries data only; errors are one line on
    standard error. Exit status: 0 success, 1 bad data or a failure while running, 2 wrong
    usage, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hangup (SIGHUP), 141
    standard output closed early.
    """


NORMALIZE_EPILOG = """\b
Examples:
  normcli normalize --norm l2 in.csv out.csv
  normcli normalize --norm l1 --columns a,b,c in.csv.gz > out.csv
  normcli normalize --scale minmax --range -1,1 --save-params p.json in.parquet out.parquet
  normcli normalize --scale minmax --params p.json new.csv scaled.csv
"""


@cli.command(epilog=NORMALIZE_EPILOG, context_settings=CONTEXT)
@options.normalize_options
@common_options
def normalize(
    norm: str | None, axis: str, scale: str | None, feature_range: str | None, clip: bool | None,
    save_params: str | None, params: str | None,
    input: str, output: str | None, input_format: str | None, output_format: str | None,
    delimiter: str | None, output_delimiter: str | None, no_header: bool, chunk_rows: int | None,
    na_values: str | None, columns: str | None, exclude: str | None, engine: str,
    scheduler: str | None, progress: bool | None, quiet: bool, verbose: bool, debug: bool,
) -> None:
    """Divide rows or columns by their norm, or scale columns.

    Every other column passes through unchanged; missing cells stay missing.
    """
    from .columns import parse_list
    from .ops import normalize as normalize_mod

    session = _session(progress, quiet, verbose)
    opts = normalize_mod.NormalizeOptions(
        norm=norm, axis=axis if _given("axis") else None, scale=scale,  # None: rows, not given
        feature_range=normalize_mod.parse_range(feature_range) if feature_range else None,
        clip=clip, columns=parse_list(columns), exclude=parse_list(exclude),
        save_params=save_params, params=params,
    )
    _distinct(input, output, {"--params": params, "--save-params": save_params},
              written=("--save-params",))
    if save_params is not None:  # before the input is opened (the Dask route too)
        from .io.formats import refuse_compressed_output

        refuse_compressed_output(save_params, "--save-params")
    if _use_dask(engine, scheduler):
        rows = _dask().normalize(
            _spec(input, input_format, delimiter, no_header, chunk_rows, na_values),
            _output_spec(output, output_format, output_delimiter), opts,
            _settings(session, scheduler))
        session.finish(f"normalized {rows:,} rows")
        return
    with _open(session, input, input_format, delimiter, no_header, chunk_rows,
               na_values) as job:
        rows = normalize_mod.run(job, _sink(output, output_format, output_delimiter), opts)
    session.finish(f"normalized {rows:,} rows", job)


NORM_EPILOG = """\b
Examples:
  normcli norm --ord 2 in.csv out.csv            # append each row's L2 norm as 'norm'
  normcli norm --ord 1 --only --columns a,b in.csv
  normcli norm --axis columns in.parquet         # one row per column: column,norm
  normcli norm --ord 1 --columns x,y --to 0,0 points.csv
  normcli norm --columns x1,y1 --to-columns x2,y2 pairs.csv
"""


@cli.command(epilog=NORM_EPILOG, context_settings=CONTEXT)
@options.norm_options
@common_options
def norm(
    ord_: str, axis: str, name: str, only: bool, to: str | None, to_columns: str | None,
    input: str, output: str | None, input_format: str | None, output_format: str | None,
    delimiter: str | None, output_delimiter: str | None, no_header: bool, chunk_rows: int | None,
    na_values: str | None, columns: str | None, exclude: str | None, engine: str,
    scheduler: str | None, progress: bool | None, quiet: bool, verbose: bool, debug: bool,
) -> None:
    """The norm of each row (or column), or each row's distance to a point."""
    from .columns import parse_list
    from .ops import norm as norm_mod

    session = _session(progress, quiet, verbose)
    opts = norm_mod.NormOptions(
        ord=ord_, axis=axis, name=name, only=only,
        to=norm_mod.parse_point(to) if to is not None else None,
        to_columns=parse_list(to_columns), columns=parse_list(columns),
        exclude=parse_list(exclude),
    )
    _refuse_unused(norm_mod.unused_options(opts))
    _distinct(input, output, {})
    if _use_dask(engine, scheduler):
        rows = _dask().norm(
            _spec(input, input_format, delimiter, no_header, chunk_rows, na_values),
            _output_spec(output, output_format, output_delimiter), opts,
            _settings(session, scheduler))
        session.finish(f"measured {rows:,} rows")
        return
    with _open(session, input, input_format, delimiter, no_header, chunk_rows,
               na_values) as job:
        rows = norm_mod.run(job, _sink(output, output_format, output_delimiter), opts)
    session.finish(f"measured {rows:,} rows", job)


FIT_EPILOG = """\b
Examples:
  normcli fit -y price --penalty l1 --alpha 0.1 sales.csv            # term,coefficient table
  normcli fit -y price --penalty l1 --cv 5 sales.parquet model.json  # JSON report
  normcli fit -y y --penalty enet --l1-ratio 0.7 --cv 10 --select 1se data.csv.gz model.json
  normcli fit -y y --penalty none --weights w data.csv
  normcli fit -y y --penalty none --output-format text data.csv   # like R's summary(lm)
  normcli fit -y y --penalty l1 --cv 5 --path path.csv data.csv model.json
"""


@cli.command(epilog=FIT_EPILOG, context_settings=CONTEXT)
@options.fit_options
@common_options
def fit(
    target: str, penalty: str, alpha: float, l1_ratio: float, weights: str | None,
    no_intercept: bool, standardize: bool, tol: float, max_iter: int, cv: int | None,
    alphas: str | None, n_alphas: int, eps: float, fold_column: str | None, seed: int,
    select: str, drop_missing: bool, plot: str | None, plot_log_mse: bool,
    path_file: str | None,
    input: str, output: str | None, input_format: str | None, output_format: str | None,
    delimiter: str | None, output_delimiter: str | None, no_header: bool, chunk_rows: int | None,
    na_values: str | None, columns: str | None, exclude: str | None, engine: str,
    scheduler: str | None, progress: bool | None, quiet: bool, verbose: bool, debug: bool,
) -> None:
    """Fit a linear regression (OLS, ridge, lasso or elastic net) in one pass.

    OUTPUT by extension or --output-format: csv (tsv, parquet, jsonl) is a term,coefficient
    table; json is a report that 'normcli predict' reads; text (or a .txt file) is a readable
    summary like R's summary(lm). Standard output gets the CSV table, or the text summary
    when it is a terminal.
    """
    from .columns import parse_list
    from .ops import fit as fit_mod

    session = _session(progress, quiet, verbose)
    opts = fit_mod.FitOptions(
        target=target, penalty=fit_mod.normalize_penalty(penalty), alpha=alpha,
        l1_ratio=l1_ratio, weights=weights, fit_intercept=not no_intercept,
        standardize=standardize, tol=tol, max_iter=max_iter, cv=cv,
        alphas=fit_mod.parse_alphas(alphas) if alphas else None, n_alphas=n_alphas, eps=eps,
        fold_column=fold_column, seed=seed, select=select, drop_missing=drop_missing,
        columns=parse_list(columns), exclude=parse_list(exclude), plot=plot, path=path_file,
        plot_log_mse=plot_log_mse,
    )
    _refuse_unused(fit_mod.unused_options(opts))
    out = _output_spec(output, output_format, output_delimiter)
    _distinct(input, output, {"--plot": plot, "--path": path_file},
              written=("--plot", "--path"))
    fit_mod.check_side_files(opts)  # before the input is opened
    job = None
    if _use_dask(engine, scheduler):
        report = _dask().fit(_spec(input, input_format, delimiter, no_header, chunk_rows,
                                   na_values), out, opts, _settings(session, scheduler))
    else:
        with _open(session, input, input_format, delimiter, no_header, chunk_rows,
                   na_values, check_header=fit_mod.header_check(opts)) as job:
            report = fit_mod.run(job, out, opts)
    if report.dropped and not session.quiet:
        _note(f"normcli: dropped {report.dropped:,} rows with missing values")
    order = report.stats.selection if report.stats is not None else None
    if order and session.verbose and not session.quiet:
        _note("normcli: selection order: " + ", ".join(
            f"{e.feature} (alpha {e.alpha:.6g})" for e in order))
    warning = report.warning()
    if warning and not session.quiet:
        _note(f"normcli: warning: {warning}")
    session.finish(f"fitted {report.n_rows:,} rows", job)


PREDICT_EPILOG = """\b
Examples:
  normcli fit -y price --penalty l1 --cv 5 train.csv model.json
  normcli predict --model model.json new.csv scored.csv
"""


@cli.command(epilog=PREDICT_EPILOG, context_settings=CONTEXT)
@options.predict_options
@common_options
def predict(
    model: str, name: str, selected: bool,
    input: str, output: str | None, input_format: str | None, output_format: str | None,
    delimiter: str | None, output_delimiter: str | None, no_header: bool, chunk_rows: int | None,
    na_values: str | None, columns: str | None, exclude: str | None, engine: str,
    scheduler: str | None, progress: bool | None, quiet: bool, verbose: bool, debug: bool,
) -> None:
    """Append the predictions of a fitted model as a last column."""
    from .columns import parse_list
    from .ops import predict as predict_mod

    session = _session(progress, quiet, verbose)
    _refuse_unused([("name", not selected, "--name names the prediction column; --selected "
                     "writes the selected features, not predictions")])
    _distinct(input, output, {"--model": model})
    if _use_dask(engine, scheduler):
        if selected:
            raise click.UsageError("--selected works with --engine local")
        rows = _dask().predict(
            _spec(input, input_format, delimiter, no_header, chunk_rows, na_values),
            _output_spec(output, output_format, output_delimiter), model, name,
            _settings(session, scheduler), columns=parse_list(columns),
            exclude=parse_list(exclude))
        session.finish(f"predicted {rows:,} rows")
        return
    with _open(session, input, input_format, delimiter, no_header, chunk_rows,
               na_values) as job:
        if selected:
            rows = predict_mod.run_selected(
                job, _output_spec(output, output_format, output_delimiter), model,
                columns=parse_list(columns), exclude=parse_list(exclude))
        else:
            rows = predict_mod.run(job, _sink(output, output_format, output_delimiter), model,
                                   name, columns=parse_list(columns),
                                   exclude=parse_list(exclude))
    session.finish(f"predicted {rows:,} rows", job)


# -- entry point -----------------------------------------------------------------------------
#: The help widths ``normcli/_helptext.py`` keeps: Click's width for a pipe, a file or an
#: 80-column terminal (80 - 2), and for a terminal of 100 columns or more (the content's maximum,
#: ``CONTEXT["max_content_width"]``, less 2).
HELP_WIDTHS = (78, 98)


def render_help(command: str, width: int) -> str:
    """What ``normcli COMMAND --help`` prints (``command`` "" for ``normcli --help``) when
    Click's help formatter is ``width`` columns wide: Click's own rendering."""
    root = cli.make_context("normcli", [], resilient_parsing=True, terminal_width=width)
    ctx = root
    if command:
        sub = cli.commands[command]
        ctx = sub.make_context(command, [], parent=root, resilient_parsing=True)
    with ctx:  # the current context, as when Click prints it (fit's --output-format asks)
        return ctx.get_help() + "\n"


def help_text_source() -> str:
    """The body of ``normcli/_helptext.py`` (``cog -r normcli/_helptext.py`` writes it)."""
    lines = [f"MAX_WIDTH = {CONTEXT['max_content_width']!r}",
             "TEXTS: dict[tuple[str, int], str] = {"]
    for command in ["", *sorted(cli.commands)]:
        for width in HELP_WIDTHS:
            lines.append(f"    ({command!r}, {width}): (")  # a line of help a line of source
            lines.extend(f"        {line!r}" for line in render_help(command, width)
                         .splitlines(keepends=True))
            lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _click_main(args: list[str]) -> int:
    """Run the command line through Click's own ``main`` (so that shell completion works:
    ``_NORMCLI_COMPLETE=bash_source normcli`` prints the script); the exit status of --help and
    --version, 0 after a command. Errors are raised, for :func:`_handled`."""
    _Group.carrying = True
    try:
        rv = cli.main(args, prog_name="normcli", standalone_mode=False)
    except _Carried as carried:
        raise carried.exc from None
    finally:
        _Group.carrying = False
    return rv if isinstance(rv, int) else 0


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _traceback() -> None:
    """--debug: the traceback of the exception being handled."""
    import traceback

    traceback.print_exc()


def _error(message: str) -> None:
    if Progress.active is not None:
        try:
            Progress.active.close()
        except (OSError, ValueError):
            pass
    # One line, whatever a name in it holds (a header or file name may hold a line break).
    one_line = message.replace("\r", "\\r").replace("\n", "\\n")
    stdio.message(f"normcli: error: {one_line}\n")


@contextmanager
def _handled(debug: bool) -> Iterator[list[int]]:  # noqa: C901
    code = [0]
    try:
        yield code
    except click.exceptions.Exit as exc:
        code[0] = exc.exit_code
    except click.exceptions.NoArgsIsHelpError:
        _error("no command given (normalize, norm, fit or predict); see 'normcli --help'")
        code[0] = EXIT_USAGE
    except click.ClickException as exc:
        hint = ""
        ctx = getattr(exc, "ctx", None)
        if ctx is not None and isinstance(exc, click.UsageError):
            hint = f" (see '{ctx.command_path} --help')"
        _error(exc.format_message().replace("\n", " ") + hint)
        code[0] = exc.exit_code
    except click.Abort:
        _error("interrupted")
        code[0] = EXIT_INTERRUPTED
    except NormcliError as exc:
        if debug:
            _traceback()
        _error(str(exc))
        code[0] = exc.exit_code
    except BrokenPipeError:
        stdio.stdout_gone()
        code[0] = EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        _error("interrupted")
        code[0] = EXIT_INTERRUPTED
    except Terminated as exc:
        _error("terminated" if exc.signum == signal.SIGTERM else "hangup (SIGHUP)")
        code[0] = 128 + exc.signum
    except MemoryError:
        _error("out of memory (try a smaller --chunk-rows)")
        code[0] = EXIT_DATA
    except OSError as exc:
        if debug:
            _traceback()
        _error(os_error_message(exc))
        code[0] = EXIT_DATA
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        if debug:
            _traceback()
        _error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        code[0] = EXIT_DATA


def main(argv: list[str] | None = None) -> None:
    """Run normcli; exits with the documented status.

    Called as the program (``argv`` None), every run ends with ``os._exit`` once its clean-up
    is done (outputs committed or removed, readers stopped, standard streams flushed): the
    interpreter's own shutdown could otherwise meet an Arrow read-ahead thread that calls back
    into Python (the CSV body is a Python stream) and abort the process (SIGABRT) after an
    error exit.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    for sig, handler in ((signal.SIGTERM, _on_sigterm), (signal.SIGHUP, _on_sigterm),
                         (signal.SIGINT, signal.default_int_handler)):
        if sig not in stdio.ignored_signals and signal.getsignal(sig) != signal.SIG_IGN:
            signal.signal(sig, handler)
    # Overflow, 0/0 and the like are handled where they can happen (scaled norms, finite
    # checks); numpy's RuntimeWarnings would only break "nothing on stderr on success".
    warnings.simplefilter("ignore", RuntimeWarning)
    with _handled(debug) as code:
        code[0] = _click_main(args)
        if sys.stdout is not None:
            sys.stdout.flush()  # what click printed (--help, --version)
    code[0], failure = stdio.final_status(code[0])
    if failure is not None:
        _error(failure)
    if argv is None:
        os._exit(code[0])
    sys.exit(code[0])


if __name__ == "__main__":  # pragma: no cover
    main()
