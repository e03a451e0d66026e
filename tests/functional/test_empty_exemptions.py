"""A parameter that exists but holds nothing: the Lambdas fail safe, they do not read it as "exempt nobody".

An empty (or blank) value is a broken write or a wiped document. Read as an empty list it would
quarantine every break-glass and vendor account the admins exempted, at once; so it is an invalid
document: a critical config-error, and no quarantine decided on it. Only a parameter that does not
exist means "no exemptions". (SSM refuses an empty string; a value of spaces or a newline is stored.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import load_fixture
from tests.support import moto_state as ms

EXEMPTIONS = "/mfa-enforcer/exemptions"


def sign_in(user: str) -> dict[str, Any]:
    text = (ms.ROOT / "tests" / "fixtures" / "eventbridge_console_login_iam_user_no_mfa.json").read_text()
    return dict(json.loads(text.replace('"alice"', f'"{user}"').replace('/alice"', f'/{user}"')))


@pytest.mark.parametrize("blank", [" ", "\n", "  \t "])
def test_the_scan_quarantines_nobody_on_a_blank_document(
    iam: Any, ssm: Any, enforce: str, lambda_client: Any, blank: str
) -> None:
    ms.create_user(iam, ms.UserSpec("break-glass"))
    ssm.put_parameter(Name=EXEMPTIONS, Value=blank, Type="String")

    result = lambda_client.lambda_.invoke("scheduled_scan", load_fixture("eventbridge_scheduled.json")).payload

    assert ms.quarantined_users(iam) == set()
    (error,) = [f for f in result["transitions"] if f["type"] == "config-error"]
    assert error["severity"] == "critical"
    assert "is empty" in error["reason"]


def test_a_sign_in_is_not_quarantined_on_a_blank_document(iam: Any, ssm: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("break-glass"))
    ssm.put_parameter(Name=EXEMPTIONS, Value=" ", Type="String")

    result = lambda_client.lambda_.invoke("on_console_login", sign_in("break-glass")).payload

    assert ms.quarantined_users(iam) == set()
    (error,) = result["findings"]
    assert (error["type"], error["severity"]) == ("config-error", "critical")


def test_a_missing_parameter_still_means_no_exemptions(iam: Any, enforce: str, lambda_client: Any) -> None:
    ms.create_user(iam, ms.UserSpec("bob"))

    result = lambda_client.lambda_.invoke("scheduled_scan", load_fixture("eventbridge_scheduled.json")).payload

    assert ms.quarantined_users(iam) == {"bob"}
    assert not [f for f in result["findings"] if f["type"] == "config-error"]
