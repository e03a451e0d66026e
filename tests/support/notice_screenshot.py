"""Render the owner notice e-mail the bot really sends, and check it in a real headless browser.

    .venv/bin/python -m tests.support.notice_screenshot [--png docs/images/owner-notice-email.png] [--out DIR]

What it does:
1. seeds an in-process moto account (an alias, a verified SES sender, one console user without MFA
   whose `email` tag names the owner), invokes `on_console_login` with the stored sign-in event
   exactly as Lambda would, in enforce mode, and takes the quarantine notice back out of what moto's
   SES recorded as sent; it writes the HTML part (and the plain text next to it);
2. runs Debian's chromium headless, with every host name unresolvable, once with `--dump-dom` and
   once with `--screenshot`;
3. checks that the page loads nothing (no src, no stylesheet, no script), links only to the AWS
   console and the account's sign-in page, carries the facts a person needs (account, alias, what
   is blocked, the steps, the security-credentials link) and that the PNG exists. Look at the PNG
   yourself: the checks cannot judge the layout.

Needs `apt-get install -y chromium` (set CHROMIUM=/path to use another binary). Not part of the test
suite: CI does not install a browser. Exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters as powertools_parameters
from moto import mock_aws

from tests.support import moto_state as ms
from tests.support.report_screenshot import browse

ROOT = Path(__file__).resolve().parents[2]
SENDER = "mfa-enforcer@example.com"
USER = "bob.builder"
ALLOWED_LINKS = {
    "https://acme-prod.signin.aws.amazon.com/console",
    "https://console.aws.amazon.com/iam/home#/security_credentials",
}


def render_notice(out: Path) -> tuple[Path, str]:
    """Run the sign-in path on moto with SES configured; write the e-mail's HTML and text; return (html, subject)."""
    from chalice.test import Client

    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("MFA_ENFORCER_", "AWS_"))]:
            patch.delenv(key)
        for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
            patch.setenv(key, value)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        with mock_aws():
            from app import app
            from chalicelib import bootstrap

            bootstrap.reset()
            powertools_parameters.clear_caches()
            iam = boto3.client("iam", region_name="us-east-1")
            ms.verify_sender(boto3.client("ses", region_name="us-east-1"), SENDER)
            arn = ms.create_quarantine_policy(iam)
            iam.create_account_alias(AccountAlias="acme-prod")
            ms.create_user(iam, ms.UserSpec(USER))
            iam.tag_user(UserName=USER, Tags=[{"Key": "email", "Value": "bob.builder@example.com"}])
            patch.setenv("MFA_ENFORCER_MODE", "enforce")
            patch.setenv("MFA_ENFORCER_QUARANTINE_POLICY_ARN", arn)
            patch.setenv("MFA_ENFORCER_SES_SENDER", SENDER)
            event = json.loads((ROOT / "tests/fixtures/eventbridge_console_login_iam_user_no_mfa.json").read_text())
            event["detail"]["userIdentity"]["userName"] = USER
            event["detail"]["userIdentity"]["arn"] = event["detail"]["userIdentity"]["arn"].replace(
                "/alice", f"/{USER}"
            )
            with Client(app, stage_name="dev") as client, contextlib.redirect_stdout(io.StringIO()):
                client.lambda_.invoke("on_console_login", event)
            (mail,) = ms.sent_emails()
            bootstrap.reset()
    html_path, text_path = out / "owner-notice.html", out / "owner-notice.txt"
    html_path.write_text(mail.html, encoding="utf-8")
    text_path.write_text(f"Subject: {mail.subject}\n\n{mail.text}", encoding="utf-8")
    return html_path, mail.subject


def checks(html: str, dom: str, png_path: Path) -> list[str]:
    """What must hold for the e-mail a person receives; returns failures."""
    failures = []
    if re.search(r"""\ssrc\s*=|<link\b|<script\b|@import|url\(""", html, re.IGNORECASE):
        failures.append("the HTML loads something (src, link, script, @import or url())")
    links = set(re.findall(r'href="([^"]*)"', html))
    if links != ALLOWED_LINKS:
        failures.append(f"the HTML links to {sorted(links - ALLOWED_LINKS)} / misses {sorted(ALLOWED_LINKS - links)}")
    for needed in (
        "Your AWS access is restricted",
        "123456789012 (acme-prod)",
        "Blocked while restricted",
        "Still works",
        "How to set up MFA",
        "passkey or security key",
        "console sign-in without MFA",
    ):
        if needed not in dom:
            failures.append(f"the rendered page lacks {needed!r}")
    if not png_path.exists() or png_path.stat().st_size < 10_000:
        failures.append("no screenshot was written")
    return failures


def run(argv: list[str] | None = None) -> int:
    """Render, browse, check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mfa-enforcer-notice")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "images" / "owner-notice-email.png")
    parser.add_argument("--window-size", default="760,990")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.png.parent.mkdir(parents=True, exist_ok=True)
    html_path, subject = render_notice(args.out)
    html = html_path.read_text(encoding="utf-8")
    dom = browse(html_path, args.png, args.window_size)
    failures = checks(html, dom, args.png)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print(
        f"subject: {subject}\nhtml: {html_path}\nscreenshot: {args.png}\nchecks: {'failed' if failures else 'passed'}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run())
