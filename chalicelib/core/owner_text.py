"""What an owner notice says: one wording, rendered as plain text, HTML and Slack Block Kit.

Pure: every function takes the notice (core.owner_notices.Due), the account and the instant, and
returns strings or JSON-ready dicts, so the wording and the escaping are tested without AWS.

A notice is written once, as paragraphs made of text and links (`Para`), and each renderer
escapes the text for its medium: nothing for the plain-text part, `html.escape` for HTML, and
Slack's `&`, `<`, `>` for mrkdwn. Links are only ever the bot's own (the partition's console and
sign-in pages), never text from the account. Everything the account controls (the user name,
the alias, a source IP or device serial from an event) is treated as text. A notice carries no
secret: no token, no webhook, no password, no link that asks for one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import messages
from chalicelib.core.model import Trigger, iso
from chalicelib.core.owner_notices import Due, Notice

_ALIAS = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]")  # IAM's own rule for account aliases
_SIGNIN_DOMAIN = {"aws": "signin.aws.amazon.com", "aws-cn": "signin.amazonaws.cn"}
_SIGNIN_DOMAIN["aws-us-gov"] = "signin.amazonaws-us-gov.com"
SHOWN_CHARS = 128  # event text (IP, user agent, serial) is cut to this in a notice
SUBJECT_CHARS = 200


@dataclass(frozen=True)
class Account:
    """The AWS account a notice is about: its id, its alias (when it has a valid one) and partition."""

    id: str
    alias: str | None = None
    partition: str = "aws"

    @property
    def label(self) -> str:
        """`123456789012 (acme-prod)`, or the id alone."""
        return f"{self.id} ({self.alias})" if self.alias else self.id

    def signin_url(self) -> str:
        """The account's console sign-in page (alias subdomain when there is one)."""
        domain = _SIGNIN_DOMAIN.get(self.partition, _SIGNIN_DOMAIN["aws"])
        return f"https://{self.alias or self.id}.{domain}/console"


def account(account_id: str, alias: str | None, partition: str) -> Account:
    """An Account, keeping the alias only when it is one IAM could hold (it ends up in a link)."""
    return Account(account_id, alias if alias and _ALIAS.fullmatch(alias) else None, partition)


@dataclass(frozen=True)
class Link:
    """A link the bot wrote itself."""

    url: str
    label: str


Segment = str | Link
Para = tuple[Segment, ...]


@dataclass(frozen=True)
class Letter:
    """One notice before rendering: headline, subject, paragraphs, the facts, and the lists."""

    tone: str  # "warn", "stop" or "ok": the colour of the HTML banner
    headline: str
    subject: str
    intro: tuple[Para, ...]
    facts: tuple[tuple[str, str], ...]
    blocked: tuple[str, ...]
    works: tuple[str, ...]
    steps: tuple[Para, ...]
    closing: tuple[Para, ...]


@dataclass(frozen=True)
class Email:
    """The e-mail's subject and its two bodies."""

    subject: str
    text: str
    html: str


BLOCKED = ("Everything else in AWS: the console, the CLI and the SDKs, also with your access keys.",)
WORKS = (
    "Signing in to the console with your password.",
    "Setting up an MFA device on your own Security credentials page.",
    "Changing your own password.",
)
_DEVICES = (
    "a passkey or security key (a YubiKey, Touch ID, Windows Hello, your phone), "
    "an authenticator app (Google Authenticator, Microsoft Authenticator, 1Password, ...), "
    "or a hardware TOTP token"
)


def letter(notice: Due, where: Account, now: datetime, *, report: bool) -> Letter:
    """The words of one notice; `report` is the bot's report mode (nothing is ever changed)."""
    user = notice.user
    build = {
        Notice.GRACE: _grace,
        Notice.REMINDER: _reminder,
        Notice.QUARANTINE: _quarantine,
        Notice.RELEASE: _release,
    }[notice.notice]
    words = build(notice, where, now, report)
    prefix = "[report mode] " if report else ""
    facts = [("IAM user", user), ("AWS account", where.label)]
    if notice.finding.deadline is not None and notice.notice is not Notice.RELEASE:
        label = "Grace ended (UTC)" if notice.notice is Notice.QUARANTINE else "Deadline (UTC)"
        facts.append((label, iso(notice.finding.deadline)))
    if report:
        facts.append(("Mode", "report mode: nothing is changed"))
    return Letter(
        tone=words.tone,
        headline=words.headline,
        subject=_clip(prefix + words.subject, SUBJECT_CHARS),
        intro=words.intro,
        facts=tuple(facts),
        blocked=BLOCKED if words.lists else (),
        works=WORKS if words.lists else (),
        steps=_steps(user, where) if words.steps else (),
        closing=(*words.closing, _footer(where)),
    )


@dataclass(frozen=True)
class _Words:
    tone: str
    headline: str
    subject: str
    intro: tuple[Para, ...]
    closing: tuple[Para, ...] = ()
    lists: bool = True
    steps: bool = True


def _grace(notice: Due, where: Account, now: datetime, report: bool) -> _Words:
    deadline = _deadline(notice)
    intro: list[Para] = [
        (
            f"Your IAM user {notice.user} in AWS account {where.label} signs in to the AWS console with a "
            "password and has no MFA device. Every console user in this account must have one.",
        ),
        (
            f"Set one up by {deadline} (UTC). Until then nothing changes. From then on, until you do, "
            "your access is restricted.",
        ),
    ]
    if report:
        intro.insert(1, (_REPORT_LATER,))
    return _Words(
        "warn",
        f"Set up MFA by {deadline}",
        f"Action required by {deadline}: set up MFA for AWS user {notice.user}",
        tuple(intro),
        closing=(("Already set one up? Then there is nothing to do.",),),
    )


def _reminder(notice: Due, where: Account, now: datetime, report: bool) -> _Words:
    deadline = _deadline(notice)
    left = _left(notice.finding.deadline - now if notice.finding.deadline else timedelta(0))
    intro: list[Para] = [
        (f"Your IAM user {notice.user} in AWS account {where.label} still has no MFA device.",),
        (
            f"The deadline is {deadline} (UTC), {left} from now. From then on, until you set one up, "
            "your access is restricted.",
        ),
    ]
    if report:
        intro.insert(1, (_REPORT_LATER,))
    return _Words(
        "warn",
        f"Reminder: set up MFA by {deadline}",
        f"Reminder: {left} left to set up MFA for AWS user {notice.user} (by {deadline})",
        tuple(intro),
        closing=(("Already set one up? Then there is nothing to do.",),),
    )


_REPORT_LATER = (
    "mfa-enforcer runs in report mode in this account for now: nothing will be restricted at the deadline "
    "until enforcement is switched on. Set up the device anyway."
)


def _quarantine(notice: Due, where: Account, now: datetime, report: bool) -> _Words:
    finding = notice.finding
    grace = f" (the grace period ended {iso(finding.deadline)})" if finding.deadline else ""
    if report:
        opening = (
            "mfa-enforcer runs in report mode in this account, so nothing was changed. In enforce mode your IAM user "
            f"{notice.user} in AWS account {where.label} would now be restricted, because it signs in to the console "
            f"with a password and has no MFA device{grace}."
        )
        headline, subject = "Your AWS access would be restricted", f"AWS user {notice.user} would be restricted"
    else:
        opening = (
            f"Since {iso(now)} (UTC), your IAM user {notice.user} in AWS account {where.label} is restricted, because "
            f"it signs in to the console with a password and has no MFA device{grace}."
        )
        headline, subject = (
            "Your AWS access is restricted",
            f"AWS user {notice.user} is restricted until you set up MFA",
        )
    intro: list[Para] = [(opening,)]
    if finding.detected_by is Trigger.ON_CONSOLE_LOGIN:
        source = f" from {_shown(finding.source_ip)}" if finding.source_ip else ""
        intro.append(
            (
                f"This followed a console sign-in without MFA{source}. If that was not you, tell your security "
                "team now: someone may know your password.",
            )
        )
    closing: tuple[Para, ...] = (
        () if report else (("The restriction is lifted automatically within minutes of setting up the device.",),)
    )
    return _Words("stop", headline, subject, tuple(intro), closing=closing)


def _release(notice: Due, where: Account, now: datetime, report: bool) -> _Words:
    finding = notice.finding
    device = f" (device {_shown(finding.mfa_serial)})" if finding.mfa_serial else ""
    source = f" The device was enrolled from {_shown(finding.source_ip)}." if finding.source_ip else ""
    return _Words(
        "ok",
        "Your AWS access is restored",
        f"AWS user {notice.user}: MFA is set up and the restriction is lifted",
        (
            (
                f"An MFA device{device} is now active for your IAM user {notice.user} in AWS account {where.label}, "
                f"so the restriction is lifted since {iso(now)} (UTC). From now on, sign in with your password and "
                f"the device.{source}",
            ),
            (
                "If you did not set up this device yourself, tell your security team at once: someone who knows "
                "your password may have enrolled their own.",
            ),
        ),
        lists=False,
        steps=False,
    )


def _steps(user: str, where: Account) -> tuple[Para, ...]:
    return (
        (f"Sign in to the AWS console as {user}: ", Link(where.signin_url(), where.signin_url())),
        (
            "Open your security credentials: ",
            Link(messages.security_credentials_url(where.partition), "IAM console → Security credentials"),
        ),
        (f"Under Multi-factor authentication (MFA), choose Assign MFA device and pick {_DEVICES}.",),
        ("Sign out, then sign in again with the device.",),
    )


def _footer(where: Account) -> Para:
    host = messages.console_host(where.partition)
    return (
        f"Sent by mfa-enforcer for the administrators of AWS account {where.label}. Its links go to {host} "
        "and the account's AWS sign-in page only, and it never asks for your password.",
    )


def _deadline(notice: Due) -> str:
    return iso(notice.finding.deadline) if notice.finding.deadline else "the deadline"


def _left(remaining: timedelta) -> str:
    hours = max(0, round(remaining.total_seconds() / 3600))
    if hours >= 48:
        return f"about {round(hours / 24)} days"
    if hours >= 1:
        return f"about {hours} hour{'s' if hours != 1 else ''}"
    return "less than an hour"


def _shown(text: str) -> str:
    return _clip(text, SHOWN_CHARS)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------------------ e-mail


def email(notice: Due, where: Account, now: datetime, *, report: bool) -> Email:
    """The notice as an e-mail: subject, plain text and HTML (the adapter builds the MIME message)."""
    words = letter(notice, where, now, report=report)
    return Email(subject=words.subject, text=plain_text(words), html=html_page(words))


def plain_text(words: Letter) -> str:
    """The plain-text body: paragraphs, the facts, the two lists and numbered steps."""
    lines = [words.headline, "=" * len(words.headline), ""]
    for para in words.intro:
        lines += [_plain(para), ""]
    if words.blocked:
        lines += ["Blocked while restricted:", *(f"  - {item}" for item in words.blocked), ""]
        lines += ["Still works:", *(f"  - {item}" for item in words.works), ""]
    lines += [f"{label}: {value}" for label, value in words.facts] + [""]
    if words.steps:
        lines += ["How to set up MFA:"]
        lines += [f"  {n}. {_plain(step)}" for n, step in enumerate(words.steps, start=1)] + [""]
    for para in words.closing:
        lines += [_plain(para), ""]
    return "\n".join(lines).rstrip() + "\n"


def _plain(para: Para) -> str:
    return "".join(s if isinstance(s, str) else s.url if s.label == s.url else f"{s.label} ({s.url})" for s in para)


_TONE = {"warn": "#b45309", "stop": "#b91c1c", "ok": "#15803d"}


def html_page(words: Letter) -> str:
    """A self-contained HTML body: inline styles only, no images, no scripts, every text escaped."""
    colour = _TONE[words.tone]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_h(words.subject)}</title></head>",
        '<body style="margin:0;padding:24px;background:#f3f4f6;font-family:Arial,Helvetica,sans-serif;color:#111827">',
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">',
        '<table role="presentation" width="600" cellpadding="0" cellspacing="0" '
        'style="max-width:600px;background:#ffffff;border-radius:8px;overflow:hidden">',
        f'<tr><td style="background:{colour};color:#ffffff;padding:20px 24px;font-size:20px;font-weight:bold">'
        f"{_h(words.headline)}</td></tr>",
        '<tr><td style="padding:20px 24px;font-size:15px;line-height:1.5">',
    ]
    parts += [f'<p style="margin:0 0 12px">{_html(para)}</p>' for para in words.intro]
    if words.blocked:
        parts.append(_html_list("Blocked while restricted", words.blocked, "#b91c1c"))
        parts.append(_html_list("Still works", words.works, "#15803d"))
    rows = "".join(
        f'<tr><td style="padding:4px 12px 4px 0;color:#6b7280;white-space:nowrap">{_h(label)}</td>'
        f'<td style="padding:4px 0;font-family:Consolas,Menlo,monospace">{_h(value)}</td></tr>'
        for label, value in words.facts
    )
    parts.append(f'<table role="presentation" style="margin:8px 0 16px;font-size:14px">{rows}</table>')
    if words.steps:
        parts.append('<p style="margin:0 0 4px;font-weight:bold">How to set up MFA</p><ol style="margin:0 0 16px">')
        parts += [f'<li style="margin:0 0 6px">{_html(step)}</li>' for step in words.steps]
        parts.append("</ol>")
    for para in words.closing[:-1]:
        parts.append(f'<p style="margin:0 0 12px">{_html(para)}</p>')
    parts.append("</td></tr>")
    parts.append(
        '<tr><td style="padding:12px 24px 20px;font-size:12px;color:#6b7280;border-top:1px solid #e5e7eb">'
        f"{_html(words.closing[-1])}</td></tr>"
    )
    parts += ["</table></td></tr></table></body></html>"]
    return "\n".join(parts) + "\n"


def _html_list(title: str, items: Sequence[str], colour: str) -> str:
    entries = "".join(f'<li style="margin:0 0 4px">{_h(item)}</li>' for item in items)
    heading = f'<p style="margin:0 0 4px;font-weight:bold;color:{colour}">{_h(title)}</p>'
    return f'{heading}<ul style="margin:0 0 12px">{entries}</ul>'


def _html(para: Para) -> str:
    return "".join(
        _h(s) if isinstance(s, str) else f'<a href="{_h(s.url)}" style="color:#1d4ed8">{_h(s.label)}</a>' for s in para
    )


def _h(text: str) -> str:
    return html.escape(text, quote=True)


# ------------------------------------------------------------------------------------------- Slack


def slack(notice: Due, where: Account, now: datetime, *, report: bool) -> dict[str, Any]:
    """The notice as a Slack direct message (chat.postMessage arguments without the channel)."""
    words = letter(notice, where, now, report=report)
    emoji = {"warn": ":hourglass_flowing_sand:", "stop": ":lock:", "ok": ":unlock:"}[words.tone]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{emoji} {_prefix(report)}{words.headline}"[:150], "emoji": True},
        },
    ]
    blocks += [_section(_mrkdwn(para)) for para in words.intro]
    if words.blocked:
        blocks.append(
            _section("*Blocked while restricted*\n" + "\n".join(f"• {messages.escape(i)}" for i in words.blocked))
        )
        blocks.append(_section("*Still works*\n" + "\n".join(f"• {messages.escape(i)}" for i in words.works)))
    fields = [messages.mrkdwn(f"*{messages.escape(label)}*\n{messages.escape(value)}") for label, value in words.facts]
    blocks.append({"type": "section", "fields": fields[:10]})
    if words.steps:
        steps = "\n".join(f"{n}. {_mrkdwn(step)}" for n, step in enumerate(words.steps, start=1))
        blocks.append(_section(f"*How to set up MFA*\n{steps}"))
    blocks += [_section(_mrkdwn(para)) for para in words.closing[:-1]]
    blocks.append({"type": "context", "elements": [messages.mrkdwn(_mrkdwn(words.closing[-1]))]})
    return {
        "text": messages.escape(words.subject),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _prefix(report: bool) -> str:
    return "[report mode] " if report else ""


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": messages.mrkdwn(_clip(text, 3000))}


def _mrkdwn(para: Para) -> str:
    return "".join(messages.escape(s) if isinstance(s, str) else f"<{s.url}|{messages.escape(s.label)}>" for s in para)
