"""Run mfa-enforcer's Lambda handlers exactly as Lambda does, against the benchmark's moto server.

One process per invocation batch, so peak RSS and import cost are this process's own:
`python -m bench.ours scan ...` calls `app.scheduled_scan(event, context)` once (a fresh
container, like the hourly scan); `python -m bench.ours login ...` calls
`app.on_console_login(event, context)` for each event in a file (one warm container handling
a batch). The client is boto3 as the bot builds it; the only change is `AWS_ENDPOINT_URL`, which
boto3 honours. The context is Chalice's LambdaContext with the function's configured timeout
and memory from .chalice/config.json (Chalice's test client would give every handler 3 s).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEDULED_EVENT = ROOT / "tests" / "fixtures" / "eventbridge_scheduled.json"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def bot_environment(endpoint: str, policy_arn: str, parameter: str, ses_sender: str | None = None) -> dict[str, str]:
    """The deployed prod stage's settings, pointed at the moto server (with owner e-mail when a sender is given)."""
    owners = {"MFA_ENFORCER_SES_SENDER": ses_sender} if ses_sender else {}
    return owners | {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "MFA_ENFORCER_MODE": "enforce",
        "MFA_ENFORCER_QUARANTINE_POLICY_ARN": policy_arn,
        "MFA_ENFORCER_EXEMPTIONS_PARAMETER": parameter,
        "POWERTOOLS_SERVICE_NAME": "mfa-enforcer",
    }


def function_settings(name: str) -> tuple[int, int]:
    """(timeout seconds, memory MB) configured for one Lambda in .chalice/config.json."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    settings = config.get("lambda_functions", {}).get(name, {})
    return int(settings.get("lambda_timeout", 60)), int(settings.get("lambda_memory_size", 128))


def calls_so_far(control: str) -> dict[str, int]:
    """Total API calls the server has counted (control endpoint, not itself counted)."""
    with _NO_PROXY.open(f"{control}/_bench/calls", timeout=30) as answer:
        return dict(json.load(answer)["calls"])


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Calls made between two snapshots, by operation."""
    return {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}


def context_for(name: str) -> Any:
    """A Lambda context with the configured timeout, so the scan's time budget is the real one."""
    from chalice.local import LambdaContext

    timeout, memory = function_settings(name)
    return LambdaContext(name, memory_size=memory, max_runtime_ms=timeout * 1000)


def run_scan(write_workers: int | None = None) -> dict[str, Any]:
    """One scheduled scan in this (fresh) process; `write_workers` overrides the bot's pool size (comparison only)."""
    event = json.loads(SCHEDULED_EVENT.read_text())
    started = time.perf_counter()
    import app

    imported = time.perf_counter()
    if write_workers is not None:
        from chalicelib import service

        service.execute = functools.partial(service.execute, workers=write_workers)
    summary = app.scheduled_scan(event, context_for("scheduled_scan"))
    finished = time.perf_counter()
    return {
        "import_s": imported - started,
        "handler_s": finished - imported,
        "writes": summary.get("writes"),
        "left_for_next_run": summary.get("left_for_next_run"),
        "counts": summary.get("counts"),
    }


def run_logins(events_file: str, control: str) -> dict[str, Any]:
    """Every event of every batch through `on_console_login`, with the API calls each one cost."""
    batches: dict[str, list[dict[str, Any]]] = json.loads(Path(events_file).read_text())
    started = time.perf_counter()
    import app

    imported = time.perf_counter()
    handler = getattr(app, "on_console_login", None)
    if handler is None:
        return {"import_s": imported - started, "skipped": "app.on_console_login does not exist yet"}
    per_kind: dict[str, list[dict[str, Any]]] = {}
    for kind, events in batches.items():
        rows = per_kind.setdefault(kind, [])
        for event in events:
            before = calls_so_far(control)
            began = time.perf_counter()
            result = handler(event, context_for("on_console_login"))
            elapsed = time.perf_counter() - began
            operations = delta(before, calls_so_far(control))
            rows.append(
                {
                    "user": event["detail"]["userIdentity"].get("userName"),
                    "calls": sum(operations.values()),
                    "operations": operations,
                    "ms": elapsed * 1000,
                    "result": _short(result),
                }
            )
    return {"import_s": imported - started, "handler_s": time.perf_counter() - imported, "events": per_kind}


def _short(result: Any) -> Any:
    if isinstance(result, dict):
        return {k: result[k] for k in ("trigger", "writes", "counts") if k in result} or str(result)[:200]
    return str(result)[:200]


def main(argv: list[str] | None = None) -> None:
    """Set the environment, run, write the result file; stdout is the bot's own (logs, EMF)."""
    parser = argparse.ArgumentParser(description="run mfa-enforcer handlers against the benchmark server")
    parser.add_argument("mode", choices=("scan", "login"))
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--policy-arn", required=True)
    parser.add_argument("--parameter", default="/mfa-enforcer/exemptions")
    parser.add_argument("--events", help="login batches (JSON), for mode=login")
    parser.add_argument("--out", required=True)
    parser.add_argument("--write-workers", type=int, help="override the scan's write pool size (benchmark only)")
    parser.add_argument("--ses-sender", help="tell owners by e-mail from this (verified) address")
    args = parser.parse_args(argv)
    for key in [k for k in os.environ if k.startswith(("AWS_", "MFA_ENFORCER_"))]:
        del os.environ[key]
    os.environ.update(bot_environment(args.endpoint, args.policy_arn, args.parameter, args.ses_sender))
    sys.path.insert(0, str(ROOT))

    result = run_scan(args.write_workers) if args.mode == "scan" else run_logins(args.events, args.endpoint)
    result["self_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(args.out).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
