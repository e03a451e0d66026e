"""Inject AWS errors at the botocore layer, so the bot's real code path meets a real ClientError.

A `before-call` handler that returns a response short-circuits the HTTP request; botocore then
raises the ClientError (or retries, for throttling codes) exactly as it would for AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

Rule = Callable[[str, dict[str, Any]], bool]


@dataclass
class Fault:
    """Fail `operation` with `code`/`status` while `when(operation, params)` is true, at most `times` times."""

    operation: str
    code: str
    status: int = 400
    message: str = "injected fault"
    when: Rule = lambda _op, _params: True
    times: int | None = None
    fired: int = 0


@dataclass
class FaultInjector:
    """Attach to a client; every call is checked against the faults in order."""

    faults: list[Fault] = field(default_factory=list)

    def attach(self, client: Any) -> FaultInjector:
        client.meta.events.register("before-call", self._before_call)
        return self

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = params.get("body")
        request = body if isinstance(body, dict) else {}
        for fault in self.faults:
            if fault.operation != model.name or not fault.when(model.name, request):
                continue
            if fault.times is not None and fault.fired >= fault.times:
                continue
            fault.fired += 1
            response = AWSResponse(url="https://injected.invalid/", status_code=fault.status, headers={}, raw=None)
            parsed = {
                "Error": {"Code": fault.code, "Message": fault.message},
                "ResponseMetadata": {"HTTPStatusCode": fault.status, "RetryAttempts": 0},
            }
            return response, parsed
        return None


def for_user(name: str) -> Rule:
    """Match calls whose request names this IAM user."""
    return lambda _op, params: params.get("UserName") == name
