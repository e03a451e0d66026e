"""Notification channels: SNS for machines, Slack for operators, and the fan-out that isolates them
(Security Hub, the third channel, lives in security_hub.py).

Notifications run after enforcement, so nothing here may raise into the shell or undo a write:
each channel is tried on its own, retried within a bound, and a channel that still fails is logged
(without secrets) and counted as `NotificationFailures` with its `Channel` dimension, while the
other channel still sends. What is said lives in messages.py; this module only delivers it.

The Slack webhook URL is a secret (anyone holding it can post to the channel). It is read from the
SSM SecureString named by MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER through ParameterStore (decrypted,
cached per container), handed to slack_sdk's WebhookClient with a silenced logger (the SDK logs the
URL at DEBUG/INFO), and scrubbed from every error text before that text is logged or counted.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException
from typing import Any, Protocol
from urllib.error import URLError
from urllib.parse import quote, quote_plus, urlsplit

from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from chalicelib import observability
from chalicelib.adapters.aws_errors import AWS_ERRORS, error_text
from chalicelib.adapters.parameters import ParameterStore, ParameterUnavailableError
from chalicelib.core import config, messages
from chalicelib.core.config import Settings
from chalicelib.core.model import RunResult

logger = observability.logger

FAILURE_METRIC = "NotificationFailures"
MIN_SECRET_SEGMENT = 8  # path segments this long are scrubbed on their own (Slack's token is 24 characters)
_URL = re.compile(r"(?:https?://|hooks\.slack\.com/)\S+", re.IGNORECASE)
_PRINTABLE_URL = re.compile(r"[\x21-\x7e]{1,2048}")

# slack_sdk's WebhookClient logs the full URL (the secret) at DEBUG and INFO, and exception text at
# ERROR. Its logger is replaced by this one, which never emits; our own log lines say what failed.
SDK_LOGGER = logging.getLogger("mfa_enforcer.slack_sdk")
SDK_LOGGER.setLevel(logging.CRITICAL + 1)
SDK_LOGGER.propagate = False
SDK_LOGGER.addHandler(logging.NullHandler())


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ChannelError(RuntimeError):
    """A channel gave up after its retries; the message is ours, secret-free, and safe to log."""


class SlackConfigurationError(ValueError):
    """The webhook parameter holds something that is not a usable webhook URL (the value is never quoted)."""


class Channel(Protocol):
    """One destination; `send` raises ChannelError when it gives up."""

    name: str

    def send(self, result: RunResult) -> None:
        """Deliver what this channel says about the run."""


class FanOutNotifier:
    """Sends a run to every configured channel, each isolated from the others.

    This is the one place that catches every exception: a notifier must never raise into the
    shell (enforcement is done and must not look failed), and one broken channel must not
    silence the other.
    """

    def __init__(self, channels: Sequence[Channel]) -> None:
        self.channels = tuple(channels)

    def publish(self, result: RunResult) -> None:
        """Try each channel; log and count the ones that fail."""
        for channel in self.channels:
            try:
                channel.send(result)
            except ChannelError as exc:
                _failed(channel.name, str(exc))
            except Exception as exc:  # see the class docstring: isolation is this class's job
                secrets = getattr(channel, "secrets", ())
                _failed(channel.name, f"unexpected {type(exc).__name__}: {scrub(str(exc), *secrets)}")


def _failed(channel: str, problem: str) -> None:
    logger.error("notification failed", extra={"channel": channel, "problem": problem})
    observability.dimensioned(FAILURE_METRIC, 1, Channel=channel)


def scrub(text: str, *secrets: str) -> str:
    """Remove every form of the given secrets, and anything URL-shaped, from a text about to be logged.

    Error texts quote what they were given in many ways: as is, through repr() (http.client's
    InvalidURL shows the path with `\\x07`-style escapes), JSON-escaped and quoted, or percent-escaped
    (upper- or lower-case hex). Each of those forms is removed, longest first.
    """
    forms = sorted({form for secret in secrets if secret for form in secret_forms(secret)}, key=len, reverse=True)
    if forms:
        text = re.sub("|".join(re.escape(form) for form in forms), "<redacted>", text, flags=re.IGNORECASE)
    return _URL.sub("<url redacted>", text)


def secret_forms(secret: str) -> set[str]:
    """The ways a secret may be written inside another text (see scrub)."""
    forms = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret, safe="/:"),
        quote_plus(secret),
        secret.encode("unicode_escape").decode("ascii"),
    }
    return {form for form in forms if form}


# --------------------------------------------------------------------------------------------- SNS


class SnsNotifier:
    """One SNS message per transition, sent with PublishBatch (10 entries per call).

    `sns:Publish` authorizes both Publish and PublishBatch (SNS API permissions reference), so the
    role needs no other SNS action. Throttling and 5xx are retried by botocore's standard retry
    mode (bootstrap.RETRY_CONFIG); entries SNS fails on its side in a 200 response are retried once.
    """

    name = "sns"
    PERMISSIONS = ("sns:Publish",)

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def send(self, result: RunResult) -> None:
        """Publish every transition; stop at the first batch the service refuses outright."""
        entries = messages.sns_entries(result, fifo=self._topic_arn.endswith(".fifo"))
        undelivered, problem = 0, ""
        batches = messages.sns_batches(entries)
        for index, batch in enumerate(batches):
            try:
                failed = self._publish(batch)
            except AWS_ERRORS as exc:
                undelivered += sum(len(b) for b in batches[index:])
                problem = error_text(exc)
                break
            if failed:
                undelivered += len(failed)
                problem = f"{failed[0].get('Code', 'Error')}: {failed[0].get('Message', '')}".strip()
        if undelivered:
            raise ChannelError(f"{undelivered} of {len(entries)} message(s) not published: {problem}")

    def _publish(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One PublishBatch call; returns the entries that still failed after one retry of SNS-side failures."""
        response = self._client.publish_batch(TopicArn=self._topic_arn, PublishBatchRequestEntries=batch)
        failed: list[dict[str, Any]] = list(response.get("Failed", []))
        again = {f["Id"] for f in failed if not f.get("SenderFault")}
        if not again:
            return failed
        retry = [entry for entry in batch if entry["Id"] in again]
        response = self._client.publish_batch(TopicArn=self._topic_arn, PublishBatchRequestEntries=retry)
        return [f for f in failed if f.get("SenderFault")] + list(response.get("Failed", []))


# ------------------------------------------------------------------------------------------- Slack


@dataclass(frozen=True)
class SlackRetryPolicy:
    """How hard to try Slack before giving up, bounded so a dead webhook cannot eat the Lambda's time.

    Worst case per message: (1 + max_retries) attempts of `timeout_s`, plus waits of at most
    `max_retry_after_s` (429) or the jittered backoff (5xx, connection errors). `sleep` is
    injectable so tests can record the waits instead of spending them.
    """

    timeout_s: float = 5.0
    max_retries: int = 2
    max_retry_after_s: float = 10.0
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def handlers(self) -> list[RetryHandler]:
        """slack_sdk retry handlers for 429, 5xx and connection errors; they share one attempt counter."""
        return [RateLimitRetry(self), ServerErrorRetry(self), ConnectionRetry(self)]


def retry_after(response: HttpResponse) -> float:
    """Seconds Slack asks us to wait (`Retry-After`); 1 s when the header is missing or not a number."""
    for name, values in response.headers.items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            try:
                return max(0.0, float(value))
            except ValueError:
                return 1.0
    return 1.0


class RateLimitRetry(RateLimitErrorRetryHandler):
    """429: wait exactly what Retry-After says; if that is longer than the policy allows, give up now.

    The built-in handler sleeps `Retry-After` plus jitter with no upper bound, which could outlast
    a 60-second Lambda; sending earlier than asked would only earn another 429.
    """

    def __init__(self, policy: SlackRetryPolicy) -> None:
        super().__init__(max_retry_count=policy.max_retries)
        self.policy = policy

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            response is not None
            and response.status_code == 429
            and retry_after(response) <= self.policy.max_retry_after_s
        )

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self.policy.sleep(retry_after(response) if response is not None else 1.0)
        state.increment_current_attempt()


class _BackoffWithPolicySleep:
    """Backoff computed by slack_sdk, slept through the policy's (injectable) sleep, not time.sleep."""

    policy: SlackRetryPolicy
    interval_calculator: RetryIntervalCalculator

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self.policy.sleep(self.interval_calculator.calculate_sleep_duration(state.current_attempt))
        state.increment_current_attempt()


class ServerErrorRetry(_BackoffWithPolicySleep, ServerErrorRetryHandler):
    """Any 5xx (the built-in handler covers only 500 and 503), with jittered exponential backoff."""

    def __init__(self, policy: SlackRetryPolicy) -> None:
        super().__init__(
            max_retry_count=policy.max_retries,
            interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=policy.backoff_s),
        )
        self.policy = policy

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code <= 599


class ConnectionRetry(_BackoffWithPolicySleep, ConnectionErrorRetryHandler):
    """Connection refused/reset and read timeouts (the built-in list misses timeouts).

    Retrying a timed-out POST can post the message twice; a duplicate alert beats a lost one.
    """

    def __init__(self, policy: SlackRetryPolicy) -> None:
        super().__init__(
            max_retry_count=policy.max_retries,
            interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=policy.backoff_s),
            error_types=[URLError, ConnectionError, TimeoutError],
        )
        self.policy = policy


def webhook_client(url: str, policy: SlackRetryPolicy) -> WebhookClient:
    """slack_sdk's WebhookClient with our bounded retry handlers, a short timeout and a silent logger."""
    return WebhookClient(
        url,
        timeout=policy.timeout_s,  # type: ignore[arg-type]  # annotated int; urllib takes float seconds
        logger=SDK_LOGGER,
        retry_handlers=policy.handlers(),
    )


def check_webhook_url(url: str, parameter: str) -> None:
    """Only printable-ASCII https URLs (plain http to loopback, for local catchers).

    Anything else is a configuration problem whose message names the parameter and never the value:
    a control character would otherwise reach an HTTP library that quotes the URL in its error.
    """
    if not _PRINTABLE_URL.fullmatch(url):
        raise SlackConfigurationError(
            f"parameter {parameter} does not hold a webhook URL: it contains spaces, control or non-ASCII characters"
        )
    try:
        allowed = config.https_or_loopback(url)
    except ValueError:
        raise SlackConfigurationError(f"parameter {parameter} does not hold a well-formed URL") from None
    if not allowed:
        raise SlackConfigurationError(f"parameter {parameter} does not hold an https:// webhook URL")


def webhook_secrets(url: str) -> tuple[str, ...]:
    """What of a webhook URL must never be logged: the URL, its path, and each long path segment (the token)."""
    if not url:
        return ()
    try:
        path = urlsplit(url).path
    except ValueError:
        path = url
    segments = [segment for segment in path.split("/") if len(segment) >= MIN_SECRET_SEGMENT]
    return (url, path, *segments)


class SlackNotifier:
    """Block Kit through an incoming webhook: per-finding messages for events, one digest per scan.

    Built without a client when the webhook parameter is missing, empty or unusable: the problem is
    logged at start, and the channel fails (and is counted) only when it had something to send.
    """

    name = "slack"

    def __init__(
        self,
        webhook: WebhookClient | None,
        *,
        problem: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._webhook = webhook
        self._problem = problem or "no webhook configured"
        self._clock = clock
        url = webhook.url if webhook is not None else ""
        self.secrets = webhook_secrets(url)

    @classmethod
    def from_parameter(
        cls,
        parameters: ParameterStore,
        name: str,
        *,
        policy: SlackRetryPolicy | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> SlackNotifier:
        """Read the webhook URL (cached per container by ParameterStore); a problem disables this channel only."""
        try:
            url = parameters.secret(name)
            check_webhook_url(url, name)
        except (ParameterUnavailableError, SlackConfigurationError) as exc:
            problem = str(exc)
            logger.error("Slack notifications disabled", extra={"channel": cls.name, "problem": problem})
            return cls(None, problem=problem, clock=clock)
        return cls(webhook_client(url, policy or SlackRetryPolicy()), clock=clock)

    def send(self, result: RunResult) -> None:
        """Post this run's messages in order; stop at the first one Slack does not take."""
        now = messages.decided_at(result) or self._clock()
        payloads = messages.slack_payloads(result, now)
        if not payloads:
            return
        if self._webhook is None:
            raise ChannelError(f"{len(payloads)} message(s) not sent: {self._problem}")
        for index, payload in enumerate(payloads):
            problem = self._post(self._webhook, payload)
            if problem is not None:
                raise ChannelError(f"{len(payloads) - index} of {len(payloads)} message(s) not delivered: {problem}")

    def _post(self, webhook: WebhookClient, payload: dict[str, Any]) -> str | None:
        """One message through the retry handlers; a secret-free problem, or None when Slack said ok."""
        try:
            response = webhook.send_dict(payload)
        except (OSError, HTTPException, SlackRequestError, ValueError) as exc:
            return scrub(f"{type(exc).__name__}: {exc}", *self.secrets)
        if response.status_code != 200:
            body = str(response.body or "")[:100]
            return scrub(f"HTTP {response.status_code}: {body}", *self.secrets)
        return None


# ------------------------------------------------------------------------------------- composition


def build(
    settings: Settings,
    client: Callable[[str], Any],
    parameters: ParameterStore,
    *,
    slack_policy: SlackRetryPolicy | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> FanOutNotifier:
    """The notifier for these settings: SNS, Slack and/or Security Hub behind one fan-out; none: log only.

    `client` is bootstrap's cached client factory, so an SNS client exists only when a topic is set.
    """
    channels: list[Channel] = []
    if settings.sns_topic_arn:
        channels.append(SnsNotifier(client("sns"), settings.sns_topic_arn))
    if settings.slack_webhook_parameter:
        channels.append(
            SlackNotifier.from_parameter(parameters, settings.slack_webhook_parameter, policy=slack_policy, clock=clock)
        )
    if settings.security_hub:
        from chalicelib.adapters.security_hub import SecurityHubNotifier  # it imports ChannelError from here

        hub = client("securityhub")
        channels.append(SecurityHubNotifier(hub, hub.meta.region_name))
    return FanOutNotifier(channels)
