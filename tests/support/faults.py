"""Inject AWS errors at the botocore layer, so the bot's real code path meets a real ClientError.

Two places to inject, chosen per fault:

- `before-call` (the default): fires once per operation, before botocore's retry loop. A response
  returned there short-circuits the whole call, so botocore raises the ClientError at once and
  never retries it, whatever the code. Right for errors the bot itself must handle (AccessDenied,
  NoSuchEntity, ReportInProgress...).
- `before-send` (`per_attempt=True`): fires once per HTTP attempt, inside the retry loop. The
  fault is answered as a real error response in the service's wire protocol (query XML for IAM
  and SNS, JSON for SSM and Security Hub), so botocore parses it and its retry handler (standard mode) decides to
  retry throttling and 5xx exactly as it would against AWS. The request is pointed at an
  unroutable URL first, so moto does not also carry out an attempt that "failed".
"""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from botocore.awsrequest import AWSResponse
from botocore.retries.standard import ExponentialBackoff

Rule = Callable[[str, dict[str, Any]], bool]
ANY_OPERATION = "*"
INJECTED_URL = "https://fault-injected.invalid/"


@dataclass
class Fault:
    """Fail `operation` with `code`/`status` while `when(operation, params)` is true, at most `times` times.

    `operation` may be `*` (every operation of the client). With `every=n` only every n-th matching
    call (or attempt) fails. With `per_attempt=True` the fault is answered on the wire, per HTTP
    attempt, so botocore's retry mode sees (and, for throttling and 5xx, retries) it; then
    `max_per_call` caps how many attempts of one call (one botocore invocation id) may fail, which
    keeps "a share of attempts fails" deterministic when calls run in parallel threads.
    """

    operation: str
    code: str
    status: int = 400
    message: str = "injected fault"
    when: Rule = lambda _op, _params: True
    times: int | None = None
    fired: int = 0
    per_attempt: bool = False
    every: int = 1
    seen: int = 0
    max_per_call: int | None = None
    per_call: Counter[str] = field(default_factory=Counter)

    def matches(self, operation: str, params: dict[str, Any], call: str = "") -> bool:
        """True when this call (or attempt) of `operation` is one to fail; counts it."""
        if self.operation not in (operation, ANY_OPERATION) or not self.when(operation, params):
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        if self.max_per_call is not None and self.per_call[call] >= self.max_per_call:
            return False
        self.seen += 1
        if self.seen % max(1, self.every):
            return False
        self.fired += 1
        self.per_call[call] += 1
        return True


@dataclass
class FaultInjector:
    """Attach to a client; every call (and every HTTP attempt) is checked against the faults in order.

    `attempts` counts the HTTP attempts per operation that reached the wire layer (injected or
    not), so a test can prove that botocore retried: attempts exceed calls.
    """

    faults: list[Fault] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self, client: Any) -> FaultInjector:
        client.meta.events.register("before-call", self._before_call)
        model = client.meta.service_model
        protocol = str(model.protocol)

        def before_send(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
            return self._before_send(request, event_name.rsplit(".", 1)[-1], protocol)

        # More specific than moto's generic `before-send` handler, so it runs first.
        client.meta.events.register_first(f"before-send.{model.service_id.hyphenize()}", before_send)
        return self

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def _first_match(
        self, operation: str, params: dict[str, Any], *, per_attempt: bool, call: str = ""
    ) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.per_attempt == per_attempt and fault.matches(operation, params, call):
                    return fault
        return None

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = params.get("body")
        request = body if isinstance(body, dict) else {}
        fault = self._first_match(model.name, request, per_attempt=False)
        if fault is None:
            return None
        response = AWSResponse(url="https://injected.invalid/", status_code=fault.status, headers={}, raw=None)
        parsed = {
            "Error": {"Code": fault.code, "Message": fault.message},
            "ResponseMetadata": {"HTTPStatusCode": fault.status, "RetryAttempts": 0},
        }
        return response, parsed

    def _before_send(self, request: Any, operation: str, protocol: str) -> AWSResponse | None:
        with self._lock:
            self.attempts[operation] += 1
        call = str(request.headers.get("amz-sdk-invocation-id", ""))
        fault = self._first_match(operation, _request_params(request.body, protocol), per_attempt=True, call=call)
        if fault is None:
            return None
        request.url = INJECTED_URL  # moto's stubber ignores this URL: the failed attempt changes nothing
        headers, body = _error_body(protocol, fault)
        return AWSResponse(url=INJECTED_URL, status_code=fault.status, headers=headers, raw=_RawBody(body))


def for_user(name: str) -> Rule:
    """Match calls whose request names this IAM user."""
    return lambda _op, params: params.get("UserName") == name


def throttling(operation: str = ANY_OPERATION, *, every: int = 1, service: str = "iam", **kwargs: Any) -> Fault:
    """A retryable throttling fault on the wire, with the code the service really uses."""
    code = "ThrottlingException" if service in ("ssm",) else "Throttling"
    return Fault(operation, code, 400, "Rate exceeded", per_attempt=True, every=every, **kwargs)


def _request_params(body: Any, protocol: str) -> dict[str, Any]:
    """The request's parameters, decoded from the wire format (flat: enough for `when` rules)."""
    text = body.decode() if isinstance(body, bytes) else (body or "")
    if not isinstance(text, str):
        return {}
    if protocol in ("json", "rest-json"):
        try:
            decoded = json.loads(text) if text else {}
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return dict(parse_qsl(text))


def _error_body(protocol: str, fault: Fault) -> tuple[dict[str, str], bytes]:
    if protocol == "json":
        payload = {"__type": fault.code, "message": fault.message}
        return {"content-type": "application/x-amz-json-1.1", "x-amzn-requestid": "injected"}, json.dumps(
            payload
        ).encode()
    if protocol == "rest-json":  # Security Hub: the error code travels in a header as well as the body
        headers = {"content-type": "application/json", "x-amzn-errortype": fault.code, "x-amzn-requestid": "injected"}
        return headers, json.dumps({"message": fault.message}).encode()
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{fault.code}</Code><Message>{fault.message}</Message>"
        "</Error><RequestId>injected</RequestId></ErrorResponse>"
    )
    return {"content-type": "text/xml"}, xml.encode()


class _RawBody(io.BytesIO):
    """The raw stream AWSResponse reads its content from."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def record_backoff(monkeypatch: Any) -> list[float]:
    """botocore's standard-mode backoff, computed as usual but not slept: the list of delays it chose.

    Retries still happen, attempt by attempt, through botocore's real retry handler; only the
    jittered sleep between attempts (up to 20 s each) is skipped, so a test proves that throttling
    is absorbed without waiting for it.
    """
    delays: list[float] = []
    original = ExponentialBackoff.delay_amount

    def recorded(self: ExponentialBackoff, context: Any) -> float:
        delays.append(original(self, context))
        return 0.0

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", recorded)
    return delays
