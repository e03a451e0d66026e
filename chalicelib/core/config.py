"""Deploy-time settings, read once from the environment into one frozen value.

This is the only module that names the environment variables, so the docs/configuration.md table, the
Chalice config and the code cannot drift apart without a test noticing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.core.model import Mode

MODE = "MFA_ENFORCER_MODE"
QUARANTINE_POLICY_ARN = "MFA_ENFORCER_QUARANTINE_POLICY_ARN"
EXEMPTIONS_PARAMETER = "MFA_ENFORCER_EXEMPTIONS_PARAMETER"
GRACE_HOURS = "MFA_ENFORCER_GRACE_HOURS"
SNS_TOPIC_ARN = "MFA_ENFORCER_SNS_TOPIC_ARN"
SLACK_WEBHOOK_PARAMETER = "MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER"
SECURITY_HUB = "MFA_ENFORCER_SECURITY_HUB"

DEFAULT_EXEMPTIONS_PARAMETER = "/mfa-enforcer/exemptions"
DEFAULT_GRACE_HOURS = 24.0
MAX_GRACE_HOURS = 24.0 * 365

_PARTITION = r"aws(?:-cn|-us-gov|-iso|-iso-b)?"
_POLICY_ARN = re.compile(rf"^arn:{_PARTITION}:iam::\d{{12}}:policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{{1,128}}$")
_TOPIC_ARN = re.compile(rf"^arn:{_PARTITION}:sns:[a-z0-9-]+:\d{{12}}:[\w-]{{1,256}}(?:\.fifo)?$")
_PARAMETER_NAME = re.compile(r"^(?:/[\w.-]+)+$|^[\w.-]+$")
MAX_PARAMETER_NAME = 1011
MAX_PARAMETER_LEVELS = 15


class ConfigurationError(ValueError):
    """A deploy-time setting is wrong; the message names the variable and never its secret."""


@dataclass(frozen=True)
class Settings:
    """Everything an invocation needs to know about its deployment."""

    mode: Mode = Mode.REPORT
    quarantine_policy_arn: str | None = None
    exemptions_parameter: str = DEFAULT_EXEMPTIONS_PARAMETER
    grace_hours: float = DEFAULT_GRACE_HOURS
    sns_topic_arn: str | None = None
    slack_webhook_parameter: str | None = None
    security_hub: bool = False

    @property
    def enforce(self) -> bool:
        """True when the bot may write to IAM."""
        return self.mode is Mode.ENFORCE

    @property
    def account_id(self) -> str | None:
        """The account named by the quarantine policy ARN, when one is configured."""
        if self.quarantine_policy_arn is None:
            return None
        return self.quarantine_policy_arn.split(":")[4]


def parameter_name_problem(name: str) -> str | None:
    """Why `name` cannot be an SSM parameter name (SSM's rules), or None when it can.

    Letters, digits, `_`, `.`, `-`; a hierarchy starts with `/` and has at most 15 levels; at most
    1011 characters; nothing that starts with `aws` or `ssm` (reserved by AWS, in any letter case).
    """
    if not name.isascii() or not _PARAMETER_NAME.match(name):
        return "use letters, digits, _ . - and / between levels, with a leading / for a hierarchy"
    if len(name) > MAX_PARAMETER_NAME:
        return f"longer than {MAX_PARAMETER_NAME} characters"
    if name.count("/") > MAX_PARAMETER_LEVELS:
        return f"more than {MAX_PARAMETER_LEVELS} levels"
    if name.lstrip("/").lower().startswith(("aws", "ssm")):
        return "names that start with aws or ssm are reserved by AWS"
    return None


def from_env(env: Mapping[str, str]) -> Settings:
    """Build Settings from environment variables, refusing any value that is not exactly valid.

    Empty strings count as unset, because CloudFormation and Chalice write them for blank values.
    """

    def value(name: str) -> str | None:
        raw = env.get(name, "").strip()
        return raw or None

    mode_raw = (value(MODE) or Mode.REPORT.value).lower()
    try:
        mode = Mode(mode_raw)
    except ValueError:
        raise ConfigurationError(f"{MODE} must be 'enforce' or 'report', got {mode_raw!r}") from None

    policy_arn = value(QUARANTINE_POLICY_ARN)
    if policy_arn is not None and not _POLICY_ARN.match(policy_arn):
        raise ConfigurationError(f"{QUARANTINE_POLICY_ARN} is not an IAM managed policy ARN: {policy_arn!r}")
    if mode is Mode.ENFORCE and policy_arn is None:
        raise ConfigurationError(f"{QUARANTINE_POLICY_ARN} is required when {MODE} is 'enforce'")

    parameter = value(EXEMPTIONS_PARAMETER) or DEFAULT_EXEMPTIONS_PARAMETER
    if problem := parameter_name_problem(parameter):
        raise ConfigurationError(f"{EXEMPTIONS_PARAMETER} is not an SSM parameter name: {parameter!r} ({problem})")

    topic_arn = value(SNS_TOPIC_ARN)
    if topic_arn is not None and not _TOPIC_ARN.match(topic_arn):
        raise ConfigurationError(f"{SNS_TOPIC_ARN} is not an SNS topic ARN: {topic_arn!r}")

    webhook_parameter = value(SLACK_WEBHOOK_PARAMETER)
    if webhook_parameter is not None and (problem := parameter_name_problem(webhook_parameter)):
        raise ConfigurationError(
            f"{SLACK_WEBHOOK_PARAMETER} is not an SSM parameter name: {webhook_parameter!r} ({problem})"
        )

    hub_raw = (value(SECURITY_HUB) or "off").lower()
    if hub_raw not in ("on", "off"):
        raise ConfigurationError(f"{SECURITY_HUB} must be 'on' or 'off', got {hub_raw!r}")

    return Settings(
        mode=mode,
        quarantine_policy_arn=policy_arn,
        exemptions_parameter=parameter,
        grace_hours=_grace_hours(value(GRACE_HOURS)),
        sns_topic_arn=topic_arn,
        slack_webhook_parameter=webhook_parameter,
        security_hub=hub_raw == "on",
    )


def _grace_hours(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_GRACE_HOURS
    try:
        hours = float(raw)
    except ValueError:
        raise ConfigurationError(f"{GRACE_HOURS} must be a number of hours, got {raw!r}") from None
    if not 0 <= hours <= MAX_GRACE_HOURS:  # also rejects nan
        raise ConfigurationError(f"{GRACE_HOURS} must be between 0 and {MAX_GRACE_HOURS:g}, got {raw!r}")
    return hours
