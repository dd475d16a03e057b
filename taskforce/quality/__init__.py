"""Answer quality: combining several workers' answers to one task, and knowing the workers.

dawid_skene.py (the EM and one task's posterior), skills.py (per-worker skill, JSON-able),
text.py (free text and rows), multiselect.py (per category), combiners.py (each type's
``combine`` hook and the task object's ``quality``), overlap.py (final, one more, or review),
simulation.py (a simulated crowd for the tests and the benchmark).
"""
