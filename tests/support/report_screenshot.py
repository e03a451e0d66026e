"""Render the HTML audit report for a seeded moto account and check it in a real headless browser.

    .venv/bin/python -m tests.support.report_screenshot [--png .scratch/report.png] [--out /tmp/report.html]

What it does:
1. seeds an in-process moto account (users with and without MFA, exemptions active / expiring /
   expired, a `<root_account>` row, and an exemption reason carrying an HTML injection attempt),
   quarantines through the CLI itself (`scan --enforce --yes`), then writes the report with
   `report --format html`;
2. runs Debian's chromium headless, with every host name unresolvable so any external asset would
   fail to load, once with `--dump-dom` and once with `--screenshot`;
3. checks that the page is self-contained (no http(s) URLs in src/href), that the injected markup
   did not run (the title the payload would set is not there, the text shows escaped), and that the
   PNG exists. Look at the PNG yourself: the checks cannot judge the layout.

Needs `apt-get install -y chromium` (set CHROMIUM=/path to use another binary). Not part of the
test suite: CI does not install a browser. Exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib.cli.main import main
from tests.support import moto_state as ms

ROOT = Path(__file__).resolve().parents[2]
INJECTION = "<img src=x onerror=\"document.title='INJECTED'\"> see ticket SEC-42"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing outside the file can load
)
USERS = (
    ms.UserSpec("alice", mfa=True),
    ms.UserSpec("bob"),
    ms.UserSpec("carol", age=timedelta(hours=3)),
    ms.UserSpec("dave", mfa=True),
    ms.UserSpec("erin", mfa=True),
    ms.UserSpec("frank", mfa=True, path="/engineering/"),
    ms.UserSpec("grace", mfa=True, path="/engineering/"),
    ms.UserSpec("break-glass"),
    ms.UserSpec("vendor-ann", groups=("vendors-sso",)),
    ms.UserSpec("old-contractor"),
    ms.UserSpec("heidi", mfa=True),
    ms.UserSpec("ivan"),
    ms.UserSpec("deploy-bot", console=False, access_key=True, path="/service/"),
)
EXEMPTIONS = {
    "version": 1,
    "exemptions": [
        {"user": "break-glass", "reason": "hardware key in the safe", "expires": "2027-06-30", "approved_by": "secops"},
        {"group": "vendors-sso", "reason": INJECTION, "approved_by": "ciso"},
        {"user": "old-contractor", "reason": "contract ended", "expires": "2026-01-31"},
        {"user": "ivan", "reason": "new phone arrives Friday", "expires": "SOON", "approved_by": "it-helpdesk"},
    ],
}


def seed_and_render(html_path: Path) -> int:
    """Seed moto, quarantine through the CLI, write the HTML report; returns the report's exit code."""
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ[key] = value
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        iam = boto3.client("iam", region_name="us-east-1")
        ssm = boto3.client("ssm", region_name="us-east-1")
        arn = ms.create_quarantine_policy(iam)
        for spec in USERS:
            ms.create_user(iam, spec)
        soon = (datetime.now(UTC) + timedelta(days=4)).date().isoformat()  # inside the 7-day warning window
        document = json.dumps(EXEMPTIONS).replace('"SOON"', json.dumps(soon))
        ssm.put_parameter(Name="/mfa-enforcer/exemptions", Type="String", Value=document)
        common = ["--region", "us-east-1", "--quarantine-policy-arn", arn]
        with contextlib.redirect_stdout(io.StringIO()):  # the scan's JSON is not what this script shows
            main(["scan", "--enforce", "--yes", "--format", "json", *common])
        with ms.serve_report(patch, with_root=ms.root_row(mfa=True)):
            return main(["report", "--format", "html", "--output", str(html_path), *common])


def chromium() -> str:
    """The browser binary: $CHROMIUM, else chromium on PATH."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit("chromium not found: apt-get install -y chromium (or set CHROMIUM)")
    return found


def browse(html_path: Path, png_path: Path, size: str) -> str:
    """Take the screenshot; return the DOM as chromium rendered it (after any script would have run)."""
    url = html_path.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="mfa-report-chromium-") as profile:
        base = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True)
        subprocess.run(
            [*base, f"--screenshot={png_path.resolve()}", f"--window-size={size}", url],
            capture_output=True,
            timeout=120,
            check=True,
        )
    return dom.stdout


def checks(html: str, dom: str, png_path: Path) -> list[str]:
    """What must hold for the report to be the file an auditor can trust; returns failures."""
    failures = []
    if re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE):
        failures.append("the HTML references an external resource")
    if "<script" in html.lower():
        failures.append("the HTML contains a script element")
    if "INJECTED" in (re.search(r"<title>(.*?)</title>", dom, re.DOTALL) or [""])[0]:
        failures.append("the injected onerror handler ran")
    if "&lt;img src=x onerror=" not in dom:
        failures.append("the injected markup is not shown as escaped text")
    if "<svg" not in dom:
        failures.append("the coverage chart is missing")
    if not png_path.exists() or png_path.stat().st_size < 10_000:
        failures.append("no screenshot was written")
    return failures


def run(argv: list[str] | None = None) -> int:
    """Seed, render, browse, check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mfa-enforcer-report.html")
    parser.add_argument("--png", type=Path, default=ROOT / ".scratch" / "report.png")
    parser.add_argument("--window-size", default="1280,1500")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.png.parent.mkdir(parents=True, exist_ok=True)
    code = seed_and_render(args.out)
    if code != 0:
        print(f"report exited {code}", file=sys.stderr)
        return 1
    html = args.out.read_text(encoding="utf-8")
    dom = browse(args.out, args.png, args.window_size)
    failures = checks(html, dom, args.png)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print(f"report: {args.out}\nscreenshot: {args.png}\nchecks: {'failed' if failures else 'passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run())
