"""Fast adapter tests replayed from vcrpy cassettes recorded on a real WordPress 6.1.

Replay (the default) needs no WordPress and no network: ``record_mode="none"``, so a request
the cassette does not hold fails the test. To re-record from a real WordPress (never from our
emulator), run ``scripts/record-cassettes``: it sets ``SYNCD_RECORD_CASSETTES=1``, and these
tests then bring up real sites through tests/fixtures_wordpress.py and overwrite the cassettes.
Recorded cassettes hold no secret: the Authorization header is dropped, new users' passwords
are replaced, and the site's random loopback origin becomes ``http://wordpress.cassette``; the
REST index's ``routes`` map (unused by syncd, ~170 kB) is left out.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import vcr
import yaml
from pydantic import SecretStr

from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import NewUsers, WordPressSettings
from syncd.errors import AccessDenied, BadCredentials, DuplicateEmail, PermissionDenied, RefusedWrite
from syncd.model import Record, Side
from tests.fixtures_wordpress import WordPressSite
from tests.wordpress.conftest import Sleeps

CASSETTES = Path(__file__).resolve().parent / "cassettes"
RECORDING = os.environ.get("SYNCD_RECORD_CASSETTES") == "1"
ORIGIN = "http://wordpress.cassette"
REDACTED = "<redacted>"
REPLAY_PASSWORD = "replayed-cassettes-need-no-password"


@dataclass
class Recorded:
    """Where the adapter goes: a real site while recording, the cassette's origin on replay."""

    url: str
    admin_user: str
    app_password: str
    site: WordPressSite | None


def _scrub_request(origin: str) -> Callable[[Any], Any]:
    def scrub(request: Any) -> Any:
        request.uri = request.uri.replace(origin, ORIGIN)
        if request.body:
            try:
                body = json.loads(request.body)
            except (ValueError, UnicodeDecodeError):
                return request
            if isinstance(body, dict) and "password" in body:
                body["password"] = REDACTED
                request.body = json.dumps(body).encode()
        return request

    return scrub


def _scrub_response(origin: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    escaped = origin.replace("/", "\\/")

    def scrub(response: dict[str, Any]) -> dict[str, Any]:
        body = _trim_index(response["body"]["string"])
        if isinstance(body, bytes):
            text = body.decode("utf-8", "replace").replace(escaped, ORIGIN.replace("/", "\\/"))
            response["body"]["string"] = text.replace(origin, ORIGIN).encode()
        headers = response["headers"]
        for name in list(headers):
            if name.lower() in ("set-cookie", "x-powered-by", "date", "host"):  # php -S echoes Host
                del headers[name]
                continue
            headers[name] = [v.replace(origin, ORIGIN) for v in headers[name]]
        return response

    return scrub


def _trim_index(body: Any) -> Any:
    """The REST index without its ``routes`` map: ~170 kB per cassette that syncd never reads."""
    if not isinstance(body, bytes) or b'"namespaces"' not in body[:2000]:
        return body
    try:
        index = json.loads(body)
    except ValueError:
        return body
    if isinstance(index, dict) and "routes" in index:
        index["routes"] = {}
        return json.dumps(index, separators=(",", ":")).encode()
    return body


@contextmanager
def cassette(name: str, recorded: Recorded) -> Iterator[None]:
    origin = recorded.url if RECORDING else ORIGIN
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORDING else "none",
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        filter_headers=["authorization", "cookie", "host"],
        before_record_request=_scrub_request(origin),
        before_record_response=_scrub_response(origin),
        decode_compressed_response=True,
    )
    with recorder.use_cassette(f"{name}.yaml", allow_playback_repeats=False):
        yield
    if RECORDING:  # what was just written must not hold the site's secrets
        text = (CASSETTES / f"{name}.yaml").read_text(encoding="utf-8")
        site = recorded.site
        assert recorded.app_password not in text and (site is None or site.admin_password not in text)


@pytest.fixture
def recorded(request: pytest.FixtureRequest) -> Callable[..., Recorded]:
    """``recorded(**knobs)``: a real site (default knobs: the shared one) while recording, else the origin."""

    def make(**knobs: Any) -> Recorded:
        if not RECORDING:
            return Recorded(ORIGIN, "admin", REPLAY_PASSWORD, None)
        if knobs:
            site = request.getfixturevalue("fresh_wordpress_site")(**knobs)
        else:
            site = request.getfixturevalue("wordpress_site")
        return Recorded(site.url, site.admin_user, site.app_password, site)

    return make


def adapter_on(recorded: Recorded, *, password: str | None = None, username: str | None = None,
               **overrides: Any) -> WordPressAdapter:
    settings = WordPressSettings(**{"url": recorded.url + "/", "username": username or recorded.admin_user,
                                    "retries": 0, "concurrency": 1, **overrides})
    return WordPressAdapter(settings, SecretStr(password or recorded.app_password), exclude_roles=["editor"],
                            sleep=Sleeps())


def test_snapshot_over_pages_with_fields_and_admins(recorded: Callable[..., Recorded]) -> None:
    where = recorded()
    with cassette("snapshot", where):
        adapter = adapter_on(where, page_size=2)
        made = [adapter.create({"email": f"cas-{n}@example.test", "first_name": n.title(), "last_name": "Cas",
                                "company": f"{n.title()} & Co"}) for n in ("ann", "bob", "cyd")]
        snapshot = adapter.snapshot()
    by_email = {r.email: r for r in snapshot.records}
    for record in made:
        assert by_email[record.email] == record
        assert record.fields["company"].endswith(" & Co") and record.roles == ("subscriber",)
    assert snapshot.fields == ("email", "first_name", "last_name", "company")
    assert "admin@example.test" in snapshot.admin_emails
    assert adapter.calls["list_page"] == math.ceil(len(snapshot.records) / 2) >= 2


def test_find_create_duplicates_and_taken_logins(recorded: Callable[..., Recorded]) -> None:
    where = recorded()
    with cassette("create", where):
        adapter = adapter_on(where)
        first = adapter.create({"email": "cas-dup@example.test", "first_name": "Dup"})
        with pytest.raises(DuplicateEmail):
            adapter.create({"email": "CAS-DUP@example.test"})
        found = adapter.find_by_email("Cas-Dup@Example.TEST")
        named = adapter_on(where, new_users=NewUsers(username="name"))
        one = named.create({"email": "cas-jose1@example.test", "first_name": "José", "last_name": "Cassette"})
        two = named.create({"email": "cas-jose2@example.test", "first_name": "José", "last_name": "Cassette"})
    assert first.username == "cas-dup@example.test"
    assert [r.remote_id for r in found] == [first.remote_id]
    assert (one.username, two.username) == ("jose.cassette", "jose.cassette-2")


def test_update_deactivate_reactivate_and_refusals(recorded: Callable[..., Recorded]) -> None:
    where = recorded()
    with cassette("writes", where):
        adapter = adapter_on(where)
        record = adapter.create({"email": "cas-w@example.test", "first_name": "Wes", "last_name": "Old"})
        updated = adapter.update(record, {"last_name": "New & Sons", "email": "cas-w2@example.test"})
        off = adapter.deactivate(updated)
        back = adapter.reactivate(off, ("author",))
        admin = Record(side=Side.WORDPRESS, remote_id=adapter.verify().id, fields={"email": "admin@example.test"})
        with pytest.raises(RefusedWrite):
            adapter.update(admin, {"first_name": "Never"})
    assert updated.fields["last_name"] == "New & Sons" and updated.email == "cas-w2@example.test"
    assert off.roles == () and not off.active
    assert back.roles == ("author",) and back.active


def test_wrong_password_and_a_subscriber(recorded: Callable[..., Recorded]) -> None:
    where = recorded()
    subscriber_password = where.site.add_user("cas-sub", "subscriber") if where.site else REPLAY_PASSWORD
    with cassette("credentials", where):
        with pytest.raises(BadCredentials):
            adapter_on(where, password="Wrong0pass1Wrong2pass3xyz").snapshot()
        subscriber = adapter_on(where, username="cas-sub", password=subscriber_password)
        assert subscriber.verify().roles == ("subscriber",)
        with pytest.raises(PermissionDenied) as caught:
            subscriber.snapshot()
    assert caught.value.action == "list_users"


def test_plain_permalinks(recorded: Callable[..., Recorded]) -> None:
    where = recorded(permalinks="plain")
    with cassette("plain_permalinks", where):
        adapter = adapter_on(where)
        snapshot = adapter.snapshot()
        info = adapter.discover()
    assert not info.pretty and [r.username for r in snapshot.records] == ["admin"]


def test_rest_api_disabled(recorded: Callable[..., Recorded]) -> None:
    where = recorded(rest_disabled=True)
    with cassette("rest_disabled", where), pytest.raises(AccessDenied, match="rest_disabled") as caught:
        adapter_on(where).snapshot()
    assert not isinstance(caught.value, BadCredentials)


def test_application_passwords_unavailable(recorded: Callable[..., Recorded]) -> None:
    where = recorded(environment_type="production")
    with cassette("app_passwords_unavailable", where), pytest.raises(BadCredentials, match="WP_ENVIRONMENT_TYPE"):
        adapter_on(where).verify()


def test_cassettes_hold_no_secret() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert len(files) == 7
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?im)^\s*authorization:|basic [a-z0-9+/=]{8,}", text), path.name
        assert "127.0.0.1" not in text
        for interaction in yaml.safe_load(text)["interactions"]:
            request = interaction["request"]
            assert not {k.lower() for k in request["headers"]} & {"authorization", "cookie"}
            body = request.get("body")
            if body and body.lstrip().startswith("{"):
                sent = json.loads(body)
                assert sent.get("password", REDACTED) == REDACTED, path.name
