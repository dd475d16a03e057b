"""Jinja2 set-up: autoescape always on; every form gets ``csrf_field()``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from taskforce.clock import format_ms
from taskforce.web import sessions, type_templates

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.autoescape = True
type_templates.install(templates.env)


@pass_context
def _csrf_field(context: Any) -> Markup:
    token = sessions.csrf_token(context["request"])
    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(token)}">')


templates.env.globals["csrf_field"] = _csrf_field
# A customer's JSON as they wrote it: keys in their order, any script as itself (Jinja's tojson
# sorts keys and writes \u0645 and \u003c, being made for <script> blocks). Autoescaping makes
# the text safe in HTML.
templates.env.filters["as_written"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
templates.env.filters["when"] = lambda ms: (format_ms(ms) or "")[:19].replace("T", " ") if ms else ""


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", sessions.current_user(request))
    return templates.TemplateResponse(request, name, context, status_code=status_code)
