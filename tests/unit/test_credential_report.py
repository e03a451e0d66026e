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
