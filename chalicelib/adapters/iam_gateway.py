"""IAM adapter: the credential report, who is quarantined, and the quarantine writes.

Thin on purpose: every method is one or two IAM calls, returns plain data and decides nothing.
Writes are ordered so that a failure half-way leaves a state the next scan repairs: the tags go
on before the policy (the attachment is the state of record), and come off before it.

Two paths (the hourly scan and a real-time event) may act on the same user at the same moment, and
IAM has no conditional write — except through the caller's own permissions. The execution role may
tag a user with `quarantined-at` only while the user does not carry it yet (a `Null` condition on
`aws:ResourceTag`), so that TagUser is a claim only one writer wins; the loser is told who holds it
(`Contained.held_since`) and completes the containment without claiming the transition. A release is
claimed by the detach itself: only one DetachUserPolicy (or RemoveUserFromGroup) of an attached
policy succeeds, the next answers NoSuchEntity. Neither costs a call on the path that wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib import observability
from chalicelib.adapters.aws_errors import error_text
from chalicelib.core.model import (
    GRACE_DEADLINE_TAG,
    NOTIFIED_TAG,
    QUARANTINE_GROUP,
    QUARANTINE_TAG_KEYS,
    QUARANTINED_AT_TAG,
    REASON_TAG,
    SIGN_IN_IP_TAG,
    iso,
)

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
else:
    IAMClient = Any

ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
REPORT_WAIT_CODES = frozenset({"ReportInProgress", "ReportNotPresent", "ReportExpired", "LimitExceeded"})
REASON_TAG_VALUE = "console-password-without-mfa"


class ReportUnavailableError(RuntimeError):
    """The credential report did not become available within the bounded wait."""


class GroupNotFoundError(LookupError):
    """An exemption names a group that does not exist."""


class UserNotFoundError(LookupError):
    """The user was deleted between the report and the write."""


@dataclass(frozen=True)
class Contained:
    """How a quarantine was put in place, and whether this call claimed it.

    `held_since` is None when this call wrote the bot's tags (or was told not to write them);
    otherwise the role's condition refused TagUser because the user already carried
    `quarantined-at`, and this is that tag's value: whoever wrote it owns the transition, unless
    the caller judges it a leftover of an attempt that never completed (decide.claim_held_by_other).
    """

    how: str  # "policy" or "group"
    held_since: str | None = None

    @property
    def claimed(self) -> bool:
        """This call put the bot's tags on the user (or the caller asked for no tags)."""
        return self.held_since is None


@dataclass(frozen=True)
class CredentialReportBody:
    """The raw report and when AWS generated it (it can be up to four hours old)."""

    content: bytes
    generated: datetime | None


@dataclass(frozen=True)
class QuarantineSnapshot:
    """Who holds the quarantine policy now, directly or through the fallback group.

    `group_attached` says whether the group `mfa-enforcer-quarantine` still holds the policy (the
    integrity check reads it from here, for free); `policy_exists` is False when IAM has no such
    policy at all (then nobody holds it).
    """

    direct: frozenset[str]
    via_group: frozenset[str]
    group_attached: bool = True
    policy_exists: bool = True

    @property
    def users(self) -> frozenset[str]:
        """Everyone quarantined, whichever way."""
        return self.direct | self.via_group


class IamGateway:
    """All IAM calls the bot makes. PERMISSIONS lists them for the least-privilege role test."""

    PERMISSIONS = (
        "iam:GenerateCredentialReport",
        "iam:GetCredentialReport",
        "iam:ListEntitiesForPolicy",
        "iam:GetAccountSummary",
        "iam:GetGroup",
        "iam:ListGroups",
        "iam:ListMFADevices",
        "iam:TagUser",
        "iam:UntagUser",
        "iam:AttachUserPolicy",
        "iam:DetachUserPolicy",
        "iam:AddUserToGroup",
        "iam:RemoveUserFromGroup",
        # real-time paths (on_console_login, on_iam_change): per-user reads instead of the report
        "iam:GetUser",
        "iam:GetLoginProfile",
        "iam:ListGroupsForUser",
        # owner notices: the account alias for the message (one call, only in a run that sends one)
        "iam:ListAccountAliases",
        "iam:ListAttachedUserPolicies",
    )

    def __init__(
        self,
        client: IAMClient,
        quarantine_policy_arn: str | None,
        *,
        report_timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._iam = client
        self._policy_arn = quarantine_policy_arn
        self._report_timeout = report_timeout
        self._sleep = sleep
        self._monotonic = monotonic

    def credential_report(self) -> CredentialReportBody:
        """Generate (if needed) and download the report, waiting with capped backoff, bounded in time."""
        deadline = self._monotonic() + self._report_timeout
        delay = 0.5
        self._iam.generate_credential_report()
        while True:
            try:
                answer = self._iam.get_credential_report()
                return CredentialReportBody(content=answer["Content"], generated=answer.get("GeneratedTime"))
            except ClientError as exc:
                code = _code(exc)
                if code not in REPORT_WAIT_CODES:
                    raise
                if self._monotonic() + delay > deadline:
                    raise ReportUnavailableError(
                        f"credential report not available after {self._report_timeout:g}s (last answer: {code})"
                    ) from None
                if code in ("ReportNotPresent", "ReportExpired"):
                    self._iam.generate_credential_report()
            self._sleep(delay)
            delay = min(delay * 2, 8.0)

    def quarantined(self) -> QuarantineSnapshot:
        """One paginated ListEntitiesForPolicy, plus the fallback group's members when it holds the policy."""
        if self._policy_arn is None:
            return QuarantineSnapshot(frozenset(), frozenset())
        users: set[str] = set()
        groups: set[str] = set()
        try:
            for page in self._iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=self._policy_arn):
                users.update(u["UserName"] for u in page.get("PolicyUsers", []))
                groups.update(g["GroupName"] for g in page.get("PolicyGroups", []))
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            return QuarantineSnapshot(frozenset(), frozenset(), group_attached=False, policy_exists=False)
        attached = QUARANTINE_GROUP.casefold() in {g.casefold() for g in groups}
        via_group = self.group_members(QUARANTINE_GROUP) if attached else frozenset()
        return QuarantineSnapshot(direct=frozenset(users), via_group=via_group, group_attached=attached)

    def account_summary(self) -> dict[str, int]:
        """GetAccountSummary's SummaryMap: once per scan, for what root holds right now (core/root.py)."""
        return {str(key): value for key, value in self._iam.get_account_summary()["SummaryMap"].items()}

    def group_members(self, group: str) -> frozenset[str]:
        """Members of one group (GetGroup, paginated)."""
        missing = GroupNotFoundError(f"group {group!r} does not exist")
        return self._names("get_group", "Users", "UserName", missing, GroupName=group)

    def group_names(self) -> frozenset[str]:
        """Every group name in the account (ListGroups, paginated): how a name written in another case is found."""
        return self._names("list_groups", "Groups", "GroupName", LookupError("ListGroups answered NoSuchEntity"))

    def has_mfa_device(self, user: str) -> bool:
        """Live check before a quarantine or a release for MFA: the report may be hours old."""
        try:
            return bool(self._iam.list_mfa_devices(UserName=user, MaxItems=1)["MFADevices"])
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                raise UserNotFoundError(f"user {user!r} no longer exists") from None
            raise

    def quarantine(self, user: str, now: datetime, *, sign_in_ip: str | None = None) -> Contained:
        """Tag (the claim), then attach the policy; at the managed-policy quota, join the quarantine group.

        `sign_in_ip` (a quarantine caused by a sign-in) is recorded with the claim, in the same TagUser.
        """
        return self._contain(user, tag_at=now, via_group=False, sign_in_ip=sign_in_ip)

    def quarantine_in_place(self, user: str) -> bool:
        """Whether the quarantine the bot's tag claims is really there: the policy attached, or the group joined.

        ListAttachedUserPolicies (paginated), then ListGroupsForUser only when the policy is not attached.
        """
        arn = self._require_policy()
        try:
            for page in self._iam.get_paginator("list_attached_user_policies").paginate(UserName=user):
                if any(p["PolicyArn"] == arn for p in page["AttachedPolicies"]):
                    return True
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                raise UserNotFoundError(f"user {user!r} no longer exists") from None
            raise
        return QUARANTINE_GROUP in self.groups_of(user)

    def release(self, user: str, *, via_group: bool) -> bool:
        """Remove the tags, then the policy or group membership.

        Returns False when the policy or membership was already gone (NoSuchEntity): someone else
        released the user since the caller looked, and that release was theirs to report.
        """
        arn = self._require_policy()
        self._iam.untag_user(UserName=user, TagKeys=list(QUARANTINE_TAG_KEYS))
        try:
            if via_group:
                self._iam.remove_user_from_group(GroupName=QUARANTINE_GROUP, UserName=user)
            else:
                self._iam.detach_user_policy(UserName=user, PolicyArn=arn)
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            return False
        return True

    def _require_policy(self) -> str:
        if self._policy_arn is None:
            raise RuntimeError("no quarantine policy ARN configured")
        return self._policy_arn

    # --- Per-user reads and the restore write of the real-time paths ---------------------------

    def user_record(self, user: str) -> UserRecord:
        """GetUser: the ARN (with path), the creation time and the bot's quarantine tag, in one call.

        The tag is the bot's own record of a quarantine it made (written before the policy, removed
        before it), so the real-time paths learn "already quarantined, since when" without a
        second read, and never overwrite `quarantined-at` or alert twice.
        """
        try:
            answer = self._iam.get_user(UserName=user)["User"]
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                raise UserNotFoundError(f"user {user!r} no longer exists") from None
            raise
        tags = {t["Key"]: t["Value"] for t in answer.get("Tags", [])}
        return UserRecord(
            user=answer["UserName"],
            arn=answer["Arn"],
            created=_utc(answer["CreateDate"]),
            quarantine_tag=tags.get(QUARANTINED_AT_TAG),
            tags=tags,
        )

    def record_grace(self, user: str, deadline: datetime) -> bool:
        """TagUser `grace-deadline` (once: the role may write it only while the user has none).

        False when the role's condition refused it, because the user already carries a deadline
        (recorded earlier, or set by hand): the one already there stands.
        """
        try:
            self._iam.tag_user(UserName=user, Tags=[{"Key": GRACE_DEADLINE_TAG, "Value": iso(deadline)}])
        except ClientError as exc:
            if _code(exc) in ACCESS_DENIED_CODES and self.user_record(user).grace_tag is not None:
                return False
            if _code(exc) == "NoSuchEntity":
                raise UserNotFoundError(f"user {user!r} no longer exists") from None
            raise
        return True

    def login_profile_created(self, user: str) -> datetime | None:
        """GetLoginProfile: when the user's console password was first created; None without one.

        AWS documents CreateDate as the initial password creation, also when a password is added
        to an older API-only user, so it is where the grace clock of CreateLoginProfile starts.
        """
        try:
            return _utc(self._iam.get_login_profile(UserName=user)["LoginProfile"]["CreateDate"])
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                return None
            raise

    def groups_of(self, user: str) -> frozenset[str]:
        """ListGroupsForUser (paginated): one call per user, whatever the number of exempt groups."""
        missing = UserNotFoundError(f"user {user!r} no longer exists")
        return self._names("list_groups_for_user", "Groups", "GroupName", missing, UserName=user)

    def _names(self, operation: str, items: str, name: str, missing: LookupError, **params: str) -> frozenset[str]:
        """Every page of a paginated listing, reduced to names; NoSuchEntity becomes `missing`."""
        found: set[str] = set()
        try:
            for page in self._iam.get_paginator(operation).paginate(**params):  # type: ignore[call-overload]
                found.update(item[name] for item in page[items])
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                raise missing from None
            raise
        return frozenset(found)

    def reattach(self, user: str, *, via_group: bool, tag_at: datetime | None) -> Contained:
        """Restore a quarantine someone removed: back into the group, or the policy (group at the quota).

        Tags are written only when the bot's record is missing (`tag_at`), so an existing
        `quarantined-at` keeps the original instant.
        """
        return self._contain(user, tag_at=tag_at, via_group=via_group)

    # --- Owner notices ---------------------------------------------------------------------------

    def account_alias(self) -> str | None:
        """ListAccountAliases: the account's alias (an account has at most one), or None."""
        aliases = self._iam.list_account_aliases().get("AccountAliases", [])
        return str(aliases[0]) if aliases else None

    def record_notices(self, user: str, value: str) -> None:
        """TagUser of `mfa-enforcer:notified` alone: the role may write no other key this way."""
        try:
            self._iam.tag_user(UserName=user, Tags=[{"Key": NOTIFIED_TAG, "Value": value}])
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                raise UserNotFoundError(f"user {user!r} no longer exists") from None
            raise

    def _contain(
        self, user: str, *, tag_at: datetime | None, via_group: bool, sign_in_ip: str | None = None
    ) -> Contained:
        """Tags first (when given: the claim), then the policy, or the group when asked or at the quota.

        A containment whose policy and group both fail takes its own tags back off (best effort), so
        no tag is left claiming a quarantine that is not in place: the real-time paths read the tag
        as "already quarantined".
        """
        arn = self._require_policy()
        held_since = self._claim(user, tag_at, sign_in_ip) if tag_at is not None else None
        try:
            return Contained(self._attach(user, arn, via_group=via_group), held_since)
        except ClientError:
            if tag_at is not None and held_since is None:
                self._unclaim(user)
            raise

    def _claim(self, user: str, at: datetime, sign_in_ip: str | None = None) -> str | None:
        """TagUser with the bot's tags; None when this call wrote them, else the value already there.

        An AccessDenied means the role's condition saw `quarantined-at` on the user, or that the role
        lacks the permission altogether; one GetUser tells the two apart, and only on this path.
        """
        try:
            tags = [{"Key": QUARANTINED_AT_TAG, "Value": iso(at)}, {"Key": REASON_TAG, "Value": REASON_TAG_VALUE}]
            if sign_in_ip is not None:
                tags.append({"Key": SIGN_IN_IP_TAG, "Value": sign_in_ip})
            self._iam.tag_user(UserName=user, Tags=tags)  # type: ignore[arg-type]
            return None
        except ClientError as exc:
            if _code(exc) not in ACCESS_DENIED_CODES:
                raise
            held = self.user_record(user).quarantine_tag
            if held is None:
                raise
            return held

    def _attach(self, user: str, arn: str, *, via_group: bool) -> str:
        if not via_group:
            try:
                self._iam.attach_user_policy(UserName=user, PolicyArn=arn)
                return "policy"
            except ClientError as exc:
                if _code(exc) != "LimitExceeded":
                    raise
        self._iam.add_user_to_group(GroupName=QUARANTINE_GROUP, UserName=user)
        return "group"

    def _unclaim(self, user: str) -> None:
        try:
            self._iam.untag_user(UserName=user, TagKeys=list(QUARANTINE_TAG_KEYS))
        except ClientError as exc:  # the next scan adopts a leftover tag (decide.claim_held_by_other)
            observability.logger.warning(
                "could not take back the quarantine tags", extra={"user": user, "error": error_text(exc)}
            )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class UserRecord:
    """What GetUser says about one user; `quarantine_tag` is the raw `quarantined-at` value, if any."""

    user: str
    arn: str
    created: datetime
    quarantine_tag: str | None
    tags: dict[str, str] = field(default_factory=dict)  # every tag (the owner's contact, the notice record)

    @property
    def quarantined(self) -> bool:
        """The bot's tag is on the user (its value is not trusted further: any value counts)."""
        return self.quarantine_tag is not None

    @property
    def grace_tag(self) -> str | None:
        """The recorded grace deadline (`grace-deadline`), raw: grace.deadline judges it."""
        return self.tags.get(GRACE_DEADLINE_TAG)

    @property
    def sign_in_ip(self) -> str | None:
        """The source IP of the sign-in without MFA that caused the quarantine (`sign-in-ip`), if one did."""
        return self.tags.get(SIGN_IN_IP_TAG)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
