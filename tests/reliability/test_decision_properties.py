"""Properties of the pure decision core that must hold for every input, not only the table's rows.

Users, exemption documents, quarantine state, grace and mode are all generated; the invariants
are the promises of design.md: MFA and exemptions protect, root is never a target, report mode
never writes, and deciding again on the decided state changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core import decide, exemptions
from chalicelib.core.credential_report import CredentialReport
from chalicelib.core.model import ROOT_USER, Action, FindingType, Mode, ReportRow, Trigger
from tests.conftest import NOW
from tests.reliability.support import reliability

ACCOUNT = "123456789012"
NAMES = ("ann", "ben", "cat", "dov", "eve", "fay")
PATHS = ("/", "/eng/", "/eng/web/", "/service/")
GROUPS = ("vendors", "admins", "ops")
QUARANTINE = (Action.QUARANTINE, Action.WOULD_QUARANTINE)

moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))
near_now = st.timedeltas(min_value=timedelta(days=-40), max_value=timedelta(days=40)).map(lambda d: NOW + d)


@st.composite
def entries(draw: st.DrawFn) -> dict[str, str]:
    selector = draw(st.sampled_from(exemptions.SELECTORS))
    value = {
        "user": st.sampled_from(NAMES),
        "path": st.sampled_from(PATHS),
        "group": st.sampled_from(GROUPS),
        "identity_center_user": st.sampled_from(NAMES),  # same names as IAM users: must never exempt them
    }
    entry = {selector: draw(value[selector]), "reason": "approved"}
    if draw(st.booleans()):
        entry["expires"] = draw(near_now).strftime("%Y-%m-%dT%H:%M:%SZ")
    return entry


documents = st.none() | st.lists(entries(), max_size=4).map(
    lambda items: exemptions.parse({"version": 1, "exemptions": items})
)
policies = st.builds(
    decide.Policy,
    mode=st.sampled_from(Mode),
    grace=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=96)),
)


@st.composite
def user_facts(draw: st.DrawFn, name: str | None = None) -> decide.UserFacts:
    user = name or draw(st.sampled_from(NAMES))
    path = draw(st.sampled_from(PATHS))
    return decide.UserFacts(
        user=user,
        arn=f"arn:aws:iam::{ACCOUNT}:user{path}{user}",
        console=draw(st.booleans()),
        mfa=draw(st.booleans()),
        access_key=draw(st.booleans()),
        created=draw(st.none() | moments | near_now),
        quarantined=draw(st.booleans()),
        groups=frozenset(draw(st.sets(st.sampled_from(GROUPS)))),
    )


@st.composite
def rows(draw: st.DrawFn, name: str) -> ReportRow:
    path = draw(st.sampled_from(PATHS))
    return ReportRow(
        user=name,
        arn=f"arn:aws:iam::{ACCOUNT}:root" if name == ROOT_USER else f"arn:aws:iam::{ACCOUNT}:user{path}{name}",
        created=draw(st.none() | moments | near_now) if name == ROOT_USER else draw(moments | near_now),
        password_enabled=draw(st.booleans()),
        password_last_changed=draw(st.none() | moments | near_now),
        mfa_active=draw(st.booleans()),
        access_key_active=draw(st.booleans()),
    )


@st.composite
def accounts(draw: st.DrawFn) -> tuple[CredentialReport, frozenset[str], dict[str, frozenset[str]]]:
    """A report (with root rows, possibly several), who is quarantined now, and group membership."""
    names = draw(st.lists(st.sampled_from(NAMES), unique=True))
    roots = [ROOT_USER] * draw(st.integers(0, 2))
    report = CredentialReport(rows=tuple(draw(rows(n)) for n in draw(st.permutations(names + roots))), errors=())
    quarantined = frozenset(draw(st.sets(st.sampled_from((*NAMES, ROOT_USER)))))
    members = {g: frozenset(draw(st.sets(st.sampled_from(NAMES)))) for g in GROUPS}
    return report, quarantined, members


Account = tuple[CredentialReport, frozenset[str], dict[str, frozenset[str]]]
Document = exemptions.Exemptions | None


def covering(facts: decide.UserFacts, selector: str, now: datetime, lasts: timedelta | None) -> dict[str, str]:
    """An active exemption entry that covers this user by the given selector."""
    value = {"user": facts.user, "path": facts.path, "group": min(facts.groups, default=None)}[selector]
    entry = {selector: value, "reason": "approved"} if value is not None else {"user": facts.user, "reason": "ok"}
    if lasts is not None:
        entry["expires"] = (now + lasts).strftime("%Y-%m-%dT%H:%M:%SZ")
    return entry


def apply(plan: decide.Plan, quarantined: frozenset[str]) -> frozenset[str]:
    """What executing a plan's writes does to the set of quarantined users."""
    added = {w.user for w in plan.writes if w.action is Action.QUARANTINE}
    removed = {w.user for w in plan.writes if w.action is Action.RELEASE}
    return (quarantined | added) - removed


@reliability(
    "decision core: a user with MFA (generated users, documents, grace, mode, trigger)",
    "never quarantined",
)
@given(user_facts(), documents, near_now, policies, st.sampled_from(Trigger))
def test_a_user_with_mfa_is_never_quarantined(
    facts: decide.UserFacts, document: Document, now: datetime, policy: decide.Policy, trigger: Trigger
) -> None:
    facts = replace(facts, mfa=True)
    found, write = decide.evaluate(facts, document, now, policy, trigger)
    assert write is None or write.action not in QUARANTINE
    assert FindingType.QUARANTINED not in {f.type for f in found}


@reliability("decision core: an actively exempt user", "never quarantined")
@given(
    user_facts(),
    st.lists(entries(), max_size=4),
    st.sampled_from(exemptions.IAM_SELECTORS),
    st.none() | st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400)),
    st.integers(0, 4),
    near_now,
    policies,
    st.sampled_from(Trigger),
)
def test_an_actively_exempt_user_is_never_quarantined(
    facts: decide.UserFacts,
    others: list[dict[str, str]],
    selector: str,
    lasts: timedelta | None,
    position: int,
    now: datetime,
    policy: decide.Policy,
    trigger: Trigger,
) -> None:
    others.insert(min(position, len(others)), covering(facts, selector, now, lasts))
    document = exemptions.parse({"version": 1, "exemptions": others})
    assert document.match(facts.user, facts.path, facts.groups, now) is not None
    found, write = decide.evaluate(facts, document, now, policy, trigger)
    assert write is None or write.action not in QUARANTINE
    assert FindingType.QUARANTINED not in {f.type for f in found}


@reliability("decision core: unusable exemptions document (None)", "nobody quarantined (fail safe)")
@given(accounts(), near_now, policies)
def test_without_a_usable_document_nobody_is_quarantined(
    account: Account, now: datetime, policy: decide.Policy
) -> None:
    report, quarantined, members = account
    plan = decide.scan(report, None, members, quarantined, now, policy)
    assert not [c for c in plan.candidates if c.action in QUARANTINE]


@reliability("decision core: reports with root rows (any flags, any quarantine state)", "root is never a write target")
@given(accounts(), documents, near_now, policies)
def test_root_is_never_a_write_target(
    account: Account,
    document: Document,
    now: datetime,
    policy: decide.Policy,
) -> None:
    report, quarantined, members = account
    plan = decide.scan(report, document, members, quarantined, now, policy)
    assert ROOT_USER not in {c.user for c in plan.candidates}
    assert not [f for f in plan.findings if f.user == ROOT_USER and f.action is not Action.NONE]


@reliability("decision core: report mode", "never yields a write action")
@given(accounts(), documents, near_now, policies)
def test_report_mode_never_yields_a_write(
    account: Account,
    document: Document,
    now: datetime,
    policy: decide.Policy,
) -> None:
    report, quarantined, members = account
    plan = decide.scan(report, document, members, quarantined, now, decide.Policy(Mode.REPORT, policy.grace))
    assert plan.writes == ()
    assert not [f for f in plan.findings if f.action.is_write]
    assert not [c for c in plan.candidates if c.action.is_write]


@reliability("decision core: deciding again on the state the first decision produced", "no action (idempotent)")
@given(accounts(), documents, near_now, policies)
def test_deciding_twice_on_the_decided_state_yields_no_action(
    account: Account,
    document: Document,
    now: datetime,
    policy: decide.Policy,
) -> None:
    report, quarantined, members = account
    enforce = decide.Policy(Mode.ENFORCE, policy.grace)
    first = decide.scan(report, document, members, quarantined, now, enforce)
    assert len({c.user for c in first.candidates}) == len(first.candidates)  # one write per user at most
    second = decide.scan(report, document, members, apply(first, quarantined), now, enforce)
    assert second.candidates == ()
    assert not [f for f in second.findings if f.type in (FindingType.QUARANTINED, FindingType.RELEASED)]
