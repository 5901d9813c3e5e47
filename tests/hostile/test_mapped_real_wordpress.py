"""Hostile values in mapped fields (DESIGN §9, issue 12) on the real WordPress with the companion
installed: very long values, markup, odd phone formats, unknown or lower-case countries, non-ASCII.

WordPress-side values are written with ``update_user_meta``, as WooCommerce stores them (through
the companion's sanitising, which is what WooCommerce's own forms do too), and read back by the
adapter exactly as WordPress holds them. In whole runs several users go at once: each one whose
value cannot be carried is reported naming the user and the field, the others are synchronised,
values land as their source holds them, and the next run writes nothing. The WHMCS side is the
in-memory side of tests/core (the WHMCS adapter's mapped fields are another branch's work), run
by the real planner and engine against the real WordPress adapter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import SecretStr

from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import NewUsers, WordPressSettings
from syncd.fieldmap import WOOCOMMERCE, FieldRule
from syncd.model import DEFAULT_FIELDS, Direction, Side
from syncd.sync.engine import RunReport, execute
from syncd.sync.plan import Plan, plan
from syncd.sync.policy import Policy
from tests.core.memory import DUMMY, MemorySide, MemoryStore
from tests.core.scenario import now
from tests.fixtures_wordpress import WordPressSite
from tests.wordpress.companion_site import companion_site, fresh_wordpress_site  # noqa: F401 (fixtures, by name)

RULES = tuple(FieldRule(w, p, kind) for w, p, kind in WOOCOMMERCE)
NAMES = tuple(r.name for r in RULES)
META = {r.name: r.meta_key or "" for r in RULES}

#: Odd but carriable values, by person: each must land as its source holds it, and then settle.
ODD: Mapping[str, Mapping[str, str]] = {
    "paren@example.com": {"phonenumber": "+44 (0)20 7946 0958", "country": "uk", "city": "London"},
    "zeros@example.com": {"phonenumber": "0044 20 7946 0958", "country": "gb", "postcode": "ec1a 1bb"},
    "letters@example.com": {"phonenumber": "call me after 6", "country": "Narnia", "state": "Lantern Waste"},
    "unicode@example.com": {"address1": "Zoë-Straße 7 · 東京都", "city": "Škofja Loka", "country": "SI",
                            "phonenumber": "+386 4 512 34 56"},
    "long@example.com": {"address1": ("Unit 4, " + "Very Long Industrial Estate Road " * 7).strip(),
                         "address2": "&amp; Sons — \"quoted\" 'single'", "country": "US"},
}
#: Values WordPress would strip or rewrite (markup, an encoded octet): refused, naming user and field.
REFUSED: Mapping[str, tuple[str, str]] = {
    "markup@example.com": ("address1", "<script>alert(1)</script> 1 Road"),
    "octet@example.com": ("city", "Hull%20East"),
}


def adapter(site: WordPressSite) -> WordPressAdapter:
    settings = WordPressSettings(url=site.url + "/", username=site.admin_user,
                                 application_password=SecretStr(site.app_password), retries=1,
                                 new_users=NewUsers(username="email", role="subscriber"))
    return WordPressAdapter(settings, SecretStr(site.app_password), exclude_roles=("administrator",), mapped=RULES)


def meta(site: WordPressSite, user_id: int) -> dict[str, str]:
    """The user's billing meta as WordPress holds it (``get_user_meta``), by WHMCS name."""
    got = json.loads(site.php(
        f"echo json_encode(array_map(fn($k) => get_user_meta({int(user_id)}, $k, true), "
        f"json_decode('{json.dumps(META)}', true)));"))  # plain key names: nothing to escape
    return {k: str(v) for k, v in got.items()}


def run(site: WordPressSite, whmcs: MemorySide, store: MemoryStore, policy: Policy) -> tuple[Plan, RunReport]:
    with adapter(site) as wp:
        decided = plan(whmcs.snapshot(), wp.snapshot(), store.links(), policy)
        run_id = store.begin_run(direction=policy.direction.value, full=False)
        report = execute(decided, whmcs=whmcs, wp=wp, store=store, run_id=run_id,
                         log=lambda _level, _msg: None, now=now)
    return decided, report


def wp_customer(site: WordPressSite, email: str, values: Mapping[str, str]) -> int:
    """A WordPress user whose billing meta is written as WooCommerce writes it."""
    login = email.split("@")[0]
    return int(site.php(
        f"$id = wp_insert_user(['user_login' => {json.dumps(login)}, 'user_email' => {json.dumps(email)}, "
        "'user_pass' => wp_generate_password(), 'first_name' => 'Odd', 'last_name' => 'Value', "
        "'role' => 'subscriber']); "
        + "".join(f"update_user_meta($id, {json.dumps(META[k])}, {json.dumps(v)}); " for k, v in values.items())
        + "echo $id;"))


def test_whmcs_values_odd_and_hostile_reach_wordpress_user_by_user(companion_site: WordPressSite) -> None:  # noqa: F811
    site = companion_site
    site.reset()
    whmcs = MemorySide(Side.WHMCS, fields=(*DEFAULT_FIELDS, *NAMES))
    for email, values in {**ODD, **{e: {f: v} for e, (f, v) in REFUSED.items()}}.items():
        whmcs.external_edit(whmcs.external_add(email, "Odd", "Value"), **values)
    store = MemoryStore()
    policy = Policy(direction=Direction.WHMCS_TO_WP, dummy_values=DUMMY, mapped=RULES)

    decided, report = run(site, whmcs, store, policy)
    assert not report.errors, report.errors
    refused = {(p.key, p.field) for p in decided.problems}
    assert refused == {(e, f) for e, (f, _v) in REFUSED.items()}, decided.problems
    for problem in decided.problems:
        assert problem.side is Side.WORDPRESS and "WordPress strips" in problem.message, problem
    links = {link.key: link for link in store.links()}
    assert set(links) == set(ODD)  # the others are created; the refused ones wait for their source to be fixed
    for email, values in ODD.items():
        held = meta(site, links[email].wp_id)
        for name, value in values.items():
            assert held[name] == value, (email, name, held[name])  # as WHMCS holds it, byte for byte
    again, report = run(site, whmcs, store, policy)
    assert not again.actions and not report.errors, [a.describe() for a in again.actions]
    assert {(p.key, p.field) for p in again.problems} == refused  # still said, never half-written


def test_woocommerce_meta_odd_and_too_long_reaches_whmcs_user_by_user(companion_site: WordPressSite) -> None:  # noqa: F811
    site = companion_site
    site.reset()
    too_long = "x" * 300
    ids = {email: wp_customer(site, email, values) for email, values in ODD.items()}
    ids["toolong@example.com"] = wp_customer(site, "toolong@example.com", {"address1": too_long, "city": "Hull"})
    # What WordPress holds is what the adapter reads: nothing added, trimmed or translated.
    with adapter(site) as wp:
        listed = {r.email: r for r in wp.snapshot().records}
    for email, uid in ids.items():
        held = meta(site, uid)
        for name in NAMES:
            assert listed[email].fields[name] == held[name], (email, name)
    assert listed["toolong@example.com"].fields["address1"] == too_long

    whmcs = MemorySide(Side.WHMCS, fields=(*DEFAULT_FIELDS, *NAMES))
    store = MemoryStore()
    policy = Policy(direction=Direction.WP_TO_WHMCS, dummy_values=DUMMY, mapped=RULES)
    decided, report = run(site, whmcs, store, policy)
    assert not report.errors, report.errors
    [problem] = decided.problems
    assert (problem.key, problem.field, problem.side) == ("toolong@example.com", "address1", Side.WHMCS)
    assert "has 300 characters; WHMCS stores at most 255" in problem.message
    created = {a.fields["email"]: a.fields for a in whmcs.accounts.values()}
    assert set(created) == set(ODD)
    for email, values in ODD.items():
        held = meta(site, ids[email])
        for name in values:
            assert created[email][name] == held[name], (email, name)  # as WordPress holds it
    again, report = run(site, whmcs, store, policy)
    assert not again.actions and not report.errors, [a.describe() for a in again.actions]
