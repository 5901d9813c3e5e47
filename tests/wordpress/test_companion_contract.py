"""The companion's REST surface and unregistered meta, the same tests on the emulator (told the
companion is installed) and on the real WordPress with the companion (tests/wordpress/companion_site):
``GET /syncd/v1/companion`` for an admin, refused to a subscriber and to the anonymous; its keys shown
in the edit context only; and a write of meta nobody registered answered 200 with the meta dropped."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from syncd.emulators.wordpress import COMPANION_DEFAULT_KEYS, WordPressEmulator
from tests.fixtures_wordpress import WordPressSite
from tests.wordpress.companion_site import companion_site, fresh_wordpress_site  # noqa: F401 (fixtures, by name)
from tests.wordpress.conftest import unique

WOO_KEYS = list(COMPANION_DEFAULT_KEYS)


@dataclass
class Target:
    url: str
    auth: tuple[str, str]
    add_subscriber: object  # (login) -> application password

    def api(self, route: str) -> str:
        return f"{self.url}/wp-json{route}"


@pytest.fixture(params=["emulator", "real"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "real":
        site: WordPressSite = request.getfixturevalue("companion_site")
        yield Target(site.url, site.auth, lambda login: site.add_user(login, "subscriber"))
        return
    emu = WordPressEmulator(registered_meta={})
    emu.install_companion()
    password = emu.add_app_password("admin")

    def add(login: str) -> str:
        emu.add_user(login, f"{login}@example.com")
        return emu.add_app_password(login)

    with emu.serve() as url:
        yield Target(url.rstrip("/"), ("admin", password), add)


def test_the_companion_answers_an_admin_only(target: Target) -> None:
    with httpx.Client(auth=target.auth, timeout=30) as http:
        about = http.get(target.api("/syncd/v1/companion"))
        index = http.get(target.api("/"))
    assert about.status_code == 200, about.text
    assert about.json() == {"version": "0.3.0", "meta_keys": WOO_KEYS, "configured_meta_keys": WOO_KEYS}
    assert "syncd/v1" in index.json()["namespaces"]
    login = unique("nosy")
    password = target.add_subscriber(login)  # type: ignore[operator]
    with httpx.Client(auth=(login, password), timeout=30) as http:
        refused = http.get(target.api("/syncd/v1/companion"))
    assert refused.status_code == 403 and refused.json()["code"] == "rest_forbidden"
    with httpx.Client(timeout=30) as http:
        anonymous = http.get(target.api("/syncd/v1/companion"))
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "rest_forbidden"


def test_companion_meta_in_edit_context_only_and_unregistered_meta_dropped(target: Target) -> None:
    login = unique("buyer")
    with httpx.Client(auth=target.auth, timeout=30) as http:
        made = http.post(target.api("/wp/v2/users"), json={
            "username": login, "email": f"{login}@example.com", "password": "x-Long-passw0rd-x",
            "meta": {"billing_city": "York", "vat_number": "GB1"}})
        assert made.status_code == 201, made.text
        uid = made.json()["id"]
        assert made.json()["meta"]["billing_city"] == "York" and "vat_number" not in made.json()["meta"]
        updated = http.post(target.api(f"/wp/v2/users/{uid}"), json={"meta": {"vat_number": "GB2",
                                                                               "billing_city": "Hull"}})
        assert updated.status_code == 200, updated.text
        assert updated.json()["meta"]["billing_city"] == "Hull" and "vat_number" not in updated.json()["meta"]
        view = http.get(target.api(f"/wp/v2/users/{uid}"))
        edit = http.get(target.api(f"/wp/v2/users/{uid}"), params={"context": "edit"})
    assert not set(WOO_KEYS) & set(view.json().get("meta") or {})
    assert set(WOO_KEYS) <= set(edit.json()["meta"]) and "vat_number" not in edit.json()["meta"]
