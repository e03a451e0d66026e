"""Which IAM roles are the bot itself: its own role and the roles of its sibling functions.

The three Lambda functions each run under a role of their own, so a change the scan made (its
release's DetachUserPolicy, its restore's CreatePolicyVersion) comes back to `on_iam_change`
signed by another role than the one `on_iam_change` runs as. "Was that me?" must therefore know
the siblings. They are derived from the bot's own role name, for both ways of deploying:

- `chalice deploy` (no autogen policy) names one role per function `<app>-<stage>-<function>`,
  e.g. `mfa-enforcer-prod-scheduled_scan`; with an autogen policy all functions share
  `<app>-<stage>`, so the own role is the only one;
- the packaged template (`chalice package`) leaves the names to CloudFormation, which writes
  `<stack>-<LogicalId>-<suffix>`: logical ids `ScheduledScanRole`, `OnConsoleLoginRole` and
  `OnIamChangeRole`, a random suffix of 12 or 13 upper-case letters and digits, and, when the
  whole would pass IAM's 64 characters, the logical id (and then the stack name) cut short.
  The suffix is random, so a sibling is recognised by shape: the same stack part, a logical
  part that is one of the three ids (or the start of one, in a name long enough to have been
  cut), and a suffix-shaped tail.

`MFA_ENFORCER_BOT_ROLE_NAMES` (config) names the roles outright and then replaces the derivation;
the packaged template sets it to the three roles it creates, so there the match is exact. Role
names are compared case-insensitively, as IAM keeps them unique regardless of case. Whose
account the role is in is the caller's check (decide.is_own_change): names are per account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

FUNCTIONS = ("scheduled_scan", "on_console_login", "on_iam_change")
LOGICAL_IDS = ("ScheduledScanRole", "OnConsoleLoginRole", "OnIamChangeRole")
MAX_ROLE_NAME = 64
# A name this long may have had its logical id cut by CloudFormation (observed: names of 63 and 64).
CUT_FROM = 60
_SUFFIX = re.compile(r"^[A-Z0-9]{12,13}$")


@dataclass(frozen=True)
class _Packaged:
    """A name of the packaged template's shape, split: `<stack>-<logical>-<suffix>`."""

    stack: str
    logical: str
    cut: bool  # the name is long enough that CloudFormation may have shortened it


@dataclass(frozen=True)
class BotRoles:
    """The roles that count as the bot, as a predicate over role names."""

    names: frozenset[str]  # exact names (case-folded)
    packaged: _Packaged | None = None  # the own role's shape, when it is a packaged-template name

    def covers(self, role_name: str | None) -> bool:
        """True when `role_name` is one of the bot's roles (same account assumed; see the module docstring)."""
        if not role_name:
            return False
        if role_name.casefold() in self.names:
            return True
        if self.packaged is None:
            return False
        other = _packaged_parts(role_name)
        return other is not None and _same_stack(self.packaged, other)


def bot_roles(own_role: str, explicit: Iterable[str] = ()) -> BotRoles:
    """The bot's roles, from its own role name (and the explicit list, which replaces the derivation)."""
    own = own_role.casefold()
    named = frozenset(name.casefold() for name in explicit if name)
    if named:
        return BotRoles(named | {own})
    for function in FUNCTIONS:
        if own.endswith(f"-{function}") and len(own) > len(function) + 1:
            base = own[: -len(function) - 1]
            return BotRoles(frozenset(f"{base}-{sibling}" for sibling in FUNCTIONS) | {own})
    packaged = _packaged_parts(own_role)
    return BotRoles(frozenset({own}), packaged)


def _packaged_parts(name: str) -> _Packaged | None:
    """Split a CloudFormation-generated role name; None when it is not of that shape."""
    if len(name) > MAX_ROLE_NAME:
        return None
    head, dash, suffix = name.rpartition("-")
    if not dash or not _SUFFIX.match(suffix):
        return None
    stack, dash, logical = head.rpartition("-")
    if not dash or not stack or not logical:
        return None
    cut = len(name) >= CUT_FROM
    folded = logical.casefold()
    ids = [logical_id.casefold() for logical_id in LOGICAL_IDS]
    if folded in ids or (cut and any(logical_id.startswith(folded) for logical_id in ids)):
        return _Packaged(stack.casefold(), folded, cut)
    return None


def _same_stack(own: _Packaged, other: _Packaged) -> bool:
    """The same stack part; where a name was long enough to be cut, one stack part may be the start of the other."""
    if own.stack == other.stack:
        return True
    if not (own.cut or other.cut):
        return False
    shorter, longer = sorted((own.stack, other.stack), key=len)
    return longer.startswith(shorter)
