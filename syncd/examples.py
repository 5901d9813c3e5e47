"""The files syncd ships for an install: the example configuration and the systemd unit.

They travel in the package (``syncd/share/``), so a host with nothing but the installed wheel
can write them out: ``syncd example config|unit [--out DIR]``. The repository's
``conf/syncd.example.toml`` and ``systemd/syncd.service`` are the same files (a test keeps them
identical).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from syncd.errors import ConfigError

#: What ``syncd example`` writes: the packaged file and the name it gets in ``--out DIR``.
EXAMPLES = {
    "config": ("syncd.example.toml", "syncd.toml"),
    "unit": ("syncd.service", "syncd.service"),
}


def text_of(what: str) -> str:
    """The packaged file ``what`` (``config`` or ``unit``)."""
    packaged, _ = EXAMPLES[what]
    return files("syncd").joinpath("share", packaged).read_text(encoding="utf-8")


def write(what: str, directory: Path, *, force: bool = False) -> Path:
    """Write ``what`` into ``directory`` (mode 0644: neither file holds a secret) and return its
    path; ``ConfigError`` (exit 2) for a file already there without ``force``, or a directory
    that is missing or not writable."""
    _, name = EXAMPLES[what]
    target = directory / name
    if not directory.is_dir():
        raise ConfigError(f"{directory} is not a directory: create it first (install -d -m 0755 {directory})")
    if target.exists() and not force:
        raise ConfigError(f"{target} exists already and was left as it is: compare it with `syncd example {what}`, "
                          "or give --force to replace it")
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        fd = os.open(target, flags, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text_of(what))
        target.chmod(0o644)  # whatever the umask: the service's dynamic user reads the configuration
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}; run as a user who may write "
                          f"{directory} (root for /etc)") from None
    return target
