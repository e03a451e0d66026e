"""`make mutation` fails below its floor: the score line and the exit code of tests/support/mutation_score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import mutation_score


def stats(**counts: int) -> dict[str, int]:
    base = {"killed": 0, "survived": 0, "total": 0, "no_tests": 0, "skipped": 0, "suspicious": 0, "timeout": 0}
    return base | counts


def test_timeouts_count_as_caught_and_unreached_mutants_against_the_score() -> None:
    result = mutation_score.score(stats(killed=85, timeout=5, survived=6, no_tests=4, total=100))
    assert result == mutation_score.Score(caught=90, survived=6, unreached=4, total=100)
    assert result.percent == 90.0
    assert result.line() == ("mutation score: 90 of 100 mutants caught (90.0 %); 6 survived, 4 reached by no unit test")


def test_skipped_mutants_leave_the_total() -> None:
    assert mutation_score.score(stats(killed=9, survived=1, skipped=5, total=15)).percent == 90.0


def write(tmp_path: Path, counts: dict[str, int]) -> str:
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(counts))
    return str(path)


@pytest.mark.parametrize(("killed", "code"), [(90, 0), (89, 1), (100, 0)], ids=["at-the-floor", "one-below", "all"])
def test_the_exit_code_holds_the_floor(tmp_path: Path, killed: int, code: int) -> None:
    counts = stats(killed=killed, survived=100 - killed, total=100)
    assert mutation_score.main([write(tmp_path, counts), "--floor", "90"]) == code


def test_a_run_that_made_no_mutant_fails_whatever_the_floor(tmp_path: Path) -> None:
    assert mutation_score.main([write(tmp_path, stats()), "--floor", "0"]) == 1


LISTING = """\
    chalicelib.core.decide.x_evaluate__mutmut_1: killed
    chalicelib.core.decide.xǁUserFactsǁfrom_row__mutmut_2: survived
    chalicelib.core.decide.x_lift__mutmut_3: no tests
    chalicelib.core.decide.x_scan__mutmut_4: skipped
    chalicelib.core.events.x_show__mutmut_1: timeout
    chalicelib.core.events.x_show__mutmut_2: suspicious
a line that names no mutant
"""


def test_each_module_is_scored_by_itself_from_the_listing() -> None:
    assert mutation_score.by_module(LISTING) == {
        "chalicelib.core.decide": mutation_score.Score(caught=1, survived=1, unreached=1, total=3),
        "chalicelib.core.events": mutation_score.Score(caught=1, survived=0, unreached=0, total=2),
    }


def test_the_per_module_lines_come_before_the_total(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = tmp_path / "results.txt"
    listing.write_text(LISTING)
    counts = stats(killed=90, survived=10, total=100)
    assert mutation_score.main([write(tmp_path, counts), "--results", str(listing)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "chalicelib.core.decide: mutation score: 1 of 3 mutants caught (33.3 %); 1 survived, 1 reached by no unit test",
        "chalicelib.core.events: mutation score: 1 of 2 mutants caught (50.0 %); 0 survived, 0 reached by no unit test",
        "mutation score: 90 of 100 mutants caught (90.0 %); 10 survived, 0 reached by no unit test",
    ]
