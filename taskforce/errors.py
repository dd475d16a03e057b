"""Domain errors: one small tree, mapped to HTTP in one place (api/errors.py)."""

from __future__ import annotations


class TaskforceError(Exception):
    """Base of every error a caller may be shown. ``message`` is safe to show."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(TaskforceError):
    """A request parameter is missing or wrong; the message names it."""

    status_code = 400

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"{param}: {problem}" if param else problem)
        self.param = param
        self.problem = problem


class Unauthorized(TaskforceError):
    status_code = 401


class NotFound(TaskforceError):
    status_code = 404


class Conflict(TaskforceError):
    """The task is not in a state that allows this (already completed, canceled, re-leased)."""

    status_code = 409


class NotCancelable(Conflict):
    # The seed documents a 500 for cancelling a task that is not pending; clients rely on it.
    status_code = 500


class LeaseLost(Conflict):
    """A worker's submission no longer holds the task's lease."""


class PayloadTooLarge(TaskforceError):
    status_code = 413


class UnsupportedMediaType(TaskforceError):
    status_code = 415
