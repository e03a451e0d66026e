"""The two owner-notice adapters on their own: the MIME message, SES through moto, Slack's Web API on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import pytest

from chalicelib.adapters.notify import ChannelError, SlackRetryPolicy
from chalicelib.adapters.owner_channels import EmailChannel, SlackDirect, mime
from chalicelib.adapters.parameters import ParameterUnavailableError
from chalicelib.core.owner_text import Email
from tests.support import moto_state as ms
from tests.support import slack_api_catcher as slack_api

NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
SENDER = "mfa-enforcer@example.com"
TOKEN = "xoxb-9999-8888-adapter-test-token"
MAIL = Email("Action required: set up MFA — ünïcode", "Hello,\nplain text.\n", "<p>Hello, <b>HTML</b>.</p>\n")


def test_the_message_is_text_then_html_with_encoded_headers() -> None:
    parsed = message_from_bytes(mime(SENDER, "bob@example.com", MAIL, NOW), policy=policy.default)
    assert parsed["From"] == f"mfa-enforcer <{SENDER}>"
    assert parsed["To"] == "bob@example.com"
    assert parsed["Subject"] == MAIL.subject  # RFC 2047-encoded on the wire, decoded back here
    assert parsed["Date"] == "Mon, 23 Nov 2026 12:30:00 +0000"
    assert parsed["Message-ID"].endswith("@example.com>")
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]  # type: ignore[attr-defined]
    assert b"\r\n" in mime(SENDER, "bob@example.com", MAIL, NOW)  # SMTP line endings


@pytest.mark.parametrize("to", ["bob@example.com\r\nBcc: eve@evil.example", "bob@example.com\nBcc: eve@evil.example"])
def test_the_email_package_refuses_a_line_break_in_an_address_on_its_own(to: str) -> None:
    """Behind core.contacts' check: even an unchecked value cannot start a header."""
    with pytest.raises(ValueError):
        mime(SENDER, to, MAIL, NOW)


def test_ses_sends_from_the_sender_and_a_refusal_is_a_channel_error(ses: Any) -> None:
    ms.verify_sender(ses, SENDER)
    EmailChannel(lambda: ses, SENDER).send("bob@example.com", MAIL, NOW)
    (sent,) = ms.sent_emails()
    assert (sent.source, sent.to, sent.subject) == (SENDER, "bob@example.com", MAIL.subject)
    assert sent.text == MAIL.text and sent.html == MAIL.html
    with pytest.raises(ChannelError, match=r"^SES: MessageRejected: "):
        EmailChannel(lambda: ses, "someone-else@example.com").send("bob@example.com", MAIL, NOW)


@pytest.fixture
def api() -> Iterator[slack_api.SlackApiCatcher]:
    members = {"bob@example.com": "U0BOB00001"}
    with slack_api.catching(TOKEN, members) as catcher:
        yield catcher


def direct(api: slack_api.SlackApiCatcher, token: str = TOKEN, waits: list[float] | None = None) -> SlackDirect:
    policy = SlackRetryPolicy(sleep=(waits if waits is not None else []).append)
    return SlackDirect(lambda: token, api.base_url, policy=policy)


def test_lookup_then_post_with_the_bot_token(api: slack_api.SlackApiCatcher) -> None:
    slack = direct(api)
    assert slack.member("bob@example.com") == "U0BOB00001"
    assert slack.member("bob@example.com") == "U0BOB00001"  # remembered for the run
    assert slack.member("nobody@example.com") is None  # users_not_found is an answer, not a failure
    slack.post("U0BOB00001", {"text": "hi", "blocks": []})
    assert api.lookups == ["bob@example.com", "nobody@example.com"]
    assert api.posted == [{"channel": "U0BOB00001", "text": "hi", "blocks": []}]
    assert set(api.authorization) == {f"Bearer {TOKEN}"}


def test_a_deleted_member_is_nobody(api: slack_api.SlackApiCatcher) -> None:
    api.answer(slack_api.LOOKUP, slack_api.Answer(200, {"ok": True, "user": {"id": "U0GONE0001", "deleted": True}}))
    assert direct(api).member("gone@example.com") is None


def test_the_token_is_read_once_and_only_when_needed(api: slack_api.SlackApiCatcher) -> None:
    reads: list[int] = []

    def token() -> str:
        reads.append(1)
        return TOKEN

    slack = SlackDirect(token, api.base_url)
    assert reads == []
    slack.member("bob@example.com")
    slack.post("U0BOB00001", {"text": "hi"})
    assert reads == [1]


def test_an_unreadable_token_parameter_is_a_channel_error_naming_the_parameter(api: slack_api.SlackApiCatcher) -> None:
    def token() -> str:
        raise ParameterUnavailableError("parameter /mfa-enforcer/slack-bot-token does not exist")

    with pytest.raises(ChannelError, match="Slack direct messages disabled: parameter /mfa-enforcer/slack-bot-token"):
        SlackDirect(token, api.base_url).post("U0BOB00001", {"text": "hi"})


def test_failures_never_show_the_token(api: slack_api.SlackApiCatcher, caplog: pytest.LogCaptureFixture) -> None:
    wrong = direct(api, token="xoxb-wrong-secret-value")
    with caplog.at_level(logging.DEBUG), pytest.raises(ChannelError) as raised:
        wrong.post("U0BOB00001", {"text": "hi"})
    assert str(raised.value) == "chat.postMessage: HTTP 200: invalid_auth"
    api.stop()  # connection refused, three times
    with caplog.at_level(logging.DEBUG), pytest.raises(ChannelError) as refused:
        wrong.member("bob@example.com")
    assert refused.value.args[0].startswith("users.lookupByEmail: URLError")
    for text in (str(raised.value), str(refused.value), caplog.text):
        assert "wrong-secret" not in text


def test_429_waits_exactly_retry_after_and_gives_up_when_asked_to_wait_too_long(api: slack_api.SlackApiCatcher) -> None:
    waits: list[float] = []
    api.answer(slack_api.POST, slack_api.rate_limited(retry_after=3))
    direct(api, waits=waits).post("U0BOB00001", {"text": "hi"})
    assert waits == [3.0] and len(api.posted) == 1
    api.answer(slack_api.POST, slack_api.rate_limited(retry_after=60))
    with pytest.raises(ChannelError, match="HTTP 429: ratelimited"):
        direct(api, waits=waits).post("U0BOB00001", {"text": "hi"})
    assert waits == [3.0]
