"""File rows: what was stored, for whom, and the ``scaledata://`` URLs that name them."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import secrets
from collections.abc import Iterable
from typing import Any, BinaryIO

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from taskforce.clock import format_ms
from taskforce.errors import InvalidParameter, PayloadTooLarge
from taskforce.files.storage import CHUNK, FileStore
from taskforce.models import files

SCHEME = "scaledata://"
_FILE_ID = re.compile(r"[0-9a-f]{24}")
#: ``type/subtype`` and nothing else: the stored type is sent back as Content-Type.
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
#: Form fields of scaleapi 2.x's upload_file/import_file we keep and return.
EXTRA_FIELDS = ("display_name", "project_name", "reference_id")


def new_file_id() -> str:
    return secrets.token_hex(12)


def file_url(file_id: str) -> str:
    return SCHEME + file_id


def is_scaledata_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME) and bool(_FILE_ID.fullmatch(value[len(SCHEME):]))


def file_id_of(url: str) -> str:
    return url[len(SCHEME):]


#: Leading bytes of the passive media types we recognise when a client declares no type (as
#: scaleapi 2.x's upload_file does). Never HTML, SVG or anything else that can run script.
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
          (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"), (b"ID3", "audio/mpeg"),
          (b"OggS", "audio/ogg"))


def _sniff(head: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if head[8:12] == b"WEBP" else "audio/wav"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return None


def mime_type(declared: str | None, filename: str, head: bytes = b"") -> str:
    """The declared type when it is a plain ``type/subtype``; else guessed from the name, then
    from the first bytes; else ``application/octet-stream``."""
    if declared:
        base = declared.split(";", 1)[0].strip().lower()
        if (_MIME.fullmatch(base) and base != "application/x-www-form-urlencoded"
                and base != "application/octet-stream"):
            return base
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    if guessed and _MIME.fullmatch(guessed):
        return guessed
    return _sniff(head) or "application/octet-stream"


def clean_filename(name: str | None) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '"\x00')[:255].strip()
    return name or "file"


def extra_fields(data: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name in EXTRA_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 200 or "\x00" in value:
            raise InvalidParameter(name, "must be a string of at most 200 characters, without NUL")
        out[name] = value
    return out


class _Measured:
    """Reads through ``source``, counting and hashing; PayloadTooLarge once over ``limit``."""

    def __init__(self, source: BinaryIO, limit: int) -> None:
        self.source, self.limit = source, limit
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.head = b""

    def read(self, n: int = CHUNK) -> bytes:
        chunk = self.source.read(n)
        if len(self.head) < 16:
            self.head += chunk[:16 - len(self.head)]
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(f"file: larger than {self.limit} bytes")
        self.sha256.update(chunk)
        return chunk


def save(store: FileStore, source: BinaryIO, *, limit: int) -> dict[str, Any]:
    """Write the bytes to the store (outside any transaction: a large file must not hold the
    database's write lock); returns id, storage_key, size and sha256 for ``insert``. Over
    ``limit`` nothing is kept and PayloadTooLarge is raised."""
    file_id = new_file_id()
    measured = _Measured(source, limit)
    store.put(file_id, measured)  # the store's key is the file's id
    return {"id": file_id, "storage_key": file_id, "size": measured.size,
            "sha256": measured.sha256.hexdigest(), "head": measured.head}


def insert_row(conn: Connection, saved: dict[str, Any], *, customer_id: int, is_test: bool,
               filename: str, mime: str, now: int, source_url: str | None = None,
               extra: dict[str, str] | None = None) -> dict[str, Any]:
    row = {**{k: v for k, v in saved.items() if k != "head"}, "customer_id": customer_id, "is_test": is_test, "filename": filename,
           "mime_type": mime, "source_url": source_url, "extra": extra or {}, "created_at": now}
    conn.execute(insert(files), row)
    return row


def get(conn: Connection, file_id: str) -> dict[str, Any] | None:
    if not _FILE_ID.fullmatch(file_id):
        return None
    row = conn.execute(select(files).where(files.c.id == file_id)).mappings().first()
    return dict(row) if row else None


def check_owned(conn: Connection, urls: Iterable[tuple[str, str]], *, customer_id: int) -> None:
    """Each (parameter, scaledata URL) names a file of this customer, or InvalidParameter."""
    wanted = {file_id_of(url): param for param, url in urls}
    if not wanted:
        return
    found = set(conn.execute(select(files.c.id).where(files.c.id.in_(list(wanted)),
                                                      files.c.customer_id == customer_id)).scalars())
    for file_id, param in wanted.items():
        if file_id not in found:
            raise InvalidParameter(param, f"no file {file_url(file_id)} among your files: upload it "
                                          "with POST /v1/files/upload first")


def scaledata_urls(params: dict[str, Any]) -> list[tuple[str, str]]:
    """(parameter, URL) for every ``scaledata://`` value among a task's params (and lists)."""
    out = []
    for name, value in params.items():
        if is_scaledata_url(value):
            out.append((name, value))
        elif isinstance(value, list):
            out.extend((f"{name}[{i}]", v) for i, v in enumerate(value) if is_scaledata_url(v))
    return out


def file_object(row: dict[str, Any]) -> dict[str, Any]:
    obj = {"id": row["id"], "attachment_url": file_url(row["id"]), "mime_type": row["mime_type"],
           "size": row["size"], "filename": row["filename"], "created_at": format_ms(row["created_at"])}
    if row.get("source_url"):
        obj["file_url"] = row["source_url"]
    obj.update(row.get("extra") or {})
    return obj

