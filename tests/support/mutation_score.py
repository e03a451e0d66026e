"""The score of a `make mutation` run, and the floor it must reach.

mutmut's `export-cicd-stats` writes the counts of a run; this prints them as one line a person reads
and exits non-zero when fewer mutants than the floor were caught, so a change that lets the unit tests
go blind to a decision shows up as a failed `make mutation`, not as a number nobody reads.

A mutant counts as caught when a test failed on it (`killed`) or it ran past mutmut's time limit
(`timeout`: the mutation made the code loop, which a caller notices). A mutant no unit test reaches
(`no_tests`) counts against the score like a survivor: nothing would notice it either.

Given mutmut's `results --all true` listing as well, it prints the same score for each mutated module,
so a module that went blind shows even when the others carry the total over the floor.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
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


_CAUGHT = frozenset({"killed", "timeout"})
_LEFT_OUT = frozenset({"skipped"})


def by_module(listing: str) -> dict[str, Score]:
    """The score of each module from `mutmut results --all true` lines (`  pkg.mod.x_fn__mutmut_3: killed`)."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for line in listing.splitlines():
        name, sep, status = line.strip().partition(": ")
        if not sep or "__mutmut_" not in name:
            continue
        module = name.split("__mutmut_")[0].rsplit(".", 1)[0]
        counts[module][status.strip()] += 1
    return {
        module: Score(
            caught=sum(c[s] for s in _CAUGHT),
            survived=c["survived"],
            unreached=c["no tests"],
            total=c.total() - sum(c[s] for s in _LEFT_OUT),
        )
        for module, c in sorted(counts.items())
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stats", type=Path, help="mutmut's mutmut-cicd-stats.json")
    parser.add_argument("--floor", type=float, default=90.0, help="the lowest acceptable score, in percent")
    parser.add_argument("--results", type=Path, help="the output of `mutmut results --all true`, for per-module scores")
    args = parser.parse_args(argv)
    result = score(json.loads(args.stats.read_text()))
    if args.results is not None:
        for module, each in by_module(args.results.read_text()).items():
            print(f"{module}: {each.line()}")
    print(result.line())
    if result.total == 0 or result.percent < args.floor:
        print(f"below the floor of {args.floor:g} %", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
