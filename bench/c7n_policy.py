"""Cloud Custodian policies equivalent to the bot's quarantine rule, written as a c7n user would.

`iam-user` resources; the `credential` filter on `password_enabled` / `mfa_active`; the grace period
as an age filter on `CreateDate` (moto sets password_last_changed to the creation time, so this
is the same clock); the exemptions as value / `group` filters placed last, so c7n reads groups only
for the few users still matching; `set-policy` attaches the quarantine policy.

Two settings keep moto artefacts from penalising c7n, and are favourable to it:
- `report_max_age`: moto stamps every credential report `GeneratedTime: 2015-02-02`, so with the
  default (1 day) c7n would regenerate the report and sleep `report_delay` (10 s) on every run;
  in a real account the report is at most 4 h old and c7n would reuse it.
- the scan runs with `--cache memory`, so the report is downloaded once per run, not once per
  `credential` filter (the Lambda modes have no cache: there each filter downloads it again).

The written files are JSON, which is YAML, so no YAML library is needed to write them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REPORT_MAX_AGE_S = 30 * 365 * 24 * 3600  # moto dates every report 2015-02-02
CONSOLE_LOGIN_EVENT = {"source": "signin.amazonaws.com", "event": "ConsoleLogin", "ids": "detail.userIdentity.userName"}


def _credential(key: str, value: bool) -> dict[str, Any]:
    return {"type": "credential", "key": key, "value": value, "report_max_age": REPORT_MAX_AGE_S}


def quarantine_filters(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Console password, no MFA, older than the grace period, not exempt by user, path or group."""
    grace_days = float(manifest["grace_hours"]) / 24
    return [
        _credential("password_enabled", True),
        _credential("mfa_active", False),
        {"type": "value", "key": "CreateDate", "value_type": "age", "op": "gt", "value": grace_days},
        {"type": "value", "key": "UserName", "op": "not-in", "value": list(manifest["exempt_users"])},
        {"not": [{"type": "value", "key": "Path", "op": "glob", "value": f"{manifest['exempt_path']}*"}]},
        {"not": [{"type": "group", "key": "GroupName", "value": manifest["exempt_group"]}]},
    ]


def quarantine_action(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Attach the quarantine policy."""
    return {"type": "set-policy", "state": "attached", "arn": str(manifest["policy_arn"])}


def release_policy(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The other half of the bot's job: detach the policy from users who now have MFA."""
    return {
        "name": "mfa-release",
        "resource": "iam-user",
        "filters": [
            _credential("mfa_active", True),
            {"type": "policy", "key": "PolicyArn", "value": str(manifest["policy_arn"])},
        ],
        "actions": [{"type": "set-policy", "state": "detached", "arn": str(manifest["policy_arn"])}],
    }


def scan_policies(manifest: Mapping[str, Any], *, with_release: bool = False) -> dict[str, Any]:
    """Pull mode (`custodian run`): the periodic sweep."""
    policies: list[dict[str, Any]] = [
        {
            "name": "mfa-quarantine",
            "resource": "iam-user",
            "filters": quarantine_filters(manifest),
            "actions": [quarantine_action(manifest)],
        }
    ]
    if with_release:
        policies.append(release_policy(manifest))
    return {"policies": policies}


def login_policy(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """cloudtrail mode on ConsoleLogin: the event's MFAUsed first (no API call), then the same filters."""
    return {
        "policies": [
            {
                "name": "mfa-quarantine-login",
                "resource": "iam-user",
                "mode": {"type": "cloudtrail", "events": [CONSOLE_LOGIN_EVENT]},
                "filters": [
                    {"type": "event", "key": "detail.additionalEventData.MFAUsed", "value": "No"},
                    *quarantine_filters(manifest),
                ],
                "actions": [quarantine_action(manifest)],
            }
        ]
    }
