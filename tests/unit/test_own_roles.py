"""Which roles count as the bot: both ways of deploying, CloudFormation's cut names, the explicit list."""

from __future__ import annotations

import pytest

from chalicelib.core import own_roles
from tests.policy_sim import documents as docs

SUFFIX = docs.EXAMPLE_SUFFIX
CHALICE_PROD = [f"mfa-enforcer-prod-{f}" for f in own_roles.FUNCTIONS]
PACKAGED = [f"mfa-enforcer-{logical}-{SUFFIX}" for logical in own_roles.LOGICAL_IDS]


def test_the_names_are_the_deployments_names() -> None:
    """What the rule assumes is what app.py and Chalice's packager produce."""
    assert own_roles.FUNCTIONS == docs.FUNCTIONS
    assert own_roles.LOGICAL_IDS == docs.CHALICE_ROLES


@pytest.mark.parametrize("own", CHALICE_PROD)
@pytest.mark.parametrize("other", CHALICE_PROD)
def test_chalice_deploy_roles_are_siblings(own: str, other: str) -> None:
    assert own_roles.bot_roles(own).covers(other)


@pytest.mark.parametrize("own", PACKAGED)
@pytest.mark.parametrize("logical", own_roles.LOGICAL_IDS)
def test_packaged_template_roles_are_siblings_whatever_their_suffix(own: str, logical: str) -> None:
    assert own_roles.bot_roles(own).covers(f"mfa-enforcer-{logical}-ZYXWVUTSRQ98")


@pytest.mark.parametrize(
    ("own", "other"),
    [
        ("mfa-enforcer-prod-scheduled_scan", "mfa-enforcer-dev-on_iam_change"),  # another stage is another bot
        ("mfa-enforcer-prod-scheduled_scan", "mfa-enforcer-prod-admin"),
        ("mfa-enforcer-prod-scheduled_scan", "Admin"),
        (PACKAGED[0], f"other-stack-OnIamChangeRole-{SUFFIX}"),
        (PACKAGED[0], f"mfa-enforcer-AdminRole-{SUFFIX}"),
        (PACKAGED[0], "mfa-enforcer-OnIamChangeRole-short"),  # not CloudFormation's suffix
        (PACKAGED[0], "mfa-enforcer-OnIam-ABCDEFGHIJKL"),  # a cut logical id only in a name long enough to be cut
        (PACKAGED[0], "mfa-OnIamChangeRole-ABCDEFGHIJKL"),  # the stack part must match
        ("mfa-enforcer-dev", "mfa-enforcer-dev-on_iam_change"),  # a shared (autogen) role has no siblings
        ("some-role", "some-role-2"),
    ],
)
def test_lookalikes_are_not_the_bot(own: str, other: str) -> None:
    assert not own_roles.bot_roles(own).covers(other)


def test_the_own_role_always_counts_and_case_does_not_matter() -> None:
    for own in ("mfa-enforcer-dev", "custom-bot-role", *CHALICE_PROD, *PACKAGED):
        assert own_roles.bot_roles(own).covers(own.upper())
    assert not own_roles.bot_roles("x").covers(None)


def cut(stack: str, logical: str, suffix: str = SUFFIX) -> str:
    """A generated name with the logical id shortened to fit IAM's 64 characters."""
    room = own_roles.MAX_ROLE_NAME - len(stack) - len(suffix) - 2
    return f"{stack}-{logical[:room]}-{suffix}"


def test_cloudformation_cuts_long_names_and_siblings_are_still_found() -> None:
    """A StackSet's stack name is long: CloudFormation shortens the logical id (and the stack name) to fit 64."""
    stack = "StackSet-mfa-enforcer-6f1e1c1f-a2f7"
    own = cut(stack, "ScheduledScanRole")
    assert len(own) == 64 and "-ScheduledScanR-" in own
    roles = own_roles.bot_roles(own)
    assert roles.covers(cut(stack, "OnIamChangeRole"))
    assert roles.covers(cut(stack[:-2], "OnConsoleLoginRole", "AB12CD34EF56"))  # the stack part cut too
    assert not roles.covers(cut("StackSet-other-enforcer-6f1e1c1f-a2f7", "OnIamChangeRole"))
    assert not roles.covers(cut(stack, "AdminRoleForEverything"))


def test_the_explicit_list_replaces_the_derivation() -> None:
    named = ("scan-role", "login-role", "change-role")
    roles = own_roles.bot_roles("change-role", named)
    assert all(roles.covers(name) for name in named)
    assert not roles.covers("mfa-enforcer-prod-on_iam_change")
    siblings = own_roles.bot_roles(CHALICE_PROD[0], ["only-this"])
    assert siblings.covers("only-this") and siblings.covers(CHALICE_PROD[0])
    assert not siblings.covers(CHALICE_PROD[2])
