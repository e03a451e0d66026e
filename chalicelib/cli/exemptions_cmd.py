"""`exemptions validate | list | add | remove`: the admin's side of the SSM exemptions document.

Validation is the Lambda's own validator, so the CLI can never accept a document the bot would
reject (or the reverse). Writes go through ExemptionsStore, which survives two admins at once.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from chalicelib import service
from chalicelib.cli import render, session, terminal
from chalicelib.cli.errors import CliError, Exit
from chalicelib.cli.exemptions_store import SIZE_LIMITS, ExemptionsStore, Outcome, add, remove
from chalicelib.cli.session import Aws
from chalicelib.core import config, exemptions
from chalicelib.core.model import Trigger

_INDEX = re.compile(r"^exemptions\[(\d+)\]")
CACHE_NOTE = "The next scan uses it; real-time checks may use a copy up to 5 minutes old."


def problem_index(problem: exemptions.Problem) -> int | None:
    """The entry a problem belongs to (`exemptions[2].expires` -> 2); None for document-level problems."""
    found = _INDEX.match(problem.path)
    return int(found.group(1)) if found else None


def _read_file(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory, expected a JSON file") from None
    except UnicodeDecodeError:
        raise CliError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror or exc})") from None


def validate(path: str, *, fmt: str) -> int:
    """Every problem, each naming its entry once; exit 1 when there is any, 0 when the document is valid.

    An empty file is invalid, as an empty parameter value is for the bot: only a parameter that does
    not exist means "no exemptions".
    """
    text = _read_file(path)
    now = datetime.now(UTC)
    problems: list[exemptions.Problem] = []
    document = exemptions.Exemptions()
    try:
        document = exemptions.loads(text)
    except exemptions.ExemptionsError as exc:
        problems.extend(exc.problems)
    size = len(text.encode("utf-8"))
    if size > SIZE_LIMITS["Advanced"]:
        problems.append(exemptions.Problem("$", f"is {size} bytes; SSM parameters hold at most 8192 (Advanced tier)"))
    if fmt == "json":
        terminal.say(
            json.dumps(
                {
                    "file": path,
                    "valid": not problems,
                    "entries": len(document.entries),
                    "bytes": size,
                    "problems": [{"index": problem_index(p), "path": p.path, "message": p.message} for p in problems],
                },
                indent=2,
            )
        )
        return Exit.FINDINGS if problems else Exit.OK
    if problems:
        for problem in problems:
            terminal.say(f"{path}: {problem}")
        terminal.note(
            f"{render.count(len(problems), 'problem')}. Stored as the newest version, the bot would keep enforcing "
            "the newest valid earlier version (and quarantine nobody if there is none), with a critical config-error."
        )
        return Exit.FINDINGS
    sections = dict(render.exemption_sections(document, now))
    terminal.say(
        f"{path}: valid, {render.count(len(document.entries), 'entry', 'entries')} ({len(sections['active'])} active, "
        f"{len(sections['expiring'])} expiring within 7 days, {len(sections['expired'])} expired); {size} bytes"
    )
    if size > SIZE_LIMITS["Standard"]:
        terminal.note(f"note: {size} bytes needs the SSM Advanced tier (the Standard tier holds 4096 bytes)")
    return Exit.OK


def list_entries(aws: Aws, parameter: str, *, fmt: str) -> int:
    """Active, expiring within 7 days, and expired entries of the stored document."""
    store = ExemptionsStore(aws.client("ssm"), parameter)
    snapshot = store.read()
    now = datetime.now(UTC)
    try:
        document = exemptions.loads(snapshot.text)
    except exemptions.ExemptionsError as exc:
        for problem in exc.problems:
            terminal.say(f"{parameter} (version {snapshot.version}): {problem}")
        loaded = service.read_exemptions(session.parameter_store(aws), parameter, now, Trigger.CLI, fresh=True)
        in_force = f"version {loaded.version.number}, the newest valid one" if loaded.version is not None else "nothing"
        terminal.note(
            f"The newest version is invalid: the bot enforces {in_force} until it is fixed"
            + ("." if loaded.version is not None else " (it quarantines nobody).")
        )
        return Exit.FINDINGS
    version = snapshot.version if snapshot.exists else None
    if fmt == "json":
        listing = render.exemptions_listing(document, parameter=parameter, version=version, now=now)
        terminal.say(json.dumps(listing, indent=2))
        return Exit.OK
    console = terminal.out()
    if not snapshot.exists:
        terminal.show(console, f"{parameter} does not exist: no exemptions.")
        return Exit.OK
    size = render.count(len(document.entries), "entry", "entries")
    terminal.show(console, f"{parameter}, version {snapshot.version}: {size}")
    for key, entries in render.exemption_sections(document, now):
        if not entries:
            continue
        console.print(
            terminal.table(
                f"{render.SECTION_TITLES[key]} ({len(entries)})",
                ("#", "Exempts", "Reason", "Approved by", "Expires"),
                [render.exemption_row(e) for e in entries],
            )
        )
    return Exit.OK


def entry_from_args(args: argparse.Namespace, now: datetime) -> dict[str, str]:
    """The new entry, checked with the Lambda's validator; problems are named by flag, not JSON path."""
    selector = next(s for s in exemptions.SELECTORS if getattr(args, s) is not None)
    entry = {selector: getattr(args, selector), "reason": args.reason}
    if args.expires is not None:
        entry["expires"] = args.expires
    if args.approved_by is not None:
        entry["approved_by"] = args.approved_by
    try:
        parsed = exemptions.parse({"version": exemptions.SCHEMA_VERSION, "exemptions": [entry]})
    except exemptions.ExemptionsError as exc:
        flags = "; ".join(
            f"--{p.path.rsplit('.', 1)[-1].replace('_', '-')} {p.message}" if "." in p.path else p.message
            for p in exc.problems
        )
        raise CliError(f"invalid exemption: {flags}") from None
    if not parsed.entries[0].active(now):
        raise CliError(f"--expires {args.expires} is already in the past: the entry would never apply")
    return entry


def _written(outcome: Outcome, parameter: str, verb: str) -> None:
    if not outcome.changed:
        terminal.note(f"{verb}: nothing to change; {parameter} stays at version {outcome.version}.")
        return
    terminal.note(f"{verb}: {parameter} version {outcome.before} -> {outcome.version}. {CACHE_NOTE}")
    if outcome.merged:
        versions = ", ".join(map(str, outcome.merged))
        terminal.note(
            f"Another admin wrote {'versions' if len(outcome.merged) > 1 else 'version'} {versions} at the same time; "
            "your change was re-applied on top, "
            "their entries are kept."
        )


def _missing(parameter: str, aws: Aws, *, create_hint: bool) -> str:
    """The refusal for a parameter that does not exist: a mistyped --parameter (or the wrong --region)
    would otherwise create a parameter the bot never reads, report success, and change nothing."""
    hint = ", or pass --create to create it" if create_hint else ""
    return (
        f"{parameter} does not exist in {aws.region}. The bot reads the parameter named by "
        f"{config.EXEMPTIONS_PARAMETER} (default {config.DEFAULT_EXEMPTIONS_PARAMETER}): check --parameter and "
        f"--region{hint}. Nothing was changed."
    )


def add_entry(aws: Aws, parameter: str, args: argparse.Namespace) -> int:
    """Read, add, validate, size-check, write, repair a racing write."""
    entry = entry_from_args(args, datetime.now(UTC))
    store = ExemptionsStore(aws.client("ssm"), parameter)
    missing = None if args.create else _missing(parameter, aws, create_hint=True)
    outcome = store.update(add(entry, replace=args.replace), missing=missing)
    selector = next(s for s in exemptions.SELECTORS if s in entry)
    _written(outcome, parameter, f"exempted {selector} {entry[selector]}")
    return Exit.OK


def remove_entry(aws: session.Aws, parameter: str, args: argparse.Namespace) -> int:
    """Read, remove the entry for one selector, write, repair a racing write."""
    selector = next(s for s in exemptions.SELECTORS if getattr(args, s) is not None)
    value = getattr(args, selector)
    store = ExemptionsStore(aws.client("ssm"), parameter)
    outcome = store.update(remove(selector, value), missing=_missing(parameter, aws, create_hint=False))
    _written(outcome, parameter, f"removed the exemption for {selector} {value}")
    return Exit.OK
