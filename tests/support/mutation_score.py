"""The score of a `make mutation` run, and the floor it must reach.

mutmut's `export-cicd-stats` writes the counts of a run; this prints them as one line a person reads
and exits non-zero when fewer mutants than the floor were caught, so a change that lets the unit tests
go blind to a decision shows up as a failed `make mutation`, not as a number nobody reads.

A mutant counts as caught when a test failed on it (`killed`) or it ran past mutmut's time limit
(`timeout`: the mutation made the code loop, which a caller notices). A mutant no unit test reaches
(`no_tests`) counts against the score like a survivor: nothing would notice it either.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Score:
    """What one run caught, out of what it made."""

    caught: int
    survived: int
    unreached: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.caught / self.total if self.total else 0.0

    def line(self) -> str:
        return (
            f"mutation score: {self.caught:,} of {self.total:,} mutants caught ({self.percent:.1f} %); "
            f"{self.survived:,} survived, {self.unreached:,} reached by no unit test"
        )


def score(stats: dict[str, Any]) -> Score:
    """The score from mutmut's counts; skipped mutants (never run) are left out of the total."""
    caught = int(stats["killed"]) + int(stats.get("timeout", 0))
    total = int(stats["total"]) - int(stats.get("skipped", 0))
    return Score(caught, int(stats["survived"]), int(stats.get("no_tests", 0)), total)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stats", type=Path, help="mutmut's mutmut-cicd-stats.json")
    parser.add_argument("--floor", type=float, default=90.0, help="the lowest acceptable score, in percent")
    args = parser.parse_args(argv)
    result = score(json.loads(args.stats.read_text()))
    print(result.line())
    if result.total == 0 or result.percent < args.floor:
        print(f"below the floor of {args.floor:g} %", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
