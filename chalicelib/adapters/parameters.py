"""SSM Parameter Store adapter: the exemptions document and the Slack webhook secret.

Powertools' SSMProvider caches values per container (max_age), so a warm Lambda does not pay a
GetParameter call on every event. A missing exemptions parameter means "no exemptions"; any other
failure is raised, so the caller can fail safe instead of treating it as an empty list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from chalicelib.adapters.aws_errors import error_text

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

CACHE_SECONDS = 300


class ParameterUnavailableError(RuntimeError):
    """SSM could not be read (throttled, denied, KMS...): never the same as 'no exemptions'."""


class ParameterStore:
    """Reads the bot's two parameters through one cached provider."""

    PERMISSIONS = ("ssm:GetParameter",)

    def __init__(self, provider: SSMProvider, *, max_age: int = CACHE_SECONDS) -> None:
        self._provider = provider
        self._max_age = max_age

    def exemptions_text(self, name: str, *, fresh: bool = False) -> str | None:
        """The exemptions document, or None when the parameter does not exist.

        `fresh` skips the container cache: the hourly scan always reads the admin's latest document,
        while the real-time paths accept a copy up to five minutes old to stay within their call budget.
        """
        try:
            return self._get(name, fresh=fresh)
        except _NotFoundError:
            return None

    def secret(self, name: str) -> str:
        """A SecureString value (decrypted); the value never appears in an error message."""
        try:
            value = self._get(name)
        except _NotFoundError:
            raise ParameterUnavailableError(f"parameter {name} does not exist") from None
        if not value.strip():
            raise ParameterUnavailableError(f"parameter {name} is empty")
        return value.strip()

    def _get(self, name: str, *, fresh: bool = False) -> str:
        try:
            value = self._provider.get(name, max_age=self._max_age, decrypt=True, force_fetch=fresh)
        except GetParameterError as exc:
            cause = exc.__context__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") == "ParameterNotFound":
                raise _NotFoundError from None
            detail = error_text(cause) if cause is not None else "unknown error"
            raise ParameterUnavailableError(f"cannot read parameter {name}: {detail}") from None
        return str(value)


class _NotFoundError(LookupError):
    pass
