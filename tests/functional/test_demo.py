"""`make demo` shows every path, and says "would" wherever report mode changed nothing.

The demo runs in process against its own simulated account (it starts its own mock_aws), so this
test plays it exactly as `make demo` does and reads what it printed and what its channels received.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
import time_machine
from rich.console import Console

from tests.support import demo


@pytest.fixture(scope="module")
def played() -> tuple[str, demo.Demo]:
    out = io.StringIO()
    state = demo.run(Console(file=out, width=200, color_system=None))
    return out.getvalue(), state


def scene(text: str, title: str) -> str:
    """The printed text of the scene whose title contains `title`."""
    parts = re.split(r"^(?=\d+\. )", text, flags=re.MULTILINE)
    (found,) = [p for p in parts if title in p.splitlines()[0]]
    return found


def test_every_scene_is_played_in_one_run(played: tuple[str, demo.Demo]) -> None:
    text, state = played
    assert state.scene_number == len(demo.SCENES) >= 6
    assert "IAM state at the end" in text


def test_report_mode_writes_nothing_and_every_line_says_would(played: tuple[str, demo.Demo]) -> None:
    text, state = played
    report = scene(text, "report mode")
    assert "IAM writes in report mode: 0." in report
    sns_lines = [line for line in report.splitlines() if line.startswith("  [") and "would" in line]
    assert len(sns_lines) >= 8
    assert not re.search(r"^\s+\[\s*high\] quarantined ", report, re.MULTILINE), (
        "a report-mode line claims a quarantine"
    )
    report_messages = [m for m in state.sent if m["mode"] == "report" and m["type"] in {"quarantined", "released"}]
    assert report_messages and all(m["action"].startswith("would-") for m in report_messages)


def test_a_sign_in_without_mfa_is_quarantined_by_that_event(played: tuple[str, demo.Demo]) -> None:
    sign_in = scene(played[0], "signs in to the console without MFA")
    assert re.search(rf"new\s+│ quarantined\s+│ high\s+│ {demo.SIGN_IN_USER}\s+│ quarantine ", sign_in)
    assert re.search(r"quarantine policy attached \d+ ms after the event arrived", sign_in)
    later_scan = scene(played[0], "scan in enforce mode")
    assert re.search(rf"│\s+│ still-quarantined\s+│ info\s+│ {demo.SIGN_IN_USER} ", later_scan), "no second alert"


def test_a_hand_detach_is_tamper_and_is_undone(played: tuple[str, demo.Demo]) -> None:
    tamper = scene(played[0], "detaches the quarantine policy")
    assert f"After the detach: {demo.TAMPERED_USER} is not quarantined." in tamper
    assert re.search(rf"tamper\s+│ critical\s+│ {demo.TAMPERED_USER}\s+│ reattach", tamper)
    assert "assumed-role/Admin/mallory" in tamper
    assert f"After on_iam_change: {demo.TAMPERED_USER} has the quarantine policy attached." in tamper


def test_enrolling_mfa_releases_at_once(played: tuple[str, demo.Demo]) -> None:
    enrol = scene(played[0], "enrols an MFA device")
    assert re.search(rf"released\s+│ info\s+│ {demo.ENROLLING_USER}\s+│ release ", enrol)
    assert f"After on_iam_change: {demo.ENROLLING_USER} is not quarantined." in enrol


def test_a_quiet_hour_sends_nothing(played: tuple[str, demo.Demo]) -> None:
    quiet = scene(played[0], "An hour later")
    assert "IAM writes=0" in quiet
    assert "SNS: 0 message(s)" in quiet
    assert "Slack: 0 message(s)" in quiet


@pytest.mark.parametrize(
    "real", [datetime(2026, 12, 2, 0, 21, 7, tzinfo=UTC), datetime(2026, 12, 1, 23, 59, 50, tzinfo=UTC)]
)
def test_the_story_does_not_depend_on_the_hour_it_is_played(real: datetime) -> None:
    """Played in the first minutes of a UTC day (or just before one), every scan would be the daily one."""
    out = io.StringIO()
    with time_machine.travel(real, tick=True):
        demo.run(Console(file=out, width=200, color_system=None))
    quiet = scene(out.getvalue(), "An hour later")
    assert "SNS: 0 message(s)" in quiet
    assert "Slack: 0 message(s)" in quiet
    assert "daily summary" not in out.getvalue()


def test_the_demo_speaks_plainly_about_the_simulation(played: tuple[str, demo.Demo]) -> None:
    text = played[0]
    assert "simulated AWS account" in text
    assert "bends" not in text


def test_owners_are_told_once_by_e_mail_and_slack_and_never_in_report_mode(played: tuple[str, demo.Demo]) -> None:
    text = played[0]
    assert "Owners: 0 e-mail(s) sent through moto's SES, 0 Slack DM(s)" in scene(text, "report mode")
    sign_in = scene(text, "signs in to the console without MFA")
    assert "Owners: 1 e-mail(s) sent through moto's SES, 1 Slack DM(s)" in sign_in
    assert f"✉ to vic.visitor@example.com: AWS user {demo.SIGN_IN_USER} is restricted until you set up MFA" in sign_in
    enforce = scene(text, "scan in enforce mode")
    assert "✉ to frank@example.com: Action required by" in enforce  # grace started 20 minutes ago
    assert "✉ to olga@example.com: AWS user olga.enrolled: MFA is set up" in enforce
    assert "owner-unreachable" in enforce and "uma.analyst" in enforce
    assert "DM to U0CAROL001" in scene(text, "enrols an MFA device")
    assert "Owners: 0 e-mail(s) sent through moto's SES, 0 Slack DM(s)" in scene(text, "An hour later")
