"""The contract every registered type keeps (the four built-in ones and the test suite's own):
any submitted form becomes an answer without raising, which the type's check accepts or refuses
with ``InvalidParameter``; its partials render for any form, for the answer it accepted and for
whatever an old row may hold. No database."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import FormData

from taskforce.errors import InvalidParameter
from taskforce.task_types import REGISTRY
from taskforce.web import worker_views  # noqa: F401 - registers the templates' globals
from taskforce.web.templating import templates
from tests.custom_type import RATING
from tests.factories import VALID_PARAMS

# An app installs the signed-URL helper for stored files (files/serving.py); these tests build
# no app, so http(s) attachments pass through as they are.
templates.env.globals.setdefault("attachment_src", lambda value: value)

CASES: list[tuple[str, dict[str, Any]]] = [
    ("categorization", VALID_PARAMS["categorization"]),
    ("categorization", {**VALID_PARAMS["categorization"], "allow_multiple": True,
                        "category_ids": {"1": "public"}}),
    ("transcription", VALID_PARAMS["transcription"]),
    ("transcription", {**VALID_PARAMS["transcription"], "row_fields": None,
                       "repeatable_fields": {"a": "A"}}),
    ("phonecall", VALID_PARAMS["phonecall"]),
    ("phonecall", {**VALID_PARAMS["phonecall"], "choices": ["x", "y"]}),
    ("comparison", {**VALID_PARAMS["comparison"], "fields": {"why": "Why?"}}),
    ("rating", {"callback_url": "http://www.example.com/cb", "instruction": "Rate", "text": "t", "scale": 3}),
]

NAMES = st.sampled_from(["category", "choice", "outcome", "rating", "note", "field-0", "field-1",
                         "field-9", "row-0-0", "row-0-1", "row-10-0", "row-999-999", "rows", "fields"])
VALUES = st.one_of(st.sampled_from(["0", "1", "2", "9", "-1", "²", "０", "", "success", "x" * 20]),
                   st.text(max_size=12))
FORMS = st.lists(st.tuples(NAMES, VALUES), max_size=12)


def _task_type(name: str):
    return RATING if name == RATING.name else REGISTRY.get(name)


def _render(template: str, **context: Any) -> str:
    return templates.env.get_template(template).render(task={"id": "t", "type": "x"}, **context)


@pytest.fixture(autouse=True, scope="module")
def rating_registered():
    with REGISTRY.registered(RATING):
        yield


@pytest.mark.parametrize(("type_name", "raw"), CASES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=FORMS)
def test_any_form_is_an_answer_accepted_or_refused_by_name(type_name, raw, items):
    task_type = _task_type(type_name)
    params = task_type.parse(raw).task_params()
    form = FormData(items)
    answer = task_type.answer_from_form(params, form)
    assert isinstance(answer, dict)
    try:
        response = task_type.validate_response(params, answer)
    except InvalidParameter as exc:
        assert exc.param
        response = None
    # The partials draw whatever came in: the form refilled, the response accepted.
    _render(task_type.form_template, params=params, values=task_type.form_values(params, form))
    if response is not None:
        _render(task_type.response_template, params=params, response=response)


@pytest.mark.parametrize(("type_name", "raw"), CASES)
def test_the_partials_draw_a_first_view_and_odd_stored_responses(type_name, raw):
    task_type = _task_type(type_name)
    params = task_type.parse(raw).task_params()
    html = _render(task_type.form_template, params=params, values=task_type.form_values(params, None))
    assert "<input" in html
    simulated = task_type.simulated_response("0" * 24, params)
    assert task_type.validate_response(params, simulated) == simulated
    _render(task_type.response_template, params=params, response=simulated)
    for odd in ({}, {"fields": "x", "rows": "y", "category": 3, "outcome": None, "choice": [1]}):
        _render(task_type.response_template, params=params, response=odd)
