"""``syncd companion``: what was written and how to install it."""

from __future__ import annotations

from pathlib import Path

#: How each side's companion is installed; the file's own header says the same.
INSTALL = {
    "wordpress": (
        "Install it on the WordPress site, one of:\n"
        "  - as a plugin: copy it into wp-content/plugins/ and activate \"syncd companion\" (Plugins);\n"
        "  - as a must-use plugin (always on, no activation): copy it into wp-content/mu-plugins/.\n"
        "It registers the user meta syncd maps for the REST API (default: WooCommerce's billing_* keys;\n"
        "set others in wp-config.php: define('SYNCD_META_KEYS', 'billing_phone,billing_city');),\n"
        "readable and writable only by users who can edit users.\n"
        "To have it tell syncd at once which users changed, add to wp-config.php the intake's address and\n"
        "the same secret as syncd's [intake] (see the README, \"The WordPress companion\"):\n"
        "  define('SYNCD_INTAKE_URL', 'https://sync.example.com:8787');\n"
        "  define('SYNCD_INTAKE_SECRET', '...');\n"
        "It then also sends a password set in WordPress, only to an https:// URL or to this host's loopback;\n"
        "syncd uses it only with [passwords] carry = true (see the README, \"Passwords\").\n"
        "To let people log in to WordPress with their WHMCS password, also (with [passwords] carry = true in\n"
        "syncd; see the README, \"Passwords\"): define('SYNCD_LOGIN_FALLBACK', true);\n"
        "To see it is active: GET /wp-json/syncd/v1/companion as an administrator (e.g. with syncd's\n"
        "Application Password) answers with its version and the keys it registered."
    ),
    "whmcs": (
        "Install it on the WHMCS server: copy it into WHMCS's includes/hooks/ (WHMCS loads every .php file\n"
        "there), readable by the web server's user; it needs PHP 8.\n"
        "Then tell it where syncd's intake is, in configuration.php (the file then stays as shipped):\n"
        "  define('SYNCD_INTAKE_URL', 'https://sync.example.com:8787');  // the intake's base URL ([intake] listen)\n"
        "  define('SYNCD_INTAKE_SECRET', '...');                          // the [intake] secret\n"
        "Until both are set it sends nothing. It reports ClientAdd, ClientEdit, ClientClose, PreDeleteClient,\n"
        "UserAdd and UserEdit to syncd (never a password); a failure to send is one line in WHMCS's\n"
        "Activity Log, and syncd's next poll finds the change anyway."
    ),
}


def companion_text(side: str, path: Path, written: bool) -> str:
    head = f"Wrote {path}." if written else f"{path} is already this version's companion; nothing written."
    return f"{head}\n{INSTALL[side]}"
