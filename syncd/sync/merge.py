"""The per-field decision of DESIGN §5.3 (linked users) and §5.4 (first contact). Pure.

``merge_field`` is the three-way merge of one field against the base: a side "changed" a
field when its normalised value differs from the normalised base. ``first_contact_field``
settles a field with no base (two accounts met for the first time, a user who came back,
or a common field added since the link was made). Both return a ``FieldOutcome``: the value
both sides should hold, and which side, if any, must be written to get there.

A WHMCS value that is the configured dummy (``whmcs_dummy``) carries no information: it
never counts as a change and never wins.

``merge_mapped`` is the same decision for a field of the field map (DESIGN §9), which differs
in three ways: a value may be missing (not read in this run), an empty value never blanks a
filled one at first contact whatever the direction, and a one-way source that never held a
value blanks nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from syncd.model import Direction, Side, normalise


@dataclass(frozen=True, slots=True)
class FieldOutcome:
    """What to do with one field.

    ``value`` is the raw value both sides should agree on (the new base). ``write`` is the
    side that must receive ``value``, or None when no side needs a write (then only the base
    changes). ``winner``/``losing`` are set when both sides held different values and one
    was overwritten: the side that won and the value that was lost (reported as a conflict).
    """

    name: str
    value: str
    write: Side | None = None
    winner: Side | None = None
    losing: str = ""


def merge_field(
    name: str, base: str, whmcs: str, wp: str, *, direction: Direction, priority: Side, whmcs_dummy: bool = False
) -> FieldOutcome | None:
    """Three-way merge of one linked field; None when nothing changes, not even the base.

    Direction ``both``: one side changed → copy it to the other; both changed to the same
    value → only the base moves; both changed differently → ``priority`` wins, the loser's
    value is reported. One-way: the source is authoritative; any difference overwrites the
    destination with the source's value, and the source is never written.
    """
    nb = normalise(name, base)
    if whmcs_dummy:
        # A dummy we put there stands for "WordPress's value": it is not a change. And once that
        # value is a real one, it replaces the dummy as soon as a run may write to WHMCS.
        outcome = _merge(name, nb, base, base, wp, direction=direction, priority=priority)
        if outcome is None and nb and direction.allows_write_to(Side.WHMCS):
            return FieldOutcome(name, base, write=Side.WHMCS)
        return outcome
    return _merge(name, nb, base, whmcs, wp, direction=direction, priority=priority)


def _merge(name: str, nb: str, base: str, whmcs: str, wp: str, *, direction: Direction,
           priority: Side) -> FieldOutcome | None:
    nw = normalise(name, whmcs)
    np = normalise(name, wp)
    source = direction.source
    if source is not None:
        src, nsrc, ndst = (whmcs, nw, np) if source is Side.WHMCS else (wp, np, nw)
        if ndst == nsrc:
            return None if nsrc == nb else FieldOutcome(name, src)
        return FieldOutcome(name, src, write=source.other)
    changed_w = nw != nb
    changed_p = np != nb
    if not changed_w and not changed_p:
        return None
    if changed_w and not changed_p:
        return FieldOutcome(name, whmcs, write=Side.WORDPRESS)
    if changed_p and not changed_w:
        return FieldOutcome(name, wp, write=Side.WHMCS)
    win, lose = (whmcs, wp) if priority is Side.WHMCS else (wp, whmcs)
    if nw == np:
        return FieldOutcome(name, win)
    return FieldOutcome(name, win, write=priority.other, winner=priority, losing=lose)


def first_contact_field(
    name: str, whmcs: str, wp: str, *, direction: Direction, priority: Side, whmcs_dummy: bool = False
) -> FieldOutcome:
    """Settle one field of two accounts that have no agreed base yet (DESIGN §5.4).

    Equal values (normalised) need nothing. One-way: the source's value, at first contact
    too. Direction ``both``: ``priority`` decides, except that an empty value never blanks a
    filled one (a missing company is not a decision to delete it); a WHMCS dummy is
    treated as empty and is never copied to WordPress.
    """
    if whmcs_dummy:
        if normalise(name, wp) and direction.allows_write_to(Side.WHMCS):
            return FieldOutcome(name, wp, write=Side.WHMCS)
        return FieldOutcome(name, wp)
    nw = normalise(name, whmcs)
    np = normalise(name, wp)
    source = direction.source
    if nw == np:
        return FieldOutcome(name, whmcs if (source or priority) is Side.WHMCS else wp)
    if source is not None:
        return FieldOutcome(name, whmcs if source is Side.WHMCS else wp, write=source.other)
    if bool(nw) != bool(np):
        filled = Side.WHMCS if nw else Side.WORDPRESS
        return FieldOutcome(name, whmcs if nw else wp, write=filled.other)
    win, lose = (whmcs, wp) if priority is Side.WHMCS else (wp, whmcs)
    return FieldOutcome(name, win, write=priority.other, winner=priority, losing=lose)


def merge_mapped(
    name: str, base: str | None, whmcs: str | None, wp: str | None, *, direction: Direction, priority: Side,
    norm: Callable[[str, Side | None], str], whmcs_dummy: bool = False,
) -> FieldOutcome | None:
    """The merge of one mapped field (DESIGN §9); None when nothing changes, not even the base.

    ``direction`` is the field's own, already narrowed to the run's; ``norm(value, side)``
    normalises a value by the field's kind (``side`` None for the base). A value that is None
    was not read in this run (WHMCS lists no details): it is no change, never taken for empty,
    and never written anywhere; a base that is None means first contact (a link made before
    the field was mapped too).

    First contact: an empty value never overwrites a filled one whatever the priority, the
    filled one is copied to the empty side where the direction allows; otherwise the source
    (one-way) or the priority (both) decides, as for the core fields. Linked: the three-way
    merge of ``merge_field``, except that a one-way field whose source is empty and has never
    held a value leaves the destination alone (an empty source carries nothing), while a source
    emptied since the base is a change like any other. A WHMCS dummy or default stands for
    "no value" at first contact and for the base afterwards: never a change, never copied.
    """
    if whmcs_dummy:
        if base is None:
            whmcs = ""
        else:
            outcome = merge_mapped(name, base, base, wp, direction=direction, priority=priority, norm=norm)
            if outcome is None and norm(base, None) and direction.allows_write_to(Side.WHMCS):
                return FieldOutcome(name, base, write=Side.WHMCS)  # a real value replaces the stand-in
            return outcome
    source = direction.source
    if base is None:
        if whmcs is None or wp is None:
            return None  # settled once both sides are read
        nw, np = norm(whmcs, Side.WHMCS), norm(wp, Side.WORDPRESS)
        if nw == np:
            return FieldOutcome(name, whmcs if (source or priority) is Side.WHMCS else wp)
        if not nw or not np:
            filled = Side.WHMCS if nw else Side.WORDPRESS
            if direction.allows_write_to(filled.other):
                return FieldOutcome(name, whmcs if nw else wp, write=filled.other)
            return FieldOutcome(name, whmcs if source is Side.WHMCS else wp)  # the empty source's value
        if source is not None:
            return FieldOutcome(name, whmcs if source is Side.WHMCS else wp, write=source.other)
        win, lose = (whmcs, wp) if priority is Side.WHMCS else (wp, whmcs)
        return FieldOutcome(name, win, write=priority.other, winner=priority, losing=lose)
    nb = norm(base, None)
    if source is not None:
        src = whmcs if source is Side.WHMCS else wp
        dst = wp if source is Side.WHMCS else whmcs
        if src is None:
            return None  # the source was not read: a destination edit waits for its next read
        nsrc = norm(src, source)
        ndst = nb if dst is None else norm(dst, source.other)
        if ndst == nsrc:
            return None if nsrc == nb else FieldOutcome(name, src)
        if not nsrc and not nb:
            return None  # the source never held a value: it blanks nothing
        return FieldOutcome(name, src, write=source.other)
    changed_w = whmcs is not None and norm(whmcs, Side.WHMCS) != nb
    changed_p = wp is not None and norm(wp, Side.WORDPRESS) != nb
    if not changed_w and not changed_p:
        return None
    if whmcs is not None and changed_w and not changed_p:
        return FieldOutcome(name, whmcs, write=Side.WORDPRESS)
    if wp is not None and changed_p and not changed_w:
        return FieldOutcome(name, wp, write=Side.WHMCS)
    assert whmcs is not None and wp is not None  # both changed, so both were read
    win, lose = (whmcs, wp) if priority is Side.WHMCS else (wp, whmcs)
    if norm(whmcs, Side.WHMCS) == norm(wp, Side.WORDPRESS):
        return FieldOutcome(name, win)
    return FieldOutcome(name, win, write=priority.other, winner=priority, losing=lose)
