"""A password in flight (DESIGN §11): the one value syncd holds that must never be shown.

``Password`` wraps the plain text a companion sent so that nothing prints it by accident: its
``repr`` and ``str`` say only that a password is there, it compares by identity (so it never
leaks through an equality check in a test failure), and it cannot be pickled (nothing stores
it). Only the adapter that writes it calls ``reveal()``. ``forget()`` drops the text as soon
as it has been written or given up.
"""

from __future__ import annotations

from typing import NoReturn


class Password:
    """A plain-text password held only in memory, only until it is written."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        if not text:
            raise ValueError("a password cannot be empty")
        self._text: str | None = text

    def reveal(self) -> str:
        """The plain text, for the one request that writes it; ValueError once forgotten."""
        if self._text is None:
            raise ValueError("this password was already written or dropped")
        return self._text

    def forget(self) -> None:
        """Drop the text (Python cannot wipe a str's memory, but nothing refers to it from here on)."""
        self._text = None

    @property
    def held(self) -> bool:
        return self._text is not None

    def __repr__(self) -> str:
        return "Password(***)" if self._text is not None else "Password(dropped)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a password is never pickled or stored")
