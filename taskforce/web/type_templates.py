"""Templates reach each task type's partials through the registry: ``task_types/<name>/<file>``
is read from that type's ``templates`` folder, wherever the type lives (a type defined in the test
suite brings its own), and a page asks ``task_type_of(name)`` for the type of a task. The type's
``scripts`` and ``stylesheets`` are served from the same folder at ``/task-types/<name>/<file>``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from jinja2 import BaseLoader, ChoiceLoader, Environment, TemplateNotFound
from starlette.responses import FileResponse, PlainTextResponse, Response

from taskforce.task_types import REGISTRY, Registry
from taskforce.task_types.base import ASSET_PREFIX, TEMPLATE_PREFIX, TaskType

router = APIRouter(include_in_schema=False)
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


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
    environment.loader = ChoiceLoader([environment.loader, TaskTypeLoader(registry)])

    def task_type_of(name: str) -> TaskType | None:
        return registry.find(name)

    environment.globals["task_type_of"] = task_type_of


@router.get(ASSET_PREFIX + "{name}/{file}")
def task_type_asset(name: str, file: str) -> Response:
    """One of a registered type's declared scripts or stylesheets; nothing else of its folder."""
    task_type = REGISTRY.find(name)
    if task_type is None or file not in (*task_type.scripts, *task_type.stylesheets):
        return PlainTextResponse("Not found", status_code=404)
    media_type = next((t for suffix, t in _MEDIA_TYPES.items() if file.endswith(suffix)), "text/plain")
    return FileResponse(task_type.templates / file, media_type=media_type)
