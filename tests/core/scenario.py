"""A small world for core tests: two in-memory sides, an in-memory store, and a compact,
order-preserving summary of a plan that table rows can state exactly."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syncd.model import DEFAULT_FIELDS, Direction, Link, Side, normalise
from syncd.sync.actions import (
    Create,
    Deactivate,
    ForgetPending,
    LinkPair,
    MarkGone,
    Park,
    Reactivate,
    Rebase,
    Relink,
    Update,
)
from syncd.sync.engine import RunReport, execute
from syncd.sync.plan import Plan, plan
from syncd.sync.policy import Policy
from tests.core.memory import DUMMY, Account, MemorySide, MemoryStore
from tests.crash.inject import Crashed, DyingSide, DyingStore, Tripwire, point_for, raise_crashed

W = Side.WHMCS
P = Side.WORDPRESS


def _sides(sides: frozenset[Side]) -> str:
    return "+".join(sorted(s.value for s in sides))


def summary(result: Plan) -> list[str]:
    """Each action and report item as one short line, in plan order."""
    out: list[str] = []
    for a in result.actions:
        if isinstance(a, Create):
            line = f"create {a.target.value} from #{a.source.remote_id}"
            if a.dummy_fields:
                line += f" dummy={','.join(sorted(a.dummy_fields))}"
            if a.pending:
                line += " pending"
        elif isinstance(a, Park):
            line = f"park {a.side.value} #{a.record.remote_id}"
        elif isinstance(a, Update):
            line = f"update {a.side.value} #{a.record.remote_id} " + ", ".join(
                f"{k}={after!r}" for k, (_b, after) in a.changes.items())
        elif isinstance(a, LinkPair):
            line = f"link #{a.whmcs.remote_id}-#{a.wp.remote_id}"
            if a.gone:
                line += f" gone={_sides(a.gone)}"
            if a.settles:
                line += f" settles={a.settles.value}"
        elif isinstance(a, Relink):
            line = f"relink #{a.whmcs.remote_id}-#{a.wp.remote_id} back={_sides(a.back)}"
        elif isinstance(a, Rebase):
            parts = [f"base:{k}" for k in a.base] + [f"-dummy:{k}" for k in sorted(a.dummy_drop)]
            parts += [f"-deactivated:{s.value}" for s in sorted(a.deactivated_drop)]
            parts += [f"-gone:{s.value}" for s in sorted(a.gone_drop)]
            line = "rebase " + " ".join(parts)
        elif isinstance(a, Deactivate):
            line = f"deactivate {a.side.value} #{a.record.remote_id} gone={_sides(a.gone)}"
        elif isinstance(a, Reactivate):
            line = f"reactivate {a.side.value} #{a.record.remote_id}"
            if a.roles:
                line += f" roles={','.join(a.roles)}"
        elif isinstance(a, MarkGone):
            line = f"gone {_sides(a.sides)}"
        elif isinstance(a, ForgetPending):
            line = f"forget {a.target.value} {a.key}"
        else:  # pragma: no cover - a new action kind must get a line here
            raise AssertionError(f"no summary for {a!r}")
        out.append(line)
    out += [f"conflict {c.field} {c.winner.value}" + (" first" if c.first_contact else "") for c in result.conflicts]
    out += [f"problem {p.side.value} {p.field}" for p in result.problems]
    out += [f"duplicate {d.side.value} {d.key}" for d in result.duplicates]
    return out


def now() -> datetime:
    return datetime(2024, 1, 1, tzinfo=UTC)


class World:
    """Two sides, a store and a log; accounts are put with explicit ids so rows read plainly."""

    def __init__(self, *, wp_fields: Sequence[str] = DEFAULT_FIELDS, missing_fields: str = "dummy",
                 whmcs_fields: Sequence[str] = DEFAULT_FIELDS) -> None:
        self.whmcs = MemorySide(W, fields=whmcs_fields,
                                missing_fields="dummy" if missing_fields == "dummy" else "skip_validation")
        self.wp = MemorySide(P, fields=wp_fields)
        self.store = MemoryStore()
        self.logs: list[tuple[str, str]] = []

    def client(self, remote_id: int, email: str, first: str = "Ann", last: str = "Lee", company: str = "",
               status: str = "Active", **mapped: str) -> int:
        fields = {"email": email, "first_name": first, "last_name": last, "company": company, **mapped}
        self.whmcs.accounts[remote_id] = Account(remote_id, {k: fields.get(k, "") for k in self.whmcs.fields},
                                                 status=status, owner_user_id=5000 + remote_id)
        self.whmcs.owner_users[5000 + remote_id] = {"email": email, "first_name": first, "last_name": last}
        self.whmcs.next_id = max(self.whmcs.next_id, remote_id + 1)
        return remote_id

    def user(self, remote_id: int, email: str, first: str = "Ann", last: str = "Lee", company: str = "",
             roles: Sequence[str] = ("subscriber",), **mapped: str) -> int:
        fields = {"email": email, "first_name": first, "last_name": last, "company": company, **mapped}
        self.wp.accounts[remote_id] = Account(remote_id, {k: fields.get(k, "") for k in self.wp.fields},
                                              roles=list(roles), username=email.split("@")[0])
        self.wp.next_id = max(self.wp.next_id, remote_id + 1)
        return remote_id

    def link(self, whmcs_id: int, wp_id: int, base: Mapping[str, str] | None = None, **extra: Any) -> Link:
        """A link whose base is ``base``, or the WHMCS account's values (the last agreed state)."""
        if base is None:
            source = self.whmcs.accounts.get(whmcs_id) or self.wp.accounts[wp_id]
            base = {k: v for k, v in source.fields.items()}
        link = Link(whmcs_id=whmcs_id, wp_id=wp_id, base=base, owner_user_id=5000 + whmcs_id, **extra)
        self.store.save_link(link)
        self.store.saves = 0
        return link

    def policy(self, **kw: Any) -> Policy:
        kw.setdefault("dummy_values", DUMMY)
        if isinstance(kw.get("direction"), str):
            kw["direction"] = Direction(kw["direction"])
        if isinstance(kw.get("priority"), str):
            kw["priority"] = Side(kw["priority"])
        return Policy(**kw)

    def plan(self, **kw: Any) -> Plan:
        return plan(self.whmcs.snapshot(), self.wp.snapshot(), self.store.links(), self.policy(**kw),
                    self.store.pending_creates())

    def execute(self, result: Plan, **kw: Any) -> RunReport:
        run_id = self.store.begin_run(direction=result.policy.direction.value, full=False)
        return execute(result, whmcs=self.whmcs, wp=self.wp, store=self.store, run_id=run_id,
                       log=lambda level, msg: self.logs.append((level, msg)), now=now, **kw)

    def crash(self, result: Plan, k: int, *, before_commit: bool = False) -> None:
        """Execute ``result`` through ports that die after its ``k``-th action (with
        ``before_commit``, between that action's remote write and its commit), as a killed
        process would (tests/crash/inject.py); nothing of the run is recorded after that point."""
        tripwire = Tripwire(point_for([a.kind for a in result.actions], k, before_commit), raise_crashed)
        run_id = self.store.begin_run(direction=result.policy.direction.value, full=False)
        try:
            execute(result, whmcs=DyingSide(self.whmcs, tripwire), wp=DyingSide(self.wp, tripwire),  # type: ignore[arg-type]
                    store=DyingStore(self.store, tripwire), run_id=run_id,  # type: ignore[arg-type]
                    log=lambda level, msg: self.logs.append((level, msg)), now=now)
        except Crashed:
            return
        raise AssertionError(f"the run did not stop after action {k}")

    def sync(self, **kw: Any) -> tuple[Plan, RunReport]:
        result = self.plan(**kw)
        return result, self.execute(result)

    def agree(self) -> list[str]:
        """Differences between linked, live accounts (a dummy in WHMCS agrees with anything it stands for)."""
        diffs = []
        for link in self.store.links():
            w = self.whmcs.accounts.get(link.whmcs_id)
            p = self.wp.accounts.get(link.wp_id)
            if w is None or p is None or link.gone or w.status == "Closed":
                continue
            admins = {a.key for a in self.wp.accounts.values() if "administrator" in a.roles}
            protected = self.whmcs.admins | admins
            if {w.key, p.key} & protected or "administrator" in p.roles:
                continue  # left as it is on purpose (DESIGN §5.6)
            if len(self.whmcs.by_email(w.key)) > 1 or len(self.wp.by_email(p.key)) > 1:
                continue  # a duplicated key is left alone until fixed (DESIGN §5.1)
            for name in set(w.fields) & set(p.fields):
                wv, pv = normalise(name, w.fields[name]), normalise(name, p.fields[name])
                if wv != pv and not (name in link.dummy_fields and wv == normalise(name, DUMMY.get(name, ""))):
                    diffs.append(f"#{w.remote_id}-#{p.remote_id} {name}: {wv!r} != {pv!r}")
        return diffs


@dataclass
class Row:
    """One row of a decision table: a world set up, the plan expected (``summary()`` lines), and
    the policy (``World.plan`` keywords) and world knobs (``World`` attributes) it runs with."""

    id: str
    setup: Callable[[World], object]
    expect: list[str]
    policy: dict[str, Any] = field(default_factory=dict)
    world: dict[str, Any] = field(default_factory=dict)
