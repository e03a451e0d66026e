"""Composition root: settings from the environment, AWS clients built lazily and cached per container.

Clients are created on first use, not at import, so a cold start pays only for what the path
needs, and every client shares one botocore retry policy (standard mode, bounded attempts), which
absorbs IAM's token-bucket throttling.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config

from chalicelib import service
from chalicelib.adapters import notify
from chalicelib.adapters.iam_gateway import IamGateway
from chalicelib.adapters.parameters import ParameterStore
from chalicelib.core import config

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


@functools.cache
def client(service_name: str) -> Any:
    """One cached client per service for the life of the container."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return session().client(service_name, region_name=region, config=RETRY_CONFIG)  # type: ignore[call-overload]


@functools.cache
def _parameter_store() -> ParameterStore:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return ParameterStore(SSMProvider(boto3_client=client("ssm")))


def ports(current: config.Settings) -> service.Ports:
    """Wire the adapters for one invocation (the adapters themselves are cheap; clients are cached)."""
    return service.Ports(
        settings=current,
        iam=IamGateway(client("iam"), current.quarantine_policy_arn),
        parameters=_parameter_store(),
        notifier=notify.build(current, client, _parameter_store()),
    )


def reset() -> None:
    """Forget cached clients and parameters (tests, or after the environment changes)."""
    client.cache_clear()
    session.cache_clear()
    _parameter_store.cache_clear()
