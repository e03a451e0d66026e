"""The two ways an owner notice travels: e-mail through Amazon SES, and a Slack direct message.

Thin, like every adapter: each method is one or two calls, raises ChannelError (secret-free text)
when it gives up, and decides nothing. What is said comes from core.owner_text; who is told and
when, from core.owner_notices; the shell (tell_owners) puts them together.

E-mail is SES `SendRawEmail` with a MIME message built by the standard library's `email`
package: a plain-text and an HTML alternative, headers encoded by the package (a subject is
RFC 2047-encoded where needed, and a header value with CR or LF is refused outright, on top of
core.contacts accepting only plain addresses). Throttling is retried by botocore's standard mode
(bootstrap.RETRY_CONFIG). The role may send only From the configured address (`ses:FromAddress`).

Slack is the Web API through slack_sdk's WebClient (`users.lookupByEmail` for an address,
`chat.postMessage` to the member id, which opens the app's direct message), with the same
bounded retry handlers as the operators' webhook (notify.SlackRetryPolicy: 429 after
Retry-After, 5xx and connection errors with backoff). The bot token is a secret: it is read from
its SSM SecureString only when a message is about to be sent (so a run with nothing to say makes
no SSM call), handed to a client with a silenced logger, and scrubbed from every error text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from http.client import HTTPException
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from chalicelib.adapters.aws_errors import AWS_ERRORS, error_text
from chalicelib.adapters.notify import SDK_LOGGER, ChannelError, SlackRetryPolicy, scrub
from chalicelib.adapters.parameters import ParameterUnavailableError
from chalicelib.core.owner_text import Email

FROM_NAME = "mfa-enforcer"
# SMTP line endings; headers folded only past RFC 5322's hard limit, since the package's 78-column
# folding can put a subject on a line of its own (a leading space some clients then show).
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)
_TOKEN = re.compile(r"xox[a-z]-[A-Za-z0-9-]+|xoxe\.[A-Za-z0-9.-]+")
NOT_FOUND = frozenset({"users_not_found", "user_not_found"})


class EmailChannel:
    """Owner notices by e-mail through Amazon SES (API v1), from one verified sender address."""

    name = "email"
    PERMISSIONS = ("ses:SendRawEmail",)

    def __init__(self, client: Callable[[], Any], sender: str) -> None:
        self._client = client  # built on first use: a run that e-mails nobody creates no SES client
        self.sender = sender

    def send(self, to: str, mail: Email, now: datetime) -> None:
        """Send one message to one address; raises ChannelError when SES refuses it or stays throttled."""
        raw = mime(self.sender, to, mail, now)
        try:
            self._client().send_raw_email(Source=self.sender, Destinations=[to], RawMessage={"Data": raw})
        except AWS_ERRORS as exc:
            raise ChannelError(f"SES: {error_text(exc)}") from None


def mime(sender: str, to: str, mail: Email, now: datetime) -> bytes:
    """The MIME message: multipart/alternative with text then HTML; headers encoded by the email package."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = Address(FROM_NAME, addr_spec=sender)
    message["To"] = Address(addr_spec=to)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring="mfa-enforcer", domain=sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to the bot
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message.as_bytes()


class SlackDirect:
    """Owner notices as Slack direct messages through the Web API, with a bot token read on first use.

    The app needs the bot scopes `chat:write` and `users:read.email`.
    """

    name = "slack"

    def __init__(
        self,
        token: Callable[[], str],
        base_url: str,
        *,
        policy: SlackRetryPolicy | None = None,
    ) -> None:
        self._token = token
        self._base_url = base_url
        self._policy = policy or SlackRetryPolicy()
        self._client: WebClient | None = None
        self._secret = ""
        self._members: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def member(self, email: str) -> str | None:
        """The Slack member id for an address (users.lookupByEmail), None when the workspace has nobody by it."""
        with self._lock:
            if email in self._members:
                return self._members[email]
        client = self._web()
        try:
            answer = client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if _error_code(exc) in NOT_FOUND:
                found = None
            else:
                raise ChannelError(self._problem("users.lookupByEmail", exc)) from None
        except (OSError, HTTPException, SlackRequestError, ValueError) as exc:
            raise ChannelError(self._problem("users.lookupByEmail", exc)) from None
        else:
            user = answer.get("user") or {}
            member_id = user.get("id")
            found = member_id if isinstance(member_id, str) and not user.get("deleted") else None
        with self._lock:
            self._members[email] = found
        return found

    def post(self, member: str, message: dict[str, Any]) -> None:
        """chat.postMessage to the member (the app's direct message with them); raises ChannelError on failure."""
        client = self._web()
        try:
            client.chat_postMessage(channel=member, **message)
        except (SlackApiError, OSError, HTTPException, SlackRequestError, ValueError) as exc:
            raise ChannelError(self._problem("chat.postMessage", exc)) from None

    def _web(self) -> WebClient:
        with self._lock:
            if self._client is None:
                try:
                    token = self._token()
                except ParameterUnavailableError as exc:
                    raise ChannelError(f"Slack direct messages disabled: {exc}") from None
                self._secret = token
                self._client = WebClient(
                    token=token,
                    base_url=self._base_url,
                    timeout=self._policy.timeout_s,  # type: ignore[arg-type]  # urllib takes float seconds
                    logger=SDK_LOGGER,
                    retry_handlers=self._policy.handlers(),
                )
            return self._client

    def _problem(self, method: str, exc: BaseException) -> str:
        if isinstance(exc, SlackApiError):
            status = getattr(exc.response, "status_code", "?")
            text = f"{method}: HTTP {status}: {_error_code(exc) or 'error'}"
        else:
            text = f"{method}: {type(exc).__name__}: {exc}"
        return _TOKEN.sub("<token redacted>", scrub(text, self._secret))


def _error_code(exc: SlackApiError) -> str:
    """Slack's `error` field (`users_not_found`, `ratelimited`, `invalid_auth`...), or empty."""
    data = getattr(exc.response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    return str(code)[:100] if code else ""
