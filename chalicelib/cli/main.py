"""Entry point of `mfa-enforcer` / `python -m chalicelib.cli`: arguments, dispatch, and exit codes.

This is the CLI's one top-level handler: every problem becomes one line on stderr and an exit
code (see errors.Exit); a traceback appears only with --debug.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from chalicelib.cli import session
from chalicelib.cli.errors import CliError, Exit
from chalicelib.core import config
from chalicelib.core.text import printable

PROG = "mfa-enforcer"
EPILOG = (
    "exit codes: 0 ok/clean, 1 findings (users without MFA remain, invalid document), 2 error, "
    "3 not confirmed (nothing changed), 130 interrupted"
)
FORMATS = ("table", "json")
Handler = Callable[[argparse.Namespace, session.Connect], int]


def _aws_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """AWS and output options, accepted before or after the command (`mfa-enforcer scan --region x`)."""
    default: object = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("AWS and diagnostics")
    group.add_argument("--profile", default=default, help="AWS named profile (default: the usual boto3 lookup)")
    group.add_argument("--region", default=default, help="AWS region of the bot's SSM parameter")
    group.add_argument("--endpoint-url", default=default, help="send every AWS call here (moto server for demos)")
    flag_default: object = argparse.SUPPRESS if suppress else False
    group.add_argument("--verbose", action="store_true", default=flag_default, help="the core's logs on stderr")
    group.add_argument("--debug", action="store_true", default=flag_default, help="show tracebacks")


def _connect(args: argparse.Namespace, connect: session.Connect) -> session.Aws:
    return connect(session.AwsOptions(profile=args.profile, region=args.region, endpoint_url=args.endpoint_url))


def _parameter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--parameter",
        help="SSM parameter holding the exemptions "
        "(default: MFA_ENFORCER_EXEMPTIONS_PARAMETER or /mfa-enforcer/exemptions)",
    )


def _policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quarantine-policy-arn", help="ARN of the quarantine policy (default: MFA_ENFORCER_QUARANTINE_POLICY_ARN)"
    )


def _format_option(parser: argparse.ArgumentParser) -> None:
    """--format for what a command prints; --output, where a command has it, is always a file."""
    parser.add_argument("--format", choices=FORMATS, default="table", help="table (default) or json, on stdout")
    parser.add_argument("--output", action=_FileOnlyOutput, help=argparse.SUPPRESS)


class _FileOnlyOutput(argparse.Action):
    """`--output json` from before the options were unified: say what to type instead of a bare usage error."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        parser.error("--output names a file (mfa-enforcer report --output FILE); for table or json use --format")


def _selector_options(parser: argparse.ArgumentParser) -> None:
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--user", help="an IAM user name")
    chosen.add_argument("--path", help="an IAM path prefix such as /service/ (covers every user under it)")
    chosen.add_argument("--group", help="an IAM group name (covers its members)")
    chosen.add_argument(
        "--identity-center-user",
        help="an IAM Identity Center user name (covers only that person's Identity Center sign-ins)",
    )


def _scan(args: argparse.Namespace, connect: session.Connect) -> int:
    from chalicelib.cli import scan

    return scan.run(
        _connect(args, connect),
        enforce=args.enforce,
        yes=args.yes,
        fmt=args.format,
        quarantine_policy_arn=args.quarantine_policy_arn,
        parameter=args.parameter,
        verbose=args.verbose,
    )


def _validate(args: argparse.Namespace, connect: session.Connect) -> int:
    from chalicelib.cli import exemptions_cmd

    return exemptions_cmd.validate(args.file, fmt=args.format)


def _parameter(args: argparse.Namespace) -> str:
    """The exemptions parameter: --parameter, else the variable, else the default; its shape checked first."""
    if args.parameter is not None and (problem := config.parameter_name_problem(args.parameter)):
        raise CliError(f"--parameter {args.parameter!r} is not an SSM parameter name: {problem}")
    return session.settings(os.environ, exemptions_parameter=args.parameter).exemptions_parameter


def _list(args: argparse.Namespace, connect: session.Connect) -> int:
    from chalicelib.cli import exemptions_cmd

    parameter = _parameter(args)
    return exemptions_cmd.list_entries(_connect(args, connect), parameter, fmt=args.format)


def _add(args: argparse.Namespace, connect: session.Connect) -> int:
    from chalicelib.cli import exemptions_cmd

    parameter = _parameter(args)
    return exemptions_cmd.add_entry(_connect(args, connect), parameter, args)


def _remove(args: argparse.Namespace, connect: session.Connect) -> int:
    from chalicelib.cli import exemptions_cmd

    parameter = _parameter(args)
    return exemptions_cmd.remove_entry(_connect(args, connect), parameter, args)


def _release(args: argparse.Namespace, connect: session.Connect) -> int:
    from chalicelib.cli import release

    settings = session.settings(os.environ, quarantine_policy_arn=args.quarantine_policy_arn)
    return release.run(_connect(args, connect).client("iam"), settings, args.user, yes=args.yes)


def _report(args: argparse.Namespace, connect: session.Connect) -> int:
    from chalicelib.cli import report

    settings = session.settings(
        os.environ, quarantine_policy_arn=args.quarantine_policy_arn, exemptions_parameter=args.parameter
    )
    return report.run(_connect(args, connect), settings, fmt=args.format, output=args.output)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; every subcommand also accepts the AWS options."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Operate mfa-enforcer by hand: scan, manage exemptions, release users, export audit evidence.",
        epilog=EPILOG,
    )
    _aws_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _aws_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser(
        "scan", parents=[common], help="run the bot's reconciliation now (report mode unless --enforce)", epilog=EPILOG
    )
    scan.add_argument("--enforce", action="store_true", help="quarantine and release for real (asks first)")
    scan.add_argument("--yes", "-y", action="store_true", help="do not ask before --enforce writes")
    _format_option(scan)
    _policy_option(scan)
    _parameter_option(scan)
    scan.set_defaults(handler=_scan)

    ex = commands.add_parser("exemptions", help="validate, list, add or remove exemptions")
    ex_commands = ex.add_subparsers(dest="exemptions_command", required=True, metavar="ACTION")

    validate = ex_commands.add_parser(
        "validate", parents=[common], help="check a document file with the bot's own validator", epilog=EPILOG
    )
    validate.add_argument("file", help="JSON file, or - for stdin")
    _format_option(validate)
    validate.set_defaults(handler=_validate)

    listing = ex_commands.add_parser(
        "list", parents=[common], help="active, expiring (7 days) and expired entries", epilog=EPILOG
    )
    _format_option(listing)
    _parameter_option(listing)
    listing.set_defaults(handler=_list)

    add = ex_commands.add_parser("add", parents=[common], help="add an exemption (safe with concurrent admins)")
    _selector_options(add)
    add.add_argument("--reason", required=True, help="why this account may sign in without MFA")
    add.add_argument("--expires", help="YYYY-MM-DD (through the end of that day, UTC) or an ISO 8601 datetime")
    add.add_argument("--approved-by", help="who approved the exception")
    add.add_argument("--replace", action="store_true", help="replace an existing entry for the same user/path/group")
    add.add_argument(
        "--create", action="store_true", help="create the parameter if it does not exist (otherwise that is an error)"
    )
    _parameter_option(add)
    add.set_defaults(handler=_add)

    rm = ex_commands.add_parser("remove", parents=[common], help="remove the exemption of a user, path or group")
    _selector_options(rm)
    _parameter_option(rm)
    rm.set_defaults(handler=_remove)

    release = commands.add_parser(
        "release", parents=[common], help="detach the quarantine policy and tags from a user (asks first)"
    )
    release.add_argument("user", help="IAM user name")
    release.add_argument("--yes", "-y", action="store_true", help="do not ask")
    _policy_option(release)
    release.set_defaults(handler=_release)

    report = commands.add_parser("report", parents=[common], help="audit evidence as CSV, JSON or a single HTML file")
    report.add_argument("--format", choices=("csv", "json", "html"), default="html", help="html (default), csv or json")
    report.add_argument(
        "--output", "-o", metavar="FILE", help="write to FILE; - for stdout (without it, stdout unless a terminal)"
    )
    _policy_option(report)
    _parameter_option(report)
    report.set_defaults(handler=_report)
    return parser


def _explain(exc: BaseException) -> str | None:
    """One line for the errors a user can fix; None for a bug."""
    if isinstance(exc, CliError):
        return exc.message
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: use --profile, AWS_PROFILE, or the AWS_ACCESS_KEY_ID/SECRET variables"
    if isinstance(exc, ProfileNotFound):
        return f"AWS profile not found: {exc}"
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS: {exc}"
    if isinstance(exc, ClientError):
        return f"AWS refused: {exc}"
    if isinstance(exc, BotoCoreError):
        return f"AWS SDK error: {exc}"
    return None


def main(argv: Sequence[str] | None = None, *, connect: session.Connect = session.connect) -> int:
    """Run one command; returns the exit code (the console script passes it to sys.exit).

    `connect` builds the AWS session; tests pass one that hooks botocore events on it.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed usage or help
        return int(exc.code) if isinstance(exc.code, int) else Exit.ERROR
    handler: Handler = args.handler
    try:
        return int(handler(args, connect))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except Exception as exc:  # the one top-level handler: a message, never a traceback unless --debug
        if args.debug:
            raise
        message = _explain(exc)
        code = exc.code if isinstance(exc, CliError) else Exit.ERROR
        if message is None:
            message = f"internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)"
        print(f"{PROG}: {printable(message)}", file=sys.stderr)
        return int(code)
