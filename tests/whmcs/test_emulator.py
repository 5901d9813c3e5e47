"""The emulator's own behaviour: WHMCS's validation order and messages, prefix search,
the WHMCS 8 user model, PHP's idea of a true flag, seeding, and the standalone process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.emulators.whmcs import WhmcsEmulator
from tests.whmcs.conftest import IDENTIFIER, SECRET, whmcs_settings


def call(emulator: WhmcsEmulator, action: str, **params: str) -> dict[str, Any]:
    form = {"action": action, "identifier": IDENTIFIER, "secret": SECRET, "responsetype": "json", **params}
    _, _, body = emulator.handle(form, "127.0.0.1")
    data: dict[str, Any] = json.loads(body)
    return data


FULL = {"firstname": "F", "lastname": "L", "email": "f@example.com", "address1": "1 Road", "city": "C",
        "state": "S", "postcode": "1", "country": "GB", "phonenumber": "0123", "password2": "Pw-123456"}


@pytest.mark.parametrize(("missing", "message"), [
    ("firstname", "You did not enter your first name"),
    ("lastname", "You did not enter your last name"),
    ("email", "You did not enter your email address"),
    ("address1", "You did not enter your address (line 1)"),
    ("city", "You did not enter your city"),
    ("state", "You did not enter your state"),
    ("postcode", "You did not enter your postcode"),
    ("phonenumber", "You did not enter your phone number"),
    ("country", "Valid country required"),
    ("password2", "You did not enter a password"),
])
def test_addclient_validates_the_required_fields(emulator: WhmcsEmulator, missing: str, message: str) -> None:
    params = {k: v for k, v in FULL.items() if k != missing}
    assert call(emulator, "AddClient", **params) == {"result": "error", "message": message}


def test_addclient_with_no_fields_is_a_validation_error(emulator: WhmcsEmulator) -> None:
    assert call(emulator, "AddClient")["message"] == "You did not enter your first name"


def test_skipvalidation_still_needs_the_email_and_a_password(emulator: WhmcsEmulator) -> None:
    assert call(emulator, "AddClient", skipvalidation="1")["message"] == "You did not enter your email address"
    assert call(emulator, "AddClient", skipvalidation="1", email="s@example.com")["message"] == \
        "You did not enter a password"
    done = call(emulator, "AddClient", skipvalidation="1", email="s@example.com", password2="x")
    assert done["result"] == "success" and isinstance(done["clientid"], str)


def test_addclient_rejects_taken_emails_and_bad_values(emulator: WhmcsEmulator) -> None:
    assert call(emulator, "AddClient", **{**FULL, "email": "ANN@example.com"})["message"] == \
        "A user already exists with that email address"
    uid = emulator.add_user("user-only@example.com")
    assert call(emulator, "AddClient", **{**FULL, "email": "ann@example.com", "owner_user_id": str(uid)})[
        "message"] == "A client already exists with that email address"
    assert call(emulator, "AddClient", **{**FULL, "owner_user_id": "999"})["message"] == "Invalid Owner User ID"
    assert call(emulator, "AddClient", **{**FULL, "email": "nope"})["message"] == \
        "The email address you entered was not valid"
    assert call(emulator, "AddClient", **{**FULL, "phonenumber": "call me"})["message"] == \
        "Invalid telephone phone number"


def test_addclient_with_an_owner_attaches_the_existing_user(emulator: WhmcsEmulator) -> None:
    uid = emulator.add_user("shared@example.com", "Sha", "Red")
    done = call(emulator, "AddClient", **{**FULL, "email": "second@example.com", "owner_user_id": str(uid)})
    cid = int(done["clientid"])
    assert done["owner_user_id"] == uid and emulator.users[uid].clients == {cid: True}


def test_php_reads_noemail_false_as_true(emulator: WhmcsEmulator) -> None:
    # A WHMCS quirk the adapter avoids by sending the flag only when it is true.
    call(emulator, "AddClient", **{**FULL, "noemail": "false"})
    call(emulator, "AddClient", **{**FULL, "email": "g@example.com", "noemail": "0"})
    assert emulator.emails_sent == [("Client Signup Email", "g@example.com")]


def test_updateclient_and_updateuser_keep_emails_unique(emulator: WhmcsEmulator) -> None:
    assert call(emulator, "UpdateClient", clientid="1", email="bob@example.com")["message"] == \
        "Duplicate Email Address"
    assert call(emulator, "UpdateClient", clientid="1", email="bad")["message"] == \
        "The email address entered is not valid"
    assert call(emulator, "UpdateClient", clientid="1", status="Gone")["message"].startswith("Invalid status")
    assert call(emulator, "UpdateClient", clientid="99")["message"] == "Client ID Not Found"
    assert call(emulator, "UpdateUser", user_id="1", email="bob@example.com")["message"] == \
        "A user already exists with that email address"
    assert call(emulator, "UpdateUser", user_id="1")["message"] == \
        "One of email, firstname, lastname, or language is required"
    assert call(emulator, "UpdateUser", user_id="99", firstname="X")["message"] == "Invalid User ID requested"
    # A client's email and its owner's are separate records: one changes, the other does not.
    assert call(emulator, "UpdateClient", clientemail="ann@example.com", email="ann9@example.com")["result"] == \
        "success"
    assert emulator.users[emulator.clients[1].owner_user_id or 0].email == "ann@example.com"


def test_resetpassword_messages(emulator: WhmcsEmulator) -> None:
    assert call(emulator, "ResetPassword")["message"] == "Please enter the email address or provide the id"
    assert call(emulator, "ResetPassword", email="x")["message"] == "Please provide a valid email address"
    assert call(emulator, "ResetPassword", email="who@example.com")["message"] == "User Not Found"
    assert call(emulator, "ResetPassword", email="bob@example.com") == {"result": "success"}
    assert emulator.emails_sent == [("Password Reset Validation", "bob@example.com")]


@pytest.mark.parametrize(("search", "emails"), [
    ("ann@example.com", ["ann@example.com", "ann@example.com.au"]),
    ("lee", ["ann@example.com", "ann@example.com.au"]),
    ("Ann Lee", ["ann@example.com"]),
    ("Lee Ltd", ["ann@example.com"]),
    ("dave.moe", ["Dave.Moe@Example.com"]),
    ("example.com", []),
])
def test_search_is_a_case_insensitive_prefix(emulator: WhmcsEmulator, search: str, emails: list[str]) -> None:
    data = call(emulator, "GetClients", search=search)
    rows = data["clients"]["client"]
    assert [r["email"] for r in rows] == emails and data["totalresults"] == len(emails)


def test_paging_sorting_and_status_filter(emulator: WhmcsEmulator) -> None:
    page = call(emulator, "GetClients", limitstart="2", limitnum="2", sorting="DESC")
    assert [r["id"] for r in page["clients"]["client"]] == [3, 2]
    assert (page["totalresults"], page["startnumber"], page["numreturned"]) == (5, 2, 2)
    assert [r["email"] for r in call(emulator, "GetClients", status="Closed")["clients"]["client"]] == [
        "carol@example.com"]
    assert [r["email"] for r in call(emulator, "GetClients", orderby="email", limitnum="1")["clients"]["client"]] \
        == ["ann@example.com"]


def test_getadminusers_hides_disabled_admins_unless_asked(emulator: WhmcsEmulator) -> None:
    assert [a["email"] for a in call(emulator, "GetAdminUsers")["admin_users"]] == ["boss@example.com"]
    everyone = call(emulator, "GetAdminUsers", include_disabled="1")
    assert everyone["count"] == 2


def test_seeding_a_client_with_a_users_email_makes_that_user_its_owner(emulator: WhmcsEmulator) -> None:
    first = emulator.client_by_email("ann@example.com") or 0
    second = emulator.add_client("ann@example.com", "Ann", "Other")
    owner = emulator.clients[first].owner_user_id or 0
    assert emulator.clients[second].owner_user_id == owner
    assert emulator.users[owner].clients == {first: True, second: True}


def test_role_and_faults_are_checked(emulator: WhmcsEmulator) -> None:
    emulator.deny("GetClients")
    assert call(emulator, "GetClients")["message"] == 'Invalid Permissions: API action "getclients" is not allowed'
    emulator.allow("GetClients")
    assert call(emulator, "GetClients")["result"] == "success"
    with pytest.raises(ValueError, match="unknown fault kind"):
        emulator.fail_on("GetClients", kind="explode")
    assert emulator.calls["GetClients"] == 2


def test_missing_credentials_and_get_requests(emulator: WhmcsEmulator) -> None:
    with emulator.serve() as url:
        missing = httpx.post(url + "includes/api.php", data={"action": "GetClients", "responsetype": "json"})
        assert (missing.status_code, missing.json()["message"]) == (403, "Invalid or missing credentials")
        got = httpx.get(url + "includes/api.php", params={"action": "WhmcsDetails", "identifier": IDENTIFIER,
                                                          "secret": SECRET})
        assert got.json()["whmcs"]["version"] == emulator.version


def test_the_standalone_emulator_serves_its_seed(tmp_path: Path) -> None:
    seed = {
        "identifier": IDENTIFIER, "secret": SECRET, "version": "8.10.0",
        "denied_actions": ["DeleteClient"],
        "admins": [{"email": "root@example.com", "first_name": "Ro", "last_name": "Ot"}],
        "clients": [{"email": "x@example.com", "first_name": "X", "last_name": "Ex", "company": "XCo"},
                    {"email": "y@example.com", "first_name": "Y", "last_name": "Why", "status": "Inactive",
                     "phone": "+44.1234567"}],
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    process = subprocess.Popen([sys.executable, "-m", "syncd.emulators", "whmcs", "--port", "0", "--seed", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        url = started["url"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        assert started["identifier"] == IDENTIFIER and started["version"] == "8.10.0"
        adapter = WhmcsAdapter(whmcs_settings(url), SecretStr(SECRET))
        snap = adapter.snapshot()
        assert [(r.email, r.fields["company"], r.active) for r in snap.records] == [
            ("x@example.com", "XCo", True), ("y@example.com", "", False)]
        assert snap.admin_emails == {"root@example.com"} and adapter.whmcs_version() == "8.10.0"
        adapter.close()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_the_standalone_emulator_refuses_a_seed_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "seed.json").write_text("{not json")
    for seed in (tmp_path / "seed.json", tmp_path / "missing.json"):
        done = subprocess.run([sys.executable, "-m", "syncd.emulators", "whmcs", "--seed", str(seed)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and done.stdout == "" and "cannot use the seed file" in done.stderr


def test_email_lookups_see_direct_edits(emulator: WhmcsEmulator) -> None:
    assert emulator.user_by_email("ANN@example.com") == 1
    emulator.users[1].email = "renamed@example.com"
    assert emulator.user_by_email("ann@example.com") is None
    assert emulator.user_by_email("Renamed@example.com") == 1
    del emulator.clients[1]
    assert emulator.client_by_email("ann@example.com") is None
    emulator.clients.clear()
    assert emulator.client_by_email("bob@example.com") is None
