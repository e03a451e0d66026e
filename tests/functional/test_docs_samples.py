"""Every CLI sample in the documentation runs as written and prints what the page shows.

Each page's ```console samples run in page order against a freshly seeded sandbox (the one
`make cli-sandbox` starts), from a scratch folder that sees the repository's tests/, with stdout
and stderr in one stream as a terminal shows them. The comparison is on shape: dates, times, the
port and byte counts are made uniform first (tests/support/doc_samples.py). CLI commands shown in
bash blocks without output must at least parse.
"""

from __future__ import annotations

import difflib
import shlex
from pathlib import Path

import pytest

from chalicelib.cli.main import build_parser
from tests.support import doc_samples, sandbox

ROOT = Path(__file__).resolve().parents[2]
PAGES = [page for page in sorted(doc_samples.DOCS.glob("*.md")) if doc_samples.samples(page)]


def test_the_pages_with_cli_sessions_are_found() -> None:
    names = {page.name for page in PAGES}
    assert {"getting-started.md", "cli.md"} <= names
    for page in PAGES:
        for sample in doc_samples.samples(page):
            assert sample.exit_code is not None, f"{page.name}:{sample.line}: a sample ends with [exit N]"


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_sample_prints_what_the_page_shows(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COLUMNS", raising=False)
    with sandbox.serve() as box:
        for name, value in box.environment.items():
            monkeypatch.setenv(name, value)
        for sample in doc_samples.samples(page):
            output, code = doc_samples.run(sample)
            where = f"{page.name}:{sample.line}: $ {sample.command}"
            assert code == sample.exit_code, f"{where}\nexit {code}, the page says {sample.exit_code}:\n{output}"
            if not doc_samples.matches(sample.output, output):
                diff = difflib.unified_diff(
                    doc_samples.shape(sample.output).splitlines(),
                    doc_samples.shape(output).splitlines(),
                    "the page",
                    "the CLI now",
                    lineterm="",
                )
                pytest.fail(f"{where}\n" + "\n".join(diff))


def test_the_sample_checker_can_tell_a_different_output() -> None:
    shown = "Account 123456789012 · 9 users scanned\n...\n3 users without MFA remain: bob, carol, old-contractor."
    assert doc_samples.matches(
        shown, "Account 123456789012 · 9 users scanned\n3 users without MFA remain: bob, carol, old-contractor."
    )
    assert doc_samples.matches(
        shown,
        "Account 123456789012 · 9 users scanned\ntable\nrows\n3 users without MFA remain: bob, carol, old-contractor.",
    )
    assert not doc_samples.matches(
        shown, "Account 123456789012 · 8 users scanned\n3 users without MFA remain: bob, carol, old-contractor."
    )
    assert doc_samples.matches(
        "grace ended 2026-11-02T21:40:38Z (4681 bytes)", "grace ended 2027-01-09T03:00:01Z (99 bytes)"
    )
    assert not doc_samples.matches("exemptions[3]: expired", "exemptions[4]: expired")


@pytest.mark.parametrize("page", sorted(doc_samples.DOCS.glob("*.md")), ids=lambda page: page.name)
def test_cli_commands_in_other_blocks_parse(page: Path) -> None:
    parser = build_parser()
    for line, command in doc_samples.cli_lines_outside_samples(page):
        argv = shlex.split(command)[1:]
        if argv == ["--help"]:
            continue
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{page.name}:{line}: `{command}` is not a valid command line")


def test_the_sandbox_prints_the_environment_the_cli_needs() -> None:
    with sandbox.serve() as box:
        exports = box.exports()
        assert f"export AWS_ENDPOINT_URL={box.endpoint}" in exports
        assert box.endpoint.startswith("http://127.0.0.1:")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            assert f"export {name}=" in exports
        assert "export MFA_ENFORCER_QUARANTINE_POLICY_ARN=arn:aws:iam::123456789012:policy/mfa-enforcer-quarantine" in (
            exports
        )
        assert exports.splitlines()[0] == "unset AWS_PROFILE AWS_SESSION_TOKEN", "no real profile can answer"
