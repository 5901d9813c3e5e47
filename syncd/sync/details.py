"""Which WHMCS clients' details a run reads, and how they join the listing (DESIGN §9 "Cost").

WHMCS's GetClients lists none of the mapped fields; GetClientsDetails has them, one call per
client. So a run reads them only where they can matter:

- a full pass (``full_resync_cron``, ``sync --full``) and a one-user run: every client listed;
- a normal poll: only the clients not linked yet, which this run may link at first contact or
  create on WordPress from. A poll where everyone is linked reads none: its calls stay at the
  listings' lower bound (DESIGN §8), and a WHMCS-side edit of a mapped field waits for the next
  full pass (a WordPress-side edit is seen at every poll: WordPress lists meta with its users).

Never the details of an admin's client (never synchronised) or of a Closed one (a deletion),
and none at all when no mapped field can travel. A client read is given the mapped fields read
for it; one not read (or gone since the listing) keeps none, which the planner takes as "not
read", never as empty. No IO of its own: the side is the ``SideAdapter`` port.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace

from syncd.fieldmap import narrow
from syncd.model import Link, Side, Snapshot
from syncd.ports import Details, SideAdapter
from syncd.sync.policy import Policy


def travelling(whmcs: Snapshot, wp: Snapshot, policy: Policy) -> tuple[str, ...]:
    """The mapped fields both sides can store and this run's direction lets through."""
    return tuple(rule.name for rule in policy.mapped
                 if rule.name in whmcs.fields and rule.name in wp.fields
                 and narrow(policy.direction, rule.direction) is not None)


def needed(whmcs: Snapshot, wp: Snapshot, links: Iterable[Link], policy: Policy, *,
           every: bool = False, among: Collection[int] | None = None) -> tuple[int, ...]:
    """The ids of the WHMCS clients whose details this run reads, in id order: every client of
    the listing with ``every`` or in a full pass, otherwise the unlinked ones a run may link or
    create from (with a WordPress account of the same email, or where the run may create
    WordPress users). ``among`` limits them to these ids (``explain``: one user's). A record that
    carries every mapped field already is not read again."""
    names = travelling(whmcs, wp, policy)
    if not names:
        return ()
    every = every or policy.full
    linked = set() if every else {link.whmcs_id for link in links}
    wp_keys = set() if every or policy.may_write(Side.WORDPRESS) else {r.key for r in wp.records}
    ids = []
    for record in whmcs.records:
        if among is not None and record.remote_id not in among:
            continue
        if all(name in record.fields for name in names):
            continue  # read already (a one-user run's lookup reads each client's details)
        if record.closed or record.key in whmcs.admin_emails or record.remote_id in linked:
            continue
        if not every and not record.key:
            continue  # no email: never linked nor created
        if wp_keys and record.key not in wp_keys:
            continue  # a run that creates no WordPress user can only link it to an account of its email
        ids.append(record.remote_id)
    return tuple(sorted(ids))


def joined(snapshot: Snapshot, details: Details) -> Snapshot:
    """``snapshot`` with each client's mapped fields as read, and without the mapped fields the
    side turned out not to have (never written, never compared)."""
    if not details.values and not details.unreadable:
        return snapshot
    records = tuple(
        replace(r, fields={**r.fields, **{k: v for k, v in details.values[r.remote_id].items()
                                           if k not in details.unreadable}})
        if r.remote_id in details.values else r
        for r in snapshot.records)
    fields = tuple(f for f in snapshot.fields if f not in details.unreadable)
    return replace(snapshot, records=records, fields=fields)


def with_details(adapter: SideAdapter, whmcs: Snapshot, wp: Snapshot, links: Iterable[Link], policy: Policy, *,
                 every: bool = False, among: Collection[int] | None = None) -> Snapshot:
    """The WHMCS snapshot with the details this run needs (``needed``) read through ``adapter``
    and joined. A failed read raises the side's error, as a failed listing does."""
    ids = needed(whmcs, wp, links, policy, every=every, among=among)
    if not ids:
        return whmcs
    return joined(whmcs, adapter.details(ids))
