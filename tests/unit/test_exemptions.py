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


@pytest.mark.parametrize("text", [None, "", "   "])
def test_blank_parameter_means_no_exemptions(text: str | None) -> None:
    assert exemptions.loads(text).entries == ()


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
