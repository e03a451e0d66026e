"""Security Hub channel: the run's ASFF records (core/asff.py) through BatchImportFindings.

A channel like SNS and Slack behind notify.FanOutNotifier: it runs after enforcement, raises only
ChannelError (counted as NotificationFailures with Channel=securityhub), and never blocks the
others. Throttling, 5xx and connection errors are retried by botocore's standard retry mode
(bootstrap.RETRY_CONFIG); records Security Hub refuses in a 200 answer (`FailedFindings`) are
sent once more, alone, and what still fails is reported by Id and error code.

The role may call BatchImportFindings on the account's own default product ARN only, which is the
only place this channel writes; it never calls BatchUpdateFindings, so findings of other products
(and the customers' own workflow notes on ours) are never touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.adapters.aws_errors import AWS_ERRORS, error_text
from chalicelib.adapters.notify import ChannelError
from chalicelib.core import asff
from chalicelib.core.model import RunResult

if TYPE_CHECKING:
    from mypy_boto3_securityhub import SecurityHubClient
else:
    SecurityHubClient = Any


class SecurityHubNotifier:
    """One BatchImportFindings per 100 records; the refused ones retried once."""

    name = "securityhub"
    PERMISSIONS = ("securityhub:BatchImportFindings",)

    def __init__(self, client: SecurityHubClient, region: str) -> None:
        self._client = client
        self._region = region

    def send(self, result: RunResult) -> None:
        """Import this run's records; stop at the first call the service refuses outright."""
        if result.account_id is None:
            if any(f.type in asff.PROBLEMS for f in result.transitions):
                raise ChannelError("the account id is unknown, so no ProductArn can be built")
            return
        records = asff.records(result, asff.Target(result.account_id, self._region))
        undelivered: list[str] = []
        problem = ""
        chunks = asff.batches(records)
        for index, chunk in enumerate(chunks):
            try:
                failed = self._import(chunk)
            except AWS_ERRORS as exc:
                undelivered += [r["Id"] for c in chunks[index:] for r in c]
                problem = error_text(exc)
                break
            if failed:
                undelivered += [str(f.get("Id", "")) for f in failed]
                problem = f"{failed[0].get('ErrorCode', 'Error')}: {failed[0].get('ErrorMessage', '')}".strip()
        if undelivered:
            raise ChannelError(f"{len(undelivered)} of {len(records)} finding(s) not imported: {problem}")

    def _import(self, chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One call; the records Security Hub failed are sent once more; returns what still failed."""
        answer = self._client.batch_import_findings(Findings=chunk)  # type: ignore[arg-type]
        failed = [dict(f) for f in answer.get("FailedFindings", [])]
        if not failed:
            return []
        again = {f.get("Id") for f in failed}
        retry = [record for record in chunk if record["Id"] in again]
        answer = self._client.batch_import_findings(Findings=retry)  # type: ignore[arg-type]
        return [dict(f) for f in answer.get("FailedFindings", [])]
