"""`make cli-sandbox`: a seeded, simulated AWS account on 127.0.0.1 to try the `mfa-enforcer` CLI on.

moto runs as a server on a free loopback port; the account gets a handful of users aged past the
24-hour grace period (so quarantines are visible at once), one inside it, an exemptions document
and the quarantine policy and group as the deploy template creates them. The command prints the
environment to use in another terminal, then serves until Ctrl-C. Nothing leaves the machine.

This is a development tool (moto is a development dependency): it lives beside the demo, never in
the package the Lambda or `pip install mfa-enforcer` ships. docs/getting-started.md walks through a
session on it, and tests/functional/test_docs_samples.py runs every CLI sample of the docs against
it.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.support import moto_state as ms

REGION = "us-east-1"
PARAMETER = "/mfa-enforcer/exemptions"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: where it listens and the environment that points the CLI at it."""

    endpoint: str
    environment: dict[str, str]

    def exports(self) -> str:
        """Shell lines to paste into the terminal that runs the CLI."""
        lines = ["unset AWS_PROFILE AWS_SESSION_TOKEN"]
        lines += [f"export {key}={value}" for key, value in self.environment.items()]
        return "\n".join(lines)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(endpoint: str) -> dict[str, str]:
    """What the CLI needs: the endpoint, fake credentials, a region, and the bot's two settings."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        **CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "MFA_ENFORCER_QUARANTINE_POLICY_ARN": ms.QUARANTINE_POLICY_ARN,
        "MFA_ENFORCER_EXEMPTIONS_PARAMETER": PARAMETER,
    }


def seed(iam: Any, ssm: Any, now: datetime) -> list[str]:
    """Nine users: with MFA, without MFA past grace, inside grace, exempt three ways, API-only."""
    specs = [
        ms.UserSpec("alice", mfa=True),
        ms.UserSpec("dave", mfa=True),
        ms.UserSpec("bob", age=timedelta(days=30)),
        ms.UserSpec("old-contractor", age=timedelta(days=300)),
        ms.UserSpec("carol", age=timedelta(hours=2)),
        ms.UserSpec("break-glass", age=timedelta(days=400)),
        ms.UserSpec("vendor-ann", age=timedelta(days=90), groups=("vendors-sso",)),
        ms.UserSpec("kiosk-lobby", age=timedelta(days=60), path="/shared-console/"),
        ms.UserSpec("deploy-bot", console=False, access_key=True),
    ]
    for spec in specs:
        ms.create_user(iam, spec, now)
    document = {
        "version": 1,
        "exemptions": [
            {
                "user": "break-glass",
                "reason": "hardware key in the safe",
                "expires": (now + timedelta(days=200)).date().isoformat(),
                "approved_by": "secops",
            },
            {
                "group": "vendors-sso",
                "reason": "vendor signs in through their IdP",
                "expires": (now + timedelta(days=4)).date().isoformat(),
                "approved_by": "ciso",
            },
            {"path": "/shared-console/", "reason": "lobby kiosk, console locked to one role"},
            {
                "user": "old-contractor",
                "reason": "contract ended",
                "expires": (now - timedelta(days=30)).date().isoformat(),
            },
        ],
    }
    ssm.put_parameter(Name=PARAMETER, Value=json.dumps(document), Type="String")
    ms.age_parameter(PARAMETER, timedelta(days=30))  # in place long before the session: whom it exempts is old news
    return [spec.name for spec in specs]


@contextmanager
def serve(port: int | None = None, *, now: datetime | None = None) -> Iterator[Sandbox]:
    """Start moto on 127.0.0.1, seed it, and yield the sandbox; stops the server on exit.

    The server shares moto's in-process backend, which is how users are aged past the grace period
    (moto stamps them with the real clock) and how the additions moto lacks are made: a real-format
    <root_account> row in the credential report, the 10-managed-policy quota, and the execution
    role's once-only quarantine tag.
    """
    port = port or free_port()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log: the terminal is for the session
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    patch = pytest.MonkeyPatch()
    try:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
        with ms.serve_report(patch, with_root=ms.root_row(mfa=True)):
            ms.enforce_policy_quota(patch)
            ms.enforce_claim_condition(patch)
            clients = {"region_name": REGION, "endpoint_url": endpoint}
            keys = {"aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"]}
            keys["aws_secret_access_key"] = CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
            iam = boto3.client("iam", **clients, **keys)
            ssm = boto3.client("ssm", **clients, **keys)
            ms.create_quarantine_policy(iam)
            seed(iam, ssm, now or datetime.now(UTC))
            yield Sandbox(endpoint=endpoint, environment=environment(endpoint))
    finally:
        patch.undo()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted, after printing the environment to use."""
    parser = argparse.ArgumentParser(prog="make cli-sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="listen on this port (default: a free one)")
    args = parser.parse_args(argv)
    with serve(args.port) as sandbox:
        print(f"A simulated AWS account (123456789012) is listening on {sandbox.endpoint}.", flush=True)
        print("In another terminal, from the repository root, point the CLI at it:\n", flush=True)
        print(sandbox.exports(), flush=True)
        print('export PATH="$PWD/.venv/bin:$PATH"\n', flush=True)
        print("then try: mfa-enforcer scan   (docs/getting-started.md has the whole session)", flush=True)
        print("Stop with Ctrl-C; the account is gone when the sandbox stops.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nsandbox stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
