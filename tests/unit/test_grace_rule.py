"""The grace rule (grace.py) at its boundaries: the floor, a recorded deadline and its cap, and who earns one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import decide, exemptions, grace
from chalicelib.core.model import Mode
from tests.conftest import NOW

GRACE = timedelta(hours=24)
CREATED = NOW - timedelta(days=10)
PROFILE = NOW - timedelta(hours=2)


def test_the_floor_is_creation_plus_grace_and_saturates() -> None:
    assert grace.floor(CREATED, GRACE) == CREATED + GRACE
    far = datetime(9999, 12, 31, 12, tzinfo=UTC)
    assert grace.floor(far, GRACE) == datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("tag", "profile", "expected", "note"),
    [
        (None, PROFILE, CREATED + GRACE, None),
        (None, None, CREATED + GRACE, None),
        ("2026-11-24T10:30:00Z", PROFILE, datetime(2026, 11, 24, 10, 30, tzinfo=UTC), None),  # = profile + 24 h
        ("2026-11-24T10:35:00+00:00", PROFILE, datetime(2026, 11, 24, 10, 35, tzinfo=UTC), None),  # + SKEW: kept
        (
            "2026-11-24T10:35:01Z",
            PROFILE,
            datetime(2026, 11, 24, 10, 35, tzinfo=UTC),
            "its grace-deadline tag 2026-11-24T10:35:01Z asks for more than the console password's age allows",
        ),
        ("2026-11-01T00:00:00Z", PROFILE, CREATED + GRACE, None),  # earlier than the floor: the floor
        (
            "2026-11-24T10:30:00Z",
            None,
            CREATED + GRACE,
            "its grace-deadline tag was ignored: the user has no console password",
        ),
        ("soon", PROFILE, CREATED + GRACE, "its grace-deadline tag 'soon' is not a timestamp and was ignored"),
        (
            "2026-11-24T10:30:00",
            PROFILE,
            CREATED + GRACE,
            "its grace-deadline tag '2026-11-24T10:30:00' is not a timestamp and was ignored",
        ),
    ],
    ids=[
        "none",
        "none, no profile",
        "at the cap",
        "cap plus skew",
        "past the cap",
        "before floor",
        "no profile",
        "text",
        "naive",
    ],
)
def test_a_recorded_deadline_counts_up_to_the_passwords_age(
    tag: str | None, profile: datetime | None, expected: datetime, note: str | None
) -> None:
    assert grace.deadline(CREATED, GRACE, tag, profile) == grace.Deadline(expected, note)


def test_a_password_earns_its_own_grace_from_one_hour_after_creation() -> None:
    assert grace.earns_grant(CREATED, CREATED + timedelta(hours=1))
    assert not grace.earns_grant(CREATED, CREATED + timedelta(minutes=59, seconds=59))


@pytest.mark.parametrize(
    ("password_set", "needed"),
    [
        (None, False),
        (CREATED, False),  # the password came with the user: the floor is the deadline, nothing to read
        (CREATED + timedelta(minutes=5), False),
        (CREATED + timedelta(minutes=5, seconds=1), True),  # set later: a recorded deadline could count
    ],
)
def test_the_scan_reads_a_record_only_where_it_could_change_the_answer(
    password_set: datetime | None, needed: bool
) -> None:
    assert grace.may_extend(CREATED, password_set) is needed


def test_a_recorded_deadline_counts_only_for_a_password_given_after_the_user() -> None:
    tag = iso_of(CREATED + timedelta(hours=30))
    assert grace.deadline(CREATED, GRACE, tag, CREATED + timedelta(minutes=5)) == grace.Deadline(
        CREATED + GRACE, "its grace-deadline tag was ignored: the console password came with the user"
    )
    later = CREATED + timedelta(minutes=5, seconds=1)
    assert grace.deadline(CREATED, GRACE, tag, later).at == later + GRACE + grace.SKEW  # capped by its age


def iso_of(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def facts(**changes: object) -> decide.UserFacts:
    base = decide.UserFacts("bob", "arn:aws:iam::123456789012:user/bob", True, False, False, CREATED, False)
    return base if not changes else decide.UserFacts(**{**base.__dict__, **changes})  # type: ignore[arg-type]


POLICY = decide.Policy(mode=Mode.ENFORCE, grace=GRACE)


def test_a_grant_records_the_moment_plus_grace_once() -> None:
    given = NOW - timedelta(minutes=3)
    assert decide.grant(facts(), given, NOW, POLICY) == given + GRACE
    assert decide.grant(facts(), NOW + timedelta(hours=5), NOW, POLICY) == NOW + GRACE  # a future time counts as now
    assert decide.grant(facts(grace_tag="2026-11-24T00:00:00Z"), given, NOW, POLICY) is None  # already recorded
    assert decide.grant(facts(created=None), given, NOW, POLICY) is None
    assert decide.grant(facts(created=given - timedelta(minutes=59)), given, NOW, POLICY) is None  # came with the user
    assert decide.grant(facts(created=given - timedelta(hours=1)), given, NOW, POLICY) == given + GRACE


@pytest.mark.parametrize(
    ("stamp", "deadline", "premature"),
    [
        ("2026-11-23T12:25:00Z", NOW + GRACE, True),  # quarantined after the password was given
        ("2026-11-23T12:20:00Z", NOW + GRACE, True),  # within SKEW before it
        ("2026-11-23T12:19:59Z", NOW + GRACE, False),  # older: that quarantine stands
        ("2026-11-23T12:25:00Z", NOW, False),  # the recorded grace is over anyway
        ("not a time", NOW + GRACE, False),
        (None, NOW + GRACE, False),
    ],
)
def test_a_quarantine_is_premature_only_if_it_followed_the_password(
    stamp: str | None, deadline: datetime, premature: bool
) -> None:
    assert decide.premature(stamp, NOW - timedelta(minutes=5), deadline, NOW) is premature


def test_past_grace_needs_a_console_no_mfa_no_exemption_and_a_passed_deadline() -> None:
    none = exemptions.Exemptions()
    assert decide.past_grace(facts(), none, NOW, POLICY)
    assert not decide.past_grace(facts(created=NOW - GRACE + timedelta(seconds=1)), none, NOW, POLICY)
    assert decide.past_grace(facts(created=NOW - GRACE), none, NOW, POLICY)
    assert not decide.past_grace(facts(mfa=True), none, NOW, POLICY)
    assert not decide.past_grace(facts(console=False), none, NOW, POLICY)
    assert not decide.past_grace(facts(), None, NOW, POLICY)
    exempt = exemptions.parse({"version": 1, "exemptions": [{"user": "BOB", "reason": "r"}]})
    assert not decide.past_grace(facts(), exempt, NOW, POLICY)
    assert decide.past_grace(facts(created=None), none, NOW, POLICY)
