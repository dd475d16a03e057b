"""Image annotation: boxes (``annotation``), polygons, lines and points drawn on an image.

One module per type (box, polygon, line, point), sharing the parameters (params.py), the answer
checks and the simulated worker (shapes.py), the drawing tool's form (form.py), the geometry
(geometry.py), the combining of several workers' shapes (consensus.py) and the scoring of a
worker's shapes on a gold task (gold.py). The drawing tool itself is annotate.js (+ annotate.css)
in this folder, the types' declared script and stylesheet.
"""

from taskforce.task_types.annotation import box, line, point, polygon

MODULES = (box, polygon, line, point)
