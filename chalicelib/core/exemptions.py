"""The exemptions document: strict validation and matching.

An admin's typo must never widen or narrow enforcement silently, so validation rejects anything
it does not understand and names every problem by its path in the document
(`exemptions[2].expires`). Names must be names IAM could hold (ASCII, IAM's character sets and
lengths, the whole string: `re.fullmatch`, since `$` matches before a trailing newline and `\\w`
matches any Unicode letter), and no text field may carry a control character, because every text
here ends up in logs, Slack and terminals. Matching is pure: group membership is handed in by the
shell. User and group selectors match regardless of letter case, as IAM names are unique
regardless of case (an entry `Break-Glass` covers the user `break-glass`); paths are compared as
written.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalicelib.core.text import CONTROL

SCHEMA_VERSION = 1
SELECTORS = ("user", "path", "group", "identity_center_user")
IAM_SELECTORS = ("user", "path", "group")  # the ones an IAM user can match; identity_center_user never does
OPTIONAL_KEYS = ("expires", "approved_by")
ENTRY_KEYS = frozenset((*SELECTORS, "reason", *OPTIONAL_KEYS))
TOP_KEYS = frozenset(("version", "exemptions"))
EXPIRING_WINDOW = timedelta(days=7)
NEVER = datetime.max.replace(tzinfo=UTC)  # expiries beyond what datetime can hold ("9999-12-31")
LONG_AGO = datetime.min.replace(tzinfo=UTC)  # expiries before it ("0001-01-01T00:00:00+01:00"): long expired
MAX_TEXT = 1024

MAX_PATH = 512

# IAM's own patterns (IAM API reference: userNameType, groupNameType, pathType), ASCII only.
_USER = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
_GROUP = re.compile(r"[A-Za-z0-9+=,.@_-]{1,128}")
_PATH = re.compile(r"/|/[\x21-\x7e]+/")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]{1,40}")
# Identity Center user names: up to 128 characters, letters (accented too), digits, symbols and
# punctuation; never a control or format character, never leading or trailing blanks.
IDENTITY_CENTER_NAME_CHARS = 128


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the document, located by a JSON path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ExemptionsError(ValueError):
    """The document is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Exemption:
    """One entry. `expires` is the first instant the entry no longer applies (exclusive)."""

    index: int
    selector: str
    value: str
    reason: str
    expires: datetime | None = None
    expires_text: str | None = None
    approved_by: str | None = None

    def active(self, now: datetime) -> bool:
        """An entry applies until its expiry instant."""
        return self.expires is None or now < self.expires

    def expiring(self, now: datetime) -> bool:
        """Active but ending within the warning window (7 days)."""
        return self.expires is not None and now < self.expires <= now + EXPIRING_WINDOW

    def describe(self) -> str:
        """Human label such as `group vendors-sso`."""
        return f"{self.selector} {self.value}"

    def covers(self, user: str, path: str, groups: Iterable[str]) -> bool:
        """Whether this entry's selector names the user, whatever its expiry.

        `user` and `group` compare case-insensitively (IAM refuses two names that differ only in
        case); a `path` entry is a prefix of the user's IAM path, so `/` covers everyone; an
        `identity_center_user` entry never covers an IAM user.
        """
        if self.selector == "path":
            return path.startswith(self.value)
        wanted = self.value.casefold()
        if self.selector == "user":
            return user.casefold() == wanted
        if self.selector == "group":
            return any(group.casefold() == wanted for group in groups)
        return False  # identity_center_user: another person than any IAM user of the same name

    def as_entry(self) -> dict[str, str]:
        """The entry as it is written in the document (round-trips through `parse`)."""
        entry = {self.selector: self.value, "reason": self.reason}
        if self.expires_text is not None:
            entry["expires"] = self.expires_text
        if self.approved_by is not None:
            entry["approved_by"] = self.approved_by
        return entry


@dataclass(frozen=True)
class Exemptions:
    """A validated document."""

    entries: tuple[Exemption, ...] = ()

    @property
    def groups(self) -> tuple[str, ...]:
        """Group names whose members the shell must look up (one call each; spellings differing only in case once)."""
        first: dict[str, str] = {}
        for entry in self.entries:
            if entry.selector == "group":
                first.setdefault(entry.value.casefold(), entry.value)
        return tuple(sorted(first.values()))

    def match(self, user: str, path: str, groups: Iterable[str], now: datetime) -> Exemption | None:
        """The first active entry that covers this user, if any."""
        found = self.match_all(user, path, groups, now)
        return found[0] if found else None

    def match_all(self, user: str, path: str, groups: Iterable[str], now: datetime) -> tuple[Exemption, ...]:
        """Every active entry that covers this user, in document order."""
        group_list = tuple(groups)
        return tuple(e for e in self.entries if e.active(now) and e.covers(user, path, group_list))

    def match_identity_center(self, name: str, now: datetime) -> Exemption | None:
        """The first active `identity_center_user` entry naming this Identity Center user (letter case ignored).

        Only this selector covers an Identity Center sign-in: a `path` of `/` or a `user` entry is
        about IAM users, and an Identity Center user of the same name is another person.
        """
        folded = name.casefold()
        for entry in self.entries:
            if entry.selector == "identity_center_user" and entry.active(now) and entry.value.casefold() == folded:
                return entry
        return None

    def expired(self, now: datetime) -> tuple[Exemption, ...]:
        """Entries past their expiry: no longer applied, reported so an admin cleans up."""
        return tuple(e for e in self.entries if not e.active(now))

    def as_document(self) -> dict[str, Any]:
        """The document as stored in SSM."""
        return {"version": SCHEMA_VERSION, "exemptions": [e.as_entry() for e in self.entries]}


@dataclass(frozen=True)
class Version:
    """One stored version of the parameter: its number, its text, and when it was written."""

    number: int
    text: str | None
    modified: datetime | None = None


def newest_valid(versions: Iterable[Version]) -> tuple[Version, Exemptions] | None:
    """The highest-numbered version that validates, with its document; None when none does.

    This is what the bot enforces when the newest version is invalid: an admin's broken edit (or
    a deliberately broken one) falls back to the last document that was good, instead of
    disarming enforcement.
    """
    for version in sorted(versions, key=lambda v: v.number, reverse=True):
        try:
            return version, loads(version.text)
        except ExemptionsError:
            continue
    return None


def loads(text: str | None) -> Exemptions:
    """Parse and validate the parameter value; None (no parameter) means no exemptions.

    A value that is empty or blank is invalid, not "no exemptions": a parameter that exists but holds
    nothing is a broken write or a wiped document, and reading it as "exempt nobody" would quarantine
    every break-glass and vendor account at once. The run treats it like any invalid document (fail
    safe: a critical config-error, no quarantine on a document it cannot trust).
    """
    if text is None:
        return Exemptions()
    if not text.strip():
        raise ExemptionsError([Problem("$", 'is empty: an empty list is {"version": 1, "exemptions": []}')])
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExemptionsError(
            [Problem("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
        ) from None
    except RecursionError:
        raise ExemptionsError([Problem("$", "not valid JSON: nested too deeply")]) from None
    return parse(document)


def parse(document: object) -> Exemptions:
    """Validate an already-decoded document; raises ExemptionsError listing every problem."""
    problems: list[Problem] = []
    if not isinstance(document, Mapping):
        raise ExemptionsError([Problem("$", f"must be a JSON object, got {_kind(document)}")])
    for key in sorted(set(document) - TOP_KEYS, key=str):
        problems.append(Problem(_key_path("$", key), "unknown key (allowed: version, exemptions)"))
    version = document.get("version")
    if version is None:
        problems.append(Problem("$.version", "is required and must be 1"))
    elif type(version) is not int or version != SCHEMA_VERSION:
        problems.append(Problem("$.version", f"must be 1, got {_show(version)}"))
    items = document.get("exemptions")
    entries: list[Exemption] = []
    if items is None:
        problems.append(Problem("$.exemptions", "is required (a list, may be empty)"))
    elif not isinstance(items, list):
        problems.append(Problem("$.exemptions", f"must be a list, got {_kind(items)}"))
    else:
        for index, item in enumerate(items):
            entry = _entry(index, item, problems)
            if entry is not None:
                entries.append(entry)
    if problems:
        raise ExemptionsError(problems)
    return Exemptions(entries=tuple(entries))


def _entry(index: int, item: object, problems: list[Problem]) -> Exemption | None:
    where = f"exemptions[{index}]"
    if not isinstance(item, Mapping):
        problems.append(Problem(where, f"must be an object, got {_kind(item)}"))
        return None
    before = len(problems)
    for key in sorted(set(item) - ENTRY_KEYS, key=str):
        problems.append(
            Problem(
                _key_path(where, key),
                "unknown key (allowed: user, path, group, identity_center_user, reason, expires, approved_by)",
            )
        )
    chosen = [s for s in SELECTORS if s in item]
    if len(chosen) != 1:
        found = ", ".join(chosen) if chosen else "none"
        problems.append(
            Problem(where, f"needs exactly one selector of user, path, group, identity_center_user (found: {found})")
        )
    for selector in chosen:
        _selector(f"{where}.{selector}", selector, item[selector], problems)
    reason = item.get("reason")
    _free_text(f"{where}.reason", reason, "is required: a non-empty string", problems)
    approved_by = item.get("approved_by")
    if "approved_by" in item:
        _free_text(f"{where}.approved_by", approved_by, "must be a non-empty string when present", problems)
    expires, expires_text = None, None
    if "expires" in item:
        expires_text = item["expires"]
        if not isinstance(expires_text, str) or _text(f"{where}.expires", expires_text, problems):
            expires = _expiry(f"{where}.expires", expires_text, problems)
    if len(problems) != before:
        return None
    return Exemption(
        index=index,
        selector=chosen[0],
        value=item[chosen[0]],
        reason=str(reason),
        expires=expires,
        expires_text=expires_text,
        approved_by=approved_by,
    )


_NAME_RULES = {
    "user": (_USER, "a valid IAM user name (1-64 of A-Z a-z 0-9 + = , . @ _ -)"),
    "group": (_GROUP, "a valid IAM group name (1-128 of A-Z a-z 0-9 + = , . @ _ -)"),
    "path": (_PATH, f"an IAM path that starts and ends with '/' (printable ASCII, no spaces, at most {MAX_PATH})"),
}


def _selector(where: str, selector: str, value: object, problems: list[Problem]) -> None:
    if not isinstance(value, str) or not value:
        problems.append(Problem(where, "must be a non-empty string"))
        return
    if selector == "identity_center_user":
        if not identity_center_name(value):
            problems.append(Problem(where, f"must be an Identity Center user name, got {_show(value)}"))
        return
    pattern, hint = _NAME_RULES[selector]
    if not pattern.fullmatch(value) or len(value) > MAX_PATH:
        problems.append(Problem(where, f"must be {hint}, got {_show(value)}"))


def identity_center_name(value: str) -> bool:
    """A name Identity Center could hold: 1-128 characters, no control or format character, no outer blanks."""
    return (
        0 < len(value) <= IDENTITY_CENTER_NAME_CHARS
        and value == value.strip()
        and not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value)
    )


def _free_text(where: str, value: object, missing: str, problems: list[Problem]) -> None:
    """A reason or an approver: a non-blank string, at most MAX_TEXT characters, without control characters."""
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(where, missing))
    elif len(value) > MAX_TEXT:
        problems.append(Problem(where, f"is longer than {MAX_TEXT} characters"))
    else:
        _text(where, value, problems)


def _text(where: str, value: str, problems: list[Problem]) -> bool:
    """False (and a problem naming the first one) when the text holds a control character."""
    found = CONTROL.search(value)
    if found is None:
        return True
    problems.append(
        Problem(where, f"contains a control character (U+{ord(found.group()):04X} at position {found.start()})")
    )
    return False


def _expiry(where: str, value: object, problems: list[Problem]) -> datetime | None:
    """Dates mean 'through the end of that day, UTC'; datetimes without a zone are taken as UTC."""
    if not isinstance(value, str):
        problems.append(Problem(where, f"must be a date (YYYY-MM-DD) or ISO 8601 datetime string, got {_kind(value)}"))
        return None
    try:
        if _DATE.fullmatch(value):
            start = datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
            return start + timedelta(days=1) if start.date() < date.max else NEVER
        if "T" not in value or not value.isascii():
            raise ValueError
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:  # past the last (9999-12-31T23:59:59-01:00) or before the first representable instant
        return NEVER if value >= "5000" else LONG_AGO
    except ValueError:
        problems.append(Problem(where, f"is not a date (YYYY-MM-DD) or ISO 8601 datetime: {_show(value)}"))
        return None


def _key_path(where: str, key: object) -> str:
    """`where.key` for an ordinary key; an odd one (control characters, spaces, very long) is shown quoted."""
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{where}.{key}"
    return f"{where}[{_show(key)}]"


def _kind(value: object) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _show(value: object) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool) or value is None else _kind(value)
    return text if len(text) <= 80 else text[:77] + "..."
