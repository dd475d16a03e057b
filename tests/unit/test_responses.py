"""Each task type's answer checks: the response shapes of the seed, and every wrong answer refused
with the parameter named. Pure functions; no database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskforce.errors import InvalidParameter
from taskforce.task_types import REGISTRY
from tests.factories import VALID_PARAMS


def params(type_name: str, **overrides):
    return REGISTRY.get(type_name).parse({**VALID_PARAMS[type_name], **overrides}).task_params()


def check(type_name: str, task_params, answer):
    return REGISTRY.get(type_name).validate_response(task_params, answer)


def refused(type_name: str, task_params, answer, param: str) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as info:
        check(type_name, task_params, answer)
    assert info.value.param == param, info.value.message
    return info.value


# -- categorization ----------------------------------------------------------------------------

def test_categorization_single_and_with_ids():
    p = params("categorization")
    assert check("categorization", p, {"category": "private"}) == {"category": "private"}
    p = params("categorization", categories=["Blue Cross", "Red Cross"],
               category_ids={"123": "Blue Cross", "124": "Red Cross"})
    assert check("categorization", p, {"category": "Blue Cross"}) == {
        "category": "Blue Cross", "category_id": "123"}


def test_categorization_multiple_keeps_the_customers_order_and_ids_as_a_list():
    p = params("categorization", categories=["a", "b", "c"], allow_multiple=True,
               category_ids={"1": "a", "3": "c"})
    assert check("categorization", p, {"category": ["c", "a", "c"]}) == {
        "category": ["a", "c"], "category_id": ["1", "3"]}
    # One box ticked is still a list.
    assert check("categorization", p, {"category": "b"}) == {"category": ["b"], "category_id": []}


@pytest.mark.parametrize("answer", [
    {}, {"category": ""}, {"category": "neither"}, {"category": ["public"]}, {"category": 3},
    {"category": {"public": 1}}, {"category": "PUBLIC"},
])
def test_categorization_wrong_answers(answer):
    refused("categorization", params("categorization"), answer, "category")


@pytest.mark.parametrize("answer", [{"category": []}, {"category": ["public", "nope"]},
                                    {"category": [["public"]]}, {}])
def test_categorization_multiple_wrong_answers(answer):
    refused("categorization", params("categorization", allow_multiple=True), answer, "category")


# -- transcription -----------------------------------------------------------------------------

FIELDS = {"title": "Reddit", "top_result": "Cats"}


def test_transcription_shape():
    p = params("transcription")
    rows = [{"username": "kn0thing", "comment_count": "12"}, {"username": "spez", "comment_count": ""}]
    assert check("transcription", p, {"fields": FIELDS, "rows": rows}) == {"fields": FIELDS, "rows": rows}
    assert check("transcription", p, {"fields": FIELDS}) == {"fields": FIELDS, "rows": []}
    # Keys come back in the customer's order whatever order the answer used.
    out = check("transcription", p, {"fields": {"top_result": "Cats", "title": "Reddit"}})
    assert list(out["fields"]) == ["title", "top_result"]


def test_transcription_ten_rows_yes_eleven_no():
    p = params("transcription")
    row = {"username": "u", "comment_count": "1"}
    assert len(check("transcription", p, {"fields": FIELDS, "rows": [row] * 10})["rows"]) == 10
    err = refused("transcription", p, {"fields": FIELDS, "rows": [row] * 11}, "rows")
    assert "at most 10" in err.problem


@pytest.mark.parametrize(("answer", "param"), [
    ({"fields": {"title": "x"}}, "fields[top_result]"),                      # a missing field
    ({"fields": {**FIELDS, "title": "   "}}, "fields[title]"),               # blank
    ({"fields": {**FIELDS, "extra": "x"}}, "fields[extra]"),                 # not asked for
    ({"fields": {**FIELDS, "title": 5}}, "fields[title]"),
    ({"fields": {**FIELDS, "title": "a\x00b"}}, "fields[title]"),
    ({"fields": {**FIELDS, "title": "x" * 10_001}}, "fields[title]"),
    ({"fields": ["title"]}, "fields"),
    ({}, "fields[title]"),
    ({"fields": FIELDS, "rows": {"username": "u"}}, "rows"),
    ({"fields": FIELDS, "rows": [{"username": "u"}]}, "rows[0][comment_count]"),
    ({"fields": FIELDS, "rows": [{"username": "", "comment_count": " "}]}, "rows[0]"),
    ({"fields": FIELDS, "rows": ["u"]}, "rows[0]"),
])
def test_transcription_wrong_answers(answer, param):
    refused("transcription", params("transcription"), answer, param)


def test_transcription_rows_without_row_fields():
    p = params("transcription", row_fields=None)
    refused("transcription", p, {"fields": FIELDS, "rows": [{"a": "b"}]}, "rows")


def test_transcription_repeatable_fields_is_row_fields_by_its_later_name():
    spec = {"username": "Username of submitter", "comment_count": "Number of comments"}
    p = params("transcription", row_fields=None, repeatable_fields=spec)
    # Kept under the name sent, never both.
    assert p["repeatable_fields"] == spec and "row_fields" not in p
    assert "repeatable_fields" not in params("transcription")
    rows = [{"username": "kn0thing", "comment_count": "12"}]
    assert check("transcription", p, {"fields": FIELDS, "rows": rows}) == {"fields": FIELDS, "rows": rows}
    refused("transcription", p, {"fields": FIELDS, "rows": [{"user": "x"}]}, "rows[0][user]")
    refused("transcription", p, {"fields": FIELDS, "rows": [rows[0]] * 11}, "rows")


def test_transcription_refuses_both_names():
    with pytest.raises(InvalidParameter) as info:
        params("transcription", repeatable_fields={"a": "A"})
    assert info.value.param == "repeatable_fields" and "row_fields" in info.value.problem
    with pytest.raises(InvalidParameter) as info:
        params("transcription", row_fields=None, repeatable_fields={"": "A"})
    assert info.value.param == "repeatable_fields"


# -- phonecall ---------------------------------------------------------------------------------

def test_phonecall_shape():
    p = params("phonecall")
    assert check("phonecall", p, {"outcome": "success", "fields": {"email": "a@b.c"}}) == {
        "outcome": "success", "fields": {"email": "a@b.c"}}
    assert check("phonecall", p, {"outcome": "no_pickup", "fields": {"email": ""}}) == {
        "outcome": "no_pickup", "fields": {"email": ""}}
    no_fields = params("phonecall", fields=None)
    assert check("phonecall", no_fields, {"outcome": "hung_up"}) == {"outcome": "hung_up", "fields": {}}


@pytest.mark.parametrize(("answer", "param"), [
    ({"fields": {"email": ""}}, "outcome"),
    ({"outcome": "voicemail", "fields": {"email": ""}}, "outcome"),
    ({"outcome": ["success"], "fields": {"email": ""}}, "outcome"),
    ({"outcome": "success"}, "fields[email]"),
    ({"outcome": "success", "fields": {"email": "", "phone": ""}}, "fields[phone]"),
])
def test_phonecall_wrong_answers(answer, param):
    refused("phonecall", params("phonecall"), answer, param)


def test_phonecall_choices_are_the_outcomes():
    p = params("phonecall", choices=["reached", "voicemail", "wrong number"])
    assert p["choices"] == ["reached", "voicemail", "wrong number"]
    assert check("phonecall", p, {"outcome": "voicemail", "fields": {"email": ""}}) == {
        "outcome": "voicemail", "fields": {"email": ""}}
    # The standard outcomes are not among this task's choices.
    err = refused("phonecall", p, {"outcome": "success", "fields": {"email": ""}}, "outcome")
    assert "reached, voicemail, wrong number" in err.problem
    refused("phonecall", p, {"outcome": -1, "fields": {"email": ""}}, "outcome")
    assert "choices" not in params("phonecall")


@pytest.mark.parametrize(("choices", "problem"), [
    ([], "must not be empty"), (["a", "a"], "duplicates"), (["a", " "], "must not be empty"),
    ("a", "must be an array"), ([1], "must be a string"),
])
def test_phonecall_bad_choices(choices, problem):
    with pytest.raises(InvalidParameter) as info:
        params("phonecall", choices=choices)
    assert info.value.param.startswith("choices") and problem in info.value.problem


# -- comparison --------------------------------------------------------------------------------

def test_comparison_shapes():
    assert check("comparison", params("comparison"), {"choice": "no"}) == {"choice": "no"}
    both = params("comparison", fields={"why": "Why?"})
    assert check("comparison", both, {"choice": "yes", "fields": {"why": "stripes"}}) == {
        "choice": "yes", "fields": {"why": "stripes"}}
    only_fields = params("comparison", choices=None, fields={"diff": "What differs?"})
    assert check("comparison", only_fields, {"fields": {"diff": "colour"}}) == {"fields": {"diff": "colour"}}


@pytest.mark.parametrize(("task_params", "answer", "param"), [
    ({}, {}, "choice"),
    ({}, {"choice": "maybe"}, "choice"),
    ({}, {"choice": ["yes"]}, "choice"),
    ({"fields": {"why": "Why?"}}, {"choice": "yes", "fields": {"why": ""}}, "fields[why]"),
    ({"fields": {"why": "Why?"}}, {"choice": "yes"}, "fields[why]"),
])
def test_comparison_wrong_answers(task_params, answer, param):
    refused("comparison", params("comparison", **task_params), answer, param)


# -- the simulated worker always gives an answer its own type accepts ---------------------------

VARIANTS = [
    ("categorization", {}),
    ("categorization", {"allow_multiple": True, "categories": ["a", "b", "c", "d"],
                        "category_ids": {"1": "a", "2": "b"}}),
    ("transcription", {}),
    ("transcription", {"row_fields": None}),
    ("transcription", {"row_fields": None, "repeatable_fields": {"a": "A", "b": "B"}}),
    ("phonecall", {}),
    ("phonecall", {"fields": None}),
    ("phonecall", {"choices": ["reached", "voicemail"]}),
    ("comparison", {}),
    ("comparison", {"choices": None, "fields": {"a": "A", "b": "B"}}),
]


@pytest.mark.parametrize(("type_name", "overrides"), VARIANTS)
@given(task_id=st.text(alphabet="0123456789abcdef", min_size=24, max_size=24))
def test_simulated_responses_pass_validation(type_name, overrides, task_id):
    task_type = REGISTRY.get(type_name)
    p = params(type_name, **overrides)
    response = task_type.simulated_response(task_id, p)
    assert task_type.validate_response(p, response) == response
