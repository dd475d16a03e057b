"""``POST /v1/files/import``: fetch a customer's URL into the file store.

The URL is the customer's choice, so it is fetched under the callbacks' address policy (no
loopback, private or metadata addresses unless an operator allowed the network; checked on the
literal host, on every resolved address and on the socket's), without following redirects,
within ``file_import_timeout_seconds`` and ``file_max_bytes``.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from taskforce.callbacks import http
from taskforce.callbacks.address_policy import RefusedAddress, check_host, parse_networks
from taskforce.config import Settings
from taskforce.errors import InvalidParameter, PayloadTooLarge
from taskforce.files.storage import CHUNK


@dataclass
class Fetched:
    spool: tempfile.SpooledTemporaryFile
    content_type: str | None
    filename: str


async def fetch(settings: Settings, url: str) -> Fetched:
    """The URL's body in a spooled temporary file, or InvalidParameter/PayloadTooLarge naming
    ``file_url`` and what went wrong."""
    from taskforce.task_types.base import is_http_url

    if not is_http_url(url):
        raise InvalidParameter("file_url", "must be an absolute http:// or https:// URL")
    allowed = parse_networks(settings.callback_allowed_networks)
    verdict = check_host(URL(url).raw_host or "", allowed)
    if verdict.allowed is False:
        raise InvalidParameter("file_url", f"refused: {verdict.reason}")
    timeout = float(settings.file_import_timeout_seconds)
    limit = settings.file_max_bytes
    session = http.new_session(allowed, concurrency=1, timeout=timeout)
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    try:
        async with session.get(url, allow_redirects=False) as resp:
            if not 200 <= resp.status < 300:
                raise InvalidParameter("file_url", f"answered HTTP {resp.status}"
                                       + (" (redirects are not followed)" if 300 <= resp.status < 400 else ""))
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge(f"file_url: the file is larger than {limit} bytes")
            size = 0
            async for chunk in resp.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"file_url: the file is larger than {limit} bytes")
                spool.write(chunk)
            content_type = resp.headers.get("content-type")
    except asyncio.TimeoutError:
        spool.close()
        raise InvalidParameter("file_url", f"timed out after {timeout:g} s") from None
    except RefusedAddress as exc:
        spool.close()
        raise InvalidParameter("file_url", f"refused: {exc}") from None
    except aiohttp.ClientError as exc:
        spool.close()
        os_error = getattr(exc, "os_error", None)
        if isinstance(os_error, RefusedAddress):
            raise InvalidParameter("file_url", f"refused: {os_error}") from None
        raise InvalidParameter("file_url", f"could not be fetched: {exc}"[:300]) from None
    except OSError as exc:
        spool.close()
        raise InvalidParameter("file_url", f"could not be fetched: {exc}"[:300]) from None
    except BaseException:
        spool.close()
        raise
    finally:
        await session.close()
    spool.seek(0)
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return Fetched(spool, content_type, name)
