"""The registry (register, unregister, a type for one block only) and the template loader that
finds each type's partials through it. No database."""

from __future__ import annotations

import dataclasses

import pytest
from jinja2 import Environment, TemplateNotFound

from taskforce.task_types import REGISTRY, Registry
from taskforce.web.type_templates import TaskTypeLoader
from tests.custom_type import NAME, RATING


def test_the_built_in_types_and_nothing_left_over():
    # Whatever ran before: no test's throwaway type is still registered.
    assert [t.name for t in REGISTRY] == ["categorization", "transcription", "phonecall", "comparison",
                                          "annotation", "polygonannotation", "lineannotation", "pointannotation"]
    assert set(REGISTRY.by_endpoint) == {"categorize", "categorization", "transcription", "phonecall",
                                         "comparison", "annotation", "polygonannotation", "lineannotation",
                                         "pointannotation"}


def test_registered_is_undone_even_when_the_block_fails():
    registry = Registry()
    with pytest.raises(RuntimeError), registry.registered(RATING):
        assert registry.get(NAME) is RATING and registry.by_endpoint["rate"] is RATING
        raise RuntimeError("boom")
    assert registry.find(NAME) is None and registry.by_endpoint == {}


def test_a_refused_type_leaves_no_trace():
    registry = Registry()
    registry.register(RATING)
    clash = dataclasses.replace(RATING, name="other", endpoints=("fresh", "rate"))
    with pytest.raises(ValueError, match="endpoint 'rate'"):
        registry.register(clash)
    assert registry.find("other") is None and "fresh" not in registry.by_endpoint
    with pytest.raises(ValueError, match="already registered"):
        registry.register(RATING)
    assert registry.unregister(NAME) is RATING and list(registry) == []
    with pytest.raises(KeyError):
        registry.unregister(NAME)


def test_a_type_must_bring_its_partials(tmp_path):
    (tmp_path / "form.html").write_text("x")
    with pytest.raises(ValueError, match="response.html"):
        dataclasses.replace(RATING, templates=tmp_path)


def test_the_loader_serves_registered_types_only_and_only_their_folder(tmp_path):
    registry = Registry()
    env = Environment(loader=TaskTypeLoader(registry), autoescape=True)
    name = RATING.response_template
    with pytest.raises(TemplateNotFound):
        env.get_template(name)
    with registry.registered(RATING):
        html = env.get_template(name).render(params={"scale": 5}, response={"rating": 2, "note": "<b>"})
        assert "<strong data-rating>2</strong> of 5" in html and "&lt;b&gt;" in html
        for bad in [f"task_types/{NAME}/../__init__.py", f"task_types/{NAME}/sub/form.html",
                    f"task_types/{NAME}/", f"task_types/{NAME}/.hidden", f"task_types/{NAME}/nope.html",
                    "task_types/categorization/../../../../etc/passwd", "answer/_fields.html"]:
            with pytest.raises(TemplateNotFound):
                env.get_template(bad)
    # Unregistered: the cached template is stale and no longer found.
    with pytest.raises(TemplateNotFound):
        env.get_template(name)
