"""The shell of the quarantine's integrity: read the policy, compare (core.integrity), restore in enforce mode.

Shared by the scan (service.run_scan, before any new quarantine) and by `on_iam_change` (when a
CreatePolicyVersion, SetDefaultPolicyVersion, DetachGroupPolicy or DeletePolicy touches the
quarantine). What is restored, in order, each step tried even when an earlier one failed:

- a missing policy is re-created under its own name with the shipped document;
- a default version that is not the shipped document is replaced by a new default version that
  is (at IAM's limit of five versions, the oldest non-default version is deleted first);
- the group `mfa-enforcer-quarantine` gets the policy attached again.

Reading the policy may fail (AWS errors propagate: the caller decides what a failed read means);
a failed restore step becomes the finding's `error` and leaves that part hollow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import observability
from chalicelib.adapters.aws_errors import AWS_ERRORS, error_text
from chalicelib.adapters.quarantine_policy import QuarantinePolicyGateway, shipped_document
from chalicelib.core import integrity
from chalicelib.core.model import Mode

logger = observability.logger


@dataclass(frozen=True)
class Checked:
    """The outcome of one integrity check: what differed (None: intact), what was restored, what is still hollow."""

    tampering: integrity.Tampering | None = None
    restored: integrity.Restored | None = None
    hollow: integrity.Hollow | None = None

    @property
    def group_restored(self) -> bool:
        """The group holds the policy again, so its members are contained (again)."""
        return self.restored is not None and self.restored.attached


def check(
    policy: QuarantinePolicyGateway,
    mode: Mode,
    now: datetime,
    interval: timedelta,
    *,
    group_attached: bool | None = None,
) -> Checked:
    """Compare the live policy with the shipped one and, in enforce mode, restore what differs."""
    tampering = integrity.check(shipped_document(), policy.state(group_attached=group_attached), now, interval)
    if tampering is None:
        return Checked()
    logger.warning("quarantine policy tampered", extra={"problem": tampering.describe()})
    restored = restore(policy, tampering) if mode is Mode.ENFORCE else None
    return Checked(tampering, restored, integrity.remaining(tampering, restored))


def restore(policy: QuarantinePolicyGateway, tampering: integrity.Tampering) -> integrity.Restored:
    """Put back what `tampering` found changed; every step is tried, the failures are collected."""
    document = shipped_document()
    created, version, deleted, attached = False, None, None, False
    errors: list[str] = []
    if tampering.missing:
        try:
            policy.create(document)
            created = True
        except AWS_ERRORS as exc:
            errors.append(f"CreatePolicy: {error_text(exc)}")
    elif tampering.version is not None:
        try:
            version, deleted = policy.replace_default(document)
        except (*AWS_ERRORS, RuntimeError) as exc:
            errors.append(f"CreatePolicyVersion: {error_text(exc) if isinstance(exc, AWS_ERRORS) else exc}")
    if tampering.group_detached or created:
        try:
            policy.attach_group()
            attached = True
        except AWS_ERRORS as exc:
            errors.append(f"AttachGroupPolicy: {error_text(exc)}")
    restored = integrity.Restored(created, version, deleted, attached, "; ".join(errors) or None)
    logger.warning("quarantine policy restore", extra={"done": restored.describe(), "error": restored.error})
    return restored
