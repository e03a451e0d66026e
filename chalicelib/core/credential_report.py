"""Turn the IAM credential report CSV into typed rows.

Columns are found by header name, because AWS has added columns over the years and may reorder
them. AWS's string conventions (`N/A`, `no_information`, `not_supported`, lower-case booleans,
`<root_account>`) are resolved here and nowhere else. One bad row is reported and skipped; only a
report with no usable header is an error for the whole scan.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.core.model import ROOT_USER, ReportRow

REQUIRED_COLUMNS = ("user", "arn", "user_creation_time", "password_enabled", "mfa_active")
_ABSENT = frozenset({"n/a", "no_information", "not_supported", ""})
MAX_NAME_IN_MESSAGE = 128


class ReportFormatError(ValueError):
    """The report as a whole cannot be read (empty, or a required column is missing)."""


@dataclass(frozen=True)
class RowError:
    """A row that could not be parsed: reported by user name (or line number) and skipped."""

    user: str
    line: int
    problem: str


@dataclass(frozen=True)
class CredentialReport:
    """The parsed report: the rows we can trust and the ones we could not read."""

    rows: tuple[ReportRow, ...]
    errors: tuple[RowError, ...]

    @property
    def root(self) -> ReportRow | None:
        """The `<root_account>` row, which moto never produces but AWS always does."""
        return next((r for r in self.rows if r.is_root), None)

    @property
    def users(self) -> tuple[ReportRow, ...]:
        """Every row except root."""
        return tuple(r for r in self.rows if not r.is_root)


def parse(content: bytes | str) -> CredentialReport:
    """Parse the report body as returned by `GetCredentialReport` (bytes, UTF-8, maybe with a BOM)."""
    text = content.decode("utf-8-sig", errors="replace") if isinstance(content, bytes) else content.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ReportFormatError("credential report is empty") from None
    except csv.Error as exc:
        raise ReportFormatError(f"credential report header is not CSV: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ReportFormatError(f"credential report lacks column(s): {', '.join(missing)}")

    rows: list[ReportRow] = []
    errors: list[RowError] = []
    line = 1
    while True:
        line += 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(user=f"<line {line}>", line=line, problem=f"not CSV: {exc}"))
            continue
        if not any(f.strip() for f in fields):
            continue
        record = dict(zip(header, fields, strict=False))
        user = _short(record.get("user", "")) or f"<line {line}>"
        if len(fields) != len(header):
            errors.append(RowError(user, line, f"has {len(fields)} fields, header has {len(header)}"))
            continue
        try:
            rows.append(_row(record))
        except ValueError as exc:
            errors.append(RowError(user, line, str(exc)))
    return CredentialReport(rows=tuple(rows), errors=tuple(errors))


def _row(record: dict[str, str]) -> ReportRow:
    user = record["user"].strip()
    if not user:
        raise ValueError("empty user name")
    is_root = user == ROOT_USER
    return ReportRow(
        user=user,
        arn=record["arn"].strip(),
        created=_timestamp(record, "user_creation_time", required=not is_root),
        # AWS writes not_supported for root's password_enabled: root always has a password.
        password_enabled=True if is_root else _boolean(record, "password_enabled"),
        password_last_changed=_timestamp(record, "password_last_changed", required=False),
        mfa_active=_boolean(record, "mfa_active"),
        access_key_active=_boolean(record, "access_key_1_active", default=False)
        or _boolean(record, "access_key_2_active", default=False),
    )


def _boolean(record: dict[str, str], column: str, default: bool | None = None) -> bool:
    raw = record.get(column)
    if raw is None:
        if default is None:
            raise ValueError(f"{column} is missing")
        return default
    value = raw.strip().lower()
    if value in ("true", "false"):
        return value == "true"
    if value in _ABSENT and default is not None:
        return default
    raise ValueError(f"{column} is not true/false: {_short(raw)!r}")


def _timestamp(record: dict[str, str], column: str, *, required: bool) -> datetime | None:
    raw = (record.get(column) or "").strip()
    if raw.lower() in _ABSENT:
        if required:
            raise ValueError(f"{column} is missing")
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{column} is not an ISO 8601 timestamp: {_short(raw)!r}") from None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{column} is out of range: {_short(raw)!r}") from None


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_NAME_IN_MESSAGE else text[:MAX_NAME_IN_MESSAGE] + "…"
