"""``python -m normcli`` and the ``normcli`` console script.

Signals are handled from the very first moment: until the real handlers are installed (after
numpy and pyarrow are imported), Ctrl-C, SIGTERM or SIGHUP end the process quietly with 130 /
143 / 129. No file has been opened by then, so there is nothing to clean up.

A standard descriptor the process was started without (``>&-``, ``2>&-``, ``<&-``) is reserved on
``/dev/null`` before anything else is opened (see :mod:`normcli.io.stdio`).

``normcli --version`` alone is answered here, without importing Click (30-40 ms of start-up):
the line Click's version option prints, from the same ``normcli.__version__`` and message.
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


def _print_version() -> int:
    """``normcli --version``: Click's line, written as Click writes it (to ``sys.stdout``, then
    flushed), and the exit status the command line gives for each failure to write it."""
    from normcli import _VERSION_MESSAGE, __version__
    from normcli.errors import EXIT_BROKEN_PIPE, EXIT_DATA, os_error_message
    from normcli.io import stdio

    code = 0
    try:
        sys.stdout.write(_VERSION_MESSAGE % {"prog": "normcli", "package": None,
                                             "version": __version__} + "\n")
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
    if _version_only(sys.argv[1:]):
        os._exit(_print_version())  # as the command line ends every run
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
