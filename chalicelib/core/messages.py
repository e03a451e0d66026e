"""Pure presentation: a run's findings as SNS messages and Slack Block Kit payloads.

No AWS, no network, no clock: every function takes plain data (a RunResult, a Finding, the
instant the run decided at) and returns JSON-ready dicts, so the wording, the escaping and the
size limits are tested in milliseconds and the adapters in notify.py only send.

Two rules live here because they decide *what* is said, not how it travels:

- SNS gets one message per transition (the findings that are news), never one for a user whose
  state did not change. The body is a versioned JSON document; `type` and `severity` are also
  message attributes, so a subscription filter policy can select without parsing the body.
- Slack gets, for a real-time event (`on_console_login`, `on_iam_change`), one message per
  transition; for a scan, one digest, sent only when the run has transitions or when the daily
  summary is due (`decide.daily_due`: the first scheduled run of each UTC day, judged at the
  instant the run decided, so the digest and the daily repeat of standing problems agree).

Everything the account controls (user names, reasons, exemption text, error messages, ARNs) is
escaped for mrkdwn (`&`, `<`, `>`) and sent in `verbatim` text objects, so no input can become
`<!channel>`, a link or a mention, and Slack does not auto-link or auto-mention plain text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core import decide
from chalicelib.core.model import (
    EVENT_FIELDS,
    SEVERITY,
    Action,
    Finding,
    FindingType,
    Mode,
    NoticeTally,
    RunResult,
    Severity,
    Trigger,
    iso,
)

SCHEMA_VERSION = 1
OPTIONAL_FIELDS = ("deadline", "expires", *EVENT_FIELDS)

SNS_BATCH_ENTRIES = 10
SNS_BATCH_BYTES = 262_144
SNS_SUBJECT_CHARS = 99
SNS_TEXT_CHARS = 4_000

SLACK_MAX_BLOCKS = 50
SLACK_SECTION_CHARS = 3_000
SLACK_FIELD_CHARS = 2_000
SLACK_HEADER_CHARS = 150
SLACK_CONTEXT_CHARS = 2_000
SLACK_FALLBACK_CHARS = 3_000
DIGEST_MAX_CHANGES = 20
REALTIME_MAX_MESSAGES = 5
NAME_CHARS = 128
REASON_CHARS = 600

REALTIME_TRIGGERS = frozenset({Trigger.ON_CONSOLE_LOGIN, Trigger.ON_IAM_CHANGE})
WOULD_ACTIONS = frozenset({Action.WOULD_QUARANTINE, Action.WOULD_RELEASE, Action.WOULD_REATTACH, Action.WOULD_RESTORE})
SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}

_CONSOLE = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
_MFA_PATH = "/iam/home#/security_credentials"


# --------------------------------------------------------------------------------------------- SNS


def sns_message(finding: Finding, *, account_id: str | None, mode: str) -> dict[str, object]:
    """The SNS body for one finding: the public, versioned schema (docs/notifications.md, "SNS message schema")."""
    data = finding.as_dict()
    body: dict[str, object] = {
        "version": SCHEMA_VERSION,
        "type": data["type"],
        "severity": data["severity"],
        "account_id": account_id,
        "user": data["user"],
        "arn": data["arn"],
        "mode": mode,
        "action": data["action"],
        "detected_by": data["detected_by"],
        "reason": _clip(finding.reason, SNS_TEXT_CHARS),
        "timestamp": data["timestamp"],
    }
    for key in OPTIONAL_FIELDS:
        if key in data:
            value = data[key]
            body[key] = _clip(value, SNS_TEXT_CHARS) if isinstance(value, str) else value
    return body


def sns_attributes(finding: Finding) -> dict[str, dict[str, str]]:
    """Message attributes `type` and `severity` (String), what subscription filter policies match on."""
    return {
        "type": {"DataType": "String", "StringValue": finding.type.value},
        "severity": {"DataType": "String", "StringValue": finding.severity.value},
    }


def sns_subject(finding: Finding) -> str:
    """A subject for e-mail subscribers: printable ASCII, under 100 characters, as SNS requires.

    In report mode the finding's type names what enforce mode would do, so the subject leads with
    the `would-*` action and says "report mode" before the user name, where clipping cannot cut it.
    """
    who = f" {finding.user}" if finding.user else ""
    if finding.action.value.startswith("would-"):
        text = f"mfa-enforcer {finding.severity.value} (report mode): {finding.action.value}{who}"
    else:
        text = f"mfa-enforcer {finding.severity.value}: {finding.type.value}{who}"
    printable = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return printable[:SNS_SUBJECT_CHARS]


def sns_entries(result: RunResult, *, fifo: bool = False) -> list[dict[str, Any]]:
    """PublishBatch entries, one per transition; FIFO topics also get a group and a deduplication id.

    Ids are unique across the whole run (`m0`, `m1`, ...), so any split into batches keeps them
    unique within each batch as SNS requires.
    """
    entries: list[dict[str, Any]] = []
    for index, finding in enumerate(result.transitions):
        message = json.dumps(sns_message(finding, account_id=result.account_id, mode=result.mode.value))
        entry: dict[str, Any] = {
            "Id": f"m{index}",
            "Message": message,
            "Subject": sns_subject(finding),
            "MessageAttributes": sns_attributes(finding),
        }
        if fifo:
            group = "".join(ch for ch in (finding.user or "account") if 33 <= ord(ch) < 127)[:128]
            entry["MessageGroupId"] = group or "account"
            entry["MessageDeduplicationId"] = hashlib.sha256(message.encode()).hexdigest()
        entries.append(entry)
    return entries


def sns_batches(
    entries: Sequence[dict[str, Any]], *, max_entries: int = SNS_BATCH_ENTRIES, max_bytes: int = SNS_BATCH_BYTES
) -> list[list[dict[str, Any]]]:
    """Split entries into PublishBatch calls: at most 10 entries and 256 KiB of payload per call."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = _entry_bytes(entry)
        if current and (len(current) == max_entries or size + entry_size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry_size
    if current:
        batches.append(current)
    return batches


def _entry_bytes(entry: dict[str, Any]) -> int:
    """SNS counts the body plus every attribute's name, type and value towards the size limit."""
    size = len(entry["Message"].encode())
    for name, attribute in entry.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(attribute["DataType"].encode()) + len(attribute["StringValue"].encode())
    return size


# ------------------------------------------------------------------------------------ Slack: rule


def decided_at(result: RunResult) -> datetime | None:
    """The instant the run decided at (every finding of a run carries it); None for a run with no findings."""
    return result.findings[0].timestamp if result.findings else None


def digest_due(result: RunResult, now: datetime) -> bool:
    """A scan digest goes out when the run changed something, or when the daily summary is due.

    The daily summary is the first scheduled run of each UTC day (`decide.daily_due`), the same
    run that repeats standing problems such as root without MFA, so an all-quiet account still
    hears once a day that the bot is alive and what stands open. Runs by hand (CLI) never count
    as the daily run.
    """
    if result.transitions:
        return True
    return result.trigger is Trigger.SCHEDULED_SCAN and decide.daily_due(now, decide.SCAN_INTERVAL)


def slack_payloads(result: RunResult, now: datetime) -> list[dict[str, Any]]:
    """Every Slack message for one run, in sending order (possibly none).

    Real-time events: one message per transition (more than five at once fold into one digest,
    so a burst cannot flood the channel or the webhook's rate limit). Scans: one digest when
    `digest_due`, else nothing.
    """
    changes = result.transitions
    if result.trigger in REALTIME_TRIGGERS:
        if not changes:
            return []
        if len(changes) <= REALTIME_MAX_MESSAGES:
            return [slack_finding(f, account_id=result.account_id, mode=result.mode.value) for f in changes]
        return [slack_digest(result)]
    return [slack_digest(result)] if digest_due(result, now) else []


# ---------------------------------------------------------------------------------- Slack: words


@dataclass(frozen=True)
class _Words:
    """How one finding type reads in Slack: icon, headline, and what someone has to do next."""

    emoji: str
    title: str
    next_heading: str
    next_step: str
    report_title: str | None = None


_RELEASE_STEP = (
    "Sign in to the console with the password, open {mfa_link} and assign an MFA device. "
    "The quarantine is lifted automatically as soon as the device is active "
    "(at the latest by the next scheduled scan); then sign in again with MFA."
)

WORDS: dict[FindingType, _Words] = {
    FindingType.QUARANTINED: _Words(
        ":lock:",
        "Quarantined: console access without MFA",
        "To be released",
        _RELEASE_STEP,
        report_title="Would quarantine: console access without MFA (report mode)",
    ),
    FindingType.STILL_QUARANTINED: _Words(":lock:", "Still quarantined: no MFA yet", "To be released", _RELEASE_STEP),
    FindingType.TAMPER: _Words(
        ":rotating_light:",
        "Quarantine policy removed by someone other than the bot",
        "To be released",
        _RELEASE_STEP + " Ask whoever detached the policy why: only MFA releases a user.",
    ),
    FindingType.PENDING: _Words(
        ":hourglass_flowing_sand:",
        "New console user without MFA: grace period running",
        "To avoid quarantine",
        "Before {deadline}: sign in, open {mfa_link} and assign an MFA device.",
    ),
    FindingType.RELEASED: _Words(
        ":unlock:",
        "Released from quarantine",
        "Next step",
        "Nothing to do: sign in with MFA from now on.",
        report_title="Would release from quarantine (report mode)",
    ),
    FindingType.EXEMPT: _Words(
        ":white_check_mark:", "Exempt user without MFA", "Next step", "Nothing while the exemption lasts."
    ),
    FindingType.EXEMPTION_EXPIRING: _Words(
        ":calendar:",
        "Exemption ends soon",
        "To stay unquarantined",
        "Before {expires}: assign an MFA device ({mfa_link}), or ask an admin to renew the exemption.",
    ),
    FindingType.EXEMPTION_EXPIRED: _Words(
        ":calendar:",
        "Exemption expired and no longer applies",
        "Next step",
        "The user is judged like everyone else now: assign an MFA device ({mfa_link}) or renew the exemption.",
    ),
    FindingType.API_USER_WITHOUT_MFA: _Words(
        ":key:",
        "API user without MFA",
        "Next step",
        "No console access, so nothing is quarantined. Prefer roles over long-term access keys.",
    ),
    FindingType.ROOT_WITHOUT_MFA: _Words(
        ":rotating_light:",
        "Root user has no MFA",
        "Next step",
        "Sign in as the root user, open {mfa_link} and assign an MFA device. The bot never quarantines root.",
    ),
    FindingType.ROOT_ACCESS_KEYS: _Words(
        ":rotating_light:",
        "Root user has active access keys",
        "Next step",
        "Sign in as the root user, open {mfa_link} and delete the root access keys.",
    ),
    FindingType.CONFIG_ERROR: _Words(
        ":warning:",
        "Problem with the exemptions document",
        "Next step",
        "Fix the exemptions document in SSM Parameter Store (mfa-enforcer exemptions validate helps). Until then the "
        "bot enforces what the finding says: the newest valid version, or, when none is valid or readable, "
        "quarantines nobody (releases still happen).",
    ),
    FindingType.CANNOT_QUARANTINE: _Words(
        ":warning:",
        "Could not quarantine a user",
        "Next step",
        "An admin should check the bot's permissions and the user's managed-policy quota; the next scan retries.",
    ),
    FindingType.CANNOT_RELEASE: _Words(
        ":warning:",
        "Could not release a user",
        "Next step",
        "An admin should check the bot's permissions, or detach the quarantine policy by hand; the next scan retries.",
    ),
    FindingType.REPORT_ROW_ERROR: _Words(
        ":grey_question:",
        "Credential report line skipped",
        "Next step",
        "Check this user in the IAM console; the line is read again on the next scan.",
    ),
    FindingType.SCAN_ERROR: _Words(
        ":x:",
        "Scan failed: no decisions made",
        "Next step",
        "Check the function's logs and permissions; the next scheduled scan tries again.",
    ),
    FindingType.SCAN_INCOMPLETE: _Words(
        ":hourglass:",
        "Scan incomplete: users left for the next run",
        "Next step",
        "Nothing: the next scan continues where this one stopped.",
    ),
    FindingType.QUARANTINE_POLICY_TAMPERED: _Words(
        ":rotating_light:",
        "Quarantine policy changed: quarantines may be hollow",
        "Next step",
        "Find out who changed the policy and why; in enforce mode the bot restores the shipped document.",
    ),
    FindingType.EXEMPTED: _Words(
        ":white_check_mark:",
        "Console user without MFA is exempt",
        "Next step",
        "Check that the exemption is meant to cover this user; it is reported once.",
    ),
    FindingType.ROOT_CREDENTIALS_ABSENT: _Words(
        ":white_check_mark:",
        "Root user has no credentials (centrally managed root)",
        "Next step",
        "Nothing: there is no root password, access key or certificate to protect.",
    ),
    FindingType.IDENTITY_CENTER_USER_WITHOUT_MFA: _Words(
        ":rotating_light:",
        "Identity Center sign-in with a password alone",
        "Next step",
        "Require MFA in IAM Identity Center (Settings, Authentication) and have the user register a device.",
    ),
    FindingType.OWNER_UNREACHABLE: _Words(
        ":mailbox_with_no_mail:",
        "The user could not be told",
        "Next step",
        "Tag the user with a contact (an e-mail address or a Slack member id), or tell them by hand.",
    ),
}

# A release after a quarantine caused by a sign-in without MFA (decide.confirm_release): the password
# may be someone else's, and so may the device that was enrolled.
CONFIRM_RELEASE = _Words(
    ":rotating_light:",
    "Released after a sign-in without MFA: confirm it was the user",
    "Next step",
    "Ask the user, through a channel other than this account, whether they enrolled this MFA device from this "
    "address. If not, their password is known to someone else: reset it, remove the device, and review what "
    "the account did since.",
    report_title="Would release after a sign-in without MFA (report mode): confirm it was the user",
)


def words_for(finding: Finding) -> _Words:
    """The Slack words for a finding: its type's, or those asking to confirm a release after a sign-in."""
    if finding.type is FindingType.RELEASED and finding.sign_in_ip is not None:
        return CONFIRM_RELEASE
    return WORDS[finding.type]


ACTION_TEXT: dict[Action, str] = {
    Action.QUARANTINE: "Attached the quarantine policy and tags: everything except setting up MFA is denied.",
    Action.RELEASE: "Removed the quarantine policy and tags.",
    Action.REATTACH: "Re-attached the quarantine policy.",
    Action.WOULD_QUARANTINE: "Nothing (report mode). In enforce mode it would attach the quarantine policy.",
    Action.WOULD_RELEASE: "Nothing (report mode). In enforce mode it would remove the quarantine policy.",
    Action.WOULD_REATTACH: "Nothing (report mode). In enforce mode it would re-attach the quarantine policy.",
    Action.RESTORE: "Restored the quarantine policy to the shipped document.",
    Action.WOULD_RESTORE: "Nothing (report mode). In enforce mode it would restore the quarantine policy.",
    Action.NONE: "Nothing: this is reported only.",
}
_FAILED_TEXT = "Tried and failed; IAM is unchanged for this user. The next scan tries again."

_USER_ACTIONABLE = frozenset(
    {FindingType.QUARANTINED, FindingType.STILL_QUARANTINED, FindingType.PENDING, FindingType.TAMPER}
)
_LABEL = {
    Trigger.SCHEDULED_SCAN: "MFA scan",
    Trigger.ON_CONSOLE_LOGIN: "Console sign-in",
    Trigger.ON_IAM_CHANGE: "IAM change",
    Trigger.CLI: "MFA check",
}


# ------------------------------------------------------------------------------- Slack: payloads


def slack_finding(finding: Finding, *, account_id: str | None, mode: str) -> dict[str, Any]:
    """One real-time message: who, what happened, what the bot did, when, what to do to be released."""
    words = words_for(finding)
    title = _title(finding)
    who = _who(finding)
    fields = [
        f"*User*\n{who}",
        f"*Account*\n{escape(account_id or 'unknown')}",
        f"*Severity*\n{finding.severity.value}",
        f"*When*\n{iso(finding.timestamp)}",
    ]
    happened = [escape(_clip(finding.reason, REASON_CHARS))]
    if finding.actor:
        happened.append(f"By: {code(finding.actor)}")
    for label, value in (
        ("From", finding.source_ip),
        ("Client", finding.user_agent),
        ("Device", finding.mfa_serial),
        ("Sign-in without MFA from", finding.sign_in_ip),
    ):
        if value:
            happened.append(f"{label}: {code(value)}")
    if finding.error:
        happened.append(f"Error: {escape(_clip(finding.error, REASON_CHARS))}")
    did = _FAILED_TEXT if finding.type in (FindingType.CANNOT_QUARANTINE, FindingType.CANNOT_RELEASE) else None
    blocks: list[dict[str, Any]] = [
        _header(f"{words.emoji} {title}"),
        {"type": "section", "fields": [mrkdwn(_fit(f, SLACK_FIELD_CHARS)) for f in fields]},
        _section("*What happened*\n" + "\n".join(happened)),
        _section(f"*What the bot did*\n{did or ACTION_TEXT[finding.action]}"),
        _section(f"*{words.next_heading}*\n{_next_step(finding)}"),
        _context(
            f"mfa-enforcer · {escape(mode)} mode · detected by {finding.detected_by.value}"
            + (f" · {code(finding.arn)}" if finding.arn else "")
        ),
    ]
    text = f"{title} — {who} in account {escape(account_id or 'unknown')}"
    return _payload(text, blocks)


def slack_digest(result: RunResult) -> dict[str, Any]:
    """One message per scan: counts per finding type, then the changes, cut with "and N more"."""
    changes = sorted(result.transitions, key=lambda f: -SEVERITY_RANK[f.severity])
    label = _LABEL.get(result.trigger, "MFA check")
    if changes:
        headline = f":bar_chart: {label}: {len(changes)} change{'s' if len(changes) != 1 else ''}"
    else:
        headline = ":calendar: MFA daily summary: no changes"
    when = decided_at(result)
    facts = [f"Account {escape(result.account_id or 'unknown')}", f"{escape(result.mode.value)} mode"]
    if result.users_scanned:
        facts.append(f"{result.users_scanned} users scanned")
    if result.left_for_next_run:
        facts.append(f"{result.left_for_next_run} left for the next run")
    if when is not None:
        facts.append(iso(when))
    blocks: list[dict[str, Any]] = [_header(headline), _context(" · ".join(facts))]
    if result.mode is Mode.REPORT:
        blocks.append(_context("Report mode: nothing was changed in IAM; actions say what enforce mode would do."))
    blocks.append(_section(_counts_text(result.counts())))
    if result.owner_notices is not None and any(result.owner_notices.as_dict().values()):
        blocks.append(_context(owners_told(result.owner_notices)))
    if changes:
        blocks.append({"type": "divider"})
        lines = [_change_line(f) for f in changes[:DIGEST_MAX_CHANGES]]
        hidden = len(changes) - len(lines)
        room = SLACK_MAX_BLOCKS - len(blocks) - 2  # keep space for "and N more" and the footer
        sections, dropped = _pack(["*Changes*", *lines], room)
        blocks.extend(sections)
        hidden += dropped
        if hidden:
            blocks.append(_section(f"…and {hidden} more (every change is also published to SNS and logged)."))
    if any(FindingType(t) in _USER_ACTIONABLE for t in result.counts()):
        link = _mfa_link(_partition_of(result.findings))
        blocks.append(
            _context(
                f"Users without MFA: sign in, open {link} and assign an MFA device; "
                "the bot releases them automatically."
            )
        )
    summary = ", ".join(f"{f.type.value} {code(f.user) if f.user else 'account'}" for f in changes[:10])
    text = f"{headline} in account {escape(result.account_id or 'unknown')}" + (f": {summary}" if summary else "")
    return _payload(text, blocks)


def owners_told(tally: NoticeTally) -> str:
    """The digest's line about owner notices: "Owners told: 12 by e-mail, 3 by Slack; 2 without a contact"."""
    told = f"Owners told: {tally.email} by e-mail, {tally.slack} by Slack"
    missed = []
    if tally.without_contact:
        missed.append(f"{tally.without_contact} without a contact")
    if tally.failed:
        missed.append(f"{tally.failed} not delivered")
    return told + ("; " + ", ".join(missed) + " (see owner-unreachable)" if missed else "")


def escape(text: str) -> str:
    """Escape Slack's three control characters, so account text can never form `<...>` markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """Account text as an inline code span: escaped, clipped, and unable to close the span early."""
    inner = escape(_clip(text.replace("`", "'"), NAME_CHARS))
    return f"`{inner}`"


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object with `verbatim` set: Slack then never auto-links or auto-mentions plain text."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


# ------------------------------------------------------------------------------------ internals


def _title(finding: Finding) -> str:
    words = words_for(finding)
    if finding.action in WOULD_ACTIONS and words.report_title:
        return words.report_title
    return words.title


def _who(finding: Finding) -> str:
    return code(finding.user) if finding.user else "the account"


def _next_step(finding: Finding) -> str:
    words = words_for(finding)
    return words.next_step.format(
        mfa_link=_mfa_link(_partition_of([finding])),
        deadline=iso(finding.deadline) if finding.deadline else "the deadline",
        expires=iso(finding.expires) if finding.expires else "it ends",
    )


def _change_line(finding: Finding) -> str:
    """One digest line: icon, type, who, why; report mode says what would have been done."""
    line = f"• {words_for(finding).emoji} *{finding.type.value}* {_who(finding)}: "
    line += escape(_clip(finding.reason, REASON_CHARS // 2))
    if finding.action in WOULD_ACTIONS:
        line += f" _({finding.action.value})_"
    if finding.error:
        line += f" (error: {escape(_clip(finding.error, REASON_CHARS // 2))})"
    return line


def _counts_text(counts: dict[str, int]) -> str:
    if not counts:
        return "*Findings this run*\nNone: every console user has MFA."
    ordered = sorted(counts.items(), key=lambda kv: (-SEVERITY_RANK[SEVERITY[FindingType(kv[0])]], kv[0]))
    return "*Findings this run*\n" + "\n".join(f"• {kind}: {n}" for kind, n in ordered)


def _pack(lines: Iterable[str], max_sections: int) -> tuple[list[dict[str, Any]], int]:
    """Whole lines into as few sections as fit 3,000 characters; returns the sections and lines left out."""
    sections: list[str] = []
    current = ""
    pending = list(lines)
    for index, line in enumerate(pending):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= SLACK_SECTION_CHARS:
            current = candidate
            continue
        if len(sections) + 1 >= max_sections:
            sections.append(current)
            return [_section(s) for s in sections], len(pending) - index
        sections.append(current)
        current = _fit(line, SLACK_SECTION_CHARS)
    if current:
        sections.append(current)
    return [_section(s) for s in sections], 0


def _header(text: str) -> dict[str, Any]:
    """Headers are plain_text built from our own vocabulary only; no account text goes here."""
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(text, SLACK_HEADER_CHARS), "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(_fit(text, SLACK_SECTION_CHARS))}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(_fit(text, SLACK_CONTEXT_CHARS))]}


def _payload(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The webhook body; `text` is the notification/fallback line, and links are never unfurled."""
    return {
        "text": _fit(text, SLACK_FALLBACK_CHARS),
        "blocks": blocks[:SLACK_MAX_BLOCKS],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _partition_of(findings: Iterable[Finding]) -> str:
    for finding in findings:
        if finding.arn and finding.arn.count(":") >= 5:
            return finding.arn.split(":")[1]
    return "aws"


def _mfa_link(partition: str) -> str:
    """Link to the signed-in user's own security-credentials page, where they assign an MFA device."""
    return f"<{security_credentials_url(partition)}|IAM console → Security credentials → Assign MFA device>"


def console_host(partition: str) -> str:
    """The AWS console's host name in a partition (the commercial one for an unknown partition)."""
    return _CONSOLE.get(partition, _CONSOLE["aws"])


def security_credentials_url(partition: str) -> str:
    """The signed-in user's own security-credentials page in the partition's console."""
    return f"https://{console_host(partition)}{_MFA_PATH}"


def _clip(text: str, limit: int) -> str:
    """Shorten raw text to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit(text: str, limit: int) -> str:
    """Last-resort cut of already-escaped mrkdwn: never inside an `&...;` entity or a `<...>` link."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp, semi = cut.rfind("&"), cut.rfind(";")
    if amp > semi:
        cut = cut[:amp]
    opened, closed = cut.rfind("<"), cut.rfind(">")
    if opened > closed:
        cut = cut[:opened]
    return cut + "…"
