"""Issue 12's "Done when": a person following the README alone installs the WordPress companion on
a site with WooCommerce-style meta and sees the address on its way to WHMCS.

The steps are the README's own code blocks under "#### Installing the WordPress companion" and
"#### See the address reach WHMCS", run as written on the real WordPress the suite starts (a site
with no user meta registered for REST, the companion not yet there), against the WHMCS emulator.
Only paths change: ``/var/www/html`` is this site's directory, ``/tmp`` a temporary directory,
``syncd`` is ``python -m syncd`` with ``$SYNCD_CONFIG`` pointing at the configuration. The customer's
billing meta is written with ``update_user_meta``, as WooCommerce writes it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from syncd.emulators.whmcs import WhmcsEmulator
from tests.deploy.proc import ROOT
from tests.e2e.harness import WHMCS_SECRET, Sides
from tests.fixtures_wordpress import WordPressSite, WordPressSiteFactory
from tests.wordpress.companion_site import fresh_wordpress_site  # noqa: F401 (a fixture, by name)

README = ROOT / "README.md"
BILLING = {"billing_address_1": "5 Mill Lane", "billing_city": "York", "billing_state": "North Yorkshire",
           "billing_postcode": "YO1 7HH", "billing_country": "GB", "billing_phone": "01904 555000",
           "vat_number": "GB123456789"}


def readme_blocks(heading: str, lang: str) -> list[str]:
    """The ``lang`` code blocks of the README's subsection ``heading`` (indented ones too)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(f"\n{heading}\n"):]
    section = section[: section.index("\n###", 1)]
    blocks = re.findall(rf"^[ ]*```{lang}\n(.*?)^[ ]*```", section, flags=re.S | re.M)
    assert blocks, f"no {lang} block under {heading!r} in the README: update this test and the README"
    return [re.sub(r"(?m)^[ ]+", "", block) for block in blocks]


@dataclass
class Walk:
    """The site, the WHMCS emulator, and what the README's install steps printed (``before``: the
    check before anything was installed; ``half``: after step 1 only; ``verified``: step 3)."""

    sides: Sides
    tmp: Path
    before: subprocess.CompletedProcess[str] | None = None
    half: subprocess.CompletedProcess[str] | None = None
    verified: subprocess.CompletedProcess[str] | None = None

    @property
    def site(self) -> WordPressSite:
        return self.sides.site

    def sh(self, block: str) -> list[subprocess.CompletedProcess[str]]:
        """Each line of a README ``sh`` block, with this site's paths; every line must succeed."""
        done = []
        syncd = f"{sys.executable} -m syncd"
        env = {**os.environ, "SYNCD_CONFIG": str(self.sides.config)}
        for line in filter(str.strip, block.splitlines()):
            line = line.replace("/var/www/html", str(self.site.dir / "wp")).replace("/tmp", str(self.tmp))
            if line.startswith("syncd "):
                line = syncd + line.removeprefix("syncd")
            run = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, timeout=300)
            assert run.returncode == 0, f"README step failed: {line}\n{run.stdout}\n{run.stderr}"
            assert "Traceback" not in run.stdout + run.stderr
            done.append(run)
        return done

    def check(self) -> subprocess.CompletedProcess[str]:
        return self.sh_status("syncd test-connection")

    def sh_status(self, line: str) -> subprocess.CompletedProcess[str]:
        """One command whose exit code the test judges (``test-connection`` exits 3 while a key is missing)."""
        env = {**os.environ, "SYNCD_CONFIG": str(self.sides.config)}
        args = [sys.executable, "-m", "syncd", *line.removeprefix("syncd ").split()]
        return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)


def _until_served(site: WordPressSite, key: str) -> None:
    """Waits until the site runs the wp-config.php just written: its PHP caches compiled files
    (opcache, re-checked every 2 s), as a production PHP does, so an edit shows a moment later."""
    deadline = time.monotonic() + 30
    with httpx.Client(auth=site.auth, timeout=30) as http:
        while time.monotonic() < deadline:
            about = http.get(site.url + "/wp-json/syncd/v1/companion")
            if about.status_code == 200 and key in about.json().get("configured_meta_keys", []):
                return
            time.sleep(0.25)
    raise AssertionError(f"the site never served the wp-config.php with {key} in SYNCD_META_KEYS")


@pytest.fixture(scope="module")
def walk(fresh_wordpress_site: WordPressSiteFactory,  # noqa: F811 (the fixture imported above)
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    """The README's companion steps, done once per module (and per test worker that runs one of its
    tests) on a fresh site; then a WooCommerce customer with billing meta."""
    site = fresh_wordpress_site(user_meta=False)
    tmp = tmp_path_factory.mktemp("companion-walk")
    whmcs = WhmcsEmulator(identifier="syncd", secret=WHMCS_SECRET)
    with whmcs.serve() as url:
        sides = Sides(whmcs=whmcs, whmcs_url=url, site=site, tmp=tmp)
        sides.write_config(direction="wp_to_whmcs")
        text = sides.config.read_text(encoding="utf-8").replace(
            "[wordpress]\n", '[wordpress]\npreset = "woocommerce"\n', 1)
        sides.config.write_text(text + '[[fields]]\nwhmcs = "tax_id"\nwordpress = "meta.vat_number"\n',
                                encoding="utf-8")
        walk = Walk(sides, tmp)
        walk.before = walk.check()
        install, check = readme_blocks("#### Installing the WordPress companion", "sh")
        walk.sh(install)  # step 1
        walk.half = walk.check()
        [define] = readme_blocks("#### Installing the WordPress companion", "php")  # step 2
        config = site.dir / "wp" / "wp-config.php"
        anchor = "require_once ABSPATH . 'wp-settings.php';"
        wp_config = config.read_text(encoding="utf-8")
        assert anchor in wp_config
        config.write_text(wp_config.replace(anchor, define.strip() + "\n" + anchor, 1), encoding="utf-8")
        _until_served(site, "vat_number")
        [walk.verified] = walk.sh(check)  # step 3
        site.php(
            "$id = wp_insert_user(['user_login' => 'york', 'user_email' => 'york@example.com', "
            "'user_pass' => wp_generate_password(), 'first_name' => 'Yan', 'last_name' => 'Ork', "
            "'role' => 'subscriber']); "
            + "".join(f"update_user_meta($id, {json.dumps(k)}, {json.dumps(v)}); " for k, v in BILLING.items()))
        yield walk


def test_the_readme_companion_steps_expose_the_billing_meta_to_syncd(walk: Walk) -> None:
    assert walk.before is not None and walk.half is not None and walk.verified is not None
    before = walk.before.stdout + walk.before.stderr
    assert walk.before.returncode == 3, before  # not installed yet: named, with the steps
    assert "billing_phone" in before and "1) syncd companion wordpress --out DIR" in before
    assert (walk.site.dir / "wp/wp-content/mu-plugins/syncd-companion.php").is_file()
    half = walk.half.stdout + walk.half.stderr
    assert walk.half.returncode == 3 and "vat_number" in half, half  # not a WooCommerce key: step 2 is needed
    assert "billing_phone" not in next(li for li in walk.half.stdout.splitlines() if "FAIL" in li)
    assert "All checks passed." in walk.verified.stdout, walk.verified.stdout
    assert "(the syncd companion 0.3.0 is installed)" in walk.verified.stdout
    assert "tax_id ↔ meta.vat_number" in walk.verified.stdout


def test_a_customer_with_billing_meta_is_shown_on_its_way_to_whmcs(walk: Walk) -> None:
    explained = walk.sides.syncd("explain", "york@example.com")
    assert explained.code == 0, explained.stdout + explained.stderr
    for label, value in (("address1 ↔ meta.billing_address_1", "5 Mill Lane"), ("city ↔ meta.billing_city", "York"),
                         ("phonenumber ↔ meta.billing_phone", "01904 555000"),
                         ("tax_id ↔ meta.vat_number", "GB123456789")):
        line = next(li for li in explained.stdout.splitlines() if li.strip().startswith(f"{label}:"))
        assert f"WordPress {value!r}" in line, line
    [dry_and_run] = readme_blocks("#### See the address reach WHMCS", "sh")
    dry, _ = dry_and_run.strip().splitlines()
    assert dry.strip() == "syncd sync --dry-run"
    clients = dict(walk.sides.whmcs.clients)
    [shown] = walk.sh(dry)
    assert "mapped fields ([[fields]], preset): 8 fields" in shown.stdout
    assert "york@example.com" in shown.stdout
    assert walk.sides.whmcs.clients == clients  # a dry run writes nothing


def test_the_address_reaches_whmcs_through_the_readme_steps(walk: Walk) -> None:
    [dry_and_run] = readme_blocks("#### See the address reach WHMCS", "sh")
    shown, ran = walk.sh(dry_and_run)
    assert "address1 ↔ meta.billing_address_1 '5 Mill Lane'" in shown.stdout, shown.stdout
    assert "Run " in ran.stdout
    [client] = [c for c in walk.sides.whmcs.clients.values() if c.email == "york@example.com"]
    assert (client.address1, client.city, client.postcode, client.country) == ("5 Mill Lane", "York", "YO1 7HH", "GB")
    assert client.phonenumber.replace(" ", "").endswith("1904555000")
