"""How ``wordpress_roles.probe`` reads each answer of its create-that-cannot-succeed: only the
refusals WordPress gives after its role check mean "the role passed"; a refusal of the REST
arguments (checked before the role) tells nothing, and says so."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from syncd.adapters import wordpress_roles
from syncd.adapters.wordpress_http import RestClient
from syncd.adapters.wordpress_users import Account

ACCOUNT = Account(id=1, username="admin", email="admin@example.test", roles=("administrator",),
                  capabilities=frozenset({"create_users", "promote_users"}), meta_keys=frozenset())


def _site(status: int, body: dict[str, Any], seen: list[dict[str, Any]]) -> RestClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/wp-json/":
            return httpx.Response(200, json={"namespaces": ["wp/v2"], "authentication": {}})
        seen.append(json.loads(request.content))
        return httpx.Response(status, json=body)

    return RestClient("http://wp.test/", "admin", SecretStr("Abcd1234Efgh5678Ijkl9012"),
                      transport=httpx.MockTransport(handler), retries=0, sleep=lambda _: None)


def _error(code: str, message: str = "", status: int = 400, **data: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status, **data}}


@pytest.mark.parametrize(("status", "body", "exists", "assignable"), [
    (400, _error("rest_user_invalid_role", "The role ghost does not exist."), False, False),
    (403, _error("rest_user_invalid_role", "Sorry, you are not allowed to give users that role.", 403), True, False),
    (500, {"code": "user_login_too_long", "message": "Username may not be longer than 60 characters.",
           "data": None}, True, True),
    (500, {"code": "existing_user_email", "message": "Sorry, that email address is already used!", "data": None},
     True, True),
    (400, _error("rest_invalid_param", "Invalid parameter(s): username",
                 params={"username": "This username is invalid."},
                 details={"username": {"code": "rest_user_invalid_username", "message": "invalid"}}), None, None),
    (403, _error("rest_cannot_create_user", "Sorry, you are not allowed to create new users.", 403), None, None),
], ids=["missing", "not-allowed", "passed-then-login-refused", "passed-then-email-in-use", "arguments-refused",
        "cannot-create"])
def test_each_answer_means_what_wordpress_checked_before_it(status: int, body: dict[str, Any], exists: bool | None,
                                                            assignable: bool | None) -> None:
    seen: list[dict[str, Any]] = []
    rest = _site(status, body, seen)
    answer = wordpress_roles.probe(rest, ACCOUNT, "ghost")
    assert (answer.exists, answer.assignable) == (exists, assignable)
    assert bool(answer.said) == (exists is not True or assignable is not True)
    [sent] = seen
    assert len(sent["username"]) == 61 and sent["email"] == ACCOUNT.email and sent["roles"] == ["ghost"]
    assert rest.calls["role_check"] == 1  # a create is never sent twice


def test_a_user_created_despite_both_guards_is_said_plainly() -> None:
    rest = _site(201, {"id": 77, "username": wordpress_roles.PROBE_USERNAME}, [])
    answer = wordpress_roles.probe(rest, ACCOUNT, "subscriber")
    assert answer.exists and "created user #77" in answer.said and "delete it" in answer.said
