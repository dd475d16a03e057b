"""Image annotation without a server: the four types' parameters, answer checks, the simulated
worker, the geometry, and several workers' shapes combined into one answer."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from taskforce.errors import InvalidParameter
from taskforce.task_types.annotation import box, consensus, geometry, line, point, polygon
from taskforce.task_types.annotation.form import answer_from_form
from taskforce.task_types.answers import Answer

MODULES = {"annotation": box, "polygonannotation": polygon, "lineannotation": line, "pointannotation": point}
BASE = {"callback_url": "http://www.example.com/callback", "attachment": "https://img.example/street.png",
        "objects_to_annotate": ["car", "person"]}


def parse(module, **overrides):
    return module.TASK_TYPE.parse({**BASE, **overrides})


def params(module, **overrides):
    return parse(module, **overrides).task_params()


def refused_param(call) -> str:
    with pytest.raises(InvalidParameter) as info:
        call()
    return info.value.param


# -- parameters -----------------------------------------------------------------------------------


def test_box_params_defaults_and_the_instruction_written_from_the_labels():
    p = parse(box)
    assert p.instruction == "Draw a box on every car, person."
    assert p.task_params() == {"attachment_type": "image", "attachment": BASE["attachment"],
                               "objects_to_annotate": ["car", "person"], "with_labels": False,
                               "min_width": 0, "min_height": 0}
    assert parse(box, instruction="Box the cars").instruction == "Box the cars"
    # Numbers from a form arrive as text.
    assert parse(box, min_width="12", min_height=8.0).task_params()["min_width"] == 12


@pytest.mark.parametrize(("overrides", "param"), [
    ({"objects_to_annotate": ["a", "b", "c", "d", "e", "f", "g"]}, "objects_to_annotate"),
    ({"objects_to_annotate": []}, "objects_to_annotate"),
    ({"objects_to_annotate": ["car", "car"]}, "objects_to_annotate"),
    ({"objects_to_annotate": ["x" * 101]}, "objects_to_annotate"),
    ({"attachment": "javascript:alert(1)"}, "attachment"),
    ({"attachment": "data:image/png;base64,AAAA"}, "attachment"),
    ({"attachment": "ftp://img.example/a.png"}, "attachment"),
    ({"attachment_type": "text"}, "attachment_type"),
    ({"attachment_type": "website"}, "attachment_type"),
    ({"with_labels": "maybe"}, "with_labels"),
    ({"min_width": -1}, "min_width"),
    ({"min_width": True}, "min_width"),
    ({"min_width": "1.5"}, "min_width"),
    ({"min_height": 4.5}, "min_height"),
    ({"min_height": "²"}, "min_height"),
    ({"layers": {"circles": []}}, "layers[circles]"),
    ({"layers": {"boxes": [{"left": 1, "top": 2, "width": "3", "height": 4}]}}, "layers[boxes][0]"),
    ({"layers": {"polygons": [{"vertices": [{"x": 1, "y": 2}]}]}}, "layers[polygons][0][vertices]"),
    ({"examples": [{"image": "javascript:x"}]}, "examples[0][image]"),
    ({"examples": [{"image": "http://a.example/e.png", "correct": "yes"}]}, "examples[0][correct]"),
])
def test_box_params_refused_naming_the_parameter(overrides, param):
    assert refused_param(lambda: parse(box, **overrides)) == param


def test_layers_and_examples_are_kept_as_numbers_and_text_only():
    p = params(box, layers={"boxes": [{"left": 1, "top": 2, "width": 3, "height": 4, "onclick": "x"}],
                            "lines": [{"vertices": [{"x": 0, "y": 0}, {"x": 5, "y": 5, "z": 1}]}]},
               examples=[{"image": "http://a.example/e.png", "explanation": "<b>tight</b>"}])
    assert p["layers"] == {"boxes": [{"left": 1, "top": 2, "width": 3, "height": 4}],
                           "lines": [{"vertices": [{"x": 0, "y": 0}, {"x": 5, "y": 5}]}]}
    assert p["examples"] == [{"image": "http://a.example/e.png", "correct": True, "explanation": "<b>tight</b>"}]


def test_vertex_limits():
    assert params(polygon)["min_vertices"] == 1 and "max_vertices" not in params(polygon)
    assert params(line, splines=True, max_vertices=2)["splines"] is True
    assert refused_param(lambda: parse(polygon, max_vertices=2)) == "max_vertices"
    assert refused_param(lambda: parse(line, min_vertices=5, max_vertices=4)) == "max_vertices"
    assert refused_param(lambda: parse(line, min_vertices=0)) == "min_vertices"
    assert refused_param(lambda: parse(line, splines="curvy")) == "splines"
    assert "min_vertices" not in params(point) and "min_width" not in params(polygon)


# -- answers --------------------------------------------------------------------------------------


def test_box_answers_in_pixels_with_labels_only_when_asked():
    p = params(box)
    got = box.validate_response(p, {"annotations": [{"left": 10, "top": 20.0, "width": 30.5, "height": 40,
                                                     "label": "car", "extra": "<script>"}]})
    assert got == {"annotations": [{"left": 10, "top": 20, "width": 30.5, "height": 40}]}
    p = params(box, with_labels=True)
    got = box.validate_response(p, {"annotations": [{"left": 1, "top": 2, "width": 3, "height": 4, "label": "car"}]})
    assert got == {"annotations": [{"left": 1, "top": 2, "width": 3, "height": 4, "label": "car"}]}
    assert box.validate_response(p, {"annotations": []}) == {"annotations": []}


@pytest.mark.parametrize(("answer", "param"), [
    ({}, "annotations"),
    ({"annotations": "boxes"}, "annotations"),
    ({"annotations": ["box"]}, "annotations[0]"),
    ({"annotations": [{"left": 1, "top": 2, "width": 3}]}, "annotations[0][height]"),
    ({"annotations": [{"left": "1", "top": 2, "width": 3, "height": 4}]}, "annotations[0][left]"),
    ({"annotations": [{"left": True, "top": 2, "width": 3, "height": 4}]}, "annotations[0][left]"),
    ({"annotations": [{"left": float("nan"), "top": 2, "width": 3, "height": 4}]}, "annotations[0][left]"),
    ({"annotations": [{"left": float("inf"), "top": 2, "width": 3, "height": 4}]}, "annotations[0][left]"),
    ({"annotations": [{"left": 1, "top": 2, "width": 0, "height": 4}]}, "annotations[0][width]"),
    ({"annotations": [{"left": 1, "top": 2, "width": 9, "height": 40}]}, "annotations[0][width]"),
    ({"annotations": [{"left": 1, "top": 2, "width": 40, "height": 9}]}, "annotations[0][height]"),
    ({"annotations": [{"left": 1, "top": 2, "width": 40, "height": 40}], "image_width": 30,
      "image_height": 100}, "annotations[0][width]"),
    ({"annotations": [{"left": -1, "top": 2, "width": 40, "height": 40}], "image_width": 300,
      "image_height": 100}, "annotations[0][left]"),
    ({"annotations": [], "image_width": "wide", "image_height": 100}, "image_width"),
    ({"annotations": [], "image_width": 0, "image_height": 100}, "image_width"),
    ({"annotations": [{"left": 1, "top": 2, "width": 40, "height": 40}] * 1001}, "annotations"),
])
def test_box_answers_refused(answer, param):
    p = params(box, min_width=10, min_height=10)
    assert refused_param(lambda: box.validate_response(p, answer)) == param


def test_labels_must_come_from_objects_to_annotate():
    p = params(point, with_labels=True)
    assert point.validate_response(p, {"annotations": [{"x": 1, "y": 2, "label": "person"}]}) == {
        "annotations": [{"label": "person", "x": 1, "y": 2}]}
    for label in (None, "", "Car", "<img src=x onerror=alert(1)>", 3):
        answer = {"annotations": [{"x": 1, "y": 2, "label": label}]}
        assert refused_param(lambda a=answer: point.validate_response(p, a)) == "annotations[0][label]"


def test_vertex_limits_and_bounds_in_answers():
    p = params(polygon, min_vertices=4, max_vertices=5)
    square = [{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 10}, {"x": 0, "y": 10}]
    assert polygon.validate_response(p, {"annotations": [{"vertices": square}]})["annotations"][0]["vertices"] == square
    assert refused_param(lambda: polygon.validate_response(p, {"annotations": [{"vertices": square[:3]}]})) == \
        "annotations[0][vertices]"
    assert refused_param(lambda: polygon.validate_response(p, {"annotations": [{"vertices": square * 2}]})) == \
        "annotations[0][vertices]"
    # Without min_vertices a polygon still needs three vertices, a line two.
    assert refused_param(lambda: polygon.validate_response(params(polygon), {"annotations": [
        {"vertices": square[:2]}]})) == "annotations[0][vertices]"
    assert line.validate_response(params(line), {"annotations": [{"vertices": square[:2]}]})
    assert refused_param(lambda: line.validate_response(params(line), {"annotations": [
        {"vertices": square[:1]}]})) == "annotations[0][vertices]"
    assert refused_param(lambda: line.validate_response(params(line), {
        "annotations": [{"vertices": square[:2]}], "image_width": 5, "image_height": 5})) == \
        "annotations[0][vertices][1]"
    assert refused_param(lambda: line.validate_response(params(line), {"annotations": [
        {"vertices": [{"x": 1}, {"x": 2, "y": 2}]}]})) == "annotations[0][vertices][0][y]"


@pytest.mark.parametrize("module", MODULES.values())
@pytest.mark.parametrize("task_id", ["6b0b50cfb3f219adee894347", "000000000000000000000000", "ffff"])
def test_simulated_answers_are_valid_inside_qvga_and_deterministic(module, task_id):
    p = params(module, with_labels=True, **({"min_width": 90, "min_height": 5} if module is box else {}),
               **({"min_vertices": 4, "max_vertices": 7} if module in (polygon, line) else {}))
    answer = module.simulated_response(task_id, p)
    assert answer == module.simulated_response(task_id, p)
    checked = module.validate_response(p, {**answer, "image_width": 320, "image_height": 240})
    assert 1 <= len(checked["annotations"]) <= 3
    assert all(a["label"] in ("car", "person") for a in checked["annotations"])


def test_form_decoding():
    form = {"annotations": '[{"left": 1, "top": 2, "width": 3, "height": 4}]', "image_width": "640",
            "image_height": "480"}
    assert answer_from_form({}, form) == {"annotations": [{"left": 1, "top": 2, "width": 3, "height": 4}],
                                      "image_width": 640, "image_height": 480}
    assert answer_from_form({}, {}) == {"annotations": None, "image_loaded": False}
    p = params(box)
    size = {"image_width": "640", "image_height": "480"}
    for bad, param in (({"annotations": "[{", **size}, "annotations"),
                       ({"annotations": "x" * 2_000_001, **size}, "annotations"),
                       ({"annotations": "[]", "image_width": "1e3", "image_height": "5"}, "image_width"),
                       # The image never loaded: an empty drawing is not "nothing there".
                       ({"annotations": "[]"}, "image")):
        assert refused_param(lambda b=bad: box.validate_response(p, answer_from_form(p, b))) == param


# -- geometry -------------------------------------------------------------------------------------


def test_box_and_polygon_iou_agree():
    a = {"left": 0, "top": 0, "width": 10, "height": 10}
    b = {"left": 5, "top": 0, "width": 10, "height": 10}
    assert geometry.box_iou(a, b) == pytest.approx(50 / 150)
    assert geometry.box_iou(a, {"left": 20, "top": 20, "width": 1, "height": 1}) == 0

    def as_polygon(r):
        x, y, w, h = r["left"], r["top"], r["width"], r["height"]
        return {"vertices": [{"x": x, "y": y}, {"x": x + w, "y": y}, {"x": x + w, "y": y + h}, {"x": x, "y": y + h}]}

    assert geometry.polygon_iou(as_polygon(a), as_polygon(b)) == pytest.approx(50 / 150)
    # A self-crossing outline (a bow tie) is repaired, not a crash.
    bow = {"vertices": [{"x": 0, "y": 0}, {"x": 10, "y": 10}, {"x": 10, "y": 0}, {"x": 0, "y": 10}]}
    assert 0 < geometry.polygon_iou(bow, as_polygon(a)) < 1


def test_point_and_line_similarity():
    assert geometry.point_similarity({"x": 0, "y": 0}, {"x": 3, "y": 4}) == pytest.approx(1 - 5 / 20)
    assert geometry.point_similarity({"x": 0, "y": 0}, {"x": 30, "y": 40}) == 0
    straight = {"vertices": [{"x": 0, "y": 0}, {"x": 100, "y": 0}]}
    shifted = {"vertices": [{"x": 0, "y": 2}, {"x": 50, "y": 2}, {"x": 100, "y": 2}]}
    assert geometry.line_distance(straight, shifted) == pytest.approx(2)
    assert geometry.line_similarity(straight, {"vertices": [{"x": 0, "y": 90}, {"x": 100, "y": 90}]}) == 0


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_matching_is_the_best_assignment(threshold):
    """Against every possible assignment: the largest total over pairs at or above the threshold."""
    rng = random.Random(7)
    for trial in range(150):
        n, m = rng.randint(1, 6), rng.randint(1, 6)
        # Ties and zeros too (whole quarters), as shapes that do not overlap all score 0.
        scores = [[rng.random() if trial % 2 else rng.randint(0, 4) / 4 for _ in range(m)] for _ in range(n)]
        got = geometry.match(list(range(n)), list(range(m)), lambda r, c: scores[r][c], threshold)

        def total(pairs):
            return sum(scores[r][c] for r, c in pairs if scores[r][c] >= threshold)

        k = min(n, m)
        if n <= m:
            best = max(total(enumerate(cols)) for cols in itertools.permutations(range(m), k))
        else:
            best = max(total((r, c) for c, r in enumerate(rows)) for rows in itertools.permutations(range(n), k))
        assert sum(s for _, _, s in got) == pytest.approx(best)
        assert all(s >= threshold and s == scores[r][c] for r, c, s in got)
        assert len({r for r, _, _ in got}) == len(got) == len({c for _, c, _ in got})


def test_a_crowded_image_combines_quickly():
    """Hundreds of boxes: shapes far apart never enter one assignment problem."""
    rng = random.Random(3)
    truth = [{"left": 40 * (i % 20), "top": 40 * (i // 20), "width": 36, "height": 36} for i in range(300)]
    answers = [Answer(w, {"annotations": noisy(rng, truth, 0.5)}) for w in (1, 2, 3)]
    started = time.perf_counter()
    got = box.combine(params(box), answers).response["annotations"]
    assert len(got) == 300
    assert time.perf_counter() - started < 5


# -- combining several workers --------------------------------------------------------------------

TRUTH = [{"left": 40, "top": 50, "width": 120, "height": 80}, {"left": 300, "top": 60, "width": 60, "height": 140},
         {"left": 150, "top": 250, "width": 200, "height": 90}, {"left": 420, "top": 300, "width": 80, "height": 60}]


def noisy(rng: random.Random, truth, sigma: float):
    out = []
    for t in truth:
        x1, y1 = t["left"] + rng.gauss(0, sigma), t["top"] + rng.gauss(0, sigma)
        x2, y2 = t["left"] + t["width"] + rng.gauss(0, sigma), t["top"] + t["height"] + rng.gauss(0, sigma)
        out.append({"left": round(x1), "top": round(y1), "width": round(x2 - x1), "height": round(y2 - y1)})
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("seed", range(20))
def test_three_noisy_workers_give_one_box_per_object_close_to_the_truth(seed):
    rng = random.Random(seed)
    answers = [Answer(worker_id=w, response={"annotations": noisy(rng, TRUTH, sigma=2.0)}) for w in (1, 2, 3)]
    combined = box.combine(params(box), answers)
    got = combined.response["annotations"]
    assert len(got) == len(TRUTH)
    for truth in TRUTH:
        best = max(got, key=lambda g: geometry.box_iou(g, truth))
        assert geometry.box_iou(best, truth) >= 0.9
        assert best["agreement"] == 1.0
    assert combined.method == "shape_consensus" and combined.confidence == 1.0
    assert combined.agreement == {f"annotations[{i}]": 1.0 for i in range(len(TRUTH))}
    # The combined box is no worse than the average worker's.
    for truth in TRUTH:
        mine = max(got, key=lambda g: geometry.box_iou(g, truth))
        workers = [max(a.response["annotations"], key=lambda g: geometry.box_iou(g, truth)) for a in answers]
        assert geometry.box_iou(mine, truth) >= sum(geometry.box_iou(w, truth) for w in workers) / len(workers) - 0.02


def test_a_shape_only_one_of_three_drew_is_dropped_and_two_of_three_kept():
    rng = random.Random(1)
    extra = {"left": 600, "top": 600, "width": 50, "height": 50}
    answers = [
        Answer(1, {"annotations": noisy(rng, TRUTH, 1.0) + [extra]}),
        Answer(2, {"annotations": noisy(rng, TRUTH[:3], 1.0)}),
        Answer(3, {"annotations": noisy(rng, TRUTH[:3], 1.0)}),
    ]
    got = box.combine(params(box), answers).response["annotations"]
    assert len(got) == 3
    assert all(a["agreement"] == 1.0 for a in got)
    answers[2] = Answer(3, {"annotations": noisy(rng, TRUTH, 1.0)})
    got = box.combine(params(box), answers)
    assert sorted(a["agreement"] for a in got.response["annotations"]) == [0.667, 1.0, 1.0, 1.0]
    assert got.confidence == pytest.approx((3 * 1 + 2 / 3 + 2 / 3) / 5, abs=1e-3)


def test_weights_decide_and_labels_keep_shapes_apart():
    p = params(box, with_labels=True)
    car = {"left": 0, "top": 0, "width": 100, "height": 100, "label": "car"}
    person = dict(car, label="person")
    answers = [Answer(1, {"annotations": [car]}, weight=3.0), Answer(2, {"annotations": [person]}),
               Answer(3, {"annotations": [person]})]
    got = box.combine(p, answers).response["annotations"]
    assert got == [dict(car, agreement=0.6)]
    # One answer: returned as drawn, with full agreement.
    assert box.combine(p, answers[:1]).response == {"annotations": [dict(car, agreement=1.0)]}
    # Everyone saw nothing: nothing, and sure of it.
    nothing = box.combine(p, [Answer(1, {"annotations": []}), Answer(2, {"annotations": []})])
    assert nothing.response == {"annotations": []} and nothing.confidence == 1.0


def test_points_lines_and_polygons_combine():
    pts = [Answer(w, {"annotations": [{"x": 100 + d, "y": 50 - d}, {"x": 10, "y": 10 + d}]}) for w, d in ((1, 0), (2, 2), (3, 5))]
    got = point.combine(params(point), pts).response["annotations"]
    assert sorted((a["x"], a["y"]) for a in got) == [(10, 12), (102, 48)]
    tri = [{"x": 0, "y": 0}, {"x": 100, "y": 0}, {"x": 50, "y": 80}]
    off = [{"x": v["x"] + 3, "y": v["y"]} for v in tri]
    far = [{"x": v["x"] + 400, "y": v["y"]} for v in tri]
    polys = [Answer(1, {"annotations": [{"vertices": tri}]}), Answer(2, {"annotations": [{"vertices": off}]}),
             Answer(3, {"annotations": [{"vertices": far}]})]
    got = polygon.combine(params(polygon), polys).response["annotations"]
    assert len(got) == 1 and got[0]["vertices"] in (tri, off) and got[0]["agreement"] == 0.667
    lines = [Answer(w, {"annotations": [{"vertices": [{"x": 0, "y": d}, {"x": 200, "y": d}]}]}) for w, d in ((1, 0), (2, 1), (3, 2))]
    got = line.combine(params(line), lines).response["annotations"]
    assert got == [{"vertices": [{"x": 0, "y": 1}, {"x": 200, "y": 1}], "agreement": 1.0}]


def test_weighted_median():
    assert consensus.weighted_median([1, 2, 3], [1, 1, 1]) == 2
    assert consensus.weighted_median([1, 2, 3, 4], [1, 1, 1, 1]) == 2.5
    assert consensus.weighted_median([1, 2, 3], [5, 1, 1]) == 1
