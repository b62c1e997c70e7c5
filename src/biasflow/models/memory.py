"""Memory budget of a model: estimate first, refuse before allocating (a leaf module, no JAX).

Every model has ``memory_bytes(n) -> int``, its estimated peak memory when trained on n examples; the
model's constructor checks ``memory_bytes(0)`` (its parameters and the solver's working copies) and the
training entry points check ``memory_bytes(n)`` with :func:`check_memory`, so an oversize request is one
clear error line instead of a hang.

>>> format_bytes(3 * 1024**3)
'3.0 GiB'
"""

from __future__ import annotations

import os

from ..errors import BiasflowError

DEFAULT_MEMORY_BUDGET = 2 * 1024**3
"""Bytes a model may plan to use (2 GiB) unless ``BIASFLOW_MEMORY_BUDGET`` says otherwise."""


def memory_budget() -> int:
    """The memory budget in bytes: ``BIASFLOW_MEMORY_BUDGET`` if set, else 2 GiB."""
    text = os.environ.get("BIASFLOW_MEMORY_BUDGET")
    if not text:
        return DEFAULT_MEMORY_BUDGET
    try:
        value = int(float(text))
    except ValueError:
        raise BiasflowError(
            f"BIASFLOW_MEMORY_BUDGET={text!r} is not a number of bytes; set e.g. BIASFLOW_MEMORY_BUDGET=4e9"
        ) from None
    if value <= 0:
        raise BiasflowError(f"BIASFLOW_MEMORY_BUDGET must be positive (got {text!r})")
    return value


def format_bytes(n: float) -> str:
    """Human-readable size (binary units)."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def check_memory(nbytes: float, what: str, hint: str) -> None:
    """Refuse a request whose estimated memory ``nbytes`` exceeds :func:`memory_budget`."""
    budget = memory_budget()
    if nbytes > budget:
        raise BiasflowError(
            f"{what} needs an estimated {format_bytes(nbytes)} of memory, over the budget of "
            f"{format_bytes(budget)}; {hint} (or raise BIASFLOW_MEMORY_BUDGET, in bytes)"
        )


# Working copies of the parameters an ODE solve holds (stages, error estimate, dense output, gradients).
SOLVER_COPIES = 16


def require_memory(model, n: int = 0) -> None:
    """Refuse training ``model`` on ``n`` examples when ``model.memory_bytes(n)`` exceeds the budget."""
    check_memory(model.memory_bytes(n), f"{model.name} on {n} examples", "use a smaller model or fewer examples")


__all__ = ["DEFAULT_MEMORY_BUDGET", "SOLVER_COPIES", "check_memory", "format_bytes", "memory_budget",
           "require_memory"]
