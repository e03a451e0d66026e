"""A moto server on 127.0.0.1 behind a thin WSGI middleware that counts API calls server-side.

Neither tool's client is touched: both talk plain HTTP to this server through `AWS_ENDPOINT_URL`,
and the middleware names every request `service:Operation` — the service from the SigV4 credential
scope, the operation from `Action=` (query protocol: IAM, STS, SNS) or `X-Amz-Target` (JSON
protocol: SSM). It can also add a fixed latency to every call, to feel like a real account.

Run as a process (`python -m bench.server --users N --seed S --manifest FILE`): it seeds the
account in-process (moto's backend lives here, so users can be aged), writes the seed manifest,
prints `READY <port>` and serves until its standard input closes or its lifetime runs out.
Control endpoints (never counted): GET /_bench/calls, POST /_bench/reset, GET /_bench/quarantined,
POST /_bench/latency?ms=N, POST /_bench/enrol?count=N (MFA for N quarantined users: the release pass).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

CONTROL_PREFIX = "/_bench/"
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
MAX_LIFETIME_S = 3 * 3600

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def operation_of(environ: dict[str, Any], body: bytes) -> str:
    """`service:Operation` of one AWS request, from its signature scope and its protocol's operation field."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(1) if match else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if not action and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode("utf-8", errors="replace")).get("Action")
    if action:
        return f"{service}:{action[0]}"
    return f"{service}:{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"


class CallCounter:
    """Requests and response bytes per `service:Operation`; thread-safe (the server is threaded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()

    def add(self, operation: str, response_bytes: int) -> None:
        """Count one request."""
        with self._lock:
            self.calls[operation] += 1
            self.bytes[operation] += response_bytes

    def snapshot(self) -> dict[str, Any]:
        """Counts so far, as JSON-able data."""
        with self._lock:
            return {
                "calls": dict(sorted(self.calls.items())),
                "bytes": dict(sorted(self.bytes.items())),
                "total": sum(self.calls.values()),
            }

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.calls.clear()
            self.bytes.clear()


class CountingMiddleware:
    """Counts every AWS request by operation, optionally delays it, then hands it to moto unchanged."""

    def __init__(
        self,
        app: WsgiApp,
        counter: CallCounter,
        *,
        latency_ms: float = 0.0,
        control: dict[str, Callable[[dict[str, list[str]]], Any]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app = app
        self.counter = counter
        self.latency_ms = latency_ms
        self.control = dict(control or {})
        self.control.setdefault("calls", lambda _q: counter.snapshot())
        self.control.setdefault("reset", lambda _q: counter.reset() or {"reset": True})
        self.control.setdefault("latency", self._set_latency)
        self._sleep = sleep

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(path[len(CONTROL_PREFIX) :], environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        operation = operation_of(environ, body)
        if self.latency_ms > 0:
            self._sleep(self.latency_ms / 1000)
        response = self.app(environ, start_response)
        try:
            chunks = list(response)
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()
        self.counter.add(operation, sum(len(c) for c in chunks))
        return chunks

    def _set_latency(self, query: dict[str, list[str]]) -> dict[str, float]:
        self.latency_ms = float(query.get("ms", ["0"])[0])
        return {"latency_ms": self.latency_ms}

    def _control(self, name: str, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        handler = self.control.get(name)
        if handler is None:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "unknown control endpoint"}']
        payload = json.dumps(handler(parse_qs(environ.get("QUERY_STRING", "")))).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def start_server(app: WsgiApp, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, threading.Thread, int]:
    """Serve `app` (threaded werkzeug server, moto's request handler, no access log) on a free port."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """No access log: it would cost more than the requests it describes."""

    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    thread.start()
    return server, thread, int(server.server_address[1])


def moto_app() -> WsgiApp:
    """moto's own multi-service WSGI application, exactly as `moto_server` builds it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def main(argv: list[str] | None = None) -> None:
    """Start, seed, announce `READY <port>`, serve until stdin closes (bounded by --lifetime)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--violators", type=int, default=None, help="exactly this many users to quarantine")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--owner-email", action="store_true", help="tag every user with an owner e-mail, verify SES")
    parser.add_argument("--manifest", required=True, help="where to write the seed manifest (JSON)")
    parser.add_argument("--lifetime", type=float, default=MAX_LIFETIME_S, help="seconds before exiting anyway")
    args = parser.parse_args(argv)

    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")

    from bench import seed as seeding

    counter = CallCounter()
    middleware = CountingMiddleware(
        moto_app(),
        counter,
        control={
            "quarantined": lambda _q: sorted(seeding.quarantined_now()),
            "enrol": lambda q: seeding.enrol(int(q.get("count", ["0"])[0])),
        },
    )
    server, thread, port = start_server(middleware)
    endpoint = f"http://127.0.0.1:{port}"
    manifest = seeding.seed_account(
        endpoint, users=args.users, seed=args.seed, violators=args.violators, owner_email=args.owner_email
    )
    Path(args.manifest).write_text(json.dumps(manifest), encoding="utf-8")
    counter.reset()
    middleware.latency_ms = args.latency_ms

    print(f"READY {port}", flush=True)
    watchdog = threading.Timer(args.lifetime, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.start()
    sys.stdin.read()  # the orchestrator closes our stdin when it is done with this account
    watchdog.cancel()
    server.shutdown()
    thread.join(timeout=10)


if __name__ == "__main__":
    main()
