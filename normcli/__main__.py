"""``python -m normcli`` and the ``normcli`` console script.

Signals are handled from the very first moment: until the real handlers are installed (after
numpy and pyarrow are imported), Ctrl-C, SIGTERM or SIGHUP end the process quietly with 130 /
143 / 129. No file has been opened by then, so there is nothing to clean up.

A standard descriptor the process was started without (``>&-``, ``2>&-``, ``<&-``) is reserved on
``/dev/null`` before anything else is opened (see :mod:`normcli.io.stdio`).

``normcli --version`` alone is answered here, without importing Click (30-40 ms of start-up):
the line Click's version option prints, from the same ``normcli.__version__`` and message. So is
``normcli [COMMAND] --help`` (or ``-h``) alone, from :mod:`normcli._helptext` (Click's rendering,
generated), when Click would render it at a width kept there and could not translate its
headings (no ``messages`` gettext catalogue in Python's locale folder); otherwise Click prints it.
"""

from __future__ import annotations

# The C module behind ``signal``, loaded with the interpreter: ``signal`` itself wraps the
# numbers in enums, and importing ``enum`` costs about 7 ms, a third of ``normcli --version``.
import _signal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)


def _early(signum: int, frame: FrameType | None) -> None:
    try:
        what = ("interrupted" if signum == _signal.SIGINT
                else "hangup (SIGHUP)" if signum == _signal.SIGHUP else "terminated")
        os.write(2, f"normcli: error: {what}\n".encode())
    except OSError:
        pass
    finally:
        os._exit(128 + signum)


_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def _version_only(args: list[str]) -> bool:
    """Whether Click would do nothing but print its version line: ``--version`` is the only
    argument, and no shell completion is asked for (Click answers ``_NORMCLI_COMPLETE`` before
    it looks at the arguments)."""
    return args == ["--version"] and not os.environ.get("_NORMCLI_COMPLETE")


def _help_only(args: list[str]) -> str | None:
    """The command whose help alone Click would print for these arguments ("" for normcli's
    own), or None (anything else, or shell completion asked)."""
    if os.environ.get("_NORMCLI_COMPLETE") or not args or args[-1] not in ("--help", "-h"):
        return None
    if len(args) == 1:
        return ""
    return args[0] if len(args) == 2 and not args[0].startswith("-") else None


def _help_width(max_width: int) -> int:
    """The width Click's help formatter takes: ``shutil.get_terminal_size()``'s columns (the
    ``COLUMNS`` variable, else the terminal on standard output, else 80), at most ``max_width``,
    less 2, at least 50 (click.formatting.HelpFormatter)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
        columns = columns or 80
    return max(min(columns, max_width) - 2, 50)


def _translatable() -> bool:
    """Whether gettext could translate Click's headings ("Usage:", "Options:"): a ``messages``
    catalogue of any language in the default locale folder (where ``gettext.find`` looks)."""
    folder = os.path.join(sys.base_prefix, "share", "locale")
    try:
        languages = os.listdir(folder)
    except OSError:
        return False
    return any(os.path.exists(os.path.join(folder, lang, "LC_MESSAGES", "messages.mo"))
               for lang in languages)


def _cached_help(command: str) -> str | None:
    """Click's help text for ``command`` from :mod:`normcli._helptext`, or None where Click
    itself must render it."""
    from normcli import _helptext

    text = _helptext.TEXTS.get((command, _help_width(_helptext.MAX_WIDTH)))
    return None if text is None or _translatable() else text


def _print(text: str) -> int:
    """Writes ``text`` as Click writes its version line and help (to ``sys.stdout``, then
    flushed); the exit status the command line gives for each failure to write it."""
    from normcli.errors import EXIT_BROKEN_PIPE, EXIT_DATA, os_error_message
    from normcli.io import stdio

    code = 0
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        stdio.stdout_gone()
        code = EXIT_BROKEN_PIPE
    except OSError as exc:
        stdio.message(f"normcli: error: {os_error_message(exc)}\n")
        code = EXIT_DATA
    code, failure = stdio.final_status(code)
    if failure is not None:
        stdio.message(f"normcli: error: {failure}\n")
    return code


def _print_version() -> int:
    """``normcli --version``: Click's line."""
    from normcli import _VERSION_MESSAGE, __version__

    return _print(_VERSION_MESSAGE % {"prog": "normcli", "package": None,
                                      "version": __version__} + "\n")


def run() -> None:
    ignored = set()
    for sig in _SIGNALS:
        if _signal.getsignal(sig) == _signal.SIG_IGN:  # nohup, a background job: stays ignored
            ignored.add(sig)
        else:
            _signal.signal(sig, _early)
    from normcli.io import stdio

    stdio.ignored_signals |= ignored
    stdio.reserve_std_fds()
    args = sys.argv[1:]
    if _version_only(args):
        os._exit(_print_version())  # as the command line ends every run
    command = _help_only(args)
    if command is not None:
        text = _cached_help(command)
        if text is not None:
            os._exit(_print(text))
    # normcli runs its own threads over chunks (and Arrow has its pool); a multi-threaded BLAS
    # on top busy-waits for cores that are taken (fit: 1.6 s instead of 2.3 s on 2 cores).
    # Must be set before numpy is imported; a user's own setting wins.
    if not any(os.environ.get(v) for v in _BLAS_THREADS):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.environ["MKL_NUM_THREADS"] = "1"
    from normcli.cli import main

    main()


if __name__ == "__main__":
    run()
