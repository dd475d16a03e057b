"""Run one of the seed's Python examples exactly as written and report what the server answered.

    python seed_python.py SNIPPET_FILE
The examples call ``requests`` and drop the response (or keep it in a local); a response hook
records every response so the test can check it. Prints JSON: the responses, and the exception
the snippet itself raised, if any.
"""

from __future__ import annotations

import json
import sys

import requests

responses: list[dict] = []
_request = requests.sessions.Session.request


def _recording(self, method, url, **kwargs):
    response = _request(self, method, url, **kwargs)
    responses.append({"method": method, "url": url, "status": response.status_code,
                      "content_type": response.headers.get("content-type"), "body": response.text,
                      "sent": response.request.body if isinstance(response.request.body, str)
                      else (response.request.body or b"").decode()})
    return response


requests.sessions.Session.request = _recording

source = open(sys.argv[1]).read()
error = None
try:
    exec(compile(source, "seed-example", "exec"), {"__name__": "__main__"})
except Exception as exc:  # reported, not hidden: the test decides what is expected
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({"responses": responses, "error": error}))
