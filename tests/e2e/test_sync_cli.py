"""End to end: `syncd sync` as a process against the WHMCS emulator and a real WordPress.

Every direction and both priorities; a dry run shown to write nothing; the guard, the lock,
explain, status and the exit codes of DESIGN §3.1.
"""

from __future__ import annotations

from syncd.service.lock import run_lock
from tests.e2e.harness import WHMCS_SECRET, Sides


def _seed_three(s: Sides) -> None:
    """ann: WHMCS only. ben: WordPress only. cat: both, names differ (a first contact)."""
    s.whmcs.add_client("ann@example.com", "Ann", "Archer", company="Archer Ltd")
    s.wp_add("ben", "ben@example.com", "Ben", "Baker")
    s.whmcs.add_client("cat@example.com", "Catherine", "Cole")
    s.wp_add("cat", "Cat@Example.com", "Cat", "Cole")


def test_both_directions_whmcs_priority_converges_and_a_second_run_writes_nothing(sides: Sides) -> None:
    _seed_three(sides)
    first = sides.syncd("sync", "--json")
    assert first.code == 0, first.stderr
    report = first.json()
    assert report["counts"] == {"create": 2, "link": 1, "update": 1}
    wp = sides.wp_users()
    assert wp["ann@example.com"]["first_name"] == "Ann"
    assert wp["ann@example.com"]["roles"] == ["subscriber"]
    assert wp["ann@example.com"]["meta"]["billing_company"] == "Archer Ltd"
    assert wp["cat@example.com"]["first_name"] == "Catherine"  # priority whmcs settles first contact
    ben = sides.client("ben@example.com")
    assert (ben.firstname, ben.lastname, ben.status) == ("Ben", "Baker", "Active")
    assert ben.address1 == "Not provided"  # the dummy values WHMCS requires
    assert sides.client("cat@example.com").firstname == "Catherine"

    second = sides.syncd("sync", "--json")
    assert second.code == 0, second.stderr
    assert second.json()["counts"] == {}
    assert "Run" in sides.syncd("sync").stdout


def test_both_directions_wordpress_priority(sides: Sides) -> None:
    _seed_three(sides)
    sides.write_config(priority="wordpress")
    assert sides.syncd("sync").code == 0
    assert sides.client("cat@example.com").firstname == "Cat"
    assert sides.wp_users()["cat@example.com"]["first_name"] == "Cat"


def test_edits_on_both_sides_to_different_fields_are_both_kept(sides: Sides) -> None:
    _seed_three(sides)
    assert sides.syncd("sync").code == 0
    ann_wp = sides.wp_users()["ann@example.com"]
    sides.wp_update(ann_wp["id"], last_name="Archer-Smith")  # WordPress edits the last name
    sides.client("ann@example.com").firstname = "Annie"  # WHMCS the first
    assert sides.syncd("sync").code == 0
    ann = sides.client("ann@example.com")
    assert (ann.firstname, ann.lastname) == ("Annie", "Archer-Smith")
    wp = sides.wp_users()["ann@example.com"]
    assert (wp["first_name"], wp["last_name"]) == ("Annie", "Archer-Smith")


def test_a_wordpress_email_change_reaches_the_client_and_its_owner_user(sides: Sides) -> None:
    _seed_three(sides)
    assert sides.syncd("sync").code == 0
    ben_wp = sides.wp_users()["ben@example.com"]
    sides.wp_update(ben_wp["id"], email="benjamin@example.com")
    run = sides.syncd("sync", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["counts"] == {"update": 1}
    client = sides.client("benjamin@example.com")
    assert sides.whmcs.users[client.owner_user_id].email == "benjamin@example.com"
    assert sides.whmcs.client_by_email("ben@example.com") is None  # re-keyed, not duplicated


def test_whmcs_to_wp_never_writes_to_whmcs_and_overwrites_wordpress(sides: Sides) -> None:
    _seed_three(sides)
    sides.write_config(direction="whmcs_to_wp", priority="wordpress")  # priority is moot one-way
    run = sides.syncd("sync", "--json")
    assert run.code == 0, run.stderr
    assert sides.whmcs_writes() == 0
    wp = sides.wp_users()
    assert "ann@example.com" in wp
    assert wp["cat@example.com"]["first_name"] == "Catherine"  # the source is authoritative
    assert sides.whmcs.client_by_email("ben@example.com") is None


def test_wp_to_whmcs_never_writes_to_wordpress(sides: Sides) -> None:
    _seed_three(sides)
    before = sides.wp_state()
    sides.write_config(direction="wp_to_whmcs")
    run = sides.syncd("sync", "--json")
    assert run.code == 0, run.stderr
    assert sides.wp_state() == before
    assert sides.client("ben@example.com").firstname == "Ben"
    assert sides.client("cat@example.com").firstname == "Cat"  # the source is authoritative
    assert "ann@example.com" not in sides.wp_users()


def test_direction_flag_overrides_the_configuration(sides: Sides) -> None:
    _seed_three(sides)
    run = sides.syncd("sync", "--direction", "whmcs_to_wp", "--json")
    assert run.code == 0, run.stderr
    assert sides.whmcs_writes() == 0


def test_a_dry_run_writes_nothing_anywhere_and_shows_each_field(sides: Sides) -> None:
    _seed_three(sides)
    whmcs_before, wp_before = sides.whmcs_state(), sides.wp_state()
    run = sides.syncd("sync", "--dry-run", "--json")
    assert run.code == 0, run.stderr
    plan = run.json()
    assert plan["dry_run"] is True
    assert plan["counts"] == {"create": 2, "link": 1, "update": 1, "conflicts": 1}
    updates = [a for u in plan["users"] for a in u["actions"] if a["action"] == "update"]
    assert updates and updates[0]["changes"]["first_name"] == {"before": "Cat", "after": "Catherine"}
    assert sides.whmcs_state() == whmcs_before
    assert sides.whmcs_writes() == 0
    assert sides.wp_state() == wp_before
    assert not sides.state_db.exists()  # not even the state store
    text = sides.syncd("sync", "--dry-run")
    assert "first_name 'Cat' → 'Catherine'" in text.stdout


def test_admins_are_never_touched(sides: Sides) -> None:
    sides.wp_add("boss", "boss@example.com", "Big", "Boss", roles=("administrator",))
    sides.whmcs.add_client("boss@example.com", "Other", "Name")
    sides.whmcs.add_admin("staff@example.com", "Staff", "Member")
    sides.wp_add("staff", "staff@example.com", "Staff", "Member")
    whmcs_before, wp_before = sides.whmcs_state(), sides.wp_state()
    run = sides.syncd("sync", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["counts"] == {}
    assert sides.whmcs_state() == whmcs_before and sides.wp_state() == wp_before


def test_the_guard_stops_before_any_write_and_force_lets_it_through(sides: Sides) -> None:
    for i in range(12):
        sides.whmcs.add_client(f"user{i:02d}@example.com", "User", f"N{i}")
    sides.write_config(on_delete="deactivate")
    assert sides.syncd("sync").code == 0
    for client in sides.whmcs.clients.values():
        client.status = "Closed"  # all of them closed in WHMCS at once
    wp_before = sides.wp_state()
    stopped = sides.syncd("sync")
    assert stopped.code == 4, stopped.stderr
    assert "--force" in stopped.stderr and "max_deletes" in stopped.stderr
    assert sides.wp_state() == wp_before
    forced = sides.syncd("sync", "--force", "--json")
    assert forced.code == 0, forced.stderr
    assert forced.json()["counts"] == {"deactivate": 12, "mark_gone": 12} or forced.json()["counts"].get(
        "deactivate") == 12
    assert all(u["roles"] == [] for e, u in sides.wp_users().items() if e.startswith("user"))


def test_explain_status_and_their_exit_codes(sides: Sides) -> None:
    _seed_three(sides)
    unknown = sides.syncd("explain", "nobody@example.com")
    assert unknown.code == 1 and "neither side" in unknown.stdout
    before = sides.syncd("explain", "cat@example.com")
    assert before.code == 0 and "'Cat' → 'Catherine'" in before.stdout
    assert not sides.state_db.exists()  # read-only
    assert sides.syncd("status").stdout.strip().endswith("syncd has not run here yet.")
    assert sides.syncd("sync").code == 0
    status = sides.syncd("status", "--json")
    assert status.code == 0
    data = status.json()
    assert data["runs"][0]["outcome"] == "ok" and data["link_stats"]["total"] == 3
    assert "Last runs:" in sides.syncd("status").stdout
    explained = sides.syncd("explain", "CAT@example.com", "--json").json()
    assert explained["found"] and explained["links"] and not explained["actions"]


def test_another_run_holding_the_lock_means_exit_5_without_reading(sides: Sides) -> None:
    _seed_three(sides)
    sides.write_config()
    with run_lock(f"sqlite:///{sides.state_db}", wait_seconds=0):
        run = sides.syncd("sync")
    assert run.code == 5, run.stderr
    assert "lock" in run.stderr
    assert sides.whmcs.calls["GetClients"] == 0


def test_configuration_errors_exit_2_and_name_every_problem(sides: Sides) -> None:
    sides.config.write_text('[whmcs]\nurl = "nope"\n[sync]\ndirection = "up"\nbogus = 1\n')
    run = sides.syncd("sync")
    assert run.code == 2
    for needle in ("[whmcs] url", "[whmcs] identifier", "[sync] direction", "unknown key 'bogus'", "[wordpress]"):
        assert needle in run.stderr, run.stderr


def test_an_unreachable_side_or_refused_credentials_exit_3_and_write_nothing(sides: Sides) -> None:
    _seed_three(sides)
    sides.whmcs.secret = "rotated"
    run = sides.syncd("sync")
    assert run.code == 3, run.stderr
    assert WHMCS_SECRET not in run.stderr + run.stdout
    assert "ann@example.com" not in sides.wp_users()
    sides.whmcs.secret = WHMCS_SECRET
    sides.whmcs.maintenance = True
    run = sides.syncd("sync")
    assert run.code == 3 and "maintenance" in run.stderr.lower()


def test_test_connection_passes_then_names_the_wrong_password(sides: Sides) -> None:
    ok = sides.syncd("test-connection")
    assert ok.code == 0, ok.stdout + ok.stderr
    assert "All checks passed." in ok.stdout
    text = sides.config.read_text().replace(sides.site.app_password, "wrng pass word abcd efgh ijkl")
    sides.config.write_text(text)
    bad = sides.syncd("test-connection")
    assert bad.code == 3
    assert "application password" in bad.stdout.lower()
