"""What every task type shares: the common create parameters, the attachment rules, turning
pydantic's errors into one ``InvalidParameter`` that names the parameter, and ``TaskType``."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from taskforce.errors import InvalidParameter
from taskforce.task_types import worker_labels
from taskforce.json_values import check_values
from taskforce.task_types.answers import Answer, Combined, Skills, combine_single, same_answer
from taskforce.task_types.forms import FormLike, raw_form_values
from taskforce.tasks.status import Urgency

#: Where templates find a type's partials: ``task_types/<name>/<file>`` (web/type_templates.py).
TEMPLATE_PREFIX = "task_types/"
#: Where the web app serves a type's ``scripts`` and ``stylesheets`` (web/type_templates.py).
ASSET_PREFIX = "/task-types/"
#: The partials every type brings, in its ``templates`` folder.
PARTIALS = ("form.html", "response.html")

ATTACHMENT_TYPES = ("text", "image", "video", "audio", "website", "pdf")


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it everywhere so both backends behave alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _at_most_200(value: str) -> str:
    if len(value) > 200:
        raise ValueError("must be at most 200 characters")
    return value


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host: the only kind we ever fetch, link or embed."""
    if any(c in value for c in "\x00\r\n\t ") or value != value.strip():
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _http_url(value: str) -> str:
    if not is_http_url(value):
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


# What /openapi.json says of each kind of string: what the validators above enforce, as far as
# JSON Schema can say it (a client validating against the schema must not be told a value is
# fine that the API refuses).
_NO_NUL = "^[^\\u0000]*$"
_NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
_HTTP_URL = ("^[Hh][Tt][Tt][Pp][Ss]?://([^\\s\\u0000/?#@]*@)?"  # scheme, user
             "([^\\s\\u0000/?#@:\\[\\]]+|\\[[0-9A-Fa-f:.]+\\])"  # a host (an IPv6 one bracketed)
             "(:[0-9]{0,5})?([/?#][^\\s\\u0000]*)?$")
STR_SCHEMA = {"type": "string", "pattern": _NO_NUL}
NON_EMPTY_SCHEMA = {"type": "string", "minLength": 1, "pattern": _NOT_BLANK}
HTTP_URL_SCHEMA = {"type": "string", "format": "uri", "pattern": _HTTP_URL}

Str = Annotated[StrictStr, AfterValidator(_no_nul), WithJsonSchema(STR_SCHEMA)]
NonEmptyStr = Annotated[StrictStr, AfterValidator(_no_nul), AfterValidator(_not_blank),
                        WithJsonSchema(NON_EMPTY_SCHEMA)]
HttpUrl = Annotated[StrictStr, AfterValidator(_no_nul), AfterValidator(_http_url),
                    WithJsonSchema(HTTP_URL_SCHEMA)]
AttachmentType = Literal["text", "image", "video", "audio", "website", "pdf"]
FieldMap = Annotated[dict[NonEmptyStr, Str], WithJsonSchema(
    {"type": "object", "propertyNames": NON_EMPTY_SCHEMA, "additionalProperties": STR_SCHEMA})]
#: Fits the 200-character project/batch/unique_id columns on both backends.
Label = Annotated[StrictStr, AfterValidator(_no_nul), AfterValidator(_not_blank),
                  AfterValidator(_at_most_200), Field(max_length=200),
                  WithJsonSchema({**NON_EMPTY_SCHEMA, "maxLength": 200})]


#: Most answers one task may collect (``overlap`` and ``max_overlap``).
MAX_OVERLAP = 9


def _whole_number(value: Any) -> Any:
    # JSON gives an int; a form body gives its text. Booleans and fractions are refused.
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError("must be a number") from None
    if not isinstance(value, (int, float)) or value != value:  # NaN
        raise ValueError("must be a number")
    return float(value)


def _overlap_range(value: int) -> int:
    if not 1 <= value <= MAX_OVERLAP:
        raise ValueError(f"must be between 1 and {MAX_OVERLAP}")
    return value


def _unit_interval(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")
    return value


OVERLAP_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_OVERLAP}
Overlap = Annotated[int, BeforeValidator(_whole_number), AfterValidator(_overlap_range),
                    WithJsonSchema(OVERLAP_SCHEMA)]
Confidence = Annotated[float, BeforeValidator(_number), AfterValidator(_unit_interval),
                       WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})]


class CreateParams(BaseModel):
    """Parameters every create endpoint takes. Subclasses add the type's own."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    #: Field names stored in the task's ``params`` object, in the seed's order.
    PARAMS: ClassVar[tuple[str, ...]] = ()

    callback_url: HttpUrl = Field(description="Absolute http(s) URL POSTed when the task completes.")
    instruction: NonEmptyStr = Field(description="Plaintext instruction shown to the worker.")
    # The values of tasks.status.Urgency, so /openapi.json's create schemas follow the enum too.
    urgency: Literal[tuple(u.value for u in Urgency)] = Field("day", description="Queue priority.")  # type: ignore[valid-type]
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Any JSON object; returned on the task as given."
    )
    # Later clients (scaleapi 2.x) group tasks and de-duplicate them; stored in their own
    # columns (200 characters, as the columns are), not in ``params``.
    project: Label | None = Field(None, description="A project name; `GET /v1/tasks?project=` filters on it.")
    batch: Label | None = Field(None, description="A batch name; `GET /v1/tasks?batch=` filters on it.")
    unique_id: Label | None = Field(
        None, description="Your own id for the task: a second task with the same unique_id is refused (409)."
    )
    # Redundancy (issue 10): stored in the task's own columns (answers_needed, max_answers,
    # min_confidence), not in ``params``: they steer the queue, not the worker.
    overlap: Overlap = Field(1, description="Workers' answers collected before they are combined (1-9).")
    max_overlap: Overlap | None = Field(
        None, description="Dynamic overlap: ask one more worker at a time, up to this many answers, "
                          "until the combined answer's confidence reaches min_confidence.")
    min_confidence: Confidence | None = Field(
        None, description="0-1: the confidence the combined answer must reach (needs max_overlap "
                          "unless it is only to send doubtful answers to review).")

    @model_validator(mode="after")
    def _redundancy(self) -> CreateParams:
        if self.max_overlap is not None:
            if self.max_overlap < self.overlap:
                raise ValueError(f"max_overlap must be at least overlap ({self.overlap})")
            if self.min_confidence is None:
                raise ValueError("min_confidence is required with max_overlap (the confidence "
                                 "that stops asking more workers)")
        return self

    def task_params(self) -> dict[str, Any]:
        """The ``params`` object: the type's parameters that were given, nothing else."""
        out: dict[str, Any] = {}
        for name in self.PARAMS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


def check_attachment(param: str, attachment_type: str | None, attachment: str) -> None:
    """Non-text attachments must be absolute http(s) URLs (never ``javascript:`` or ``data:``),
    or ``scaledata://ID`` for a file the customer stored (checked to be theirs at create)."""
    from taskforce.files.records import is_scaledata_url

    if attachment_type != "text" and not is_http_url(attachment) and not is_scaledata_url(attachment):
        raise ValueError(f"{param} must be an absolute http:// or https:// URL (or a scaledata:// "
                         f"file URL) when attachment_type is {attachment_type!r}")


_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "bool_type": "must be a boolean (true or false)",
    "bool_parsing": "must be a boolean (true or false)",
    "too_short": None,  # pydantic's message names the minimum
}


def _loc_name(loc: tuple[Any, ...]) -> str:
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        elif name:
            # pydantic reports a bad dict key as "[key]" under "[key-part]"; keep it readable.
            name += "[key]" if part == "[key]" else f"[{part}]"
        else:
            name = str(part)
    return name


def raise_invalid(exc: ValidationError) -> typing.NoReturn:
    err = exc.errors(include_url=False)[0]
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    if kind == "value_error":
        problem = str(err.get("ctx", {}).get("error", err.get("msg", "")))
    elif kind == "literal_error":
        problem = "must be one of " + str(err.get("ctx", {}).get("expected", ""))
    else:
        problem = _MESSAGES.get(kind) or err.get("msg", "is invalid")
    if len(loc) >= 2 and loc[-1] == "[key]":
        # A bad key of a map: pydantic's location ends (key, "[key]"); name the map, not the key.
        raise InvalidParameter(_loc_name(loc[:-2]), f"keys {problem}")
    # Model-level checks (model_validator) carry the parameter at the start of their message.
    if not loc and " " in problem:
        param, _, rest = problem.partition(" ")
        raise InvalidParameter(param, rest)
    raise InvalidParameter(_loc_name(loc), problem)


# -- how a parameter is decoded from a form body: by its declared type, never by its keys --

Kind = Literal["scalar", "bool", "array", "dict", "object"]


def _kind_of(annotation: Any) -> Kind:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kind_of(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = {_kind_of(a) for a in get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else "scalar"
    if origin is list or annotation is list:
        return "array"
    if origin is dict or annotation is dict:
        args = get_args(annotation)
        return "object" if args and args[1] is Any else "dict"
    if annotation is bool:
        return "bool"
    return "scalar"


def param_kinds(model: type[BaseModel]) -> dict[str, Kind]:
    return {name: _kind_of(f.annotation) for name, f in model.model_fields.items()}


@dataclass(frozen=True, kw_only=True)
class TaskType:
    """One kind of task, whole: everything the API, the queue, the worker page, the dashboard and
    the test-mode worker need to know about it. See the package docstring for the contract."""

    #: The task object's ``type``.
    name: str
    #: Path segments under ``/v1/task/`` that create it.
    endpoints: tuple[str, ...]
    params_model: type[CreateParams]
    #: Checks a worker's answer against the task's params; returns the stored ``response``.
    validate_response: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
    #: A valid answer chosen deterministically from the task (test mode's simulated worker).
    simulated_response: Callable[[str, Mapping[str, Any]], dict[str, Any]]
    #: Turns the submitted worker form into an answer for ``validate_response``:
    #: ``answer_from_form(params, form)``. Never raises for any input; what it cannot read
    #: becomes a value ``validate_response`` refuses with the parameter named.
    answer_from_form: Callable[[Mapping[str, Any], FormLike], dict[str, Any]]
    #: The folder holding the type's partials: ``form.html`` (the worker's answer inputs) and
    #: ``response.html`` (a completed response on the dashboard). Templates reach them as
    #: ``task_types/<name>/form.html`` through the registry.
    templates: Path
    #: ``form_values(params, form)``: what the form partial gets as ``values``. ``form`` is the
    #: refused submission (to fill the inputs in again) or ``None`` on the first view.
    form_values: Callable[[Mapping[str, Any], FormLike | None], dict[str, Any]] = raw_form_values
    #: Several workers' answers into one response (``answers.combine_single`` when one is needed).
    combine: Callable[[Mapping[str, Any], Sequence[Answer], Skills | None], Combined] = combine_single
    #: ``gold_matches(params, expected, given)``: whether a worker's validated answer ``given``
    #: is right on a gold task whose expected response is ``expected`` (``answers.same_answer``,
    #: normalised equality, unless the type knows better: shapes never match exactly).
    gold_matches: Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], bool] = same_answer
    #: Files in ``templates`` that the worker's page and the dashboard's task page load for this
    #: type (the Content-Security-Policy allows no inline script or style), served from
    #: ``asset_url(file)``.
    scripts: tuple[str, ...] = ()
    stylesheets: tuple[str, ...] = ()
    summary: str = ""
    #: ``answer_label(params, param)``: what the worker's page calls an answer's parameter path
    #: (``fields[title]`` → the field's description); None falls back to
    #: ``worker_labels.answer_label``. See ``worker_message``.
    answer_label: Callable[[Mapping[str, Any], str], str | None] | None = None
    kinds: dict[str, Kind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", param_kinds(self.params_model))
        for file in (*PARTIALS, *self.scripts, *self.stylesheets):
            if "/" in file or "\\" in file or file.startswith(".") or not (self.templates / file).is_file():
                raise ValueError(f"task type {self.name!r} has no {file} in {self.templates}")

    def worker_message(self, params: Mapping[str, Any], exc: InvalidParameter) -> str:
        """``exc`` (raised by ``validate_response``) in the worker's words: the parameter named
        as the page shows it, not by the customer's key, which the API's message keeps."""
        label = None
        if self.answer_label is not None:
            label = self.answer_label(params, exc.param)
        if label is None:
            label = worker_labels.answer_label(params, exc.param)
        return worker_labels.worker_message(label, exc.problem) if label else exc.message

    def asset_url(self, file: str) -> str:
        """Where the web app serves one of ``scripts`` or ``stylesheets``."""
        return f"{ASSET_PREFIX}{self.name}/{file}"

    @property
    def form_template(self) -> str:
        return f"{TEMPLATE_PREFIX}{self.name}/form.html"

    @property
    def response_template(self) -> str:
        return f"{TEMPLATE_PREFIX}{self.name}/response.html"

    def parse(self, data: Mapping[str, Any]) -> CreateParams:
        check_values({name: value for name, value in data.items() if name in self.kinds})
        try:
            return self.params_model.model_validate(data)
        except ValidationError as exc:
            raise_invalid(exc)
