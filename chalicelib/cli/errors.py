"""Exit codes and the one exception type every command raises for a problem the user can fix.

One exception type means `main` has a single place that turns problems into one line on stderr
and an exit code, so no command can leak a traceback.
"""

from __future__ import annotations

import enum


class Exit(enum.IntEnum):
    """Process exit codes, the same for every command (argparse also uses 2 for bad usage)."""

    OK = 0
    FINDINGS = 1  # the answer is "not clean": users without MFA remain, or the document is invalid
    ERROR = 2  # bad input, configuration, AWS error, conflict that could not be settled
    DECLINED = 3  # the operator did not confirm a change: nothing was changed
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class CliError(Exception):
    """A problem explained in one sentence; `main` prints it and exits with `code`."""

    def __init__(self, message: str, code: Exit = Exit.ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
