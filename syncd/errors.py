"""The one exception tree of syncd.

Every error syncd raises on purpose is a ``SyncdError``. Adapters translate vendor
failures into these classes; the core raises only the guard and conflict ones; the CLI
is the only place that turns them into messages, with the exit code ``syncd.exits`` gives
each class (shown below).

::

    SyncdError                          exit 1 unless a subclass says otherwise
    ├── ConfigError                     exit 2  bad or missing configuration (all problems at once)
    ├── StateError                      exit 6  the state store failed (locked, disk full, bad schema)
    ├── LockHeld                        exit 5  another run holds the lock
    ├── GuardTripped                    exit 4  a safety guard stopped the run before any write
    ├── RequestRefused                  exit 2  an operator's request syncd refuses (`syncd link` of an
    │                                           admin, of an account already linked; an unknown id)
    ├── NotLinked                       exit 1  `syncd unlink EMAIL`: no link holds that email
    ├── RefusedWrite                    exit 1  a write to a protected account (admin, excluded role, ourselves)
    ├── InvalidRecord                   exit 1  a user's data cannot be written (names the user and field)
    └── SideError                       exit 3  a side failed; carries ``side``
        ├── Unreachable                        connect error, DNS, TLS, repeated timeouts
        ├── NotAnApi                           HTML or non-JSON where the API should answer (wrong URL,
        │                                      maintenance mode, a security plugin)
        ├── IncompleteListing                  a listing that disagrees with its own total, or a page failed
        ├── AccessDenied                       the side refused us
        │   ├── IpNotAllowed                   WHMCS "Invalid IP x" (keeps ``ip``)
        │   ├── BadCredentials                 wrong identifier/secret or application password
        │   └── PermissionDenied               the role lacks an action (keeps ``action``)
        ├── UnknownAction                      the API does not know an action (old WHMCS)
        ├── Transient                          worth retrying: timeouts, 5xx, 429 (keeps ``retry_after``)
        ├── OutcomeUnknown              exit 1  a write was sent but its result is unknown
        └── RemoteRejected              exit 1  a business error for one user (keeps ``code``)
            ├── DuplicateEmail
            └── NotFound

``SideError`` subclasses that concern one user only (``RemoteRejected``,
``OutcomeUnknown``) are recorded against that user and the run goes on; the others stop
the run. Messages never contain a secret: adapters build them from what the remote side
said and from names, never from request bodies.
"""

from __future__ import annotations


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    @property
    def exit_code(self) -> int:
        """The exit code of a command that stops with this error: ``syncd.exits`` decides it."""
        from syncd.exits import of_error  # syncd.exits maps this tree; it imports this module

        return int(of_error(self))


class ConfigError(SyncdError):
    """The configuration is missing or invalid; ``problems`` lists every problem found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        if self.problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class StateError(SyncdError):
    """The state store could not be read or written."""


class LockHeld(SyncdError):
    """Another run holds the lock; this one did not touch either side."""


class GuardTripped(SyncdError):
    """A safety guard stopped the run before any write; ``--force`` lets it through."""


class RequestRefused(SyncdError):
    """An operator's request that syncd refuses before writing anything (``syncd link`` of an
    admin or of an account already linked, an id no account has, ``unlink`` of an ambiguous email,
    a file ``syncd companion`` would overwrite without ``--force``)."""


class NotLinked(SyncdError):
    """``syncd unlink EMAIL``: no link holds that email (exit 1, as ``explain`` of an unknown email)."""


class RefusedWrite(SyncdError):
    """syncd refused to write to a protected account (an admin, an excluded role, itself)."""


class InvalidRecord(SyncdError):
    """One user's data cannot be written to a side; names the user and the field."""

    def __init__(self, message: str, *, user: str = "", field: str = "") -> None:
        super().__init__(message)
        self.user = user
        self.field = field


class SideError(SyncdError):
    """A side (``whmcs`` or ``wordpress``) failed."""

    def __init__(self, message: str, *, side: str) -> None:
        super().__init__(message)
        self.side = side


class Unreachable(SideError):
    """The side could not be reached (connection refused, DNS, TLS, timeouts)."""


class NotAnApi(SideError):
    """The side answered with something other than its API (HTML, non-JSON)."""


class IncompleteListing(SideError):
    """A listing could not be read completely; never treat it as 'these users are gone'."""


class AccessDenied(SideError):
    """The side refused our request."""


class IpNotAllowed(AccessDenied):
    """WHMCS refused our IP address (``Invalid IP x``)."""

    def __init__(self, message: str, *, side: str, ip: str) -> None:
        super().__init__(message, side=side)
        self.ip = ip


class BadCredentials(AccessDenied):
    """The credentials were refused (or, on WordPress, silently ignored)."""


class PermissionDenied(AccessDenied):
    """The credential's role lacks an action or capability (``action`` names it)."""

    def __init__(self, message: str, *, side: str, action: str) -> None:
        super().__init__(message, side=side)
        self.action = action


class UnknownAction(SideError):
    """The remote API does not know an action we called."""

    def __init__(self, message: str, *, side: str, action: str) -> None:
        super().__init__(message, side=side)
        self.action = action


class Transient(SideError):
    """A fault worth retrying (timeout, 5xx, 429); ``retry_after`` in seconds if the side said."""

    def __init__(self, message: str, *, side: str, retry_after: float | None = None) -> None:
        super().__init__(message, side=side)
        self.retry_after = retry_after


class OutcomeUnknown(SideError):
    """A write was sent but we cannot tell whether it happened; settle it by a lookup."""


class RemoteRejected(SideError):
    """The side rejected one user's write (validation, duplicate, not found)."""

    def __init__(self, message: str, *, side: str, code: str = "") -> None:
        super().__init__(message, side=side)
        self.code = code


class DuplicateEmail(RemoteRejected):
    """The email is already used by another account on that side."""


class NotFound(RemoteRejected):
    """The account no longer exists on that side."""
