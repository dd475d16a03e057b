"""``GET /files/ID?expires=…&signature=…``: a stored file, to whoever holds a valid signed URL.

The bytes are the customer's, so they must never act as our pages: every answer carries the
stored Content-Type with ``nosniff`` and a ``Content-Security-Policy: sandbox`` (an uploaded
HTML or SVG document opens in an opaque origin with scripts off, so it cannot reach our
cookies or pages); only our own pages may frame it. PDFs are the exception to the sandbox
(Chromium will not show a PDF in a sandboxed document); a browser's PDF viewer runs a PDF's
scripts in its own sandbox, never in the page's origin.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from taskforce.app_state import AppState
from taskforce.files import records, signed_urls
from taskforce.files.storage import FileStore, LocalDiskStore, chunks

#: For the customer's bytes: no script, no plugin, no form, no navigation of our pages.
SANDBOX_CSP = ("sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; "
               "style-src 'unsafe-inline'; frame-ancestors 'self'")
PDF_CSP = "default-src 'none'; frame-ancestors 'self'"


def file_store(state: AppState) -> FileStore:
    store = getattr(state, "file_store", None)
    if store is None:
        store = LocalDiskStore(state.settings.files_dir)
        state.file_store = store  # type: ignore[attr-defined]
    return store


def _refused(status: int, message: str) -> Response:
    # Reached by browsers, not API clients: plain text, and nothing about which file exists.
    return PlainTextResponse(message, status_code=status,
                             headers={"Cache-Control": "no-store", "Content-Security-Policy": SANDBOX_CSP})


async def serve_file(request: Request, file_id: str) -> Response:
    state: AppState = request.app.state.taskforce
    expires = request.query_params.get("expires", "")
    given = request.query_params.get("signature", "")
    if not signed_urls.verify(state.settings.secret_key, file_id, expires, given):
        return _refused(403, "This file link is not valid or has expired; reload the page for a new one.")
    with state.db.read() as conn:
        row = records.get(conn, file_id)
    if row is None:
        return _refused(404, "No such file.")
    try:
        stream = file_store(state).open(row["storage_key"])
    except FileNotFoundError:
        return _refused(404, "The file's content is missing from storage.")
    mime = row["mime_type"]
    headers = {
        # As stored, exactly (Starlette would append a charset to text types).
        "Content-Type": mime,
        "Content-Length": str(row["size"]),
        "Content-Security-Policy": PDF_CSP if mime == "application/pdf" else SANDBOX_CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Content-Disposition": "inline; filename*=UTF-8''" + quote(row["filename"], safe=""),
        "Cache-Control": "private, max-age=300",
    }
    return StreamingResponse(chunks(stream), headers=headers)


def install(app: FastAPI) -> None:
    from taskforce.web.templating import templates

    settings = app.state.taskforce.settings

    def attachment_src(value: str) -> str:
        return signed_urls.attachment_src(settings.secret_key, value, seconds=settings.file_url_seconds)

    # A global, not a context function: the attachment macro is imported without context. The
    # environment is the process's; every app in one process signs with its own settings' key,
    # the last one installed (one app per process outside tests, all with one key in tests).
    templates.env.globals["attachment_src"] = attachment_src
    app.add_api_route("/files/{file_id}", serve_file, methods=["GET"], include_in_schema=False)
