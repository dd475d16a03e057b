"""Each type's combine hook on real response shapes, multi-select per category, the task
object's ``quality``, and the dynamic-overlap decision."""

from __future__ import annotations

import pytest

from taskforce.quality.combiners import (
    COMBINERS,
    combine_categorization,
    combine_comparison,
    combine_phonecall,
    combine_transcription,
    quality_object,
)
from taskforce.quality.multiselect import combine_sets
from taskforce.quality.overlap import Next, all_disagree, next_step
from taskforce.quality.skills import ChoiceAnswer, SkillModel
from taskforce.task_types import REGISTRY
from taskforce.task_types.answers import Answer, Combined


def _a(worker_id, response, weight=1.0):
    return Answer(worker_id=worker_id, response=response, weight=weight)


CAT = {"categories": ["public", "private", "unknown"], "category_ids": {"p1": "public", "p2": "private"}}


def _trained_model() -> SkillModel:
    """Worker 1 always right, workers 2 and 3 always wrong on 40 gold tasks."""
    rows = []
    for t in range(40):
        truth = CAT["categories"][t % 3]
        wrong = CAT["categories"][(t + 1) % 3]
        rows += [ChoiceAnswer(t, 1, truth, tuple(CAT["categories"]), gold=truth),
                 ChoiceAnswer(t, 2, wrong, tuple(CAT["categories"]), gold=truth),
                 ChoiceAnswer(t, 3, CAT["categories"][(t + 2) % 3], tuple(CAT["categories"]), gold=truth)]
    model = SkillModel()
    model.fit_choices("categorization", rows)
    return model


def test_every_registered_type_has_a_combiner_whose_output_its_validator_accepts():
    responses = {
        "categorization": ({"categories": ["a", "b"]}, {"category": "a"}),
        "transcription": ({"fields": {"t": "T"}, "row_fields": {"r": "R"}}, {"fields": {"t": "x"}, "rows": [{"r": "y"}]}),
        "phonecall": ({"fields": {"e": "E"}}, {"outcome": "success", "fields": {"e": "a@b"}}),
        "comparison": ({"choices": ["l", "r"], "fields": {"f": "F"}}, {"choice": "l", "fields": {"f": "z"}}),
    }
    # The seed types combine with these; the annotation types bring their own hooks.
    assert set(COMBINERS) == set(responses) <= {t.name for t in REGISTRY}
    for name, (params, response) in responses.items():
        validate = REGISTRY.get(name).validate_response
        answer = validate(params, response)
        combined = REGISTRY.get(name).combine(params, [_a(1, answer), _a(2, answer), _a(3, answer)], None)
        assert validate(params, combined.response) == combined.response
        assert combined.confidence > 0.9 and all(v == 1.0 for v in combined.agreement.values())


def test_categorization_without_history_is_a_majority_with_ids():
    answers = [_a(1, {"category": "private"}), _a(2, {"category": "public"}), _a(3, {"category": "private"})]
    combined = combine_categorization(CAT, answers, None)
    assert combined.response == {"category": "private", "category_id": "p2"}
    assert combined.method == "majority" and combined.agreement == {"category": pytest.approx(2 / 3)}
    # Confidence is the posterior under the prior worker model: 2 of 3 is short of certain.
    assert 0.7 < combined.confidence < 0.9
    unanimous = combine_categorization(CAT, answers[::2] + [_a(4, {"category": "private"})], None)
    assert unanimous.confidence > 0.97


def test_a_majority_tie_goes_to_the_heavier_worker_then_the_first_answer():
    answers = [_a(1, {"category": "public"}, 1.0), _a(2, {"category": "private"}, 2.0)]
    assert combine_categorization(CAT, answers, None).response["category"] == "private"
    answers = [_a(1, {"category": "unknown"}), _a(2, {"category": "public"})]
    assert combine_categorization(CAT, answers, None).response["category"] == "unknown"


def test_dawid_skene_trusts_the_good_worker_over_two_who_agree():
    model = _trained_model()
    answers = [_a(1, {"category": "unknown"}), _a(2, {"category": "public"}), _a(3, {"category": "public"})]
    combined = combine_categorization(CAT, answers, model)
    assert combined.method == "dawid_skene"
    assert combined.response["category"] == "unknown" and combined.confidence > 0.9
    assert combined.weights[0] > combined.weights[1]
    # Without the skill model the two agreeing answers win.
    assert combine_categorization(CAT, answers, None).response["category"] == "public"


def test_one_known_worker_among_strangers_is_enough_for_dawid_skene():
    model = _trained_model()
    answers = [_a(1, {"category": "public"}), _a(50, {"category": "private"})]
    combined = combine_categorization(CAT, answers, model)
    assert combined.method == "dawid_skene" and combined.response["category"] == "public"


def test_multi_select_decides_each_category_by_weighted_vote():
    params = {**CAT, "allow_multiple": True}
    answers = [_a(1, {"category": ["public", "unknown"]}), _a(2, {"category": ["public"]}),
               _a(3, {"category": ["private", "unknown"]})]
    combined = combine_categorization(params, answers, None)
    assert combined.response == {"category": ["public", "unknown"], "category_id": ["p1"]}
    assert combined.method == "per_category"
    assert combined.agreement["category[public]"] == pytest.approx(2 / 3)
    assert combined.agreement["category[private]"] == pytest.approx(2 / 3)
    assert combined.agreement["category"] == pytest.approx(1 / 3)
    assert combined.confidence == pytest.approx(2 / 3)


def test_multi_select_ties_nothing_chosen_and_weights():
    cats = ["a", "b", "c"]
    tie = combine_sets(cats, [["a"], ["b"]], [1.0, 2.0])
    assert tie.chosen == ["b"] and tie.confidence == pytest.approx(2 / 3)
    # No category reaches half: the one with most weight is still chosen (an answer needs one).
    spread = combine_sets(cats, [["a"], ["b"], ["c"]], [1.0, 1.2, 1.0])
    assert spread.chosen == ["b"]
    # A spammer's zero weight does not count.
    assert combine_sets(cats, [["a"], ["c"]], [1.0, 0.0]).chosen == ["a"]
    assert combine_sets(cats, [["a"], ["c"]], [0.0, 0.0]).chosen == ["a"]
    with pytest.raises(ValueError):
        combine_sets(cats, [], [])


def test_transcription_combines_fields_and_rows():
    params = {"fields": {"title": "Title"}, "row_fields": {"user": "User", "points": "Points"}}
    answers = [
        _a(1, {"fields": {"title": "Ask HN: Café"}, "rows": [{"user": "ann", "points": "10"}, {"user": "bob", "points": "7"}]}),
        _a(2, {"fields": {"title": "ask hn:  café"}, "rows": [{"user": "bob", "points": "7"}, {"user": "ann", "points": "10"}]}),
        _a(3, {"fields": {"title": "Ask HN Cafe"}, "rows": [{"user": "ann", "points": "1O"}]}),
    ]
    combined = combine_transcription(params, answers, None)
    assert combined.response["fields"] == {"title": "Ask HN: Café"}
    assert combined.response["rows"] == [{"user": "ann", "points": "10"}, {"user": "bob", "points": "7"}]
    assert combined.agreement == {"fields[title]": pytest.approx(2 / 3), "rows": pytest.approx(2 / 3)}
    assert combined.method == "text_agreement" and combined.confidence == pytest.approx(2 / 3)


def test_transcription_falls_back_to_the_most_skilled_worker():
    model = SkillModel()
    for _ in range(10):
        model.record("transcription", 2, 1.0)
    answers = [_a(1, {"fields": {"t": "one"}, "rows": []}), _a(2, {"fields": {"t": "two"}, "rows": []}),
               _a(3, {"fields": {"t": "three"}, "rows": []})]
    combined = combine_transcription({"fields": {"t": "T"}}, answers, model)
    assert combined.response["fields"]["t"] == "two"
    assert combined.agreement["fields[t]"] == pytest.approx(1 / 3)
    assert all_disagree(combined, 3)


def test_phonecall_fields_come_from_the_calls_with_the_chosen_outcome():
    params = {"fields": {"email": "Email"}}
    answers = [_a(1, {"outcome": "success", "fields": {"email": "a@example.com"}}),
               _a(2, {"outcome": "no_pickup", "fields": {"email": ""}}),
               _a(3, {"outcome": "no_pickup", "fields": {"email": ""}}),
               _a(4, {"outcome": "success", "fields": {"email": "A@example.com "}}),
               _a(5, {"outcome": "success", "fields": {"email": "x@example.com"}})]
    combined = combine_phonecall(params, answers, None)
    assert combined.response == {"outcome": "success", "fields": {"email": "a@example.com"}}
    assert combined.agreement == {"outcome": 0.6, "fields[email]": pytest.approx(2 / 3)}
    assert combined.method == "majority+text_agreement"
    assert combined.confidence == pytest.approx(2 / 3)


def test_comparison_choice_only_fields_only_and_both():
    choice = combine_comparison({"choices": ["left", "right"]},
                                [_a(1, {"choice": "right"}), _a(2, {"choice": "right"})], None)
    assert choice.response == {"choice": "right"} and choice.method == "majority"
    fields = combine_comparison({"fields": {"diff": "Difference"}},
                                [_a(1, {"fields": {"diff": "colour"}}), _a(2, {"fields": {"diff": "Colour"}})], None)
    assert fields.response == {"fields": {"diff": "colour"}} and fields.method == "text_agreement"
    assert fields.confidence == 1.0
    both = combine_comparison({"choices": ["l", "r"], "fields": {"d": "D"}},
                              [_a(1, {"choice": "l", "fields": {"d": "x"}}), _a(2, {"choice": "r", "fields": {"d": "y"}})], None)
    assert both.method == "majority+text_agreement" and both.confidence == 0.5
    assert all_disagree(both, 2)


def test_combining_nothing_is_refused():
    for combine in COMBINERS.values():
        with pytest.raises(ValueError):
            combine(CAT, [], None)


def test_quality_object_is_json_ready_and_rounded():
    answers = [_a(1, {"category": "public"}), _a(2, {"category": "public"}), _a(3, {"category": "private"})]
    combined = combine_categorization(CAT, answers, None)
    quality = quality_object(combined, answers)
    assert quality == {"answers": 3, "confidence": round(combined.confidence, 4), "method": "majority",
                       "agreement": {"category": 0.6667}}


def _c(confidence, **agreement):
    return Combined(response={}, confidence=confidence, method="majority", agreement=agreement)


@pytest.mark.parametrize(("n", "combined", "expected"), [
    (2, _c(0.99, category=1.0), Next.MORE),            # fewer than overlap
    (3, _c(0.97, category=1.0), Next.FINAL),           # confident
    (3, _c(0.80, category=2 / 3), Next.MORE),          # not yet, room left
    (4, _c(0.90, category=0.75), Next.MORE),
    (5, _c(0.90, category=0.8), Next.REVIEW),          # max_overlap reached below min_confidence
    (5, _c(0.96, category=0.6), Next.FINAL),
    (3, _c(0.99, category=1 / 3), Next.MORE),          # all disagree: more while there is room
    (5, _c(0.99, category=0.2), Next.REVIEW),          # ... and review at the cap
])
def test_dynamic_overlap(n, combined, expected):
    assert next_step(n, combined, overlap=3, max_overlap=5, min_confidence=0.95) is expected


def test_fixed_overlap_is_final_unless_all_disagree():
    assert next_step(3, _c(0.5, category=2 / 3), overlap=3) is Next.FINAL
    assert next_step(3, _c(0.5, category=1 / 3), overlap=3) is Next.REVIEW
    assert next_step(1, _c(1.0, category=1.0), overlap=1) is Next.FINAL
    # A confidence floor without max_overlap: review at overlap.
    assert next_step(3, _c(0.5, category=1.0), overlap=3, min_confidence=0.9) is Next.REVIEW
    assert next_step(0, None, overlap=1) is Next.MORE


def test_all_disagree_needs_every_field_to_disagree():
    assert not all_disagree(_c(0.5, a=1 / 3, b=2 / 3), 3)
    assert all_disagree(_c(0.5, a=1 / 3, b=1 / 3), 3)
    assert not all_disagree(_c(0.5, a=1.0), 1)
    assert not all_disagree(_c(0.5), 3)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"overlap": 0}, "overlap"), ({"overlap": 3, "max_overlap": 2}, "max_overlap"),
    ({"overlap": 1, "min_confidence": 1.5}, "min_confidence"),
])
def test_bad_overlap_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        next_step(1, _c(1.0), **kwargs)


def test_answer_agreement_scores_each_answer_against_the_combined_response():
    from taskforce.quality.combiners import answer_agreement

    params = {"fields": {"a": "A", "b": "B"}, "row_fields": {"r": "R"}}
    answers = [_a(1, {"fields": {"a": "X", "b": "y"}, "rows": [{"r": "1"}, {"r": "2"}]}),
               _a(2, {"fields": {"a": "x ", "b": "Y"}, "rows": [{"r": "2"}, {"r": "1"}]}),
               _a(3, {"fields": {"a": "z", "b": "y"}, "rows": [{"r": "1"}]})]
    combined = combine_transcription(params, answers, None)
    assert answer_agreement(combined, answers) == [1.0, 1.0, pytest.approx(1 / 3)]

    multi = {**CAT, "allow_multiple": True}
    answers = [_a(1, {"category": ["public", "private"]}), _a(2, {"category": ["public"]}),
               _a(3, {"category": ["public"]})]
    combined = combine_categorization(multi, answers, None)
    assert answer_agreement(combined, answers) == [0.5, 1.0, 1.0]

    answers = [_a(1, {"outcome": "success", "fields": {"e": "a@b"}}), _a(2, {"outcome": "no_pickup", "fields": {"e": ""}}),
               _a(3, {"outcome": "success", "fields": {"e": "A@B"}})]
    combined = combine_phonecall({"fields": {"e": "E"}}, answers, None)
    assert answer_agreement(combined, answers) == [1.0, 0.0, 1.0]

    model = SkillModel()
    for answer, agreed in zip(answers, answer_agreement(combined, answers), strict=True):
        model.record("phonecall", answer.worker_id, agreed)
    assert model.weight(1, "phonecall") > model.weight(2, "phonecall")


def test_phonecall_fields_from_a_single_call_are_not_agreement():
    answers = [_a(1, {"outcome": "success", "fields": {"e": "a@b"}}),
               _a(2, {"outcome": "no_pickup", "fields": {"e": ""}}),
               _a(3, {"outcome": "hung_up", "fields": {"e": ""}})]
    combined = combine_phonecall({"fields": {"e": "E"}}, answers, None)
    assert combined.agreement == {"outcome": pytest.approx(1 / 3), "fields[e]": pytest.approx(1 / 3)}
    assert all_disagree(combined, 3)
    assert next_step(3, combined, overlap=3, max_overlap=3, min_confidence=0.5) is Next.REVIEW
