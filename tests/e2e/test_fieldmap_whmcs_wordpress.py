"""The field map end to end on the real WordPress with the companion installed and billing meta
as WooCommerce stores it (``update_user_meta``), against the WHMCS emulator, through
``python -m syncd`` (DESIGN §9, issue 12): a WHMCS client with an address becomes a WordPress user
with billing meta; a WordPress customer with billing meta becomes a WHMCS client without dummy
data; a WordPress edit is carried at the next poll, a WHMCS edit by ``sync --full`` (a poll reads
no client details); then a run with nothing to do writes nothing."""

from __future__ import annotations

import json

from tests.e2e.harness import WHMCS_SECRET, Run, Sides
from tests.e2e.test_fieldmap_wordpress import companion_sides, meta, with_preset  # noqa: F401 (fixture by name)
from tests.wordpress.companion_site import companion_site, fresh_wordpress_site  # noqa: F401 (fixtures, by name)


def counts(run: Run) -> dict[str, int]:
    assert "Traceback" not in run.stdout + run.stderr and WHMCS_SECRET not in run.stdout + run.stderr
    assert run.code == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    return dict(report["counts"])


def test_addresses_travel_both_ways_edits_are_carried_then_nothing_is_written(
        companion_sides: Sides) -> None:  # noqa: F811 (the fixture imported above)
    sides = companion_sides
    site = sides.site
    whmcs = sides.whmcs
    cid = whmcs.add_client("cleo@example.com", "Cleo", "Client", address1="9 Dock Rd", city="Hull",
                           state="East Riding", postcode="HU1 1AA", country="GB", phonenumber="01482 555000")
    shopper = int(site.php(
        "$id = wp_insert_user(['user_login' => 'shopper', 'user_email' => 'shopper@example.com', "
        "'user_pass' => wp_generate_password(), 'first_name' => 'Sam', 'last_name' => 'Shop', "
        "'role' => 'subscriber']); "
        "foreach (['billing_address_1' => '5 Mill Lane', 'billing_city' => 'York', 'billing_state' => 'N Yorks', "
        "'billing_postcode' => 'YO1 7HH', 'billing_country' => 'GB', 'billing_phone' => '+44 1904 555000'] "
        "as $k => $v) { update_user_meta($id, $k, $v); } echo $id;"))
    with_preset(sides)

    assert counts(sides.syncd("sync", "--json")) == {"create": 2}
    assert whmcs.calls["GetClientsDetails"] == 1  # the one unlinked WHMCS client; nobody else's
    cleo = int(sides.wp_users()["cleo@example.com"]["id"])
    assert [meta(site, cleo, k) for k in ("billing_address_1", "billing_city", "billing_state", "billing_postcode",
                                          "billing_country", "billing_phone")] == [
        "9 Dock Rd", "Hull", "East Riding", "HU1 1AA", "GB", "01482 555000"]
    made = whmcs.client_by_email("shopper@example.com")
    assert made is not None
    client = whmcs.clients[made]
    assert (client.address1, client.city, client.state, client.postcode, client.country, client.phonenumber) == (
        "5 Mill Lane", "York", "N Yorks", "YO1 7HH", "GB", "+44 1904 555000")  # no dummy anywhere

    site.php(f"update_user_meta({shopper}, 'billing_city', 'Leeds');")  # edited in WordPress (WooCommerce)
    whmcs.clients[cid].postcode = "HU2 8AA"  # edited in WHMCS's admin area
    calls = whmcs.calls["GetClientsDetails"]
    assert counts(sides.syncd("sync", "--json")) == {"update": 1}
    assert client.city == "Leeds"
    assert whmcs.calls["GetClientsDetails"] == calls  # a poll reads no client details
    assert meta(site, cleo, "billing_postcode") == "HU1 1AA"  # so the WHMCS edit waits for the full pass

    assert counts(sides.syncd("sync", "--full", "--json")) == {"update": 1}
    assert whmcs.calls["GetClientsDetails"] == calls + 2  # every client, once
    assert meta(site, cleo, "billing_postcode") == "HU2 8AA"

    writes = (whmcs.calls["AddClient"], whmcs.calls["UpdateClient"], whmcs.calls["UpdateUser"])
    assert counts(sides.syncd("sync", "--json")) == {}
    assert counts(sides.syncd("sync", "--full", "--json")) == {}
    assert (whmcs.calls["AddClient"], whmcs.calls["UpdateClient"], whmcs.calls["UpdateUser"]) == writes
