"""What the annotation browser tests draw on: a PNG made here with objects at known places, and
a loopback server that serves it, the drawing tool's real partial (task_types/annotation/form.html,
rendered with the real params model) inside a bare answer form, the app's static files and the
tool's script and stylesheet, and an echo of the submitted form, all under the app's own
Content-Security-Policy."""

from __future__ import annotations

import json
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape

import taskforce.web
from taskforce.task_types import REGISTRY
from taskforce.task_types.base import is_http_url
from taskforce.web.security import CSP

PACKAGE = Path(taskforce.web.__file__).parent.parent
STATIC = PACKAGE / "web" / "static"
TYPE_FOLDER = PACKAGE / "task_types" / "annotation"

#: The image: 1600 × 1000, larger than any test window, so "fit" shrinks it.
WIDTH, HEIGHT = 1600, 1000
#: Filled rectangles (left, top, width, height, RGB) at known places.
OBJECTS = [
    (100, 120, 300, 200, (220, 60, 60)),
    (700, 400, 180, 260, (60, 160, 220)),
    (1200, 150, 250, 120, (70, 190, 90)),
    (300, 650, 420, 220, (230, 180, 40)),
]


def make_png(width: int = WIDTH, height: int = HEIGHT, objects=OBJECTS) -> bytes:
    background = bytes((40, 44, 52))
    rows = [bytearray(background * width) for _ in range(height)]
    for left, top, w, h, rgb in objects:
        run = bytes(rgb) * w
        for y in range(top, top + h):
            rows[y][left * 3:(left + w) * 3] = run
    raw = b"".join(b"\x00" + bytes(row) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
            + chunk(b"IEND", b""))


_env = Environment(loader=FileSystemLoader([str(TYPE_FOLDER),
                                            str(PACKAGE / "web" / "templates")]),
                   autoescape=select_autoescape(default=True, default_for_string=True))
_env.globals["attachment_url_ok"] = is_http_url

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Annotate</title>
<link rel="stylesheet" href="/static/app.css"><link rel="stylesheet" href="/static/work.css">
<link rel="stylesheet" href="/task-types/annotate.css"></head>
<body><main><form method="post" action="/submit" data-answer-form>{partial}
<div class="actions"><button type="submit" class="primary" data-submit>Submit</button></div></form></main>
<script src="/static/work.js" defer></script><script src="/task-types/annotate.js" defer></script></body></html>"""


@dataclass
class Harness:
    url: str
    pages: dict[str, str] = field(default_factory=dict)
    submitted: list[dict[str, list[str]]] = field(default_factory=list)

    def tool(self, type_name: str, refused: dict[str, list[str]] | None = None, **params: Any) -> str:
        """A page with the drawing tool for a task of this type (as shown again after the
        ``refused`` form, if given); returns its URL."""
        task_type = REGISTRY.get(type_name)
        body = {"callback_url": "http://www.example.com/cb", "attachment": f"{self.url}/image.png",
                "objects_to_annotate": ["car"], **params}
        task_params = task_type.parse(body).task_params()
        values = task_type.form_values(task_params, _Form(refused) if refused is not None else None)
        partial = _env.get_template("form.html").render(params=task_params, values=values, task={})
        name = f"/page/{len(self.pages)}"
        self.pages[name] = PAGE.format(partial=partial)
        return self.url + name

    def last_answer(self, type_name: str) -> dict[str, Any]:
        """The last submitted form, read and checked as the worker app would."""
        form = _Form(self.submitted[-1])
        task_type = REGISTRY.get(type_name)
        return task_type.answer_from_form({}, form)


class _Form:
    def __init__(self, pairs: dict[str, list[str]]) -> None:
        self.pairs = pairs

    def get(self, key: str, default: Any = None) -> Any:
        values = self.pairs.get(key)
        return values[0] if values else default

    def getlist(self, key: str) -> list[Any]:
        return list(self.pairs.get(key, []))

    def multi_items(self) -> list[tuple[str, Any]]:
        return [(k, v) for k, vs in self.pairs.items() for v in vs]


def _media_type(path: str) -> str:
    return {"js": "text/javascript", "css": "text/css"}.get(path.rsplit(".", 1)[-1], "application/octet-stream")


@contextmanager
def serve() -> Iterator[Harness]:
    png = make_png()
    harness = Harness(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            if path == "/favicon.ico":
                self._send(200, b"", "image/x-icon")
            elif path == "/image.png":
                self._send(200, png, "image/png")
            elif path in harness.pages:
                self._send(200, harness.pages[path].encode(), "text/html; charset=utf-8")
            elif path.startswith("/static/") and "/" not in path[8:] and (STATIC / path[8:]).is_file():
                self._send(200, (STATIC / path[8:]).read_bytes(), _media_type(path))
            elif path in ("/task-types/annotate.js", "/task-types/annotate.css"):
                self._send(200, (TYPE_FOLDER / path.rsplit("/", 1)[1]).read_bytes(), _media_type(path))
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form: dict[str, list[str]] = {}
            for key, value in parse_qsl(body, keep_blank_values=True):
                form.setdefault(key, []).append(value)
            harness.submitted.append(form)
            self._send(200, json.dumps(form).encode(), "application/json")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    harness.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield harness
    finally:
        server.shutdown()
        server.server_close()
