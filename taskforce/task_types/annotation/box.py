"""annotation: a worker draws a box around every object of the task's labels on the image.

Its answer: ``{"annotations": [{"left", "top", "width", "height", "label"?}]}``.
"""

from __future__ import annotations

from taskforce.task_types.annotation.kind import annotation_type
from taskforce.task_types.annotation.params import BoxParams

TASK_TYPE = annotation_type("box", name="annotation", params_model=BoxParams,
                            summary=("A worker draws a box around every object of the given labels in the "
                                     "image."))
validate_response = TASK_TYPE.validate_response
simulated_response = TASK_TYPE.simulated_response
combine = TASK_TYPE.combine
