"""Is the quarantine still a quarantine? Its policy's default version and the fallback group, against what is shipped.

A quarantine is an attachment of one managed policy, so whoever can replace what that policy
says (CreatePolicyVersion --set-as-default, SetDefaultPolicyVersion back to an old version) or
unhook it from the fallback group (DetachGroupPolicy) empties every quarantine at once without
touching a single attachment. These pure functions compare what IAM holds (read by
adapters.quarantine_policy) with the shipped document, say what differs, build the
`quarantine-policy-tampered` finding, and mark the users a hollow policy does not contain.

How documents are compared. Both sides are parsed JSON (boto3 hands GetPolicyVersion's
document over already URL-decoded and parsed). What cannot change what IAM decides is ignored:
whitespace and layout, the order of keys in an object, and the order of the elements of a list
(IAM evaluates Statement, Action, Resource and condition-value lists as sets). Everything else
counts, strictly: a string where the shipped document has a one-element list, `true` for
`"true"`, a different letter case, a repeated element, an extra or missing key. Some of those
mean the same to IAM, but nobody needs them (the bot restores the shipped text exactly), and a
lenient comparison is a bypass waiting for the rule someone got wrong.

When it is news. The bot keeps no state, so "news" is read off IAM: a restore the bot just made
is always news; so is anything `on_iam_change` sees (the event is the change). For the scan, a
tampered policy it cannot or may not restore (report mode, or a restore that failed) is news when
its default version, or the policy's latest version, was created within the last interval, and
once a day while it lasts (decide.daily_due) otherwise. A rollback to an old version or a
detached group carries no date: the event, the CloudWatch alarm on the finding (which fires on
the first one, transition or not) and the daily repeat announce it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import decide, events
from chalicelib.core.model import QUARANTINE_GROUP, Action, Finding, FindingType, Mode, Trigger

MAX_VERSIONS = 5  # IAM keeps at most five versions of a managed policy
NOT_CONTAINED = "not contained: "
SHOWN = 3  # statements named per kind of difference; the rest are counted
_CONTAINING = frozenset({FindingType.QUARANTINED, FindingType.STILL_QUARANTINED})


@dataclass(frozen=True)
class PolicyState:
    """What IAM says about the quarantine policy right now.

    `group_attached` says whether the group `mfa-enforcer-quarantine` holds the policy (from
    ListEntitiesForPolicy, which the scan reads anyway). Dates are None where IAM gave none.
    """

    arn: str
    exists: bool
    default_version: str | None = None
    document: Any = None
    version_created: datetime | None = None
    updated: datetime | None = None
    group_attached: bool = True


@dataclass(frozen=True)
class Tampering:
    """How the quarantine differs from what the bot ships; `fresh` when the change is dated within the interval."""

    arn: str
    missing: bool = False
    version: str | None = None  # the default version whose document differs
    difference: str | None = None
    group_detached: bool = False
    fresh: bool = False

    @property
    def document_hollow(self) -> bool:
        """Nobody who holds the policy is contained: it is gone, or it no longer says what the bot ships."""
        return self.missing or self.version is not None

    def describe(self) -> str:
        """What differs, naming the version or the group."""
        if self.missing:
            return f"the quarantine policy {self.arn} does not exist"
        parts = []
        if self.version is not None:
            parts.append(f"its default version {self.version} is not the shipped document ({self.difference})")
        if self.group_detached:
            parts.append(f"the group {QUARANTINE_GROUP} no longer holds it")
        return f"the quarantine policy {self.arn}: " + "; ".join(parts)


@dataclass(frozen=True)
class Restored:
    """What a restore did, step by step; `error` names the step that failed (the rest were still tried)."""

    created: bool = False
    version: str | None = None
    deleted: str | None = None
    attached: bool = False
    error: str | None = None

    @property
    def writes(self) -> int:
        """IAM writes the restore made."""
        return int(self.created) + int(self.version is not None) + int(self.deleted is not None) + int(self.attached)

    def describe(self) -> str:
        """The steps that were made, in the order they were made."""
        steps = []
        if self.created:
            steps.append("re-created the policy with the shipped document")
        if self.version is not None:
            step = f"made {self.version}, the shipped document, its default version"
            if self.deleted is not None:
                step += f", after deleting {self.deleted} (IAM keeps at most {MAX_VERSIONS} versions)"
            steps.append(step)
        if self.attached:
            steps.append(f"attached it to the group {QUARANTINE_GROUP} again")
        return "; ".join(steps)


@dataclass(frozen=True)
class Hollow:
    """What a restore left uncontained: everyone holding the policy (`document`), or the group's members (`group`)."""

    document: bool
    group: bool
    missing: bool
    why: str

    def contains(self, *, via_group: bool) -> bool:
        """Whether a user held directly (or through the group) is really contained."""
        return not self.document and not (via_group and self.group)


@dataclass(frozen=True)
class Exposure:
    """Who holds the policy now, to count and mark the users a hollow policy leaves uncontained."""

    direct: frozenset[str] = field(default_factory=frozenset)
    via_group: frozenset[str] = field(default_factory=frozenset)


# --------------------------------------------------------------------------------------- comparing


def canonical(value: Any) -> Any:
    """A hashable form of parsed JSON in which only layout, key order and list order are forgotten."""
    if isinstance(value, Mapping):
        return ("object", tuple(sorted((str(k), canonical(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(sorted((canonical(v) for v in value), key=repr)))
    return (type(value).__name__, value)


def same_document(shipped: Any, actual: Any) -> bool:
    """True when the two documents can differ only in what IAM ignores (see the module docstring)."""
    return bool(canonical(shipped) == canonical(actual))


def difference(shipped: Mapping[str, Any], actual: Any) -> str:
    """A short account of what differs, by statement Sid where there is one (Sids are shown quoted and cut)."""
    if not isinstance(actual, Mapping):
        return "the document is not a JSON object"
    keys = sorted((set(shipped) | set(actual)) - {"Statement"})
    parts = [f"{key} differs" for key in keys if not _same(shipped.get(key), actual.get(key))]
    ours, theirs = _statements(shipped.get("Statement")), _statements(actual.get("Statement"))
    if ours is None or theirs is None:
        parts.append("Statement is not a list of objects")
        return ", ".join(parts)
    extra = Counter(canonical(s) for s in theirs) - Counter(canonical(s) for s in ours)
    gone = Counter(canonical(s) for s in ours) - Counter(canonical(s) for s in theirs)
    added = [s for s in theirs if _take(extra, s)]
    removed = [s for s in ours if _take(gone, s)]
    removed_sids = {_sid(s) for s in removed}
    changed = sorted({_sid(s) for s in added if _sid(s) is not None and _sid(s) in removed_sids}, key=str)
    parts += [f"statement {events.show(sid)} changed" for sid in changed[:SHOWN]]
    new = [f"{_label(s)} added" for s in added if _sid(s) is None or _sid(s) not in changed]
    gone_sids = [events.show(sid) if (sid := _sid(s)) else "(no Sid)" for s in removed if _sid(s) not in changed]
    parts += new[:SHOWN]
    if gone_sids:
        parts.append(f"shipped statement(s) {', '.join(gone_sids[:SHOWN])} missing")
    hidden = max(0, len(changed) - SHOWN) + max(0, len(new) - SHOWN) + max(0, len(gone_sids) - SHOWN)
    if hidden:
        parts.append(f"and {hidden} more")
    if not parts and type(shipped.get("Statement")) is not type(actual.get("Statement")):
        parts.append("Statement is an object where the shipped document has a list")
    return ", ".join(parts) or "the document differs"


def check(shipped: Mapping[str, Any], state: PolicyState, now: datetime, interval: timedelta) -> Tampering | None:
    """Compare IAM's state of the quarantine with the shipped document; None when it is intact."""
    if not state.exists:
        return Tampering(state.arn, missing=True)
    hollow_version = not same_document(shipped, state.document)
    if not hollow_version and state.group_attached:
        return None
    dates = [d for d in (state.version_created, state.updated) if d is not None]
    return Tampering(
        state.arn,
        version=(state.default_version or "unknown") if hollow_version else None,
        difference=difference(shipped, state.document) if hollow_version else None,
        group_detached=not state.group_attached,
        fresh=any(now - interval < d <= now for d in dates),
    )


def remaining(tampering: Tampering, restored: Restored | None) -> Hollow | None:
    """What a restore (None: none was tried) left hollow; None once everything is as shipped again."""
    document_fixed = restored is not None and (restored.created or restored.version is not None)
    group_fixed = restored is not None and restored.attached
    document = tampering.document_hollow and not document_fixed
    group = (tampering.group_detached or tampering.missing) and not group_fixed
    if not document and not group:
        return None
    missing = tampering.missing and not document_fixed
    return Hollow(document=document, group=group, missing=missing, why=tampering.describe())


# ---------------------------------------------------------------------------------------- findings


def finding(
    tampering: Tampering,
    restored: Restored | None,
    *,
    mode: Mode,
    now: datetime,
    trigger: Trigger,
    interval: timedelta = decide.SCAN_INTERVAL,
    exposed: int | None = None,
    actor: str | None = None,
) -> Finding:
    """The `quarantine-policy-tampered` finding: what differs, what the bot did, and whether it is news."""
    left = remaining(tampering, restored)
    reason = tampering.describe()
    if actor is not None:
        reason = f"{actor} changed the quarantine: {reason}"
    action, error = Action.NONE, None
    if mode is Mode.REPORT:
        action = Action.WOULD_RESTORE
    elif restored is not None:
        done = restored.describe()
        if done:
            reason += f"; restored: {done}"
        action = Action.RESTORE if left is None else Action.NONE
        error = restored.error
    if left is not None and exposed:
        reason += f"; {exposed} quarantined user(s) are not contained until it is restored"
    transition = trigger is not Trigger.SCHEDULED_SCAN or action is Action.RESTORE or tampering.fresh
    return Finding(
        type=FindingType.QUARANTINE_POLICY_TAMPERED,
        user=None,
        arn=tampering.arn,
        action=action,
        reason=reason,
        detected_by=trigger,
        timestamp=now,
        transition=transition or decide.daily_due(now, interval),
        error=error,
        actor=actor,
    )


def exposed_count(hollow: Hollow | None, exposure: Exposure) -> int:
    """How many of the users holding the policy a hollow policy leaves uncontained."""
    if hollow is None:
        return 0
    direct = 0 if hollow.contains(via_group=False) else len(exposure.direct)
    grouped = 0 if hollow.contains(via_group=True) else len(exposure.via_group - exposure.direct)
    return direct + grouped


def not_contained(found: Finding, hollow: Hollow) -> Finding:
    """A quarantine that is in place on the user but empty: `cannot-quarantine`, saying why; action and news kept."""
    return found.with_changes(type=FindingType.CANNOT_QUARANTINE, error=NOT_CONTAINED + hollow.why)


def is_uncontained(found: Finding) -> bool:
    """A finding `not_contained` made (the tampered finding counts them)."""
    return found.type is FindingType.CANNOT_QUARANTINE and (found.error or "").startswith(NOT_CONTAINED)


def uncontained(findings: Iterable[Finding], hollow: Hollow | None, exposure: Exposure) -> list[Finding]:
    """Mark every `still-quarantined` user whom the hollow policy does not contain (nobody is reported as held)."""
    out = list(findings)
    if hollow is None:
        return out
    for index, found in enumerate(out):
        if found.type not in _CONTAINING or found.user is None or found.action.is_write:
            continue
        grouped = found.user in exposure.via_group and found.user not in exposure.direct
        if found.user in exposure.direct | exposure.via_group and not hollow.contains(via_group=grouped):
            out[index] = not_contained(found, hollow)
    return out


# ---------------------------------------------------------------------------------------- internals


def _same(left: Any, right: Any) -> bool:
    return bool(canonical(left) == canonical(right))


def _statements(value: Any) -> Sequence[Mapping[str, Any]] | None:
    items = value if isinstance(value, list) else [value] if isinstance(value, Mapping) else None
    if items is None or not all(isinstance(s, Mapping) for s in items):
        return None
    return items


def _take(pending: Counter[Any], statement: Mapping[str, Any]) -> bool:
    key = canonical(statement)
    if pending[key] > 0:
        pending[key] -= 1
        return True
    return False


def _sid(statement: Mapping[str, Any]) -> str | None:
    sid = statement.get("Sid")
    return sid if isinstance(sid, str) else None


def _label(statement: Mapping[str, Any]) -> str:
    sid = _sid(statement)
    effect = statement.get("Effect")
    kind = f"{effect} statement" if isinstance(effect, str) and len(effect) <= 8 else "statement"
    return f"{kind} {events.show(sid)}" if sid is not None else f"{kind} without a Sid"
