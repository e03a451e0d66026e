"""Notifications for real: Slack against HTTP servers on 127.0.0.1, SNS through moto into SQS, end to end.

Retry waits are recorded by an injected `sleep` instead of being spent, so a test can assert that
Retry-After was honoured without timing anything.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider
from pytest_httpserver import HTTPServer
from werkzeug import Response

from chalicelib import bootstrap
from chalicelib.adapters import notify
from chalicelib.adapters.parameters import ParameterStore
from chalicelib.core import messages
from chalicelib.core.config import Settings
from chalicelib.core.model import Action, Finding, FindingType, Mode, RunResult, Trigger
from tests.conftest import load_fixture
from tests.functional.conftest import CallCounter
from tests.support import moto_state as ms
from tests.support.webhook_catcher import Reply, WebhookCatcher, catching, read_sqs_messages, render

NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
PATH = "/services/T0TEST/B0TEST/s3cr3t-webhook-token-42"
TOKEN = "s3cr3t-webhook-token-42"
WEBHOOK_PARAMETER = "/mfa-enforcer/slack-webhook"
SCHEDULED = load_fixture("eventbridge_scheduled.json")
REQUIRED = {"version", "type", "severity", "account_id", "user", "arn", "mode", "action", "detected_by"}
REQUIRED |= {"reason", "timestamp"}
NOT_PRINTABLE = "does not hold a webhook URL: it contains spaces, control or non-ASCII characters"


def finding(kind: FindingType = FindingType.QUARANTINED, user: str | None = "alice", **extra: Any) -> Finding:
    arn = f"arn:aws:iam::{ms.ACCOUNT_ID}:user/{user}" if user else None
    action = extra.pop("action", Action.QUARANTINE if kind is FindingType.QUARANTINED else Action.NONE)
    transition = extra.pop("transition", True)
    trigger = extra.pop("trigger", Trigger.SCHEDULED_SCAN)
    return Finding(kind, user, arn, action, f"{kind.value} for {user}", trigger, NOW, transition, **extra)


def run(*findings: Finding, trigger: Trigger = Trigger.SCHEDULED_SCAN) -> RunResult:
    return RunResult(trigger, Mode.ENFORCE, tuple(findings), users_scanned=3, account_id=ms.ACCOUNT_ID)


def login(user: str = "alice") -> RunResult:
    """What the real-time path produces for one console sign-in without MFA."""
    return run(finding(user=user, trigger=Trigger.ON_CONSOLE_LOGIN), trigger=Trigger.ON_CONSOLE_LOGIN)


def failures(out: str) -> list[str]:
    """Channels named by the `NotificationFailures` EMF metrics written to stdout."""
    channels = []
    for line in out.splitlines():
        if line.startswith("{") and "NotificationFailures" in line:
            document = json.loads(line)
            if "_aws" in document:
                channels.append(document["Channel"])
    return sorted(channels)


def failure_logs(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    return {
        r.__dict__["channel"]: r.__dict__["problem"] for r in caplog.records if r.getMessage() == "notification failed"
    }


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def policy(sleeps: list[float]) -> notify.SlackRetryPolicy:
    """Production bounds, but waits are recorded instead of slept."""
    return notify.SlackRetryPolicy(timeout_s=2.0, sleep=sleeps.append)


@pytest.fixture
def slack(httpserver_ipv4: HTTPServer) -> HTTPServer:
    """pytest-httpserver on 127.0.0.1 standing in for hooks.slack.com."""
    return httpserver_ipv4


def slack_notifier(url: str, policy: notify.SlackRetryPolicy) -> notify.SlackNotifier:
    return notify.SlackNotifier(notify.webhook_client(url, policy))


def parameter_store(ssm: Any) -> ParameterStore:
    return ParameterStore(SSMProvider(boto3_client=ssm))


# ------------------------------------------------------------------------------------------- Slack


def test_slack_posts_the_block_kit_payload(slack: HTTPServer, policy: notify.SlackRetryPolicy) -> None:
    slack.expect_oneshot_request(PATH, method="POST").respond_with_data("ok")
    result = login()

    slack_notifier(slack.url_for(PATH), policy).send(result)

    (request, response), *_ = slack.log
    assert response.status_code == 200
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.get_json() == messages.slack_finding(result.findings[0], account_id=ms.ACCOUNT_ID, mode="enforce")
    assert request.get_json()["blocks"][1]["fields"][0]["text"] == "*User*\n`alice`"
    assert len(slack.log) == 1


def test_scan_digest_is_one_post(slack: HTTPServer, policy: notify.SlackRetryPolicy) -> None:
    slack.expect_request(PATH, method="POST").respond_with_data("ok")
    result = run(finding(user="alice"), finding(FindingType.PENDING, "bob", deadline=NOW + timedelta(hours=3)))

    slack_notifier(slack.url_for(PATH), policy).send(result)

    (request, _), *rest = slack.log
    assert rest == []
    assert request.get_json()["blocks"][0]["text"]["text"] == ":bar_chart: MFA scan: 2 changes"


def test_429_waits_exactly_retry_after_then_delivers(
    slack: HTTPServer, policy: notify.SlackRetryPolicy, sleeps: list[float]
) -> None:
    slack.expect_ordered_request(PATH, method="POST").respond_with_response(
        Response("rate_limited", status=429, headers={"Retry-After": "7"})
    )
    slack.expect_ordered_request(PATH, method="POST").respond_with_data("ok")

    slack_notifier(slack.url_for(PATH), policy).send(login())

    assert [r.status_code for _, r in slack.log] == [429, 200]
    assert sleeps == [7.0]
    slack.check_assertions()


def test_429_asking_longer_than_the_bound_gives_up_at_once(
    slack: HTTPServer, policy: notify.SlackRetryPolicy, sleeps: list[float]
) -> None:
    slack.expect_request(PATH, method="POST").respond_with_response(
        Response("rate_limited", status=429, headers={"Retry-After": "120"})
    )
    with pytest.raises(notify.ChannelError, match=r"1 of 1 message\(s\) not delivered: HTTP 429: rate_limited"):
        slack_notifier(slack.url_for(PATH), policy).send(login())
    assert len(slack.log) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_persistent_5xx_is_retried_within_bounds_then_reported(
    slack: HTTPServer, policy: notify.SlackRetryPolicy, sleeps: list[float], status: int
) -> None:
    slack.expect_request(PATH, method="POST").respond_with_data("server_error", status=status)

    with pytest.raises(notify.ChannelError, match=rf"HTTP {status}: server_error"):
        slack_notifier(slack.url_for(PATH), policy).send(login())

    assert len(slack.log) == 1 + policy.max_retries
    assert len(sleeps) == policy.max_retries


def test_4xx_is_not_retried(slack: HTTPServer, policy: notify.SlackRetryPolicy, sleeps: list[float]) -> None:
    slack.expect_request(PATH, method="POST").respond_with_data("no_service", status=404)
    with pytest.raises(notify.ChannelError, match="HTTP 404: no_service"):
        slack_notifier(slack.url_for(PATH), policy).send(login())
    assert len(slack.log) == 1
    assert sleeps == []


@pytest.fixture
def unresponsive() -> Iterator[socket.socket]:
    """A listening socket on 127.0.0.1 that accepts connections (kernel backlog) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


def connections(sock: socket.socket) -> int:
    """How many connections the client opened (each retry is a new one)."""
    sock.setblocking(False)
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_timeout_is_retried_then_reported(unresponsive: socket.socket, sleeps: list[float]) -> None:
    port = unresponsive.getsockname()[1]
    quick = notify.SlackRetryPolicy(timeout_s=0.2, max_retries=1, sleep=sleeps.append)

    with pytest.raises(notify.ChannelError, match=r"not delivered: TimeoutError: timed out"):
        slack_notifier(f"http://127.0.0.1:{port}{PATH}", quick).send(login())

    assert connections(unresponsive) == 2
    assert len(sleeps) == 1


def test_connection_refused_is_retried_then_reported(sleeps: list[float], policy: notify.SlackRetryPolicy) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(notify.ChannelError, match="URLError") as raised:
        slack_notifier(f"http://127.0.0.1:{port}{PATH}", policy).send(login())
    assert len(sleeps) == policy.max_retries
    assert TOKEN not in str(raised.value)


def test_quiet_run_sends_nothing(slack: HTTPServer, policy: notify.SlackRetryPolicy) -> None:
    quiet = run(finding(FindingType.STILL_QUARANTINED, transition=False))
    slack_notifier(slack.url_for(PATH), policy).send(quiet)
    assert slack.log == []


# --------------------------------------------------------------------------------------------- SNS


@pytest.fixture
def topic(sns: Any) -> str:
    return str(sns.create_topic(Name="mfa-enforcer-findings")["TopicArn"])


def subscribe(sns: Any, sqs: Any, topic: str, name: str, *, raw: bool, filter_policy: Any = None) -> str:
    """An SQS queue subscribed to the topic, as a downstream system would subscribe."""
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"RawMessageDelivery": "true" if raw else "false"}
    if filter_policy is not None:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    return str(queue_url)


def twelve_transitions_and_two_unchanged() -> RunResult:
    changes = [finding(user=f"user{i:02d}") for i in range(10)]
    changes += [finding(FindingType.ROOT_WITHOUT_MFA, "<root_account>"), finding(FindingType.CONFIG_ERROR, None)]
    unchanged = [finding(FindingType.EXEMPT, "carol", transition=False), finding(FindingType.STILL_QUARANTINED, "dan")]
    unchanged[1] = unchanged[1].with_changes(transition=False)
    return run(*changes, *unchanged)


@pytest.mark.parametrize("raw", [False, True], ids=["envelope", "raw"])
def test_sns_one_message_per_transition_read_back_from_sqs(
    sns: Any, sqs: Any, topic: str, calls: CallCounter, raw: bool
) -> None:
    queue = subscribe(sns, sqs, topic, "subscriber", raw=raw)
    result = twelve_transitions_and_two_unchanged()

    notify.SnsNotifier(bootstrap.client("sns"), topic).send(result)

    received = read_sqs_messages(sqs, queue)
    assert len(received) == 12
    assert {item["raw"] for item in received} == {raw}
    by_user = {item["message"]["user"]: item for item in received}
    assert "carol" not in by_user and "dan" not in by_user
    alice = by_user["user00"]
    assert alice["message"] == messages.sns_message(result.findings[0], account_id=ms.ACCOUNT_ID, mode="enforce")
    assert set(alice["message"]) == REQUIRED
    for item in received:
        assert item["attributes"] == {"type": item["message"]["type"], "severity": item["message"]["severity"]}
    assert by_user[None]["attributes"] == {"type": "config-error", "severity": "critical"}
    if not raw:
        assert alice["subject"] == "mfa-enforcer high: quarantined user00"
    assert calls.calls["sns:PublishBatch"] == 2
    assert calls.calls["sns:Publish"] == 0


def test_raw_delivery_keeps_attribute_data_types(sns: Any, sqs: Any, topic: str) -> None:
    queue = subscribe(sns, sqs, topic, "raw", raw=True)
    notify.SnsNotifier(sns, topic).send(run(finding()))
    (message,) = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
    assert message["MessageAttributes"] == {
        "type": {"DataType": "String", "StringValue": "quarantined"},
        "severity": {"DataType": "String", "StringValue": "high"},
    }


def test_filter_policy_on_severity_selects_critical_only(sns: Any, sqs: Any, topic: str) -> None:
    critical = subscribe(sns, sqs, topic, "pager", raw=True, filter_policy={"severity": ["critical"]})
    everything = subscribe(sns, sqs, topic, "archive", raw=True)

    notify.SnsNotifier(sns, topic).send(twelve_transitions_and_two_unchanged())

    paged = read_sqs_messages(sqs, critical)
    assert sorted(item["message"]["type"] for item in paged) == ["config-error", "root-without-mfa"]
    assert len(read_sqs_messages(sqs, everything)) == 12


def test_fifo_topic_gets_group_and_deduplication_ids(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name="findings.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    queue_url = sqs.create_queue(QueueName="findings.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    notify.SnsNotifier(sns, arn).send(run(finding(user="alice"), finding(user="bob")))

    assert sorted(item["message"]["user"] for item in read_sqs_messages(sqs, queue_url)) == ["alice", "bob"]


def test_sns_failure_names_how_many_were_lost(sns: Any) -> None:
    missing = f"arn:aws:sns:us-east-1:{ms.ACCOUNT_ID}:no-such-topic"
    with pytest.raises(notify.ChannelError, match=r"2 of 2 message\(s\) not published: NotFound"):
        notify.SnsNotifier(sns, missing).send(run(finding(user="alice"), finding(user="bob")))


# -------------------------------------------------------------------------------- isolation, build


class Exploding:
    """A channel with a bug: raises something unexpected, with a URL in the message."""

    name = "exploding"

    def send(self, result: RunResult) -> None:
        raise KeyError(f"https://hooks.slack.com{PATH}")


def test_one_failing_channel_does_not_silence_the_other(
    slack: HTTPServer,
    policy: notify.SlackRetryPolicy,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slack.expect_request(PATH, method="POST").respond_with_data("ok")
    fan_out = notify.FanOutNotifier([Exploding(), slack_notifier(slack.url_for(PATH), policy)])

    fan_out.publish(login())

    assert len(slack.log) == 1
    assert failures(capsys.readouterr().out) == ["exploding"]
    problem = failure_logs(caplog)["exploding"]
    assert problem.startswith("unexpected KeyError")
    assert TOKEN not in problem and "hooks.slack.com" not in problem


def test_both_channels_down_publish_still_returns_and_counts_both(
    sns: Any,
    slack: HTTPServer,
    policy: notify.SlackRetryPolicy,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slack.expect_request(PATH, method="POST").respond_with_data("server_error", status=500)
    missing = f"arn:aws:sns:us-east-1:{ms.ACCOUNT_ID}:no-such-topic"
    fan_out = notify.FanOutNotifier([notify.SnsNotifier(sns, missing), slack_notifier(slack.url_for(PATH), policy)])

    fan_out.publish(login())

    assert failures(capsys.readouterr().out) == ["slack", "sns"]
    assert set(failure_logs(caplog)) == {"slack", "sns"}


def test_build_without_channels_only_logs(ssm: Any) -> None:
    notifier = notify.build(Settings(), bootstrap.client, parameter_store(ssm))
    assert notifier.channels == ()


def test_build_wires_both_channels(ssm: Any, topic: str) -> None:
    ssm.put_parameter(Name=WEBHOOK_PARAMETER, Value=f"https://hooks.slack.com{PATH}", Type="SecureString")
    settings = Settings(sns_topic_arn=topic, slack_webhook_parameter=WEBHOOK_PARAMETER)
    notifier = notify.build(settings, bootstrap.client, parameter_store(ssm))
    assert isinstance(notifier, notify.FanOutNotifier)
    assert [c.name for c in notifier.channels] == ["sns", "slack"]
    assert notify.SnsNotifier.PERMISSIONS == ("sns:Publish",)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, f"parameter {WEBHOOK_PARAMETER} does not exist"),
        ("   ", f"parameter {WEBHOOK_PARAMETER} is empty"),
        (f"ftp://hooks.slack.com{PATH}", f"parameter {WEBHOOK_PARAMETER} does not hold an https:// webhook URL"),
        (f"http://hooks.slack.com{PATH}", f"parameter {WEBHOOK_PARAMETER} does not hold an https:// webhook URL"),
        (f"https://hooks.slack.com{PATH}\x07x", f"parameter {WEBHOOK_PARAMETER} {NOT_PRINTABLE}"),
        (f"https://hooks.slack.com{PATH[:-3]}\u00e9-42", f"parameter {WEBHOOK_PARAMETER} {NOT_PRINTABLE}"),
        (f"https://hooks.slack.com{PATH} x", f"parameter {WEBHOOK_PARAMETER} {NOT_PRINTABLE}"),
        (f"https://[hooks.slack.com{PATH}", f"parameter {WEBHOOK_PARAMETER} does not hold a well-formed URL"),
    ],
    ids=["missing", "empty", "not-http", "cleartext", "control character", "non-ASCII", "space", "malformed"],
)
def test_unusable_webhook_parameter_disables_slack_only(
    ssm: Any,
    sns: Any,
    sqs: Any,
    topic: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    value: str | None,
    problem: str,
) -> None:
    if value is not None:
        ssm.put_parameter(Name=WEBHOOK_PARAMETER, Value=value, Type="SecureString")
    queue = subscribe(sns, sqs, topic, "subscriber", raw=True)
    settings = Settings(sns_topic_arn=topic, slack_webhook_parameter=WEBHOOK_PARAMETER)

    notifier = notify.build(settings, bootstrap.client, parameter_store(ssm))

    (start,) = [r for r in caplog.records if r.getMessage() == "Slack notifications disabled"]
    assert start.levelname == "ERROR"
    assert start.__dict__["problem"] == problem
    notifier.publish(run(finding(FindingType.STILL_QUARANTINED, transition=False)))
    assert failures(capsys.readouterr().out) == []  # nothing to say: nothing lost

    notifier.publish(run(finding(user="alice")))
    assert [item["message"]["user"] for item in read_sqs_messages(sqs, queue)] == ["alice"]
    assert failures(capsys.readouterr().out) == ["slack"]
    assert failure_logs(caplog)["slack"] == f"1 message(s) not sent: {problem}"
    assert TOKEN not in caplog.text


def test_webhook_url_appears_in_no_log_line_exception_or_metric(
    ssm: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], sleeps: list[float]
) -> None:
    # Everything at DEBUG (slack_sdk logs the URL there, urllib3 too), except botocore's wire log,
    # which prints every response body (SSM's decrypted value included) and is off in Lambda.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="mfa-enforcer")
    caplog.set_level(logging.INFO, logger="botocore")
    settings = Settings(slack_webhook_parameter=WEBHOOK_PARAMETER)
    policy = notify.SlackRetryPolicy(timeout_s=2.0, sleep=sleeps.append)
    seen: list[str] = []

    with catching(
        Reply(429, "rate_limited", {"Retry-After": "0"}),  # retried, then delivered
        Reply(200),
        Reply(500, "server_error"),  # three times: given up
        Reply(500, "server_error"),
        Reply(500, "server_error"),
        path=PATH,
    ) as catcher:
        ssm.put_parameter(Name=WEBHOOK_PARAMETER, Value=catcher.url, Type="SecureString", Overwrite=True)
        assert TOKEN in catcher.url
        notifier = notify.build(settings, bootstrap.client, parameter_store(ssm), slack_policy=policy)
        notifier.publish(login("alice"))
        notifier.publish(login("bob"))
        seen.append(repr(notifier))
        delivered = catcher.messages
    notifier.publish(login("carol"))  # catcher stopped: connection refused

    for bad in (f"ftp://example.invalid{PATH}", f"hooks.slack.com{PATH}"):
        ssm.put_parameter(Name=WEBHOOK_PARAMETER, Value=bad, Type="SecureString", Overwrite=True)
        bootstrap.reset()
        notify.build(settings, bootstrap.client, ParameterStore(SSMProvider(boto3_client=ssm), max_age=0)).publish(
            login("dan")
        )

    out, err = capsys.readouterr()
    assert len(delivered) == 1
    assert failures(out) == ["slack", "slack", "slack", "slack"]
    assert {r.getMessage() for r in caplog.records} >= {"notification failed", "Slack notifications disabled"}
    for record in caplog.records:
        assert TOKEN not in json.dumps(record.__dict__, default=str)
    assert TOKEN not in caplog.text
    assert TOKEN not in out and TOKEN not in err
    assert all(TOKEN not in text for text in seen)


# ------------------------------------------------------------------------------------- end to end


@pytest.fixture
def catcher() -> Iterator[WebhookCatcher]:
    with catching() as started:
        yield started


def configure_channels(monkeypatch: pytest.MonkeyPatch, ssm: Any, topic: str, url: str) -> None:
    ssm.put_parameter(Name=WEBHOOK_PARAMETER, Value=url, Type="SecureString")
    monkeypatch.setenv("MFA_ENFORCER_SNS_TOPIC_ARN", topic)
    monkeypatch.setenv("MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER", WEBHOOK_PARAMETER)


def test_scheduled_scan_delivers_to_sns_and_slack(
    iam: Any,
    ssm: Any,
    sns: Any,
    sqs: Any,
    topic: str,
    enforce: str,
    catcher: WebhookCatcher,
    lambda_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for spec in (ms.UserSpec("no-mfa-old"), ms.UserSpec("no-mfa-new", age=timedelta(minutes=30))):
        ms.create_user(iam, spec)
    ms.create_user(iam, ms.UserSpec("with-mfa", mfa=True))
    queue = subscribe(sns, sqs, topic, "subscriber", raw=False)
    configure_channels(monkeypatch, ssm, topic, catcher.url)

    result = lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED).payload

    assert ms.quarantined_users(iam) == {"no-mfa-old"}
    published = {item["message"]["user"]: item for item in read_sqs_messages(sqs, queue)}
    assert {user: item["message"]["type"] for user, item in published.items()} == {
        "no-mfa-old": "quarantined",
        "no-mfa-new": "pending",
    }
    old = published["no-mfa-old"]
    assert old["attributes"] == {"type": "quarantined", "severity": "high"}
    assert old["message"]["account_id"] == ms.ACCOUNT_ID
    assert old["message"]["mode"] == "enforce"
    assert old["message"]["action"] == "quarantine"
    assert old["message"]["detected_by"] == "scheduled_scan"
    assert set(old["message"]) == REQUIRED | {"deadline"}
    (digest,) = catcher.messages
    shown = render(digest)
    assert shown.splitlines()[0] == "📊 MFA scan: 2 changes"
    assert "quarantined `no-mfa-old`" in shown and "pending `no-mfa-new`" in shown
    assert result["counts"] == {"pending": 1, "quarantined": 1}

    ms.age_user("no-mfa-new", timedelta(hours=2))  # the next hourly run: the pending user is no longer news
    lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED)

    assert read_sqs_messages(sqs, queue) == []  # nothing changed: nothing published
    later = catcher.messages[1:]
    assert len(later) <= 1  # only the first run of a UTC day repeats, as the daily summary
    assert all(m["blocks"][0]["text"]["text"].endswith("daily summary: no changes") for m in later)


def test_both_channels_down_enforcement_is_unaffected(
    iam: Any,
    ssm: Any,
    enforce: str,
    lambda_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ms.create_user(iam, ms.UserSpec("no-mfa-old"))
    missing = f"arn:aws:sns:us-east-1:{ms.ACCOUNT_ID}:deleted-topic"
    with catching(Reply(404, "no_service")) as gone:  # the Slack channel was deleted
        configure_channels(monkeypatch, ssm, missing, gone.url)
        result = lambda_client.lambda_.invoke("scheduled_scan", SCHEDULED).payload

    assert ms.quarantined_users(iam) == {"no-mfa-old"}
    assert ms.user_tags(iam, "no-mfa-old")
    assert [t["type"] for t in result["transitions"]] == ["quarantined"]
    assert failures(capsys.readouterr().out) == ["slack", "sns"]
    problems = failure_logs(caplog)
    assert problems["sns"].startswith("1 of 1 message(s) not published: NotFound")
    assert problems["slack"] == "1 of 1 message(s) not delivered: HTTP 404: no_service"


# ------------------------------------------------------------------------------- secrets in text


def test_a_control_character_in_the_webhook_url_leaks_no_form_of_it(
    slack: HTTPServer, policy: notify.SlackRetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    """http.client refuses the URL with InvalidURL, whose text quotes the path with repr() escapes.

    The channel is built here without the parameter check (which refuses such a URL first), to show
    that the error text itself is scrubbed of every form of the secret.
    """
    url = slack.url_for(PATH) + "\x07"
    with pytest.raises(notify.ChannelError) as raised:
        slack_notifier(url, policy).send(login())
    message = str(raised.value)
    assert "InvalidURL" in message
    assert "control characters" in message
    for form in (TOKEN, repr(PATH + "\x07")[1:-1], PATH):
        assert form not in message
    assert "s3cr3t" not in message
    assert slack.log == []


@pytest.mark.parametrize(
    "form",
    [
        TOKEN,
        TOKEN.upper(),
        f"https://hooks.slack.com{PATH}",
        PATH,
        "%2Fservices%2FT0TEST%2FB0TEST%2Fs3cr3t-webhook-token-42",
        "%2fservices%2ft0test%2fb0test%2fs3cr3t-webhook-token-42",
        json.dumps(f"https://hooks.slack.com{PATH}"),
        repr(PATH + "\x07"),
        repr(PATH + "\u00e9"),
        json.dumps(PATH + "\n"),
    ],
    ids=["token", "upper case", "url", "path", "percent", "percent lower", "json", "repr", "repr non-ascii", "json nl"],
)
def test_scrub_removes_every_form_of_the_secret(form: str) -> None:
    url = f"https://hooks.slack.com{PATH}"
    secrets = [secret for suffix in ("", "\x07", "\u00e9") for secret in notify.webhook_secrets(url + suffix)]
    text = notify.scrub(f"error while posting: {form} (gave up)", *secrets)
    assert "s3cr3t" not in text.casefold()
    assert text.startswith("error while posting: ")
    assert text.endswith(" (gave up)")


def test_webhook_secrets_are_the_url_its_path_and_its_long_segments() -> None:
    url = f"https://hooks.slack.com{PATH}"
    assert notify.webhook_secrets(url) == (url, PATH, "services", TOKEN)  # T0TEST, B0TEST: 6 < 8 characters
    assert notify.webhook_secrets("") == ()
