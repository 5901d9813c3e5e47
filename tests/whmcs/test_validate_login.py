"""The emulator's stored passwords and ValidateLogin, as WHMCS/developer-docs describes them
(api-reference/validatelogin.md, addclient.md, adduser.md): a password set at creation
validates, nothing else does, every failure reads the same, and the text is never kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from syncd.emulators.whmcs import WhmcsEmulator

SAMPLES = Path(__file__).parent / "samples"


def _call(emu: WhmcsEmulator, action: str, **params: str) -> dict[str, Any]:
    form = {"action": action, "identifier": "syncd", "secret": "emulator-secret", "responsetype": "json", **params}
    status, _, body = emu.handle(form, "127.0.0.1")
    assert status == 200
    data: dict[str, Any] = json.loads(body)
    return data


def _new_client(emu: WhmcsEmulator, email: str, password: str) -> str:
    answer = _call(emu, "AddClient", firstname="N", lastname="Ew", email=email, address1="x", city="x",
                   state="x", postcode="1", country="US", phonenumber="123", password2=password)
    assert answer["result"] == "success", answer
    return str(answer["clientid"])


def test_a_client_created_with_password2_validates_with_it_and_only_it() -> None:
    emu = WhmcsEmulator()
    client_id = _new_client(emu, "new@example.com", " Tr0ub4dor&3 ")
    ok = _call(emu, "ValidateLogin", email="NEW@example.com", password2=" Tr0ub4dor&3 ")
    # The documented keys and types: every value a string, as the docs' example shows.
    doc = json.loads((SAMPLES / "WHMCS__developer-docs__ValidateLogin.json").read_text())
    assert {k: type(v) for k, v in ok.items()} == {k: type(v) for k, v in doc.items()}
    assert ok["result"] == "success" and ok["userid"] == client_id and ok["twoFactorEnabled"] == "false"
    assert isinstance(ok["passwordhash"], str) and len(ok["passwordhash"]) == 40
    for wrong in ("Tr0ub4dor&3", "tr0ub4dor&3 ", "", " Tr0ub4dor&3  "):
        assert _call(emu, "ValidateLogin", email="new@example.com", password2=wrong) == {
            "result": "error", "message": "Email or Password Invalid"}


def test_an_unknown_email_and_a_passwordless_user_read_like_a_wrong_password() -> None:
    emu = WhmcsEmulator()
    emu.add_client("seeded@example.com", "Se", "Eded")  # seeded without a password
    refused = {"result": "error", "message": "Email or Password Invalid"}
    assert _call(emu, "ValidateLogin", email="nobody@example.com", password2="x") == refused
    assert _call(emu, "ValidateLogin", email="seeded@example.com", password2="") == refused
    assert _call(emu, "ValidateLogin", email="seeded@example.com", password2="anything") == refused


def test_adduser_and_a_client_area_change_set_what_validates() -> None:
    emu = WhmcsEmulator()
    added = _call(emu, "AddUser", firstname="U", lastname="S", email="u@example.com", password2="first-one")
    user_id = added["user_id"]
    assert _call(emu, "ValidateLogin", email="u@example.com", password2="first-one")["result"] == "success"
    emu.set_user_password(int(user_id), "second-one")
    assert _call(emu, "ValidateLogin", email="u@example.com", password2="first-one")["result"] == "error"
    assert emu.password_matches("u@example.com", "second-one")
    # A user owning no client answers its own id (see validatelogin's docstring).
    assert _call(emu, "ValidateLogin", email="u@example.com", password2="second-one")["userid"] == user_id


def test_the_password_text_is_not_kept_anywhere_in_the_emulator() -> None:
    emu = WhmcsEmulator()
    _new_client(emu, "keep@example.com", "never-kept-4711")
    user = emu.users[emu.user_by_email("keep@example.com") or 0]
    assert "never-kept-4711" not in repr(user) and "never-kept-4711" not in user.password_hash
    assert "never-kept-4711" not in json.dumps(_call(emu, "GetUsers")) + json.dumps(
        _call(emu, "GetClientsDetails", email="keep@example.com"))


def test_validatelogin_is_in_the_api_role_and_can_be_denied() -> None:
    emu = WhmcsEmulator()
    _new_client(emu, "r@example.com", "pw")
    emu.deny("ValidateLogin")
    form = {"action": "ValidateLogin", "identifier": "syncd", "secret": "emulator-secret", "responsetype": "json",
            "email": "r@example.com", "password2": "pw"}
    status, _, body = emu.handle(form, "127.0.0.1")
    assert status == 403 and "Invalid Permissions" in body.decode()


def test_a_seeded_password_validates() -> None:
    emu = WhmcsEmulator.from_seed({"clients": [{"email": "s@example.com", "password": "seeded-pw"}],
                                   "users": [{"email": "u@example.com", "password": "user-pw"}]})
    assert emu.password_matches("s@example.com", "seeded-pw") and emu.password_matches("u@example.com", "user-pw")
