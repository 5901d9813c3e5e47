"""WordPress's REST errors, for the emulator: a ``WP_Error`` answered as JSON.

``ApiError`` carries the status, code, message and data WordPress would send; the helpers
build the ones several routes share (no route, invalid parameters) with WordPress's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CRITICAL = ("<p>There has been a critical error on this website.</p><p><a href=\"https://wordpress.org/support/"
            "article/faq-troubleshooting/\">Learn more about troubleshooting WordPress.</a></p>")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, data: Any = "status", **extra: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.data = {"status": status} if data == "status" else data
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data, **self.extra}


def no_route() -> ApiError:
    return ApiError(404, "rest_no_route", "No route was found matching the URL and request method.")


def invalid_params(invalid: Mapping[str, tuple[str, str]], *, detail_data: bool = False) -> ApiError:
    names = ", ".join(invalid)
    return ApiError(
        400, "rest_invalid_param", f"Invalid parameter(s): {names}",
        {"status": 400, "params": {k: m for k, (_, m) in invalid.items()},
         "details": {k: {"code": c, "message": m, "data": {"status": 400} if detail_data else None}
                     for k, (c, m) in invalid.items()}},
    )
