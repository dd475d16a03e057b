"""Templates reach each task type's partials through the registry: ``task_types/<name>/<file>``
is read from that type's ``templates`` folder, wherever the type lives (a type defined in the test
suite brings its own), and a page asks ``task_type_of(name)`` for the type of a task."""

from __future__ import annotations

from collections.abc import Callable

from jinja2 import BaseLoader, Environment, TemplateNotFound

from taskforce.task_types import REGISTRY, Registry
from taskforce.task_types.base import TEMPLATE_PREFIX, TaskType


class TaskTypeLoader(BaseLoader):
    """Loads ``task_types/<name>/<file>`` from the registered type's folder, and nothing else."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        if not template.startswith(TEMPLATE_PREFIX):
            raise TemplateNotFound(template)
        name, _, file = template[len(TEMPLATE_PREFIX):].partition("/")
        task_type = self.registry.find(name)
        # Only plain file names inside the type's own folder: never a path out of it.
        if task_type is None or not file or "/" in file or "\\" in file or file.startswith("."):
            raise TemplateNotFound(template)
        path = task_type.templates / file
        try:
            source = path.read_text(encoding="utf-8")
            mtime = path.stat().st_mtime
        except OSError:
            raise TemplateNotFound(template) from None

        def uptodate() -> bool:
            # Stale once the type is unregistered or replaced, or the file changes.
            if self.registry.find(name) is not task_type:
                return False
            try:
                return path.stat().st_mtime == mtime
            except OSError:
                return False

        return source, str(path), uptodate


def install(environment: Environment, registry: Registry = REGISTRY) -> None:
    """Put the types' partials behind the environment's own loader, and ``task_type_of``."""
    from jinja2 import ChoiceLoader

    environment.loader = ChoiceLoader([environment.loader, TaskTypeLoader(registry)])

    def task_type_of(name: str) -> TaskType | None:
        return registry.find(name)

    environment.globals["task_type_of"] = task_type_of
