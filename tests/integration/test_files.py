"""Files over HTTP on both backends: upload and import (under the address policy, with a size
cap and a timeout), scaledata:// attachments only for their owner, and the signed URLs that
serve them with headers that keep a customer's HTML or SVG from acting as our pages."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from taskforce.app import create_app
from taskforce.files import signed_urls
from taskforce.tasks import service

from tests.factories import VALID_PARAMS
from tests.integration.test_callback_helpers import Answer, Receiver

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000185d7a8f30000000049454e44ae426082")
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _upload(client, auth, name="cat.png", data=PNG, mime="image/png", **fields):
    return client.post("/v1/files/upload", files={"file": (name, data, mime)}, data=fields, auth=auth)


def _app_client(settings, db, **changes):
    return TestClient(create_app(settings.model_copy(update=changes), db))


def test_upload_answers_the_file_and_serves_it_signed(client, factory, settings):
    customer = factory.customer()
    r = _upload(client, customer.live_auth, reference_id="ref-1", project_name="p")
    assert r.status_code == 200, r.text
    obj = r.json()
    assert re.fullmatch(r"scaledata://[0-9a-f]{24}", obj["attachment_url"])
    assert obj["attachment_url"] == "scaledata://" + obj["id"]
    assert obj["mime_type"] == "image/png" and obj["size"] == len(PNG) and obj["filename"] == "cat.png"
    assert obj["reference_id"] == "ref-1" and obj["project_name"] == "p" and obj["created_at"].endswith("Z")

    url = signed_urls.sign(settings.secret_key, obj["id"], seconds=60)
    got = client.get(url)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"].startswith("sandbox;")
    assert got.headers.get_list("content-security-policy") == [got.headers["content-security-policy"]]
    # Tampered, for another file, or expired: refused.
    assert client.get(url.replace(obj["id"], "0" * 24)).status_code == 403
    assert client.get(url[:-1] + ("0" if url[-1] != "0" else "1")).status_code == 403
    expired = signed_urls.sign(settings.secret_key, obj["id"], seconds=-1)
    assert client.get(expired).status_code == 403
    assert client.get(f"/files/{obj['id']}").status_code == 403


def test_an_uploaded_svg_or_html_is_served_sandboxed(client, factory, settings):
    customer = factory.customer()
    for name, data, mime in (("x.svg", SVG, "image/svg+xml"), ("x.html", b"<script>1</script>", "text/html")):
        obj = _upload(client, customer.live_auth, name, data, mime).json()
        got = client.get(signed_urls.sign(settings.secret_key, obj["id"], seconds=60))
        assert got.headers["content-type"] == mime  # no charset appended, exactly as stored
        assert "sandbox" in got.headers["content-security-policy"]
        assert "x-frame-options" in got.headers and got.headers["x-frame-options"] == "SAMEORIGIN"


def test_upload_errors(client, factory, settings, db):
    customer = factory.customer()
    auth = customer.live_auth
    assert client.post("/v1/files/upload", json={"file": "x"}, auth=auth).status_code == 415
    r = client.post("/v1/files/upload", files={"other": ("a", b"x")}, auth=auth)
    assert r.status_code == 400 and r.json()["error"].startswith("file: ")
    assert client.post("/v1/files/upload", files={"file": ("a", b"x")}).status_code == 401
    with _app_client(settings, db, file_max_bytes=1000) as small:
        r = _upload(small, auth, data=b"x" * 1001)
        assert r.status_code == 413 and r.json()["error"].startswith("file: ")
        assert _upload(small, auth, data=b"x" * 1000).status_code == 200
        # Chunked, with no Content-Length to refuse it by: counted as it streams in.
        boundary = "b0undary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()

        def chunked():
            yield head
            for _ in range(200):
                yield b"y" * 1024
            yield f"\r\n--{boundary}--\r\n".encode()

        r = small.post("/v1/files/upload", content=chunked(), auth=auth,
                       headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert r.status_code == 413 and r.json()["error"].startswith("file: ")
        assert small.get("/v1/tasks", auth=auth).status_code == 200  # the server carries on
    # A declared type that is not a plain type/subtype is replaced by a guess from the name.
    assert _upload(client, auth, "a.txt", b"hi", "nonsense").json()["mime_type"] == "text/plain"
    assert _upload(client, auth, "a", b"hi", "text/html; charset=\"x\"").json()["mime_type"] == "text/html"
    # No type and a name that says nothing (scaleapi 2.x's upload_file): recognised media only,
    # never sniffed into an active type.
    assert _upload(client, auth, "blob", PNG, "application/octet-stream").json()["mime_type"] == "image/png"
    assert _upload(client, auth, "blob", b"<html><script>", "").json()["mime_type"] == "application/octet-stream"


def test_scaledata_attachments_only_for_their_owner(client, factory):
    owner, stranger = factory.customer(), factory.customer()
    url = _upload(client, owner.live_auth).json()["attachment_url"]
    body = {**VALID_PARAMS["categorization"], "attachment_type": "image", "attachment": url}
    r = client.post("/v1/task/categorization", json=body, auth=owner.live_auth)
    assert r.status_code == 200 and r.json()["params"]["attachment"] == url
    r = client.post("/v1/task/categorization", json=body, auth=stranger.live_auth)
    assert r.status_code == 400 and r.json()["error"].startswith("attachment: ")
    r = client.post("/v1/task/categorization", json={**body, "attachment": "scaledata://" + "0" * 24},
                    auth=owner.live_auth)
    assert r.status_code == 400
    comparison = {**VALID_PARAMS["comparison"], "attachments": [url, "scaledata://" + "1" * 24]}
    r = client.post("/v1/task/comparison", json=comparison, auth=owner.live_auth)
    assert r.status_code == 400 and r.json()["error"].startswith("attachments[1]: ")


def test_the_worker_page_shows_a_stored_file_through_a_signed_url(client, factory, db):
    customer = factory.customer()
    url = _upload(client, customer.live_auth).json()["attachment_url"]
    body = {**VALID_PARAMS["categorization"], "attachment_type": "image", "attachment": url}
    client.post("/v1/task/categorization", json=body, auth=customer.live_auth)
    worker = factory.user("worker")
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600)
    from tests.factories import PASSWORD

    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"email": worker["email"], "password": PASSWORD, "csrf_token": token})
    html = client.get(f"/work/task/{lease.task_id}").text
    src = re.search(r'<img class="attachment-media" src="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert signed_urls.is_signed_path(src)
    assert client.get(src).content == PNG


def test_import_fetches_under_the_policy_with_limits(client, factory, settings, db):
    customer = factory.customer()
    auth = customer.live_auth
    with Receiver(answer=Answer(body=PNG, headers={"Content-Type": "image/png"})) as receiver:
        source = receiver.url.replace("/callback", "/pics/cat.png")
        r = client.post("/v1/files/import", json={"file_url": source, "display_name": "Cat"}, auth=auth)
        assert r.status_code == 200, r.text
        obj = r.json()
        assert obj["mime_type"] == "image/png" and obj["size"] == len(PNG) and obj["filename"] == "cat.png"
        assert obj["display_name"] == "Cat" and obj["file_url"] == source
        with _app_client(settings, db, file_max_bytes=10) as small:
            assert small.post("/v1/files/import", json={"file_url": source}, auth=auth).status_code == 413
        # Without the operator's permission, loopback is refused (no request is made).
        with _app_client(settings, db, callback_allowed_networks=[]) as strict:
            r = strict.post("/v1/files/import", json={"file_url": source}, auth=auth)
            assert r.status_code == 400 and "refused" in r.json()["error"]
        assert len(receiver.requests) == 2
    with Receiver(answer=Answer(status=302, headers={"Location": "http://169.254.169.254/"})) as receiver:
        r = client.post("/v1/files/import", json={"file_url": receiver.url}, auth=auth)
        assert r.status_code == 400 and "redirects are not followed" in r.json()["error"]
    with Receiver(answer=Answer(delay=3, body=PNG)) as receiver:
        with _app_client(settings, db, file_import_timeout_seconds=0.5) as hurried:
            r = hurried.post("/v1/files/import", json={"file_url": receiver.url}, auth=auth)
            assert r.status_code == 400 and "timed out" in r.json()["error"]
    r = client.post("/v1/files/import", json={"file_url": "file:///etc/passwd"}, auth=auth)
    assert r.status_code == 400 and r.json()["error"].startswith("file_url: ")
    assert client.post("/v1/files/import", json={}, auth=auth).status_code == 400


@pytest.mark.parametrize("metadata_url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x"])
def test_import_refuses_private_addresses_by_default(settings, db, factory, metadata_url):
    customer = factory.customer()
    with _app_client(settings, db, callback_allowed_networks=[]) as strict:
        r = strict.post("/v1/files/import", json={"file_url": metadata_url}, auth=customer.live_auth)
    assert r.status_code == 400 and "refused" in r.json()["error"]
