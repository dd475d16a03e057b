"""Files (scaleapi 2.x): upload or import a file, then use its ``scaledata://ID`` URL as any
task's attachment (only the customer who stored it can).

    POST /v1/files/upload    multipart/form-data: ``file`` plus display_name, project_name, reference_id
    POST /v1/files/import    {file_url, …the same optional fields}

Bytes go to the file store before the row is written (outside the database's write lock); the
body is counted as it streams in, so an upload over ``file_max_bytes`` is refused (413) without
being kept.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.datastructures import UploadFile
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response

from taskforce import ids
from taskforce.api import schemas
from taskforce.api.payloads import read_object
from taskforce.api.v1 import _add, _drain, _principal_or_401, json_response
from taskforce.app_state import AppState
from taskforce.clock import now_ms
from taskforce.customers import ApiPrincipal
from taskforce.errors import InvalidParameter, PayloadTooLarge, UnsupportedMediaType
from taskforce.files import importer, records
from taskforce.files.serving import file_store

#: What a multipart body may carry besides the file itself (boundaries, the other fields).
_FORM_OVERHEAD = 64 * 1024


class _CountingReceive:
    """The request's receive, raising PayloadTooLarge once more than ``limit`` bytes came.
    ``finished`` says whether the body's last message arrived (then there is nothing left to
    drain, and asking for more would wait for the client to disconnect)."""

    def __init__(self, request: Request, limit: int) -> None:
        self.request, self.limit = request, limit
        self.received = 0
        self.finished = False

    async def __call__(self) -> dict[str, Any]:
        message = await self.request.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.finished = not message.get("more_body", False)
        if self.received > self.limit:
            raise PayloadTooLarge(f"file: larger than {self.limit - _FORM_OVERHEAD} bytes")
        return message


async def _store(state: AppState, principal: ApiPrincipal, source, *, filename: str,
                 declared_type: str | None, extra: dict[str, str],
                 source_url: str | None = None) -> dict[str, Any]:
    store = file_store(state)
    saved = await asyncio.to_thread(records.save, store, source, limit=state.settings.file_max_bytes)
    mime = records.mime_type(declared_type, filename, saved["head"])
    try:
        with state.db.write() as conn:
            row = records.insert_row(conn, saved, customer_id=principal.customer_id,
                                     is_test=principal.is_test, filename=filename, mime=mime,
                                     now=now_ms(), source_url=source_url, extra=extra)
    except BaseException:
        store.delete(saved["storage_key"])
        raise
    return records.file_object(row)


async def upload_file(request: Request) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "multipart/form-data":
        await _drain(request)
        raise UnsupportedMediaType("send the file as multipart/form-data, in a part named 'file'")
    limit = state.settings.file_max_bytes + _FORM_OVERHEAD
    declared = request.headers.get("content-length")
    if declared and ids.is_ascii_number(declared) and int(declared) > limit:
        await _drain(request)
        raise PayloadTooLarge(f"file: larger than {state.settings.file_max_bytes} bytes")
    receive = _CountingReceive(request, limit)
    counted = StarletteRequest(request.scope, receive)
    try:
        form = await counted.form(max_files=1, max_fields=100, max_part_size=_FORM_OVERHEAD)
    except Exception as exc:  # python-multipart raises several types for malformed input
        if not receive.finished:
            await _drain(request)
        if isinstance(exc, PayloadTooLarge):
            raise
        raise InvalidParameter("body", "is not a well-formed multipart form with at most one file") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidParameter("file", "is required: the file, as a multipart part named 'file'")
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        filename = records.clean_filename(upload.filename)
        obj = await _store(state, principal, upload.file, filename=filename,
                           declared_type=upload.content_type, extra=records.extra_fields(fields))
    finally:
        await form.close()
    return json_response(obj)


async def import_file(request: Request) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    kinds = {"file_url": "scalar", **{name: "scalar" for name in records.EXTRA_FIELDS}}
    data = await read_object(request, kinds, state.settings.max_body_bytes)
    url = data.get("file_url")
    if not isinstance(url, str) or not url:
        raise InvalidParameter("file_url", "is required: the http(s) URL to fetch")
    extra = records.extra_fields(data)
    fetched = await importer.fetch(state.settings, url)
    try:
        filename = records.clean_filename(fetched.filename)
        obj = await _store(state, principal, fetched.spool, filename=filename,
                           declared_type=fetched.content_type, extra=extra, source_url=url)
    finally:
        fetched.spool.close()
    return json_response(obj)


_FIELDS = {name: {"type": "string", "maxLength": 200} for name in records.EXTRA_FIELDS}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", redirect_slashes=False)
    _add(router, "/files/upload", upload_file, ["POST"], **schemas.operation(
        "Upload a file", "files", "The stored file", schemas.FILE, 400, 401, 413, 415,
        body={"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}, **_FIELDS}}}}},
        description="Answers `attachment_url: scaledata://ID`, usable as any of your tasks' "
                    "attachment. Over `TASKFORCE_FILE_MAX_BYTES` (default 50 MiB) is 413."))
    _add(router, "/files/import", import_file, ["POST"], **schemas.operation(
        "Import a file from a URL", "files", "The stored file", schemas.FILE, 400, 401, 413, 415,
        body=schemas.json_body({"type": "object", "required": ["file_url"],
                                "properties": {"file_url": {"type": "string"}, **_FIELDS}}, form=True),
        description="Fetched under the callbacks' address policy (public addresses only unless "
                    "allowed), without redirects, within the size limit and "
                    "`TASKFORCE_FILE_IMPORT_TIMEOUT_SECONDS`."))
    return router


def install(app: FastAPI) -> None:
    app.include_router(build_router())
