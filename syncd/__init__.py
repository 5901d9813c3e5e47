"""syncd: keeps WHMCS clients and WordPress users synchronised, safely."""

__version__ = "0.1.0"
