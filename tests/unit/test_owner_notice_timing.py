"""When a notice is due (from findings and `now` alone), and the record that keeps each to once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import owner_notices as on
from chalicelib.core.model import Action, Finding, FindingType, Mode, Trigger

NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
ENFORCE = on.NoticePolicy(Mode.ENFORCE, (72.0, 24.0, 1.0), HOUR)
REPORT_ON = on.NoticePolicy(Mode.REPORT, (24.0,), HOUR, in_report_mode=True)
REPORT_OFF = on.NoticePolicy(Mode.REPORT, (24.0,), HOUR)
SCAN, LOGIN = Trigger.SCHEDULED_SCAN, Trigger.ON_CONSOLE_LOGIN


def pending(deadline: datetime, *, transition: bool = False, user: str = "bob") -> Finding:
    arn = f"arn:aws:iam::123456789012:user/{user}"
    return Finding(FindingType.PENDING, user, arn, Action.NONE, "r", SCAN, NOW, transition, deadline=deadline)


def quarantined(action: Action = Action.QUARANTINE, deadline: datetime = NOW - HOUR * 3) -> Finding:
    arn = "arn:aws:iam::123456789012:user/bob"
    return Finding(FindingType.QUARANTINED, "bob", arn, action, "r", SCAN, NOW, True, deadline=deadline)


def released(action: Action = Action.RELEASE) -> Finding:
    return Finding(FindingType.RELEASED, "bob", "arn:aws:iam::123456789012:user/bob", action, "r", SCAN, NOW, True)


def kinds(found: tuple[on.Due, ...]) -> list[tuple[str, float | None]]:
    return [(d.notice.value, d.hours) for d in found]


def test_grace_starts_with_a_pending_transition_and_folds_reminders_already_past() -> None:
    """Grace 48 h, reminders 72,24,1: the 72 h reminder would fall before grace started, so it is folded in."""
    (grace,) = on.due([pending(NOW + HOUR * 48, transition=True)], NOW, ENFORCE, SCAN)
    assert (grace.notice, grace.covers) == (on.Notice.GRACE, frozenset({72.0}))
    (same,) = on.due([pending(NOW + HOUR * 48, transition=True)], NOW, ENFORCE, LOGIN)
    assert same.notice is on.Notice.GRACE


@pytest.mark.parametrize(
    ("to_deadline", "expected"),
    [
        (timedelta(hours=24), [("reminder", 24.0)]),  # exactly at its instant
        (timedelta(hours=23, minutes=1), [("reminder", 24.0)]),  # 59 min after its instant: this window
        (timedelta(hours=22, minutes=55), [("reminder", 24.0)]),  # 65 min after: the overlap (enforce)
        (timedelta(hours=22, minutes=49), []),  # 71 min after: the previous scan's
        (timedelta(hours=24, minutes=1), []),  # one minute early: the next scan's
        (timedelta(minutes=30), [("reminder", 1.0)]),
        (timedelta(hours=40), []),
    ],
)
def test_reminders_fall_in_the_scans_window(to_deadline: timedelta, expected: list[tuple[str, float]]) -> None:
    assert kinds(on.due([pending(NOW + to_deadline)], NOW, ENFORCE, SCAN)) == expected


def test_reminders_are_the_scans_alone_and_two_in_one_window_are_one_notice() -> None:
    assert on.due([pending(NOW + HOUR * 24)], NOW, ENFORCE, LOGIN) == ()
    both = on.NoticePolicy(Mode.ENFORCE, (2.0, 1.5), HOUR)
    (one,) = on.due([pending(NOW + HOUR * 1.25)], NOW, both, SCAN)
    assert (one.hours, one.covers) == (1.5, frozenset({2.0, 1.5}))


def test_quarantine_and_release_follow_the_transitions_this_run_made() -> None:
    assert kinds(on.due([quarantined()], NOW, ENFORCE, SCAN)) == [("quarantine", None)]
    assert kinds(on.due([released()], NOW, ENFORCE, LOGIN)) == [("release", None)]
    failed = quarantined().with_changes(type=FindingType.CANNOT_QUARANTINE, action=Action.NONE)
    claimed = quarantined().with_changes(type=FindingType.STILL_QUARANTINED, transition=False)
    assert on.due([failed, claimed, released(Action.WOULD_RELEASE)], NOW, ENFORCE, SCAN) == ()


def test_report_mode_is_off_by_default_and_the_scans_alone_when_on() -> None:
    findings = [pending(NOW + HOUR * 23.5, transition=True), quarantined(Action.WOULD_QUARANTINE, NOW - HOUR / 2)]
    assert on.due(findings, NOW, REPORT_OFF, SCAN) == ()
    assert on.due(findings, NOW, REPORT_ON, LOGIN) == ()
    assert kinds(on.due(findings, NOW, REPORT_ON, SCAN)) == [("grace", None), ("quarantine", None)]


@pytest.mark.parametrize(
    ("deadline", "due"),
    [(NOW - timedelta(minutes=59), True), (NOW, True), (NOW - HOUR, False), (NOW - timedelta(days=30), False)],
)
def test_report_mode_tells_of_a_quarantine_only_in_the_hour_the_deadline_passed(deadline: datetime, due: bool) -> None:
    """No record in report mode, so the instant is the record: one scan's window, no overlap."""
    found = on.due([quarantined(Action.WOULD_QUARANTINE, deadline)], NOW, REPORT_ON, SCAN)
    assert bool(found) is due


def test_report_mode_reminders_have_no_overlap_to_repeat_in() -> None:
    assert on.due([pending(NOW + timedelta(hours=22, minutes=55))], NOW, REPORT_ON, SCAN) == ()


# ------------------------------------------------------------------------------------------ the record


def test_the_record_round_trips_and_stops_what_it_names() -> None:
    deadline = NOW + HOUR * 48
    (grace,) = on.due([pending(deadline, transition=True)], NOW, ENFORCE, SCAN)
    record = on.Ledger().after(grace, NOW)
    assert record.render() == "v1 deadline=2026-11-25T12:30:00Z grace reminders=72"
    assert on.parse_ledger(record.render()) == record
    assert not record.allows(grace)
    (reminder,) = on.due([pending(deadline)], deadline - HOUR * 24, ENFORCE, SCAN)
    assert record.allows(reminder)
    later = record.after(reminder, deadline - HOUR * 24)
    assert not later.allows(reminder)
    (quarantine,) = on.due([quarantined()], NOW, ENFORCE, SCAN)
    final = later.after(quarantine, deadline).after(on.Due(on.Notice.RELEASE, released()), deadline + HOUR)
    assert final.render() == (
        "v1 deadline=2026-11-25T12:30:00Z grace reminders=72/24 "
        "quarantine=2026-11-25T12:30:00Z release=2026-11-25T13:30:00Z"
    )
    assert on.parse_ledger(final.render()) == final
    assert len(final.render()) <= on.MAX_TAG_VALUE


def test_a_new_deadline_starts_a_new_record_of_warnings() -> None:
    old = on.parse_ledger("v1 deadline=2026-11-20T00:00:00Z grace reminders=24 quarantine=2026-11-21T00:00:00Z")
    (grace,) = on.due([pending(NOW + HOUR * 24, transition=True)], NOW, ENFORCE, SCAN)
    assert old.allows(grace)
    assert old.after(grace, NOW).render() == (
        "v1 deadline=2026-11-24T12:30:00Z grace reminders=72/24 quarantine=2026-11-21T00:00:00Z"
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "v2 deadline=2026-11-24T12:30:00Z grace",
        "v1 deadline=2026-11-24T12:30:00Z grace ",
        " v1 deadline=2026-11-24T12:30:00Z grace",
        "v1 grace",
        "v1 deadline=2026-13-24T12:30:00Z grace",
        "v1 deadline=2026-11-24T12:30:00+00:00 grace",
        "v1 deadline=2026-11-24T12:30:00Z grace grace",
        "V1 deadline=2026-11-24T12:30:00Z grace",
        "v1 release=2026-11-24T12:30:00Z quarantine=2026-11-24T12:30:00Z",
        "v1 deadline=2026-11-24T12:30:00Z reminders=1e3",
        "v1 deadline=2026-11-24T12:30:00Z grace" + " " * 300,
        "everything was sent, honest",
    ],
)
def test_anything_not_exactly_in_the_format_is_no_record(value: str) -> None:
    record = on.parse_ledger(value)
    assert record == on.Ledger(readable=False)
    (grace,) = on.due([pending(datetime(2026, 11, 24, 12, 30, tzinfo=UTC), transition=True)], NOW, ENFORCE, SCAN)
    assert record.allows(grace)


def test_no_value_can_hold_back_a_quarantine_or_a_release() -> None:
    """Those notices follow transitions the role's claim makes unique; the record only documents them."""
    claimed = on.parse_ledger("v1 quarantine=2026-11-23T12:30:00Z release=2026-11-23T12:30:00Z")
    (quarantine,) = on.due([quarantined()], NOW, ENFORCE, SCAN)
    assert claimed.allows(quarantine)
    assert claimed.allows(on.Due(on.Notice.RELEASE, released()))


def test_what_a_value_can_do_is_claim_the_warnings_for_the_real_deadline() -> None:
    """The documented limit: whoever may tag the user can silence grace and reminders (never more)."""
    forged = on.parse_ledger("v1 deadline=2026-11-24T12:30:00Z grace reminders=24")
    (grace,) = on.due(
        [pending(datetime(2026, 11, 24, 12, 30, 0, 400_000, tzinfo=UTC), transition=True)], NOW, ENFORCE, SCAN
    )
    assert not forged.allows(grace)


@pytest.mark.parametrize("hours", [0.1, 0.333333, 1.5, 24.0, 8760.0])
def test_reminder_hours_round_trip_through_the_tag(hours: float) -> None:
    text = on.hours_text(hours)
    assert "e" not in text and float(text) == hours
    record = on.Ledger(deadline=NOW, reminders=frozenset({hours}))
    assert on.parse_ledger(record.render()) == record
