"""`python -m bench.run`: mfa-enforcer vs Cloud Custodian on identical seeded moto accounts.

For each size N and each run, every scenario gets a fresh server seeded with the same seed, so
every first pass is a first pass:

- ours scan: `scheduled_scan` in a fresh process (first pass), then again in another fresh process
  (steady state: nothing changed; the hourly scan usually lands in a new container), then, after
  `--releases` quarantined users enrol MFA, once more (the release pass: each release is confirmed
  live with ListMFADevices before the detach);
- c7n scan: `custodian run` (pull mode) twice, the same way;
- ours login / c7n login: batches of real-format ConsoleLogin events (violators, compliant users,
  no-action users) through `app.on_console_login` and through c7n's cloudtrail-mode Lambda handler.

Every runner is its own process: wall time is measured around it, peak RSS is its ru_maxrss
(os.wait4), API calls are counted by the server. Results: bench/results/results.{json,md};
logs and raw data: bench/results/tmp/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import c7n_policy, events, report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BENCH_VENV = ROOT / "bench" / ".venv"
CHILD_TIMEOUT_S = 1800
SERVER_START_TIMEOUT_S = 300
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Child:
    """One finished runner process."""

    wall_s: float
    maxrss_mb: float
    returncode: int
    log: str
    result: dict[str, Any] = field(default_factory=dict)


def run_child(cmd: Sequence[str], env: dict[str, str], log: Path, out: Path | None = None) -> Child:
    """Run one process to the end (bounded), with its wall time and its own peak RSS."""
    with log.open("w") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
        killer = threading.Timer(CHILD_TIMEOUT_S, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = json.loads(out.read_text()) if out is not None and out.exists() and proc.returncode == 0 else {}
    return Child(wall, usage.ru_maxrss / 1024, proc.returncode, str(log.relative_to(ROOT)), result)


@dataclass
class Account:
    """A running benchmark server with its seeded account."""

    endpoint: str
    manifest: dict[str, Any]

    def _get(self, name: str) -> Any:
        with _NO_PROXY.open(f"{self.endpoint}/_bench/{name}", timeout=60) as answer:
            return json.load(answer)

    def calls(self) -> dict[str, Any]:
        """Calls counted since the last reset."""
        return dict(self._get("calls"))

    def reset(self) -> None:
        """Count from zero."""
        self._get("reset")

    def quarantined(self) -> set[str]:
        """Who holds the quarantine policy now."""
        return set(self._get("quarantined"))

    def enrol(self, count: int) -> set[str]:
        """Give `count` quarantined users an MFA device; who they are."""
        return set(self._get(f"enrol?count={count}"))

    def correctness(self, expected: set[str]) -> dict[str, Any]:
        """False positives and negatives of the current quarantined set against `expected`."""
        held = self.quarantined()
        return {
            "expected": len(expected),
            "quarantined": len(held),
            "false_positives": sorted(held - expected),
            "false_negatives": sorted(expected - held),
        }


@contextmanager
def account(
    workdir: Path,
    users: int,
    seed: int,
    *,
    violators: int | None = None,
    latency_ms: float = 0.0,
    owner_email: bool = False,
) -> Iterator[Account]:
    """A fresh moto server on a free 127.0.0.1 port, seeded; stopped (and waited for) afterwards."""
    manifest_path = workdir / "manifest.json"
    cmd = [sys.executable, "-m", "bench.server", "--users", str(users), "--seed", str(seed)]
    cmd += ["--manifest", str(manifest_path), "--latency-ms", str(latency_ms)]
    if violators is not None:
        cmd += ["--violators", str(violators)]
    if owner_email:
        cmd += ["--owner-email"]
    log = (workdir / "server.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        killer = threading.Timer(SERVER_START_TIMEOUT_S, proc.kill)
        killer.start()
        line = proc.stdout.readline() if proc.stdout is not None else ""
        killer.cancel()
        match = re.fullmatch(r"READY (\d+)\s*", line)
        if match is None:
            raise RuntimeError(f"benchmark server did not start; see {workdir / 'server.log'}")
        yield Account(f"http://127.0.0.1:{match.group(1)}", json.loads(manifest_path.read_text()))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def child_env(endpoint: str) -> dict[str, str]:
    """A clean environment for a runner: no inherited AWS or bot settings, loopback never proxied."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MFA_ENFORCER_", "POWERTOOLS_"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def measured(acct: Account, child: Child, expected: set[str]) -> dict[str, Any]:
    """A pass's figures: process wall and RSS, API calls by operation, correctness."""
    calls = acct.calls()
    acct.reset()
    return {
        "wall_s": round(child.wall_s, 3),
        "maxrss_mb": round(child.maxrss_mb, 1),
        "returncode": child.returncode,
        "log": child.log,
        "calls": calls["calls"],
        "bytes": calls["bytes"],
        "total_calls": calls["total"],
        "correctness": acct.correctness(expected),
        "runner": child.result,
    }


def ours_scan(
    acct: Account, workdir: Path, passes: int, write_workers: int | None = None, releases: int = 0
) -> list[dict[str, Any]]:
    """`scheduled_scan`, each pass in a fresh process; with `releases`, one more pass after that many enrol MFA."""
    expected = set(acct.manifest["expected"])
    out = []
    for n in range(1, passes + 1 + bool(releases)):
        if releases and n == passes + 1:
            expected -= acct.enrol(releases)
            acct.reset()
        result = workdir / f"ours-scan-{n}.json"
        cmd = [sys.executable, "-m", "bench.ours", "scan", "--endpoint", acct.endpoint]
        cmd += ["--policy-arn", acct.manifest["policy_arn"], "--out", str(result)]
        if write_workers is not None:
            cmd += ["--write-workers", str(write_workers)]
        if acct.manifest.get("owner_sender"):
            cmd += ["--ses-sender", acct.manifest["owner_sender"]]
        child = run_child(cmd, child_env(acct.endpoint), workdir / f"ours-scan-{n}.log", result)
        out.append(measured(acct, child, expected))
    return out


def c7n_scan(
    acct: Account, workdir: Path, passes: int, *, with_release: bool, releases: int = 0
) -> list[dict[str, Any]]:
    """`custodian run` (pull mode), each pass in a fresh process; the release pass only with its release policy."""
    policy = workdir / "c7n-scan.yml"
    policy.write_text(json.dumps(c7n_policy.scan_policies(acct.manifest, with_release=with_release), indent=1))
    expected = set(acct.manifest["expected"])
    out = []
    release_pass = bool(releases) and with_release
    for n in range(1, passes + 1 + release_pass):
        if release_pass and n == passes + 1:
            expected -= acct.enrol(releases)
            acct.reset()
        output_dir = workdir / f"c7n-out-{n}"
        cmd = [str(BENCH_VENV / "bin" / "custodian"), "run", "-s", str(output_dir), "--cache", "memory"]
        cmd += ["-r", "us-east-1", str(policy)]
        child = run_child(cmd, child_env(acct.endpoint), workdir / f"c7n-scan-{n}.log")
        out.append(measured(acct, child, expected))
    return out


def logins(acct: Account, workdir: Path, per_batch: int, *, tool: str) -> dict[str, Any]:
    """A batch of ConsoleLogin events through our handler or c7n's cloudtrail-mode handler."""
    batches = events.batches(acct.manifest["plan"], per_batch, acct.manifest["seed"])
    events_file = workdir / "events.json"
    events_file.write_text(json.dumps(batches))
    expected = {e["detail"]["userIdentity"]["userName"] for e in batches["violator"]}
    result = workdir / f"{tool}-login.json"
    if tool == "ours":
        cmd = [sys.executable, "-m", "bench.ours", "login", "--endpoint", acct.endpoint]
        cmd += ["--policy-arn", acct.manifest["policy_arn"], "--events", str(events_file), "--out", str(result)]
    else:
        policy = workdir / "c7n-login.json"
        policy.write_text(json.dumps(c7n_policy.login_policy(acct.manifest), indent=1))
        cmd = [str(BENCH_VENV / "bin" / "python"), str(ROOT / "bench" / "c7n_events.py"), "--policy", str(policy)]
        cmd += ["--events", str(events_file), "--control", acct.endpoint, "--out", str(result)]
    child = run_child(cmd, child_env(acct.endpoint), workdir / f"{tool}-login.log", result)
    return measured(acct, child, expected)


def import_time(runs: int = 5) -> dict[str, Any]:
    """`python -X importtime -c "import app"` in fresh interpreters: total and the top offenders."""
    env = child_env("http://127.0.0.1:9")
    totals: list[float] = []
    cpu: list[float] = []
    tables = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import app"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        table = report.parse_importtime(proc.stderr)
        totals.append(table["app"]["cumulative_us"] / 1e6 if "app" in table else float("nan"))
        tables.append(table)
        cpu.append(_cpu_seconds("import app", env) - _cpu_seconds("pass", env))
    median_run = tables[totals.index(statistics.median_low(totals))]
    return {
        "runs": [round(t, 3) for t in totals],
        "median_s": round(statistics.median(totals), 3),
        "cpu_runs": [round(t, 3) for t in cpu],
        "cpu_median_s": round(statistics.median(cpu), 3),
        "top": report.top_imports(median_run),
    }


def _cpu_seconds(statement: str, env: dict[str, str]) -> float:
    """CPU time (user + system) of a fresh interpreter running `statement`: insensitive to other load."""
    code = f"import resource as r; {statement}; u = r.getrusage(r.RUSAGE_SELF); print(u.ru_utime + u.ru_stime)"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return float(proc.stdout.strip())


def bench_size(users: int, runs: int, args: argparse.Namespace, workroot: Path) -> dict[str, Any]:
    """All scenarios for one N, `runs` times each, each on a freshly seeded account."""
    out: dict[str, Any] = {"users": users, "runs": []}
    for run in range(1, runs + 1):
        one: dict[str, Any] = {}
        scenarios = [("ours_scan", "ours"), ("ours_login", "ours")]
        if not args.no_c7n:
            scenarios += [("c7n_scan", "c7n"), ("c7n_login", "c7n")]
        for scenario, tool in scenarios:
            workdir = workroot / f"n{users}" / f"run{run}" / scenario
            workdir.mkdir(parents=True, exist_ok=True)
            began = time.perf_counter()
            owners = args.owner_notices and scenario == "ours_scan"
            with account(workdir, users, args.seed, owner_email=owners) as acct:
                out.setdefault("mix", acct.manifest["mix"])
                out.setdefault("exempt_groups", acct.manifest.get("exempt_groups", 1))
                if scenario == "ours_scan":
                    one[scenario] = ours_scan(acct, workdir, args.passes, releases=args.releases)
                elif scenario == "c7n_scan":
                    one[scenario] = c7n_scan(
                        acct, workdir, args.passes, with_release=args.c7n_release, releases=args.releases
                    )
                else:
                    one[scenario] = logins(acct, workdir, args.events, tool=tool)
            _say(f"N={users} run {run}/{runs} {scenario}: {time.perf_counter() - began:.1f}s")
        out["runs"].append(one)
    return out


def bench_latency(args: argparse.Namespace, workroot: Path, write_workers: int | None) -> dict[str, Any]:
    """5,000 users, exactly K violators, every call delayed: the first scan as a real account feels it.

    `write_workers` None runs the bot as it is; a number overrides its write pool (a comparison only).
    """
    out: dict[str, Any] = {
        "users": args.latency_users,
        "violators": args.latency_violators,
        "latency_ms": args.latency_ms,
        "write_workers": write_workers,
        "runs": [],
    }
    label = "bot default" if write_workers is None else f"{write_workers} worker(s)"
    for run in range(1, args.latency_runs + 1):
        workdir = workroot / "latency" / f"workers-{write_workers or 'default'}" / f"run{run}"
        workdir.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        with account(
            workdir, args.latency_users, args.seed, violators=args.latency_violators, latency_ms=args.latency_ms
        ) as acct:
            out.setdefault("mix", acct.manifest["mix"])
            out["runs"].append(ours_scan(acct, workdir, 2, write_workers))
        _say(f"latency ({label}) run {run}/{args.latency_runs}: {time.perf_counter() - began:.1f}s")
    return out


def _say(text: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write bench/results/results.{json,md}."""
    parser = argparse.ArgumentParser(description="mfa-enforcer vs Cloud Custodian on a seeded moto account")
    parser.add_argument("--sizes", default="100,1000,5000", help="comma-separated user counts")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (median reported)")
    parser.add_argument("--passes", type=int, default=2, help="scan passes per run (1 = first, 2 = + steady state)")
    parser.add_argument("--events", type=int, default=25, help="ConsoleLogin events per kind per run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-c7n", action="store_true", help="skip Cloud Custodian (no bench/.venv needed)")
    parser.add_argument("--c7n-release", action="store_true", help="also give c7n the release policy (MFA -> detach)")
    parser.add_argument(
        "--releases",
        type=int,
        default=10,
        help="after the passes, enrol MFA for this many quarantined users and scan again",
    )
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--latency-users", type=int, default=5000)
    parser.add_argument("--latency-violators", type=int, default=1250)
    parser.add_argument("--latency-runs", type=int, default=0, help="runs of the latency scenario (0: skip)")
    parser.add_argument(
        "--latency-write-workers",
        default="",
        help="also run the latency scenario with these write-pool sizes (comma-separated; comparison only)",
    )
    parser.add_argument(
        "--owner-notices", action="store_true", help="tag every user with an owner e-mail and configure SES (ours only)"
    )
    parser.add_argument("--import-runs", type=int, default=5)
    parser.add_argument("--output", default=str(RESULTS), help="directory for results.json / results.md")
    parser.add_argument("--tag", default="results", help="base name of the result files")
    args = parser.parse_args(argv)
    if not args.no_c7n and not (BENCH_VENV / "bin" / "custodian").exists():
        parser.error("bench/.venv has no custodian: run `make bench` (or pass --no-c7n)")

    workroot = RESULTS / "tmp" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workroot.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data: dict[str, Any] = {
        "command": "python -m bench.run " + shlex.join(sys.argv[1:] if argv is None else argv),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(BENCH_VENV),
        "settings": {k: v for k, v in vars(args).items() if k not in ("output", "tag")},
        "import_time": import_time(args.import_runs),
        "sizes": [],
    }
    _say(f"cold import of app: median {data['import_time']['median_s']}s")
    for users in [int(s) for s in args.sizes.split(",") if s.strip()]:
        data["sizes"].append(bench_size(users, args.runs, args, workroot))
    if args.latency_runs > 0:
        pools = [None] + [int(w) for w in args.latency_write_workers.split(",") if w.strip()]
        data["latency"] = [bench_latency(args, workroot, workers) for workers in pools]
    data["elapsed_s"] = round(time.perf_counter() - started, 1)
    data["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    data["summary"] = report.summarise(data)

    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (workroot / "raw.json").write_text(json.dumps(data, indent=1))
    (output / f"{args.tag}.json").write_text(json.dumps(report.compact(data), indent=1) + "\n")
    (output / f"{args.tag}.md").write_text(report.markdown(data))
    _say(f"done in {data['elapsed_s']}s: {output / (args.tag + '.md')} (raw: {workroot.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
