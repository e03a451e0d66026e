"""AWS failures as short, secret-free text: what every adapter, finding and log line says about them."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

AWS_ERRORS = (ClientError, BotoCoreError)


def error_text(exc: BaseException) -> str:
    """A short, secret-free description of an AWS failure for findings and logs."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
