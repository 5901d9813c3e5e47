"""``syncd test-connection``, WHMCS part (DESIGN §6.3): each check OK, or its fix in plain words.

In order: WHMCS reachable; it answers with the API's JSON (an HTML page means a wrong URL
or maintenance mode); the API IP allow-list lets this machine in (naming the IP to add, or
the access key); the credentials are accepted; then every API action syncd needs, one by
one, so a missing API-role permission is named at setup. Reads are probed with harmless
calls (``limitnum=1``); writes only with calls that cannot succeed (``AddClient`` with no
fields, ``UpdateClient`` of client 0, ...): a validation or not-found error means the
role permits the action, ``Invalid Permissions`` that it does not. Last, what new clients are
given must exist: ``[whmcs.new_clients] currency`` (GetCurrencies) and ``group_id`` when set
(GetClientGroups), since AddClient takes any id without a word. ``sync`` and dry runs never
make these probes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx

from syncd.adapters import net
from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.whmcs_wire import (
    API_ROLE_PATH,
    CREDENTIALS_PATH,
    CUSTOM_FIELDS_PATH,
    IP_ALLOW_PATH,
    as_int,
    as_list,
    client_details,
    client_groups_of,
    currencies_of,
    custom_field_id,
    custom_fields_of,
    version_of,
)
from syncd.checks import Check
from syncd.config import Settings
from syncd.errors import (
    AccessDenied,
    BadCredentials,
    IpNotAllowed,
    NotAnApi,
    OutcomeUnknown,
    PermissionDenied,
    RemoteRejected,
    SideError,
    Transient,
    UnknownAction,
    Unreachable,
)
from syncd.model import Side

SIDE = "whmcs"

Probe = tuple[str, dict[str, object], str]  # action, parameters, what it is for


def _check(name: str, ok: bool, detail: str = "", fix: str = "") -> Check:
    return Check(side=SIDE, name=name, ok=ok, detail=detail, fix=fix)


def _connection_failure(exc: SideError, url: str) -> list[Check]:
    """The checks that a failed first call settles, ending with the failed one."""
    reachable = _check("reachable", True, url)
    json_ok = _check("answers with the API's JSON", True)
    words = net.of_error(exc) if isinstance(exc, Unreachable | Transient) else None
    if words is not None:  # the transport failed: what happened and what to do, apart
        return [_check("reachable", False, f"cannot reach WHMCS at {url}: {words.what}", words.fix)]
    if isinstance(exc, Unreachable):
        return [_check("reachable", False, str(exc),
                       "check [whmcs] url, DNS, the firewall between this host and WHMCS, and its TLS certificate")]
    if isinstance(exc, Transient):
        return [_check("reachable", False, str(exc),
                       "WHMCS or its web server is overloaded or failing; try again later or check its error log")]
    if isinstance(exc, NotAnApi):
        return [reachable, _check(
            "answers with the API's JSON", False, str(exc),
            "set [whmcs] url to the WHMCS root (the address of the client area, the folder that holds "
            "includes/api.php), and make sure WHMCS is not in maintenance mode (Configuration → System Settings "
            "→ General Settings → General → Maintenance Mode)")]
    if isinstance(exc, IpNotAllowed):
        ip = exc.ip or "this host's public IP"
        return [reachable, json_ok, _check(
            "API IP allow-list", False, f"WHMCS refuses API calls from {ip}",
            f"add {ip} under {IP_ALLOW_PATH}, or set [whmcs] access_key to the value of $api_access_key in "
            "WHMCS's configuration.php (it lets syncd through the allow-list)")]
    if isinstance(exc, BadCredentials):
        return [reachable, json_ok, _check("API IP allow-list", True), _check(
            "credentials", False, str(exc),
            f"check [whmcs] identifier and secret against {CREDENTIALS_PATH} (create a new credential if the "
            'secret is lost), and give its admin the "API Access" permission')]
    if isinstance(exc, AccessDenied):
        return [reachable, json_ok, _check("API access", False, str(exc),
                                           "ask the WHMCS administrator to allow this host to use the API")]
    return [reachable, json_ok, _check("API access", False, str(exc), "see the message above")]


def _probes(first_client: int) -> list[Probe]:
    return [
        ("GetClients", {"limitnum": 1}, "lists the clients"),
        ("GetClientsDetails", {"clientid": first_client}, "reads a client's owner user and mapped fields"),
        ("GetUsers", {"limitnum": 1}, "lists the WHMCS 8 users that own the clients"),
        ("GetAdminUsers", {}, "keeps WHMCS admins out of sync"),
        ("AddClient", {}, "creates clients for WordPress users"),
        ("UpdateClient", {"clientid": 0}, "writes changed names and emails, and status changes"),
        ("UpdateUser", {"user_id": 0}, "keeps the owner user's login email and name in step"),
        ("ResetPassword", {"id": 0}, "sends new clients a password-reset email"),
    ]


def _permission_check(action: str, purpose: str, call: Callable[[], dict[str, Any]], *,
                      needed: bool = True, write: bool = False) -> Check:
    name = f'API action "{action}"'
    try:
        data = call()
    except PermissionDenied:
        if not needed:
            return _check(name, True, f"not allowed, and not needed with this configuration (it {purpose})")
        return _check(name, False, f"the API role does not allow it; syncd needs it because it {purpose}",
                      f'tick "{action}" in the API role of this credential: {API_ROLE_PATH}')
    except UnknownAction as exc:
        if action == "GetUsers":
            return _check(name, True, "not available before WHMCS 8.1: owner users are looked up per client")
        if action == "UpdateUser":
            return _check(name, True, "not available before WHMCS 8.0, which has no users to keep in step")
        return _check(name, not needed, str(exc), "" if not needed else "upgrade WHMCS (syncd needs WHMCS 8)")
    except RemoteRejected as exc:
        # The call reached the action and was refused on its merits: the role permits it.
        return _check(name, True, f"allowed (probed safely: {exc.code or 'rejected as expected'})")
    except OutcomeUnknown as exc:
        return _check(name, False, f"could not tell: {exc}", "run test-connection again")
    except SideError as exc:
        return _check(name, False, str(exc), "see the message; then run test-connection again")
    if write:
        return _check(name, True, "allowed")
    total = as_int(data.get("totalresults"))
    return _check(name, True, "allowed" + (f" ({total} in all)" if total is not None else ""))


def run(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Check]:
    """Every WHMCS check, in order; stops after a connection-level failure."""
    # Fail fast at setup: one retry at most, so a dead host does not take minutes.
    quick = settings.whmcs.model_copy(update={"retries": min(settings.whmcs.retries, 1)})
    adapter = WhmcsAdapter(quick, settings.whmcs_secret, transport=transport, sleep=sleep)
    checks: list[Check] = []
    try:
        try:
            first = adapter.call("GetClients", {"limitnum": 1, "orderby": "id", "sorting": "ASC"})
        except PermissionDenied:
            first = None  # authenticated: GetClients's own check below names the missing permission
        except SideError as exc:
            return _connection_failure(exc, adapter.endpoint)
        checks += [
            _check("reachable", True, adapter.endpoint),
            _check("answers with the API's JSON", True),
            _check("API IP allow-list", True, "this host may call the API"),
            _check("credentials", True, f"identifier {settings.whmcs.identifier!r} accepted"),
        ]
        rows = as_list(first.get("clients"), "client") if first else []
        first_client = (as_int(rows[0].get("id")) or 0) if rows else 0
        for action, params, purpose in _probes(first_client):
            write = action in ("AddClient", "UpdateClient", "UpdateUser", "ResetPassword")
            # A one-way whmcs_to_wp sync never writes to WHMCS; the reset email is optional.
            needed = not write or settings.sync.direction.allows_write_to(Side.WHMCS)
            if action == "ResetPassword":
                needed = needed and (settings.whmcs.new_clients.send_password_reset or (
                    settings.whmcs.password_reset_on_wp_change and settings.passwords.carry))
            if action == "GetClients" and first is not None:
                checks.append(_permission_check(action, purpose, lambda: first or {}))
                continue
            checks.append(_permission_check(
                action, purpose, partial(adapter.call, action, params), needed=needed, write=write))
        checks.append(_version_check(adapter))
        checks += _new_client_checks(adapter, settings)
        checks += _custom_field_checks(adapter, settings, first_client)
    finally:
        adapter.close()
    return checks


def _version_check(adapter: WhmcsAdapter) -> Check:
    """WhmcsDetails or GetAdminDetails: one of them must be allowed to read the version."""
    name = 'API action "WhmcsDetails" or "GetAdminDetails"'
    denied = []
    for action in ("WhmcsDetails", "GetAdminDetails"):
        try:
            version = version_of(adapter.call(action))
        except (PermissionDenied, UnknownAction):
            denied.append(action)
            continue
        except SideError as exc:
            return _check(name, False, str(exc), "see the message; then run test-connection again")
        major = as_int(version.split(".")[0]) if version else None
        note = " (before WHMCS 8 clients have no owner users; only the client is written)" if (
            major is not None and major < 8) else ""
        return _check(name, True, f"WHMCS {version or '(version not reported)'}{note}")
    return _check(name, False, "the API role allows neither; syncd reads the WHMCS version with one of them",
                  f'tick "WhmcsDetails" (or "GetAdminDetails") in the API role of this credential: {API_ROLE_PATH}')


CURRENCIES_PATH = "Configuration → System Settings → Currencies"
CLIENT_GROUPS_PATH = "Configuration → System Settings → Client Groups"


def _listed(adapter: WhmcsAdapter, action: str, name: str, purpose: str,
            read: Callable[[dict[str, Any]], dict[int, str]]) -> dict[int, str] | Check:
    """What ``action`` lists (id → name), or the failed check that says why it could not be read."""
    try:
        return read(adapter.call(action))
    except PermissionDenied:
        return _check(name, False, f'the API role does not allow "{action}", which syncd calls to check {purpose}',
                      f'tick "{action}" in the API role of this credential: {API_ROLE_PATH}')
    except SideError as exc:
        return _check(name, False, str(exc), "see the message; then run test-connection again")


def _choices(found: dict[int, str]) -> str:
    return ", ".join(f"{i} ({label})" if label else str(i) for i, label in sorted(found.items()))


def _new_client_checks(adapter: WhmcsAdapter, settings: Settings) -> list[Check]:
    """The currency and the client group that AddClient gives new clients exist in this WHMCS
    (AddClient takes any id without a word, and its clients then bill in no currency WHMCS has)."""
    new = settings.whmcs.new_clients
    currency_name = "new clients' currency ([whmcs.new_clients] currency)"
    group_name = "new clients' group ([whmcs.new_clients] group_id)"
    if not settings.sync.direction.allows_write_to(Side.WHMCS):
        return [_check(currency_name, True, f"not used: direction {settings.sync.direction.value} never creates "
                                            "WHMCS clients")]
    checks = []
    currencies = _listed(adapter, "GetCurrencies", currency_name, f"that currency {new.currency} exists",
                         currencies_of)
    if isinstance(currencies, Check):
        checks.append(currencies)
    elif new.currency in currencies:
        checks.append(_check(currency_name, True, f"currency {new.currency} ({currencies[new.currency]})"))
    else:
        checks.append(_check(
            currency_name, False,
            f"currency {new.currency} does not exist in WHMCS (its currencies: {_choices(currencies) or 'none'})",
            f"set [whmcs.new_clients] currency to the id of one of them ({CURRENCIES_PATH} lists them)"))
    if not new.group_id:
        return checks  # 0: new clients join no group
    groups = _listed(adapter, "GetClientGroups", group_name, f"that client group {new.group_id} exists",
                     client_groups_of)
    if isinstance(groups, Check):
        checks.append(groups)
    elif new.group_id in groups:
        checks.append(_check(group_name, True, f"client group {new.group_id} ({groups[new.group_id]})"))
    else:
        have = f"its client groups: {_choices(groups)}" if groups else "it has no client group"
        checks.append(_check(
            group_name, False, f"client group {new.group_id} does not exist in WHMCS ({have})",
            f"set [whmcs.new_clients] group_id to the id of one of them ({CLIENT_GROUPS_PATH}), or to 0 for no "
            "group"))
    return checks


def _custom_field_checks(adapter: WhmcsAdapter, settings: Settings, first_client: int) -> list[Check]:
    """Each mapped ``customfield.<id>`` is a client custom field of this WHMCS: GetClientsDetails
    lists every one (empty ones included) under ``customfields``, so one client's details tell.
    WHMCS would drop a value for an unknown id without a word; syncd never reads nor writes it."""
    rules = [r for r in settings.field_rules() if custom_field_id(r.name) is not None]
    if not rules:
        return []
    names = ", ".join(r.name for r in rules)
    name = f"mapped custom fields ({names})"
    if not first_client:
        return [_check(name, True, "not checked: WHMCS has no client yet to read the custom fields from; "
                                   "run test-connection again once it has one")]
    try:
        defined = custom_fields_of(client_details(adapter.call("GetClientsDetails", {"clientid": first_client})))
    except SideError as exc:
        return [_check(name, False, f"could not read client #{first_client}'s custom fields: {exc}",
                       "see the message; then run test-connection again")]
    known = sorted(defined or {})
    checks = []
    for rule in rules:
        field_id = custom_field_id(rule.name)
        label = f'mapped field "{rule.name}" ↔ {rule.wordpress}'
        if field_id in known:
            checks.append(_check(label, True, f"WHMCS has client custom field {field_id}"))
            continue
        have = f"its client custom fields have the ids {', '.join(map(str, known))}" if known else \
            "it has no client custom field"
        checks.append(_check(
            label, False, f"WHMCS has no client custom field with id {field_id} ({have}); it would be neither "
                          "read nor written",
            f"find the field's id under {CUSTOM_FIELDS_PATH} (or in GetClientsDetails's \"customfields\" of a "
            f"client), then set whmcs = \"customfield.<id>\" in its [[fields]] table"))
    return checks
