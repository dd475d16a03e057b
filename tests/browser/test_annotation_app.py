"""Image annotation through the real app in headless Chromium: a worker draws labelled boxes on
a task's image (served on loopback by the test) and submits; the customer API returns them in the
image's pixels; the customer's dashboard draws them over the image, where the objects are."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.annotation_harness import OBJECTS, serve
from tests.browser.test_annotation_tool import drag
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def harness():
    with serve() as h:
        yield h


def test_a_worker_draws_boxes_and_the_dashboard_draws_them_over_the_image(page, server, factory, sign_in,
                                                                           harness):
    customer = factory.customer()
    task = factory.task(customer, "annotation", attachment=f"{harness.url}/image.png",
                        objects_to_annotate=["red", HOSTILE], min_width=30, min_height=30)
    worker = factory.user("worker")
    page.set_viewport_size({"width": 1100, "height": 800})
    sign_in(worker["email"], PASSWORD)
    page.click("text=Start working")
    page.wait_for_url(f"**/work/task/{task['id']}")
    page.wait_for_selector(".annotator.ready")
    assert page.inner_text("[data-label-index='1'] [data-label-text]") == HOSTILE
    for index, key in ((0, "1"), (1, "2")):
        left, top, w, h, _ = OBJECTS[index]
        page.keyboard.press(key)
        drag(page, (left, top), (left + w, top + h))
    drag(page, (900, 50), (910, 60))                           # under the minimum: refused
    assert "Box not added" in page.inner_text("[data-status]")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{server.url}/work")
    assert page.evaluate("window.__pwned") is None

    got = httpx.get(f"{server.url}/v1/task/{task['id']}", auth=customer.live_auth, timeout=10).json()
    assert got["status"] == "completed"
    boxes = got["response"]["annotations"]
    assert [b["label"] for b in boxes] == ["red", HOSTILE]
    for box, (left, top, w, h, _) in zip(boxes, OBJECTS):
        assert abs(box["left"] - left) <= 1 and abs(box["top"] - top) <= 1
        assert abs(box["width"] - w) <= 1 and abs(box["height"] - h) <= 1

    # The customer's dashboard: the boxes drawn where the objects are on the shown image.
    page.context.clear_cookies()
    sign_in(factory.user("customer", customer_id=customer.id)["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/tasks/{task['id']}")
    page.wait_for_selector(".annot-view.ready")
    assert page.get_attribute(".annot-view svg", "viewBox") == "0 0 1600 1000"
    image = page.eval_on_selector(".annot-view img", "i => { const r = i.getBoundingClientRect(); "
                                  "return [r.left, r.top, r.width / i.naturalWidth]; }")
    for i, (left, top, w, h, _) in enumerate(OBJECTS[:2]):
        rect = page.eval_on_selector(f"[data-shape='{i}'] rect", "r => { const b = r.getBoundingClientRect(); "
                                     "return [b.left, b.top, b.width, b.height]; }")
        want = [image[0] + left * image[2], image[1] + top * image[2], w * image[2], h * image[2]]
        assert all(abs(g - e) <= 2 for g, e in zip(rect, want)), (rect, want)
    assert HOSTILE in page.inner_text(".annot-list")
    assert page.evaluate("window.__pwned") is None
