"""Stored files in a real browser: an uploaded image shown as a task's attachment on the worker
page (through a signed URL of ours), and uploaded SVG and HTML documents whose scripts run
nothing, neither framed in the worker page nor opened directly on our origin."""

from __future__ import annotations

import struct
import zlib

import httpx
import pytest

from tests.factories import PASSWORD, VALID_PARAMS

pytestmark = pytest.mark.browser

CALLBACK = "http://127.0.0.1:9/callback"


def png(width: int, height: int) -> bytes:
    """A real PNG of solid red (the browser must decode it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


SCRIPT = "console.log('stored-file-script-ran'); try { parent.document.title = 'pwned' } catch (e) {}"
SVG = f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>{SCRIPT}</script></svg>'.encode()
HTML = f"<html><body><p id=x>uploaded page</p><script>{SCRIPT}</script></body></html>".encode()


def upload(server, customer, name: str, data: bytes, mime: str) -> str:
    r = httpx.post(f"{server.url}/v1/files/upload", files={"file": (name, data, mime)},
                   auth=customer.live_auth, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["attachment_url"]


def create(server, customer, **params) -> str:
    body = {**VALID_PARAMS["categorization"], "callback_url": CALLBACK, **params}
    r = httpx.post(f"{server.url}/v1/task/categorization", json=body, auth=customer.live_auth, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["task_id"]


def test_uploaded_image_on_the_worker_page_and_scripts_that_run_nothing(page, server, factory, sign_in):
    customer = factory.customer()
    image = create(server, customer, attachment_type="image",
                   attachment=upload(server, customer, "red.png", png(4, 3), "image/png"))
    svg = create(server, customer, attachment_type="image",
                 attachment=upload(server, customer, "x.svg", SVG, "image/svg+xml"))
    website = create(server, customer, attachment_type="website",
                     attachment=upload(server, customer, "x.html", HTML, "text/html"))
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    worker = factory.user("worker")
    sign_in(worker["email"], PASSWORD)
    page.click("text=Start working")

    page.wait_for_url(f"**/work/task/{image}")
    img = page.locator("img.attachment-media")
    src = img.get_attribute("src")
    assert src.startswith("/files/") and "signature=" in src
    page.wait_for_function("document.querySelector('img.attachment-media').complete")
    assert page.evaluate("[document.querySelector('img.attachment-media').naturalWidth, "
                         "document.querySelector('img.attachment-media').naturalHeight]") == [4, 3]
    title = page.title()
    page.click("text=Skip this task")

    page.wait_for_url(f"**/work/task/{svg}")
    svg_src = page.get_attribute("img.attachment-media", "src")
    page.wait_for_function("document.querySelector('img.attachment-media').complete")
    page.click("text=Skip this task")

    page.wait_for_url(f"**/work/task/{website}")
    frame_src = page.get_attribute("iframe.attachment-frame", "src")
    assert frame_src.startswith("/files/")
    frame = page.frame_locator("iframe.attachment-frame")
    assert frame.locator("#x").inner_text() == "uploaded page"  # shown, but its script does not run
    assert page.title() == title

    # Opened directly on our origin ("Open image in a new tab"): still nothing runs.
    for url in (svg_src, frame_src):
        page.goto(server.url + url)
        page.wait_for_load_state("load")
        # A sandboxed, opaque origin: not ours, so not even our cookies can be read.
        assert page.evaluate("(() => { try { document.cookie; return 'readable' } "
                             "catch (e) { return e.name } })()") == "SecurityError"
    page.evaluate("console.log('the listener hears scripts that do run')")
    assert "the listener hears scripts that do run" in messages
    assert not [m for m in messages if "stored-file-script-ran" in m], messages
    assert dialogs == [] and "pwned" not in page.title()
