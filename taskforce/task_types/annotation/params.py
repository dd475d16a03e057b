"""The create parameters the four image annotation types share, and the vertex limits of
polygons and lines (scale-api-later.md: annotation, polygonannotation, lineannotation,
pointannotation)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, StrictBool, field_validator, model_validator

from taskforce.task_types.base import CreateParams, NonEmptyStr, check_attachment, is_http_url

#: Scale's limit. More labels than this make the worker's label choice the slow part of the
#: task (and the number keys 1–6 stay under one hand); split the task instead.
MAX_LABELS = 6
#: A label is shown on buttons and drawn beside shapes.
MAX_LABEL_CHARS = 100
#: Far beyond any real image (the largest common camera images are ~12 000 px wide).
MAX_PIXELS = 100_000
MAX_EXAMPLES = 20
#: Pre-drawn shapes shown beneath the worker's; enough for a dense scene, small enough to draw.
MAX_LAYER_SHAPES = 500
MAX_VERTICES = 1000


def _whole_number(least: int, most: int) -> BeforeValidator:
    """A whole number from JSON (5, 5.0) or a form ("5") between ``least`` and ``most``.
    ``True`` is not a number here, whatever Python thinks."""
    problem = f"must be a whole number from {least} to {most}"

    def check(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str):
            text = value.strip()
            if not (text.isascii() and text.isdigit() and len(text) <= 9):
                raise ValueError(problem)
            value = int(text)
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
            raise ValueError(problem)
        return value

    return BeforeValidator(check)


Pixels = Annotated[int, _whole_number(0, MAX_PIXELS)]
Count = Annotated[int, _whole_number(1, MAX_VERTICES)]


def _finite_number(value: Any) -> bool:
    # value == value is false for NaN only.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
        and abs(value) <= MAX_PIXELS


def _check_vertices(name: str, vertices: Any, at_least: int) -> None:
    if not isinstance(vertices, list) or len(vertices) < at_least:
        raise ValueError(f"{name} must be an array of at least {at_least} {{x, y}} vertices")
    if len(vertices) > MAX_VERTICES:
        raise ValueError(f"{name} must have at most {MAX_VERTICES} vertices")
    for j, v in enumerate(vertices):
        if not (isinstance(v, dict) and _finite_number(v.get("x")) and _finite_number(v.get("y"))):
            raise ValueError(f"{name}[{j}] must be an object with numeric x and y")


def check_examples(examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(examples) > MAX_EXAMPLES:
        raise ValueError(f"examples must hold at most {MAX_EXAMPLES} examples")
    out = []
    for i, example in enumerate(examples):
        image = example.get("image")
        if not isinstance(image, str) or not is_http_url(image):
            raise ValueError(f"examples[{i}][image] must be an absolute http:// or https:// URL")
        correct = example.get("correct", True)
        if not isinstance(correct, bool):
            raise ValueError(f"examples[{i}][correct] must be a boolean (true or false)")
        explanation = example.get("explanation", "")
        if not isinstance(explanation, str) or "\x00" in explanation or len(explanation) > 2000:
            raise ValueError(f"examples[{i}][explanation] must be text of at most 2000 characters")
        out.append({"image": image, "correct": correct, "explanation": explanation})
    return out


def check_layers(layers: dict[str, Any]) -> dict[str, Any]:
    """``{"boxes": [{left, top, width, height}], "polygons": [{vertices}], "lines": [{vertices}]}``;
    shown read-only beneath the worker's shapes, so only their numbers are kept."""
    unknown = [k for k in layers if k not in ("boxes", "polygons", "lines")]
    if unknown:
        raise ValueError(f"layers[{unknown[0]}] is not one of boxes, polygons, lines")
    total = 0
    out: dict[str, Any] = {}
    for kind, shapes in layers.items():
        if not isinstance(shapes, list):
            raise ValueError(f"layers[{kind}] must be an array")
        total += len(shapes)
        if total > MAX_LAYER_SHAPES:
            raise ValueError(f"layers must hold at most {MAX_LAYER_SHAPES} shapes")
        kept = []
        for i, shape in enumerate(shapes):
            name = f"layers[{kind}][{i}]"
            if not isinstance(shape, dict):
                raise ValueError(f"{name} must be an object")
            if kind == "boxes":
                if not all(_finite_number(shape.get(k)) for k in ("left", "top", "width", "height")):
                    raise ValueError(f"{name} must have numeric left, top, width and height")
                if shape["width"] < 0 or shape["height"] < 0:
                    raise ValueError(f"{name} must not have a negative width or height")
                kept.append({k: shape[k] for k in ("left", "top", "width", "height")})
            else:
                _check_vertices(f"{name}[vertices]", shape.get("vertices"), 3 if kind == "polygons" else 2)
                kept.append({"vertices": [{"x": v["x"], "y": v["y"]} for v in shape["vertices"]]})
        out[kind] = kept
    return out


class AnnotationParams(CreateParams):
    """What every image annotation task takes."""

    PARAMS: ClassVar[tuple[str, ...]] = (
        "attachment_type", "attachment", "objects_to_annotate", "with_labels", "examples", "layers",
    )
    #: The shape the worker draws, in the instruction written when the customer gives none.
    SHAPE: ClassVar[str] = "box"

    # Later Scale made the instruction optional for annotation: the labels say what to draw.
    instruction: NonEmptyStr | None = Field(  # type: ignore[assignment]
        None, description="Plaintext instruction shown to the worker; written from the labels when left out.")
    attachment_type: Literal["image"] = Field("image", description="Always `image`.")
    attachment: NonEmptyStr = Field(description="http(s) URL of the image.")
    objects_to_annotate: list[NonEmptyStr] = Field(
        min_length=1, description=f"The labels to draw, at most {MAX_LABELS}.")
    with_labels: StrictBool = Field(False, description="Whether each shape carries its label.")
    examples: list[dict[str, Any]] | None = Field(
        None, description="Examples shown to the worker: `{image, correct, explanation}` objects.")
    layers: dict[str, Any] | None = Field(
        None, description="Pre-drawn shapes shown read-only beneath: `{boxes, polygons, lines}`.")

    @field_validator("objects_to_annotate")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_LABELS:
            raise ValueError(f"must hold at most {MAX_LABELS} labels (this task has {len(value)}); "
                             "split the work into several tasks")
        if len(set(value)) != len(value):
            raise ValueError("must not contain duplicates")
        if any(len(label) > MAX_LABEL_CHARS for label in value):
            raise ValueError(f"labels must be at most {MAX_LABEL_CHARS} characters")
        return value

    # Model-level checks name their parameter at the start of the message (base.raise_invalid).
    @model_validator(mode="after")
    def _checks(self) -> AnnotationParams:
        check_attachment("attachment", "image", self.attachment)
        if self.examples is not None:
            self.examples = check_examples(self.examples)
        if self.layers is not None:
            self.layers = check_layers(self.layers)
        if self.instruction is None:
            self.instruction = f"Draw a {self.SHAPE} on every " + ", ".join(self.objects_to_annotate) + "."
        return self


class BoxParams(AnnotationParams):
    PARAMS: ClassVar[tuple[str, ...]] = AnnotationParams.PARAMS + ("min_width", "min_height")
    SHAPE: ClassVar[str] = "box"

    min_width: Pixels = Field(0, description="Narrowest box accepted, in the image's pixels.")
    min_height: Pixels = Field(0, description="Lowest box accepted, in the image's pixels.")


class VertexParams(AnnotationParams):
    PARAMS: ClassVar[tuple[str, ...]] = AnnotationParams.PARAMS + ("min_vertices", "max_vertices")
    #: Fewer vertices than this is not the shape at all, whatever ``min_vertices`` says.
    LEAST: ClassVar[int] = 3

    min_vertices: Count = Field(1, description="Fewest vertices per shape.")
    max_vertices: Count | None = Field(None, description="Most vertices per shape (no limit when left out).")

    @model_validator(mode="after")
    def _limits(self) -> VertexParams:
        if self.max_vertices is not None:
            if self.max_vertices < self.min_vertices:
                raise ValueError("max_vertices must not be less than min_vertices")
            if self.max_vertices < self.LEAST:
                raise ValueError(f"max_vertices must be at least {self.LEAST}: a {self.SHAPE} "
                                 f"needs {self.LEAST} vertices")
        return self


class PolygonParams(VertexParams):
    SHAPE: ClassVar[str] = "polygon"
    LEAST: ClassVar[int] = 3


class LineParams(VertexParams):
    PARAMS: ClassVar[tuple[str, ...]] = VertexParams.PARAMS + ("splines",)
    SHAPE: ClassVar[str] = "line"
    LEAST: ClassVar[int] = 2

    splines: StrictBool = Field(False, description="Whether the lines are drawn as smooth curves through the vertices.")


class PointParams(AnnotationParams):
    SHAPE: ClassVar[str] = "point"
