"""What an owner notice says, in each medium, with the account's text escaped for it."""

from __future__ import annotations

import html.parser
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import owner_text
from chalicelib.core.model import Action, Finding, FindingType, Trigger
from chalicelib.core.owner_notices import Due, Notice

NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
DEADLINE = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>&<!channel>"


def due(notice: Notice, user: str = "bob", *, partition: str = "aws", **extra: object) -> Due:
    kind = {
        Notice.GRACE: FindingType.PENDING,
        Notice.REMINDER: FindingType.PENDING,
        Notice.QUARANTINE: FindingType.QUARANTINED,
        Notice.RELEASE: FindingType.RELEASED,
    }[notice]
    trigger = extra.pop("trigger", Trigger.SCHEDULED_SCAN)
    arn = f"arn:{partition}:iam::123456789012:user/{user}"
    finding = Finding(kind, user, arn, Action.NONE, "r", trigger, NOW, True, deadline=DEADLINE)  # type: ignore[arg-type]
    return Due(notice, finding.with_changes(**extra), hours=24.0 if notice is Notice.REMINDER else None)


ACME = owner_text.account("123456789012", "acme-prod", "aws")


@pytest.mark.parametrize(
    ("notice", "subject"),
    [
        (Notice.GRACE, "Action required by 2026-11-24T12:30:00Z: set up MFA for AWS user bob"),
        (Notice.REMINDER, "Reminder: about 24 hours left to set up MFA for AWS user bob (by 2026-11-24T12:30:00Z)"),
        (Notice.QUARANTINE, "AWS user bob is restricted until you set up MFA"),
        (Notice.RELEASE, "AWS user bob: MFA is set up and the restriction is lifted"),
    ],
)
def test_subjects_say_what_happened_and_by_when(notice: Notice, subject: str) -> None:
    assert owner_text.email(due(notice), ACME, NOW, report=False).subject == subject
    in_report = "AWS user bob would be restricted" if notice is Notice.QUARANTINE else subject
    assert owner_text.email(due(notice), ACME, NOW, report=True).subject == "[report mode] " + in_report


def test_a_quarantine_in_report_mode_says_nothing_was_changed() -> None:
    mail = owner_text.email(due(Notice.QUARANTINE), ACME, NOW, report=True)
    assert "report mode in this account, so nothing was changed" in mail.text
    assert "Mode: report mode: nothing is changed" in mail.text
    assert "lifted automatically" not in mail.text


def test_the_quarantine_notice_lists_what_is_blocked_what_works_and_how_to_enrol() -> None:
    text = owner_text.email(due(Notice.QUARANTINE), ACME, NOW, report=False).text
    assert (
        "Since 2026-11-23T12:30:00Z (UTC), your IAM user bob in AWS account 123456789012 (acme-prod) is restricted"
        in text
    )
    assert "Blocked while restricted:\n  - Everything else in AWS" in text
    assert "Still works:\n  - Signing in to the console with your password." in text
    assert "  1. Sign in to the AWS console as bob: https://acme-prod.signin.aws.amazon.com/console" in text
    assert "https://console.aws.amazon.com/iam/home#/security_credentials" in text
    assert "passkey or security key" in text and "authenticator app" in text and "hardware TOTP token" in text


def test_a_quarantine_after_a_sign_in_warns_of_a_stolen_password() -> None:
    finding = due(Notice.QUARANTINE, trigger=Trigger.ON_CONSOLE_LOGIN, source_ip="198.51.100.7")
    text = owner_text.email(finding, ACME, NOW, report=False).text
    assert "This followed a console sign-in without MFA from 198.51.100.7. If that was not you" in text


def test_a_release_warns_that_a_thief_can_enrol_a_device() -> None:
    finding = due(Notice.RELEASE, mfa_serial="arn:aws:iam::123456789012:mfa/bob-phone", source_ip="203.0.113.9")
    text = owner_text.email(finding, ACME, NOW, report=False).text
    assert "(device arn:aws:iam::123456789012:mfa/bob-phone)" in text and "enrolled from 203.0.113.9" in text
    assert "may have enrolled their own" in text
    assert "Blocked" not in text and "How to set up MFA" not in text


@pytest.mark.parametrize(
    ("partition", "console", "signin"),
    [
        ("aws", "console.aws.amazon.com", "123456789012.signin.aws.amazon.com"),
        ("aws-cn", "console.amazonaws.cn", "123456789012.signin.amazonaws.cn"),
        ("aws-us-gov", "console.amazonaws-us-gov.com", "123456789012.signin.amazonaws-us-gov.com"),
    ],
)
def test_links_go_to_the_partitions_console(partition: str, console: str, signin: str) -> None:
    where = owner_text.account("123456789012", None, partition)
    text = owner_text.email(due(Notice.GRACE, partition=partition), where, NOW, report=False).text
    assert f"https://{console}/iam/home#/security_credentials" in text
    assert f"https://{signin}/console" in text


@pytest.mark.parametrize("alias", ["Acme", "acme_prod", "-acme", "ab", "acme--prod", "acme.evil.example/x", HOSTILE])
def test_an_alias_iam_could_not_hold_is_left_out(alias: str) -> None:
    assert owner_text.account("123456789012", alias, "aws") == owner_text.Account("123456789012", None, "aws")


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def test_html_escapes_the_accounts_text_and_links_only_to_aws() -> None:
    finding = due(Notice.QUARANTINE, user="bob", trigger=Trigger.ON_CONSOLE_LOGIN, source_ip=HOSTILE)
    page = owner_text.email(finding, ACME, NOW, report=False).html
    parsed = _Text()
    parsed.feed(page)
    assert "img" not in parsed.tags and "script" not in parsed.tags
    assert HOSTILE in "".join(parsed.data)  # shown as text
    assert set(parsed.hrefs) == {
        "https://acme-prod.signin.aws.amazon.com/console",
        "https://console.aws.amazon.com/iam/home#/security_credentials",
    }


def test_slack_escapes_the_accounts_text_so_it_cannot_mention_or_link() -> None:
    finding = due(Notice.QUARANTINE, trigger=Trigger.ON_CONSOLE_LOGIN, source_ip=HOSTILE)
    message = owner_text.slack(finding, ACME, NOW, report=False)
    dumped = json.dumps(message)
    assert "<!channel>" not in dumped and "&lt;!channel&gt;" in dumped
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;" in dumped
    links = [t for b in message["blocks"] if b["type"] == "section" and "text" in b for t in [b["text"]["text"]]]
    assert any("<https://console.aws.amazon.com/iam/home#/security_credentials|" in t for t in links)
    assert all(b["text"]["verbatim"] for b in message["blocks"] if b["type"] == "section" and "text" in b)
    assert message["unfurl_links"] is False
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": ":lock: Your AWS access is restricted", "emoji": True},
    }


def test_reminders_count_down_in_words() -> None:
    for left, words in [
        (timedelta(hours=72), "about 3 days"),
        (timedelta(hours=24), "about 24 hours"),
        (timedelta(minutes=65), "about 1 hour"),
        (timedelta(minutes=20), "less than an hour"),
    ]:
        subject = owner_text.email(due(Notice.REMINDER), ACME, DEADLINE - left, report=False).subject
        assert subject.startswith(f"Reminder: {words} left"), subject
