"""Gold for the image annotation types without a server: a worker's shapes paired with the
expected ones (IoU for boxes and polygons, distance for points and lines, labels when the task
has them), right only when every expected shape is found and nothing else was drawn; and the
text/choice default the other types keep."""

from __future__ import annotations

import pytest

from taskforce.quality import gold
from taskforce.task_types import REGISTRY
from taskforce.task_types.annotation import gold as annotation_gold

BASE = {"callback_url": "http://www.example.com/callback", "attachment": "https://img.example/street.png",
        "objects_to_annotate": ["car", "person"]}


def params(type_name, **overrides):
    return REGISTRY.get(type_name).parse({**BASE, **overrides}).task_params()


def right(type_name, expected, given, **overrides):
    task_type = REGISTRY.get(type_name)
    p = params(type_name, **overrides)
    # Both sides as stored: checked by the type's own answer validation first.
    expected = task_type.validate_response(p, {"annotations": expected})
    given = task_type.validate_response(p, {"annotations": given})
    return gold.matches(task_type, p, expected, given)


def box(left, top, width=100, height=50, **label):
    return {"left": left, "top": top, "width": width, "height": height, **label}


def square(x, y, side=100, **label):
    return {"vertices": [{"x": x, "y": y}, {"x": x + side, "y": y}, {"x": x + side, "y": y + side},
                         {"x": x, "y": y + side}], **label}


def test_boxes_match_by_iou_one_to_one_and_nothing_extra():
    expected = [box(10, 10), box(300, 300)]
    # Order does not matter; a few pixels off is the same box (IoU well above 0.5).
    assert right("annotation", expected, [box(304, 297), box(12, 8, 98, 52)])
    # IoU 0.5 exactly is a match, just below is not: 100x50 against 100x50 shifted by 1/3.
    assert right("annotation", [box(0, 0, 90, 50)], [box(30, 0, 90, 50)])  # IoU 60/120 = 0.5
    assert not right("annotation", [box(0, 0, 90, 50)], [box(31, 0, 90, 50)])
    # A missed box, an extra box, a box elsewhere: wrong.
    assert not right("annotation", expected, [box(10, 10)])
    assert not right("annotation", expected, [box(10, 10), box(300, 300), box(600, 10)])
    assert not right("annotation", expected, [box(10, 10), box(600, 600)])
    # Two given boxes on one expected box: one is extra.
    assert not right("annotation", [box(10, 10)], [box(10, 10), box(12, 11)])
    # Nothing to draw: right only when nothing was drawn.
    assert right("annotation", [], [])
    assert not right("annotation", [], [box(10, 10)])
    assert not right("annotation", [box(10, 10)], [])


def test_labels_must_agree_when_the_task_has_them():
    expected = [box(10, 10, label="car"), box(300, 300, label="person")]
    assert right("annotation", expected, [box(10, 10, label="car"), box(300, 300, label="person")],
                 with_labels=True)
    assert not right("annotation", expected, [box(10, 10, label="person"), box(300, 300, label="car")],
                     with_labels=True)
    # Two overlapping objects of different labels pair within their label only.
    crowded = [box(10, 10, label="car"), box(15, 12, label="person")]
    assert right("annotation", crowded, [box(14, 12, label="person"), box(11, 10, label="car")],
                 with_labels=True)
    # Without labels they are not compared (validation drops them).
    assert right("annotation", expected, [box(10, 10, label="person"), box(300, 300, label="car")])


def test_polygons_match_by_iou():
    assert right("polygonannotation", [square(0, 0)], [square(10, 10)])  # IoU 8100/11900 ≈ 0.68
    assert not right("polygonannotation", [square(0, 0)], [square(40, 40)])  # IoU 3600/16400 ≈ 0.22
    # A worker's outline with more vertices along the same edges is the same polygon.
    detailed = {"vertices": [{"x": 0, "y": 0}, {"x": 50, "y": 0}, {"x": 100, "y": 0}, {"x": 100, "y": 100},
                             {"x": 0, "y": 100}]}
    assert right("polygonannotation", [square(0, 0)], [detailed])
    assert not right("polygonannotation", [square(0, 0, label="car")], [square(0, 0, label="person")],
                     with_labels=True)


def test_points_match_within_the_radius():
    # Similarity 1 - d/20 must reach 0.5: within 10 pixels.
    assert right("pointannotation", [{"x": 100, "y": 100}], [{"x": 106, "y": 108}])  # 10 px
    assert not right("pointannotation", [{"x": 100, "y": 100}], [{"x": 111, "y": 100}])
    assert right("pointannotation", [{"x": 100, "y": 100}, {"x": 110, "y": 100}],
                 [{"x": 111, "y": 100}, {"x": 99, "y": 100}])  # the pairing is the best one


def test_lines_match_by_mean_distance_of_their_vertices():
    expected = [{"vertices": [{"x": 0, "y": 0}, {"x": 200, "y": 0}]}]
    # Drawn 5 px lower with an extra vertex on the way: the same line.
    assert right("lineannotation", expected, [{"vertices": [{"x": 0, "y": 5}, {"x": 100, "y": 5},
                                                            {"x": 200, "y": 5}]}])
    assert not right("lineannotation", expected, [{"vertices": [{"x": 0, "y": 15}, {"x": 200, "y": 15}]}])
    # Only half of it: the far end is 100 px off.
    assert not right("lineannotation", expected, [{"vertices": [{"x": 0, "y": 0}, {"x": 100, "y": 0}]}])


def test_score_counts_what_was_found():
    p = params("annotation")
    score = annotation_gold.score("box", p, {"annotations": [box(10, 10), box(300, 300)]},
                                  {"annotations": [box(10, 10), box(600, 600), box(700, 10)]})
    assert (score.expected, score.given, score.matched, score.correct) == (2, 3, 1, False)


@pytest.mark.parametrize("type_name", ["categorization", "comparison", "transcription", "phonecall"])
def test_the_other_types_keep_the_normalised_text_default(type_name):
    from taskforce.task_types.answers import same_answer

    assert REGISTRY.get(type_name).gold_matches is same_answer


def test_the_default_compares_choices_and_text_up_to_case_and_spacing():
    task_type = REGISTRY.get("categorization")
    assert gold.matches(task_type, {}, {"category": "public"}, {"category": "Public"})
    assert not gold.matches(task_type, {}, {"category": "public"}, {"category": "private"})
    assert gold.matches(task_type, {}, {"fields": {"title": "hello world"}}, {"fields": {"title": "  Hello   World"}})
    assert not gold.matches(task_type, {}, {"fields": {"title": "Hell"}}, {"fields": {"title": "Hello"}})
