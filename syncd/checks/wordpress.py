"""``syncd test-connection``, WordPress part (DESIGN §6.3): each check OK, or its fix in plain words.

In order: the REST API answers (not blocked by a security plugin, the URL right); the site
offers Application Passwords (over plain http only with ``WP_ENVIRONMENT_TYPE=local``); ours
is accepted (``/users/me``: WordPress never says a password is wrong, it runs the request
as anonymous); the account can list users with emails and roles (``context=edit``), create
users, and give them ``[wordpress.new_users] role`` (which must exist: probed with a create that
cannot succeed, ``wordpress_roles``), and edit users and their roles; and whether the company field
can be stored. The capabilities are read from ``/users/me?context=edit``: no user is ever created
to test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from syncd.adapters.wordpress import DEFAULT_COMPANY_KEY, WordPressAdapter
from syncd.adapters.wordpress_http import SiteProbe, rest_disabled_code
from syncd.adapters.wordpress_roles import COMMON_ROLES
from syncd.adapters.wordpress_users import Account
from syncd.checks import Check
from syncd.companions import WORDPRESS_DEFAULT_META_KEYS
from syncd.config import FORBIDDEN_ROLES, Settings
from syncd.errors import BadCredentials, PermissionDenied, SyncdError
from syncd.model import Side
from syncd.render.items import plural

SIDE = "wordpress"

_PLUGIN_HINT = (
    "in the security plugin or web-server rule that blocks it, allow authenticated REST requests (or at "
    "least /wp/v2/users): look for a setting like 'Disable REST API', 'REST API access' or 'Restrict REST "
    "API' (plugins such as Disable REST API, Solid/iThemes Security, Wordfence, All In One WP Security)"
)


def _check(name: str, ok: bool, detail: str = "", fix: str = "") -> Check:
    return Check(side=SIDE, name=name, ok=ok, detail=detail, fix=fix)


def _reachability(probe: SiteProbe, url: str) -> Check:
    name = "REST API reachable"
    if probe.info is not None:
        if "wp/v2" not in probe.info.namespaces:
            return _check(name, False, "the REST index has no wp/v2 namespace (the core endpoints are removed)",
                          _PLUGIN_HINT)
        where = f"{probe.root}/wp-json/" if probe.info.pretty else f"{probe.root}/?rest_route=/ (plain permalinks)"
        return _check(name, True, where)
    if probe.error:
        return _check(name, False, probe.error, probe.fix or "check [wordpress] url, DNS, the firewall between "
                      "this host and WordPress, and its TLS certificate")
    if probe.redirect:
        target = urlsplit(probe.redirect)
        site = f"{target.scheme}://{target.netloc}/" if target.netloc else probe.redirect
        return _check(name, False, f"{probe.root}/wp-json/ redirects to {probe.redirect}",
                      f"set [wordpress] url to the site's own address, e.g. url = \"{site}\"")
    if probe.blocked_code:
        said = f"{probe.blocked_status} {probe.blocked_code}: {probe.blocked_message}"
        if probe.blocked_status == 401 and not rest_disabled_code(probe.blocked_code):
            return _check(name, True, f"for authenticated requests only (anonymous ones get {said})")
        return _check(name, False, f"the REST API is disabled or blocked ({said})", _PLUGIN_HINT)
    what = "an HTML page" if probe.html else f"HTTP {probe.status} without the REST index"
    return _check(name, False, f"{probe.root} answers {what} at /wp-json/ and at /?rest_route=/",
                  f"check that [wordpress] url ({url}) is the site's address (not wp-admin or a page); if it "
                  f"is, the REST API is switched off: {_PLUGIN_HINT}")


def _app_passwords(probe: SiteProbe) -> Check | None:
    """None when the index cannot tell (it refused anonymous requests)."""
    name = "Application Passwords available"
    if probe.info is None:
        return None
    if probe.info.app_passwords_available:
        return _check(name, True)
    if urlsplit(probe.root).scheme == "http":
        fix = ("WordPress offers Application Passwords over plain http only on a site whose environment is "
               "'local': serve the site over https and set [wordpress] url to its https:// address (on a test "
               "site, define('WP_ENVIRONMENT_TYPE', 'local') in wp-config.php also does)")
    else:
        fix = ("a plugin or the wp_is_application_passwords_available filter switched them off: switch them "
               "back on (security plugins often have an 'Application Passwords' setting)")
    return _check(name, False, "the REST index lists no 'application-passwords' authentication", fix)


def _credentials(adapter: WordPressAdapter, username: str) -> tuple[Check, Account | None]:
    name = "application password accepted"
    try:
        account = adapter.verify()
    except BadCredentials:
        return _check(name, False, f"WordPress ran /users/me as anonymous: it does not accept this application "
                                   f"password for user {username!r} (it never says so otherwise)",
                      f"in wp-admin, Users → Profile of {username!r} → Application Passwords, add a new one and "
                      "put it in [wordpress] application_password (or application_password_file, or "
                      "$SYNCD_WORDPRESS_APPLICATION_PASSWORD); [wordpress] username may be the login or the "
                      "email. If the password is right, the web server drops the Authorization header "
                      "(Apache with CGI/FastCGI: pass it on with a SetEnvIf/RewriteRule for HTTP_AUTHORIZATION)"), None
    except SyncdError as exc:
        return _check(name, False, str(exc), "see the message; then run test-connection again"), None
    roles = ", ".join(account.roles) or "no role"
    return _check(name, True, f"user {account.username!r} (#{account.id}, {roles})"), account


def _capability(account: Account, name: str, needed: tuple[str, ...], purpose: str) -> Check:
    missing = [c for c in needed if not account.can(c)]
    if not missing:
        return _check(name, True)
    noun = "capability" if len(missing) == 1 else "capabilities"
    return _check(name, False, f"{account.username!r} lacks the {noun} {', '.join(missing)} ({purpose})",
                  f"give {account.username!r} the Administrator role (Users → Edit → Role), or a role with "
                  f"{', '.join(needed)}")


def _listing(adapter: WordPressAdapter, account: Account) -> Check:
    name = "list users with emails and roles (context=edit)"
    if not account.can("list_users"):
        return _capability(account, name, ("list_users",), "syncd reads every user's email and roles")
    try:
        total = adapter.count_users()
    except PermissionDenied as exc:
        return _check(name, False, str(exc), f"give {account.username!r} the Administrator role")
    except SyncdError as exc:
        return _check(name, False, str(exc), "see the message; then run test-connection again")
    return _check(name, True, plural(total, "user"))


def _role(adapter: WordPressAdapter, account: Account, settings: Settings) -> Check | None:
    """The role new users are given exists, and this account may give it (probed with a create that
    cannot succeed, see ``wordpress_roles``); None when the account cannot create users at all (the
    check before says so)."""
    name = "new users' role ([wordpress.new_users] role)"
    role = settings.wordpress.new_users.role
    if not settings.sync.direction.allows_write_to(Side.WORDPRESS):
        return _check(name, True, f"not used: direction {settings.sync.direction.value} never creates WordPress "
                                  "users")
    if not account.can("create_users"):
        return None
    answer = adapter.role_answer(role)
    if answer.exists and answer.assignable and not answer.said:
        return _check(name, True, f"{role!r} exists and may be given (probed safely: nobody was created)")
    if answer.exists is None:
        return _check(name, False, f"could not tell whether the role {role!r} exists: {answer.said}",
                      "see the message; then run test-connection again")
    if answer.exists and answer.assignable:  # a plugin let the probe create a user: said plainly
        return _check(name, False, answer.said, "delete that user; then run test-connection again")
    if answer.exists:
        return _check(name, False, f"{account.username!r} may not give the role {role!r} to new users",
                      f"give {account.username!r} the Administrator role, or set [wordpress.new_users] role to a "
                      "role it may give")
    offered = _roles_that_exist(adapter, settings, exclude={role})
    some = f"one that exists: {', '.join(offered)}" if offered else "a role that exists (Users → All Users shows them)"
    return _check(name, False, f"the role {role!r} does not exist on this site, so every user syncd creates there "
                               "would fail", f"set [wordpress.new_users] role to {some}; or create the role "
                                             f"{role!r} (e.g. with a role editor plugin)")


def _roles_that_exist(adapter: WordPressAdapter, settings: Settings, exclude: set[str]) -> list[str]:
    """WordPress's and WooCommerce's usual roles and those the site's users hold, each probed: the ones
    that exist and may be given to new users (never one syncd refuses to grant or excludes)."""
    refused = FORBIDDEN_ROLES | set(settings.sync.exclude_wp_roles) | exclude
    candidates = dict.fromkeys([*COMMON_ROLES, *adapter.roles_held()])
    found = []
    for candidate in candidates:
        if candidate in refused:
            continue
        answer = adapter.role_answer(candidate)
        if answer.exists and answer.assignable and not answer.said:
            found.append(candidate)
    return found


def _company(adapter: WordPressAdapter, settings: Settings) -> Check:
    name = "company field"
    key = adapter.company_key
    if adapter.supports_company:
        return _check(name, True, f"stored in user meta {key!r}")
    detail = f"user meta {key!r} is not exposed in the REST API, so company is not synchronised"
    fix = (f"register it for REST in a small mu-plugin: register_meta('user', '{key}', ['type' => 'string', "
           "'single' => true, 'show_in_rest' => true]) (see the README)")
    if settings.wordpress.company_meta_key and key != DEFAULT_COMPANY_KEY:
        return _check(name, False, detail, fix)  # configured on purpose: it should be there
    return _check(name, True, detail + f" (to synchronise it: {fix})")


def _mapped(adapter: WordPressAdapter) -> Check | None:
    """The field map's WordPress side: every mapped meta key exposed by the REST API (None without a map).

    Unregistered meta is neither listed nor stored by WordPress (a write of it still answers 200),
    so a key that is not exposed would never be carried: named here with its fix, which depends on
    whether the companion plugin is installed and which keys it was told to register."""
    if not adapter.mapped:
        return None
    name = "mapped fields ([[fields]], preset)"
    companion = adapter.companion()
    has = f"the syncd companion {companion.version} is installed" if companion is not None else ""
    missing = adapter.missing_meta
    if not missing:
        stored = ", ".join(f"{r.name} ↔ {r.wordpress}" for r in adapter.mapped)
        return _check(name, True, stored + (f" ({has})" if has else ""))
    keys = ", ".join(r.meta_key or "" for r in missing)
    detail = (f"WordPress does not expose the user meta {keys} in its REST API, so "
              f"{', '.join(r.name for r in missing)} cannot be read or written there")
    register = ("or register each key yourself for REST: register_meta('user', KEY, ['show_in_rest' => true, "
                "'single' => true, 'type' => 'string', 'auth_callback' => fn() => current_user_can('edit_users')])")
    if companion is None:
        wanted = sorted({r.meta_key for r in adapter.mapped if r.meta_key is not None}
                        | {adapter.company_key})
        define = ""
        if any(r.meta_key not in WORDPRESS_DEFAULT_META_KEYS for r in missing):
            # SYNCD_META_KEYS replaces the companion's default list: it names every key syncd maps.
            define = f"; 3) in wp-config.php: define('SYNCD_META_KEYS', '{','.join(wanted)}');"
        fix = ("install the syncd companion plugin: 1) syncd companion wordpress --out DIR; 2) copy "
               "DIR/syncd-companion.php into wp-content/mu-plugins/ (or into wp-content/plugins/ and activate "
               "\"syncd companion\"); it registers WooCommerce's billing keys" + define +
               " then run syncd test-connection again; " + register)
        return _check(name, False, detail, fix)
    unlisted = [r.meta_key or "" for r in missing if r.meta_key not in companion.configured]
    detail += f" ({has}"
    detail += f"; not in its SYNCD_META_KEYS: {', '.join(unlisted)})" if unlisted else ")"
    keys_all = ",".join(sorted(companion.configured | {r.meta_key or "" for r in missing}))
    fix = (f"add them to SYNCD_META_KEYS in wp-config.php: define('SYNCD_META_KEYS', '{keys_all}'); "
           if unlisted else "another plugin may register these keys without show_in_rest; ") + register
    return _check(name, False, detail, fix)


def run(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Check]:
    """Every WordPress check, in order; stops at the first one the others depend on."""
    # Fail fast at setup: one retry at most, so a dead host does not take minutes.
    quick = settings.wordpress.model_copy(update={"retries": min(settings.wordpress.retries, 1)})
    adapter = WordPressAdapter(quick, settings.wordpress_password, exclude_roles=settings.sync.exclude_wp_roles,
                               mapped=settings.field_rules(), transport=transport, sleep=sleep)
    try:
        probe = adapter.probe()
        reachable = _reachability(probe, settings.wordpress.url)
        checks = [reachable]
        if not reachable.ok:
            return checks
        available = _app_passwords(probe)
        if available is not None:
            checks.append(available)
            if not available.ok:
                return checks
        credentials, account = _credentials(adapter, settings.wordpress.username)
        checks.append(credentials)
        if account is None:
            return checks
        checks += [
            _listing(adapter, account),
            _capability(account, "create users", ("create_users",), "syncd creates users from WHMCS clients"),
        ]
        role = _role(adapter, account, settings)
        if role is not None:
            checks.append(role)
        checks += [
            _capability(account, "edit users and their roles", ("edit_users", "promote_users"),
                        "syncd updates names and emails and deactivates users by taking their role"),
            _company(adapter, settings),
        ]
        mapped = _mapped(adapter)
        if mapped is not None:
            checks.append(mapped)
        return checks
    finally:
        adapter.close()
