"""Who is asking: an API client gets JSON errors, a browser gets pages.

``/v1/…`` is the API's and always answers JSON in its documented shape. Anywhere else a request
whose ``Accept`` names ``text/html`` (every browser's navigation and form post does) gets a page;
anything else (curl, an SDK, a probe) gets the API's JSON shape.
"""

from __future__ import annotations

from starlette.types import Scope


def is_api_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def wants_page(scope: Scope) -> bool:
    if is_api_path(scope["path"]):
        return False
    for key, value in scope.get("headers", ()):
        if key == b"accept":
            return b"text/html" in value
    return False
