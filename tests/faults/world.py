"""Both emulators, one configuration and one state store: a whole syncd installation for the
fault and crash suites, driven in process (``run``) or as ``python -m syncd`` (``process``).

In process, the adapters talk to the emulators through their in-process transports and
sleep through a recorder, so retries cost no time and a timeout comes at once; a test can
wrap an adapter (``hooks``) to change the world at a chosen moment of a run, e.g. take a
permission away once the listing is read. As a process, both emulators are served on
loopback and ``tests.e2e.harness.Sides`` runs syncd, with ``EmuSite`` standing in for the
real WordPress it usually points at.

``check`` states what every fault test asserts after the dust settles: no user lost, none
duplicated, none wrongly deactivated, and exactly one link per pair.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import httpx
from loguru import logger

from syncd import app, exits, render
from syncd.adapters.whmcs import WhmcsAdapter
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import Settings, parse
from syncd.emulators.whmcs import WhmcsEmulator
from syncd.emulators.wordpress import WordPressEmulator
from syncd.errors import SyncdError
from syncd.model import Link, Side, normalise_email
from syncd.ports import SideAdapter, StateStore
from syncd.state.store import SqlStateStore
from tests.e2e.harness import WHMCS_SECRET, Sides
from tests.fixtures_wordpress import WordPressSite

WP_ADMIN = "admin"
WP_PASSWORD = "Fault0Suite1Pass2Word3Xy"  # 24 letters and digits, as WordPress makes them
#: Writes a WHMCS emulator counts (reads excluded), to prove "nothing written".
WHMCS_WRITES = ("AddClient", "UpdateClient", "AddUser", "UpdateUser", "ResetPassword", "CloseClient", "DeleteClient")
WP_WRITES = ("create", "update", "delete")


@dataclass
class Outcome:
    """One run as the CLI would end it: its exit code, the report (if it got that far), the
    error message (if one stopped it) and every log line of the run."""

    code: int
    result: app.SyncResult | None
    error: str
    logs: list[str]

    @property
    def counts(self) -> dict[str, int]:
        if self.result is None or self.result.report is None:
            return {}
        return dict(self.result.report.counts)

    @property
    def writes(self) -> int:
        if self.result is None or self.result.report is None:
            return 0
        return self.result.report.writes()

    def failures(self) -> dict[str, str]:
        """key → message of each user that failed in this run."""
        if self.result is None or self.result.report is None:
            return {}
        return {e.key: e.message for e in self.result.report.errors}

    def text(self) -> str:
        """Everything an operator would read: the error, the report, the logs."""
        report = render.sync_text(self.result) if self.result is not None else ""
        return "\n".join([self.error, report, *self.logs])


class EmuSite:
    """The few attributes of ``WordPressSite`` that ``Sides`` uses, for a served WordPress emulator."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.api = url.rstrip("/") + "/wp-json/wp/v2"
        self.admin_user = WP_ADMIN
        self.app_password = WP_PASSWORD

    @property
    def auth(self) -> tuple[str, str]:
        return (self.admin_user, self.app_password)

    def rest_url(self, route: str, params: Mapping[str, str | int] | None = None) -> str:
        query = urlencode(dict(params or {}))
        return f"{self.api}{route}" + (f"?{query}" if query else "")


# An adapter wrapper: every call goes to the real adapter; ``after`` runs a hook when a method returned.
Hook = Callable[[str, Any], None]


class Hooked:
    """``adapter`` with ``hook(method, result)`` called after each of its methods returns."""

    def __init__(self, adapter: SideAdapter, hook: Hook) -> None:
        self._adapter = adapter
        self._hook = hook
        self.side = adapter.side

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._adapter, name)
        if not callable(attr) or name == "close":
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            self._hook(name, result)
            return result

        return call


@dataclass
class World:
    """A WHMCS emulator, a WordPress emulator and a state store in ``tmp``."""

    tmp: Path
    whmcs: WhmcsEmulator = field(default_factory=lambda: WhmcsEmulator(identifier="syncd", secret=WHMCS_SECRET))
    wp: WordPressEmulator = field(default_factory=lambda: WordPressEmulator(admin_login=WP_ADMIN))
    sync: dict[str, Any] = field(default_factory=dict)
    whmcs_conf: dict[str, Any] = field(default_factory=dict)
    wp_conf: dict[str, Any] = field(default_factory=dict)
    sleeps: list[float] = field(default_factory=list)
    whmcs_hook: Hook | None = None
    wp_hook: Hook | None = None
    #: Called with each request to WordPress before the emulator sees it; may raise an httpx error
    #: (a timeout that WordPress never saw), like a proxy in between.
    wp_gate: Callable[[httpx.Request], None] | None = None
    #: A real WordPress to use instead of the emulator: (url, username, application password).
    real_wp: tuple[str, str, str] | None = None

    def __post_init__(self) -> None:
        self.wp.add_app_password(WP_ADMIN, WP_PASSWORD)

    # -- configuration ----------------------------------------------------------------------

    @property
    def state_url(self) -> str:
        return f"sqlite:///{self.tmp / 'state.db'}"

    def settings(self, whmcs_url: str = "http://127.0.0.1:1/", wp_url: str = "http://127.0.0.1:2/") -> Settings:
        """The settings of this world (the URLs only matter when the emulators are served)."""
        wp_user, wp_password = WP_ADMIN, WP_PASSWORD
        if self.real_wp is not None:
            wp_url, wp_user, wp_password = self.real_wp
        return parse({
            "whmcs": {"url": whmcs_url, "identifier": "syncd", "secret": WHMCS_SECRET, "retries": 1,
                      **self.whmcs_conf},
            "wordpress": {"url": wp_url, "username": wp_user, "application_password": wp_password, "retries": 1,
                          **self.wp_conf},
            "sync": {"state_url": self.state_url, "lock_wait_seconds": 1, **self.sync},
        }, env={})

    def adapters(self, settings: Settings) -> app.Adapters:
        """Adapters on the emulators' in-process transports; retries sleep into ``sleeps``."""
        whmcs: SideAdapter = WhmcsAdapter.from_settings(settings, transport=self.whmcs.transport(),
                                                        sleep=self.sleeps.append)
        wp: SideAdapter = WordPressAdapter.from_settings(
            settings, transport=None if self.real_wp else self._wp_transport(), sleep=self.sleeps.append)
        if self.whmcs_hook is not None:
            whmcs = cast(SideAdapter, Hooked(whmcs, self.whmcs_hook))
        if self.wp_hook is not None:
            wp = cast(SideAdapter, Hooked(wp, self.wp_hook))
        return whmcs, wp

    def _wp_transport(self) -> httpx.BaseTransport:
        inner = self.wp.transport()
        gate = self.wp_gate
        if gate is None:
            return inner

        def handler(request: httpx.Request) -> httpx.Response:
            gate(request)
            return inner.handle_request(request)

        return httpx.MockTransport(handler)

    # -- one run ----------------------------------------------------------------------------

    def run(self, *, store: Callable[[str], StateStore] | None = None, **options: Any) -> Outcome:
        """``syncd sync`` in this process: the exit code as the CLI would give it, and the logs."""
        lines: list[str] = []
        sink = logger.add(lambda m: lines.append(str(m).rstrip("\n")), level="DEBUG", format="{level}: {message}")
        try:
            result = app.sync_once(self.settings(), adapters=self.adapters, store=store, **options)
        except SyncdError as exc:  # what cli.handles_errors does
            return Outcome(exits.of_error(exc), None, str(exc), lines)
        finally:
            logger.remove(sink)
        return Outcome(exits.of_sync(result), result, "", lines)

    def settle(self, runs: int = 3) -> Outcome:
        """Run until a run writes nothing and fails for no one; that last run."""
        for _ in range(runs):
            outcome = self.run()
            assert outcome.code == 0, outcome.text()
            if outcome.writes == 0 and not outcome.counts:
                return outcome
        raise AssertionError(f"no quiet run after {runs} runs: {outcome.text()}")

    # -- as a process -----------------------------------------------------------------------

    @contextmanager
    def served(self) -> Iterator[Sides]:
        """Both emulators on loopback and ``Sides`` pointing at them (config in ``tmp``)."""
        with self.whmcs.serve() as whmcs_url, self.wp.serve() as wp_url:
            site = cast(WordPressSite, EmuSite(wp_url))  # Sides only uses url, admin_user, app_password
            sides = Sides(whmcs=self.whmcs, whmcs_url=whmcs_url, site=site, tmp=self.tmp, sync=dict(self.sync))
            sides.write_config()
            yield sides

    # -- what is on each side ---------------------------------------------------------------

    def whmcs_writes(self) -> int:
        return sum(self.whmcs.calls[a] for a in WHMCS_WRITES)

    def wp_writes(self) -> int:
        return sum(self.wp.calls[k] for k in WP_WRITES)

    def client(self, email: str) -> Any:
        [client] = [c for c in self.whmcs.clients.values() if normalise_email(c.email) == normalise_email(email)]
        return client

    def wp_user(self, email: str) -> Any:
        [user] = [u for u in self.wp.users.values() if normalise_email(u.email) == normalise_email(email)]
        return user

    def has_client(self, email: str) -> bool:
        return any(normalise_email(c.email) == normalise_email(email) for c in self.whmcs.clients.values())

    def has_wp_user(self, email: str) -> bool:
        return any(normalise_email(u.email) == normalise_email(email) for u in self.wp.users.values())

    def links(self) -> list[Link]:
        if not SqlStateStore.exists(self.state_url):
            return []
        with SqlStateStore.open(self.state_url, create=False, read_only=True) as store:
            return store.links()

    def pending(self) -> set[tuple[str, str]]:
        if not SqlStateStore.exists(self.state_url):
            return set()
        with SqlStateStore.open(self.state_url, create=False, read_only=True) as store:
            return {(side.value, key) for side, key in store.pending_creates()}

    def check(
        self,
        users: Mapping[str, Mapping[str, str]],
        *,
        inactive: Sequence[str] = (),
        duplicates: Sequence[str] = (),
        unlinked: Sequence[str] = (),
        edited_in_whmcs: Sequence[str] = (),
    ) -> None:
        """After a settled run: each of ``users`` (email → expected common fields) is on both sides
        with those values, active unless named in ``inactive``, linked exactly once to the very
        accounts that hold it; no email is held by two accounts on a side (but ``duplicates``);
        and no link points at an account that does not exist. The WHMCS owner user holds the
        client's values too, except the names of ``edited_in_whmcs`` (a client edited in WHMCS
        itself: WHMCS does not copy that to its owner user, and neither does syncd)."""
        check_world(self.whmcs, self.wp, self.links(), users, inactive=inactive, duplicates=duplicates,
                    unlinked=unlinked, edited_in_whmcs=edited_in_whmcs)


def _count(emails: Iterator[str]) -> Counter[str]:
    return Counter(normalise_email(e) for e in emails)


def check_world(
    whmcs: WhmcsEmulator,
    wp: WordPressEmulator,
    links: Sequence[Link],
    users: Mapping[str, Mapping[str, str]],
    *,
    inactive: Sequence[str] = (),
    duplicates: Sequence[str] = (),
    unlinked: Sequence[str] = (),
    edited_in_whmcs: Sequence[str] = (),
) -> None:
    """See ``World.check``."""
    edited = {normalise_email(e) for e in edited_in_whmcs}
    allowed = {normalise_email(e) for e in duplicates}
    for name, counts in (
        ("WHMCS clients", _count(c.email for c in whmcs.clients.values())),
        ("WHMCS users", _count(u.email for u in whmcs.users.values())),
        ("WordPress users", _count(u.email for u in wp.users.values())),
    ):
        twice = {k: n for k, n in counts.items() if n > 1 and k not in allowed}
        assert not twice, f"{name} share an email: {twice}"
    by_pair = Counter((link.whmcs_id, link.wp_id) for link in links)
    assert all(n == 1 for n in by_pair.values()), f"a pair is linked twice: {by_pair}"
    for link in links:
        # A side the user left (deleted, Closed) keeps its id in the link, marked gone.
        if Side.WHMCS not in link.gone:
            assert link.whmcs_id in whmcs.clients, f"link to a WHMCS client that does not exist: {link}"
        if Side.WORDPRESS not in link.gone:
            assert link.wp_id in wp.users, f"link to a WordPress user that does not exist: {link}"
    keys = Counter(link.key for link in links)
    assert all(n == 1 for n in keys.values()), f"one email, several links: {keys}"
    off = {normalise_email(e) for e in inactive}
    for email, fields in users.items():
        key = normalise_email(email)
        [client] = [c for c in whmcs.clients.values() if normalise_email(c.email) == key]
        [user] = [u for u in wp.users.values() if normalise_email(u.email) == key]
        assert client.owner_user_id is not None
        owner = whmcs.users[client.owner_user_id]
        seen = {
            "whmcs": {"email": client.email, "first_name": client.firstname, "last_name": client.lastname,
                      "company": client.companyname},
            "whmcs owner user": {"email": owner.email} if key in edited else
                                {"email": owner.email, "first_name": owner.firstname, "last_name": owner.lastname},
            "wordpress": {"email": user.email, "first_name": user.first_name, "last_name": user.last_name,
                          "company": user.meta.get("billing_company", "")},
        }
        for where, values in seen.items():
            for name, want in fields.items():
                if name in values:
                    assert normalise_email(values[name]) == normalise_email(want) if name == "email" else \
                        values[name] == want, f"{email}: {where} {name} is {values[name]!r}, expected {want!r}"
        if key in off:
            assert client.status == "Inactive" or not user.roles, f"{email} should have been deactivated"
        else:
            assert client.status == "Active", f"{email}: WHMCS client wrongly {client.status}"
            assert user.roles, f"{email}: WordPress user wrongly left with no role"
        mine = [link for link in links if (link.whmcs_id, link.wp_id) == (client.id, user.id)]
        if key in {normalise_email(e) for e in unlinked}:
            assert not mine
        else:
            assert len(mine) == 1, f"{email}: {len(mine)} links to its accounts (WHMCS #{client.id}, WP #{user.id})"


# -- the state database's size -------------------------------------------------------------------


def page_count(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        value = connection.execute("PRAGMA page_count").fetchone()[0]
    finally:
        connection.close()
    return int(value)


# -- the population most fault tests start from --------------------------------------------------

#: After ``populated()`` and a run that went through: every user and its values on both sides.
POPULATION: dict[str, dict[str, str]] = {
    **{f"a{i}@example.com": {"first_name": f"A{i}", "last_name": "Linked"} for i in (1, 3, 4, 5)},
    "a2@example.com": {"first_name": "Annie", "last_name": "Linked"},
    "newc@example.com": {"first_name": "New", "last_name": "Client", "company": "NC Ltd"},
    "neww@example.com": {"first_name": "New", "last_name": "Wp"},
}


def populated(tmp: Path) -> World:
    """Five users linked by a first run (WHMCS and WordPress both list them over several pages,
    and deletions deactivate), then three changes for the next run: a new WHMCS client, a new
    WordPress user, and a first name edited in WHMCS."""
    world = World(tmp, sync={"on_delete": "deactivate"}, whmcs_conf={"page_size": 2}, wp_conf={"page_size": 2})
    for i in range(1, 6):
        world.whmcs.add_client(f"a{i}@example.com", f"A{i}", "Linked")
    first = world.run()
    assert first.code == 0 and first.counts == {"create": 5}, first.text()
    world.whmcs.add_client("newc@example.com", "New", "Client", company="NC Ltd")
    world.wp.add_user("neww", "neww@example.com", "New", "Wp")
    world.client("a2@example.com").firstname = "Annie"
    return world


def everything(world: World) -> Any:
    """Every value on both sides, to compare before and after a run that must write nothing."""
    return (
        {cid: vars(c).copy() for cid, c in world.whmcs.clients.items()},
        {uid: (u.email, u.firstname, u.lastname) for uid, u in world.whmcs.users.items()},
        {uid: (u.login, u.email, u.first_name, u.last_name, tuple(u.roles), dict(u.meta))
         for uid, u in world.wp.users.items()},
    )


def heal(world: World) -> None:
    """Take every planted fault away."""
    world.whmcs.faults.clear()
    world.whmcs.maintenance = False
    world.whmcs.php_warning = False
    world.whmcs.allowed_ips = None
    world.whmcs.role = None
    world.wp.clear_faults()
    world.wp_gate = None
    world.whmcs_hook = None
    world.wp_hook = None
