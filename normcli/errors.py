"""Error types and the exit statuses they map to.

Every failure a user can cause is raised as a :class:`NormcliError`; the command-line layer
turns it into one line ``normcli: error: ...`` on standard error and exits with
:attr:`NormcliError.exit_code`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: --version imports nothing it need not
if TYPE_CHECKING:
    from collections.abc import Container, Iterable

EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


class NormcliError(Exception):
    """A failure the user can cause: bad data, a failed read or write."""

    exit_code = EXIT_DATA


class DataError(NormcliError):
    """Bad data in an input file (exit status 1).

    ``source``, ``line`` and ``column`` locate the problem where they are known; ``row`` (1-based)
    where the input has no lines (Parquet, a DataFrame, an Arrow table).
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.source = source
        self.row = row
        self.line = line
        self.column = column
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.source is not None:
            where.append(self.source)
        if self.line is not None:
            where.append(f"line {self.line}")
        elif self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.detail}" if prefix else self.detail


class UsageError(NormcliError):
    """Wrong usage: bad option values, unknown columns (exit status 2)."""

    exit_code = EXIT_USAGE


def os_error_message(exc: OSError) -> str:
    """An operating-system error as the error line says it: the file it names, what failed."""
    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    return f"{where}{exc.strerror or exc}"


#: ``(parameter, applies, message)``: an option that only means something with others (see
#: :func:`refuse_unused`); ``parameter`` is the Python name (the command line's dest).
Rule = tuple[str, bool, str]


def refuse_unused(rules: Iterable[Rule], given: Container[str]) -> None:
    """The one rule for options that would have no effect: one the caller gave (its name is in
    ``given``) where it does not apply is a usage error, never silently ignored. An option
    left at its default passes. The command line says what was given from where each value
    came (the command line or the environment, not a default); the Python API from the
    arguments passed (not None)."""
    for param, applies, message in rules:
        if not applies and param in given:
            raise UsageError(message)
