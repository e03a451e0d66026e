"""Deploy-time settings, read once from the environment into one frozen value.

This is the only module that names the environment variables, so the docs/configuration.md table, the
Chalice config and the code cannot drift apart without a test noticing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from chalicelib.core import contacts
from chalicelib.core.model import BOT_TAG_PREFIX, Mode

MODE = "MFA_ENFORCER_MODE"
QUARANTINE_POLICY_ARN = "MFA_ENFORCER_QUARANTINE_POLICY_ARN"
EXEMPTIONS_PARAMETER = "MFA_ENFORCER_EXEMPTIONS_PARAMETER"
GRACE_HOURS = "MFA_ENFORCER_GRACE_HOURS"
SNS_TOPIC_ARN = "MFA_ENFORCER_SNS_TOPIC_ARN"
SLACK_WEBHOOK_PARAMETER = "MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER"
SECURITY_HUB = "MFA_ENFORCER_SECURITY_HUB"
OWNER_TAG = "MFA_ENFORCER_OWNER_TAG"
SES_SENDER = "MFA_ENFORCER_SES_SENDER"
SES_REGION = "MFA_ENFORCER_SES_REGION"
SLACK_BOT_TOKEN_PARAMETER = "MFA_ENFORCER_SLACK_BOT_TOKEN_PARAMETER"
SLACK_API_URL = "MFA_ENFORCER_SLACK_API_URL"
REMINDER_HOURS = "MFA_ENFORCER_REMINDER_HOURS"
OWNER_NOTICES_IN_REPORT_MODE = "MFA_ENFORCER_OWNER_NOTICES_IN_REPORT_MODE"
BOT_ROLE_NAMES = "MFA_ENFORCER_BOT_ROLE_NAMES"

DEFAULT_EXEMPTIONS_PARAMETER = "/mfa-enforcer/exemptions"
DEFAULT_GRACE_HOURS = 24.0
MAX_GRACE_HOURS = 24.0 * 365
DEFAULT_OWNER_TAG = "email"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_REMINDER_HOURS = (24.0,)
MAX_REMINDERS = 6
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_PARTITION = r"aws(?:-cn|-us-gov|-iso|-iso-b)?"
_POLICY_ARN = re.compile(rf"^arn:{_PARTITION}:iam::\d{{12}}:policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{{1,128}}$")
_TOPIC_ARN = re.compile(rf"^arn:{_PARTITION}:sns:[a-z0-9-]+:\d{{12}}:[\w-]{{1,256}}(?:\.fifo)?$")
_PARAMETER_NAME = re.compile(r"^(?:/[\w.-]+)+$|^[\w.-]+$")
MAX_PARAMETER_NAME = 1011
MAX_PARAMETER_LEVELS = 15
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")
_TAG_KEY = re.compile(r"^[A-Za-z0-9 _.:/=+@-]{1,128}$")  # IAM's tag-key characters, ASCII only
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


class ConfigurationError(ValueError):
    """A deploy-time setting is wrong; the message names the variable and never its secret."""


@dataclass(frozen=True)
class OwnerNotices:
    """How the IAM user's owner is told (design.md part 2, "Owner notices"); nothing configured: not at all.

    A channel is on when its setting is: e-mail with `ses_sender`, Slack direct messages with
    `slack_bot_token_parameter`. `reminder_hours` is sorted longest first, without repeats.
    """

    owner_tag: str = DEFAULT_OWNER_TAG
    ses_sender: str | None = None
    ses_region: str | None = None  # None: the function's own region
    slack_bot_token_parameter: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    reminder_hours: tuple[float, ...] = DEFAULT_REMINDER_HOURS
    in_report_mode: bool = False

    @property
    def configured(self) -> bool:
        """True when at least one channel can reach an owner."""
        return self.ses_sender is not None or self.slack_bot_token_parameter is not None


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
    owners: OwnerNotices = field(default_factory=OwnerNotices)
    bot_role_names: tuple[str, ...] = ()  # the deployment's own roles, when named outright (core.own_roles)

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
        owners=_owner_notices(value),
        bot_role_names=_role_names(value(BOT_ROLE_NAMES)),
    )


def _role_names(raw: str | None) -> tuple[str, ...]:
    """A comma list of IAM role names; blanks between commas are ignored, anything IAM would refuse is an error."""
    if raw is None:
        return ()
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    bad = [name for name in names if not _ROLE_NAME.match(name)]
    if bad:
        raise ConfigurationError(f"{BOT_ROLE_NAMES} must be a comma list of IAM role names, got {bad[0]!r}")
    return names


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


def _owner_notices(value: Callable[[str], str | None]) -> OwnerNotices:
    """The owner-notice settings; each refused value names its variable (and never a secret)."""
    tag = value(OWNER_TAG) or DEFAULT_OWNER_TAG
    if not _TAG_KEY.match(tag) or tag.casefold().startswith(("aws:", BOT_TAG_PREFIX)):
        raise ConfigurationError(f"{OWNER_TAG} is not an IAM tag key the bot may read contacts from: {tag!r}")

    sender = value(SES_SENDER)
    if sender is not None and not contacts.is_email(sender):
        raise ConfigurationError(f"{SES_SENDER} must be a plain e-mail address (a verified SES identity): {sender!r}")

    region = value(SES_REGION)
    if region is not None and not _REGION.match(region):
        raise ConfigurationError(f"{SES_REGION} is not an AWS region name: {region!r}")

    token_parameter = value(SLACK_BOT_TOKEN_PARAMETER)
    if token_parameter is not None and token_parameter.startswith("xox"):  # the token itself: never quoted back
        raise ConfigurationError(
            f"{SLACK_BOT_TOKEN_PARAMETER} holds what looks like a Slack token, not the name of the SSM SecureString "
            "that holds it; store the token in Parameter Store and name the parameter here"
        )
    if token_parameter is not None and (problem := parameter_name_problem(token_parameter)):
        raise ConfigurationError(
            f"{SLACK_BOT_TOKEN_PARAMETER} is not an SSM parameter name: {token_parameter!r} ({problem})"
        )

    switch = (value(OWNER_NOTICES_IN_REPORT_MODE) or "off").lower()
    if switch not in ("on", "off"):
        raise ConfigurationError(f"{OWNER_NOTICES_IN_REPORT_MODE} must be 'on' or 'off', got {switch!r}")

    return OwnerNotices(
        owner_tag=tag,
        ses_sender=sender,
        ses_region=region,
        slack_bot_token_parameter=token_parameter,
        slack_api_url=_slack_api_url(value(SLACK_API_URL)),
        reminder_hours=_reminder_hours(value(REMINDER_HOURS)),
        in_report_mode=switch == "on",
    )


def https_or_loopback(url: str) -> bool:
    """An https URL with a host, or plain http to this machine only (local catchers in tests and the demo)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def _slack_api_url(raw: str | None) -> str:
    if raw is None:
        return DEFAULT_SLACK_API_URL
    if not https_or_loopback(raw) or any(ch.isspace() for ch in raw) or urlsplit(raw).query:
        raise ConfigurationError(f"{SLACK_API_URL} must be an https:// URL (plain http only to loopback): {raw!r}")
    return raw if raw.endswith("/") else raw + "/"


def _reminder_hours(raw: str | None) -> tuple[float, ...]:
    """`24` or a comma list such as `72,24,1`: positive hours, at most MAX_REMINDERS of them."""
    if raw is None:
        return DEFAULT_REMINDER_HOURS
    hours: set[float] = set()
    for item in raw.split(","):
        try:
            hour = round(float(item.strip()), 6)  # the record on the user writes six decimals at most
        except (ValueError, OverflowError):
            raise ConfigurationError(f"{REMINDER_HOURS} must be hours separated by commas, got {raw!r}") from None
        if not 0 < hour <= MAX_GRACE_HOURS:  # also rejects nan
            raise ConfigurationError(
                f"{REMINDER_HOURS} values must be above 0 and at most {MAX_GRACE_HOURS:g}, got {raw!r}"
            )
        hours.add(hour)
    if len(hours) > MAX_REMINDERS:
        raise ConfigurationError(f"{REMINDER_HOURS} allows at most {MAX_REMINDERS} reminders, got {raw!r}")
    return tuple(sorted(hours, reverse=True))
