"""Hostile credential reports: random rows and columns, BOM, CRLF, empty files, very long names.

Two levels. The parser: every data row is either a trusted row or an error naming its user, and
only a report without a usable header is refused as a whole. The scan shell (service.run_scan with
in-memory ports, so thousands of reports cost seconds): whatever the report, the scan returns a
result, reports each malformed row by name, and writes only for users it could read.
"""

from __future__ import annotations

import csv
import io
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib import observability, service
from chalicelib.core import credential_report
from chalicelib.core.config import Settings
from chalicelib.core.model import ROOT_USER, Action, FindingType, Mode, RunResult
from tests.conftest import NOW, fixture_text
from tests.reliability import support as rs
from tests.reliability.support import reliability

AWS_COLUMNS = tuple(fixture_text("iam_credential_report.csv").splitlines()[0].split(","))
REQUIRED = credential_report.REQUIRED_COLUMNS
OPTIONAL = tuple(c for c in AWS_COLUMNS if c not in REQUIRED)
ACCOUNT = "123456789012"
POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/mfa-enforcer-quarantine"
ENFORCE = Settings(mode=Mode.ENFORCE, quarantine_policy_arn=POLICY_ARN)

# Names as AWS allows them, plus what a broken or hostile producer might write.
aws_names = st.text(string.ascii_letters + string.digits + "+=,.@_-", min_size=1, max_size=64)
# No bare CR/LF inside cells here: Python's csv writer leaves a lone CR unquoted under an LF line
# terminator, which splits the record (covered by the scan-level test, which needs no oracle).
characters = st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r\n")
odd_names = st.text(characters, min_size=1, max_size=40)
long_names = st.integers(129, 600).map(lambda n: "x" * n)
names = aws_names | odd_names | long_names
booleans = st.sampled_from(["true", "false", "TRUE", "False", " true "])
absent = st.sampled_from(["N/A", "no_information", "not_supported", ""])
timestamps = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.sampled_from([UTC, None])
).map(lambda d: d.isoformat())
garbage = st.text(characters, max_size=30)


@dataclass(frozen=True)
class Row:
    """A generated data row, whether the parser must accept it, and the name it must report it by."""

    cells: dict[str, str]
    name: str
    valid: bool
    reported: str


@st.composite
def report_rows(draw: st.DrawFn, columns: tuple[str, ...]) -> Row:
    name = draw(names | st.just(ROOT_USER))
    cells = {c: draw(st.text(characters, max_size=10) | absent) for c in columns}
    cells.update(
        user=name,
        arn=f"arn:aws:iam::{ACCOUNT}:user/{name}",
        user_creation_time=draw(timestamps),
        password_enabled=draw(booleans),
        mfa_active=draw(booleans),
    )
    for column in ("password_last_changed", "access_key_1_active", "access_key_2_active"):
        if column in cells:
            cells[column] = draw(timestamps | absent) if column.endswith("changed") else draw(booleans | absent)
    broken = None
    if draw(st.integers(0, 3)) == 0:  # one value the parser must refuse
        broken = draw(st.sampled_from(["user_creation_time", "password_enabled", "mfa_active"]))
        cells[broken] = draw(invalid_values)
    # design.md: root's password_enabled is AWS's `not_supported`, so the parser does not read it.
    valid = bool(name.strip()) and (broken is None or (name == ROOT_USER and broken == "password_enabled"))
    return Row(cells=cells, name=name, valid=valid, reported=name)


def _is_value(text: str) -> bool:
    """True for text some column could accept: a boolean, an AWS 'absent' marker, or an ISO 8601 instant."""
    text = text.strip().lower()
    if text in ("true", "false", "n/a", "no_information", "not_supported", ""):
        return True
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


invalid_values = (st.sampled_from(["maybe", "yes", "1", "yesterday", "2024-13-45T99:00:00", "tru"]) | garbage).filter(
    lambda g: not _is_value(g)
)


@st.composite
def reports(draw: st.DrawFn) -> tuple[bytes, list[Row], bool]:
    """(body as GetCredentialReport returns it, the rows written, whether the header is usable)."""
    dropped = draw(st.sets(st.sampled_from(REQUIRED), max_size=1)) if draw(st.integers(0, 9)) == 0 else set()
    extra = draw(st.lists(st.text(string.ascii_lowercase + "_", min_size=1, max_size=12), max_size=3))
    kept = [c for c in (*REQUIRED, *draw(st.sets(st.sampled_from(OPTIONAL)))) if c not in dropped]
    columns = tuple(dict.fromkeys(draw(st.permutations(kept + [e for e in extra if e not in AWS_COLUMNS]))))
    rows = draw(st.lists(report_rows(columns), max_size=8))
    names_seen = [r.name.strip() for r in rows]
    rows = [r for r in rows if names_seen.count(r.name.strip()) == 1]  # AWS never repeats a user
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(columns)
    written: list[Row] = []
    for row in rows:
        line = [row.cells.get(c, "") for c in columns]
        if draw(st.integers(0, 5)) == 0:  # a short or long row: field count differs from the header
            short = draw(st.booleans())
            line = line[:-1] if short else [*line, "surplus"]
            lost_name = short and columns[-1] == "user"
            row = Row(row.cells, row.name, valid=False, reported="" if lost_name else row.name)
        writer.writerow(line)
        written.append(row)
    body = out.getvalue().encode()
    if draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body
    return body, written, not dropped


def expected_name(row: Row) -> str:
    text = row.reported.strip()
    if not text:
        return "<line"
    return text if len(text) <= credential_report.MAX_NAME_IN_MESSAGE else text[:128] + "…"


@reliability(
    "credential report CSV: random rows, missing/extra/reordered columns, BOM, CRLF, long and odd names",
    "every row is either read or reported by name; only a report without the required header is refused",
)
@settings(max_examples=rs.examples(0.5))
@given(reports())
def test_every_row_is_read_or_reported_by_name(report: tuple[bytes, list[Row], bool]) -> None:
    body, rows, usable = report
    try:
        parsed = credential_report.parse(body)
    except credential_report.ReportFormatError as exc:
        assert not usable, exc
        assert "lacks column" in str(exc)
        return
    assert usable
    assert len(parsed.rows) + len(parsed.errors) == len(rows)
    read = {r.user for r in parsed.rows}
    reported = [e.user for e in parsed.errors]
    for row in rows:
        if row.valid:
            assert row.name.strip() in read
        else:
            assert any(user.startswith(expected_name(row)) for user in reported), (row.name, reported)


def scan(content: bytes, **iam: Any) -> tuple[RunResult, rs.FakeIam]:
    fake = rs.FakeIam(content=content, **iam)
    ports = service.Ports(settings=ENFORCE, iam=fake, parameters=rs.FakeParameters(), clock=lambda: NOW)  # type: ignore[arg-type]
    try:
        return service.run_scan(ports, rs.StaticContext().get_remaining_time_in_millis), fake
    finally:
        observability.flush()


def hostile_bodies() -> st.SearchStrategy[bytes | str]:
    return st.one_of(
        reports().map(lambda r: r[0]),
        st.binary(max_size=300),
        st.text(max_size=300),
        st.sampled_from([b"", b"\xef\xbb\xbf", b"\r\n\r\n", ",".join(REQUIRED).encode(), b'"unterminated']),
        st.lists(st.lists(st.text(max_size=12), max_size=8), max_size=6).map(_as_csv),
    )


def _as_csv(table: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows([list(REQUIRED), *table])
    return out.getvalue()


def _row(name: str, created: str) -> bytes:
    return f"{','.join(REQUIRED)}\n{name},arn:aws:iam::{ACCOUNT}:user/{name},{created},true,false\n".encode()


@reliability(
    "credential report at the scan: arbitrary bytes, text, CSV shapes and extreme timestamps",
    "the scan never crashes; malformed rows become report-row-error findings by name; writes only for readable users",
)
@given(hostile_bodies(), st.sets(names, max_size=3))
@example(_row("bob", "9999-12-31T23:59:59-01:00"), set())  # valid ISO 8601, beyond UTC's range
@example(_row("bob", "9999-12-31T20:00:00+00:00"), set())  # grace deadline beyond datetime's range
@example(b"\xef\xbb\xbf" + _row("alice", "2020-01-01T00:00:00Z").replace(b"\n", b"\r\n"), set())
def test_the_scan_survives_any_report(body: bytes | str, quarantined: set[str]) -> None:
    if isinstance(body, str):  # as the API returns it: bytes (lone surrogates become invalid UTF-8)
        body = body.encode("utf-8", "surrogatepass")
    result, fake = scan(body, quarantined_users=frozenset(quarantined))
    try:
        parsed = credential_report.parse(body)
    except credential_report.ReportFormatError:
        assert [f.type for f in result.findings] == [FindingType.SCAN_ERROR]
        assert fake.writes == []
        return
    row_errors = [f.user for f in result.findings if f.type is FindingType.REPORT_ROW_ERROR]
    assert row_errors == [e.user for e in parsed.errors]
    readable = {r.user for r in parsed.users}
    assert {user for _, user in fake.writes} <= readable | quarantined
    assert ROOT_USER not in {user for _, user in fake.writes}
    assert not [f for f in result.findings if f.type is FindingType.SCAN_ERROR]
    assert all(f.action in (Action.NONE, Action.QUARANTINE, Action.RELEASE) for f in result.findings)


@reliability(
    "credential report with a timestamp whose grace deadline overflows (created 9999-12-31)",
    "that row is reported by name, the other users are still decided",
)
def test_an_unrepresentable_deadline_does_not_stop_the_other_users() -> None:
    body = (
        f"{','.join(REQUIRED)}\n"
        f"zed,arn:aws:iam::{ACCOUNT}:user/zed,9999-12-31T20:00:00+00:00,true,false\n"
        f"amy,arn:aws:iam::{ACCOUNT}:user/amy,{(NOW - timedelta(days=30)).isoformat()},true,false\n"
    ).encode()
    result, fake = scan(body)
    assert fake.writes == [("quarantine", "amy")]
    assert "zed" in {f.user for f in result.findings}
