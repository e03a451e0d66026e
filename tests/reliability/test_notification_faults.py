"""SNS and Slack down at the same time: enforcement is unaffected, both failures are logged and counted.

SNS fails on the wire on every attempt (botocore retries it to the limit); Slack answers from a
loopback catcher (tests/support/webhook_catcher.py). At the handler level Slack is down with
`429 Retry-After: 3600`, which the bot gives up on at once (no real waiting); through the scan
shell, with the notifier built the way bootstrap builds it but with an injected sleep, Slack is
down with 503 on every attempt and with the connection refused, so its own retries are exercised.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import app as lambda_module
from chalicelib import bootstrap, service
from chalicelib.adapters import notify
from chalicelib.core.config import from_env
from tests.conftest import load_fixture
from tests.reliability import support as rs
from tests.reliability.support import reliability
from tests.support import moto_state as ms
from tests.support.faults import Fault, FaultInjector
from tests.support.webhook_catcher import Reply, catching

WEBHOOK_PARAMETER = "/mfa-enforcer/slack-webhook"
ATTEMPTS_PER_CALL = bootstrap.RETRY_CONFIG.retries["max_attempts"] + 1
SIGN_IN = load_fixture("eventbridge_console_login_iam_user_no_mfa.json")  # alice, no MFA


def failure_metrics(out: str) -> list[str]:
    """The Channel dimension of every NotificationFailures metric written to stdout (EMF)."""
    channels = []
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        blob = json.loads(line)
        metrics = [m["Name"] for d in blob.get("_aws", {}).get("CloudWatchMetrics", []) for m in d["Metrics"]]
        if "NotificationFailures" in metrics:
            assert blob["NotificationFailures"] in (1, [1], 1.0, [1.0])
            channels.append(blob["Channel"])
    return sorted(channels)


def failure_logs(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    return {r.channel: r.problem for r in caplog.records if r.getMessage() == "notification failed"}


@pytest.fixture
def channels(iam: Any, ssm: Any, sns: Any, enforce: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both channels configured: an SNS topic and a Slack webhook URL in its SecureString. Yields the topic."""
    topic = sns.create_topic(Name="mfa-enforcer-findings")["TopicArn"]
    monkeypatch.setenv("MFA_ENFORCER_SNS_TOPIC_ARN", topic)
    monkeypatch.setenv("MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER", WEBHOOK_PARAMETER)
    for name in ("alice", "ann", "ben"):
        ms.create_user(iam, ms.UserSpec(name))
    yield topic


def sns_down() -> Fault:
    """SNS failing on its side on every attempt (botocore retries 5xx, then gives up)."""
    fault = Fault("PublishBatch", "InternalError", 500, "SNS is down", per_attempt=True)
    FaultInjector().attach(bootstrap.client("sns")).add(fault)
    return fault


def put_webhook(ssm: Any, url: str) -> None:
    ssm.put_parameter(Name=WEBHOOK_PARAMETER, Value=url, Type="SecureString", Overwrite=True)


SLACK_REFUSING = [Reply(429, "rate_limited", {"Retry-After": "3600"})] * 10


@reliability(
    "SNS (5xx on every attempt) and Slack (429, retry after an hour) down together, at every handler",
    "IAM state still right, the handler returns its summary, one logged and counted failure per channel",
)
@pytest.mark.parametrize("handler", ["scheduled_scan", "on_console_login"])
def test_both_channels_down_leaves_enforcement_intact(
    channels: str,
    ssm: Any,
    iam: Any,
    handler: str,
    backoff_delays: list[float],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with catching(*SLACK_REFUSING) as slack:
        put_webhook(ssm, slack.url)
        sns = sns_down()
        capsys.readouterr()
        if handler == "scheduled_scan":
            result = rs.run_scheduled_scan()
            quarantined = {"alice", "ann", "ben"}
        else:
            result = lambda_module.on_console_login(SIGN_IN, rs.StaticContext(60_000))
            quarantined = {"alice"}

    assert ms.quarantined_users(iam) == quarantined
    for name in quarantined:
        assert set(ms.user_tags(iam, name)) >= {"mfa-enforcer:quarantined-at", "mfa-enforcer:reason"}
    assert {t["user"] for t in result["transitions"]} == quarantined
    assert "error" not in result
    assert sns.fired == ATTEMPTS_PER_CALL  # retried by botocore to the limit, then given up
    assert slack.requests == 1 and slack.messages == []  # nothing delivered; no waiting an hour
    assert failure_metrics(capsys.readouterr().out) == ["slack", "sns"]
    problems = failure_logs(caplog)
    assert set(problems) == {"slack", "sns"}
    assert "InternalError" in problems["sns"]
    assert "HTTP 429" in problems["slack"]


@reliability(
    "SNS throttled on every attempt and Slack 503 on every attempt / connection refused (bounded retries)",
    "both channels retried within their bounds, then logged and counted; the scan's writes stand",
)
@pytest.mark.parametrize("slack_down", ["503", "refused"])
def test_both_channels_down_after_their_retries(
    channels: str,
    ssm: Any,
    iam: Any,
    enforce: str,
    slack_down: str,
    backoff_delays: list[float],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Through service.run_scan, with notify.build given a recording sleep (its documented seam)."""
    sns = FaultInjector().attach(bootstrap.client("sns"))
    throttled = sns.add(Fault("PublishBatch", "Throttling", 400, "Rate exceeded", per_attempt=True))
    sleeps: list[float] = []
    with catching(*[Reply(503, "service_unavailable")] * 10) as slack:
        url = slack.url
        if slack_down == "refused":
            slack.stop()  # nothing listens on the port any more
        put_webhook(ssm, url)
        settings = from_env(
            {
                "MFA_ENFORCER_MODE": "enforce",
                "MFA_ENFORCER_QUARANTINE_POLICY_ARN": enforce,
                "MFA_ENFORCER_SNS_TOPIC_ARN": channels,
                "MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER": WEBHOOK_PARAMETER,
            }
        )
        ports = bootstrap.ports(settings)
        policy = notify.SlackRetryPolicy(sleep=sleeps.append)
        ports.notifier = notify.build(settings, bootstrap.client, ports.parameters, slack_policy=policy)
        capsys.readouterr()
        result = service.run_scan(ports, rs.StaticContext().get_remaining_time_in_millis)
        requests = slack.requests

    assert ms.quarantined_users(iam) == {"alice", "ann", "ben"}
    assert {f.user for f in result.transitions} == {"alice", "ann", "ben"}
    assert throttled.fired == ATTEMPTS_PER_CALL
    assert len(sleeps) == policy.max_retries  # Slack retried within its bound, never more
    assert requests == (1 + policy.max_retries if slack_down == "503" else 0)
    assert failure_metrics(capsys.readouterr().out) == ["slack", "sns"]
    problems = failure_logs(caplog)
    assert "Throttling" in problems["sns"]
    assert ("HTTP 503" if slack_down == "503" else "Connection refused") in problems["slack"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.getMessage() != "notification failed"]
