"""The operator CLI end to end: every command through `main([...])` against moto, asserting output,
exit codes and the IAM/SSM state left behind; two admins editing exemptions at once; one run of
`python -m chalicelib.cli` in a subprocess against moto in server mode.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.cli import session
from chalicelib.cli.main import main
from chalicelib.core import exemptions
from tests.conftest import FIXTURES
from tests.support import moto_state as ms
from tests.support.faults import Fault, FaultInjector

PARAMETER = "/mfa-enforcer/exemptions"
TAGS = {"mfa-enforcer:quarantined-at", "mfa-enforcer:reason"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the CLI in-process; returns (exit code, stdout, stderr) of this invocation only."""

    def invoke(*args: str, connect: session.Connect = session.connect) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args), connect=connect)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def answer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """What the operator types at the confirmation prompt."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def seed(iam: Any, *specs: ms.UserSpec) -> None:
    for spec in specs:
        ms.create_user(iam, spec)


def put_document(ssm: Any, *entries: dict[str, str], tier: str = "Standard") -> None:
    value = json.dumps({"version": 1, "exemptions": list(entries)})
    ssm.put_parameter(Name=PARAMETER, Value=value, Type="String", Tier=tier, Overwrite=True)


def stored(ssm: Any) -> tuple[int, list[dict[str, str]]]:
    parameter = ssm.get_parameter(Name=PARAMETER)["Parameter"]
    return int(parameter["Version"]), json.loads(parameter["Value"])["exemptions"]


def selectors(entries: list[dict[str, str]]) -> list[str]:
    return [next(f"{k} {e[k]}" for k in ("user", "path", "group") if k in e) for e in entries]


def soon(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def not_traceback(err: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


# --- scan ---------------------------------------------------------------------------------------


def test_scan_reports_without_writing_and_exits_1(run: Any, iam: Any, quarantine_arn: str) -> None:
    seed(iam, ms.UserSpec("alice", mfa=True), ms.UserSpec("bob"))
    code, out, _ = run("scan", "--quarantine-policy-arn", quarantine_arn)
    assert code == 1
    assert "would-quarantine" in out
    assert "1 user without MFA remains: bob." in out
    assert ms.quarantined_users(iam) == set()
    assert ms.user_tags(iam, "bob") == {}


def test_scan_of_a_clean_account_exits_0(run: Any, iam: Any, ssm: Any, quarantine_arn: str) -> None:
    seed(iam, ms.UserSpec("alice", mfa=True), ms.UserSpec("break-glass"), ms.UserSpec("ci", console=False))
    put_document(ssm, {"user": "break-glass", "reason": "safe"})
    code, out, _ = run("scan", "--quarantine-policy-arn", quarantine_arn)
    assert code == 0
    assert "Clean: every console user has MFA or an active exemption." in out


def test_scan_json_is_pure_json_on_stdout(run: Any, iam: Any, quarantine_arn: str) -> None:
    seed(iam, ms.UserSpec("bob"), ms.UserSpec("carol", age=timedelta(hours=1)))
    code, out, _ = run("scan", "--format", "json", "--quarantine-policy-arn", quarantine_arn, "--verbose")
    document = json.loads(out)  # no Powertools log line or EMF blob mixed in, even with --verbose
    assert code == 1
    assert document["exit_code"] == 1
    assert document["mode"] == "report"
    assert document["trigger"] == "cli"
    assert document["users_without_mfa"] == ["bob", "carol"]
    assert {f["type"] for f in document["findings"]} == {"quarantined", "pending"}


def test_enforce_without_a_policy_arn_is_refused(run: Any, iam: Any) -> None:
    seed(iam, ms.UserSpec("bob"))
    code, out, err = run("scan", "--enforce", "--yes")
    assert code == 2
    assert out == ""
    assert "--enforce needs the quarantine policy ARN" in err
    not_traceback(err)


def test_enforce_asks_first_and_no_changes_nothing(
    run: Any, iam: Any, quarantine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(iam, ms.UserSpec("bob"), ms.UserSpec("alice", mfa=True))
    answer(monkeypatch, "n\n")
    code, out, err = run("scan", "--enforce", "--quarantine-policy-arn", quarantine_arn)
    assert code == 3
    assert "Would quarantine 1: bob" in err
    assert "not confirmed. Nothing was changed." in err
    assert out == ""
    assert ms.quarantined_users(iam) == set()


def test_enforce_confirmed_quarantines_and_still_exits_1(
    run: Any, iam: Any, quarantine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(iam, ms.UserSpec("bob"), ms.UserSpec("alice", mfa=True))
    answer(monkeypatch, "yes\n")
    code, out, _ = run("scan", "--enforce", "--quarantine-policy-arn", quarantine_arn)
    assert code == 1  # bob is contained, but still has no MFA
    assert ms.quarantined_users(iam) == {"bob"}
    assert set(ms.user_tags(iam, "bob")) == TAGS
    assert "mode enforce" in out and "2 IAM writes" in out


def test_enforce_yes_needs_no_terminal_and_reads_the_arn_from_the_environment(
    run: Any, iam: Any, quarantine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(iam, ms.UserSpec("bob"))
    monkeypatch.setenv("MFA_ENFORCER_QUARANTINE_POLICY_ARN", quarantine_arn)
    code, _, _ = run("scan", "--enforce", "--yes", "--format", "json")
    assert code == 1
    assert ms.quarantined_users(iam) == {"bob"}


def test_enforce_with_an_invalid_document_quarantines_nobody_and_exits_2(
    run: Any, iam: Any, ssm: Any, quarantine_arn: str
) -> None:
    seed(iam, ms.UserSpec("bob"))
    ssm.put_parameter(Name=PARAMETER, Value='{"version": 1, "exemptions": [{"user": "bob"}]}', Type="String")
    code, out, _ = run("scan", "--enforce", "--yes", "--quarantine-policy-arn", quarantine_arn)
    assert code == 2
    assert "config-error" in out
    assert ms.quarantined_users(iam) == set()


def test_a_hollow_quarantine_policy_is_an_error_and_enforce_asks_before_restoring_it(
    run: Any, iam: Any, quarantine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(iam, ms.UserSpec("alice", mfa=True))
    ms.hollow_quarantine(iam)
    code, out, _ = run("scan", "--quarantine-policy-arn", quarantine_arn)
    assert code == 2
    assert "quarantine-policy-tampered" in out
    answer(monkeypatch, "yes\n")
    code, _, err = run("scan", "--enforce", "--quarantine-policy-arn", quarantine_arn)
    assert "Would restore the quarantine policy: the quarantine policy" in err
    assert ms.quarantine_default(iam) == ("v3", ms.shipped_quarantine_document())
    assert code == 2  # the run that restored it still reports the tampering it found


def test_progress_is_drawn_on_a_terminal_only(
    run: Any, iam: Any, quarantine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(iam, ms.UserSpec("bob"))
    _, _, plain = run("scan", "--quarantine-policy-arn", quarantine_arn)
    assert "/4" not in plain
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats stderr as a terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    _, out, drawn = run("scan", "--quarantine-policy-arn", quarantine_arn)
    assert re.search(r"[1-4]/4", drawn)  # the phase counter of the progress bar
    assert "bob" in drawn  # the phase text names the user being checked
    assert "/4" not in out


# --- exemptions validate ------------------------------------------------------------------------


def test_validate_accepts_the_design_example(run: Any) -> None:
    code, out, _ = run("exemptions", "validate", str(FIXTURES / "ssm_exemptions.json"))
    assert code == 0
    assert "valid, 3 entries" in out


def test_validate_names_every_problem_with_its_entry(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "exemptions.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "exemptions": [
                    {"user": "ok", "reason": "fine"},
                    {"user": "x", "group": "y", "reason": "two selectors"},
                    {"user": "z", "reason": "", "expires": "someday"},
                ],
            }
        )
    )
    code, out, err = run("exemptions", "validate", str(path))
    assert code == 1
    lines = out.strip().splitlines()
    assert [line.split(": ")[1] for line in lines] == ["exemptions[1]", "exemptions[2].reason", "exemptions[2].expires"]
    assert all(line.count("exemptions[") == 1 for line in lines), "each line names its entry once"
    assert "3 problems." in err
    code, out, _ = run("exemptions", "validate", str(path), "--format", "json")
    assert code == 1
    assert [p["index"] for p in json.loads(out)["problems"]] == [1, 2, 2]


def test_validate_reports_broken_json_and_missing_files(run: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1, "exemptions": [}')
    code, out, _ = run("exemptions", "validate", str(broken))
    assert code == 1
    assert f"{broken}: $: not valid JSON" in out
    code, out, err = run("exemptions", "validate", str(tmp_path / "absent.json"))
    assert (code, out) == (2, "")
    assert "absent.json: no such file" in err
    not_traceback(err)


# --- exemptions list ----------------------------------------------------------------------------


def test_list_groups_active_expiring_expired(run: Any, ssm: Any) -> None:
    put_document(
        ssm,
        {"user": "break-glass", "reason": "safe", "approved_by": "secops"},
        {"group": "vendors", "reason": "idp", "expires": soon(3)},
        {"user": "gone", "reason": "old", "expires": "2020-01-31"},
    )
    code, out, _ = run("exemptions", "list")
    assert code == 0
    assert out.index("Active (1)") < out.index("break-glass")
    assert out.index("Expiring within 7 days (1)") < out.index("group vendors")
    assert out.index("Expired (no longer applied) (1)") < out.index("user gone")
    code, out, _ = run("exemptions", "list", "--format", "json")
    listing = json.loads(out)
    assert [[e["value"] for e in listing[k]] for k in ("active", "expiring", "expired")] == [
        ["break-glass"],
        ["vendors"],
        ["gone"],
    ]
    assert listing["version"] == 1


def test_list_of_a_missing_or_invalid_parameter(run: Any, ssm: Any) -> None:
    code, out, _ = run("exemptions", "list")
    assert (code, out.strip()) == (0, f"{PARAMETER} does not exist: no exemptions.")
    ssm.put_parameter(Name=PARAMETER, Value='{"version": 2}', Type="String")
    code, out, _ = run("exemptions", "list")
    assert code == 1
    assert "$.version: must be 1, got 2" in out


# --- exemptions add / remove ------------------------------------------------------------------------


def test_add_creates_the_parameter_with_a_document_the_lambda_accepts(run: Any, ssm: Any) -> None:
    code, _, err = run(
        "exemptions", "add", "--user", "bob", "--reason", "on leave", "--expires", soon(30), "--approved-by", "secops",
        "--create",
    )  # fmt: skip
    assert code == 0
    assert f"{PARAMETER} version 0 -> 1" in err
    version, entries = stored(ssm)
    assert version == 1
    assert entries == [{"user": "bob", "reason": "on leave", "expires": soon(30), "approved_by": "secops"}]
    assert exemptions.loads(ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]).entries[0].value == "bob"


def test_add_keeps_every_other_entry_and_bumps_the_version_once(run: Any, ssm: Any) -> None:
    put_document(ssm, {"user": "break-glass", "reason": "safe"}, {"path": "/service/", "reason": "machines"})
    code, _, _ = run("exemptions", "add", "--group", "vendors", "--reason", "idp", "--parameter", PARAMETER)
    assert code == 0
    version, entries = stored(ssm)
    assert version == 2
    assert selectors(entries) == ["user break-glass", "path /service/", "group vendors"]


def test_add_refuses_to_change_an_entry_unless_asked(run: Any, ssm: Any) -> None:
    put_document(ssm, {"user": "bob", "reason": "old"})
    code, _, err = run("exemptions", "add", "--user", "bob", "--reason", "new")
    assert code == 2
    assert "already exempt by exemptions[0]" in err
    assert stored(ssm) == (1, [{"user": "bob", "reason": "old"}])
    code, _, err = run("exemptions", "add", "--user", "bob", "--reason", "old")
    assert code == 0 and "nothing to change" in err
    assert stored(ssm)[0] == 1
    code, _, _ = run("exemptions", "add", "--user", "bob", "--reason", "new", "--replace")
    assert (code, stored(ssm)) == (0, (2, [{"user": "bob", "reason": "new"}]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--user", "bad name!", "--reason", "r"), "--user must be a valid IAM user name"),
        (("--path", "service", "--reason", "r"), "--path must be an IAM path"),
        (("--user", "bob", "--reason", "  "), "--reason is required"),
        (("--user", "bob", "--reason", "r", "--expires", "tomorrow"), "--expires is not a date"),
        (("--user", "bob", "--reason", "r", "--expires", "2020-01-01"), "already in the past"),
        (("--user", "bob", "--reason", "r", "--parameter", "no spaces allowed"), "is not an SSM parameter name"),
    ],
)
def test_add_with_bad_input_writes_nothing(run: Any, ssm: Any, args: tuple[str, ...], message: str) -> None:
    put_document(ssm, {"user": "alice", "reason": "r"})
    code, out, err = run("exemptions", "add", *args)
    assert (code, out) == (2, "")
    assert message in err
    not_traceback(err)
    assert stored(ssm)[0] == 1


def test_add_missing_a_selector_is_a_usage_error(run: Any) -> None:
    code, _, err = run("exemptions", "add", "--reason", "r")
    assert code == 2
    assert "one of the arguments --user --path --group --identity-center-user is required" in err


def test_remove_takes_out_one_entry_and_refuses_a_missing_one(run: Any, ssm: Any) -> None:
    put_document(ssm, {"user": "a", "reason": "r"}, {"group": "g", "reason": "r"})
    code, _, _ = run("exemptions", "remove", "--user", "a")
    assert code == 0
    assert stored(ssm) == (2, [{"group": "g", "reason": "r"}])
    code, _, err = run("exemptions", "remove", "--user", "a")
    assert code == 2 and "no exemption for user a" in err
    assert stored(ssm)[0] == 2


def test_an_identity_center_user_is_added_listed_and_removed_like_any_entry(run: Any, ssm: Any) -> None:
    put_document(ssm, {"user": "alice", "reason": "IAM break-glass"})
    code, _, _ = run("exemptions", "add", "--identity-center-user", "alice@example.com", "--reason", "kiosk")
    assert code == 0
    assert stored(ssm) == (
        2,
        [
            {"user": "alice", "reason": "IAM break-glass"},
            {"identity_center_user": "alice@example.com", "reason": "kiosk"},
        ],
    )
    code, out, _ = run("exemptions", "list", "--format", "json")
    assert code == 0
    assert "identity_center_user" in {entry["selector"] for entry in json.loads(out)["active"]}
    code, _, err = run("exemptions", "add", "--identity-center-user", "bad\tname", "--reason", "r")
    assert code == 2 and "--identity-center-user must be an Identity Center user name" in err
    code, _, _ = run("exemptions", "remove", "--identity-center-user", "alice@example.com")
    assert (code, stored(ssm)) == (0, (3, [{"user": "alice", "reason": "IAM break-glass"}]))


def test_edit_refuses_an_invalid_stored_document(run: Any, ssm: Any) -> None:
    ssm.put_parameter(Name=PARAMETER, Value='{"version": 1, "exemptions": [{"user": "x"}]}', Type="String")
    code, _, err = run("exemptions", "add", "--user", "bob", "--reason", "r")
    assert code == 2
    assert "is invalid, so it was not changed: exemptions[0].reason: is required" in err
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Version"] == 1


def test_oversize_document_is_refused_before_writing(run: Any, ssm: Any) -> None:
    filler = [{"user": f"user-{i:03d}", "reason": "r" * 60} for i in range(40)]  # about 3.6 KB
    put_document(ssm, *filler)
    code, _, err = run("exemptions", "add", "--user", "one-more", "--reason", "x" * 600)
    assert code == 2
    assert "over the 4096-byte limit of the Standard tier" in err
    assert "Advanced" in err
    version, entries = stored(ssm)
    assert (version, len(entries)) == (1, 40)


def test_advanced_tier_holds_more_and_is_kept(run: Any, ssm: Any) -> None:
    filler = [{"user": f"user-{i:03d}", "reason": "r" * 60} for i in range(40)]
    put_document(ssm, *filler, tier="Advanced")
    code, _, _ = run("exemptions", "add", "--user", "one-more", "--reason", "x" * 600)
    assert code == 0
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [PARAMETER]}])["Parameters"][0]
    assert described["Tier"] == "Advanced"
    assert len(stored(ssm)[1]) == 41
    results = [
        run("exemptions", "add", "--user", f"big-{i}", "--reason", "x" * 1000, "--approved-by", "y" * 1000)
        for i in range(3)
    ]
    assert [code for code, _, _ in results] == [0, 2, 2]
    assert "over the 8192-byte limit of the Advanced tier" in results[-1][2]
    assert len(ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"].encode()) <= 8192


# --- two admins at once ---------------------------------------------------------------------------------


def racing(other_admin: Callable[[], None], event: str, *more: tuple[Callable[[], None], str]) -> session.Connect:
    """A session whose first `event` lets another admin's complete CLI run happen, then carries on."""

    def connect(options: session.AwsOptions) -> session.Aws:
        aws = session.connect(options)
        for admin, name in ((other_admin, event), *more):
            aws.session.events.register(name, once(admin))
        return aws

    return connect


def once(admin: Callable[[], None]) -> Callable[..., None]:
    fired: list[bool] = []

    def interleave(**_: Any) -> None:
        if not fired:
            fired.append(True)
            admin()

    return interleave


def history(ssm: Any) -> list[list[str]]:
    """Every stored version's selectors, oldest first."""
    pages = ssm.get_paginator("get_parameter_history").paginate(Name=PARAMETER)
    versions = [p for page in pages for p in page["Parameters"]]
    return [selectors(json.loads(p["Value"])["exemptions"]) for p in sorted(versions, key=lambda p: p["Version"])]


def test_two_admins_adding_at_once_both_entries_survive(run: Any, ssm: Any) -> None:
    put_document(ssm, {"user": "break-glass", "reason": "safe"})
    other: list[int] = []

    def admin_b() -> None:
        other.append(main(["exemptions", "add", "--user", "bob", "--reason", "B's entry"]))

    # B's whole run lands after A's version check and before A's PutParameter: A overwrites B's write.
    code, _, err = run(
        "exemptions",
        "add",
        "--user",
        "alice",
        "--reason",
        "A's entry",
        connect=racing(admin_b, "before-call.ssm.PutParameter"),
    )
    assert (code, other) == (0, [0])
    version, entries = stored(ssm)
    assert sorted(selectors(entries)) == ["user alice", "user bob", "user break-glass"]
    # The race really happened: version 3 (A's first write) lacked B's entry, version 4 repaired it.
    assert history(ssm) == [
        ["user break-glass"],
        ["user break-glass", "user bob"],
        ["user break-glass", "user alice"],
        ["user break-glass", "user bob", "user alice"],
    ]
    assert version == 4
    assert "Another admin wrote version 2 at the same time" in err


def test_an_edit_seen_before_writing_is_merged_without_any_overwrite(run: Any, ssm: Any) -> None:
    put_document(ssm, {"user": "break-glass", "reason": "safe"})

    def admin_b() -> None:
        assert main(["exemptions", "remove", "--user", "break-glass"]) == 0

    # B writes between A's read and A's version check: A starts again from B's document.
    code, _, err = run(
        "exemptions", "add", "--user", "alice", "--reason", "A", connect=racing(admin_b, "after-call.ssm.GetParameter")
    )
    assert code == 0
    assert history(ssm) == [["user break-glass"], [], ["user alice"]]
    assert "Another admin" not in err


def test_two_admins_exempting_the_same_user_differently_keep_the_first(run: Any, ssm: Any) -> None:
    put_document(ssm, {"path": "/service/", "reason": "machines"})

    def admin_b() -> None:
        assert main(["exemptions", "add", "--user", "bob", "--reason", "B says leave"]) == 0

    code, _, err = run(
        "exemptions",
        "add",
        "--user",
        "bob",
        "--reason",
        "A says travel",
        connect=racing(admin_b, "before-call.ssm.PutParameter"),
    )
    assert code == 2
    assert "Another admin changed /mfa-enforcer/exemptions at the same time; their changes were kept" in err
    version, entries = stored(ssm)
    assert entries == [{"path": "/service/", "reason": "machines"}, {"user": "bob", "reason": "B says leave"}]
    assert version == 4  # 3 was A's overwrite, 4 restores B's document


def test_a_remove_racing_an_add_keeps_both_changes(run: Any, ssm: Any) -> None:
    put_document(ssm, {"user": "old", "reason": "r"}, {"user": "keep", "reason": "r"})

    def admin_b() -> None:
        assert main(["exemptions", "add", "--group", "vendors", "--reason", "idp"]) == 0

    code, _, _ = run("exemptions", "remove", "--user", "old", connect=racing(admin_b, "before-call.ssm.PutParameter"))
    assert code == 0
    assert selectors(stored(ssm)[1]) == ["user keep", "group vendors"]


def test_a_third_admin_building_on_an_overwrite_loses_nothing(run: Any, ssm: Any) -> None:
    put_document(ssm, {"user": "break-glass", "reason": "safe"})

    def admin_b() -> None:  # lands before A's first write, which then overwrites it
        assert main(["exemptions", "add", "--user", "bob", "--reason", "B"]) == 0

    def admin_c() -> None:  # reads A's overwrite (without bob) and adds to it, before A repairs
        assert main(["exemptions", "add", "--user", "carol", "--reason", "C"]) == 0

    code, _, _ = run(
        "exemptions",
        "add",
        "--user",
        "alice",
        "--reason",
        "A",
        connect=racing(admin_b, "before-call.ssm.PutParameter", (admin_c, "after-call.ssm.PutParameter")),
    )
    assert code == 0
    assert history(ssm)[2:] == [
        ["user break-glass", "user alice"],  # A's first write: bob missing
        ["user break-glass", "user alice", "user carol"],  # C, built on it
        ["user break-glass", "user bob", "user carol", "user alice"],  # A's repair replays B's and C's changes
    ]


def test_two_admins_creating_the_parameter_at_once(run: Any, ssm: Any) -> None:
    def admin_b() -> None:
        assert main(["exemptions", "add", "--user", "bob", "--reason", "B", "--create"]) == 0

    code, _, _ = run(
        "exemptions", "add", "--user", "alice", "--reason", "A", "--create",
        connect=racing(admin_b, "before-call.ssm.PutParameter"),
    )  # fmt: skip
    assert code == 0
    assert history(ssm) == [["user bob"], ["user bob", "user alice"]]  # A's create failed, nothing overwritten


def test_an_edit_that_never_settles_gives_up_and_says_what_may_be_missing(run: Any, ssm: Any) -> None:
    put_document(ssm, {"user": "break-glass", "reason": "safe"})
    others: list[int] = []

    def connect(options: session.AwsOptions) -> session.Aws:
        aws = session.connect(options)

        def every_time(**_: Any) -> None:  # another admin writes before each of A's writes
            others.append(main(["exemptions", "add", "--user", f"b-{len(others)}", "--reason", "B"]))

        aws.session.events.register("before-call.ssm.PutParameter", every_time)
        return aws

    code, _, err = run("exemptions", "add", "--user", "alice", "--reason", "A", connect=connect)
    assert code == 2
    assert others == [0] * 6
    assert "kept changing during 6 attempts" in err
    assert "version 13 (yours) may lack the changes other admins made in version 12:" in err
    assert "Traceback" not in err
    version, entries = stored(ssm)
    assert version == 13
    assert selectors(entries) == ["user break-glass", *(f"user b-{i}" for i in range(5)), "user alice"]


# --- release ---------------------------------------------------------------------------------------------


def test_release_detaches_and_untags(run: Any, iam: Any, quarantine_arn: str) -> None:
    seed(iam, ms.UserSpec("bob"))
    assert run("scan", "--enforce", "--yes", "--quarantine-policy-arn", quarantine_arn)[0] == 1
    assert ms.quarantined_users(iam) == {"bob"}
    code, _, err = run("release", "bob", "--yes", "--quarantine-policy-arn", quarantine_arn)
    assert code == 0
    assert ms.quarantined_users(iam) == set()
    assert ms.user_tags(iam, "bob") == {}
    assert "warning: bob has no MFA device" in err
    assert "released bob." in err


def test_release_asks_first(run: Any, iam: Any, enforce: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(iam, ms.UserSpec("bob"))
    run("scan", "--enforce", "--yes")
    answer(monkeypatch, "n\n")
    code, _, err = run("release", "bob")
    assert code == 3
    assert "Release will remove tags mfa-enforcer:quarantined-at, mfa-enforcer:reason; detach" in err
    assert ms.quarantined_users(iam) == {"bob"}


def test_release_undoes_the_group_fallback(run: Any, iam: Any, quarantine_arn: str) -> None:
    seed(iam, ms.UserSpec("bob", mfa=True))
    iam.add_user_to_group(GroupName=ms.QUARANTINE_GROUP, UserName="bob")
    iam.tag_user(UserName="bob", Tags=[{"Key": "mfa-enforcer:quarantined-at", "Value": "2026-11-01T00:00:00Z"}])
    code, _, err = run("release", "bob", "-y", "--quarantine-policy-arn", quarantine_arn)
    assert code == 0
    assert "remove from group mfa-enforcer-quarantine" in err
    assert "warning" not in err  # bob has MFA
    assert ms.quarantined_users(iam) == set()
    assert ms.user_tags(iam, "bob") == {}


def test_release_of_unknown_or_free_users(run: Any, iam: Any, quarantine_arn: str) -> None:
    seed(iam, ms.UserSpec("alice", mfa=True))
    code, _, err = run("release", "alice", "--quarantine-policy-arn", quarantine_arn)
    assert code == 0 and "not quarantined" in err
    code, _, err = run("release", "nobody", "--yes", "--quarantine-policy-arn", quarantine_arn)
    assert code == 2 and "no IAM user named 'nobody'" in err
    not_traceback(err)
    code, _, err = run("release", "alice", "--yes")
    assert code == 2 and "release needs the quarantine policy ARN" in err


# --- report ------------------------------------------------------------------------------------------------


def seed_audit(iam: Any, ssm: Any, run: Any, arn: str) -> None:
    seed(
        iam,
        ms.UserSpec("alice", mfa=True),
        ms.UserSpec("bob"),
        ms.UserSpec("break-glass"),
        ms.UserSpec("vendor", groups=("vendors",)),
        ms.UserSpec("deploy", console=False, access_key=True),
    )
    put_document(
        ssm,
        {"user": "break-glass", "reason": "safe", "approved_by": "secops", "expires": "2099-12-31"},
        {"group": "vendors", "reason": "<b>idp</b>", "expires": soon(2)},
    )
    assert run("scan", "--enforce", "--yes", "--quarantine-policy-arn", arn)[0] == 1


def test_report_csv_is_evidence_for_every_console_user(run: Any, iam: Any, ssm: Any, quarantine_arn: str) -> None:
    seed_audit(iam, ssm, run, quarantine_arn)
    code, out, _ = run("report", "--format", "csv", "--quarantine-policy-arn", quarantine_arn)
    assert code == 0
    rows = {r["user"]: r for r in csv.DictReader(io.StringIO(out))}
    assert set(rows) == {"<root_account>", "alice", "bob", "break-glass", "vendor"}  # deploy has no console
    assert rows["bob"]["quarantined"] == "yes"
    assert rows["bob"]["quarantined_since"] == ms.user_tags(iam, "bob")["mfa-enforcer:quarantined-at"]
    assert rows["break-glass"]["exemption_approved_by"] == "secops"
    assert rows["break-glass"]["exemption_expires"] == "2099-12-31"
    assert rows["vendor"]["exemption_status"] == "expiring"
    assert rows["alice"]["mfa"] == "yes"
    assert rows["<root_account>"]["notes"].startswith("unknown")


def test_report_json_includes_the_root_account(
    run: Any, iam: Any, ssm: Any, quarantine_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_audit(iam, ssm, run, quarantine_arn)
    with ms.serve_report(monkeypatch, with_root=ms.root_row(mfa=False, access_key=True)):
        code, out, _ = run("report", "--format", "json", "--quarantine-policy-arn", quarantine_arn)
    document = json.loads(out)
    assert code == 0
    assert document["root"] == {
        "present": True,
        "mfa": False,
        "access_keys": True,
        "password": None,
        "signing_certificates": None,
        "credentials_absent": False,
        "source": "credential-report",
        "status": "NO MFA, active access keys (GetAccountSummary has no usable AccountPasswordPresent, "
        "so root was judged from the credential report alone)",
    }  # moto's GetAccountSummary has no AccountPasswordPresent
    assert document["account_id"] == ms.ACCOUNT_ID
    assert document["summary"]["console_users"] == 4
    assert document["summary"]["mfa_coverage"] == 0.25
    assert document["exemptions_version"] == 1
    assert [u["user"] for u in document["users"]] == ["alice", "bob", "break-glass", "vendor"]


def test_report_html_file_is_written_and_escaped(
    run: Any, iam: Any, ssm: Any, quarantine_arn: str, tmp_path: Path
) -> None:
    seed_audit(iam, ssm, run, quarantine_arn)
    target = tmp_path / "evidence.html"
    code, out, err = run("report", "--format", "html", "-o", str(target), "--quarantine-policy-arn", quarantine_arn)
    assert (code, out) == (0, "")
    assert f"wrote html report to {target}" in err
    page = target.read_text()
    assert page.startswith("<!doctype html>")
    assert ">25.0%<" in page
    assert "&lt;b&gt;idp&lt;/b&gt;" in page and "<b>idp</b>" not in page
    assert ms.ACCOUNT_ID in page


def test_report_without_a_policy_arn_reads_the_tag(run: Any, iam: Any, ssm: Any, quarantine_arn: str) -> None:
    seed_audit(iam, ssm, run, quarantine_arn)
    code, out, _ = run("report", "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert document["quarantine_source"] == "tags"
    assert {u["user"]: u["quarantined_via"] for u in document["users"]}["bob"] == "tags"
    assert any("no quarantine policy ARN" in w for w in document["warnings"])


def test_report_confirms_mfa_live_when_the_credential_report_is_stale(
    run: Any, iam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(iam, ms.UserSpec("alice", mfa=True), ms.UserSpec("bob"))
    with ms.serve_report(monkeypatch, ms.stale_report(mfa_active={"alice": False})):
        code, out, _ = run("report", "--format", "json")
    mfa = {u["user"]: u["mfa"] for u in json.loads(out)["users"]}
    assert (code, mfa) == (0, {"alice": True, "bob": False})


def test_report_to_an_unwritable_path(run: Any, iam: Any, tmp_path: Path) -> None:
    code, _, err = run("report", "--format", "csv", "-o", str(tmp_path / "no" / "such" / "dir.csv"))
    assert code == 2
    assert "cannot write" in err
    not_traceback(err)


# --- bad input and failures everywhere --------------------------------------------------------------------


def test_unknown_command_and_bad_choices_are_usage_errors(run: Any) -> None:
    assert run("frobnicate")[0] == 2
    code, _, err = run("report", "--format", "pdf")
    assert code == 2 and "invalid choice: 'pdf'" in err
    assert run("--help")[0] == 0


def test_bad_policy_arn_is_one_clear_line(run: Any, aws: None) -> None:
    code, _, err = run("scan", "--quarantine-policy-arn", "not-an-arn")
    assert code == 2
    assert "MFA_ENFORCER_QUARANTINE_POLICY_ARN is not an IAM managed policy ARN" in err
    not_traceback(err)


def test_missing_region_is_one_clear_line(run: Any, aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    code, _, err = run("exemptions", "list")
    assert code == 2
    assert "no AWS region" in err
    not_traceback(err)


def test_aws_errors_are_one_clear_line(run: Any, ssm: Any) -> None:
    def denied(options: session.AwsOptions) -> session.Aws:
        aws = session.connect(options)
        FaultInjector().attach(aws.client("ssm")).add(Fault("GetParameter", "AccessDeniedException"))
        return aws

    code, _, err = run("exemptions", "list", connect=denied)
    assert code == 2
    assert "AccessDeniedException" in err and "GetParameter" in err
    not_traceback(err)


def test_unexpected_failures_say_so_and_debug_shows_the_traceback(run: Any) -> None:
    def broken(options: session.AwsOptions) -> session.Aws:
        raise RuntimeError("boom")

    code, _, err = run("exemptions", "list", connect=broken)
    assert code == 2
    assert "internal error: RuntimeError: boom (run again with --debug" in err
    not_traceback(err)
    with pytest.raises(RuntimeError, match="boom"):
        main(["exemptions", "list", "--debug"], connect=broken)


# --- one vocabulary: --format for what is printed, --output for files ---------------------------------


@pytest.mark.parametrize(
    "command",
    [("scan",), ("exemptions", "list"), ("exemptions", "validate", "-")],
)
def test_output_is_never_a_format(run: Any, command: tuple[str, ...]) -> None:
    code, out, err = run(*command, "--output", "json")
    assert (code, out) == (2, "")
    assert "--output names a file (mfa-enforcer report --output FILE); for table or json use --format" in err


def test_every_printing_command_takes_format_table_or_json(run: Any, ssm: Any, quarantine_arn: str) -> None:
    put_document(ssm, {"user": "break-glass", "reason": "safe"})
    for command in (("scan", "--quarantine-policy-arn", quarantine_arn), ("exemptions", "list")):
        code, out, _ = run(*command, "--format", "json")
        assert code in (0, 1)
        json.loads(out)
        code, _, err = run(*command, "--format", "text")
        assert code == 2 and "invalid choice: 'text'" in err


class _Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_report_refuses_to_fill_a_terminal(run: Any, monkeypatch: pytest.MonkeyPatch, quarantine_arn: str) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    calls: list[str] = []

    def counting(options: session.AwsOptions) -> session.Aws:
        aws = session.connect(options)
        aws.session.events.register("before-call", lambda model, **_: calls.append(model.name))
        return aws

    code = main(["report", "--quarantine-policy-arn", quarantine_arn], connect=counting)
    assert code == 2
    assert terminal.getvalue() == ""
    assert calls == [], "nothing is read before refusing"


def test_report_goes_to_a_redirected_stdout_or_to_a_file(
    run: Any, iam: Any, quarantine_arn: str, tmp_path: Path
) -> None:
    seed(iam, ms.UserSpec("bob"))
    code, out, _ = run("report", "--format", "csv", "--quarantine-policy-arn", quarantine_arn)
    assert code == 0 and out.startswith("account_id,generated_at,")
    target = tmp_path / "evidence.html"
    code, out, err = run("report", "--output", str(target), "--quarantine-policy-arn", quarantine_arn)
    assert (code, out) == (0, "")
    assert target.read_text().startswith("<!doctype html>") and f"wrote html report to {target}" in err


# --- exemptions: the parameter must exist, the name must be one SSM accepts -------------------------


def test_add_refuses_a_parameter_that_does_not_exist_unless_create(run: Any, ssm: Any) -> None:
    code, _, err = run("exemptions", "add", "--parameter", "/no/such", "--user", "dave", "--reason", "r")
    assert code == 2
    assert "/no/such does not exist in us-east-1" in err and "pass --create" in err
    assert ssm.describe_parameters()["Parameters"] == []
    code, _, _ = run("exemptions", "add", "--parameter", "/no/such", "--user", "dave", "--reason", "r", "--create")
    assert code == 0
    assert json.loads(ssm.get_parameter(Name="/no/such")["Parameter"]["Value"])["exemptions"][0]["user"] == "dave"


def test_remove_refuses_a_parameter_that_does_not_exist(run: Any, ssm: Any) -> None:
    code, _, err = run("exemptions", "remove", "--parameter", "/no/such", "--user", "dave")
    assert code == 2
    assert "/no/such does not exist" in err and "--create" not in err
    assert ssm.describe_parameters()["Parameters"] == []


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("/aws/mine", "reserved by AWS"),
        ("ssm-exemptions", "reserved by AWS"),
        ("/" + "/".join("l" for _ in range(16)), "more than 15 levels"),
        ("/" + "x" * 1011, "longer than 1011 characters"),
        ("/trailing/", "use letters, digits"),
        ("/ünïcode", "use letters, digits"),
    ],
)
def test_parameter_names_ssm_would_refuse_are_refused_first(run: Any, ssm: Any, name: str, problem: str) -> None:
    for command in (("add", "--user", "dave", "--reason", "r", "--create"), ("remove", "--user", "dave")):
        code, _, err = run("exemptions", *command, "--parameter", name)
        assert code == 2
        assert f"--parameter {name!r} is not an SSM parameter name: " in err and problem in err
    assert ssm.describe_parameters()["Parameters"] == []


# --- counts and problem lines -----------------------------------------------------------------------


def test_an_empty_file_is_invalid(run: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    code, out, err = run("exemptions", "validate", str(empty))
    assert code == 1
    assert out == f'{empty}: $: is empty: an empty list is {{"version": 1, "exemptions": []}}\n'
    assert "1 problem." in err


def test_counts_read_one_entry_and_two_entries(run: Any, ssm: Any, tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"version": 1, "exemptions": [{"user": "a", "reason": "r"}]}))
    assert "valid, 1 entry (1 active," in run("exemptions", "validate", str(one))[1]
    put_document(ssm, {"user": "a", "reason": "r"}, {"user": "b", "reason": "r"})
    assert f"{PARAMETER}, version 1: 2 entries" in run("exemptions", "list")[1]
    put_document(ssm, {"user": "a", "reason": "r"})
    assert f"{PARAMETER}, version 2: 1 entry" in run("exemptions", "list")[1]


# --- control characters never reach the terminal ----------------------------------------------------

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"


def no_control(text: str) -> None:
    """Nothing the terminal would act on: only printable text and line breaks."""
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), repr(text)


def test_list_shows_an_escape_laden_reason_as_a_problem_never_as_escapes(run: Any, ssm: Any) -> None:
    put_document(ssm, {"user": "bob", "reason": f"hardware key{ESCAPES}"})
    code, out, err = run("exemptions", "list")
    assert code == 1
    assert "exemptions[0].reason: contains a control character (U+001B at position 12)" in out
    no_control(out)
    no_control(err)


def test_validate_names_the_control_character_and_prints_none(run: Any, tmp_path: Path) -> None:
    path = tmp_path / "exemptions.json"
    path.write_text(json.dumps({"version": 1, "exemptions": [{"user": "bob", "reason": "r", "x" + ESCAPES: 1}]}))
    code, out, err = run("exemptions", "validate", str(path))
    assert code == 1
    assert 'exemptions[0]["x\\u001b]0;pwned\\u0007' in out
    no_control(out)
    no_control(err)


def test_scan_escapes_control_characters_in_what_aws_says(run: Any, iam: Any, enforce: str) -> None:
    seed(iam, ms.UserSpec("bob"))

    def refusing(options: session.AwsOptions) -> session.Aws:
        aws = session.connect(options)
        FaultInjector().attach(aws.client("iam")).add(Fault("AttachUserPolicy", "AccessDenied", 403, f"no{ESCAPES}"))
        return aws

    code, out, err = run("scan", "--enforce", "--yes", connect=refusing)
    assert code == 2
    assert "cannot-quarantine" in out
    assert "no\\x1b]0;pwned\\x07\\x1b[2J" in out
    no_control(out)
    no_control(err)
    code, out, _ = run("scan", "--format", "json", "--quarantine-policy-arn", enforce, connect=refusing)
    no_control(out)


def test_error_lines_escape_control_characters(run: Any, ssm: Any) -> None:
    def denied(options: session.AwsOptions) -> session.Aws:
        aws = session.connect(options)
        FaultInjector().attach(aws.client("ssm")).add(Fault("GetParameter", "AccessDeniedException", message=ESCAPES))
        return aws

    code, _, err = run("exemptions", "list", connect=denied)
    assert code == 2
    assert "\\x1b[2J" in err
    no_control(err)
    not_traceback(err)


# --- installed entry points, moto in server mode ----------------------------------------------------------


@pytest.fixture
def moto_server() -> Iterator[str]:
    """moto as an HTTP server on a free loopback port, reset so no other test's state shows."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield url
    finally:
        server.stop()


def test_console_script_is_declared_for_main() -> None:
    (entry,) = metadata.entry_points(group="console_scripts", name="mfa-enforcer")
    assert entry.value == "chalicelib.cli.main:main"


def test_the_lambda_never_loads_the_cli_or_rich() -> None:
    probe = (
        "import sys, app, chalicelib.handlers; lambda_side = sorted(m for m in sys.modules "
        "if m.startswith(('rich', 'chalicelib.cli'))); import chalicelib.cli.main; "
        "print(lambda_side, sorted(m for m in sys.modules if m.startswith('rich')))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True
    )
    assert done.stdout.strip() == "[] []"  # and the CLI itself imports rich only when it draws


def test_python_dash_m_against_moto_server(moto_server: str) -> None:
    clients = {"region_name": "us-east-1", "endpoint_url": moto_server}
    iam = boto3.client("iam", **clients)
    ssm = boto3.client("ssm", **clients)
    arn = ms.create_quarantine_policy(iam)
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Correct-Horse-9!")
    ms.age_user("bob", timedelta(days=30))  # server mode shares moto's in-process backend
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "chalicelib.cli", "--endpoint-url", moto_server, *args]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )

    added = cli("exemptions", "add", "--user", "carol", "--reason", "vendor", "--create")
    assert added.returncode == 0, added.stderr
    scanned = cli("scan", "--enforce", "--yes", "--format", "json", "--quarantine-policy-arn", arn)
    assert scanned.returncode == 1, scanned.stderr
    assert json.loads(scanned.stdout)["users_without_mfa"] == ["bob"]
    assert ms.quarantined_users(iam, arn) == {"bob"}
    assert json.loads(ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"])["exemptions"][0]["user"] == "carol"
    refused = cli("release", "bob", "--quarantine-policy-arn", arn)  # stdin gives no answer
    assert refused.returncode == 3, refused.stderr
    assert ms.quarantined_users(iam, arn) == {"bob"}
