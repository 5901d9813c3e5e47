"""The field map's WordPress side end to end on the real WordPress (DESIGN §9, issue 12).

With the companion installed (``syncd companion wordpress --out`` into mu-plugins) and the
WooCommerce preset: ``test-connection`` says the companion's version and passes; a customer's
billing meta written as WooCommerce writes it (``update_user_meta``) reaches the planner and
``explain``; a WHMCS client's address is written into the WordPress user's billing meta, an edit
is carried, and a run with nothing to do writes nothing. Without the companion,
``test-connection`` exits 3 naming each missing key and the fix.

Here the WHMCS side of the writes to WordPress is the in-memory side of tests/core, planned and
executed by the real planner and engine against the real WordPress adapter; the same story with
the WHMCS emulator and ``python -m syncd`` (GetClientsDetails, ``sync --full``) is in
``test_fieldmap_whmcs_wordpress.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import NewUsers, WordPressSettings
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.fieldmap import WOOCOMMERCE, FieldRule
from syncd.model import DEFAULT_FIELDS, Direction, Side
from syncd.sync.actions import Create
from syncd.sync.engine import execute
from syncd.sync.plan import plan
from syncd.sync.policy import Policy
from tests.core.memory import DUMMY, MemorySide, MemoryStore
from tests.core.scenario import now
from tests.e2e.harness import WHMCS_SECRET, Sides
from tests.fixtures_wordpress import WordPressSite
from tests.wordpress.companion_site import companion_site, fresh_wordpress_site  # noqa: F401 (fixtures, by name)

RULES = tuple(FieldRule(w, p, kind) for w, p, kind in WOOCOMMERCE)
NAMES = tuple(r.name for r in RULES)
MISSING = ("billing_address_1", "billing_address_2", "billing_city", "billing_state", "billing_postcode",
           "billing_country", "billing_phone")


@pytest.fixture
def companion_sides(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sides]:
    site: WordPressSite = request.getfixturevalue("companion_site")
    site.reset()
    whmcs = WhmcsEmulator(identifier="syncd", secret=WHMCS_SECRET)
    with whmcs.serve() as url:
        yield Sides(whmcs=whmcs, whmcs_url=url, site=site, tmp=tmp_path)


def with_preset(sides: Sides, **sync: object) -> None:
    sides.write_config(**sync)
    text = sides.config.read_text(encoding="utf-8").replace("[wordpress]\n", '[wordpress]\npreset = "woocommerce"\n', 1)
    sides.config.write_text(text, encoding="utf-8")


def meta(site: WordPressSite, user_id: int, key: str) -> str:
    return str(json.loads(site.php(f"echo json_encode(get_user_meta({int(user_id)}, {json.dumps(key)}, true));")))


def test_without_the_companion_test_connection_exits_3_naming_each_key_and_the_fix(sides: Sides) -> None:
    with_preset(sides)
    run = sides.syncd("test-connection")
    out = run.stdout + run.stderr
    assert run.code == 3, out
    line = next(li for li in out.splitlines() if "billing_phone" in li)
    for key in MISSING:
        assert key in out
    assert "billing_company" not in line  # the shared site registers it: exposed, so not named
    assert "syncd companion wordpress --out DIR" in out and "register_meta('user'" in out
    assert "Traceback" not in out and sides.site.app_password not in out and WHMCS_SECRET not in out


def test_with_the_companion_test_connection_passes_and_says_its_version(companion_sides: Sides) -> None:
    with_preset(companion_sides)
    run = companion_sides.syncd("test-connection")
    out = run.stdout + run.stderr
    assert run.code == 0, out
    assert "the syncd companion 0.3.0 is installed" in out and "phonenumber ↔ meta.billing_phone" in out


def test_billing_meta_as_woocommerce_writes_it_reaches_explain_and_the_planner(companion_sides: Sides) -> None:
    site = companion_sides.site
    uid = int(site.php(
        "$id = wp_insert_user(['user_login' => 'shopper', 'user_email' => 'shopper@example.com', "
        "'user_pass' => wp_generate_password(), 'first_name' => 'Sam', 'last_name' => 'Shop', "
        "'role' => 'subscriber']); "
        "foreach (['billing_address_1' => '5 Mill Lane', 'billing_city' => 'York', 'billing_postcode' => 'YO1 7HH', "
        "'billing_country' => 'GB', 'billing_phone' => '01904 555000'] as $k => $v) { update_user_meta($id, $k, $v); } "
        "echo $id;"))
    with_preset(companion_sides, direction="wp_to_whmcs")
    run = companion_sides.syncd("explain", "shopper@example.com")
    assert run.code == 0, run.stdout + run.stderr
    for shown in ("address1 '5 Mill Lane'", "city 'York'", "postcode 'YO1 7HH'", "country 'GB'",
                  "phonenumber '01904 555000'"):
        assert shown in run.stdout, run.stdout
    # The planner, with a WHMCS side that can store the fields: the create carries the real address.
    wp = adapter(site)
    whmcs = MemorySide(Side.WHMCS, fields=(*DEFAULT_FIELDS, *NAMES))
    policy = Policy(direction=Direction.WP_TO_WHMCS, dummy_values=DUMMY, mapped=RULES)
    decided = plan(whmcs.snapshot(), wp.snapshot(), [], policy)
    creates = [a for a in decided.actions if isinstance(a, Create)]
    assert len(creates) == 1, (decided.actions, decided.skips, decided.problems)
    create = creates[0]
    values = create.send
    assert values["address1"] == "5 Mill Lane" and values["city"] == "York" and values["country"] == "GB"
    assert values["phonenumber"] == "01904 555000" and uid > 0


def adapter(site: WordPressSite) -> WordPressAdapter:
    settings = WordPressSettings(url=site.url + "/", username=site.admin_user,
                                 application_password=SecretStr(site.app_password), retries=1,
                                 new_users=NewUsers(username="email", role="subscriber"))
    return WordPressAdapter(settings, SecretStr(site.app_password), exclude_roles=("administrator",), mapped=RULES)


def test_a_whmcs_address_is_written_into_wordpress_billing_meta_then_edits_then_nothing(
        companion_sides: Sides) -> None:
    site = companion_sides.site
    whmcs = MemorySide(Side.WHMCS, fields=(*DEFAULT_FIELDS, *NAMES))
    cid = whmcs.external_add("client@example.com", "Cleo", "Client")
    whmcs.external_edit(cid, address1="9 Dock Rd", address2="", city="Hull", state="East Riding",
                        postcode="HU1 1AA", country="GB", phonenumber="+44.1482555000")
    store = MemoryStore()
    policy = Policy(direction=Direction.WHMCS_TO_WP, dummy_values=DUMMY, mapped=RULES)

    def run() -> int:
        with adapter(site) as wp:
            decided = plan(whmcs.snapshot(), wp.snapshot(), store.links(), policy)
            run_id = store.begin_run(direction=policy.direction.value, full=False)
            report = execute(decided, whmcs=whmcs, wp=wp, store=store, run_id=run_id,
                             log=lambda _level, _msg: None, now=now)
            assert not report.errors, report.errors
            return len(decided.actions)

    assert run() == 1
    link = store.links()[0]
    assert meta(site, link.wp_id, "billing_address_1") == "9 Dock Rd"
    assert meta(site, link.wp_id, "billing_city") == "Hull"
    assert meta(site, link.wp_id, "billing_country") == "GB"
    assert meta(site, link.wp_id, "billing_phone") == "+44.1482555000"
    whmcs.external_edit(cid, city="Leeds")
    assert run() == 1
    assert meta(site, link.wp_id, "billing_city") == "Leeds"
    assert run() == 0



def two_runs(site: WordPressSite, values: dict[str, str]) -> tuple[list[int], int]:
    """Two WHMCS → WordPress runs for one client with ``values``: the actions of each, and the user's id."""
    whmcs = MemorySide(Side.WHMCS, fields=(*DEFAULT_FIELDS, *NAMES))
    cid = whmcs.external_add("odd@example.com", "Odd", "Values")
    whmcs.external_edit(cid, **values)
    store = MemoryStore()
    policy = Policy(direction=Direction.WHMCS_TO_WP, dummy_values=DUMMY, mapped=RULES)
    counts = []
    for _ in range(2):
        with adapter(site) as wp:
            decided = plan(whmcs.snapshot(), wp.snapshot(), store.links(), policy)
            run_id = store.begin_run(direction=policy.direction.value, full=False)
            report = execute(decided, whmcs=whmcs, wp=wp, store=store, run_id=run_id,
                             log=lambda _level, _msg: None, now=now)
            assert not report.errors and not report.problems, (report.errors, report.problems)
            counts.append(len(decided.actions))
    return counts, store.links()[0].wp_id


def test_odd_values_in_mapped_fields_are_written_as_they_are_and_settle(companion_sides: Sides) -> None:
    """A long value, an odd phone format, spaces, a lower-case country and an ampersand: written as
    WHMCS holds them, and the next run writes nothing."""
    site = companion_sides.site
    counts, uid = two_runs(site, {"address1": "1 Road & Sons " + "x" * 200, "city": "  Hull  ",
                                  "phonenumber": "(01482) 555-000 ext. 7", "country": "zz", "postcode": "hu1 1aa"})
    assert meta(site, uid, "billing_phone") == "(01482) 555-000 ext. 7"
    assert meta(site, uid, "billing_address_1") == "1 Road & Sons " + "x" * 200
    assert counts == [1, 0], counts


def test_markup_in_a_mapped_field_is_refused_naming_the_field_not_rewritten_every_run(
        companion_sides: Sides) -> None:
    """WordPress (the companion, as WooCommerce) strips tags from meta: a value with markup would
    come back changed and be written again at every run. It is refused, naming the user and the
    field, and nothing is written until the value is fixed at its source; then it lands once."""
    site = companion_sides.site
    whmcs = MemorySide(Side.WHMCS, fields=(*DEFAULT_FIELDS, *NAMES))
    cid = whmcs.external_add("markup@example.com", "Mark", "Up")
    whmcs.external_edit(cid, address1="<b>1</b> Road", city="Hull")
    store = MemoryStore()
    policy = Policy(direction=Direction.WHMCS_TO_WP, dummy_values=DUMMY, mapped=RULES)

    def one_run() -> tuple[int, list[str]]:
        with adapter(site) as wp:
            decided = plan(whmcs.snapshot(), wp.snapshot(), store.links(), policy)
            run_id = store.begin_run(direction=policy.direction.value, full=False)
            execute(decided, whmcs=whmcs, wp=wp, store=store, run_id=run_id, log=lambda _level, _msg: None, now=now)
        return len(decided.actions), [f"{p.key} {p.field}: {p.message}" for p in decided.problems]

    for _ in range(2):
        actions, refused = one_run()
        assert actions == 0 and len(refused) == 1, refused
        assert refused[0].startswith("markup@example.com address1: contains markup"), refused
    whmcs.external_edit(cid, address1="1 Road")  # fixed where it comes from
    assert one_run() == (1, [])
    assert one_run() == (0, [])
    uid = store.links()[0].wp_id
    assert meta(site, uid, "billing_address_1") == "1 Road" and meta(site, uid, "billing_city") == "Hull"
