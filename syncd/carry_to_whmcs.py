"""Carrying a password set on WordPress to WHMCS (DESIGN §11), in flight, never stored.

A WordPress password event's password must be at hand DURING the user's one-user run, since the
run may create the WHMCS client (unlike WHMCS → WordPress, where the password is set after the
run, ``syncd.carry``). So ``event_run`` reads the WordPress user fresh first (never for an
administrator or an excluded role), offers the password to the run's ``WhmcsAdapter`` for that
user's email only (``WhmcsAdapter.offer_password``), and runs. The core, the plan, the run report,
history and the store never see it: only the adapter's ``create`` of that email sends it, as
``password2``. When the client already existed, WHMCS 8's API cannot set its password
(UpdateClient lost it in 8.0, UpdateUser never had it): that is said at INFO once per user (per
process), and with ``[whmcs] password_reset_on_wp_change = true`` WHMCS's reset email goes out
instead. Whatever happens, the password is forgotten before ``event_run`` returns or raises a
failure the worker gives up on; each line logged names the user, never the password.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from loguru import logger

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import Settings
from syncd.errors import NotFound, SyncdError
from syncd.model import Link, Side
from syncd.ports import SideAdapter
from syncd.service.events import Pending
from syncd.state.store import SqlStateStore
from syncd.sync.engine import RunReport

Adapters = tuple[SideAdapter, SideAdapter]
#: The one-user run, given the adapters to run with (``app.event_job`` binds the user).
UserRun = Callable[[Callable[[Settings], Adapters]], RunReport]
#: Open each side (tests give their own); closed after use.
WhmcsFactory = Callable[[Settings], WhmcsAdapter]
WordPressFactory = Callable[[Settings], WordPressAdapter]

_told_lock = threading.Lock()
#: WordPress user ids already told, in this process, that WHMCS cannot take their new password.
_told: set[int] = set()


def _tell_once(wp_id: int) -> bool:
    with _told_lock:
        if wp_id in _told:
            return False
        _told.add(wp_id)
        return True


def _linked(settings: Settings, wp_id: int) -> Link | None:
    """The link of WordPress user ``wp_id``, as the run just left it (read-only)."""
    url = settings.sync.state_url
    if not SqlStateStore.exists(url):
        return None
    with SqlStateStore.open(url, create=False, read_only=True) as store:
        return next(iter(store.links_of(wp_id=wp_id)), None)


def _ready(settings: Settings, pending: Pending, wordpress: WordPressFactory) -> str | None:
    """The email of the WordPress user whose password may go to WHMCS (read fresh), or None after
    saying at INFO why it may not (the caller then drops it). A side down raises (the worker retries)."""
    who = pending.label()
    if not settings.passwords.carry:
        logger.info("password for {} not carried: [passwords] carry is off; dropped", who)
        return None
    if not settings.sync.direction.allows_write_to(Side.WHMCS):
        logger.info("password for {} not carried: the sync direction ({}) does not write to WHMCS; dropped",
                    who, settings.sync.direction.value)
        return None
    if pending.wp_id is None:
        logger.info("password for {} not carried: the event named no WordPress user; dropped", who)
        return None
    adapter = wordpress(settings)
    try:
        current = adapter.get(pending.wp_id)
        reason = adapter.protection(current)
    except NotFound:
        logger.info("password for {} not carried: WordPress user #{} is gone; dropped", who, pending.wp_id)
        return None
    finally:
        adapter.close()
    email = str(current.get("email") or "").strip()
    if reason:
        logger.info("password for WordPress user #{} ({}) not carried to WHMCS: {}; dropped", pending.wp_id, email,
                    reason)
        return None
    if not email:
        logger.info("password for {} not carried: WordPress user #{} has no email; dropped", who, pending.wp_id)
        return None
    return email


def event_run(settings: Settings, pending: Pending, run: UserRun, *,
              whmcs: WhmcsFactory = WhmcsAdapter.from_settings,
              wordpress: WordPressFactory = WordPressAdapter.from_settings) -> RunReport:
    """The one-user run of ``pending`` (whose password was set on WordPress), with the password
    offered to the WHMCS create of that user; then, if the client already existed, the INFO line
    and (with the option) WHMCS's reset email. A failure of the run itself is raised for the worker
    (which tries again with the password still held, or gives up and drops it)."""
    password = pending.password
    assert password is not None and pending.password_side is Side.WORDPRESS
    email = _ready(settings, pending, wordpress) if password.held else None
    if email is None:
        pending.drop_password()
        return run(lambda s: (whmcs(s), wordpress(s)))
    opened: list[WhmcsAdapter] = []

    def adapters(s: Settings) -> Adapters:
        adapter = whmcs(s)
        adapter.offer_password(email, password)
        opened.append(adapter)
        return adapter, wordpress(s)

    report = run(adapters)  # raises for the worker: the password stays held for its next try
    pending.drop_password()  # sent with the create, or of no use to an existing user: dropped now
    if any(a.sent_offered_password for a in opened):
        logger.info("the WHMCS client created for {} has the password just set on WordPress", pending.label())
    else:
        _existing(settings, pending, whmcs=whmcs)
    return report


def _existing(settings: Settings, pending: Pending, *, whmcs: WhmcsFactory = WhmcsAdapter.from_settings) -> None:
    """The run created no client: the password cannot reach a WHMCS user that already exists."""
    assert pending.wp_id is not None
    who = pending.label()
    link = _linked(settings, pending.wp_id)
    if link is None or Side.WHMCS in link.gone or Side.WHMCS in link.deactivated:
        logger.info("password for {} not carried: no active WHMCS client is linked to WordPress user #{} (the run "
                    "did not create or link one); dropped", who, pending.wp_id)
        return
    reset = settings.whmcs.password_reset_on_wp_change
    if _tell_once(pending.wp_id):
        logger.info("password for {} not carried: WHMCS client #{} already exists and WHMCS's API cannot set an "
                    "existing user's password (README \"Passwords\"); {}", who, link.whmcs_id,
                    "sending WHMCS's password-reset email instead" if reset else
                    "the person keeps the WHMCS password (set [whmcs] password_reset_on_wp_change = true to send "
                    "WHMCS's password-reset email instead); said once per user")
    if not reset:
        return
    adapter = whmcs(settings)
    try:
        target = link.owner_user_id
        if target is None:
            record = adapter.read(link.whmcs_id)
            target = record.owner_user_id if record is not None else None
        adapter.reset_password(pending.email, user_id=target)
    except SyncdError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        logger.warning("could not send WHMCS's password-reset email for {}: {}", who, first)
        return
    finally:
        adapter.close()
    logger.info("sent WHMCS's password-reset email to the owner of WHMCS client #{} ({}), whose password was just "
                "changed on WordPress", link.whmcs_id, who)
