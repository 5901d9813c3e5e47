"""The login fallback's decision (DESIGN §11): may the person who typed ``login`` and ``password``
into WordPress's login form log in as a WordPress user, because WHMCS accepts that password?

``check_login`` resolves what was typed to an email (a WordPress username through the REST API,
exact match), asks WHMCS's ValidateLogin, finds the active WHMCS client with that email and the
WordPress user linked to it — running the one-user run first when none is linked and the direction
writes to WordPress — and refuses, read fresh, the account syncd uses, an excluded role, an
administrator in effect and a deactivated user (``WordPressAdapter.login_refusal``). It never sets a
password: the companion does, on WordPress, once syncd said yes.

An unknown username still costs one ValidateLogin call (with what was typed, which WHMCS refuses
like a wrong password), so that "no such user" is not measurably faster than "wrong password".
"""

from __future__ import annotations

from collections.abc import Callable

from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import Settings
from syncd.errors import NotFound, SyncdError
from syncd.model import Link, Side, normalise_email
from syncd.passwords import Password
from syncd.service.verify import Verdict
from syncd.state.store import SqlStateStore

WhmcsFactory = Callable[[Settings], WhmcsAdapter]
WordPressFactory = Callable[[Settings], WordPressAdapter]
#: ``run_user(email)``: the one-user run for ``email`` under the run mutex; False if it could not start.
RunUser = Callable[[str], bool]


def _link_of(settings: Settings, client_ids: set[int]) -> Link | None:
    """The active link of one of ``client_ids``, as the state store holds it now (read-only)."""
    url = settings.sync.state_url
    if not client_ids or not SqlStateStore.exists(url):
        return None
    with SqlStateStore.open(url, create=False, read_only=True) as store:
        for link in store.links_of(whmcs_ids=client_ids):
            if not link.gone and not link.deactivated:
                return link
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_login(settings: Settings, login: str, password: Password, *, run_user: RunUser,
                whmcs: WhmcsFactory = WhmcsAdapter.from_settings,
                wordpress: WordPressFactory = WordPressAdapter.from_settings) -> Verdict:
    """The verdict for ``login`` and ``password``; never raises a ``SyncdError`` (a side that fails
    is a refusal that does not count as a failed try, logged at WARNING by the caller)."""
    typed = login.strip()
    wh = whmcs(settings)
    wp = wordpress(settings)
    try:
        return _check(settings, typed, password, run_user, wh, wp)
    except SyncdError as exc:
        return Verdict(None, f"{_first_line(exc)} (the person may try again)", counts=False, level="WARNING")
    finally:
        wh.close()
        wp.close()


def _check(settings: Settings, typed: str, password: Password, run_user: RunUser, wh: WhmcsAdapter,
           wp: WordPressAdapter) -> Verdict:
    named: int | None = None  # the WordPress user whose username was typed
    if "@" in typed:
        email = normalise_email(typed)
    else:
        found = wp.user_by_username(typed)
        if found is None:
            wh.validate_login(typed, password)  # the same work as a wrong password; its answer is not used
            return Verdict(None, "no WordPress user has this username (and it is not an email)")
        named, email = found[0], normalise_email(found[1])
    if not email or not wh.validate_login(email, password):
        return Verdict(None, "WHMCS does not accept this email and password (ValidateLogin)")
    clients = [c for c in wh.find_by_email(email) if c.active]
    if not clients:
        return Verdict(None, f"WHMCS accepted the password of {email}, but no active WHMCS client has that email "
                             "(syncd links clients, not the other users of a client's account)")
    ids = {c.remote_id for c in clients}
    link = _link_of(settings, ids)
    if link is None:
        direction = settings.sync.direction
        if not direction.allows_write_to(Side.WORDPRESS):
            return Verdict(None, f"no WordPress user is linked to WHMCS client {_ids(ids)}, and the sync direction "
                                 f"({direction.value}) does not create WordPress accounts")
        if not settings.sync.enabled:
            return Verdict(None, f"no WordPress user is linked to WHMCS client {_ids(ids)}, and sync is disabled in "
                                 "the configuration, so none is created")
        if not run_user(email):
            return Verdict(None, f"no WordPress user is linked to WHMCS client {_ids(ids)} yet, and its one-user "
                                 "run could not start now (another run holds the lock)", counts=False,
                           level="WARNING")
        link = _link_of(settings, ids)
        if link is None:
            return Verdict(None, f"the one-user run for {email} did not create or link a WordPress user (see "
                                 "`syncd status` and `syncd explain`)")
    if named is not None and named != link.wp_id:
        return Verdict(None, f"the username typed is WordPress user #{named}, but WHMCS client #{link.whmcs_id} "
                             f"({email}) is linked to WordPress user #{link.wp_id}")
    try:
        reason = wp.login_refusal(link.wp_id)
    except NotFound:
        reason = "it no longer exists (the next run sees it)"
    if reason:
        return Verdict(None, f"WHMCS accepted the password, but WordPress user #{link.wp_id} (linked to WHMCS "
                             f"client #{link.whmcs_id}) is never logged in this way: {reason}")
    return Verdict(link.wp_id, f"linked to WHMCS client #{link.whmcs_id}")


def _ids(ids: set[int]) -> str:
    return " or ".join(f"#{i}" for i in sorted(ids))
