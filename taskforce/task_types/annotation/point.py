"""pointannotation: a worker draws a point on every object of the task's labels on the image.

Its answer: ``{"annotations": [{"label"?, "x", "y"}]}``.
"""

from __future__ import annotations

from taskforce.task_types.annotation.kind import annotation_type
from taskforce.task_types.annotation.params import PointParams

TASK_TYPE = annotation_type("point", name="pointannotation", params_model=PointParams,
                            summary=("A worker draws a point on every object of the given labels in the "
                                     "image."))
validate_response = TASK_TYPE.validate_response
simulated_response = TASK_TYPE.simulated_response
combine = TASK_TYPE.combine
