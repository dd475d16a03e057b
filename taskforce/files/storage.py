"""Where file bytes live: the ``FileStore`` interface and the local-disk store.

An object store (S3 and the like) fits the same four methods; the rest of Taskforce only ever
holds a storage key.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 64 * 1024


class FileStore(Protocol):
    def put(self, key: str, source: BinaryIO) -> None:
        """Store the stream's bytes under ``key`` (all of them, or nothing)."""

    def open(self, key: str) -> BinaryIO:
        """The stored bytes; FileNotFoundError when there are none."""

    def delete(self, key: str) -> None:
        """Forget ``key``; no error when it is already gone."""

    def exists(self, key: str) -> bool: ...


class LocalDiskStore:
    """Files under one directory, two levels deep by key prefix; written to a temporary file
    and renamed, so a crash never leaves half a file under a key."""

    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory)

    def _path(self, key: str) -> Path:
        # Keys are ours (hex), never a customer's text; refuse anything else outright.
        if not key or key.strip("0123456789abcdef"):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key[:2] / key

    def put(self, key: str, source: BinaryIO) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def chunks(stream: BinaryIO) -> Iterator[bytes]:
    """Read a stored file in chunks, closing it at the end (a response body)."""
    try:
        while chunk := stream.read(CHUNK):
            yield chunk
    finally:
        stream.close()

