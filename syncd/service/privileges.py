"""A manual command run by root beside the service: it becomes the state directory's owner.

The unit runs syncd as a dynamic user that owns its ``StateDirectory``; root running ``syncd
sync`` from a shell would otherwise create the database, its -wal/-shm files and the run lock
as root, and the service could no longer write them. So, once the configuration and the secrets
have been read (as root: the credential files are root's), ``become_state_owner`` switches the
whole process to the uid and gid owning the directory of a SQLite ``state_url``; everything it
creates from then on is the service's.

With ``DynamicUser=yes`` the directory is ``/var/lib/private/syncd`` behind ``/var/lib/private``
(mode 0700, root's), which the service's uid cannot cross outside the service's own mount
namespace. When a directory above it is closed to the new uid, the process does what systemd
does for the service (``_reach``): in a mount namespace of its own, a tmpfs over the closed
directory holds the way down to the state directory, bound there from a descriptor opened while
still root, so the store keeps its own path (SQLite resolves paths to absolute ones itself: a
relative path or a descriptor path would not do).
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import StateError
from syncd.state import url as urls


@dataclass(frozen=True)
class Switched:
    """What ``become_state_owner`` did: the line that says so (empty if nothing was done)."""

    note: str = ""


def state_directory(state_url: str) -> Path | None:
    """The directory of a SQLite file store; None for PostgreSQL or an in-memory database."""
    parsed = urls.parse(state_url)
    if parsed.get_backend_name() != urls.SQLITE:
        return None
    path = urls.sqlite_path(parsed)
    return None if path is None else path.parent


def _searchable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether ``uid``/``gid`` (with no other group) may cross directory ``path``, by its mode bits."""
    st = path.stat()
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _hidden_above(directory: Path, uid: int, gid: int) -> Path | None:
    """The highest directory above ``directory`` (a resolved path) that ``uid`` cannot cross."""
    for parent in reversed(directory.parents):
        if not _searchable_by(parent, uid, gid):
            return parent
    return None


_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18


def _libc_call(name: str, *args: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if int(getattr(libc, name)(*args)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _reach(directory: Path, hidden: Path) -> None:
    """Make ``directory`` reachable under its own path for a uid that cannot cross ``hidden``, in
    this process only, as systemd does for the service: a private mount namespace, a tmpfs over
    ``hidden`` holding just the way down, and the directory bound at its end."""
    _libc_call("unshare", _CLONE_NEWNS)
    _libc_call("mount", None, b"/", None, _MS_REC | _MS_PRIVATE, None)
    # Opened inside the new namespace (a bind mount's source must be in it), before the tmpfs hides it.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _libc_call("mount", b"tmpfs", bytes(hidden), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, b"mode=0755")
        directory.mkdir(mode=0o755, parents=True)
        _libc_call("mount", f"/proc/self/fd/{fd}".encode(), bytes(directory), None, _MS_BIND, None)
    finally:
        os.close(fd)


def become_state_owner(state_url: str, *, euid: Callable[[], int] = os.geteuid) -> Switched:
    """Run the rest of this process as the owner of the state directory, if we are root and it is
    someone else's; otherwise change nothing. ``StateError`` if the switch fails."""
    directory = state_directory(state_url)
    if euid() != 0 or directory is None:
        return Switched()
    try:
        directory = directory.resolve(strict=True)
        owner = directory.stat()
    except OSError:
        return Switched()  # load() has said already whether the directory exists
    if owner.st_uid == 0:
        return Switched()
    uid, gid = owner.st_uid, owner.st_gid
    try:
        hidden = _hidden_above(directory, uid, gid)
        if hidden is not None:
            _reach(directory, hidden)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    except OSError as exc:
        raise StateError(
            f"running as root, syncd must become uid {uid} (the owner of the state directory {directory}) so that "
            f"the files it creates stay the service's, and could not: {exc.strerror or exc}. Run the command where "
            "root may change its uid (and, for a state directory behind one only root may cross, such as "
            "/var/lib/private, make a mount namespace), e.g. on the host rather than in a restricted container"
        ) from None
    return Switched(f"running as uid {uid}, gid {gid}, the owner of the state directory {directory}, so that "
                    "the state store stays the service's")
