"""Who the owner is: a tag or the user name, checked as attacker-controlled text."""

from __future__ import annotations

import pytest

from chalicelib.core import contacts

GOOD_ADDRESSES = ["bob@example.com", "bob.smith+aws@corp.example.co.uk", "a_b-c%d@x-y.example", "U@example.io"]
BAD_ADDRESSES = [
    "bob@example.com\r\nBcc: eve@evil.example",
    "bob@example.com\nBcc: eve@evil.example",
    "bob@example.com Bcc:eve@evil.example",
    "bob@example.com,eve@evil.example",
    "bob@example.com;eve@evil.example",
    '"Bob" <bob@example.com>',
    "<bob@example.com>",
    "bob@example.com (comment)",
    "bob@localhost",
    "bob@@example.com",
    ".bob@example.com",
    "bob.@example.com",
    "bo..b@example.com",
    "bob@-example.com",
    "bob@example.c",
    "bøb@example.com",
    "bob@exämple.com",
    "=?utf-8?q?eve=40evil.example?=",
    "bob@example.com\x00",
    "'bob'@example.com",
    "",
    "a" * 65 + "@example.com",
    "bob@" + "a" * 250 + ".com",
]


@pytest.mark.parametrize("text", GOOD_ADDRESSES)
def test_plain_addresses_are_accepted(text: str) -> None:
    assert contacts.is_email(text)


@pytest.mark.parametrize("text", BAD_ADDRESSES)
def test_anything_that_could_become_a_header_a_second_recipient_or_markup_is_refused(text: str) -> None:
    assert not contacts.is_email(text)
    assert contacts.parse(text, "tag email") is None


@pytest.mark.parametrize(
    ("text", "ok"),
    [("U024BE7LH", True), ("W0123ABCDEF", True), ("u024be7lh", False), ("C024BE7LH", False), ("U12", False)],
)
def test_slack_member_ids(text: str, ok: bool) -> None:
    assert contacts.is_slack_member(text) is ok


def test_the_tag_wins_then_the_user_name_then_nobody() -> None:
    tagged = contacts.of_user("carol@example.com", {"email": "carol.work@example.com"}, "email")
    assert tagged == contacts.Contact(contacts.Kind.EMAIL, "carol.work@example.com", "tag email")
    member = contacts.of_user("dave", {"Email": " U024BE7LH "}, "email")  # IAM keys are unique regardless of case
    assert member == contacts.Contact(contacts.Kind.SLACK, "U024BE7LH", "tag email")
    assert member.email is None
    by_name = contacts.of_user("erin@example.com", {}, "email")
    assert by_name == contacts.Contact(contacts.Kind.EMAIL, "erin@example.com", "user name")
    assert contacts.of_user("frank", {"team": "data"}, "email") is None


def test_a_broken_tag_does_not_hide_a_user_name_that_is_an_address() -> None:
    """Anyone who may tag the user can write the tag; only whoever may create users chose the name."""
    found = contacts.of_user("gina@example.com", {"email": "gina@example.com\r\nBcc: eve@evil.example"}, "email")
    assert found == contacts.Contact(contacts.Kind.EMAIL, "gina@example.com", "user name")


def test_why_none_names_the_tag_but_never_repeats_its_value() -> None:
    assert contacts.why_none("svc", {}, "owner") == "no tag owner, and the user name 'svc' is not an e-mail address"
    why = contacts.why_none("svc", {"owner": "<script>alert(1)</script>"}, "owner")
    assert why.startswith("the tag owner holds neither an e-mail address nor a Slack member id, and the user name")
    assert "script" not in why
