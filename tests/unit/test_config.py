"""Settings from the environment: defaults, and one clear error naming the variable for bad values."""

from __future__ import annotations

import pytest

from chalicelib.core import config
from chalicelib.core.model import Mode

ARN = "arn:aws:iam::123456789012:policy/mfa-enforcer-quarantine"


def test_defaults_are_report_mode_without_channels() -> None:
    settings = config.from_env({})
    assert settings == config.Settings(
        mode=Mode.REPORT, exemptions_parameter="/mfa-enforcer/exemptions", grace_hours=24
    )
    assert not settings.enforce


def test_enforce_with_everything_set() -> None:
    settings = config.from_env(
        {
            config.MODE: "ENFORCE",
            config.QUARANTINE_POLICY_ARN: ARN,
            config.GRACE_HOURS: "0.5",
            config.SNS_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:mfa-enforcer",
            config.SLACK_WEBHOOK_PARAMETER: "/mfa-enforcer/slack-webhook",
            config.EXEMPTIONS_PARAMETER: "/org/exemptions",
        }
    )
    assert settings.enforce
    assert settings.grace_hours == 0.5
    assert settings.account_id == "123456789012"


def test_blank_values_count_as_unset() -> None:
    assert config.from_env({config.SNS_TOPIC_ARN: "", config.GRACE_HOURS: " "}).sns_topic_arn is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({config.MODE: "audit"}, "MFA_ENFORCER_MODE must be 'enforce' or 'report', got 'audit'"),
        (
            {config.MODE: "enforce"},
            "MFA_ENFORCER_QUARANTINE_POLICY_ARN is required when MFA_ENFORCER_MODE is 'enforce'",
        ),
        ({config.QUARANTINE_POLICY_ARN: "mfa-enforcer-quarantine"}, "MFA_ENFORCER_QUARANTINE_POLICY_ARN is not an IAM"),
        (
            {config.QUARANTINE_POLICY_ARN: "arn:aws:iam::123:policy/x"},
            "MFA_ENFORCER_QUARANTINE_POLICY_ARN is not an IAM",
        ),
        ({config.GRACE_HOURS: "-1"}, "MFA_ENFORCER_GRACE_HOURS must be between 0 and"),
        ({config.GRACE_HOURS: "nan"}, "MFA_ENFORCER_GRACE_HOURS must be between 0 and"),
        ({config.GRACE_HOURS: "one day"}, "MFA_ENFORCER_GRACE_HOURS must be a number of hours"),
        (
            {config.SNS_TOPIC_ARN: "arn:aws:sqs:us-east-1:123456789012:q"},
            "MFA_ENFORCER_SNS_TOPIC_ARN is not an SNS topic ARN",
        ),
        (
            {config.EXEMPTIONS_PARAMETER: "has spaces/x"},
            "MFA_ENFORCER_EXEMPTIONS_PARAMETER is not an SSM parameter name",
        ),
        ({config.SLACK_WEBHOOK_PARAMETER: "https://hooks"}, "MFA_ENFORCER_SLACK_WEBHOOK_PARAMETER is not an SSM"),
        ({config.SECURITY_HUB: "yes"}, "MFA_ENFORCER_SECURITY_HUB must be 'on' or 'off', got 'yes'"),
        ({config.SECURITY_HUB: "true"}, "MFA_ENFORCER_SECURITY_HUB must be 'on' or 'off'"),
    ],
)
def test_bad_value_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigurationError) as raised:
        config.from_env(env)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(("raw", "on"), [("on", True), ("ON", True), ("off", False), ("", False), (" on ", True)])
def test_security_hub_is_on_or_off(raw: str, on: bool) -> None:
    assert config.from_env({config.SECURITY_HUB: raw}).security_hub is on
    assert config.Settings().security_hub is False
