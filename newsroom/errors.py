"""Errors, split by who must act: the user (bad input) or the run (a source or guard stopped it)."""

from __future__ import annotations

from typing import Any


class NewsroomError(Exception):
    """Base class of every error newsroom raises on purpose."""

    exit_code = 1


class UsageError(NewsroomError):
    """The user asked for something invalid: a bad week, a bad flag, a missing folder."""

    exit_code = 2


class AlreadyPublished(UsageError):
    """The week already has a published edition and --force was not given."""


class StorylineStoreError(NewsroomError):
    """The storyline store (OUT/.newsroom/storylines.sqlite) cannot be read or written: a run
    publishes without storylines and says so; the storyline commands exit with this."""

    exit_code = 1


class RunFailure(NewsroomError):
    """A run could not finish; the message says what was used, the limit and what to change."""

    exit_code = 1


class SourceUnavailable(RunFailure):
    """No source could be read for the week (or an endpoint is unreachable)."""

    exit_code = 4

    def __init__(self, message: str, problems: list[Any] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class EmptyWeek(SourceUnavailable):
    """The sources were readable but held no item inside the week."""


class GuardTripped(RunFailure):
    """A budget guard or the loop detector stopped the run; what is done is published as partial."""

    exit_code = 3

    def __init__(
        self, guard: str, message: str, limit: float | None = None, used: float | None = None
    ) -> None:
        super().__init__(message)
        self.guard = guard
        self.limit = limit
        self.used = used


class BudgetExceeded(GuardTripped):
    """The next call would cross a limit, so it was not made."""


class LoopDetected(GuardTripped):
    """The agents repeat themselves without progress."""


class GuardUnavailable(GuardTripped):
    """The shared budget store cannot be reached: fail closed, make no call."""


class Overbilled(GuardTripped):
    """A server reported more usage than the call's reservation bound: no limit can hold."""
