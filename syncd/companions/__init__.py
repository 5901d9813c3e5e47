"""The companions shipped in the package (DESIGN §10): the files, and writing one out for an admin.

``syncd companion wordpress --out DIR`` copies the WordPress plugin into ``DIR``; what it then says
(how to install it) is rendered by ``syncd.render.companion``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from syncd.errors import RequestRefused

#: side → the file's name, in this package's directory of that side.
FILES = {"wordpress": "syncd-companion.php", "whmcs": "syncd_hooks.php"}

#: The meta keys the WordPress companion registers when SYNCD_META_KEYS is not defined: WooCommerce's
#: billing keys (its DEFAULT_META_KEYS; a test keeps the two lists equal). A defined SYNCD_META_KEYS
#: replaces this list, so it must name every key syncd maps.
WORDPRESS_DEFAULT_META_KEYS: tuple[str, ...] = (
    "billing_first_name", "billing_last_name", "billing_company", "billing_address_1", "billing_address_2",
    "billing_city", "billing_state", "billing_postcode", "billing_country", "billing_email", "billing_phone",
)


def source(side: str) -> bytes:
    """The companion file of ``side``, as shipped."""
    return resources.files(__package__).joinpath(side, FILES[side]).read_bytes()


def write(side: str, out: Path, *, force: bool = False) -> tuple[Path, bool]:
    """Write ``side``'s companion into the directory ``out``; returns (its path, whether it was written:
    False when an identical file was already there). An existing, different file is replaced only
    with ``force``."""
    if not out.is_dir():
        what = "is not a directory" if out.exists() else "does not exist"
        raise RequestRefused(f"--out {out} {what}: give an existing directory (e.g. --out .)")
    target = out / FILES[side]
    data = source(side)
    try:
        if target.read_bytes() == data:
            return target, False
        if not force:
            raise RequestRefused(f"{target} exists and differs from this version's companion; "
                             "add --force to replace it, or choose another --out")
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        raise RequestRefused(f"{target} is a directory; choose another --out") from None
    except PermissionError:
        raise RequestRefused(f"cannot read {target} (permission denied); run as a user who can, or choose "
                         "another --out") from None
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise RequestRefused(f"cannot write {target} ({exc.strerror}); run as a user who can write to {out}, "
                         "or choose another --out") from None
    target.chmod(0o644)
    return target, True
