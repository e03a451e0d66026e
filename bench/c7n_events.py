"""Cloud Custodian's cloudtrail mode, run locally through its own Lambda entry point.

Runs in bench/.venv (c7n and its pinned boto3 only; nothing from this repository is imported).
A deployed c7n cloudtrail policy is a Lambda whose handler is `c7n.handler.dispatch_event`, which
reads `config.json` from its working directory (what `custodian run` packages as
`{"execution-options": ..., "policies": [policy]}`). This script writes that file into a scratch
directory, changes into it and hands each event to `dispatch_event` with a Lambda-like context:
the same code path as in Lambda, in one warm container. What is not emulated: the Lambda
provisioning itself, CloudWatch metrics/log delivery (c7n writes its outputs under /tmp, as in Lambda).

    bench/.venv/bin/python bench/c7n_events.py --policy P.json --events E.json --control URL --out R.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LambdaContext:
    """The attributes c7n reads from a Lambda context."""

    def __init__(self, function_name: str, timeout_s: int = 60) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def calls_so_far(control: str) -> dict[str, int]:
    with _NO_PROXY.open(f"{control}/_bench/calls", timeout=30) as answer:
        return dict(json.load(answer)["calls"])


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Calls made between two snapshots, by operation."""
    return {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description="c7n cloudtrail mode through c7n.handler.dispatch_event")
    parser.add_argument("--policy", required=True, help="policy file (JSON) with one cloudtrail-mode policy")
    parser.add_argument("--events", required=True, help="login batches (JSON: kind -> events)")
    parser.add_argument("--control", required=True, help="benchmark server URL for per-event call counts")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    policy_data = json.loads(Path(args.policy).read_text())
    batches = json.loads(Path(args.events).read_text())
    out_path = Path(args.out).resolve()
    os.environ.setdefault("C7N_CATCH_ERR", "no")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="c7n-lambda-") as task_root:
        Path(task_root, "config.json").write_text(
            json.dumps({"execution-options": {}, "policies": policy_data["policies"]})
        )
        os.chdir(task_root)
        from c7n import handler

        imported = time.perf_counter()
        per_kind: dict[str, list[dict[str, Any]]] = {}
        for kind, events in batches.items():
            rows = per_kind.setdefault(kind, [])
            for event in events:
                before = calls_so_far(args.control)
                began = time.perf_counter()
                handler.dispatch_event(event, LambdaContext(policy_data["policies"][0]["name"]))
                elapsed = time.perf_counter() - began
                operations = delta(before, calls_so_far(args.control))
                rows.append(
                    {
                        "user": event["detail"]["userIdentity"].get("userName"),
                        "calls": sum(operations.values()),
                        "operations": operations,
                        "ms": elapsed * 1000,
                    }
                )
        finished = time.perf_counter()
    result = {
        "import_s": imported - started,
        "handler_s": finished - imported,
        "events": per_kind,
        "self_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    out_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
