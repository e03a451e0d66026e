"""The credential report parser on a real-format report, AWS's special values and broken input."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from chalicelib.core import credential_report
from tests.conftest import fixture_text


@pytest.fixture
def report() -> credential_report.CredentialReport:
    return credential_report.parse(fixture_text("iam_credential_report.csv").encode())


def by_user(report: credential_report.CredentialReport) -> dict[str, object]:
    return {row.user: row for row in report.rows}


def test_root_row_is_parsed_with_not_supported_values(report: credential_report.CredentialReport) -> None:
    root = report.root
    assert root is not None
    assert root.is_root
    assert root.password_enabled is True  # root always has a password; AWS writes not_supported
    assert root.password_last_changed is None
    assert root.mfa_active is False
    assert root.access_key_active is True
    assert root not in report.users


def test_user_rows_resolve_special_values(report: credential_report.CredentialReport) -> None:
    rows = by_user(report)
    alice, bob, carol, dave = rows["alice"], rows["bob"], rows["carol"], rows["dave"]
    assert (alice.password_enabled, alice.mfa_active, alice.access_key_active) == (True, True, False)
    assert bob.created == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert (carol.password_enabled, carol.password_last_changed, carol.access_key_active) == (False, None, True)
    assert carol.path == "/service/"
    assert dave.password_last_changed == datetime(2026, 11, 23, 2, tzinfo=UTC)


def test_upper_case_booleans_and_z_timestamps_are_accepted(report: credential_report.CredentialReport) -> None:
    frank = by_user(report)["frank"]
    assert frank.password_enabled is True
    assert frank.mfa_active is False
    assert frank.created == datetime(2020, 1, 1, tzinfo=UTC)
    assert frank.path == "/eng/"


def test_bad_rows_are_reported_by_name_and_skipped(report: credential_report.CredentialReport) -> None:
    errors = {e.user: e.problem for e in report.errors}
    assert set(errors) == {"mallory", "trudy", "oscar"}
    assert "password_enabled is not true/false: 'maybe'" in errors["mallory"]
    assert "user_creation_time is not an ISO 8601 timestamp" in errors["trudy"]
    assert "fields" in errors["oscar"]
    assert {"mallory", "trudy", "oscar"}.isdisjoint(by_user(report))
    assert len(report.rows) == 7


def test_columns_are_found_by_name_not_position() -> None:
    text = (
        "mfa_active,password_enabled,user,user_creation_time,arn,extra_new_column\r\n"
        "false,true,zoe,2024-01-01T00:00:00+00:00,arn:aws:iam::123456789012:user/zoe,whatever\r\n"
    )
    (row,) = credential_report.parse(("\ufeff" + text).encode()).rows
    assert (row.user, row.password_enabled, row.mfa_active, row.access_key_active) == ("zoe", True, False, False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"user,arn,mfa_active\nx,y,true\n", "lacks column(s): user_creation_time, password_enabled"),
    ],
)
def test_unreadable_report_is_one_clear_error(content: bytes, message: str) -> None:
    with pytest.raises(credential_report.ReportFormatError, match=re.escape(message)):
        credential_report.parse(content)


def test_very_long_names_are_shortened_in_errors() -> None:
    name = "x" * 5000
    header = "user,arn,user_creation_time,password_enabled,mfa_active"
    (error,) = credential_report.parse(f"{header}\n{name},arn,bad,true,false\n").errors
    assert len(error.user) <= credential_report.MAX_NAME_IN_MESSAGE + 1


HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_changed,mfa_active,access_key_1_active,"
    "access_key_2_active"
)
CREATED = "2024-01-01T00:00:00+00:00"


def line(user: str = "zoe", **columns: str) -> str:
    values = {
        "arn": f"arn:aws:iam::123456789012:user/{user}",
        "user_creation_time": CREATED,
        "password_enabled": "true",
        "password_last_changed": "N/A",
        "mfa_active": "false",
        "access_key_1_active": "false",
        "access_key_2_active": "false",
    } | columns
    return ",".join([user, *values.values()])


def parsed(*lines: str, header: str = HEADER) -> credential_report.CredentialReport:
    return credential_report.parse("\n".join([header, *lines]) + "\n")


def only_error(*lines: str) -> credential_report.RowError:
    report = parsed(*lines)
    assert report.rows == ()
    (error,) = report.errors
    return error


def test_every_row_error_names_the_user_its_line_and_the_problem() -> None:
    report = parsed(line("ann"), line("ben", mfa_active="maybe"), line("cy"), line("dee", user_creation_time="soon"))
    assert [r.user for r in report.rows] == ["ann", "cy"]
    assert report.errors == (
        credential_report.RowError("ben", 3, "mfa_active is not true/false: 'maybe'"),
        credential_report.RowError("dee", 5, "user_creation_time is not an ISO 8601 timestamp: 'soon'"),
    )


def test_a_row_with_the_wrong_field_count_is_skipped_and_the_rows_after_it_still_read() -> None:
    report = parsed("ann,arn:aws:iam::123456789012:user/ann", line("ben"))
    assert [r.user for r in report.rows] == ["ben"]
    assert report.errors == (credential_report.RowError("ann", 2, "has 2 fields, header has 8"),)


def test_a_short_row_without_its_user_column_is_named_by_line() -> None:
    header = "arn,user,user_creation_time,password_enabled,mfa_active"
    report = parsed(
        "arn:aws:iam::123456789012:user/x", f"arn:aws:iam::1:user/ben,ben,{CREATED},true,false", header=header
    )
    assert [r.user for r in report.rows] == ["ben"]
    assert report.errors == (credential_report.RowError("<line 2>", 2, "has 1 fields, header has 5"),)


def test_a_row_that_is_not_csv_is_named_by_line_and_the_rest_still_read() -> None:
    report = parsed(line("ann"), "x" * 200_000, line("ben"))
    assert [r.user for r in report.rows] == ["ann", "ben"]
    assert report.errors == (
        credential_report.RowError("<line 3>", 3, "not CSV: field larger than field limit (131072)"),
    )


def test_blank_lines_between_rows_are_skipped_not_the_end_of_the_report() -> None:
    report = parsed(line("ann"), "", ",,,,,,,", line("ben"))
    assert [r.user for r in report.rows] == ["ann", "ben"]
    assert report.errors == ()


def test_a_row_with_an_empty_user_name_is_an_error_by_line() -> None:
    assert only_error(line(" ")) == credential_report.RowError("<line 2>", 2, "empty user name")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "credential report is empty"),
        ("x" * 200_000, "credential report header is not CSV: field larger than field limit (131072)"),
        (b"user,arn,mfa_active\nx,y,true\n", "credential report lacks column(s): user_creation_time, password_enabled"),
    ],
    ids=["empty", "header-not-csv", "missing-columns"],
)
def test_the_report_level_error_says_what_is_wrong(content: bytes | str, message: str) -> None:
    with pytest.raises(credential_report.ReportFormatError) as raised:
        credential_report.parse(content)
    assert str(raised.value) == message


def test_invalid_utf8_is_replaced_not_fatal_for_the_report() -> None:
    body = f"{HEADER}\n".encode() + line("ann").encode().replace(b"ann,", b"an\xffn,", 1) + b"\n" + line("ben").encode()
    report = credential_report.parse(body)
    assert [r.user for r in report.rows] == ["an\ufffdn", "ben"]


def test_a_text_report_with_a_byte_order_mark_is_read() -> None:
    (row,) = credential_report.parse("\ufeff" + HEADER + "\n" + line("ann") + "\n").rows
    assert row.user == "ann"


def test_a_user_row_without_a_creation_time_is_an_error_root_is_not() -> None:
    root = line("<root_account>", arn="arn:aws:iam::123456789012:root", user_creation_time="not_supported")
    report = parsed(root, line("ann", user_creation_time="N/A"))
    assert report.root is not None and report.root.created is None
    assert report.errors == (credential_report.RowError("ann", 3, "user_creation_time is missing"),)


def test_either_access_key_makes_the_user_hold_one() -> None:
    report = parsed(
        line("none"),
        line("first", access_key_1_active="true"),
        line("second", access_key_2_active="TRUE"),
        line("na", access_key_1_active="N/A", access_key_2_active="no_information"),
    )
    assert {r.user: r.access_key_active for r in report.rows} == {
        "none": False,
        "first": True,
        "second": True,
        "na": False,
    }


def test_an_access_key_flag_that_is_not_a_boolean_is_an_error() -> None:
    error = only_error(line("ann", access_key_1_active="maybe"))
    assert error == credential_report.RowError("ann", 2, "access_key_1_active is not true/false: 'maybe'")


@pytest.mark.parametrize("value", ["N/A", "not_supported", ""])
def test_mfa_active_has_no_default_an_absent_value_is_an_error(value: str) -> None:
    error = only_error(line("ann", mfa_active=value))
    assert error == credential_report.RowError("ann", 2, f"mfa_active is not true/false: {value!r}")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-01T00:00:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T02:00:00+02:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2023-12-31T19:00:00-05:00", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
    ids=["naive-is-utc", "east-of-utc", "west-of-utc"],
)
def test_timestamps_are_utc_whatever_the_local_zone(local_zone_new_york: None, raw: str, expected: datetime) -> None:
    """The Lambda's zone is UTC, a laptop's may not be: a naive report time is UTC, an offset is converted."""
    (row,) = parsed(line("ann", user_creation_time=raw)).rows
    assert row.created == expected
    assert row.created is not None and row.created.tzinfo is UTC


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_timestamp_outside_what_utc_can_hold_is_a_row_error(raw: str) -> None:
    error = only_error(line("ann", password_last_changed=raw))
    assert error == credential_report.RowError("ann", 2, f"password_last_changed is out of range: {raw!r}")


def test_names_are_cut_only_past_the_limit() -> None:
    limit = credential_report.MAX_NAME_IN_MESSAGE
    at_limit, past_limit = "a" * limit, "b" * (limit + 1)
    report = parsed(line(at_limit, mfa_active="x"), line(past_limit, mfa_active="x"))
    assert [e.user for e in report.errors] == [at_limit, "b" * limit + "…"]
