"""The exemptions validator against anything an admin (or an attacker) can put in the SSM parameter.

Either the document is accepted and round-trips through `Exemptions.as_document()`, or it is
rejected with ExemptionsError listing problems that each name a path in the document. Any other
exception would escape the scan's fail-safe handling.
"""

from __future__ import annotations

import json
import re
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from chalicelib.core import exemptions
from tests.conftest import NOW
from tests.reliability.support import reliability

# Where a problem is: `$.key`, `exemptions[i].key`, or an odd key quoted (`$["x\\n"]`, long ones cut with ...).
_KEY = r'(\..*|\[".*("|\.\.\.)\])'
PATH = re.compile(rf"^(\$({_KEY})?|exemptions\[\d+\]({_KEY})?)$", re.DOTALL)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)

iam_names = st.text(string.ascii_letters + string.digits + "+=,.@_-", min_size=1, max_size=70)
paths = st.lists(st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=8), max_size=3).map(
    lambda parts: "/" + "".join(p + "/" for p in parts)
)
expiry_texts = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["2027-06-30", "2026-12-31T18:00:00Z", "9999-12-31", "0001-01-01T00:00:00+01:00", "tomorrow"]),
    st.text(max_size=30),
)
selector_values = st.one_of(iam_names, paths, json_values)


@st.composite
def near_valid_entries(draw: st.DrawFn) -> Any:
    """Entries close to valid, so the search reaches every branch of the validator, not only `$`."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    entry: dict[str, Any] = {}
    for selector in draw(st.lists(st.sampled_from(exemptions.SELECTORS), min_size=0, max_size=3, unique=True)):
        entry[selector] = draw(selector_values)
    if draw(st.integers(0, 9)):
        entry["reason"] = draw(st.text(min_size=1, max_size=40) | json_values)
    if draw(st.booleans()):
        entry["expires"] = draw(expiry_texts | json_values)
    if draw(st.integers(0, 3)) == 0:
        entry["approved_by"] = draw(st.text(max_size=20) | json_values)
    if draw(st.integers(0, 9)) == 0:
        entry[draw(st.text(max_size=10))] = draw(json_values)
    return entry


near_valid_documents = st.fixed_dictionaries(
    {"version": st.just(1) | json_values, "exemptions": st.lists(near_valid_entries(), max_size=5)},
    optional={"extra": json_values},
)


def check(outcome: Any) -> None:
    """Accepted and round-trips, or rejected with located problems; nothing else."""
    if isinstance(outcome, exemptions.Exemptions):
        document = outcome.as_document()
        assert exemptions.parse(document) == outcome
        assert exemptions.loads(json.dumps(document)) == outcome
        return
    assert isinstance(outcome, exemptions.ExemptionsError), f"{type(outcome).__name__}: {outcome}"
    assert outcome.problems
    for problem in outcome.problems:
        assert PATH.match(problem.path), problem.path
        assert problem.message
    assert str(outcome)


def validate(document: object) -> Any:
    try:
        return exemptions.parse(document)
    except exemptions.ExemptionsError as exc:
        return exc


def validate_text(text: str) -> Any:
    try:
        return exemptions.loads(text)
    except exemptions.ExemptionsError as exc:
        return exc


@reliability(
    "exemptions document: arbitrary JSON values and near-valid documents",
    "accepted and round-trips through as_document(), or rejected naming a path; no other exception",
)
@given(near_valid_documents | json_values)
@example({"version": 1, "exemptions": [{"user": "break-glass", "reason": "safe", "expires": "9999-12-31"}]})
@example({"version": 1, "exemptions": [{"user": "a", "reason": "r", "expires": "0001-01-01T00:00:00+01:00"}]})
@example({"version": 1, "exemptions": [{"path": "/", "reason": "everyone", "approved_by": "secops"}]})
def test_any_document_is_accepted_and_round_trips_or_rejected_with_a_path(document: object) -> None:
    check(validate(document))


@reliability(
    "exemptions parameter: arbitrary strings (broken JSON, deep nesting, blanks)",
    "accepted and round-trips, or rejected naming a path; no other exception",
)
@given(st.text() | near_valid_documents.map(json.dumps).map(lambda s: s[: len(s) // 2 + 1]) | st.just(" "))
@example("[" * 100_000)
@example('{"version": 1, "exemptions": [{"group": "x", "reason": "r", "expires": "9999-12-31T23:59:59-01:00"}]}')
def test_any_parameter_text_is_accepted_or_rejected_with_a_path(text: str) -> None:
    check(validate_text(text))


offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)).map(
    lambda d: timezone(timedelta(minutes=d // timedelta(minutes=1)))
)
instants = st.datetimes(timezones=offsets) | st.datetimes(
    min_value=NOW.replace(tzinfo=None) - timedelta(days=30),
    max_value=NOW.replace(tzinfo=None) + timedelta(days=30),
    timezones=offsets,
)


@reliability(
    "exemption expiry at any instant or date, with any UTC offset, down to year 1 and up to year 9999",
    "an accepted expiry in the past never exempts; one in the future always does",
)
@given(instants, st.booleans())
@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), False)  # before year 1 in UTC: long expired
@example(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))), False)  # beyond 9999 in UTC
@example(datetime(9999, 12, 31, tzinfo=UTC), True)  # "9999-12-31": through the last day datetime can hold
def test_an_expiry_means_what_it_says(moment: datetime, date_only: bool) -> None:
    text = moment.date().isoformat() if date_only else moment.isoformat()
    outcome = validate({"version": 1, "exemptions": [{"user": "a", "reason": "r", "expires": text}]})
    check(outcome)
    if isinstance(outcome, exemptions.Exemptions):
        (entry,) = outcome.entries
        still_valid = moment.date() >= NOW.date() if date_only else moment > NOW
        assert entry.active(NOW) == still_valid, (text, entry.expires)
