"""The background loops that deliver callbacks and answer test-mode tasks (issue 4)."""

from __future__ import annotations


def loops() -> list:
    return []
