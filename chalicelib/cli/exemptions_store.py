"""Read-change-write of the exemptions parameter, safe when several admins edit at once.

SSM has no conditional write: PutParameter with Overwrite replaces whatever is there. But every
write gets the next version number, PutParameter returns it, and the last 100 versions stay
readable (GetParameter `name:version`). That is enough to detect, after the fact, that someone
wrote in between, and to repair it:

1. Read the latest document (version V); apply this admin's change (add or remove one entry).
2. Just before writing, read the version again. If others wrote since, replay their changes (each
   version compared with the one before it) onto our copy and go again: nothing was lost yet.
3. PutParameter. When no version but our own lies between the last one we accounted for and ours,
   we are done.
4. Otherwise our write replaced versions we never saw. Replay each of them (its difference from its
   predecessor, which is exactly what that admin changed, even when the predecessor was our own
   overwrite), apply our change again, and write again at once. Repeat from 3.

Every writer repairs what it overwrote, by replaying the others' changes rather than trusting any
one document, so two or three admins racing each other all keep their entries. A change that cannot
be combined with a concurrent one (both admins exempting the same user differently) is not applied:
the others' document is put back and the admin is told. Limits, documented in docs/exemptions.md: between
an overwrite and its repair (one round trip) the stored document lacks the other change, and a
Lambda that reads it then may cache it for up to five minutes; edits made by hand in the console
are replayed like any other, but the console does not repair what it overwrites; after
MAX_ATTEMPTS rounds of constant contention the CLI stops and says which versions to check.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.aws_errors import error_text
from chalicelib.cli.errors import CliError
from chalicelib.core import exemptions

STANDARD_TIER = "Standard"
ADVANCED_TIER = "Advanced"
SIZE_LIMITS = {STANDARD_TIER: 4096, ADVANCED_TIER: 8192}
MAX_ATTEMPTS = 6

# The change one admin makes: the document in, the new document out. `strict` is False while
# repairing an overwrite; a change already made by someone else (the entry is gone) is then fine.
Change = Callable[[exemptions.Exemptions, bool], exemptions.Exemptions]


@dataclass(frozen=True)
class Snapshot:
    """One version of the parameter; version 0 and text None when it does not exist."""

    text: str | None
    version: int

    @property
    def exists(self) -> bool:
        """False before the first write."""
        return self.text is not None


@dataclass(frozen=True)
class Stored:
    """How the parameter is stored, kept on every write (a write must not downgrade tier or type)."""

    tier: str = STANDARD_TIER
    type: str = "String"
    key_id: str | None = None

    @property
    def limit(self) -> int:
        """Largest value this tier accepts, in bytes (AWS: 4 KB standard, 8 KB advanced)."""
        return SIZE_LIMITS.get(self.tier, SIZE_LIMITS[STANDARD_TIER])


@dataclass(frozen=True)
class Outcome:
    """What an update did, for the message to the admin."""

    document: exemptions.Exemptions
    before: int
    version: int
    changed: bool
    merged: tuple[int, ...] = ()  # other admins' versions this update was re-applied on top of


Entries = dict[tuple[str, str], dict[str, str]]  # (selector, value) -> the entry as written


@dataclass
class _Attempt:
    """State across the attempts of one update."""

    working: Entries  # the document as it should be without our change, in document order
    through: int  # every version up to this one is accounted for in `working`
    own: list[int] = field(default_factory=list)
    merged: list[int] = field(default_factory=list)  # others' versions replayed after we had written
    unwritten: list[int] = field(default_factory=list)  # replayed, but not yet in a write of ours
    failure: CliError | None = None  # found while repairing: put the others' document back, then report it
    restore_text: str | None = None


def serialize(document: exemptions.Exemptions) -> str:
    """The stored form: one entry per line, so the console and diffs stay readable, and compact."""
    entries = [json.dumps(e.as_entry(), ensure_ascii=False) for e in document.entries]
    body = ",\n    ".join(entries)
    listing = f"[\n    {body}\n  ]" if entries else "[]"
    return f'{{\n  "version": {exemptions.SCHEMA_VERSION},\n  "exemptions": {listing}\n}}\n'


def size_problem(text: str, stored: Stored) -> str | None:
    """A clear sentence when the document does not fit the parameter's tier, else None."""
    size = len(text.encode("utf-8"))
    if size <= stored.limit:
        return None
    hint = (
        "shorten reasons or remove expired entries, or move the parameter to the Advanced tier (8 KB, charged): "
        "aws ssm put-parameter --tier Advanced --overwrite ..."
        if stored.tier == STANDARD_TIER
        else "shorten reasons or remove expired entries (8 KB is the largest SSM parameter)"
    )
    return f"the document would be {size} bytes, over the {stored.limit}-byte limit of the {stored.tier} tier; {hint}"


class ExemptionsStore:
    """The exemptions parameter, read and written by the CLI (never by the Lambdas)."""

    PERMISSIONS = ("ssm:GetParameter", "ssm:DescribeParameters", "ssm:PutParameter")

    def __init__(
        self,
        ssm: Any,
        name: str,
        *,
        attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ssm = ssm
        self.name = name
        self._attempts = attempts
        self._sleep = sleep
        self._texts: dict[int, str | None] = {}  # parameter versions read (or written) by this update

    def read(self, version: int | None = None) -> Snapshot:
        """The latest version, or a given one from the parameter's history."""
        selector = self.name if version is None else f"{self.name}:{version}"
        try:
            parameter = self._ssm.get_parameter(Name=selector, WithDecryption=True)["Parameter"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ParameterNotFound" and version is None:
                return Snapshot(text=None, version=0)
            if code in ("ParameterVersionNotFound", "ParameterNotFound"):
                raise CliError(f"version {version} of {self.name} is no longer in SSM's history") from None
            raise
        return Snapshot(text=str(parameter["Value"]), version=int(parameter["Version"]))

    def stored(self) -> Stored:
        """Tier, type and KMS key of the existing parameter (DescribeParameters); defaults when absent."""
        answer = self._ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [self.name]}])
        for parameter in answer.get("Parameters", []):
            if parameter.get("Name") == self.name:
                return Stored(
                    tier=str(parameter.get("Tier") or STANDARD_TIER),
                    type=str(parameter.get("Type") or "String"),
                    key_id=parameter.get("KeyId"),
                )
        return Stored()

    def load(self, snapshot: Snapshot) -> exemptions.Exemptions:
        """Validate a stored version with the Lambda's validator; the CLI refuses to edit a broken document."""
        try:
            return exemptions.loads(snapshot.text)
        except exemptions.ExemptionsError as exc:
            problems = "; ".join(str(p) for p in exc.problems)
            raise CliError(
                f"{self.name} (version {snapshot.version}) is invalid, so it was not changed: {problems}. "
                "Fix it first (mfa-enforcer exemptions validate FILE helps)."
            ) from None

    def update(self, change: Change, *, missing: str | None = None) -> Outcome:
        """Apply `change` to the latest document and write it, repairing any write that raced ours.

        `missing`, when given, is the refusal for a parameter that does not exist yet (nothing is
        written); without it the first write creates the parameter.
        """
        first = self.read()
        if missing is not None and not first.exists:
            raise CliError(missing)
        stored = self.stored() if first.exists else Stored()
        self._texts = {0: None, first.version: first.text}
        state = _Attempt(working=_entries(self.load(first)), through=first.version)
        for attempt in range(self._attempts):
            payload, document = self._payload(state, change, stored)
            if payload is None:
                return Outcome(document=document, before=first.version, version=first.version, changed=False)
            latest = self.read()
            self._texts[latest.version] = latest.text
            newer = [v for v in range(state.through + 1, latest.version + 1) if v not in state.own]
            if newer:  # someone wrote since we last looked, and our last write (if any) is accounted for
                self._replay(state, newer)
                if not state.own:
                    self._sleep(random.uniform(0, 0.1 * 2**attempt))
                continue
            written = self._put(state, payload, stored)
            if written is None:  # created concurrently: their version 1.. are changes to replay
                stored = self.stored()
                continue
            state.own.append(written)
            self._texts[written] = payload
            foreign = [v for v in range(state.through + 1, written) if v not in state.own]
            if not foreign:
                if state.failure is not None:
                    raise state.failure
                return Outcome(document, first.version, written, True, tuple(state.merged))
            state.merged.extend(foreign)
            state.unwritten = foreign
            self._replay(state, foreign)  # and write again at once: the others' changes are missing now
        raise self._unsettled(state)

    def _text(self, version: int) -> str | None:
        if version not in self._texts:
            self._texts[version] = self.read(version).text
        return self._texts[version]

    def _replay(self, state: _Attempt, versions: list[int]) -> None:
        """Apply what each version changed relative to its predecessor; an unreadable one is put back as is."""
        for version in sorted(versions):
            try:
                before = _entries(exemptions.loads(self._text(version - 1)))
                after = _entries(exemptions.loads(self._text(version)))
            except exemptions.ExemptionsError as exc:
                if not state.own:
                    raise CliError(
                        f"{self.name} version {version} is invalid, so it was not changed: {exc}. Fix it first."
                    ) from None
                state.failure = CliError(
                    f"another admin wrote an invalid document (version {version}); it was put back as written and "
                    f"your change was not applied: {exc}"
                )
                state.restore_text = self._text(version)
            else:
                for key in before.keys() - after.keys():
                    state.working.pop(key, None)
                for key, entry in after.items():
                    if before.get(key) != entry:
                        state.working[key] = entry
            state.through = max(state.through, version)

    def _payload(self, state: _Attempt, change: Change, stored: Stored) -> tuple[str | None, exemptions.Exemptions]:
        """The text to write now (None: nothing to change), or the others' document when ours cannot apply."""
        repairing = bool(state.own)
        current = _document(list(state.working.values()))
        if state.failure is None:
            try:
                document = change(current, not repairing)
                if not repairing and document == current:
                    return None, current
                text = serialize(document)
                problem = size_problem(text, stored)
                if problem is not None:
                    raise CliError(f"not written: {problem}")
                return text, document
            except CliError as exc:
                if not repairing:
                    raise
                state.failure = CliError(
                    f"{exc.message} Another admin changed {self.name} at the same time; their changes were kept "
                    "and yours was not applied."
                )
        if state.restore_text is not None:
            return state.restore_text, current
        text = serialize(current)
        if size_problem(text, stored) is not None:  # the others' changes alone no longer fit: newest as written
            state.restore_text = self._text(state.through) or text
            return state.restore_text, current
        return text, current

    def _put(self, state: _Attempt, payload: str, stored: Stored) -> int | None:
        creating = state.through == 0 and not state.own
        request: dict[str, Any] = {
            "Name": self.name,
            "Value": payload,
            "Type": stored.type,
            "Overwrite": not creating,
            "Tier": stored.tier,
        }
        if stored.key_id and stored.type == "SecureString":
            request["KeyId"] = stored.key_id
        try:
            return int(self._ssm.put_parameter(**request)["Version"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ParameterAlreadyExists" and creating:
                return None
            if state.own:
                raise CliError(
                    f"write to {self.name} failed while repairing a concurrent edit ({error_text(exc)}); "
                    f"version {state.own[-1]} may lack another admin's change: "
                    "check with `mfa-enforcer exemptions list`"
                ) from None
            raise

    def _unsettled(self, state: _Attempt) -> CliError:
        if not state.own:
            return CliError(f"{self.name} kept changing during {self._attempts} attempts; nothing was written")
        return CliError(
            f"{self.name} kept changing during {self._attempts} attempts; version {state.own[-1]} (yours) may lack "
            f"the changes other admins made in {'versions' if len(state.unwritten) > 1 else 'version'} "
            f"{', '.join(map(str, state.unwritten))}: "
            "check with `mfa-enforcer exemptions list`"
        )


def add(entry: dict[str, str], *, replace: bool) -> Change:
    """Add one entry; adding an identical entry again changes nothing; a different one needs `replace`."""

    def change(document: exemptions.Exemptions, strict: bool) -> exemptions.Exemptions:
        entries = [e.as_entry() for e in document.entries]
        key = _key(entry)
        for index, existing in enumerate(entries):
            if _key(existing) != key:
                continue
            if existing == entry:
                return document
            if not replace:
                raise CliError(
                    f"{key[0]} {existing[key[0]]} is already exempt by exemptions[{index}] "
                    f"(reason: {existing['reason']!r}); pass --replace to change that entry"
                )
            entries[index] = entry
            return _document(entries)
        return _document([*entries, entry])

    return change


def remove(selector: str, value: str) -> Change:
    """Remove the entry for one selector; when it is already gone, only a repair treats that as done."""

    def change(document: exemptions.Exemptions, strict: bool) -> exemptions.Exemptions:
        entries = [e.as_entry() for e in document.entries]
        kept = [e for e in entries if _key(e) != _key({selector: value})]
        if len(kept) == len(entries) and strict:
            raise CliError(f"no exemption for {selector} {value} in the document; nothing was changed")
        return _document(kept)

    return change


def _entries(document: exemptions.Exemptions) -> Entries:
    return {_key(e.as_entry()): e.as_entry() for e in document.entries}


def _key(entry: dict[str, str]) -> tuple[str, str]:
    """(selector, value); user and group names compare regardless of case, as IAM and the matcher do."""
    selector = next(s for s in exemptions.SELECTORS if s in entry)
    value = entry[selector]
    return selector, value if selector == "path" else value.casefold()


def _document(entries: list[dict[str, str]]) -> exemptions.Exemptions:
    return exemptions.parse({"version": exemptions.SCHEMA_VERSION, "exemptions": entries})
