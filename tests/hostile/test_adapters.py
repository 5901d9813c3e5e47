"""Hostile users through both adapters against the emulators: create, list, find, update.

- Only ``syncd.errors`` classes ever escape an adapter, whatever the data.
- What mapping lets through is accepted: a create or update of such a user never fails.
- Round trips: the listing shows what was written, as that side keeps it (WordPress's
  rewrite of names is ``mapping.as_stored``; WHMCS keeps values as sent); a case variant of
  the email finds the user; WordPress logins are valid and unique.
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from syncd import mapping
from syncd.adapters.wordpress import WordPressAdapter
from syncd.config import NewUsers, WordPressSettings
from syncd.emulators.wordpress import WordPressEmulator
from syncd.errors import DuplicateEmail, RemoteRejected, SyncdError
from syncd.model import Record, Side, normalise, normalise_email
from tests.hostile.harness import World
from tests.hostile.strategies import HOSTILE_ADAPTERS, hostile_emails, names, plain_emails
from tests.hostile.test_mapping import assert_wordpress_login

Fields = dict[str, str]
person = st.fixed_dictionaries({
    "email": hostile_emails() | plain_emails(), "first_name": names(), "last_name": names(), "company": names(),
})


def _no_sleep(_seconds: float) -> None:
    pass


def wordpress_adapter(emulator: WordPressEmulator, scheme: str = "email") -> WordPressAdapter:
    password = emulator.add_app_password("admin")
    settings = WordPressSettings(url="http://wp.test/", username="admin", application_password=SecretStr(password),
                                 retries=0, new_users=NewUsers(username=scheme))
    return WordPressAdapter(settings, SecretStr(password), exclude_roles=(), transport=emulator.transport(),
                            sleep=_no_sleep)


def assert_kept(side: Side, record: Record, sent: Mapping[str, str], dummies: Mapping[str, str]) -> None:
    """``record`` (as listed) holds what ``side`` keeps of ``sent``."""
    assert record.key == normalise_email(sent["email"])
    for name in ("first_name", "last_name", "company"):
        expected = mapping.as_stored(side, name, sent.get(name, ""))
        if not expected.strip() and name in dummies:
            expected = dummies[name]
        assert normalise(name, record.fields.get(name, "")) == normalise(name, expected), (name, record, expected)


def valid_for(side: Side, fields: Mapping[str, str]) -> bool:
    return not mapping.problems(side, fields)


def edit_for(side: Side, edit: Mapping[str, str], taken: set[str]) -> dict[str, str]:
    """The changes of ``edit`` to send to ``side``: the names and company, and the email when the
    side can take it and no other account there has it."""
    changes = {n: edit[n] for n in ("first_name", "last_name", "company")}
    if valid_for(side, edit) and normalise_email(edit["email"]) not in taken:
        changes["email"] = edit["email"]
    return changes


def attempt(action: str, call: object, *args: object) -> Record | SyncdError:
    """Call an adapter method; a ``SyncdError`` is returned, anything else fails the test."""
    try:
        result = call(*args)  # type: ignore[operator]
    except SyncdError as exc:
        return exc
    except Exception as exc:  # pragma: no cover - a crash is exactly what this suite looks for
        raise AssertionError(f"{action} raised {type(exc).__name__}, not a syncd.errors class: {exc!r}") from exc
    assert isinstance(result, Record)
    return result


@HOSTILE_ADAPTERS
@given(people=st.lists(person, min_size=1, max_size=4), edits=st.lists(person, min_size=4, max_size=4),
       scheme=st.sampled_from(["email", "name"]))
def test_wordpress_adapter_round_trips_hostile_users(people: list[Fields], edits: list[Fields], scheme: str) -> None:
    emulator = WordPressEmulator()
    with wordpress_adapter(emulator, scheme) as adapter:
        made: dict[str, Record] = {}
        for fields in people:
            created = attempt("create", adapter.create, fields)
            fresh = normalise_email(fields["email"]) not in made
            if isinstance(created, SyncdError):
                assert not (valid_for(Side.WORDPRESS, fields) and fresh), f"{fields!r} was refused: {created}"
                assert fresh or isinstance(created, DuplicateEmail | RemoteRejected)
                continue
            assert fresh, f"a second user with {fields['email']!r} was created"
            assert_wordpress_login(created.username)
            made[created.key] = created
            if valid_for(Side.WORDPRESS, fields):
                assert_kept(Side.WORDPRESS, created, fields, {})
        listed = {r.key: r for r in adapter.snapshot().records if r.roles != ("administrator",)}
        assert set(listed) == set(made)
        assert len({r.username.lower() for r in listed.values()}) == len(listed)
        for key, record in made.items():
            assert listed[key] == record
            if mapping.is_valid_email(record.email):  # ASCII: upper() is a case variant (not so for "ß")
                found = adapter.find_by_email(record.email.upper())
                assert [r.remote_id for r in found] == [record.remote_id]
        taken = set(made)
        for record, edit in zip(made.values(), edits, strict=False):
            changes = edit_for(Side.WORDPRESS, edit, taken)
            updated = attempt("update", adapter.update, record, changes)
            if isinstance(updated, SyncdError):
                assert not valid_for(Side.WORDPRESS, changes), f"{changes!r} was refused: {updated}"
                continue
            taken = (taken - {record.key}) | {updated.key}
            if valid_for(Side.WORDPRESS, changes):
                assert_kept(Side.WORDPRESS, updated, {"email": record.email, **changes}, {})
                relisted = {r.remote_id: r for r in adapter.snapshot().records}
                assert relisted[record.remote_id] == updated


@HOSTILE_ADAPTERS
@given(people=st.lists(person, min_size=1, max_size=4), edits=st.lists(person, min_size=4, max_size=4))
def test_whmcs_adapter_round_trips_hostile_clients(people: list[Fields], edits: list[Fields]) -> None:
    world = World()
    adapter, wp = world.adapters(world.settings())
    wp.close()
    dummies = {"first_name": "Not provided", "last_name": "Not provided"}
    with adapter:
        made: dict[str, Record] = {}
        for fields in people:
            created = attempt("create", adapter.create, fields)
            fresh = normalise_email(fields["email"]) not in made
            if isinstance(created, SyncdError):
                assert not (valid_for(Side.WHMCS, fields) and fresh), f"{fields!r} was refused: {created}"
                continue
            made[created.key] = created
        listed = {r.key: r for r in adapter.snapshot().records}
        assert len(listed) == len(world.whmcs.clients)
        for key, record in made.items():
            sent = next(f for f in people if normalise_email(f["email"]) == key)
            if valid_for(Side.WHMCS, sent):
                assert_kept(Side.WHMCS, listed[key], sent, dummies)
            if mapping.is_valid_email(record.email):  # ASCII: upper() is a case variant (not so for "ß")
                found = adapter.find_by_email(f"  {record.email.upper()} ")
                assert [r.remote_id for r in found] == [record.remote_id]
        taken = set(listed)
        for key, edit in zip(list(made), edits, strict=False):
            record = listed[key]
            changes = edit_for(Side.WHMCS, edit, taken)
            updated = attempt("update", adapter.update, record, changes)
            if isinstance(updated, SyncdError):
                assert not valid_for(Side.WHMCS, changes), f"{changes!r} was refused: {updated}"
                continue
            taken = (taken - {record.key}) | {updated.key}
            if valid_for(Side.WHMCS, changes):
                relisted = {r.remote_id: r for r in adapter.snapshot().records}[record.remote_id]
                assert_kept(Side.WHMCS, relisted, {"email": updated.email, **changes}, {})
                owner = world.whmcs.users[relisted.owner_user_id or 0]
                assert normalise_email(owner.email) == relisted.key  # the WHMCS 8 login follows the email


def test_wordpress_names_that_collide_get_distinct_valid_logins() -> None:
    emulator = WordPressEmulator()
    with wordpress_adapter(emulator, "name") as adapter:
        logins = []
        for number, (first, last) in enumerate([("Zoë", "Ærø"), ("Zoe\u0308", "AErø"), ("ZOË", "ÆRØ"), ("李", "龍"),
                                                 ("<b>", "</b>"), ("", ""), ("x" * 70, "y" * 70)]):
            record = adapter.create({"email": f"collide{number}@example.com", "first_name": first, "last_name": last})
            assert_wordpress_login(record.username)
            logins.append(record.username.lower())
        assert len(set(logins)) == len(logins)
        assert logins[:3] == ["zoe.aero", "zoe.aero-2", "zoe.aero-3"]
