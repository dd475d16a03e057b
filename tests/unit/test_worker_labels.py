"""The worker's page names a refused answer's parameter as the page shows it (issue 13, item 17):
the field's description, "Row 2, Name", "Category"; the API keeps the customer's keys."""

from __future__ import annotations

import pytest

from taskforce.errors import InvalidParameter
from taskforce.task_types import REGISTRY
from taskforce.task_types.worker_labels import answer_label
from tests.factories import VALID_PARAMS


def params(type_name: str, **overrides):
    return REGISTRY.get(type_name).parse({**VALID_PARAMS[type_name], **overrides}).task_params()


def refusal(type_name: str, task_params, answer) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as info:
        REGISTRY.get(type_name).validate_response(task_params, answer)
    return info.value


CASES = [
    # (type, params overrides, answer, the API's message (unchanged), the worker's message)
    ("transcription", {}, {"fields": {"title": "", "top_result": "x"}},
     "fields[title]: is required",
     "Title of Webpage is empty: fill it in before you submit, or skip the task."),
    ("transcription", {}, {"fields": {"title": "x"}},
     "fields[top_result]: is missing",
     "Title of the top result was not sent with your answer: reload the page and answer again."),
    ("transcription", {}, {"fields": {"title": "x", "top_result": "y"},
                           "rows": [{"username": "a", "comment_count": "1"}, {"username": "", "comment_count": ""}]},
     "rows[1]: is empty; fill it in or remove it",
     "Row 2: is empty; fill it in or remove it"),
    ("transcription", {}, {"fields": {"title": "x", "top_result": "y"},
                           "rows": [{"username": "a", "comment_count": 3}]},
     "rows[0][comment_count]: must be a string",
     "Row 1, Number of comments: must be a string"),
    # A key holding brackets, and a field without a description: the key is all the page shows.
    ("transcription", {"fields": {"a]b[c": "Odd key", "plain": ""}}, {"fields": {"a]b[c": " ", "plain": "x"}},
     "fields[a]b[c]: is required", "Odd key is empty: fill it in before you submit, or skip the task."),
    ("transcription", {"fields": {"a": "A", "plain": ""}}, {"fields": {"a": "x", "plain": ""}},
     "fields[plain]: is required", "plain is empty: fill it in before you submit, or skip the task."),
    ("categorization", {}, {"category": ""}, "category: choose a category", "Category: choose a category"),
    ("comparison", {}, {"choice": "maybe"}, "choice: must be one of the task's choices",
     "Choice: must be one of the task's choices"),
    ("phonecall", {}, {"outcome": ""}, "outcome: choose how the call went: no_pickup, hung_up, success",
     "How the call went: choose how the call went: no_pickup, hung_up, success"),
    ("annotation", {}, {"annotations": [{"left": 1, "top": 2, "width": 40, "height": 40}],
                        "image_width": 100, "image_height": 100},
     None, "Shape 1, label: "),
]


@pytest.mark.parametrize(("type_name", "overrides", "answer", "api", "worker"), CASES)
def test_the_worker_sees_the_label_and_the_api_keeps_the_key(type_name, overrides, answer, api, worker):
    p = params(type_name, **overrides)
    exc = refusal(type_name, p, answer)
    if api is not None:
        assert exc.message == api
    shown = REGISTRY.get(type_name).worker_message(p, exc)
    assert shown.startswith(worker), shown
    assert "fields[" not in shown and "rows[" not in shown


def test_long_descriptions_are_cut_and_unknown_paths_fall_back():
    p = {"fields": {"k": "d" * 300}}
    assert answer_label(p, "fields[k]") == "d" * 79 + "…"
    assert answer_label(p, "fields[nope]") == "nope"
    assert answer_label(p, "something_else") is None
    assert answer_label({"repeatable_fields": {"n": "Name"}}, "rows[4][n]") == "Row 5, Name"
    assert answer_label({}, "rows[0][n]") == "Row 1, n"
    assert answer_label({"fields": ["not", "a", "map"]}, "fields[x]") == "x"  # an odd stored row


def test_a_type_may_name_its_own_inputs():
    import dataclasses

    base = REGISTRY.get("categorization")
    custom = dataclasses.replace(base, answer_label=lambda p, param: "Your pick" if param == "category" else None)
    exc = refusal("categorization", params("categorization"), {"category": ""})
    assert custom.worker_message({}, exc) == "Your pick: choose a category"
    # An unknown parameter keeps the whole message.
    assert base.worker_message({}, InvalidParameter("mystery", "is odd")) == "mystery: is odd"
