"""Real-format EventBridge ConsoleLogin events for seeded users, built from the captured fixtures.

Each event is a captured fixture with only the identity, MFA flag, ids and times replaced: the
shape (envelope keys, CloudTrail record fields, their spelling) is the fixture's. Four batches:
`violator` (no MFA, grace over, not exempt: must be quarantined), `compliant` (signed in with
MFA), `exempt` (no MFA, exempt by user, path or group) and `pending` (no MFA, still in grace):
only violators lead to a write.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
FIXTURE_NO_MFA = FIXTURES / "eventbridge_console_login_iam_user_no_mfa.json"
FIXTURE_MFA = FIXTURES / "eventbridge_console_login_iam_user_mfa.json"
# Until those fixtures land: the published record (CloudTrail User Guide) in the envelope EventBridge adds.
SHARED_SAMPLE = ROOT.parent / "shared" / "samples" / "aws_ctug_signin_iam_user_success_no_mfa.json"
ACCOUNT_ID = "123456789012"


def template(mfa: bool) -> dict[str, Any]:
    """The captured event to copy: the MFA or no-MFA fixture (or the published sample in an envelope)."""
    path = FIXTURE_MFA if mfa else FIXTURE_NO_MFA
    if path.exists():
        return dict(json.loads(path.read_text()))
    record = json.loads(SHARED_SAMPLE.read_text())["Records"][0]
    return {
        "version": "0",
        "id": "6f87d04b-9f74-4f04-a780-7acf4b0a9b38",
        "detail-type": "AWS Console Sign In via CloudTrail",
        "source": "aws.signin",
        "account": record["userIdentity"]["accountId"],
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record,
    }


def login_event(base: Mapping[str, Any], user: str, path: str, *, mfa: bool, rng: random.Random) -> dict[str, Any]:
    """The captured event, re-addressed to one seeded user in the benchmark account."""
    event = copy.deepcopy(dict(base))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    detail = event["detail"]
    identity = detail["userIdentity"]
    identity.update(
        arn=f"arn:aws:iam::{ACCOUNT_ID}:user{path}{user}",
        accountId=ACCOUNT_ID,
        userName=user,
        principalId="AIDA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(17)),
    )
    detail["additionalEventData"]["MFAUsed"] = "Yes" if mfa else "No"
    detail["eventTime"] = now
    detail["eventID"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if "recipientAccountId" in detail:
        detail["recipientAccountId"] = ACCOUNT_ID
    event.update(account=ACCOUNT_ID, time=now, id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    return event


def batches(plan: Sequence[Mapping[str, Any]], per_batch: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Up to `per_batch` events per kind, for users drawn with a fixed seed from the seed plan."""
    rng = random.Random(seed + 2)
    no_mfa, with_mfa = template(mfa=False), template(mfa=True)

    def must_quarantine(u: Mapping[str, Any]) -> bool:
        return u["kind"] == "no-mfa" and u["old"] and u["exempt_by"] is None

    kinds = {
        "violator": [u for u in plan if must_quarantine(u)],
        "compliant": [u for u in plan if u["kind"] == "mfa"],
        "exempt": [u for u in plan if u["kind"] == "no-mfa" and u["exempt_by"] is not None],
        "pending": [u for u in plan if u["kind"] == "no-mfa" and not u["old"] and u["exempt_by"] is None],
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, users in kinds.items():
        chosen = rng.sample(users, min(per_batch, len(users)))
        base = with_mfa if kind == "compliant" else no_mfa
        out[kind] = [login_event(base, u["name"], u["path"], mfa=kind == "compliant", rng=rng) for u in chosen]
    return out
