"""The drawing tool (task_types/annotation/annotate.js) in headless Chromium, driven by real mouse drags and key
presses on an image this test makes and serves on 127.0.0.1 with objects at known places
(annotation_harness.py). Every coordinate the tool stores is checked against the intended one,
in the image's own pixels, at two zoom levels and two window sizes."""

from __future__ import annotations

import json

import pytest

from taskforce.errors import InvalidParameter
from taskforce.task_types import REGISTRY
from tests.browser.annotation_harness import HEIGHT, OBJECTS, WIDTH, serve

pytestmark = pytest.mark.browser

BIG, SMALL = {"width": 1280, "height": 800}, {"width": 820, "height": 620}
#: Each drawing condition: (window, wheel notches of zoom at the object, object drawn on).
CONDITIONS = [(BIG, 0, 0), (BIG, 3, 1), (SMALL, 0, 2), (SMALL, 3, 3)]


@pytest.fixture(scope="module")
def harness():
    with serve() as h:
        yield h


@pytest.fixture
def tool(page, harness):
    """open(type_name, **params): the tool on a fresh page; CSP reports and errors collected."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    def open_(type_name: str, window=BIG, **params):
        page.set_viewport_size(window)
        page.goto(harness.tool(type_name, **params))
        page.wait_for_selector(".annotator.ready")
        return page

    open_.problems = problems
    return open_


def image_box(page):
    return page.eval_on_selector("[data-image]", """img => { const r = img.getBoundingClientRect();
        return {left: r.left, top: r.top, width: r.width, height: r.height,
                nw: img.naturalWidth, nh: img.naturalHeight}; }""")


def screen(page, x, y):
    """Where the image pixel (x, y) is on the screen now, as a person would see it."""
    r = image_box(page)
    return r["left"] + x * r["width"] / r["nw"], r["top"] + y * r["height"] / r["nh"]


def drag(page, a, b, steps=8):
    page.mouse.move(*screen(page, *a))
    page.mouse.down()
    end = screen(page, *b)
    page.mouse.move(*end, steps=steps)
    page.mouse.up()


def click(page, p):
    page.mouse.click(*screen(page, *p))


def drawn(page):
    return json.loads(page.input_value("[data-output]"))


def zoom_at(page, p, notches):
    for _ in range(notches):
        page.mouse.move(*screen(page, *p))
        page.mouse.wheel(0, -100)
        page.wait_for_timeout(30)


def center(obj):
    left, top, w, h, _ = obj
    return left + w / 2, top + h / 2


def close(got: dict, want: dict, tolerance=1.0):
    return all(abs(got[k] - want[k]) <= tolerance for k in want)


def set_condition(page, window, notches, obj):
    page.set_viewport_size(window)
    page.wait_for_timeout(50)
    page.keyboard.press("f")
    zoom_at(page, center(obj), notches)


def test_boxes_at_two_zoom_levels_and_two_window_sizes(tool):
    page = tool("annotation")
    scales = []
    for window, notches, index in CONDITIONS:
        set_condition(page, window, notches, OBJECTS[index])
        scales.append(image_box(page)["width"] / WIDTH)
        left, top, w, h, _ = OBJECTS[index]
        drag(page, (left, top), (left + w, top + h))
    assert len({round(s, 3) for s in scales}) == 4, scales  # four different display scales
    # Zoomed in shows more screen pixels per image pixel; the small window fewer than the big one.
    assert scales[1] > 1.5 * scales[0] and scales[3] > 1.5 * scales[2] and scales[2] < scales[0] < 0.6, scales
    boxes = drawn(page)
    assert len(boxes) == 4
    for box, (window, notches, index) in zip(boxes, CONDITIONS):
        left, top, w, h, _ = OBJECTS[index]
        assert close(box, {"left": left, "top": top, "width": w, "height": h}), (box, window, notches)
    assert page.input_value("[data-image-width]") == str(WIDTH)
    assert page.input_value("[data-image-height]") == str(HEIGHT)
    assert not tool.problems


@pytest.mark.parametrize("type_name", ["polygonannotation", "lineannotation", "pointannotation"])
def test_polygons_lines_and_points_at_two_zoom_levels_and_two_window_sizes(tool, type_name):
    page = tool(type_name)
    want = []
    for window, notches, index in CONDITIONS:
        set_condition(page, window, notches, OBJECTS[index])
        left, top, w, h, _ = OBJECTS[index]
        corners = [(left, top), (left + w, top), (left + w, top + h), (left, top + h)]
        if type_name == "polygonannotation":
            for p in corners:
                click(page, p)
            click(page, corners[0])                 # clicking the first vertex closes it
            want.append(corners)
        elif type_name == "lineannotation":
            for p in corners[:3]:
                click(page, p)
            page.keyboard.press("Enter")            # ends the line, does not submit
            want.append(corners[:3])
        else:
            for p in corners[:2]:
                click(page, p)
            want.extend([[p] for p in corners[:2]])
    shapes = drawn(page)
    assert len(shapes) == len(want)
    for shape, points in zip(shapes, want):
        got = shape["vertices"] if "vertices" in shape else [shape]
        assert len(got) == len(points), shape
        for v, (x, y) in zip(got, points):
            assert close(v, {"x": x, "y": y}), (shape, points)
    assert not tool.problems


def test_resize_move_undo_redo_and_delete(tool):
    page = tool("annotation")
    left, top, w, h, _ = OBJECTS[0]
    drag(page, (left, top), (left + 100, top + 80))
    assert close(drawn(page)[0], {"left": left, "top": top, "width": 100, "height": 80})
    page.keyboard.press("s")
    click(page, (left + 50, top + 40))                        # select it
    assert page.locator("[data-handle]").count() == 4
    drag(page, (left + 100, top + 80), (left + w, top + h))   # bottom-right handle to the object's corner
    assert close(drawn(page)[0], {"left": left, "top": top, "width": w, "height": h})
    drag(page, (left + 10, top + 10), (left + 60, top + 30))  # move by (50, 20)
    assert close(drawn(page)[0], {"left": left + 50, "top": top + 20, "width": w, "height": h})
    page.keyboard.press("Control+z")
    assert close(drawn(page)[0], {"left": left, "top": top, "width": w, "height": h})
    page.keyboard.press("Control+z")
    assert close(drawn(page)[0], {"left": left, "top": top, "width": 100, "height": 80})
    page.keyboard.press("Control+Shift+z")
    assert close(drawn(page)[0], {"left": left, "top": top, "width": w, "height": h})
    click(page, (left + 50, top + 40))
    page.keyboard.press("Delete")
    assert drawn(page) == []
    page.click("[data-action=undo]")
    assert len(drawn(page)) == 1
    page.keyboard.press("Control+y")
    assert drawn(page) == []
    # A move never leaves the image.
    page.keyboard.press("Control+z")
    click(page, (left + 50, top + 40))
    drag(page, (left + 50, top + 40), (0, 0))
    assert drawn(page)[0]["left"] == 0 and drawn(page)[0]["top"] == 0


def test_a_box_under_the_minimum_is_refused_by_the_tool_and_by_the_answer_check(tool, harness):
    page = tool("annotation", min_width=60, min_height=40)
    drag(page, (500, 500), (540, 560))                       # 40 × 60: too narrow
    assert drawn(page) == []
    status = page.inner_text("[data-status]")
    assert "Box not added" in status and "60 × 40" in status
    drag(page, (500, 500), (570, 545))                       # 70 × 45: enough
    assert close(drawn(page)[0], {"left": 500, "top": 500, "width": 70, "height": 45})
    # Resizing cannot make it smaller than the minimum either.
    page.keyboard.press("s")
    click(page, (530, 520))
    drag(page, (570, 545), (505, 505))
    box = drawn(page)[0]
    assert box["width"] >= 60 and box["height"] >= 40, box
    # A page that skips the tool's check (the input forged) is refused by the answer check.
    page.eval_on_selector("[data-output]", "i => i.value = JSON.stringify([{left: 1, top: 1, width: 10, height: 10}])")
    page.click("[data-submit]")
    page.wait_for_function("() => document.body.innerText.includes('annotations')")
    task_type = REGISTRY.get("annotation")
    params = task_type.parse({"callback_url": "http://a.example/cb", "attachment": "http://a.example/i.png",
                              "objects_to_annotate": ["car"], "min_width": 60, "min_height": 40}).task_params()
    answer = harness.last_answer("annotation")
    assert answer["image_width"] == WIDTH
    with pytest.raises(InvalidParameter) as info:
        task_type.validate_response(params, answer)
    assert info.value.param == "annotations[0][width]"


def test_vertex_limits_while_drawing(tool):
    page = tool("polygonannotation", min_vertices=4, max_vertices=5)
    for p in [(100, 100), (300, 100), (300, 300)]:
        click(page, p)
    page.keyboard.press("Enter")
    assert drawn(page) == [] and "at least 4 vertices" in page.inner_text("[data-status]")
    click(page, (100, 300))
    page.keyboard.press("Enter")
    assert len(drawn(page)[0]["vertices"]) == 4
    for p in [(600, 100), (800, 100), (800, 300), (700, 400), (600, 300)]:
        click(page, p)                                        # the 5th vertex closes it: the maximum
    assert [len(s["vertices"]) for s in drawn(page)] == [4, 5]
    # A double click on the last vertex closes it too (once, not twice).
    for p in [(100, 500), (300, 500), (300, 700)]:
        click(page, p)
    page.mouse.dblclick(*screen(page, 100, 700))
    assert [(v["x"], v["y"]) for v in drawn(page)[2]["vertices"]] == [(100, 500), (300, 500), (300, 700), (100, 700)]
    # Backspace takes back a vertex, Esc drops the shape being drawn.
    click(page, (900, 100))
    click(page, (1000, 100))
    page.keyboard.press("Backspace")
    page.keyboard.press("Escape")
    assert len(drawn(page)) == 3


def test_labels_by_number_keys_and_hostile_labels_execute_nothing(tool):
    hostile = ['<img src=x onerror="window.__pwned=1">', '"><script>window.__pwned=2</script>',
               "car {{7*7}}"]
    page = tool("annotation", objects_to_annotate=hostile, with_labels=True)
    buttons = page.locator("[data-label-text]")
    assert [buttons.nth(i).inner_text() for i in range(3)] == hostile
    drag(page, (100, 120), (400, 320))
    page.keyboard.press("2")
    drag(page, (700, 400), (880, 660))
    page.keyboard.press("3")
    drag(page, (1200, 150), (1450, 270))
    page.keyboard.press("s")
    click(page, (150, 150))
    page.keyboard.press("3")                                   # relabels the selected box
    assert [b["label"] for b in drawn(page)] == [hostile[2], hostile[1], hostile[2]]
    tags = page.locator(".annot-label-tag")
    assert sorted(tags.nth(i).text_content() for i in range(3)) == sorted([hostile[2], hostile[1], hostile[2]])
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img").count() == 1 and page.locator("script").count() == 2
    assert not tool.problems


def test_every_shortcut_is_listed_and_enter_finishes_a_line_before_it_submits(tool, harness):
    page = tool("lineannotation", objects_to_annotate=["lane", "curb"], with_labels=True, splines=True)
    help_text = page.inner_text(".annot-help")
    for key in ("1", "2", "D", "S", "Enter", "Backspace", "Delete", "Esc", "Ctrl", "Z", "Y", "+", "F", "Space"):
        assert key in help_text, key
    before = len(harness.submitted)
    click(page, (100, 100))
    click(page, (400, 200))
    click(page, (700, 150))
    page.keyboard.press("Enter")
    assert len(drawn(page)) == 1 and len(harness.submitted) == before
    assert page.locator("path.annot-shape").count() == 1       # splines: drawn as a curve
    page.keyboard.press("Enter")                               # nothing being drawn: submits
    page.wait_for_function("() => document.body.innerText.includes('annotations')")
    assert len(harness.submitted) == before + 1
    answer = harness.last_answer("lineannotation")
    assert answer["annotations"][0]["label"] == "lane"
    assert [(v["x"], v["y"]) for v in answer["annotations"][0]["vertices"]] == [(100, 100), (400, 200), (700, 150)]


def test_a_refused_drawing_comes_back_to_be_fixed(tool):
    shapes = [{"left": 100, "top": 120, "width": 300, "height": 200, "label": "truck"},
              {"left": 700, "top": 400, "width": 10, "height": 10, "label": "car"}]
    page = tool("annotation", refused={"annotations": [json.dumps(shapes)]},
                objects_to_annotate=["car", "truck"], with_labels=True)
    assert drawn(page) == shapes
    assert page.locator("rect.annot-shape").count() == 2
    assert page.locator("rect.annot-shape.label-1").count() == 1      # truck: the second label
    page.keyboard.press("s")
    click(page, (705, 405))
    page.keyboard.press("Delete")
    assert drawn(page) == shapes[:1]


def test_vertices_and_points_are_edited_by_dragging(tool):
    page = tool("polygonannotation")
    for p in [(100, 120), (400, 120), (400, 320), (100, 320)]:
        click(page, p)
    page.keyboard.press("Enter")
    page.keyboard.press("s")
    click(page, (250, 220))                                   # select the polygon
    assert page.locator("[data-handle]").count() == 4
    drag(page, (400, 320), (450, 380))                        # its third vertex
    assert [(v["x"], v["y"]) for v in drawn(page)[0]["vertices"]] == [(100, 120), (400, 120), (450, 380), (100, 320)]
    page.keyboard.press("Control+z")
    assert drawn(page)[0]["vertices"][2] == {"x": 400, "y": 320}

    page = tool("pointannotation")
    click(page, (700, 400))
    page.keyboard.press("s")
    drag(page, (700, 400), (880, 660))                        # a point moves where it is dropped
    assert drawn(page) == [{"x": 880, "y": 660}]
