"""The faults that matter most on the real WordPress (what an emulator could get wrong):

- two users holding one email (written behind WordPress's back, as a plugin or SQL can):
  reported, left alone, nothing created in WHMCS for them; the others synchronised;
- a create whose answer is lost after WordPress committed it (a proxy drops the reply):
  looked up and linked by the next run, never created twice;
- the account syncd uses demoted from Administrator to Editor after the listing: the run
  stops with exit 3 naming the missing capability, writes nothing half-way, and the next run
  after the role is given back converges.

In process (the WHMCS side is the emulator's in-process transport) against the shared real
WordPress, reset first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd import render
from syncd.model import normalise_email
from tests.faults.real import LosingProxy, all_users, emails_held_twice
from tests.faults.world import World
from tests.fixtures_wordpress import WordPressSite


@pytest.fixture
def site(wordpress_site: WordPressSite) -> Iterator[WordPressSite]:
    wordpress_site.reset()
    yield wordpress_site


def _world(tmp: Path, site: WordPressSite, url: str | None = None, user: str = "", password: str = "") -> World:
    world = World(tmp)
    world.real_wp = (url or site.url, user or site.admin_user, password or site.app_password)
    return world


def _add(site: WordPressSite, login: str, email: str, first: str, last: str) -> int:
    out = site.php(f"echo wp_insert_user(['user_login' => '{login}', 'user_email' => '{email}', "
                   f"'first_name' => '{first}', 'last_name' => '{last}', 'role' => 'subscriber', "
                   "'user_pass' => wp_generate_password(24)]);")
    return int(out.strip())


def _by_email(users: list[dict[str, Any]], email: str) -> list[dict[str, Any]]:
    return [u for u in users if normalise_email(u["email"]) == normalise_email(email)]


def test_two_wordpress_users_with_one_email_are_reported_and_left_alone(site: WordPressSite, tmp_path: Path) -> None:
    _add(site, "dup1", "dup@example.com", "Dup", "One")
    second = _add(site, "dup2", "placeholder@example.com", "Dup", "Two")
    # WordPress refuses a taken email through its API; a plugin or SQL does not ask it.
    site.php(f"global $wpdb; $wpdb->update($wpdb->users, ['user_email' => 'DUP@example.com'], ['ID' => {second}]);"
             f" clean_user_cache({second});")
    _add(site, "solo", "solo@example.com", "Solo", "User")
    world = _world(tmp_path, site)
    world.whmcs.add_client("ann@example.com", "Ann", "Archer")

    done = world.run()

    assert done.code == 0, done.text()
    assert done.counts == {"create": 2}  # solo into WHMCS, ann into WordPress
    assert done.result is not None and done.result.report is not None
    [dup] = done.result.report.duplicates
    assert (dup.key, dup.side.value, len(dup.remote_ids)) == ("dup@example.com", "wordpress", 2)
    assert "2 WordPress users share the email dup@example.com" in render.sync_text(done.result)
    assert not world.has_client("dup@example.com")
    users = all_users(site)
    assert len(_by_email(users, "dup@example.com")) == 2  # both untouched
    assert {u["last_name"] for u in _by_email(users, "dup@example.com")} == {"One", "Two"}
    assert emails_held_twice(users) == {"dup@example.com": 2}  # and no other email twice
    assert world.client("solo@example.com").firstname == "Solo"
    assert _by_email(users, "ann@example.com")[0]["first_name"] == "Ann"
    assert world.run().counts == {}


def test_a_create_whose_answer_is_lost_is_linked_by_the_next_run(site: WordPressSite, tmp_path: Path) -> None:
    proxy = LosingProxy(site.url, lose=1)
    with proxy.running():
        world = _world(tmp_path, site, url=proxy.url)
        world.whmcs.add_client("ann@example.com", "Ann", "Archer")
        world.whmcs.add_client("bea@example.com", "Bea", "Brown")

        first = world.run()
        assert proxy.lost == 1
        assert first.code == 1, first.text()
        assert first.counts == {"create": 1}  # the other user went on
        [(key, message)] = first.failures().items()
        assert "may have happened" in message and "looked up in WordPress" in message
        assert world.pending() == {("wordpress", key)}
        assert len(_by_email(all_users(site), key)) == 1  # WordPress did create it

        second = world.run()
        assert second.code == 0 and second.counts == {"link": 1}, second.text()
        assert any("settles an earlier WordPress create whose outcome was unknown" in line for line in second.logs)
        assert world.run().counts == {}
    users = all_users(site)
    assert not emails_held_twice(users)
    assert len(_by_email(users, "ann@example.com")) == len(_by_email(users, "bea@example.com")) == 1
    assert not world.pending()
    assert sorted(link.key for link in world.links()) == ["ann@example.com", "bea@example.com"]


def test_the_account_demoted_after_the_listing_fails_its_writes_naming_the_capability(
    site: WordPressSite, tmp_path: Path
) -> None:
    password = site.add_user("syncdops", "administrator", "syncdops@example.com")  # the account syncd uses
    world = _world(tmp_path, site, user="syncdops", password=password)
    world.whmcs.add_client("ann@example.com", "Ann", "Archer")
    _add(site, "ben", "ben@example.com", "Ben", "Baker")

    def demote(method: str, result: object) -> None:
        if method == "snapshot":
            site.php("get_user_by('login', 'syncdops')->set_role('editor');")

    world.wp_hook = demote
    stopped = world.run()

    assert stopped.code == 3, stopped.text()
    assert stopped.result is not None and stopped.result.report is not None
    message = stopped.result.report.message
    assert "the WordPress account lacks the" in message and "capability" in message
    assert "give it the Administrator role" in message
    assert list(stopped.failures()) == ["ann@example.com"]
    assert not _by_email(all_users(site), "ann@example.com")
    assert world.has_client("ben@example.com")  # the WHMCS side went on
    assert not emails_held_twice(all_users(site)) and len(world.whmcs.clients) <= 2

    world.wp_hook = None
    site.php("get_user_by('login', 'syncdops')->set_role('administrator');")
    again = world.run()
    assert again.code == 0, again.text()
    assert world.run().counts == {}
    users = all_users(site)
    assert not emails_held_twice(users)
    assert _by_email(users, "ann@example.com")[0]["first_name"] == "Ann"
    assert world.client("ben@example.com").lastname == "Baker"
    assert sorted(link.key for link in world.links()) == ["ann@example.com", "ben@example.com"]
