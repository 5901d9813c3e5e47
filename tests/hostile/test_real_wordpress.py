"""A fixed sample of hostile values against a real WordPress 6.1: raw REST, the adapter, whole runs.

Fixed values (tests/hostile/strategies.py ``SAMPLE_NAMES``, ``SAMPLE_EMAILS``), not random ones,
so a failure here replays exactly. For each value it measures what the real WordPress stores and
asserts the emulator stores the same (the emulator must pass the same contract as the real
thing); then it pushes the sample through the adapter and through whole runs with the WHMCS
emulator: no crash, invalid users reported per user and field, nothing WordPress would refuse
ever sent, and a second run writes nothing.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import httpx
import pytest
from pydantic import SecretStr

from syncd import mapping
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import NewUsers, WordPressSettings
from syncd.emulators.wordpress import WordPressEmulator
from syncd.errors import SyncdError
from syncd.model import Direction, Side, normalise, normalise_email
from tests.fixtures_wordpress import WordPressSite
from tests.hostile.harness import World
from tests.hostile.strategies import SAMPLE_EMAILS, SAMPLE_NAMES
from tests.hostile.test_mapping import assert_wordpress_login


@pytest.fixture(scope="module")
def site(wordpress_site: WordPressSite) -> Iterator[WordPressSite]:
    wordpress_site.reset()
    yield wordpress_site
    wordpress_site.reset()


def _post_users(client: httpx.Client, url: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post(url, json={"password": "Pass-word-1", **body})
    try:
        data = response.json()
    except ValueError:
        data = {}
    return response.status_code, data if isinstance(data, dict) else {}


def _outcome(status: int, data: Mapping[str, Any], field: str) -> tuple[str, str | None]:
    """("created", stored value) or ("refused", error code)."""
    if status == 201:
        return "created", str(data[field])
    return "refused", str(data.get("code"))


def test_wordpress_stores_the_sample_as_the_emulator_does(site: WordPressSite) -> None:
    emulator = WordPressEmulator()
    emu_password = emulator.add_app_password("admin")
    with httpx.Client(auth=site.auth, timeout=30) as real, \
            httpx.Client(transport=emulator.transport(), auth=("admin", emu_password)) as emu:
        emu_url = "http://wp.test/wp-json/wp/v2/users"
        disagreements = []
        for name in SAMPLE_NAMES:
            for field in ("first_name", "last_name"):
                login = f"n{uuid.uuid4().hex[:10]}"
                body = {"username": login, "email": f"{login}@example.test", field: name}
                measured = _outcome(*_post_users(real, site.rest_url("/users"), body), field)
                emulated = _outcome(*_post_users(emu, emu_url, body), field)
                if measured != emulated:
                    disagreements.append((name, field, measured, emulated))
                if measured[0] == "created" and not [m for _, m in mapping.problems(Side.WORDPRESS, {field: name})
                                                     if "markup" in m]:
                    assert mapping.as_stored(Side.WORDPRESS, field, name) == html.unescape(measured[1] or "")
        for email in SAMPLE_EMAILS:
            login = f"e{uuid.uuid4().hex[:10]}"
            body = {"username": login, "email": email}
            measured = _outcome(*_post_users(real, site.rest_url("/users"), body), "email")
            emulated = _outcome(*_post_users(emu, emu_url, body), "email")
            if measured != emulated:
                disagreements.append((email, "email", measured, emulated))
            if mapping.is_valid_email(email) and len(email.strip()) <= 100:
                assert measured == ("created", email) or email != email.strip()
        assert not disagreements, disagreements


def _adapter(site: WordPressSite, scheme: Literal["email", "name"] = "email") -> WordPressAdapter:
    settings = WordPressSettings(url=site.url + "/", username=site.admin_user,
                                 application_password=SecretStr(site.app_password), retries=0,
                                 new_users=NewUsers(username=scheme))
    return WordPressAdapter(settings, SecretStr(site.app_password), exclude_roles=())


def test_the_sample_through_the_adapter(site: WordPressSite) -> None:
    site.reset()
    with _adapter(site, "name") as adapter:
        made = []
        for number, name in enumerate(SAMPLE_NAMES):
            fields = {"email": f"adapter{number}@example.com", "first_name": name, "last_name": name[::-1],
                      "company": name}
            try:
                record = adapter.create(fields)
            except SyncdError as exc:  # allowed only for what mapping refuses
                assert mapping.problems(Side.WORDPRESS, fields), f"{fields!r} refused: {exc}"
                continue
            assert_wordpress_login(record.username)
            made.append(record.username.lower())
            if not mapping.problems(Side.WORDPRESS, fields):
                for field in ("first_name", "last_name", "company"):
                    kept = mapping.as_stored(Side.WORDPRESS, field, fields[field])
                    assert normalise(field, record.fields[field]) == normalise(field, kept), (field, record)
            update = {"first_name": name[::-1], "last_name": name}
            if not mapping.problems(Side.WORDPRESS, update):
                updated = adapter.update(record, update)
                assert normalise("first_name", updated.fields["first_name"]) == normalise(
                    "first_name", mapping.as_stored(Side.WORDPRESS, "first_name", name[::-1]))
        assert len(set(made)) == len(made)
        for number, email in enumerate(SAMPLE_EMAILS):
            fields = {"email": email, "first_name": f"E{number}", "last_name": "Mail"}
            try:
                record = adapter.create(fields)
            except SyncdError as exc:
                assert not mapping.is_valid_email(email) or mapping.problems(Side.WORDPRESS, fields), (email, exc)
                continue
            assert record.key == normalise_email(email)
            assert [r.remote_id for r in adapter.find_by_email(email.upper())] == [record.remote_id]


def _real_users(site: WordPressSite) -> dict[str, dict[str, Any]]:
    users: dict[str, dict[str, Any]] = {}
    with httpx.Client(auth=site.auth, timeout=30) as client:
        page = 1
        while True:
            response = client.get(site.rest_url("/users"), params={"context": "edit", "per_page": 100, "page": page})
            for user in response.json():
                users[normalise_email(user["email"])] = user
            if page >= int(response.headers["X-WP-TotalPages"]):
                return users
            page += 1


def test_whole_runs_with_the_sample_against_the_real_wordpress(site: WordPressSite) -> None:
    site.reset()
    world = World(wp_url=site.url + "/", wp_user=site.admin_user, wp_password=site.app_password,
                  real_wordpress=True)
    for number, name in enumerate(SAMPLE_NAMES):
        world.whmcs.add_client(f"run{number}@example.com", name, "Lee", company=name)
    for email in SAMPLE_EMAILS:
        world.whmcs.add_client(email, "Mail", "Sample")
    world.whmcs.add_client("case.variant@example.com", "Case", "Variant")
    world.whmcs.add_client("CASE.VARIANT@Example.com", "Case", "Twin")  # a duplicate: left alone

    first = world.run(direction=Direction.BOTH.value)
    problems = {(p.key, p.field) for p in first.problems}
    for email in SAMPLE_EMAILS:
        if not mapping.is_valid_email(email) or len(email.strip()) > 100:
            assert any(p.field == "email" and email.strip() in (p.key, p.key.strip()) for p in first.problems), email
    assert not first.errors, [e.message for e in first.errors]
    assert [d.key for d in first.duplicates] == ["case.variant@example.com"]
    for _method, _path, body in world.wp_writes:
        if "email" in body:
            assert mapping.is_valid_email(body["email"]) and len(body["email"]) <= 100, body

    held = _real_users(site)
    for number, name in enumerate(SAMPLE_NAMES):
        key = f"run{number}@example.com"
        refused = mapping.problems(Side.WORDPRESS, {"first_name": name, "company": name})
        assert (key in held) == (not refused), (name, refused)
        if refused:
            assert (key, "first_name") in problems or (key, "company") in problems
        else:
            expected = mapping.as_stored(Side.WORDPRESS, "first_name", name)
            assert normalise("first_name", html.unescape(held[key]["first_name"])) == normalise("first_name", expected)
    assert "case.variant@example.com" not in held

    for direction in (Direction.BOTH, Direction.WHMCS_TO_WP, Direction.WP_TO_WHMCS):
        sent = world.writes_sent()
        again = world.run(direction=direction.value)
        assert world.writes_sent() == sent, (direction, world.wp_writes[-3:], world.whmcs_writes[-3:])
        assert not again.errors
    assert world.whmcs_clients()["run7@example.com"]["first_name"] == "<b>Ann</b>"  # never echoed back
