"""The field map's configuration (DESIGN §9): ``[wordpress] preset`` and ``[[fields]]`` tables,
checked at load with every problem named by its table, and the policy built from them."""

from __future__ import annotations

from typing import Any

import pytest

from syncd import config, fieldmap
from syncd.app import policy_of
from syncd.errors import ConfigError
from syncd.fieldmap import FieldRule
from syncd.model import Direction

MINIMAL: dict[str, Any] = {
    "whmcs": {"url": "https://billing.example.com/", "identifier": "id", "secret": "s3cr3t-whmcs"},
    "wordpress": {"url": "https://www.example.com/", "username": "syncd", "application_password": "app pass word"},
}


def load(fields: list[dict[str, Any]] | None = None, preset: str = "", direction: str = "both",
         **wordpress: Any) -> config.Settings:
    data: dict[str, Any] = {**MINIMAL, "wordpress": {**MINIMAL["wordpress"], "preset": preset, **wordpress},
                            "sync": {"direction": direction}}
    if fields is not None:
        data["fields"] = fields
    return config.parse(data, env={})


def problems(fields: list[dict[str, Any]], **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(fields, **kw)
    return caught.value.problems


def test_no_map_by_default() -> None:
    assert load().field_rules() == ()
    assert policy_of(load()).mapped == ()


def test_the_woocommerce_preset() -> None:
    rules = {r.name: r for r in load(preset="woocommerce").field_rules()}
    assert set(rules) == {"address1", "address2", "city", "state", "postcode", "country", "phonenumber"}
    assert rules["phonenumber"] == FieldRule("phonenumber", "meta.billing_phone", "phone")
    assert rules["country"].kind == "country" and rules["postcode"].kind == "postcode"
    assert all(r.default == "" for r in rules.values())  # a preset's fields have no default


def test_an_explicit_table_replaces_the_presets_on_either_side() -> None:
    rules = load([{"whmcs": "phonenumber", "wordpress": "meta.mobile", "apply": "on_create"},
                  {"whmcs": "customfield.4", "wordpress": "meta.billing_city"}], preset="woocommerce").field_rules()
    by_name = {r.name: r for r in rules}
    assert by_name["phonenumber"].wordpress == "meta.mobile" and by_name["phonenumber"].apply == "on_create"
    assert "city" not in by_name and by_name["customfield.4"].wordpress == "meta.billing_city"


def test_kind_and_direction_default_to_the_fields_own_and_the_syncs() -> None:
    [rule] = load([{"whmcs": "phonenumber", "wordpress": "meta.billing_phone"}], direction="wp_to_whmcs").field_rules()
    assert rule.kind == "phone" and rule.direction is Direction.WP_TO_WHMCS
    [custom] = load([{"whmcs": "customfield.7", "wordpress": "meta.vat", "default": " n/a "}]).field_rules()
    assert custom.kind == "text" and custom.default == "n/a"


@pytest.mark.parametrize(("table", "expected"), [
    ({"whmcs": "phonenumbr", "wordpress": "meta.billing_phone"},
     "[[fields]] #1 (whmcs = 'phonenumbr'): unknown WHMCS client field; known: address1, address2, city, "
     "country, language, notes, phonenumber, postcode, state, tax_id, or customfield.<id>"),
    ({"whmcs": "customfield.0", "wordpress": "meta.x"}, "customfield.<id>"),
    ({"whmcs": "countryname", "wordpress": "meta.x"}, "WHMCS derives it from country; map country instead"),
    ({"whmcs": "email", "wordpress": "meta.x"}, "syncd already carries the email (a core field)"),
    ({"whmcs": "companyname", "wordpress": "meta.x"}, "syncd already carries the company"),
    ({"whmcs": "city", "wordpress": "last_name"}, "wordpress = 'last_name': syncd already carries the last name"),
    ({"whmcs": "city", "wordpress": "meta.billing_company"}, "is the core company field already"),
    ({"whmcs": "city", "wordpress": "avatar"}, "unknown WordPress field; known: description, nickname, url, or "
                                               "meta.<key>"),
    ({"whmcs": "city", "wordpress": "meta._secret"}, "is not a plain meta key"),
    ({"whmcs": "city", "wordpress": "meta.wp_capabilities"}, "security meta"),
    ({"whmcs": "country", "wordpress": "meta.c", "kind": "text"}, "kind 'text' cannot apply to WHMCS's country"),
    ({"whmcs": "city", "wordpress": "meta.c", "kind": "phone"}, "kind 'phone' cannot apply to WHMCS's city"),
    ({"whmcs": "customfield.2", "wordpress": "url", "kind": "phone"}, "cannot apply to WordPress's url"),
    ({"whmcs": "city", "wordpress": "meta.c", "kind": "colour"}, "kind 'colour' is not one of"),
    ({"whmcs": "city", "wordpress": "meta.c", "direction": "sideways"}, "direction 'sideways' is not one of"),
    ({"whmcs": "city", "wordpress": "meta.c", "apply": "sometimes"}, "apply 'sometimes' is not one of"),
    ({"whmcs": "country", "wordpress": "meta.c", "default": "Germany"}, "not a 2-letter ISO 3166-1 country code"),
    ({"whmcs": "phonenumber", "wordpress": "meta.p", "default": "none"}, "is not a phone number"),
    ({"whmcs": "postcode", "wordpress": "meta.p", "default": "<b>"}, "is not a postcode"),
    ({"whmcs": "city", "wordpress": "meta.c", "colour": "red"}, "unknown key 'colour'"),
    ({"wordpress": "meta.c"}, "[[fields]] #1: whmcs is required"),
    ({"whmcs": "city", "wordpress": 3}, "wordpress must be a string"),
])
def test_each_problem_is_named_with_its_table(table: dict[str, Any], expected: str) -> None:
    found = problems([table])
    assert any(expected in p for p in found), found
    assert all(p.startswith("[[fields]] #1") for p in found), found


def test_a_direction_wider_than_the_syncs() -> None:
    found = problems([{"whmcs": "city", "wordpress": "meta.c", "direction": "both"},
                      {"whmcs": "state", "wordpress": "meta.s", "direction": "wp_to_whmcs"}], direction="whmcs_to_wp")
    assert "[[fields]] #1 (whmcs = 'city'): direction 'both' is wider than [sync] direction 'whmcs_to_wp'; give " \
           "'whmcs_to_wp' or leave it out" in found
    assert any(p.startswith("[[fields]] #2 (whmcs = 'state'): direction 'wp_to_whmcs' is wider") for p in found)


def test_a_field_mapped_twice_on_either_side() -> None:
    found = problems([{"whmcs": "city", "wordpress": "meta.c"}, {"whmcs": "city", "wordpress": "meta.d"},
                      {"whmcs": "state", "wordpress": "meta.c"}])
    assert any(p.startswith("[[fields]] #2 (whmcs = 'city'): WHMCS field 'city' is mapped twice (also by "
                            "[[fields]] #1)") for p in found), found
    assert any(p.startswith("[[fields]] #3 (whmcs = 'state'): WordPress field 'meta.c' is mapped twice") for p in found)


def test_the_company_meta_key_is_the_core_company() -> None:
    found = problems([{"whmcs": "city", "wordpress": "meta.org"}], company_meta_key="org")
    assert any("meta.org is the core company field already" in p for p in found), found


def test_an_unknown_preset_and_a_fields_value_that_is_not_tables() -> None:
    assert any("[wordpress] preset: unknown preset 'shopify'" in p for p in problems([], preset="shopify"))
    with pytest.raises(ConfigError) as caught:
        config.parse({**MINIMAL, "fields": ["city"]}, env={})
    assert any(p.startswith("[[fields]] #1:") for p in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_together_with_the_rest() -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse({**MINIMAL, "sync": {"priority": "nobody"},
                      "fields": [{"whmcs": "x", "wordpress": "meta.a"}, {"whmcs": "city", "wordpress": "y"}]}, env={})
    text = "\n".join(caught.value.problems)
    assert "[sync] priority" in text and "[[fields]] #1 (whmcs = 'x')" in text and "[[fields]] #2" in text


def test_the_policy_carries_the_map_dummies_and_phone_region() -> None:
    settings = config.parse({**MINIMAL, "wordpress": {**MINIMAL["wordpress"], "preset": "woocommerce"},
                             "whmcs": {**MINIMAL["whmcs"], "new_clients": {"dummy": {"country": "de"}}}}, env={})
    policy = policy_of(settings, direction=Direction.WHMCS_TO_WP)
    assert {r.name for r in policy.mapped} == {n for n, _p, _k in fieldmap.WOOCOMMERCE}
    assert policy.phone_region == "DE"
    assert policy.dummy_values["country"] == "DE" and policy.dummy_values["address1"] == "Not provided"
    skipping = config.parse({**MINIMAL, "whmcs": {**MINIMAL["whmcs"],
                                                  "new_clients": {"missing_fields": "skip_validation"}}}, env={})
    assert policy_of(skipping).dummy_values == {}
