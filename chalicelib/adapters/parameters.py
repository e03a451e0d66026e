"""SSM Parameter Store adapter: the exemptions document (with its version) and the Slack webhook secret.

Powertools' SSMProvider caches values per container (max_age), so a warm Lambda does not pay a
GetParameter call on every event. Its `get` returns only the value, while the bot must also know
which version it enforces (an invalid newest version falls back to the newest valid one), so the
exemptions are read through a small SSMProvider subclass that keeps the version and the time it
was written alongside the value, in the same Powertools cache. The parameter's history
(GetParameterHistory) is read only when the shell asks, that is only when the newest version is
invalid; single earlier versions (GetParameter `name:version`) only when the document in force
changed since the previous scan. A missing exemptions parameter means "no exemptions"; any other
failure is raised, so the caller can fail safe instead of treating it as an empty list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from chalicelib.adapters.aws_errors import AWS_ERRORS, error_text
from chalicelib.core.exemptions import Version

if TYPE_CHECKING:
    from mypy_boto3_ssm.client import SSMClient
else:
    SSMClient = Any

CACHE_SECONDS = 300


class ParameterUnavailableError(RuntimeError):
    """SSM could not be read (throttled, denied, KMS...): never the same as 'no exemptions'."""


class VersionedSSMProvider(SSMProvider):
    """Powertools' SSMProvider, returning the parameter's value, version and modification time together."""

    def _get(self, name: str, decrypt: bool = False, **sdk_options: Any) -> dict[str, Any]:  # type: ignore[override]
        parameter = self.client.get_parameter(Name=name, WithDecryption=decrypt, **sdk_options)["Parameter"]
        return {
            "Value": parameter["Value"],
            "Version": parameter["Version"],
            "LastModifiedDate": parameter.get("LastModifiedDate"),
        }


class ParameterStore:
    """Reads the bot's two parameters through cached providers."""

    PERMISSIONS = ("ssm:GetParameter", "ssm:GetParameterHistory")

    def __init__(
        self, provider: SSMProvider, *, max_age: int = CACHE_SECONDS, versioned: SSMProvider | None = None
    ) -> None:
        self._provider = provider
        self._versioned = versioned or VersionedSSMProvider(boto3_client=provider.client)
        self._max_age = max_age

    def exemptions(self, name: str, *, fresh: bool = False) -> Version | None:
        """The newest version of the exemptions document, or None when the parameter does not exist.

        `fresh` skips the container cache: the hourly scan always reads the admin's latest document,
        while the real-time paths accept a copy up to five minutes old to stay within their call budget.
        """
        try:
            answer = self._fetch(self._versioned, name, fresh=fresh)
        except _NotFoundError:
            return None
        if not isinstance(answer, dict):  # pragma: no cover - VersionedSSMProvider always answers a dict
            raise ParameterUnavailableError(f"cannot read parameter {name}: unexpected answer")
        return Version(int(answer["Version"]), str(answer["Value"]), _utc(answer.get("LastModifiedDate")))

    def version(self, name: str, number: int) -> Version | None:
        """One stored version (GetParameter `name:number`; versions never change, so the cache is safe).

        None when SSM no longer keeps it (it keeps the last 100).
        """
        try:
            answer = self._fetch(self._versioned, f"{name}:{number}")
        except _NotFoundError:
            return None
        if not isinstance(answer, dict):  # pragma: no cover - VersionedSSMProvider always answers a dict
            raise ParameterUnavailableError(f"cannot read parameter {name}: unexpected answer")
        return Version(int(answer["Version"]), str(answer["Value"]), _utc(answer.get("LastModifiedDate")))

    def history(self, name: str) -> tuple[Version, ...]:
        """Every version SSM still keeps (the last 100), oldest first: GetParameterHistory, paginated, decrypted."""
        client: SSMClient = self._provider.client
        found: list[Version] = []
        try:
            for page in client.get_paginator("get_parameter_history").paginate(Name=name, WithDecryption=True):
                found.extend(
                    Version(int(p["Version"]), str(p.get("Value", "")), _utc(p.get("LastModifiedDate")))
                    for p in page.get("Parameters", [])
                )
        except AWS_ERRORS as exc:
            raise ParameterUnavailableError(f"cannot read the history of parameter {name}: {error_text(exc)}") from None
        return tuple(sorted(found, key=lambda v: v.number))

    def secret(self, name: str) -> str:
        """A SecureString value (decrypted); the value never appears in an error message."""
        try:
            value = self._fetch(self._provider, name)
        except _NotFoundError:
            raise ParameterUnavailableError(f"parameter {name} does not exist") from None
        text = str(value)
        if not text.strip():
            raise ParameterUnavailableError(f"parameter {name} is empty")
        return text.strip()

    def _fetch(self, provider: SSMProvider, name: str, *, fresh: bool = False) -> object:
        try:
            return provider.get(name, max_age=self._max_age, decrypt=True, force_fetch=fresh)
        except GetParameterError as exc:
            cause = exc.__context__
            code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
            if code in ("ParameterNotFound", "ParameterVersionNotFound"):
                raise _NotFoundError from None
            detail = error_text(cause) if cause is not None else "unknown error"
            raise ParameterUnavailableError(f"cannot read parameter {name}: {detail}") from None


class _NotFoundError(LookupError):
    pass


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
