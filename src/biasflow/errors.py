"""Errors biasflow raises for bad input, and the run statuses every result carries.

A :class:`BiasflowError` message is one line that says what was wrong, where, and what to do; the CLI
prints it on stderr and exits non-zero without a traceback.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["ok", "target_unreachable", "diverged", "max_steps", "invalid_input"]
STATUSES: tuple[str, ...] = ("ok", "target_unreachable", "diverged", "max_steps", "invalid_input")


class BiasflowError(ValueError):
    """Bad input or an impossible request: one clear line (what, where, what to do)."""


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
