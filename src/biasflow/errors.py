"""Errors biasflow raises for bad input, and the run statuses every result carries.

A :class:`BiasflowError` message is one line that says what was wrong, where, and what to do; the CLI
prints it on stderr and exits non-zero without a traceback.

Every result carries a :class:`Status` (a ``str`` enumeration, so ``status == "ok"`` and JSON output keep
their plain strings) with one message per value, in the manner of diffrax's ``RESULTS``.
"""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    """The outcome of a run, a solve or a prediction.

    >>> Status.OK == "ok", Status("max_steps").message
    (True, 'the step or iteration budget ran out before the target was reached')
    >>> import json; json.dumps({"status": Status.DIVERGED})
    '{"status": "diverged"}'
    """

    OK = "ok"
    TARGET_UNREACHABLE = "target_unreachable"
    DIVERGED = "diverged"
    MAX_STEPS = "max_steps"
    INVALID_INPUT = "invalid_input"
    INACCURATE = "inaccurate"
    FAILED = "failed"

    def __repr__(self) -> str:  # prints like the plain string it equals (lists of statuses stay readable)
        return repr(self.value)

    @property
    def message(self) -> str:
        """One line saying what the status means."""
        return _MESSAGES[self]

    @classmethod
    def of(cls, value) -> Status:
        """The status named by ``value`` (a :class:`Status` or its string); unknown names raise."""
        try:
            return cls(value)
        except ValueError:
            raise BiasflowError(
                f"unknown status {value!r}; statuses are {', '.join(s.value for s in cls)}"
            ) from None


_MESSAGES = {
    Status.OK: "the run or solve finished and reached what was asked",
    Status.TARGET_UNREACHABLE: "the loss has a floor above the target (non-separable data or "
    "inconsistent regression); every level above the floor was reached",
    Status.DIVERGED: "the iterates or the loss became non-finite",
    Status.MAX_STEPS: "the step or iteration budget ran out before the target was reached",
    Status.INVALID_INPUT: "the options or data were refused before running; the message says why",
    Status.INACCURATE: "the solver stopped at reduced accuracy; the certificate bounds the error",
    Status.FAILED: "an unexpected error stopped the run; the message names it (a bug: please report it)",
}

STATUSES: tuple[str, ...] = tuple(s.value for s in Status)


class BiasflowError(ValueError):
    """Bad input or an impossible request: one clear line (what, where, what to do)."""


class UndefinedAtLevel(BiasflowError):
    """A prediction that does not exist at the requested loss level (e.g. a Q_μ prediction at a level not
    below ℓ(0)/n): callers that compare many levels report it per level instead of failing."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`BiasflowError` with ``message`` unless ``condition`` holds.

    >>> require(1 + 1 == 2, "arithmetic is broken")
    >>> require(False, "alpha must be > 0 (got -1); pass --alpha with a positive value")
    Traceback (most recent call last):
    ...
    biasflow.errors.BiasflowError: alpha must be > 0 (got -1); pass --alpha with a positive value
    """
    if not condition:
        raise BiasflowError(message)
