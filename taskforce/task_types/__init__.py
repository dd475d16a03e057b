"""Task types and their registry. A new type is one module (or folder) here plus its tests: no
other file names it. The API's routes and OpenAPI enums, the worker's answer page, the dashboard's
task page and the test-mode worker all ask the registry.

A type is a ``base.TaskType``:

``name``, ``endpoints``
    The task object's ``type`` and the path segments under ``/v1/task/`` that create it.
``params_model``
    A ``base.CreateParams`` subclass: the type's parameters (``PARAMS``, in the order the task's
    ``params`` show them) and their checks. Unknown parameters are ignored; a model-level error
    starts with the parameter's name.
``validate_response(params, answer) -> response``
    Checks one worker's answer, raising ``errors.InvalidParameter`` naming what is wrong.
``answer_from_form(params, form) -> answer``
    Reads the worker's submitted form (``forms.FormLike``) into an answer for
    ``validate_response``. Input names are positions (``field-0``, ``row-1-2``, ``category=3``),
    never a customer's text; ``forms`` has the helpers. It never raises: what it cannot read
    becomes a value the check refuses.
``form_values(params, form) -> dict`` (optional)
    What the form partial sees as ``values``: the refused submission's input to fill in again
    (``form`` is None on the first view) and anything else worked out in Python.
``templates``
    The type's folder, holding two Jinja partials (autoescaped, reached through the registry as
    ``task_types/<name>/form.html``, so a type living anywhere, even in the test suite, brings
    its own):

    ``form.html``
        The inputs inside the worker's answer ``<form>``; context ``task``, ``params``,
        ``values``. A ``<fieldset data-shortcuts>`` makes keys 1–9 pick its radios or checkboxes;
        a ``[data-row-table]`` gets the add/remove-row behaviour (``static/work.js``). Shared
        macros: ``answer/_attachment.html`` (``attachment``), ``answer/_fields.html``
        (``field_inputs``); the transcription type's rows table is an example of ``data-row-table``.
    ``response.html``
        A completed response on the dashboard's task page; context ``task``, ``params``,
        ``response`` (either may hold anything an older row stored: draw defensively). Shared
        macros: ``answer/_response.html`` (``choice_list``, ``field_answers``, ``row_answers``).
``scripts``, ``stylesheets`` (optional)
    File names in ``templates`` that the worker's page and the dashboard's task page load for the
    type, served at ``/task-types/<name>/<file>`` (the Content-Security-Policy allows no inline
    script or style). Nothing else of the folder is served.
``simulated_response(task_id, params) -> response``
    A deterministic valid answer: test-mode tasks are completed with it.
``combine(params, answers, skills) -> answers.Combined``
    Several workers' answers into one response; ``answers.combine_single`` (the default) returns
    the one answer unchanged.
``gold_matches(params, expected, given) -> bool`` (optional)
    Whether a worker's answer on a gold task is right: ``answers.same_answer`` (the default)
    compares choices and text up to case and spacing; the annotation types match shapes.

The built-in types are registered at the end of this module. Routes and /openapi.json are built
when an app is created, so a type registered elsewhere must be registered before ``create_app``;
``REGISTRY.registered(task_type)`` registers one for a block only (tests/custom_type does).
Non-Python files of a type folder inside this package are shipped by pyproject's package-data
(``task_types/**/*.html``, ``*.js``, ``*.css``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from taskforce.task_types import annotation, categorization, comparison, phonecall, transcription
from taskforce.task_types.base import TaskType


class Registry:
    def __init__(self) -> None:
        self.by_name: dict[str, TaskType] = {}
        self.by_endpoint: dict[str, TaskType] = {}

    def register(self, task_type: TaskType) -> None:
        # Check everything before changing anything, so a refused type leaves no trace.
        if task_type.name in self.by_name:
            raise ValueError(f"task type {task_type.name!r} is already registered")
        taken = [e for e in task_type.endpoints if e in self.by_endpoint]
        if taken:
            raise ValueError(f"endpoint {taken[0]!r} is already registered")
        self.by_name[task_type.name] = task_type
        for endpoint in task_type.endpoints:
            self.by_endpoint[endpoint] = task_type

    def unregister(self, name: str) -> TaskType:
        """Forget a type (its tasks stay in the database; pages then show them without a form)."""
        task_type = self.by_name.pop(name)
        for endpoint in task_type.endpoints:
            self.by_endpoint.pop(endpoint, None)
        return task_type

    @contextmanager
    def registered(self, task_type: TaskType) -> Iterator[TaskType]:
        """The type is registered inside the block only (tests add throwaway types with it)."""
        self.register(task_type)
        try:
            yield task_type
        finally:
            self.unregister(task_type.name)

    def __iter__(self) -> Iterator[TaskType]:
        return iter(list(self.by_name.values()))

    def get(self, name: str) -> TaskType:
        return self.by_name[name]

    def find(self, name: str) -> TaskType | None:
        return self.by_name.get(name)


REGISTRY = Registry()
for _module in (categorization, transcription, phonecall, comparison, *annotation.MODULES):
    REGISTRY.register(_module.TASK_TYPE)
