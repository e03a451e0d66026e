"""Composition root of the CLI: the caller's AWS session, clients, settings and the core's Ports.

The Lambda composes its Ports in bootstrap.py from the execution role; the CLI does the same from
the operator's credentials (profile, region, optional endpoint for moto), with the same botocore
retry policy, so both shells run one core against one SDK configuration. This module, like
bootstrap.py, is allowed to import boto3.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chalicelib import observability
from chalicelib.adapters.aws_errors import error_text
from chalicelib.adapters.parameters import ParameterStore
from chalicelib.bootstrap import RETRY_CONFIG
from chalicelib.cli.errors import CliError
from chalicelib.core import config
from chalicelib.core.model import Mode


@dataclass(frozen=True)
class AwsOptions:
    """How to reach AWS, as given on the command line (None: boto3's usual lookup)."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


@dataclass
class Aws:
    """One boto3 session and its clients for one CLI invocation."""

    session: boto3.session.Session
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        """The region SSM calls go to (the exemptions parameter is regional).

        boto3 reads AWS_DEFAULT_REGION and the profile; AWS_REGION (what Lambda and the AWS CLI v2 set)
        is honoured too, as bootstrap.py does.
        """
        region = self.session.region_name or os.environ.get("AWS_REGION", "").strip()
        if not region:
            raise CliError("no AWS region: pass --region, or set AWS_REGION / AWS_DEFAULT_REGION or a profile region")
        return region

    def client(self, name: str) -> Any:
        """A cached client with the Lambda's retry policy, pointed at --endpoint-url when given."""
        if name not in self._clients:
            self._clients[name] = self.session.client(  # type: ignore[call-overload]
                name, region_name=self.region, endpoint_url=self.endpoint_url, config=RETRY_CONFIG
            )
        return self._clients[name]

    def account_id(self) -> str:
        """The account the credentials belong to (STS GetCallerIdentity needs no permission)."""
        try:
            return str(self.client("sts").get_caller_identity()["Account"])
        except ClientError as exc:
            raise CliError(f"cannot identify the AWS account: {error_text(exc)}") from None


Connect = Callable[[AwsOptions], Aws]


def connect(options: AwsOptions) -> Aws:
    """Build the session the standard way; a missing profile is reported by boto3 as ProfileNotFound."""
    session = boto3.session.Session(profile_name=options.profile, region_name=options.region)
    return Aws(session=session, endpoint_url=options.endpoint_url)


def settings(
    env: Mapping[str, str],
    *,
    mode: Mode = Mode.REPORT,
    quarantine_policy_arn: str | None = None,
    exemptions_parameter: str | None = None,
) -> config.Settings:
    """The Lambda's Settings, from the same variables, with command-line flags taking precedence.

    Going through config.from_env gives flags exactly the Lambda's validation and messages.
    """
    merged = dict(env)
    merged[config.MODE] = mode.value
    if quarantine_policy_arn is not None:
        merged[config.QUARANTINE_POLICY_ARN] = quarantine_policy_arn
    if exemptions_parameter is not None:
        merged[config.EXEMPTIONS_PARAMETER] = exemptions_parameter
    try:
        return config.from_env(merged)
    except config.ConfigurationError as exc:
        raise CliError(f"configuration: {exc} (flags override the variable)") from None


def parameter_store(aws: Aws) -> ParameterStore:
    """The Lambda's parameter adapter over the operator's SSM client, without the 5-minute cache."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return ParameterStore(SSMProvider(boto3_client=aws.client("ssm")), max_age=1)


@contextlib.contextmanager
def lambda_telemetry(verbose: bool) -> Iterator[None]:
    """Keep the core's Lambda telemetry off the CLI's stdout while it runs.

    The core logs JSON through Powertools (a handler bound to stdout) and prints EMF metrics with
    print(); in a terminal both are noise, and they would corrupt `--format json`. With --verbose
    the logs go to stderr; otherwise only errors do, and metrics are dropped. Restored on exit,
    because the logger is shared with everything else in the process (tests included).
    """
    logger = observability.logger
    handler = logger.registered_handler
    stream_handler = handler if isinstance(handler, logging.StreamHandler) else None
    old_level = logger.log_level
    old_stream = stream_handler.setStream(sys.stderr) if stream_handler is not None else None
    logger.setLevel("INFO" if verbose else "ERROR")
    metrics_sink = sys.stderr if verbose else io.StringIO()
    try:
        with contextlib.redirect_stdout(metrics_sink):
            yield
    finally:
        logger.setLevel(old_level)
        if stream_handler is not None and old_stream is not None:
            stream_handler.setStream(old_stream)
