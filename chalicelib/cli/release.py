"""`release USER`: undo a quarantine by hand, the way the bot would (tags first, then the policy or group).

For the case the bot cannot see yet: a user who enrolled MFA on a device the credential report
does not show, or an emergency. The live state is read first, so the prompt says exactly what will
change, and a user who is not quarantined is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.iam_gateway import IamGateway
from chalicelib.cli import terminal
from chalicelib.cli.errors import CliError, Exit
from chalicelib.core.config import Settings
from chalicelib.core.model import QUARANTINE_GROUP, QUARANTINE_TAG_KEYS, QUARANTINED_AT_TAG


@dataclass(frozen=True)
class QuarantineState:
    """How one user is quarantined right now."""

    direct: bool
    via_group: bool
    tags: dict[str, str]
    mfa: bool

    @property
    def quarantined(self) -> bool:
        """Anything the bot would undo on release."""
        return self.direct or self.via_group or bool(self.tags)

    def steps(self, policy_arn: str) -> list[str]:
        """What release will do, in order, for the prompt."""
        steps = []
        if self.tags:
            steps.append(f"remove tags {', '.join(sorted(self.tags))}")
        if self.direct:
            steps.append(f"detach {policy_arn}")
        if self.via_group:
            steps.append(f"remove from group {QUARANTINE_GROUP}")
        return steps


def read_state(iam: Any, user: str, policy_arn: str) -> QuarantineState:
    """Attachments, group membership, the bot's tags and MFA devices of one user (all paginated)."""
    try:
        iam.get_user(UserName=user)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
            raise CliError(f"no IAM user named {user!r} in this account") from None
        raise
    attached = {
        p["PolicyArn"]
        for page in iam.get_paginator("list_attached_user_policies").paginate(UserName=user)
        for p in page["AttachedPolicies"]
    }
    groups = {
        g["GroupName"]
        for page in iam.get_paginator("list_groups_for_user").paginate(UserName=user)
        for g in page["Groups"]
    }
    tags = {
        t["Key"]: t["Value"]
        for page in iam.get_paginator("list_user_tags").paginate(UserName=user)
        for t in page["Tags"]
        if t["Key"] in QUARANTINE_TAG_KEYS
    }
    mfa = bool(iam.list_mfa_devices(UserName=user)["MFADevices"])
    return QuarantineState(direct=policy_arn in attached, via_group=QUARANTINE_GROUP in groups, tags=tags, mfa=mfa)


def run(iam: Any, settings: Settings, user: str, *, yes: bool) -> int:
    """Confirm, then release through the bot's own gateway (same order, same idempotence)."""
    policy_arn = settings.quarantine_policy_arn
    if policy_arn is None:
        raise CliError(
            "release needs the quarantine policy ARN: --quarantine-policy-arn or MFA_ENFORCER_QUARANTINE_POLICY_ARN"
        )
    state = read_state(iam, user, policy_arn)
    if not state.quarantined:
        terminal.note(f"{user} is not quarantined (no policy, group or tag of the bot): nothing to do.")
        return Exit.OK
    since = state.tags.get(QUARANTINED_AT_TAG, "unknown")
    terminal.note(f"{user}: quarantined since {since}. Release will {'; '.join(state.steps(policy_arn))}.")
    if not state.mfa:
        terminal.note(f"warning: {user} has no MFA device; unless exempted, the next scan quarantines them again.")
    terminal.confirm(f"Release {user}?", assume_yes=yes)
    gateway = IamGateway(iam, policy_arn)
    if state.direct or not state.via_group:
        gateway.release(user, via_group=False)
    if state.via_group:
        gateway.release(user, via_group=True)
    terminal.note(f"released {user}.")
    return Exit.OK
