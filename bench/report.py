"""Turn raw benchmark runs into medians, target checks, JSON and a Markdown table (pure functions)."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( +)(\S.*)$")
# A steady-state scan: the report (2), who holds the quarantine (1) and the fallback group's members (1), the
# exemptions (1), the root's account summary (1), the quarantine policy's default version and its document (2),
# and one GetGroup per exempt group.
STEADY_BASE_CALLS = 8
QUARANTINE_MAX_CALLS = 3  # per quarantine in a first scan: the live MFA check, the tag (the claim), the attach
RELEASE_MAX_CALLS = 4  # per release: the live MFA check, GetUser (did a sign-in cause it?), the untag, the detach
LOGIN_QUARANTINE_MAX_CALLS = 4
LOGIN_NOTHING_MAX_CALLS = 1
STEADY_WALL_RATIO = 0.1
SCAN_RSS_MB = 128
IMPORT_S = 0.5
TOOLS = {"ours": "mfa-enforcer", "c7n": "Cloud Custodian"}


def parse_importtime(stderr: str) -> dict[str, dict[str, int]]:
    """`-X importtime` lines -> {module: self_us, cumulative_us, depth} (depth 0 = imported by the script)."""
    table: dict[str, dict[str, int]] = {}
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            table[name.strip()] = {
                "self_us": int(self_us),
                "cumulative_us": int(cumulative_us),
                "depth": (len(indent) - 1) // 2,
            }
    return table


def top_imports(table: Mapping[str, Mapping[str, int]], count: int = 10) -> dict[str, Any]:
    """Who pays: self time summed per top-level package, and the heaviest single imports (cumulative)."""
    per_package: Counter[str] = Counter()
    for name, row in table.items():
        per_package[name.split(".")[0]] += row["self_us"]
    heaviest = sorted(
        ((name, row) for name, row in table.items() if name != "app"), key=lambda item: -item[1]["cumulative_us"]
    )
    return {
        "by_package_ms": {name: round(us / 1000, 1) for name, us in per_package.most_common(count)},
        "heaviest_ms": [
            {"module": name, "cumulative_ms": round(row["cumulative_us"] / 1000, 1), "depth": row["depth"]}
            for name, row in heaviest[: count * 2]
        ],
    }


def machine(bench_venv: Path) -> dict[str, Any]:
    """What ran the benchmark: interpreter, CPU, the library versions of both tools."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    for package in ("boto3", "botocore", "moto", "chalice", "aws-lambda-powertools"):
        info[package] = _version(package)
    probe = bench_venv / "bin" / "python"
    if probe.exists():
        code = (
            "import importlib.metadata as m, json; "
            "print(json.dumps({p: m.version(p) for p in ('c7n', 'boto3', 'botocore')}))"
        )
        answer = subprocess.run([str(probe), "-c", code], capture_output=True, text=True, timeout=60, check=False)
        if answer.returncode == 0:
            info["c7n_venv"] = json.loads(answer.stdout)
    return info


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def aggregate_passes(passes: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Median wall, calls and RSS over runs of one pass; correctness is the worst run's."""
    ok = [p for p in passes if p.get("returncode") == 0]
    if not ok:
        return None
    totals = [p["total_calls"] for p in ok]
    median_run = ok[totals.index(statistics.median_low(totals))]
    return {
        "runs": len(ok),
        "failed_runs": len(passes) - len(ok),
        "wall_s": _median(p["wall_s"] for p in ok),
        "wall_runs_s": [p["wall_s"] for p in ok],
        "handler_s": _median(p.get("runner", {}).get("handler_s") for p in ok),
        "import_s": _median(p.get("runner", {}).get("import_s") for p in ok),
        "total_calls": statistics.median_low(totals),
        "calls_range": [min(totals), max(totals)],
        "by_operation": median_run["calls"],
        "response_kb": round(sum(median_run["bytes"].values()) / 1024, 1),
        "maxrss_mb": _median(p["maxrss_mb"] for p in ok),
        "maxrss_max_mb": max(p["maxrss_mb"] for p in ok),
        "expected": median_run["correctness"]["expected"],
        "quarantined": median_run["correctness"]["quarantined"],
        "false_positives": max(len(p["correctness"]["false_positives"]) for p in ok),
        "false_negatives": max(len(p["correctness"]["false_negatives"]) for p in ok),
        "writes": median_run.get("runner", {}).get("writes"),
        "left_for_next_run": median_run.get("runner", {}).get("left_for_next_run"),
    }


def aggregate_logins(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Per kind of event: calls per event (mean, max, first in a container vs the rest) and latency."""
    ok = [r for r in runs if r.get("returncode") == 0 and "events" in r.get("runner", {})]
    if not ok:
        skipped = next((r.get("runner", {}).get("skipped") for r in runs if r.get("runner", {}).get("skipped")), None)
        return {"skipped": skipped or "runner failed"} if runs else None
    base = aggregate_passes(ok) or {}
    kinds: dict[str, Any] = {}
    for kind in ok[0]["runner"]["events"]:
        rows = [row for r in ok for row in r["runner"]["events"][kind]]
        warm = [row for r in ok for row in r["runner"]["events"][kind][1:]]
        if not rows:
            continue
        calls = [row["calls"] for row in rows]
        kinds[kind] = {
            "events": len(rows) // len(ok),
            "calls_mean": round(statistics.mean(calls), 2),
            "calls_max": max(calls),
            "calls_max_warm": max((row["calls"] for row in warm), default=None),
            "ms_median": round(statistics.median(row["ms"] for row in rows), 1),
            "ms_p95": round(sorted(row["ms"] for row in rows)[int(0.95 * (len(rows) - 1))], 1),
        }
    base["by_kind"] = kinds
    return base


def summarise(data: Mapping[str, Any]) -> dict[str, Any]:
    """Aggregates per size, for the latency scenario, and the targets with met / not met."""
    sizes: dict[str, Any] = {}
    for size in data["sizes"]:
        runs = size["runs"]
        entry: dict[str, Any] = {
            "users": size["users"],
            "mix": size.get("mix"),
            "exempt_groups": size.get("exempt_groups"),
        }
        for tool in ("ours", "c7n"):
            scans = [r[f"{tool}_scan"] for r in runs if f"{tool}_scan" in r]
            if scans:
                entry[f"{tool}_scan_first"] = aggregate_passes([s[0] for s in scans])
                if all(len(s) > 1 for s in scans):
                    entry[f"{tool}_scan_steady"] = aggregate_passes([s[1] for s in scans])
                if all(len(s) > 2 for s in scans):
                    entry[f"{tool}_scan_release"] = aggregate_passes([s[2] for s in scans])
            login_runs = [r[f"{tool}_login"] for r in runs if f"{tool}_login" in r]
            if login_runs:
                entry[f"{tool}_login"] = aggregate_logins(login_runs)
        sizes[str(size["users"])] = entry
    out: dict[str, Any] = {"sizes": sizes}
    if "latency" in data:
        out["latency"] = [
            {
                "users": lat["users"],
                "violators": lat["violators"],
                "latency_ms": lat["latency_ms"],
                "write_workers": lat.get("write_workers"),
                "first": aggregate_passes([r[0] for r in lat["runs"]]),
                "steady": aggregate_passes([r[1] for r in lat["runs"] if len(r) > 1]),
            }
            for lat in data["latency"]
        ]
    out["targets"] = targets(out, data.get("import_time", {}))
    return out


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or not theirs:
        return None
    return round(ours / theirs, 4)


def targets(summary: Mapping[str, Any], imports: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The performance targets, each with the measured figure and met / not met."""
    rows: list[dict[str, Any]] = []
    sizes = summary["sizes"]

    def add(name: str, figure: str, met: bool | None) -> None:
        rows.append({"target": name, "measured": figure, "met": met})

    groups = {n: 1 if s.get("exempt_groups") is None else int(s["exempt_groups"]) for n, s in sizes.items()}
    steady = {n: s.get("ours_scan_steady") for n, s in sizes.items() if s.get("ours_scan_steady")}
    if steady:
        worst = {n: s["calls_range"][1] for n, s in steady.items()}
        add(
            f"steady-state scan ≤ {STEADY_BASE_CALLS} + g API calls at every N (g = exempt groups)",
            ", ".join(f"N={n}: {c} (g={groups[n]})" for n, c in worst.items()),
            all(c <= STEADY_BASE_CALLS + groups[n] for n, c in worst.items()),
        )
    first = {n: s.get("ours_scan_first") for n, s in sizes.items() if s.get("ours_scan_first")}
    if first:
        parts, met = [], True
        for n, f in first.items():
            k = f["expected"]
            base = steady[n]["calls_range"][1] if n in steady else STEADY_BASE_CALLS + groups[n]
            limit = base + QUARANTINE_MAX_CALLS * k
            reads = f["by_operation"].get("iam:ListMFADevices", 0)
            parts.append(f"N={n}: {f['calls_range'][1]} ≤ {limit} (k={k}; ListMFADevices={reads})")
            met = met and f["calls_range"][1] <= limit and reads <= k
        add(
            f"first scan adds ≤ {QUARANTINE_MAX_CALLS} calls per quarantine; no per-user read for compliant or "
            "already-quarantined users",
            "; ".join(parts),
            met,
        )
    release = {n: s.get("ours_scan_release") for n, s in sizes.items() if s.get("ours_scan_release")}
    if release:
        parts, met = [], True
        for n, r in release.items():
            released = r["by_operation"].get("iam:DetachUserPolicy", 0) + r["by_operation"].get(
                "iam:RemoveUserFromGroup", 0
            )
            base = steady[n]["calls_range"][1] if n in steady else STEADY_BASE_CALLS + groups[n]
            reads = r["by_operation"].get("iam:ListMFADevices", 0)
            limit = base + RELEASE_MAX_CALLS * released
            parts.append(f"N={n}: {r['calls_range'][1]} ≤ {limit} (r={released}; ListMFADevices={reads})")
            met = met and r["calls_range"][1] <= limit and reads <= released
        add(
            "each release adds ≤ 2 calls: the live ListMFADevices and GetUser, whether a sign-in caused the "
            "quarantine (release = check + tags + untag + detach)",
            "; ".join(parts),
            met,
        )
    login = {
        n: s.get("ours_login") for n, s in sizes.items() if s.get("ours_login", {}) and "by_kind" in s["ours_login"]
    }
    if login:
        q = {n: s["by_kind"].get("violator", {}) for n, s in login.items()}
        add(
            f"ConsoleLogin leading to a quarantine ≤ {LOGIN_QUARANTINE_MAX_CALLS} calls",
            ", ".join(f"N={n}: max {c.get('calls_max')} (warm {c.get('calls_max_warm')})" for n, c in q.items()),
            all(c.get("calls_max") is not None and c["calls_max"] <= LOGIN_QUARANTINE_MAX_CALLS for c in q.values()),
        )
        quiet = ("compliant", "exempt", "pending")
        detail = {n: {k: s["by_kind"].get(k, {}).get("calls_max") for k in quiet} for n, s in login.items()}
        add(
            f"ConsoleLogin leading to nothing ≤ {LOGIN_NOTHING_MAX_CALLS} call",
            "; ".join(f"N={n}: " + ", ".join(f"{k} max {c}" for k, c in d.items()) for n, d in detail.items()),
            all(c is None or c <= LOGIN_NOTHING_MAX_CALLS for d in detail.values() for c in d.values()),
        )
    elif any(s.get("ours_login") for s in sizes.values()):
        add("ConsoleLogin targets", "not measured: app.on_console_login does not exist yet", None)
    big = sizes.get("5000", {})
    if big.get("ours_scan_steady") and big.get("c7n_scan_steady"):
        ratio = _ratio(big["ours_scan_steady"]["wall_s"], big["c7n_scan_steady"]["wall_s"])
        add(
            "5,000-user steady-state scan wall time ≤ 1/10 of c7n's",
            f"{big['ours_scan_steady']['wall_s']} s vs {big['c7n_scan_steady']['wall_s']} s (ratio {ratio})",
            ratio is not None and ratio <= STEADY_WALL_RATIO,
        )
    scans = [
        (n, p, s[f"ours_scan_{p}"]) for n, s in sizes.items() for p in ("first", "steady") if s.get(f"ours_scan_{p}")
    ]
    if scans:
        worst = max(scans, key=lambda item: item[2]["maxrss_max_mb"])
        add(
            f"peak RSS of a scan < {SCAN_RSS_MB} MB",
            f"worst {worst[2]['maxrss_max_mb']} MB (N={worst[0]}, {worst[1]} pass)",
            worst[2]["maxrss_max_mb"] < SCAN_RSS_MB,
        )
    if imports.get("median_s") is not None:
        add(
            f"cold import of app ≤ {IMPORT_S} s",
            f"median {imports['median_s']} s wall over {len(imports['runs'])} runs "
            f"(CPU {imports.get('cpu_median_s')} s)",
            imports["median_s"] <= IMPORT_S,
        )
    return rows


def compact(data: Mapping[str, Any]) -> dict[str, Any]:
    """The commit-worthy JSON: settings, machine, import time and the summary (no per-event rows)."""
    return {k: data[k] for k in ("command", "started", "elapsed_s", "machine", "settings", "import_time", "summary")}


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}" if value < 100 else f"{value:,.0f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def _ratio_cell(ours: Any, theirs: Any) -> str:
    if not isinstance(ours, int | float) or not isinstance(theirs, int | float) or not theirs:
        return "–"
    ratio = ours / theirs
    return f"{ratio:.3f}" if ratio >= 0.001 else f"{ratio:.1e}"


def _correct(agg: Mapping[str, Any] | None) -> str:
    if not agg:
        return "–"
    return f"{agg['quarantined']}/{agg['expected']} (FP {agg['false_positives']}, FN {agg['false_negatives']})"


def _scan_rows(entry: Mapping[str, Any]) -> list[tuple[str, Any, Any, bool]]:
    rows: list[tuple[str, Any, Any, bool]] = []
    for phase, label in (
        ("first", "first pass"),
        ("steady", "steady state (2nd pass, nothing changed)"),
        ("release", "release pass (3rd pass, some users enrolled MFA)"),
    ):
        ours, theirs = entry.get(f"ours_scan_{phase}") or {}, entry.get(f"c7n_scan_{phase}") or {}
        if not ours and not theirs:
            continue
        rows += [
            (f"scan, {label}: wall time, process (median, s)", ours.get("wall_s"), theirs.get("wall_s"), True),
            (f"scan, {label}: API calls", ours.get("total_calls"), theirs.get("total_calls"), True),
            (f"scan, {label}: response data (KB)", ours.get("response_kb"), theirs.get("response_kb"), True),
            (f"scan, {label}: peak RSS (MB)", ours.get("maxrss_mb"), theirs.get("maxrss_mb"), True),
            (f"scan, {label}: quarantined / expected", _correct(ours), _correct(theirs), False),
        ]
        if ours.get("handler_s") is not None:
            rows.append(
                (
                    f"scan, {label}: ours in-handler time / import (s)",
                    f"{ours['handler_s']} / {ours['import_s']}",
                    "",
                    False,
                )
            )
    return rows


def _login_rows(entry: Mapping[str, Any]) -> list[tuple[str, Any, Any, bool]]:
    ours, theirs = entry.get("ours_login") or {}, entry.get("c7n_login") or {}
    if not ours and not theirs:
        return []
    if ours.get("skipped"):
        ours = {}
    rows: list[tuple[str, Any, Any, bool]] = []
    for kind, label in (
        ("violator", "violator (no MFA, grace over)"),
        ("compliant", "compliant (signed in with MFA)"),
        ("exempt", "no MFA, exempt (user / path / group)"),
        ("pending", "no MFA, still in grace"),
    ):
        o = ours.get("by_kind", {}).get(kind, {})
        t = theirs.get("by_kind", {}).get(kind, {})
        rows += [
            (f"ConsoleLogin, {label}: API calls per event, mean", o.get("calls_mean"), t.get("calls_mean"), True),
            (f"ConsoleLogin, {label}: API calls per event, max (warm max)", _max_cell(o), _max_cell(t), False),
            (f"ConsoleLogin, {label}: handler ms per event, median", o.get("ms_median"), t.get("ms_median"), True),
        ]
    rows += [
        ("ConsoleLogin batch: process wall (median, s)", ours.get("wall_s"), theirs.get("wall_s"), True),
        ("ConsoleLogin batch: peak RSS (MB)", ours.get("maxrss_mb"), theirs.get("maxrss_mb"), True),
        ("ConsoleLogin batch: quarantined / expected", _correct(ours or None), _correct(theirs or None), False),
    ]
    return rows


def _max_cell(kind: Mapping[str, Any]) -> str:
    if not kind:
        return "–"
    return f"{kind['calls_max']} ({_fmt(kind.get('calls_max_warm'))})"


def _ops_table(entry: Mapping[str, Any]) -> list[str]:
    columns = [
        (key, label)
        for key, label in (
            ("ours_scan_first", "ours scan 1st"),
            ("ours_scan_steady", "ours scan steady"),
            ("ours_scan_release", "ours scan release"),
            ("c7n_scan_first", "c7n scan 1st"),
            ("c7n_scan_steady", "c7n scan steady"),
            ("c7n_scan_release", "c7n scan release"),
            ("ours_login", "ours logins (batch)"),
            ("c7n_login", "c7n logins (batch)"),
        )
        if (entry.get(key) or {}).get("by_operation")
    ]
    if not columns:
        return []
    operations = sorted({op for key, _ in columns for op in entry[key]["by_operation"]})
    lines = ["| operation | " + " | ".join(label for _, label in columns) + " |"]
    lines.append("| --- |" + " ---: |" * len(columns))
    for op in operations:
        lines.append(f"| `{op}` | " + " | ".join(_fmt(entry[key]["by_operation"].get(op)) for key, _ in columns) + " |")
    lines.append("| **total** | " + " | ".join(f"**{_fmt(entry[key]['total_calls'])}**" for key, _ in columns) + " |")
    return lines


def markdown(data: Mapping[str, Any]) -> str:
    """The results page: one side-by-side table per N, calls by operation, latency, imports, targets."""
    summary = data["summary"]
    m = data["machine"]
    c7n = m.get("c7n_venv", {})
    lines = [
        "# Benchmark: mfa-enforcer vs Cloud Custodian",
        "",
        f"Command: `{data['command']}` — started {data['started']}, took {data['elapsed_s']} s.",
        f"Machine: Python {m['python']}, {m['cpus']} CPUs, {m['platform']}; moto {m['moto']}; "
        f"ours: boto3 {m['boto3']}, chalice {m['chalice']}, powertools {m['aws-lambda-powertools']}; "
        f"c7n {c7n.get('c7n', '–')} with boto3 {c7n.get('boto3', '–')} (bench/.venv). Load average (1, 5, 15 min) "
        f"at start {m.get('loadavg_start')}, at end {m.get('loadavg_end')}: wall times on a busy machine run high; "
        "call counts do not depend on it.",
        "",
        "Each figure is the median of the runs (a fresh, identically seeded moto server for every scenario of "
        "every run); API calls are counted server-side; peak RSS is the runner process's own ru_maxrss; every "
        "scan pass runs in a fresh process (a new Lambda container). Ratios are ours / c7n.",
        "",
    ]
    for n, entry in summary["sizes"].items():
        lines += [f"## N = {int(n):,} users", ""]
        if entry.get("mix"):
            lines += ["Seeded mix: " + ", ".join(f"{k}: {v}" for k, v in entry["mix"].items()) + ".", ""]
        lines += ["| measure | mfa-enforcer | Cloud Custodian | ours / c7n |", "| --- | ---: | ---: | ---: |"]
        for label, ours, theirs, ratio in _scan_rows(entry) + _login_rows(entry):
            lines.append(f"| {label} | {_fmt(ours)} | {_fmt(theirs)} | {_ratio_cell(ours, theirs) if ratio else ''} |")
        ops = _ops_table(entry)
        if ops:
            lines += ["", f"API calls by operation (N = {int(n):,}, median run):", "", *ops]
        lines.append("")
    if summary.get("latency"):
        first = summary["latency"][0]
        lines += [
            f"## First scan at {first['users']:,} users, {first['violators']:,} violators, "
            f"{first['latency_ms']:g} ms per call",
            "",
            "| write pool | pass | wall, process (median, s) | in handler (s) | API calls | quarantined / expected "
            "| left for next run | peak RSS (MB) |",
            "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
        ]
        for lat in summary["latency"]:
            pool = "the bot's own" if lat["write_workers"] is None else f"{lat['write_workers']} (override)"
            for phase in ("first", "steady"):
                agg = lat.get(phase)
                if agg:
                    lines.append(
                        f"| {pool} | {phase} | {_fmt(agg['wall_s'])} | {_fmt(agg['handler_s'])} | "
                        f"{_fmt(agg['total_calls'])} | {_correct(agg)} | {_fmt(agg['left_for_next_run'])} | "
                        f"{_fmt(agg['maxrss_mb'])} |"
                    )
        lines.append("")
    imports = data.get("import_time")
    if imports:
        lines += [
            f"## Cold import of `app`: median {imports['median_s']} s (runs: {imports['runs']})",
            "",
            "`python -X importtime -c 'import app'` in fresh interpreters (wall time, so it rises with the machine's"
            f" load); CPU time of the same import (user + system, less sensitive to load): median "
            f"{imports.get('cpu_median_s', '–')} s (runs: {imports.get('cpu_runs', '–')}).",
            "",
            "Self time by top-level package (ms): "
            + ", ".join(f"{k} {v}" for k, v in imports["top"]["by_package_ms"].items())
            + ".",
            "",
            "Heaviest imports (cumulative ms): "
            + ", ".join(f"`{r['module']}` {r['cumulative_ms']}" for r in imports["top"]["heaviest_ms"][:12])
            + ".",
            "",
        ]
    lines += ["## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    for row in summary["targets"]:
        met = "–" if row["met"] is None else ("yes" if row["met"] else "**no**")
        lines.append(f"| {row['target']} | {row['measured']} | {met} |")
    return "\n".join(lines) + "\n"
