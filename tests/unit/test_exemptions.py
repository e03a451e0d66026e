"""The exemptions document: the design's example, every kind of invalid document, and matching."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import exemptions
from tests.conftest import NOW, fixture_text, load_fixture

INVALID = load_fixture("ssm_exemptions_invalid.json")


def test_design_example_is_valid_and_round_trips() -> None:
    text = fixture_text("ssm_exemptions.json")
    document = exemptions.loads(text)
    assert [(e.selector, e.value) for e in document.entries] == [
        ("user", "break-glass"),
        ("path", "/service/"),
        ("group", "vendors-sso"),
    ]
    assert document.groups == ("vendors-sso",)
    assert document.as_document() == json.loads(text)


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_invalid_document_reports_exact_problems(case: dict[str, Any]) -> None:
    with pytest.raises(exemptions.ExemptionsError) as raised:
        if "text" in case:
            exemptions.loads(case["text"])
        else:
            exemptions.parse(case["document"])
    assert [str(p) for p in raised.value.problems] == case["problems"]


def test_there_are_at_least_ten_invalid_cases() -> None:
    assert len(INVALID) >= 10


def test_a_missing_parameter_means_no_exemptions() -> None:
    assert exemptions.loads(None).entries == ()


@pytest.mark.parametrize("text", ["", "   ", "\n", "\t\r\n"])
def test_an_empty_value_is_invalid_not_an_empty_list(text: str) -> None:
    """A parameter that exists but holds nothing is a broken write: reading it as "exempt nobody" would
    quarantine every break-glass and vendor account at once. It is invalid, so the run fails safe."""
    with pytest.raises(exemptions.ExemptionsError) as raised:
        exemptions.loads(text)
    assert [str(p) for p in raised.value.problems] == ['$: is empty: an empty list is {"version": 1, "exemptions": []}']


def test_the_empty_list_is_a_valid_document() -> None:
    assert exemptions.loads('{"version": 1, "exemptions": []}').entries == ()


def test_date_expiry_lasts_through_that_day_utc() -> None:
    (entry,) = exemptions.parse(
        {"version": 1, "exemptions": [{"user": "a", "reason": "r", "expires": "2026-11-23"}]}
    ).entries
    assert entry.active(datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC))
    assert not entry.active(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))


def test_datetime_expiry_with_offset_is_converted_to_utc() -> None:
    (entry,) = exemptions.parse(
        {"version": 1, "exemptions": [{"user": "a", "reason": "r", "expires": "2026-11-23T14:00:00+02:00"}]}
    ).entries
    assert entry.expires == datetime(2026, 11, 23, 12, tzinfo=UTC)


def document(*entries: dict[str, str]) -> exemptions.Exemptions:
    return exemptions.parse({"version": 1, "exemptions": list(entries)})


def test_match_by_user_path_prefix_and_group() -> None:
    doc = document(
        {"user": "break-glass", "reason": "safe"},
        {"path": "/service/", "reason": "machines"},
        {"group": "vendors", "reason": "idp"},
    )
    assert doc.match("break-glass", "/", [], NOW).value == "break-glass"
    assert doc.match("bot", "/service/batch/", [], NOW).value == "/service/"
    assert doc.match("v1", "/", ["staff", "vendors"], NOW).value == "vendors"
    assert doc.match("break-glass2", "/serv/", ["staff"], NOW) is None


def test_expired_entry_does_not_match_and_is_listed() -> None:
    yesterday = (NOW - timedelta(days=1)).date().isoformat()
    doc = document({"user": "old", "reason": "r", "expires": yesterday})
    assert doc.match("old", "/", [], NOW) is None
    assert [e.value for e in doc.expired(NOW)] == ["old"]


def test_expiring_window_is_seven_days() -> None:
    doc = document(
        {"user": "soon", "reason": "r", "expires": (NOW + timedelta(days=6)).date().isoformat()},
        {"user": "later", "reason": "r", "expires": (NOW + timedelta(days=8)).date().isoformat()},
    )
    assert [e.value for e in doc.entries if e.expiring(NOW)] == ["soon"]


# --- identity_center_user -------------------------------------------------------------------------


def ic_document(*entries: dict[str, str]) -> exemptions.Exemptions:
    return exemptions.parse({"version": 1, "exemptions": list(entries)})


def test_an_identity_center_entry_covers_only_that_identity_center_user() -> None:
    document = ic_document(
        {"identity_center_user": "Jane.Doe@example.com", "reason": "hardware key only, reported by IdP"},
        {"path": "/", "reason": "every IAM user"},
    )
    (entry, _) = document.entries
    assert document.match_identity_center("jane.doe@EXAMPLE.com", NOW) == entry  # letter case ignored
    assert document.match_identity_center("john@example.com", NOW) is None  # `path: /` is about IAM users only
    assert document.match("Jane.Doe@example.com", "/", (), NOW) == document.entries[1]  # never the IC entry
    only_ic = ic_document({"identity_center_user": "alice", "reason": "r"})
    assert only_ic.match("alice", "/", (), NOW) is None  # an IAM user alice is another person
    assert only_ic.as_document()["exemptions"] == [{"identity_center_user": "alice", "reason": "r"}]


def test_an_expired_identity_center_entry_no_longer_applies() -> None:
    document = ic_document({"identity_center_user": "alice", "reason": "r", "expires": "2026-11-01"})
    assert document.match_identity_center("alice", NOW) is None
    assert [e.value for e in document.expired(NOW)] == ["alice"]


@pytest.mark.parametrize(
    "name",
    ["", " alice", "alice ", "ali\nce", "alice\u202e", "a" * 129, "tab\tname", "ali\u2028ce", "ali\u2029ce"],
    ids=[
        "empty",
        "leading-blank",
        "trailing-blank",
        "newline",
        "bidi-override",
        "129-characters",
        "tab",
        "line-separator",
        "paragraph-separator",
    ],
)
def test_identity_center_names_that_identity_center_could_not_hold_are_refused(name: str) -> None:
    assert not exemptions.identity_center_name(name)
    with pytest.raises(exemptions.ExemptionsError, match=r"exemptions\[0\]\.identity_center_user") as raised:
        ic_document({"identity_center_user": name, "reason": "r"})
    if 0 < len(name) < 70:  # shown whole (longer values are cut, tested below)
        (problem,) = raised.value.problems
        assert problem.message == f"must be an Identity Center user name, got {json.dumps(name)}"


@pytest.mark.parametrize("name", ["a", "a" * 128], ids=["one-character", "128-characters"])
def test_identity_center_names_at_the_limits_are_valid(name: str) -> None:
    assert exemptions.identity_center_name(name)
    assert ic_document({"identity_center_user": name, "reason": "r"}).match_identity_center(name, NOW) is not None


def test_identity_center_names_may_carry_letters_iam_would_refuse() -> None:
    document = ic_document({"identity_center_user": "José Müller", "reason": "accented names are Identity Center's"})
    assert document.match_identity_center("josé müller", NOW) is not None


@pytest.mark.parametrize(
    ("selector", "value"),
    [
        ("user", "a" * 64),
        ("user", "Az09+=,.@_-"),
        ("group", "g" * 128),
        ("group", "Vendors+SSO=,.@_-"),
        ("path", "/"),
        ("path", "/" + "p" * 510 + "/"),
        ("path", "/a/b!~/"),
    ],
    ids=["user of 64", "user charset", "group of 128", "group charset", "root path", "path of 512", "path charset"],
)
def test_names_at_iams_limits_are_valid(selector: str, value: str) -> None:
    (entry,) = document({selector: value, "reason": "r"}).entries
    assert (entry.selector, entry.value) == (selector, value)


def test_user_and_group_selectors_match_whatever_the_letter_case() -> None:
    doc = document({"user": "Break-Glass", "reason": "safe"}, {"group": "VENDORS", "reason": "idp"})
    assert doc.match("break-glass", "/", [], NOW).value == "Break-Glass"
    assert doc.match("BREAK-GLASS", "/", [], NOW).value == "Break-Glass"
    assert doc.match("v1", "/", ["vendors"], NOW).value == "VENDORS"
    assert doc.match("break-glas", "/", ["vendor"], NOW) is None
    assert document({"group": "Vendors", "reason": "a"}, {"group": "vendors", "reason": "b"}).groups == ("Vendors",)


def test_paths_match_as_written() -> None:
    doc = document({"path": "/Service/", "reason": "machines"})
    assert doc.match("bot", "/Service/batch/", [], NOW).value == "/Service/"
    assert doc.match("bot", "/service/batch/", [], NOW) is None


def test_match_all_lists_every_active_entry_in_document_order() -> None:
    yesterday = (NOW - timedelta(days=1)).date().isoformat()
    doc = document(
        {"path": "/service/", "reason": "machines"},
        {"user": "svc", "reason": "old", "expires": yesterday},
        {"group": "ops", "reason": "on call"},
        {"user": "SVC", "reason": "named"},
    )
    assert [e.index for e in doc.match_all("svc", "/service/", ["ops"], NOW)] == [0, 2, 3]
    assert [e.index for e in doc.match_all("svc", "/", [], NOW)] == [3]
    assert doc.match_all("other", "/", [], NOW) == ()


def only(entry: dict[str, Any]) -> exemptions.Exemption:
    (found,) = document(entry).entries
    return found


def problems_of(value: object) -> list[str]:
    with pytest.raises(exemptions.ExemptionsError) as raised:
        exemptions.parse(value)
    return [str(p) for p in raised.value.problems]


def test_the_expiring_window_includes_its_last_instant_and_excludes_an_ended_entry() -> None:
    def expiring_at(expires: datetime) -> bool:
        return only({"user": "a", "reason": "r", "expires": expires.isoformat()}).expiring(NOW)

    window = exemptions.EXPIRING_WINDOW
    assert window == timedelta(days=7)
    assert expiring_at(NOW + window)
    assert not expiring_at(NOW + window + timedelta(microseconds=1))
    assert expiring_at(NOW + timedelta(microseconds=1))
    assert not expiring_at(NOW)  # ends now: expired, no longer "expiring"


def test_an_entry_is_active_until_the_instant_it_expires() -> None:
    entry = only({"user": "a", "reason": "r", "expires": NOW.isoformat()})
    assert entry.active(NOW - timedelta(microseconds=1))
    assert not entry.active(NOW)
    assert only({"user": "a", "reason": "r"}).active(datetime.max.replace(tzinfo=UTC))


def test_a_document_nested_too_deeply_is_one_clear_problem() -> None:
    with pytest.raises(exemptions.ExemptionsError) as raised:
        exemptions.loads("[" * 100_000)
    assert [str(p) for p in raised.value.problems] == ["$: not valid JSON: nested too deeply"]


@pytest.mark.parametrize(
    ("expires", "instant"),
    [
        ("2026-11-23T14:00:00", datetime(2026, 11, 23, 14, tzinfo=UTC)),
        ("2026-11-23T14:00:00+02:00", datetime(2026, 11, 23, 12, tzinfo=UTC)),
        ("9999-12-30", datetime(9999, 12, 31, tzinfo=UTC)),
        ("9999-12-31", exemptions.NEVER),
        ("9999-12-31T23:59:59-01:00", exemptions.NEVER),
        ("0001-01-01T00:00:00+01:00", exemptions.LONG_AGO),
    ],
    ids=["naive-is-utc", "offset", "day-before-the-last", "last-day", "past-the-last-instant", "before-the-first"],
)
def test_expiries_are_utc_instants_whatever_the_local_zone(
    local_zone_new_york: None, expires: str, instant: datetime
) -> None:
    entry = only({"user": "a", "reason": "r", "expires": expires})
    assert entry.expires == instant
    assert entry.expires is not None and entry.expires.utcoffset() == timedelta(0)
    assert entry.expires_text == expires


def test_an_expiry_before_the_first_instant_is_long_expired_and_one_past_the_last_never_ends() -> None:
    ancient = only({"user": "a", "reason": "r", "expires": "0001-01-01T00:00:00+01:00"})
    forever = only({"user": "a", "reason": "r", "expires": "9999-12-31T23:59:59-01:00"})
    assert not ancient.active(NOW) and forever.active(NOW)


@pytest.mark.parametrize(
    "expires",
    ["2026-11-23 14:00:00", "20261123", "2026-11-23T14:00:00\u00a0"],
    ids=["space-for-t", "basic-format", "non-ascii-space"],
)
def test_an_expiry_must_be_a_date_or_a_datetime_with_a_t(expires: str) -> None:
    assert problems_of({"version": 1, "exemptions": [{"user": "a", "reason": "r", "expires": expires}]}) == [
        f"exemptions[0].expires: is not a date (YYYY-MM-DD) or ISO 8601 datetime: {json.dumps(expires)}"
    ]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (None, "$: must be a JSON object, got null"),
        (("a",), "$: must be a JSON object, got tuple"),
        ({"version": 1, "exemptions": True}, "$.exemptions: must be a list, got boolean"),
        ({"version": 1, "exemptions": 1.5}, "$.exemptions: must be a list, got number"),
        ({"version": 1, "exemptions": "x"}, "$.exemptions: must be a list, got string"),
        ({"version": 1, "exemptions": [None]}, "exemptions[0]: must be an object, got null"),
        ({"version": 1, "exemptions": [[]]}, "exemptions[0]: must be an object, got list"),
        ({"version": True, "exemptions": []}, "$.version: must be 1, got true"),
        ({"version": 1.0, "exemptions": []}, "$.version: must be 1, got 1.0"),
        ({"version": [1], "exemptions": []}, "$.version: must be 1, got list"),
        ({"version": 1}, "$.exemptions: is required (a list, may be empty)"),
    ],
    ids=[
        "document-null",
        "document-tuple",
        "exemptions-boolean",
        "exemptions-number",
        "exemptions-string",
        "entry-null",
        "entry-list",
        "version-boolean",
        "version-float",
        "version-list",
        "exemptions-missing",
    ],
)
def test_each_wrong_type_is_named_as_json_names_it(document: object, problem: str) -> None:
    assert problems_of(document) == [problem]


def test_the_error_lists_every_problem_in_one_line() -> None:
    error = exemptions.ExemptionsError([exemptions.Problem("$.version", "x"), exemptions.Problem("$.exemptions", "y")])
    assert str(error) == "$.version: x; $.exemptions: y"


def test_a_reason_of_the_longest_length_is_valid() -> None:
    (entry,) = document({"user": "bob", "reason": "r" * exemptions.MAX_TEXT}).entries
    assert len(entry.reason) == exemptions.MAX_TEXT


@pytest.mark.parametrize(("length", "shown"), [(78, None), (79, 77)], ids=["shown-whole-at-80", "cut-past-80"])
def test_a_bad_value_is_shown_whole_up_to_eighty_characters(length: int, shown: int | None) -> None:
    value = " " * length  # a user name IAM refuses, quoted by json.dumps: two characters longer
    with pytest.raises(exemptions.ExemptionsError) as raised:
        document({"user": value, "reason": "r"})
    (problem,) = raised.value.problems
    quoted = json.dumps(value)
    expected = quoted if shown is None else quoted[:shown] + "..."
    assert problem.message.endswith(f", got {expected}")
