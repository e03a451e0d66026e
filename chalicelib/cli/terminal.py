"""Talking to the person at the terminal: rich consoles, a progress display, and confirmations.

rich is imported here and only when a command draws something, so `--format json`, the CSV and
HTML reports, and the Lambdas never need it. Tables go to stdout; progress, prompts and notes go
to stderr, so piping stdout stays clean.

Everything printed goes through `text.printable`: names, reasons and error messages come from the
account (or from whoever wrote the exemptions), and a control character in them must show as an
escape (`\\x1b`), never act on the terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from chalicelib.cli.errors import CliError, Exit
from chalicelib.core.text import printable

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 120


def _rich_console(*, stderr: bool) -> Console:
    try:
        from rich.console import Console
    except ImportError:  # pragma: no cover - depends on the installation, not on the code
        raise CliError(
            "tables need the 'rich' package: pip install 'mfa-enforcer[cli]' (or use --format json)"
        ) from None
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        # Piped or captured: rich would assume 80 columns and wrap ARNs; a fixed width reads better in logs.
        console = Console(stderr=stderr, highlight=False, width=PIPE_WIDTH)
    return console


def out() -> Console:
    """Console for results (stdout)."""
    return _rich_console(stderr=False)


def err() -> Console:
    """Console for progress and notes (stderr)."""
    return _rich_console(stderr=True)


def note(message: str) -> None:
    """One plain line on stderr, without needing rich (warnings, what was written)."""
    print(printable(message, keep_newlines=True), file=sys.stderr)


def say(message: str) -> None:
    """Plain output on stdout (results, JSON documents), control characters escaped."""
    print(printable(message, keep_newlines=True))


def show(console: Console, message: str) -> None:
    """One line through a rich console, as literal text (no markup), control characters escaped."""
    console.print(printable(message, keep_newlines=True), markup=False)


def confirm(question: str, *, assume_yes: bool) -> None:
    """Ask on stderr, read a line from stdin; anything but y/yes declines (nothing is changed).

    A closed or unreadable stdin declines too, so a script that forgot --yes does nothing
    instead of hanging or acting without consent.
    """
    if assume_yes:
        return
    print(f"{printable(question)} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
        if answer and not sys.stdin.isatty():
            print(printable(answer.strip()), file=sys.stderr)  # a piped answer is not echoed by a terminal: show it
    except (OSError, ValueError):
        answer = ""
    if not answer:
        raise CliError(
            "no answer on stdin; pass --yes to confirm non-interactively. Nothing was changed.", Exit.DECLINED
        )
    if answer.strip().lower() not in ("y", "yes"):
        raise CliError("not confirmed. Nothing was changed.", Exit.DECLINED)


class Steps:
    """A progress bar over the named phases of a long command, on stderr, only in a terminal."""

    def __init__(self, phases: int, *, enabled: bool = True) -> None:
        self._phases = phases
        self._enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self._started = 0

    def __enter__(self) -> Steps:
        if not self._enabled:
            return self
        console = err()
        if not console.is_terminal:
            return self
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._progress.__enter__()
        self._task = self._progress.add_task("starting", total=self._phases)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(kind, value, traceback)

    def phase(self, description: str) -> None:
        """Start the next phase: the bar counts the phases already finished and the text changes."""
        if self._progress is not None:
            self._progress.update(self._task, description=printable(description), completed=self._started)
        self._started += 1

    def detail(self, description: str) -> None:
        """Change the text within a phase (for example, the user being written)."""
        if self._progress is not None:
            self._progress.update(self._task, description=printable(description))


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    row_styles: Sequence[str] | None = None,
) -> Any:
    """A rich Table whose cells are literal text: account-controlled names never act as markup or control codes."""
    from rich.table import Table
    from rich.text import Text

    shown = Text(printable(title)) if title is not None else None
    drawn = Table(title=shown, title_justify="left", header_style="bold", expand=False)
    for column in columns:
        drawn.add_column(column, overflow="fold")
    for index, row in enumerate(rows):
        style = row_styles[index] if row_styles is not None else ""
        drawn.add_row(*(Text(printable(cell)) for cell in row), style=style or None)
    return drawn
