"""Who the owner of an IAM user is, read from text the account controls, and checked strictly.

The contact is a tag on the IAM user (`MFA_ENFORCER_OWNER_TAG`, default `email`) holding an e-mail
address or a Slack member id (`U…`/`W…`); failing that, the user name when it is an e-mail address.
Anyone who may tag the user can write that tag, so its value is attacker-controlled text that
ends up in an e-mail header and a Slack API call. Only a plain address or a member id in a
conservative character set is accepted, matched as a whole string: no display name, no second
address, no comment, no quoting, no whitespace or control character (so a CR/LF can never start a
new mail header). Anything else is no contact at all.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_ADDRESS = 254  # RFC 5321 forward path
MAX_LOCAL_PART = 64
_LOCAL = r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"(?P<local>{_LOCAL})@(?P<domain>(?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SLACK_MEMBER = re.compile(r"[UW][A-Z0-9]{6,20}")


class Kind(enum.StrEnum):
    """What a contact value is."""

    EMAIL = "email"
    SLACK = "slack"


@dataclass(frozen=True)
class Contact:
    """A checked way to reach the person behind an IAM user; `source` says where it was read."""

    kind: Kind
    value: str
    source: str

    @property
    def email(self) -> str | None:
        """The address, when the contact is one (Slack can also look a member up by it)."""
        return self.value if self.kind is Kind.EMAIL else None


def is_email(text: str) -> bool:
    """A plain e-mail address (`local@domain.tld`), ASCII, whole string, within SMTP's lengths."""
    match = _ADDRESS.fullmatch(text)
    return match is not None and len(text) <= MAX_ADDRESS and len(match["local"]) <= MAX_LOCAL_PART


def is_slack_member(text: str) -> bool:
    """A Slack member id: `U` (or `W`, Enterprise Grid) and upper-case letters and digits."""
    return _SLACK_MEMBER.fullmatch(text) is not None


def parse(text: str, source: str) -> Contact | None:
    """The contact a value names, or None; surrounding spaces (which IAM tag values may carry) are ignored."""
    value = text.strip(" ")
    if is_email(value):
        return Contact(Kind.EMAIL, value, source)
    if is_slack_member(value):
        return Contact(Kind.SLACK, value, source)
    return None


def tag_value(tags: Mapping[str, str], key: str) -> str | None:
    """A tag's value by key, case-insensitively: IAM refuses two keys on one user that differ only in case."""
    wanted = key.casefold()
    return next((value for name, value in tags.items() if name.casefold() == wanted), None)


def of_user(user: str, tags: Mapping[str, str], owner_tag: str) -> Contact | None:
    """The owner's contact: the owner tag when it holds a valid contact, else the user name when it is an address.

    A tag that holds something else does not hide a user name that is an address: the tag can be
    written by anyone allowed to tag the user, the user name only by whoever may create users.
    """
    tagged = tag_value(tags, owner_tag)
    if tagged is not None:
        found = parse(tagged, f"tag {owner_tag}")
        if found is not None:
            return found
    return Contact(Kind.EMAIL, user, "user name") if is_email(user) else None


def why_none(user: str, tags: Mapping[str, str], owner_tag: str) -> str:
    """Why a user has no contact, in words an operator can act on (the tag's value is not repeated)."""
    tagged = tag_value(tags, owner_tag)
    where = (
        f"the tag {owner_tag} holds neither an e-mail address nor a Slack member id"
        if tagged is not None
        else f"no tag {owner_tag}"
    )
    return f"{where}, and the user name {user!r} is not an e-mail address"
