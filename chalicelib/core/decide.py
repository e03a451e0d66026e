"""What happens to a user without MFA: the decision table of design.md, as pure functions.

Nothing here talks to AWS or reads a clock. The shell gathers facts (report rows, exemptions,
who is quarantined now, the time), these functions return a Plan, and the shell carries it out.

The table, for one user at time `now`:

| user state                              | exempt? | in grace? | action                  | finding            |
| console password, no MFA                | yes     | -         | none                    | exempt (+expiring) |
| console password, no MFA                | no      | yes       | none                    | pending + deadline |
| console password, no MFA                | no      | no        | quarantine + tags       | quarantined        |
| MFA active (or now exempt), quarantined | -       | -         | release                 | released           |
| no console password, access key, no MFA | -       | -         | none                    | api-user-without-mfa |
| root without MFA / with access keys     | -       | -         | none (never a target)   | root-*, critical   |
| root: no password, keys or certificates | -       | -         | none                    | root-credentials-absent |

Grace ends at a deadline fixed once (grace.py): the user's creation time plus the grace period,
or a later deadline the bot recorded when someone else gave an older user a console password.
A user who is already quarantined and still lacks MFA stays quarantined (`still-quarantined`,
no alert): only MFA or an exemption releases a user.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.core import events, grace, own_roles, text
from chalicelib.core import exemptions as exemptions_module
from chalicelib.core import root as root_account
from chalicelib.core.credential_report import CredentialReport, RowError
from chalicelib.core.exemptions import EXPIRING_WINDOW, Exemptions, Version
from chalicelib.core.model import (
    QUARANTINE_GROUP,
    ROOT_USER,
    Action,
    Finding,
    FindingType,
    Mode,
    Plan,
    ReportRow,
    Severity,
    Trigger,
    Write,
    iso,
    user_path,
)

SCAN_INTERVAL = timedelta(hours=1)
MFA_RELEASE = "MFA device enrolled"
MAX_EVENT_TEXT = 256  # longest event text (user agent, IP, serial) a finding carries


@dataclass(frozen=True)
class Policy:
    """The knobs of the decision that come from deployment settings."""

    mode: Mode
    grace: timedelta
    interval: timedelta = SCAN_INTERVAL


@dataclass(frozen=True)
class UserFacts:
    """What the decision needs to know about one IAM user, from the report or from live calls.

    `created` is the user's IAM creation time, where grace starts (grace.py). `grace_tag` and
    `profile_created` are read only when the deadline depends on them (a recorded deadline, and
    the console password's age that bounds it); `password_set` is the report's
    `password_last_changed`, which says, without a call, whether a recorded deadline could matter.
    """

    user: str
    arn: str
    console: bool
    mfa: bool
    access_key: bool
    created: datetime | None
    quarantined: bool
    groups: frozenset[str] = frozenset()
    password_set: datetime | None = None
    grace_tag: str | None = None
    profile_created: datetime | None = None

    @classmethod
    def from_row(
        cls, row: ReportRow, *, quarantined: bool, groups: Iterable[str] = (), record: GraceRecord | None = None
    ) -> UserFacts:
        """A report row, with the user's grace record when the shell read it."""
        return cls(
            user=row.user,
            arn=row.arn,
            console=row.password_enabled,
            mfa=row.mfa_active,
            access_key=row.access_key_active,
            created=row.created,
            quarantined=quarantined,
            groups=frozenset(groups),
            password_set=row.password_last_changed,
            grace_tag=record.tag if record is not None else None,
            profile_created=record.profile_created if record is not None else None,
        )

    @property
    def path(self) -> str:
        """IAM path from the ARN, for `path` exemptions."""
        return user_path(self.arn)


@dataclass(frozen=True)
class GraceRecord:
    """What the scan reads for a user whose deadline depends on it: the recorded deadline and the password's age."""

    tag: str | None
    profile_created: datetime | None


def deadline_of(facts: UserFacts, policy: Policy) -> grace.Deadline | None:
    """The user's grace deadline (grace.deadline); None when the creation time is unknown."""
    if facts.created is None:
        return None
    return grace.deadline(facts.created, policy.grace, facts.grace_tag, facts.profile_created)


def daily_due(now: datetime, interval: timedelta = SCAN_INTERVAL) -> bool:
    """True for the one scheduled run per UTC day that repeats standing problems (root, bad rows)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return now - midnight < interval


def evaluate(
    facts: UserFacts,
    exemptions: Exemptions | None,
    now: datetime,
    policy: Policy,
    trigger: Trigger,
    earlier: Exemptions | None = None,
) -> tuple[tuple[Finding, ...], Write | None]:
    """Apply the decision table to one user.

    `exemptions=None` means the document could not be read or was invalid: fail safe, so nobody
    is quarantined (the caller reports the config error) while MFA-based releases still happen.
    `earlier` is the document that was in force one scan interval ago, when it was a different one
    (None when the document did not change): the scan announces who became exempt (`exempted`).
    """
    make = _Maker(facts, now, trigger)
    exempt = exemptions.match(facts.user, facts.path, facts.groups, now) if exemptions is not None else None

    if facts.quarantined:
        if facts.mfa:
            return _release(make, policy, MFA_RELEASE, live_proof=exempt is None)
        if exempt is not None:
            return _release(make, policy, f"exempted by {exempt.describe()}: {exempt.reason}")
        return (make(FindingType.STILL_QUARANTINED, Action.NONE, "still without MFA", transition=False),), None

    if facts.mfa:
        return (), None
    if not facts.console:
        if facts.access_key:
            reason = "access keys but no MFA; API calls are not protected by MFA"
            return (make(FindingType.API_USER_WITHOUT_MFA, Action.NONE, reason, transition=False),), None
        return (), None

    if exempt is not None and exemptions is not None:
        if trigger is Trigger.SCHEDULED_SCAN and became_exempt(facts, earlier, now, policy):
            found = [exempted(facts, exemptions, now, trigger)]
        else:
            why = f"exempted by {exempt.describe()}: {exempt.reason}"
            found = [make(FindingType.EXEMPT, Action.NONE, why, transition=False, expires=exempt.expires)]
        if exempt.expiring(now) and exempt.expires is not None:
            warning_starts = exempt.expires - EXPIRING_WINDOW
            entered = trigger is Trigger.SCHEDULED_SCAN and now - policy.interval < warning_starts <= now
            reason = f"exemption ({exempt.describe()}) ends {iso(exempt.expires)}"
            found.append(
                make(FindingType.EXEMPTION_EXPIRING, Action.NONE, reason, transition=entered, expires=exempt.expires)
            )
        return tuple(found), None

    if exemptions is None:
        return (), None

    due = deadline_of(facts, policy)
    deadline = due.at if due is not None else now
    note = f" ({due.note})" if due is not None and due.note else ""
    if now < deadline:
        started = deadline - policy.grace
        new = trigger is not Trigger.SCHEDULED_SCAN or started > now - policy.interval
        reason = f"console access without MFA; grace ends {iso(deadline)}{note}"
        return (make(FindingType.PENDING, Action.NONE, reason, transition=new, deadline=deadline),), None

    action = Action.QUARANTINE if policy.mode is Mode.ENFORCE else Action.WOULD_QUARANTINE
    reason = f"console password without MFA; grace ended {iso(deadline)}{note}"
    finding = make(FindingType.QUARANTINED, action, reason, transition=True, deadline=deadline)
    return (finding,), Write(action=action, user=facts.user, reason=reason, finding=finding)


def records_needed(
    report: CredentialReport,
    exemptions: Exemptions | None,
    group_members: Mapping[str, frozenset[str]],
    quarantined: frozenset[str],
    now: datetime,
    policy: Policy,
) -> tuple[str, ...]:
    """The users whose grace record (recorded deadline, password age) the scan must read before deciding.

    Only console users without MFA who are neither quarantined nor exempt can be pending or
    quarantined, and of those only the ones a recorded deadline could concern (grace.may_extend:
    a password set well after the user): in steady state, nobody, so the scan's call count does
    not grow with the number of users.
    """
    if exemptions is None:
        return ()
    groups_of = _groups_of(group_members)
    wanted = []
    for row in report.users:
        if not row.password_enabled or row.mfa_active or row.user in quarantined or row.created is None:
            continue
        if exemptions.match(row.user, row.path, groups_of.get(row.user, ()), now) is not None:
            continue
        if grace.may_extend(row.created, row.password_last_changed):
            wanted.append(row.user)
    return tuple(wanted)


def _groups_of(group_members: Mapping[str, frozenset[str]]) -> dict[str, set[str]]:
    groups_of: dict[str, set[str]] = {}
    for group, members in group_members.items():
        for member in members:
            groups_of.setdefault(member, set()).add(group)
    return groups_of


def scan(
    report: CredentialReport,
    exemptions: Exemptions | None,
    group_members: Mapping[str, frozenset[str]],
    quarantined: frozenset[str],
    now: datetime,
    policy: Policy,
    records: Mapping[str, GraceRecord] | None = None,
    unreadable: frozenset[str] = frozenset(),
    earlier: Exemptions | None = None,
    *,
    root_summary: root_account.Summary | None = None,
) -> Plan:
    """Decide for a whole credential report: findings for every row, writes for those that change.

    `records` holds the grace records the shell read for the users `records_needed` named;
    `unreadable` users (their record could not be read) are left for the next run. `earlier` is the
    document in force one interval ago when it was another one (see evaluate). `root_summary` is
    what GetAccountSummary said about root this run (see core/root.py).
    """
    groups_of = _groups_of(group_members)
    findings: list[Finding] = []
    candidates: list[Write] = []
    daily = daily_due(now, policy.interval)
    for row in report.rows:
        if row.is_root:
            findings.extend(root(row, now, Trigger.SCHEDULED_SCAN, transition=daily, summary=root_summary))
            continue
        if row.user in unreadable:
            continue
        record = records.get(row.user) if records is not None else None
        facts = UserFacts.from_row(
            row, quarantined=row.user in quarantined, groups=groups_of.get(row.user, ()), record=record
        )
        found, write = evaluate(facts, exemptions, now, policy, Trigger.SCHEDULED_SCAN, earlier)
        findings.extend(found)
        if write is not None:
            candidates.append(write)
    findings.extend(_row_errors(report.errors, now, transition=daily))
    if exemptions is not None:
        findings.extend(_expired(exemptions, now, policy))
    return Plan(findings=tuple(findings), candidates=tuple(candidates))


def root(
    row: ReportRow,
    now: datetime,
    trigger: Trigger,
    *,
    transition: bool,
    summary: root_account.Summary | None = None,
) -> tuple[Finding, ...]:
    """Root is reported, never a write target: it cannot be quarantined by an IAM policy.

    A root with no password, no access keys and no signing certificates (a centrally managed
    root) is `root-credentials-absent`: information, never a transition, so never an alert. A
    root that has (or cannot be shown not to have) a password and no MFA is `root-without-mfa`;
    access keys are `root-access-keys`. Which source is believed is core/root.py's rule; when the
    report alone decided, the reason says why.
    """
    held = root_account.state(row, summary)
    make = _Maker(UserFacts(row.user, row.arn, True, held.mfa, held.access_keys, None, False), now, trigger)
    if held.credentials_absent:
        why = (
            "the root user has no password, no access keys and no signing certificates "
            "(centrally managed root): there is nothing MFA could protect"
        )
        return (make(FindingType.ROOT_CREDENTIALS_ABSENT, Action.NONE, why, transition=False),)
    note = f" ({held.note})" if held.note else ""
    found = []
    if held.needs_mfa:
        why = (
            "the root user has a console password and no MFA device"
            if held.password
            else "the root user has no MFA device"
        )
        found.append(make(FindingType.ROOT_WITHOUT_MFA, Action.NONE, why + note, transition=transition))
    if held.access_keys:
        keys = "access keys" if held.source is root_account.Source.ACCOUNT_SUMMARY else "active access keys"
        found.append(
            make(FindingType.ROOT_ACCESS_KEYS, Action.NONE, f"the root user has {keys}{note}", transition=transition)
        )
    return tuple(found)


def config_error(
    reason: str, now: datetime, trigger: Trigger, *, severity: Severity | None = None, transition: bool = True
) -> Finding:
    """Something is wrong with the exemptions; `reason` says what, and what the run enforced meanwhile."""
    return Finding(
        type=FindingType.CONFIG_ERROR,
        user=None,
        arn=None,
        action=Action.NONE,
        reason=reason,
        detected_by=trigger,
        timestamp=now,
        transition=transition,
        severity_override=severity,
    )


def unusable_exemptions(problem: str, now: datetime, trigger: Trigger) -> Finding:
    """The exemptions could not be read at all (SSM failed): fail safe, nobody is quarantined this run."""
    return config_error(f"exemptions unusable, nobody quarantined this run: {problem}", now, trigger)


def invalid_exemptions(
    parameter: str,
    newest: Version,
    problems: str,
    in_force: Version | None,
    now: datetime,
    trigger: Trigger,
) -> Finding:
    """The newest version is invalid: say which, and which version is enforced instead (or that none is)."""
    invalid = f"{parameter} version {newest.number} is invalid: {problems}"
    if in_force is None:
        return config_error(f"{invalid}; no earlier version is valid, so nobody is quarantined this run", now, trigger)
    return config_error(
        f"{invalid}; enforcing version {in_force.number}, the newest valid version, until it is fixed", now, trigger
    )


def missing_groups(
    document: Exemptions, missing: Iterable[str], now: datetime, trigger: Trigger, *, transition: bool
) -> list[Finding]:
    """One finding per entry that names a group IAM does not have: such a group has no members, so it exempts nobody."""
    gone = {name.casefold() for name in missing}
    return [
        config_error(
            f"exemptions[{entry.index}] names the group {entry.value}, which does not exist: it exempts nobody "
            "(the rest of the document applies)",
            now,
            trigger,
            severity=Severity.MEDIUM,
            transition=transition,
        )
        for entry in document.entries
        if entry.selector == "group" and entry.value.casefold() in gone
    ]


def _release(make: _Maker, policy: Policy, why: str, *, live_proof: bool = False) -> tuple[tuple[Finding, ...], Write]:
    """A release; `live_proof` when only MFA justifies it: the shell first confirms a device with ListMFADevices."""
    action = Action.RELEASE if policy.mode is Mode.ENFORCE else Action.WOULD_RELEASE
    finding = make(FindingType.RELEASED, action, why, transition=True)
    user = finding.user or ""
    write = Write(action, user, why, finding, confirm_no_mfa=False, confirm_mfa=live_proof)
    return (finding,), write


def _row_errors(errors: Iterable[RowError], now: datetime, *, transition: bool) -> list[Finding]:
    return [
        Finding(
            type=FindingType.REPORT_ROW_ERROR,
            user=e.user,
            arn=None,
            action=Action.NONE,
            reason=f"credential report line {e.line} skipped: {e.problem}",
            detected_by=Trigger.SCHEDULED_SCAN,
            timestamp=now,
            transition=transition,
        )
        for e in errors
    ]


def _expired(exemptions: Exemptions, now: datetime, policy: Policy) -> list[Finding]:
    return [
        Finding(
            type=FindingType.EXEMPTION_EXPIRED,
            user=e.value if e.selector == "user" else None,
            arn=None,
            action=Action.NONE,
            reason=f"exemptions[{e.index}] ({e.describe()}) expired {iso(e.expires)} and no longer applies"
            if e.expires
            else "expired",
            detected_by=Trigger.SCHEDULED_SCAN,
            timestamp=now,
            transition=e.expires is not None and e.expires > now - policy.interval,
            expires=e.expires,
        )
        for e in exemptions.expired(now)
    ]


class _Maker:
    """Builds findings for one user so each branch of the table reads as one line."""

    def __init__(self, facts: UserFacts, now: datetime, trigger: Trigger) -> None:
        self.facts, self.now, self.trigger = facts, now, trigger

    def __call__(
        self, kind: FindingType, action: Action, reason: str, *, transition: bool, **extra: datetime | None
    ) -> Finding:
        return Finding(
            type=kind,
            user=self.facts.user,
            arn=self.facts.arn,
            action=action,
            reason=reason,
            detected_by=self.trigger,
            timestamp=self.now,
            transition=transition,
            **extra,  # type: ignore[arg-type]
        )


# --- Real-time paths: on_console_login and on_iam_change -----------------------------------------
# The events come from chalicelib.core.events (parsed liberally); what they call for is decided here,
# strictly, with the same table as the scan.


class Skip(enum.StrEnum):
    """Why an event leads to no action; the value is the `Reason` dimension of the EventsIgnored metric."""

    OTHER_ACCOUNT = "other-account"
    FAILED_SIGN_IN = "failed-sign-in"
    UNKNOWN_OUTCOME = "unknown-outcome"
    MFA_USED = "mfa-used"
    ROOT_MFA_UNKNOWN = "root-mfa-unknown"
    IDENTITY_CENTER = "identity-center"
    FEDERATED = "federated"
    ASSUMED_ROLE = "assumed-role"
    NOT_A_USER = "not-a-user"
    BAD_USER_NAME = "bad-user-name"
    FAILED_CALL = "failed-call"
    NO_TARGET = "no-target"
    OTHER_POLICY = "other-policy"
    OTHER_GROUP = "other-group"
    NO_POLICY = "no-quarantine-policy"
    OWN_CHANGE = "own-change"
    USER_NOT_FOUND = "user-not-found"
    HAS_MFA = "has-mfa"
    MFA_ENROLLED = "mfa-enrolled"
    NO_CREDENTIAL_TYPE = "no-credential-type"
    POLICY_INTACT = "policy-intact"
    NOT_THE_BOTS = "not-the-bots"


@dataclass(frozen=True)
class Ignore:
    """Do nothing about this event; `reason` is the one log line that says why."""

    code: Skip
    reason: str


@dataclass(frozen=True)
class CheckUser:
    """Apply the decision table to one user, from live IAM reads (never from the event alone).

    `stop_if_mfa`: a sign-in by a user who has an MFA device needs nothing more, which keeps that
    path at one call; IAM changes read on, so a user who has MFA and still carries the bot's
    quarantine tags is released.
    """

    user: str
    stop_if_mfa: bool
    password_given_at: datetime | None = None  # CreateLoginProfile by someone other than the user: when
    password_given_by: str | None = None
    joined_group: str | None = None  # AddUserToGroup: the group joined (an exemption may name it)


@dataclass(frozen=True)
class RootSignIn:
    """The root user signed in without MFA: critical, and nothing the bot can change."""

    arn: str | None
    account: str
    source_ip: str | None


@dataclass(frozen=True)
class Restore:
    """Someone removed a user's quarantine: detached the policy, or took them out of the fallback group."""

    user: str
    actor: events.Principal
    via_group: bool

    @property
    def how(self) -> str:
        """What the actor did, as it reads in the finding."""
        return (
            f"removed the user from the group {QUARANTINE_GROUP}"
            if self.via_group
            else "detached the quarantine policy"
        )


@dataclass(frozen=True)
class PolicyChange:
    """Someone acted on the quarantine policy itself: check its integrity now (and restore it in enforce mode)."""

    actor: events.Principal
    how: str


def triage_login(login: events.ConsoleLogin, account: str) -> Ignore | CheckUser | RootSignIn:
    """What a ConsoleLogin calls for.

    Only a successful sign-in by an IAM user of this account that did not report MFA leads to a
    check (a missing `MFAUsed` is checked too: the live MFA read decides). Root without MFA is
    alerted; failed sign-ins, sign-ins with MFA and every role, federated and Identity Center
    session are left alone.
    """
    foreign = _foreign(login.accounts, account)
    if foreign is not None:
        return foreign
    if login.success is False:
        return Ignore(Skip.FAILED_SIGN_IN, f"failed sign-in ({events.show(login.error_message or 'Failure')})")
    if login.success is None:
        return Ignore(Skip.UNKNOWN_OUTCOME, "responseElements.ConsoleLogin is neither Success nor Failure")
    principal = login.principal
    if principal.type is events.PrincipalType.ROOT:
        if login.mfa_used is False:
            return RootSignIn(principal.arn, account, login.source_ip)
        if login.mfa_used:
            return Ignore(Skip.MFA_USED, "root signed in with MFA")
        return Ignore(Skip.ROOT_MFA_UNKNOWN, "root sign-in whose event does not say whether MFA was used")
    if principal.type is events.PrincipalType.IAM_USER:
        if login.mfa_used:
            return Ignore(Skip.MFA_USED, f"IAM user {events.show(principal.user_name)} signed in with MFA")
        if principal.user_name is None or not events.valid_user_name(principal.user_name):
            return Ignore(Skip.BAD_USER_NAME, f"IAM user name {events.show(principal.user_name)} is not valid")
        return CheckUser(principal.user_name, stop_if_mfa=True)
    return _not_an_iam_user(principal)


def triage_change(
    change: events.IamChange, account: str, policy_arn: str | None
) -> Ignore | CheckUser | Restore | PolicyChange:
    """What an IAM change calls for. Only successful calls count; the target is the user acted on.

    EnableMFADevice, DeactivateMFADevice, DeleteVirtualMFADevice and CreateLoginProfile re-check
    the user. DetachUserPolicy of the quarantine policy, and RemoveUserFromGroup of the quarantine
    group (the fallback at the managed-policy quota), are possible tamper. CreatePolicyVersion,
    SetDefaultPolicyVersion and DeletePolicy of the quarantine policy, and DetachGroupPolicy of it
    from the quarantine group, may have emptied every quarantine at once: the policy is checked.
    AddUserToGroup may make a console user without MFA exempt (a group entry), which is announced once.
    """
    foreign = _foreign(change.accounts, account)
    if foreign is not None:
        return foreign
    if change.error_code is not None:
        return Ignore(
            Skip.FAILED_CALL, f"{change.event_name} failed ({events.show(change.error_code)}): nothing changed"
        )
    if change.name in events.POLICY_EVENTS:
        return _policy_change(change, policy_arn)
    user = change.target
    if user is None:
        return Ignore(Skip.NO_TARGET, f"{change.event_name} names no IAM user to check")
    if not events.valid_user_name(user):
        return Ignore(Skip.BAD_USER_NAME, f"{events.show(user)} is not a valid IAM user name")
    if change.name in (events.IamEvent.DETACH_USER_POLICY, events.IamEvent.REMOVE_USER_FROM_GROUP):
        return _removal(change, user, policy_arn)
    if change.name is events.IamEvent.ADD_USER_TO_GROUP:
        return _group_join(change, user)
    if change.name is events.IamEvent.CREATE_LOGIN_PROFILE and not _acts_on_itself(change.principal, user):
        return CheckUser(
            user, stop_if_mfa=False, password_given_at=change.time, password_given_by=change.principal.label
        )
    return CheckUser(user, stop_if_mfa=False)


def _removal(change: events.IamChange, user: str, policy_arn: str | None) -> Ignore | Restore:
    """A detach of the quarantine policy, or leaving the quarantine group: possible tamper."""
    if change.name is events.IamEvent.DETACH_USER_POLICY:
        if policy_arn is None:
            return Ignore(Skip.NO_POLICY, "no quarantine policy configured: a detach cannot be judged")
        if (change.policy_arn or "").casefold() != policy_arn.casefold():
            return Ignore(Skip.OTHER_POLICY, f"detached {events.show(change.policy_arn)}, not the quarantine policy")
        return Restore(user, change.principal, via_group=False)
    if (change.group_name or "").casefold() != QUARANTINE_GROUP.casefold():
        return Ignore(Skip.OTHER_GROUP, f"left group {events.show(change.group_name)}, not {QUARANTINE_GROUP}")
    return Restore(user, change.principal, via_group=True)


def _group_join(change: events.IamChange, user: str) -> Ignore | CheckUser:
    """Joining a group may make a console user without MFA exempt; joining the quarantine group is no news."""
    if change.group_name is None:
        return Ignore(Skip.NO_TARGET, "AddUserToGroup names no group")
    if change.group_name.casefold() == QUARANTINE_GROUP.casefold():
        return Ignore(Skip.OTHER_GROUP, f"joined {QUARANTINE_GROUP}: a quarantine, not an exemption")
    return CheckUser(user, stop_if_mfa=True, joined_group=change.group_name)


def _acts_on_itself(actor: events.Principal, user: str) -> bool:
    """The IAM user `user` made the call about itself (a login profile it re-created earns no grace)."""
    return actor.type is events.PrincipalType.IAM_USER and (actor.user_name or "").casefold() == user.casefold()


def _policy_change(change: events.IamChange, policy_arn: str | None) -> Ignore | PolicyChange:
    """A call on some policy: only the quarantine policy (and, for DetachGroupPolicy, only its group) matters."""
    if policy_arn is None:
        return Ignore(Skip.NO_POLICY, f"no quarantine policy configured: {change.event_name} cannot be judged")
    if (change.policy_arn or "").casefold() != policy_arn.casefold():
        return Ignore(
            Skip.OTHER_POLICY, f"{change.event_name} of {events.show(change.policy_arn)}, not the quarantine policy"
        )
    if (
        change.name is events.IamEvent.DETACH_GROUP_POLICY
        and (change.group_name or "").casefold() != QUARANTINE_GROUP.casefold()
    ):
        return Ignore(Skip.OTHER_GROUP, f"detached from group {events.show(change.group_name)}, not {QUARANTINE_GROUP}")
    return PolicyChange(change.principal, change.policy_change)


def is_own_change(actor: events.Principal, bot_arn: str | None, named: Sequence[str] = ()) -> bool:
    """True when the caller is the bot itself (its releases and restores arrive as events too).

    The bot runs as an assumed role; a session of any of the deployment's function roles counts
    (own_roles: siblings derived from the bot's own role name, or `named` outright), and only in
    the bot's own account, since role names are unique per account only. Misjudging costs little
    either way: an own change taken for someone else's finds nothing to restore (the bot removes a
    quarantine only for MFA or an exemption), and someone else's taken for the bot's is still
    caught by the next scan.
    """
    if bot_arn is None:
        return False
    bot_role = events.role_of(bot_arn)
    if bot_role is None:
        return actor.arn == bot_arn
    return (
        actor.type is events.PrincipalType.ASSUMED_ROLE
        and own_roles.bot_roles(bot_role, named).covers(actor.role_name)
        and (actor.account_id or events.account_of(actor.arn)) == events.account_of(bot_arn)
    )


def became_exempt(facts: UserFacts, earlier: Exemptions | None, now: datetime, policy: Policy) -> bool:
    """Whether an exempt console user without MFA became exempt since the previous scan (once, like `pending`).

    A new user (created within the last interval), or a user no entry covered in the document in
    force one interval ago (a new entry, a widened one). A group join leaves no trace the scan can
    see; the AddUserToGroup event announces it (joined_exemption).
    """
    if facts.created is not None and facts.created > now - policy.interval:
        return True
    return earlier is not None and earlier.match(facts.user, facts.path, facts.groups, now - policy.interval) is None


def joined_exemption(facts: UserFacts, exemptions: Exemptions, group: str, now: datetime) -> bool:
    """Whether joining `group` is what made the user exempt: covered with it, and by nothing without it."""
    without = [g for g in facts.groups if g.casefold() != group.casefold()]
    return bool(exemptions.match_all(facts.user, facts.path, [*without, group], now)) and not exemptions.match_all(
        facts.user, facts.path, without, now
    )


def exempted(facts: UserFacts, exemptions: Exemptions, now: datetime, trigger: Trigger) -> Finding:
    """The one `exempted` transition for a console user without MFA whom the document now exempts.

    Exempt is not invisible: medium, and high when only `path` entries cover the user (a path is
    meant for machine users, and a console password under it is what an attacker would create).
    """
    matches = exemptions.match_all(facts.user, facts.path, facts.groups, now)
    only_path = bool(matches) and all(entry.selector == "path" for entry in matches)
    by = ", ".join(f"exemptions[{e.index}] ({e.describe()}: {e.reason})" for e in matches)
    note = "; only a path entry covers this console user" if only_path else ""
    return _Maker(facts, now, trigger)(
        FindingType.EXEMPTED,
        Action.NONE,
        f"console user without MFA is now exempt, by {by}{note}",
        transition=True,
        expires=min((e.expires for e in matches if e.expires is not None), default=None),
    ).with_changes(severity_override=Severity.HIGH if only_path else None)


def past_grace(facts: UserFacts, exemptions: Exemptions | None, now: datetime, policy: Policy) -> bool:
    """A console user without MFA, not exempt (under a readable document), whose deadline has passed."""
    if facts.mfa or not facts.console or exemptions is None:
        return False
    if exemptions.match(facts.user, facts.path, facts.groups, now) is not None:
        return False
    due = deadline_of(facts, policy)
    return due is None or due.at <= now


def grant(facts: UserFacts, given_at: datetime, now: datetime, policy: Policy) -> datetime | None:
    """The deadline to record when someone else gives this user a console password at `given_at`.

    None when it earns none: the user already carries a recorded deadline (it stands, never moved),
    the password came with the user (within grace.GRANT_AFTER of its creation: the floor is fair),
    or the creation time is unknown. An event time in the future counts as now.
    """
    if facts.created is None or facts.grace_tag is not None:
        return None
    start = min(given_at, now)
    if not grace.earns_grant(facts.created, start):
        return None
    return grace.later(start, policy.grace)


def premature(quarantined_at: str | None, given_at: datetime, deadline: datetime, now: datetime) -> bool:
    """The bot quarantined the user after an admin gave them a password, before the grace it earns was recorded.

    Events arrive in any order: a sign-in, or a scan, can beat the CreateLoginProfile event by
    minutes. A quarantine stamped from the password's creation on, whose recorded grace has not
    ended, was the bot's mistake and is undone. A quarantine older than the password stands.
    """
    stamped = grace.recorded(quarantined_at)
    return stamped is not None and stamped >= given_at - grace.SKEW and now < deadline


def lift(
    facts: UserFacts, now: datetime, policy: Policy, trigger: Trigger, why: str
) -> tuple[tuple[Finding, ...], Write]:
    """A release for a reason the table does not see by itself (premature quarantine)."""
    return _release(_Maker(facts, now, trigger), policy, why)


def needs_login_profile(facts: UserFacts, exemptions: Exemptions | None, now: datetime) -> bool:
    """Whether the decision depends on the console password and when it was first set.

    Only a user who is not quarantined, has no MFA and is not exempt (under a readable document)
    can end up `pending` or `quarantined`; everyone else is decided without it, which saves the
    real-time path a GetLoginProfile call.
    """
    if facts.quarantined or facts.mfa or exemptions is None:
        return False
    return exemptions.match(facts.user, facts.path, facts.groups, now) is None


def tamper(
    facts: UserFacts,
    exemptions: Exemptions | None,
    now: datetime,
    policy: Policy,
    trigger: Trigger,
    *,
    actor: str,
    how: str,
) -> tuple[tuple[Finding, ...], Write | None]:
    """Someone other than the bot removed a user's quarantine.

    Only what the bot had done, or would do, is restored: the user carried the bot's tag
    (`facts.quarantined`), or is a console user past their grace deadline and not exempt. A policy
    someone attached by hand to a user still inside grace, and detached again, is none of the bot's
    business (no finding). With MFA or an active exemption the removal agrees with the table:
    nothing is restored, and tags the bot left behind are cleaned up as a release. Otherwise it is
    tamper: a critical finding naming who did it, and the quarantine is restored (`reattach`;
    `would-reattach` in report mode). Under an unusable exemptions document nothing is restored
    (fail safe: nobody is quarantined), but the tamper of a tagged user is still reported.
    """
    _, write = evaluate(replace(facts, quarantined=True), exemptions, now, policy, trigger)
    if write is not None:
        if not facts.quarantined:
            return (), None
        finding = write.finding.with_changes(
            reason=f"{write.finding.reason}; quarantine removed by {actor}", actor=actor
        )
        return (finding,), replace(write, finding=finding)
    if not facts.quarantined and not past_grace(facts, exemptions, now, policy):
        return (), None  # not a quarantine the bot made or would make: someone else's to remove
    make = _Maker(facts, now, trigger)
    if exemptions is None:
        reason = f"{actor} {how} while the user still has no MFA; not restored: the exemptions are unusable"
        return (make(FindingType.TAMPER, Action.NONE, reason, transition=True).with_changes(actor=actor),), None
    action = Action.REATTACH if policy.mode is Mode.ENFORCE else Action.WOULD_REATTACH
    reason = f"{actor} {how} while the user still has no MFA"
    finding = make(FindingType.TAMPER, action, reason, transition=True).with_changes(actor=actor)
    return (finding,), Write(action=action, user=facts.user, reason=reason, finding=finding, confirm_no_mfa=False)


# --- Two writers, one transition (the scan and a real-time event on the same user) -----------

CLAIM_WINDOW = timedelta(minutes=5)
LONGEST_RUN = timedelta(minutes=15)  # Lambda's hard limit: no writer is still at work after it
CLOCK_SKEW = timedelta(minutes=1)  # how far ahead of the claimer's clock another writer's stamp may be


def claim_held_by_other(held_since: str, decided_at: datetime | None, checked_at: datetime | None = None) -> bool:
    """Whether a `quarantined-at` tag found when claiming a quarantine is another writer's claim.

    The writer whose TagUser put the tag there owns the transition and its one alert. A tag no
    writer is still working on — left by an attempt that crashed between tag and policy, or by a
    hand-made removal of the policy only — is a leftover, and the caller adopts it: the quarantine
    it completes is a transition nobody has announced. Writers stamp the instant they decided, so
    a concurrent claim is stamped from a little before the caller's own decision (`decided_at`,
    less CLAIM_WINDOW) to the end of the longest run that could overlap it; anything else, and
    an unreadable value, is adopted — one alert too many is better than a quarantine nobody hears
    of, and a tag pre-set by hand cannot silence it. A stamp later than the moment of the claim
    (`checked_at`, with CLOCK_SKEW for clocks) was written by no writer, since writers stamp the
    past: it was set by hand, and is adopted too. `decided_at` None means the caller read the
    user without the tag moments ago, so whatever is there now was written since.
    """
    if decided_at is None:
        return True
    stamped = grace.recorded(held_since)
    if stamped is None:
        return False
    latest = decided_at + LONGEST_RUN + CLAIM_WINDOW
    if checked_at is not None:
        latest = min(latest, checked_at + CLOCK_SKEW)
    return decided_at - CLAIM_WINDOW <= stamped <= latest


def adopted(finding: Finding, held_since: str) -> Finding:
    """A `quarantined-at` tag with no quarantine behind it, completed now: announced, since nobody else will."""
    return finding.with_changes(
        reason=f"{finding.reason}; the user carried quarantined-at {held_since[:40]} with no policy or group "
        "behind it: completed now"
    )


@dataclass(frozen=True)
class Enrolment:
    """What the EnableMFADevice event says about who enrolled a device, from where (attacker-influenced text)."""

    source_ip: str | None
    user_agent: str | None
    serial: str | None


def confirm_release(finding: Finding, sign_in_ip: str | None, enrolment: Enrolment | None) -> Finding:
    """An MFA release after a quarantine caused by a sign-in without MFA is an event for a person.

    The password may have been stolen: whoever signed in without MFA can enrol their own device and
    be released. Such a release is raised to high and carries the enrolment's source IP, user agent
    and device serial, next to the IP of the sign-in that caused the quarantine (recorded on the
    user at quarantine time), so an operator can confirm with the user that it was them. Other
    releases are left as they are.
    """
    if sign_in_ip is None or finding.type is not FindingType.RELEASED or not finding.reason.startswith(MFA_RELEASE):
        return finding
    ip = text.bounded(sign_in_ip, MAX_EVENT_TEXT)
    if enrolment is None:
        how = "MFA device enrolled (the enrolment event was not seen, so where from is unknown)"
        extra: dict[str, object] = {}
    else:
        serial = text.bounded(enrolment.serial, MAX_EVENT_TEXT) or "an unknown device"
        source = text.bounded(enrolment.source_ip, MAX_EVENT_TEXT) or "an unknown address"
        agent = text.bounded(enrolment.user_agent, MAX_EVENT_TEXT) or "an unknown client"
        how = f"MFA device {serial} enrolled from {source} ({agent})"
        extra = {
            "source_ip": text.bounded(enrolment.source_ip, MAX_EVENT_TEXT),
            "user_agent": text.bounded(enrolment.user_agent, MAX_EVENT_TEXT),
            "mfa_serial": text.bounded(enrolment.serial, MAX_EVENT_TEXT),
        }
    reason = (
        f"{how} after a quarantine for a sign-in without MFA from {ip}: confirm with the user that they enrolled "
        "it; if not, someone else knows their password"
    )
    return finding.with_changes(reason=reason, severity_override=Severity.HIGH, sign_in_ip=ip, **extra)


def no_live_device(finding: Finding) -> Finding:
    """A release for MFA that ListMFADevices does not back (a stale report row): the user stays, and nothing is said.

    The report can be hours old: the row may predate the user removing their device. Only a
    device IAM shows now proves MFA, so the user stays quarantined, as a quiet `still-quarantined`.
    """
    return finding.with_changes(
        type=FindingType.STILL_QUARANTINED,
        action=Action.NONE,
        transition=False,
        reason="still without MFA: the credential report shows MFA, but ListMFADevices shows no device",
    )


def claimed_elsewhere(finding: Finding, held_since: str) -> Finding:
    """The quarantine another writer claimed first: completed here, announced there (no alert)."""
    return finding.with_changes(
        type=FindingType.STILL_QUARANTINED,
        transition=False,
        reason=f"{finding.reason}; already claimed by another run of the bot (quarantined-at {held_since})",
    )


def root_sign_in(event: RootSignIn, now: datetime, trigger: Trigger) -> Finding:
    """The root user signed in without MFA: critical, and no write (root cannot be quarantined)."""
    where = f" from {event.source_ip}" if event.source_ip and len(event.source_ip) <= events.MAX_SHOWN else ""
    return Finding(
        type=FindingType.ROOT_WITHOUT_MFA,
        user=ROOT_USER,
        arn=event.arn or f"arn:aws:iam::{event.account}:root",
        action=Action.NONE,
        reason=f"the root user signed in to the console without MFA{where}",
        detected_by=trigger,
        timestamp=now,
        transition=True,
    )


# --- Identity Center sign-ins (UserAuthentication), alert only ---------------------------------

MAX_USER_AGENT = 256


@dataclass(frozen=True)
class PasswordOnly:
    """An Identity Center user completed a sign-in with a password alone."""

    user: str
    portal: str | None
    source_ip: str | None
    user_agent: str | None


def triage_identity_center(sign_in: events.IdentityCenterSignIn, account: str) -> Ignore | PasswordOnly:
    """What an Identity Center sign-in calls for.

    Only a successful sign-in of this account whose `CredentialType` lists no second factor
    (`PASSWORD` alone) and that did not register an MFA device on the way
    (`DeviceEnrollmentRequired: "true"`) is news. `PASSWORD,TOTP`, `PASSWORD,WEBAUTHN`,
    `EXTERNAL_IDP` (the IdP's own MFA) and the like are fine; failed or unreadable sign-ins are
    left alone. Identity Center has no API for a user's MFA devices, so the event is the only
    evidence, and nothing is written anywhere: there is no IAM user to quarantine.
    """
    foreign = _foreign(sign_in.accounts, account)
    if foreign is not None:
        return foreign
    if sign_in.success is False:
        return Ignore(Skip.FAILED_SIGN_IN, "failed Identity Center sign-in")
    if sign_in.success is None:
        return Ignore(Skip.UNKNOWN_OUTCOME, "serviceEventDetails.UserAuthentication is neither Success nor Failure")
    name = sign_in.user_name
    if name is None or not exemptions_module.identity_center_name(name):
        return Ignore(Skip.BAD_USER_NAME, f"Identity Center user name {events.show(name)} is not valid")
    if not sign_in.credential_types:
        return Ignore(Skip.NO_CREDENTIAL_TYPE, "additionalEventData.CredentialType is missing: factors unknown")
    kinds = ",".join(sign_in.credential_types)
    if sign_in.second_factor:
        return Ignore(Skip.MFA_USED, f"Identity Center user {events.show(name)} signed in with {events.show(kinds)}")
    if sign_in.device_enrolled:
        return Ignore(
            Skip.MFA_ENROLLED, f"Identity Center user {events.show(name)} registered an MFA device while signing in"
        )
    agent = sign_in.user_agent
    if agent is not None and len(agent) > MAX_USER_AGENT:
        agent = agent[: MAX_USER_AGENT - 1] + "…"
    return PasswordOnly(name, sign_in.portal, sign_in.source_ip, agent)


def identity_center(verdict: PasswordOnly, exemptions: Exemptions | None, now: datetime, trigger: Trigger) -> Finding:
    """`identity-center-user-without-mfa` (high, alerted), or `exempt` (no alert) under an `identity_center_user` entry.

    An unusable exemptions document does not silence the alert: alerting changes nothing, so the
    fail-safe direction is to tell (the caller adds the config error).
    """
    where = f" ({verdict.portal})" if verdict.portal else ""
    exempt = exemptions.match_identity_center(verdict.user, now) if exemptions is not None else None
    base = Finding(
        type=FindingType.IDENTITY_CENTER_USER_WITHOUT_MFA,
        user=verdict.user,
        arn=None,
        action=Action.NONE,
        reason=f"signed in to IAM Identity Center{where} with a password alone (no second factor)",
        detected_by=trigger,
        timestamp=now,
        transition=True,
        source_ip=verdict.source_ip,
        user_agent=verdict.user_agent,
        instance=verdict.portal,
    )
    if exempt is None:
        return base
    return base.with_changes(
        type=FindingType.EXEMPT,
        transition=False,
        reason=f"Identity Center sign-in with a password alone; exempted by {exempt.describe()}: {exempt.reason}",
        expires=exempt.expires,
    )


def _foreign(accounts: Sequence[str], account: str) -> Ignore | None:
    """Strict: every account the event names must be ours, and it must name at least one."""
    if not accounts:
        return Ignore(Skip.OTHER_ACCOUNT, "the event names no account, so it cannot be shown to be this one's")
    other = next((a for a in accounts if a != account), None)
    if other is None:
        return None
    return Ignore(Skip.OTHER_ACCOUNT, f"event from account {events.show(other)}; the bot runs in {account}")


def _not_an_iam_user(principal: events.Principal) -> Ignore:
    kinds = events.PrincipalType
    if principal.identity_center:
        return Ignore(Skip.IDENTITY_CENTER, f"Identity Center session {events.show(principal.label)}: MFA is the IdP's")
    if principal.type in (kinds.SAML_USER, kinds.WEB_IDENTITY_USER, kinds.FEDERATED_USER):
        return Ignore(Skip.FEDERATED, f"federated sign-in ({principal.type.value}): MFA is the IdP's")
    if principal.type is kinds.ASSUMED_ROLE:
        return Ignore(Skip.ASSUMED_ROLE, f"role session {events.show(principal.label)}: not an IAM user")
    return Ignore(Skip.NOT_A_USER, f"userIdentity.type {events.show(principal.type_text)}: not an IAM user")
