"""Seed a moto account with N users in a fixed, realistic mix, and say who must end up quarantined.

The mix: 60 % console password + MFA, 25 % console password without MFA, 15 % access-key
only; 80 % of users older than the 24 h grace period; a handful of no-MFA users exempt by user
name, by path and by group (the SSM exemptions document). The quarantine policy and its fallback
group are created as deployed. With `violators=K` the no-MFA users are arranged so that exactly K
must be quarantined (the 5,000-user / 1,250-violator first-scan scenario).

Users are written straight into moto's in-process backend through `BackendIam`, which serves the
handful of IAM calls `tests.support.moto_state.create_user` makes: the state is the same as through
the API, without 15,000 HTTP round trips per seed, and none of it is counted. The policy, group
and SSM parameter go through the API (6 calls) before the counters are reset.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

GRACE = timedelta(hours=24)
EXEMPTIONS_PARAMETER = "/mfa-enforcer/exemptions"
EXEMPT_PATH = "/break-glass/"
EXEMPT_GROUP = "vendors-sso"
EXEMPT_PER_SELECTOR = 2
SHARE_MFA, SHARE_NO_MFA = 0.60, 0.25  # the rest: access-key only
SHARE_OLD = 0.80
REGION = "us-east-1"


@dataclass(frozen=True)
class Seeded:
    """One seeded user as the benchmark sees it: what it is and what the right outcome is."""

    name: str
    kind: str  # "mfa" | "no-mfa" | "key-only"
    old: bool
    exempt_by: str | None  # "user" | "path" | "group" | None
    path: str = "/"
    groups: tuple[str, ...] = ()
    access_key: bool = False

    @property
    def must_quarantine(self) -> bool:
        """Console password, no MFA, grace over, not exempt: the bot (and c7n) must quarantine."""
        return self.kind == "no-mfa" and self.old and self.exempt_by is None


def plan_users(users: int, seed: int, violators: int | None = None) -> list[Seeded]:
    """The account's users, decided by a fixed random seed (pure: same arguments, same users)."""
    rng = random.Random(seed)
    n_no_mfa = round(users * SHARE_NO_MFA)
    n_key = round(users * (1 - SHARE_MFA - SHARE_NO_MFA))
    exempt_kinds = [kind for kind in ("user", "path", "group") for _ in range(EXEMPT_PER_SELECTOR)]
    if violators is not None:
        n_no_mfa = max(n_no_mfa, violators + len(exempt_kinds))
        if n_no_mfa + n_key > users:
            raise ValueError(f"{violators} violators do not fit in {users} users")
    kinds = ["no-mfa"] * n_no_mfa + ["key-only"] * n_key
    kinds += ["mfa"] * (users - len(kinds))
    rng.shuffle(kinds)

    no_mfa = [i for i, kind in enumerate(kinds) if kind == "no-mfa"]
    exempt_at = dict(zip(no_mfa, exempt_kinds, strict=False))
    forced_old = set(no_mfa[: len(exempt_kinds) + violators]) if violators is not None else set()
    out = []
    for i, kind in enumerate(kinds):
        exempt_by = exempt_at.get(i)
        draw = rng.random()
        old = i in forced_old if violators is not None and kind == "no-mfa" else draw < SHARE_OLD
        if exempt_by is not None:
            old = True  # an exemption only matters for someone who would otherwise be quarantined
        out.append(
            Seeded(
                name=f"user-{i:05d}",
                kind=kind,
                old=old,
                exempt_by=exempt_by,
                path=EXEMPT_PATH if exempt_by == "path" else "/",
                groups=(EXEMPT_GROUP,) if exempt_by == "group" else (),
                access_key=kind == "key-only" or (kind == "mfa" and rng.random() < 0.3),
            )
        )
    return out


def exemptions_document(users: list[Seeded]) -> dict[str, Any]:
    """The SSM exemptions document: the user-selected names, the exempt path, the exempt group."""
    entries: list[dict[str, str]] = [
        {"user": u.name, "reason": "break-glass account, key in the safe", "approved_by": "secops"}
        for u in users
        if u.exempt_by == "user"
    ]
    entries.append({"path": EXEMPT_PATH, "reason": "shared kiosk accounts"})
    entries.append({"group": EXEMPT_GROUP, "reason": "vendor signs in through their IdP", "expires": "2099-12-31"})
    return {"version": 1, "exemptions": entries}


def age_of(user: Seeded, rng: random.Random) -> timedelta:
    """Old users: 2 to 400 days; new ones: inside the grace period."""
    if user.old:
        return timedelta(days=rng.uniform(2, 400))
    return timedelta(hours=rng.uniform(0.5, GRACE.total_seconds() / 3600 - 2))


class BackendIam:
    """The IAM calls `moto_state.create_user` makes, served by moto's backend in this process."""

    def __init__(self, backend: Any) -> None:
        from moto.iam.exceptions import EntityAlreadyExists

        self._backend = backend
        self.exceptions = type("Exceptions", (), {"EntityAlreadyExistsException": EntityAlreadyExists})

    def create_user(self, UserName: str, Path: str = "/") -> None:
        self._backend.create_user(region_name=REGION, user_name=UserName, path=Path)

    def create_login_profile(self, UserName: str, Password: str) -> None:
        self._backend.create_login_profile(UserName, Password)

    def create_virtual_mfa_device(self, VirtualMFADeviceName: str) -> dict[str, dict[str, str]]:
        device = self._backend.create_virtual_mfa_device(VirtualMFADeviceName, "/")
        return {"VirtualMFADevice": {"SerialNumber": device.serial_number}}

    def enable_mfa_device(
        self, UserName: str, SerialNumber: str, AuthenticationCode1: str, AuthenticationCode2: str
    ) -> None:
        self._backend.enable_mfa_device(UserName, SerialNumber, AuthenticationCode1, AuthenticationCode2)

    def create_access_key(self, UserName: str) -> None:
        self._backend.create_access_key(UserName)

    def create_group(self, GroupName: str) -> None:
        self._backend.create_group(GroupName)

    def add_user_to_group(self, GroupName: str, UserName: str) -> None:
        self._backend.add_user_to_group(GroupName, UserName)


OWNER_SENDER = "mfa-enforcer@example.com"


def seed_account(
    endpoint: str, *, users: int, seed: int, violators: int | None = None, owner_email: bool = False
) -> dict[str, Any]:
    """Seed the moto account served at `endpoint` (same process) and return the manifest.

    `owner_email`: every user gets an `email` tag and SES a verified sender, so the bot tells owners
    by e-mail (the benchmark counts those calls like any other).
    """
    import boto3

    from tests.support import moto_state

    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)
    policy_arn = moto_state.create_quarantine_policy(iam)
    planned = plan_users(users, seed, violators)
    ssm.put_parameter(Name=EXEMPTIONS_PARAMETER, Value=json.dumps(exemptions_document(planned)), Type="String")

    backend = BackendIam(moto_state.backend())
    rng = random.Random(seed + 1)
    now = datetime.now(UTC)
    for user in planned:
        spec = moto_state.UserSpec(
            name=user.name,
            console=user.kind != "key-only",
            mfa=user.kind == "mfa",
            access_key=user.access_key,
            age=age_of(user, rng),
            path=user.path,
            groups=user.groups,
        )
        moto_state.create_user(backend, spec, now)
        if owner_email:
            moto_state.backend().tag_user(user.name, [{"Key": "email", "Value": f"{user.name}@example.com"}])
    if owner_email:
        boto3.client("ses", endpoint_url=endpoint, region_name=REGION).verify_email_identity(EmailAddress=OWNER_SENDER)
    moto_state.backend().generate_report()  # a live account has a report; both tools find one
    return {
        "users": len(planned),
        "seed": seed,
        "policy_arn": policy_arn,
        "exemptions_parameter": EXEMPTIONS_PARAMETER,
        "expected": sorted(u.name for u in planned if u.must_quarantine),
        "exempt_users": sorted(u.name for u in planned if u.exempt_by == "user"),
        "exempt_path": EXEMPT_PATH,
        "exempt_group": EXEMPT_GROUP,
        "exempt_groups": 1,  # g: group entries in the exemptions document (one GetGroup each per scan)
        "grace_hours": GRACE.total_seconds() / 3600,
        "mix": _mix(planned),
        "owner_sender": OWNER_SENDER if owner_email else None,
        "plan": [asdict(u) for u in planned],
    }


def _mix(planned: list[Seeded]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for user in planned:
        grace = "" if user.old else " (in grace)"
        exempt = f" exempt-by-{user.exempt_by}" if user.exempt_by else ""
        key = f"{user.kind}{grace}{exempt}"
        counts[key] = counts.get(key, 0) + 1
    counts["must quarantine"] = sum(u.must_quarantine for u in planned)
    return dict(sorted(counts.items()))


def quarantined_now() -> set[str]:
    """Who holds the quarantine policy right now (directly or via the fallback group), read from moto's backend."""
    from tests.support import moto_state

    backend = moto_state.backend()
    direct = {name for name, user in backend.users.items() if moto_state.QUARANTINE_POLICY_ARN in user.managed_policies}
    group = backend.groups.get(moto_state.QUARANTINE_GROUP)
    return direct | ({u.name for u in group.users} if group is not None else set())


def enrol(count: int) -> list[str]:
    """Give the first `count` quarantined users (by name) an MFA device, in moto's backend; their names.

    The release scenario: users who enrolled since the last scan, whom the next scan must release
    after seeing the device live (the report may be stale).
    """
    from tests.support import moto_state

    backend = BackendIam(moto_state.backend())
    chosen = sorted(quarantined_now())[: max(0, count)]
    for name in chosen:
        serial = backend.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
        backend.enable_mfa_device(name, serial, "123456", "654321")
    moto_state.backend().generate_report()
    return chosen
