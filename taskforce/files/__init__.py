"""Customer files (scaleapi 2.x's ``/v1/files``): stored bytes behind a small ``FileStore``
interface, a row per file, ``scaledata://ID`` attachment URLs, and short-lived signed URLs on
our origin that show them to workers."""
