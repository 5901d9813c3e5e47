"""Carrying a password after an event run (DESIGN §11): WHMCS → WordPress, in flight, never stored.

The event worker calls ``carry_password`` right after the one-user run of a user whose entry
holds a password (``Pending.password``), so that a WordPress account the run has just created
from the WHMCS client gets it too. It sets the password of the WordPress user linked to that
client, through ``WordPressAdapter.set_password`` (which refuses the account syncd uses, an
excluded role and an administrator in effect, read fresh). Whatever happens, the password is
forgotten before this returns, and every line it logs names the user, never the password.
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import Settings
from syncd.errors import RefusedWrite, SyncdError
from syncd.model import Link, Side
from syncd.service.events import Pending
from syncd.state.store import SqlStateStore

#: Opens the WordPress side (tests give their own); closed after use.
WordPressFactory = Callable[[Settings], WordPressAdapter]


def _linked(settings: Settings, whmcs_id: int) -> Link | None:
    """The link of WHMCS client ``whmcs_id``, as the run just left it (read-only)."""
    url = settings.sync.state_url
    if not SqlStateStore.exists(url):
        return None
    with SqlStateStore.open(url, create=False, read_only=True) as store:
        return next(iter(store.links_of(whmcs_ids=(whmcs_id,))), None)


def carry_password(settings: Settings, pending: Pending, *,
                   wordpress: WordPressFactory = WordPressAdapter.from_settings) -> bool:
    """Set the password ``pending`` holds on the linked WordPress user; True if it was set. Never
    raises a ``SyncdError``: a password not carried is said at INFO or WARNING and dropped (the
    person still has the password of the other side, and WordPress's reset)."""
    password, side = pending.password, pending.password_side
    if password is None or not password.held:
        return False
    who = pending.label()
    try:
        if not settings.passwords.carry:
            logger.info("password for {} not carried: [passwords] carry is off; dropped", who)
            return False
        if side is not Side.WHMCS or pending.whmcs_id is None:
            logger.info("password for {} not carried to WordPress: it was not set on WHMCS (syncd.carry_to_whmcs "
                        "carries a WordPress password to WHMCS); dropped", who)
            return False
        if not settings.sync.direction.allows_write_to(Side.WORDPRESS):
            logger.info("password for {} not carried: the sync direction ({}) does not write to WordPress; dropped",
                        who, settings.sync.direction.value)
            return False
        link = _linked(settings, pending.whmcs_id)
        if link is None or Side.WORDPRESS in link.gone or Side.WORDPRESS in link.deactivated:
            logger.info("password for {} not carried: no active WordPress user is linked to WHMCS client #{} "
                        "(the run did not create or link one); dropped", who, pending.whmcs_id)
            return False
        adapter = wordpress(settings)
        try:
            record = adapter.set_password(link.wp_id, password)
        finally:
            adapter.close()
    except RefusedWrite as exc:
        logger.info("password for {} not carried: {}; dropped", who, exc)
        return False
    except SyncdError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        logger.warning("password for {} not carried: {}; dropped (the person can use WordPress's "
                       "\"Lost your password?\")", who, first)
        return False
    finally:
        pending.drop_password()
    logger.info("set the password of WordPress user {} to the one just set for WHMCS client #{}",
                record.label(), pending.whmcs_id)
    return True
