"""Composition root: settings from the environment, AWS clients built lazily and cached per container.

Clients are created on first use, not at import, so a cold start pays only for what the path
needs, and every client shares one botocore retry policy (standard mode, bounded attempts), which
absorbs IAM's token-bucket throttling.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from chalicelib import service, tell_owners
from chalicelib.adapters import notify, owner_channels
from chalicelib.adapters.iam_gateway import IamGateway
from chalicelib.adapters.parameters import ParameterStore
from chalicelib.adapters.quarantine_policy import QuarantinePolicyGateway
from chalicelib.core import config

SLACK_RETRY = notify.SlackRetryPolicy()  # owner direct messages; tests swap in one that records its waits
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 6},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="mfa-enforcer",
)


def settings() -> config.Settings:
    """Read the deploy-time settings; raises ConfigurationError naming the bad variable."""
    return config.from_env(os.environ)


@functools.cache
def session() -> boto3.session.Session:
    """One botocore session per container; tests hook its events to record the calls made."""
    return boto3.session.Session()


def now() -> datetime:
    """The one clock every invocation reads (a test replaces it to move time)."""
    return datetime.now(UTC)


def region() -> str:
    """The function's own region."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client(service_name: str, region_name: str | None = None) -> Any:
    """One cached client per service and region (default: the function's own) for the life of the container."""
    return _client(service_name, region_name or region())


@functools.cache
def _client(service_name: str, region_name: str) -> Any:
    return session().client(service_name, region_name=region_name, config=RETRY_CONFIG)  # type: ignore[call-overload]


@functools.cache
def _parameter_store() -> ParameterStore:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return ParameterStore(SSMProvider(boto3_client=client("ssm")))


def ports(current: config.Settings) -> service.Ports:
    """Wire the adapters for one invocation (the adapters themselves are cheap; clients are cached)."""
    arn = current.quarantine_policy_arn
    return service.Ports(
        settings=current,
        iam=IamGateway(client("iam"), arn),
        parameters=_parameter_store(),
        notifier=notify.build(current, client, _parameter_store()),
        clock=lambda: now(),
        owners=owners(current),
        policy=QuarantinePolicyGateway(client("iam"), arn) if arn is not None else None,
    )


def owners(current: config.Settings) -> tell_owners.Owners | None:
    """The owner-notice channels these settings switch on; None when neither is (then nothing is sent).

    Neither channel calls anything here: the SES client and the Slack bot token are fetched on
    first use, so a run with no notice to send costs no extra call.
    """
    settings = current.owners
    if not settings.configured:
        return None
    email = None
    if settings.ses_sender is not None:
        ses_region = settings.ses_region
        email = owner_channels.EmailChannel(lambda: client("ses", ses_region), settings.ses_sender)
    slack = None
    if settings.slack_bot_token_parameter is not None:
        parameter = settings.slack_bot_token_parameter
        slack = owner_channels.SlackDirect(
            lambda: _parameter_store().secret(parameter), settings.slack_api_url, policy=SLACK_RETRY
        )
    return tell_owners.Owners(owner_tag=settings.owner_tag, email=email, slack=slack)


def reset() -> None:
    """Forget cached clients and parameters (tests, or after the environment changes)."""
    _client.cache_clear()
    session.cache_clear()
    _parameter_store.cache_clear()
