"""messages.py: the SNS schema, the Slack payloads, escaping, Slack's limits and the sending rule."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import messages
from chalicelib.core.model import Action, Finding, FindingType, Mode, NoticeTally, RunResult, Severity, Trigger

NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
FIRST_RUN_OF_DAY = datetime(2026, 11, 23, 0, 20, tzinfo=UTC)
ACCOUNT = "123456789012"
REQUIRED = {
    "version",
    "type",
    "severity",
    "account_id",
    "user",
    "arn",
    "mode",
    "action",
    "detected_by",
    "reason",
    "timestamp",
}
OUR_LINK = re.compile(r"<https://console\.[a-z.-]+/iam/home#/security_credentials\|[^<>|]+>")
HOSTILE = ["<!channel>", "a&b<http://x|y>", "<@U024BE7LH>", "<!subteam^S123|@team>", "x>y<!here>"]


def finding(
    kind: FindingType = FindingType.QUARANTINED,
    user: str | None = "alice",
    *,
    action: Action = Action.QUARANTINE,
    reason: str = "console password without MFA; grace ended 2026-11-20T00:00:00Z",
    transition: bool = True,
    trigger: Trigger = Trigger.SCHEDULED_SCAN,
    at: datetime = NOW,
    **extra: Any,
) -> Finding:
    arn = f"arn:aws:iam::{ACCOUNT}:user/{user}" if user else None
    return Finding(kind, user, arn, action, reason, trigger, at, transition, **extra)


def run(
    *findings: Finding,
    trigger: Trigger = Trigger.SCHEDULED_SCAN,
    mode: Mode = Mode.ENFORCE,
) -> RunResult:
    return RunResult(trigger, mode, tuple(findings), users_scanned=42, account_id=ACCOUNT)


def texts(payload: Any) -> Iterator[str]:
    """Every string Slack will parse: block texts, fields, context elements and the fallback `text`."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from texts(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from texts(item)


def text_objects(payload: Any) -> Iterator[dict[str, Any]]:
    if isinstance(payload, dict):
        if payload.get("type") in ("mrkdwn", "plain_text"):
            yield payload
        for value in payload.values():
            yield from text_objects(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from text_objects(item)


# --------------------------------------------------------------------------------------------- SNS


def test_sns_body_has_the_documented_fields_and_values() -> None:
    found = finding(deadline=NOW - timedelta(days=3))
    body = messages.sns_message(found, account_id=ACCOUNT, mode="enforce")
    assert set(body) == REQUIRED | {"deadline"}
    assert body == {
        "version": 1,
        "type": "quarantined",
        "severity": "high",
        "account_id": ACCOUNT,
        "user": "alice",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "mode": "enforce",
        "action": "quarantine",
        "detected_by": "scheduled_scan",
        "reason": found.reason,
        "timestamp": "2026-11-23T12:30:00Z",
        "deadline": "2026-11-20T12:30:00Z",
    }
    assert json.loads(json.dumps(body)) == body


def test_optional_fields_appear_only_when_present() -> None:
    plain = messages.sns_message(finding(FindingType.SCAN_ERROR, None), account_id=None, mode="report")
    assert set(plain) == REQUIRED
    assert plain["user"] is None and plain["arn"] is None and plain["account_id"] is None
    full = finding(
        FindingType.TAMPER,
        expires=NOW,
        deadline=NOW,
        error="AccessDenied: nope",
        actor=f"arn:aws:iam::{ACCOUNT}:user/mallory",
    )
    body = messages.sns_message(full, account_id=ACCOUNT, mode="enforce")
    assert set(body) == REQUIRED | {"deadline", "expires", "error", "actor"}
    assert body["severity"] == "critical"
    assert body["actor"] == f"arn:aws:iam::{ACCOUNT}:user/mallory"


def test_attributes_are_type_and_severity_strings() -> None:
    attributes = messages.sns_attributes(finding(FindingType.ROOT_WITHOUT_MFA, "<root_account>"))
    assert attributes == {
        "type": {"DataType": "String", "StringValue": "root-without-mfa"},
        "severity": {"DataType": "String", "StringValue": "critical"},
    }


def test_one_entry_per_transition_and_none_for_unchanged_users() -> None:
    result = run(
        finding(FindingType.QUARANTINED, "alice"),
        finding(FindingType.STILL_QUARANTINED, "bob", action=Action.NONE, transition=False),
        finding(FindingType.EXEMPT, "carol", action=Action.NONE, transition=False),
        finding(FindingType.PENDING, "dan", action=Action.NONE, deadline=NOW + timedelta(hours=20)),
    )
    entries = messages.sns_entries(result)
    assert [json.loads(e["Message"])["user"] for e in entries] == ["alice", "dan"]
    assert len({e["Id"] for e in entries}) == 2
    assert entries[0]["MessageAttributes"]["severity"]["StringValue"] == "high"
    assert "MessageGroupId" not in entries[0]
    assert messages.sns_entries(run(finding(transition=False))) == []


def test_fifo_entries_carry_a_group_and_a_deduplication_id() -> None:
    entries = messages.sns_entries(run(finding(user="alice"), finding(FindingType.SCAN_ERROR, None)), fifo=True)
    assert [e["MessageGroupId"] for e in entries] == ["alice", "account"]
    assert len({e["MessageDeduplicationId"] for e in entries}) == 2


def test_batches_hold_at_most_ten_entries() -> None:
    result = run(*(finding(user=f"user{i}") for i in range(23)))
    batches = messages.sns_batches(messages.sns_entries(result))
    assert [len(b) for b in batches] == [10, 10, 3]
    assert [e["Id"] for b in batches for e in b] == [f"m{i}" for i in range(23)]


def test_batches_stay_under_the_payload_limit() -> None:
    big = [{"Id": f"m{i}", "Message": "x" * 100_000, "MessageAttributes": {}} for i in range(5)]
    assert [len(b) for b in messages.sns_batches(big)] == [2, 2, 1]


def test_subject_is_printable_ascii_under_100_characters() -> None:
    subject = messages.sns_subject(finding(user="ünïcode\nline" + "x" * 200))
    assert len(subject) < 100
    assert all(32 <= ord(ch) < 127 for ch in subject)
    assert subject.startswith("mfa-enforcer high: quarantined ")


@pytest.mark.parametrize(
    ("kind", "action", "expected"),
    [
        (FindingType.QUARANTINED, Action.WOULD_QUARANTINE, "mfa-enforcer high (report mode): would-quarantine alice"),
        (FindingType.RELEASED, Action.WOULD_RELEASE, "mfa-enforcer info (report mode): would-release alice"),
        (FindingType.TAMPER, Action.WOULD_REATTACH, "mfa-enforcer critical (report mode): would-reattach alice"),
    ],
)
def test_a_report_mode_subject_says_what_would_happen(kind: FindingType, action: Action, expected: str) -> None:
    """A subscriber reading only the subject must not believe a quarantine happened in report mode."""
    assert messages.sns_subject(finding(kind, action=action)) == expected


def test_report_mode_survives_clipping_of_a_long_name() -> None:
    subject = messages.sns_subject(finding(action=Action.WOULD_QUARANTINE, user="x" * 200))
    assert subject.startswith("mfa-enforcer high (report mode): would-quarantine x")
    assert len(subject) < 100


# ------------------------------------------------------------------------------------ Slack: rule


def test_realtime_event_gets_one_message_per_transition() -> None:
    result = run(
        finding(trigger=Trigger.ON_CONSOLE_LOGIN, user="alice"),
        finding(FindingType.ROOT_WITHOUT_MFA, "<root_account>", trigger=Trigger.ON_CONSOLE_LOGIN, action=Action.NONE),
        finding(FindingType.STILL_QUARANTINED, "bob", transition=False, trigger=Trigger.ON_CONSOLE_LOGIN),
        trigger=Trigger.ON_CONSOLE_LOGIN,
    )
    payloads = messages.slack_payloads(result, NOW)
    assert [p["blocks"][0]["text"]["text"] for p in payloads] == [
        ":lock: Quarantined: console access without MFA",
        ":rotating_light: Root user has no MFA",
    ]


def test_realtime_event_without_transition_sends_nothing_even_at_midnight() -> None:
    quiet = run(finding(transition=False, trigger=Trigger.ON_IAM_CHANGE), trigger=Trigger.ON_IAM_CHANGE)
    assert messages.slack_payloads(quiet, FIRST_RUN_OF_DAY) == []


def test_realtime_burst_folds_into_one_digest() -> None:
    burst = run(
        *(finding(user=f"u{i}", trigger=Trigger.ON_IAM_CHANGE) for i in range(6)), trigger=Trigger.ON_IAM_CHANGE
    )
    (payload,) = messages.slack_payloads(burst, NOW)
    assert payload["blocks"][0]["text"]["text"] == ":bar_chart: IAM change: 6 changes"


def test_scan_without_changes_is_silent_except_for_the_daily_summary() -> None:
    quiet = run(finding(FindingType.STILL_QUARANTINED, "bob", action=Action.NONE, transition=False, at=NOW))
    assert messages.slack_payloads(quiet, NOW) == []
    assert not messages.digest_due(quiet, NOW)

    first = run(finding(FindingType.STILL_QUARANTINED, "bob", action=Action.NONE, transition=False))
    assert messages.digest_due(first, FIRST_RUN_OF_DAY)
    (daily,) = messages.slack_payloads(first, FIRST_RUN_OF_DAY)
    assert daily["blocks"][0]["text"]["text"] == ":calendar: MFA daily summary: no changes"
    assert "• still-quarantined: 1" in daily["blocks"][2]["text"]["text"]


def test_a_run_by_hand_is_never_the_daily_summary() -> None:
    quiet = run(finding(transition=False, trigger=Trigger.CLI), trigger=Trigger.CLI)
    assert messages.slack_payloads(quiet, FIRST_RUN_OF_DAY) == []
    (digest,) = messages.slack_payloads(run(finding(trigger=Trigger.CLI), trigger=Trigger.CLI), FIRST_RUN_OF_DAY)
    assert digest["blocks"][0]["text"]["text"] == ":bar_chart: MFA check: 1 change"


def test_scan_with_changes_sends_one_digest() -> None:
    result = run(finding(user="alice"), finding(FindingType.EXEMPT, "carol", action=Action.NONE, transition=False))
    (digest,) = messages.slack_payloads(result, NOW)
    assert digest["blocks"][0]["text"]["text"] == ":bar_chart: MFA scan: 1 change"


def test_the_run_decides_when_it_happened() -> None:
    assert messages.decided_at(run(finding(at=FIRST_RUN_OF_DAY))) == FIRST_RUN_OF_DAY
    assert messages.decided_at(run()) is None


# ---------------------------------------------------------------------------------- Slack: words


def test_realtime_message_says_who_what_did_when_and_how_to_be_released() -> None:
    payload = messages.slack_finding(finding(trigger=Trigger.ON_CONSOLE_LOGIN), account_id=ACCOUNT, mode="enforce")
    header, facts, happened, did, release, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": ":lock: Quarantined: console access without MFA", "emoji": True},
    }
    assert [f["text"] for f in facts["fields"]] == [
        "*User*\n`alice`",
        f"*Account*\n{ACCOUNT}",
        "*Severity*\nhigh",
        "*When*\n2026-11-23T12:30:00Z",
    ]
    assert happened["text"]["text"] == "*What happened*\nconsole password without MFA; grace ended 2026-11-20T00:00:00Z"
    assert did["text"]["text"].startswith("*What the bot did*\nAttached the quarantine policy")
    assert release["text"]["text"].startswith("*To be released*\nSign in to the console")
    assert "<https://console.aws.amazon.com/iam/home#/security_credentials|" in release["text"]["text"]
    # A console session opened without MFA stays without MFA: the user must sign in again.
    assert release["text"]["text"].endswith("then sign in again with MFA.")
    assert "detected by on_console_login" in context["elements"][0]["text"]
    assert payload["text"] == f"Quarantined: console access without MFA — `alice` in account {ACCOUNT}"
    assert payload["unfurl_links"] is False


def test_report_mode_says_what_would_happen_and_that_nothing_changed() -> None:
    would = finding(action=Action.WOULD_QUARANTINE, trigger=Trigger.ON_CONSOLE_LOGIN)
    payload = messages.slack_finding(would, account_id=ACCOUNT, mode="report")
    assert payload["blocks"][0]["text"]["text"].endswith("Would quarantine: console access without MFA (report mode)")
    assert payload["blocks"][3]["text"]["text"] == (
        "*What the bot did*\nNothing (report mode). In enforce mode it would attach the quarantine policy."
    )
    digest = messages.slack_digest(run(would, mode=Mode.REPORT))
    rendered = "\n".join(texts(digest))
    assert "Report mode: nothing was changed in IAM" in rendered
    assert "_(would-quarantine)_" in rendered


def test_pending_names_the_deadline_and_tamper_names_the_actor() -> None:
    pending = finding(FindingType.PENDING, action=Action.NONE, deadline=NOW + timedelta(hours=20))
    text = "\n".join(texts(messages.slack_finding(pending, account_id=ACCOUNT, mode="enforce")))
    assert "Before 2026-11-24T08:30:00Z: sign in" in text
    tamper = finding(FindingType.TAMPER, action=Action.REATTACH, actor=f"arn:aws:iam::{ACCOUNT}:user/mallory")
    text = "\n".join(texts(messages.slack_finding(tamper, account_id=ACCOUNT, mode="enforce")))
    assert f"By: `arn:aws:iam::{ACCOUNT}:user/mallory`" in text
    assert "Re-attached the quarantine policy." in text


def test_link_follows_the_partition_of_the_user() -> None:
    gov = Finding(
        FindingType.QUARANTINED,
        "alice",
        "arn:aws-us-gov:iam::123456789012:user/alice",
        Action.QUARANTINE,
        "r",
        Trigger.SCHEDULED_SCAN,
        NOW,
        True,
    )
    text = "\n".join(texts(messages.slack_finding(gov, account_id=ACCOUNT, mode="enforce")))
    assert "<https://console.amazonaws-us-gov.com/iam/home#/security_credentials|" in text


@pytest.mark.parametrize("kind", list(FindingType))
def test_every_finding_type_has_words_and_renders(kind: FindingType) -> None:
    payload = messages.slack_finding(finding(kind, action=Action.NONE), account_id=ACCOUNT, mode="enforce")
    assert payload["blocks"][0]["text"]["text"] == f"{messages.WORDS[kind].emoji} {messages.WORDS[kind].title}"
    assert "{" not in "\n".join(texts(payload))  # every template placeholder was filled


def test_digest_counts_by_type_then_lists_changes_most_severe_first() -> None:
    result = run(
        finding(FindingType.PENDING, "dan", action=Action.NONE, deadline=NOW + timedelta(hours=3)),
        finding(FindingType.QUARANTINED, "alice"),
        finding(FindingType.ROOT_WITHOUT_MFA, "<root_account>", action=Action.NONE),
        finding(FindingType.EXEMPT, "carol", action=Action.NONE, transition=False),
        finding(FindingType.EXEMPT, "erin", action=Action.NONE, transition=False),
    )
    blocks = messages.slack_digest(result)["blocks"]
    assert blocks[0]["text"]["text"] == ":bar_chart: MFA scan: 3 changes"
    assert (
        blocks[1]["elements"][0]["text"]
        == f"Account {ACCOUNT} · enforce mode · 42 users scanned · 2026-11-23T12:30:00Z"
    )
    assert blocks[2]["text"]["text"] == (
        "*Findings this run*\n• root-without-mfa: 1\n• quarantined: 1\n• pending: 1\n• exempt: 2"
    )
    assert blocks[3] == {"type": "divider"}
    changes = blocks[4]["text"]["text"].splitlines()
    assert changes[0] == "*Changes*"
    assert [line.split("*")[1] for line in changes[1:]] == ["root-without-mfa", "quarantined", "pending"]
    assert "`&lt;root_account&gt;`" in changes[1]


def test_digest_says_how_owners_were_told() -> None:
    unreachable = finding(FindingType.OWNER_UNREACHABLE, "svc", action=Action.NONE, reason="no contact")
    told = RunResult(
        Trigger.SCHEDULED_SCAN,
        Mode.ENFORCE,
        (finding(), unreachable),
        account_id=ACCOUNT,
        owner_notices=NoticeTally(email=12, slack=3, without_contact=2, failed=1),
    )
    blocks = messages.slack_digest(told)["blocks"]
    assert blocks[3] == {
        "type": "context",
        "elements": [
            messages.mrkdwn(
                "Owners told: 12 by e-mail, 3 by Slack; 2 without a contact, 1 not delivered (see owner-unreachable)"
            )
        ],
    }
    assert messages.owners_told(NoticeTally(email=1)) == "Owners told: 1 by e-mail, 0 by Slack"
    quiet = messages.slack_digest(run(finding()))["blocks"]
    silent = messages.slack_digest(dataclasses.replace(run(finding()), owner_notices=NoticeTally()))["blocks"]
    assert silent == quiet  # nothing to say about owners: no line


def test_empty_scan_summary_says_everyone_has_mfa() -> None:
    (daily,) = messages.slack_payloads(run(), FIRST_RUN_OF_DAY)
    assert daily["blocks"][2]["text"]["text"] == "*Findings this run*\nNone: every console user has MFA."


# ------------------------------------------------------------------------- Slack: escaping, limits


@pytest.mark.parametrize("hostile", HOSTILE)
def test_account_text_cannot_form_mentions_or_links(hostile: str) -> None:
    found = finding(
        FindingType.TAMPER,
        user=hostile,
        reason=f"exempted by user {hostile}: {hostile}",
        error=hostile,
        actor=hostile,
        trigger=Trigger.ON_IAM_CHANGE,
    )
    result = run(found, finding(user=hostile), trigger=Trigger.ON_IAM_CHANGE)
    payloads = [
        *messages.slack_payloads(result, NOW),
        messages.slack_digest(result),
        messages.slack_finding(found, account_id=hostile, mode="enforce"),
    ]
    for payload in payloads:
        for text in texts(payload):
            assert "<" not in OUR_LINK.sub("", text), text
            assert ">" not in OUR_LINK.sub("", text), text
            assert "<!" not in text and "<@" not in text and "<http://x" not in text
    assert "`a&amp;b&lt;http://x|y&gt;`" in "\n".join(
        texts(messages.slack_finding(finding(user=HOSTILE[1]), account_id=ACCOUNT, mode="enforce"))
    )


def test_escape_handles_the_three_control_characters() -> None:
    assert messages.escape("<!channel>") == "&lt;!channel&gt;"
    assert messages.escape("a&b<http://x|y>") == "a&amp;b&lt;http://x|y&gt;"
    assert messages.escape("&lt;") == "&amp;lt;"  # already-escaped input stays literal text


def test_backticks_cannot_close_the_code_span() -> None:
    assert messages.code("a`<!here>`b") == "`a'&lt;!here&gt;'b`"


def test_every_mrkdwn_object_is_verbatim() -> None:
    result = run(finding(), finding(FindingType.PENDING, "dan", action=Action.NONE, deadline=NOW))
    for payload in (
        messages.slack_digest(result),
        messages.slack_finding(finding(), account_id=ACCOUNT, mode="enforce"),
    ):
        objects = list(text_objects(payload))
        assert objects
        for obj in objects:
            assert obj["type"] == "plain_text" or obj["verbatim"] is True


def test_huge_scan_stays_within_slack_limits_and_says_how_many_more() -> None:
    result = run(
        *(finding(user=f"user-{i:04d}-" + "n" * 100, reason="&<>" * 2_000, error="e" * 5_000) for i in range(500))
    )
    digest = messages.slack_digest(result)
    assert_within_limits(digest)
    shown = sum(text.count("• :lock: *quarantined*") for text in texts(digest["blocks"]))
    assert 0 < shown <= messages.DIGEST_MAX_CHANGES
    assert f"…and {500 - shown} more" in "\n".join(texts(digest["blocks"]))


def test_long_single_finding_stays_within_limits_without_broken_entities() -> None:
    long = finding(user="u" * 300, reason="&" * 5_000, error="<" * 5_000, actor=">" * 400)
    payload = messages.slack_finding(long, account_id=ACCOUNT, mode="enforce")
    assert_within_limits(payload)
    for text in texts(payload):
        assert re.search(r"&(?!amp;|lt;|gt;)", text) is None, text


def assert_within_limits(payload: dict[str, Any]) -> None:
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert len(payload["text"]) <= messages.SLACK_FALLBACK_CHARS
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3_000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2_000 for f in block.get("fields", []))
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 3_000 for e in block["elements"])


def test_sns_body_carries_what_the_triggering_event_said() -> None:
    found = finding(
        FindingType.RELEASED,
        action=Action.RELEASE,
        source_ip="198.51.100.7",
        user_agent="Mozilla/5.0",
        mfa_serial="arn:aws:iam::123456789012:mfa/alice",
    )
    body = messages.sns_message(found, account_id=ACCOUNT, mode="enforce")
    assert (body["source_ip"], body["user_agent"], body["mfa_serial"]) == (
        "198.51.100.7",
        "Mozilla/5.0",
        "arn:aws:iam::123456789012:mfa/alice",
    )
    assert "source_ip" not in messages.sns_message(finding(), account_id=ACCOUNT, mode="enforce")


def test_a_decision_can_raise_one_findings_severity_above_its_type() -> None:
    plain = finding(FindingType.EXEMPTED, action=Action.NONE)
    raised = plain.with_changes(severity_override=Severity.HIGH)
    assert (plain.severity, raised.severity) == (Severity.MEDIUM, Severity.HIGH)
    assert messages.sns_attributes(raised)["severity"]["StringValue"] == "high"


def test_a_release_after_a_sign_in_quarantine_asks_an_operator_to_confirm_it_was_the_user() -> None:
    released = finding(
        FindingType.RELEASED,
        action=Action.RELEASE,
        reason="MFA device enrolled from 10.10.2.20 after a sign-in without MFA from 192.0.2.10",
        trigger=Trigger.ON_IAM_CHANGE,
        severity_override=Severity.HIGH,
        source_ip="10.10.2.20",
        user_agent="<!channel> Mozilla",
        mfa_serial="arn:aws:iam::123456789012:mfa/alice",
        sign_in_ip="192.0.2.10",
    )
    payload = messages.slack_finding(released, account_id=ACCOUNT, mode="enforce")
    text = "\n".join(texts(payload))
    assert "Released after a sign-in without MFA: confirm it was the user" in text
    assert "Ask the user, through a channel other than this account" in text
    for line in ("From: `10.10.2.20`", "Device: `arn:aws:iam::123456789012:mfa/alice`", "`192.0.2.10`"):
        assert line in text
    assert "&lt;!channel&gt; Mozilla" in text and "<!channel>" not in text
    assert "*Severity*\nhigh" in text
    routine = finding(FindingType.RELEASED, action=Action.RELEASE, reason="MFA device enrolled")
    assert messages.words_for(routine) is messages.WORDS[FindingType.RELEASED]
    assert messages.words_for(released) is messages.CONFIRM_RELEASE
    body = messages.sns_message(released, account_id=ACCOUNT, mode="enforce")
    assert (body["severity"], body["sign_in_ip"], body["mfa_serial"]) == (
        "high",
        "192.0.2.10",
        "arn:aws:iam::123456789012:mfa/alice",
    )
