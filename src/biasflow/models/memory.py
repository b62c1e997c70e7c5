"""Memory budget of a model: estimate first, refuse before allocating (a leaf module, no JAX).

Every model has ``memory_bytes(n) -> int``, its estimated peak memory when trained on n examples; the
model's constructor checks ``memory_bytes(0)`` (its parameters and the solver's working copies) and the
training entry points check ``memory_bytes(n)`` with :func:`check_memory`, so an oversize request is one
clear error line instead of a hang.

The model of memory (bytes, float64 words of 8 bytes), calibrated against the peak resident memory of
real runs above a warmed-up process (``tests/test_memory.py``: estimate/peak within [0.5, 2]):

- an autodiff (primal) gradient flow holds about :data:`PRIMAL_COPIES` θ-sized arrays: the DOP853 stages
  (16 with its dense-output extension) and interpolant, the error estimate and its scaled copies, the JAX
  parameters, the gradient and their host copies, and the transients of each evaluation (measured 48–81
  copies on dense, uv and twolayer nets), plus :data:`XLA_OVERHEAD` for the programs compiled at the
  model's shapes and XLA's temporaries for the loss, gradient and Hessian-vector products (the solvers do
  not record the state at every step: :mod:`biasflow.dynamics.clock` asks ``solve_ivp`` for events only);
- an exact (dual) flow holds solver copies of the n duals, the n×n Jacobian and its factorization, the data
  and its contiguous copies (see each model's ``memory_bytes``);
- gradient descent holds the parameters, gradient and update a few times over (:data:`DESCENT_COPIES`),
  its activations, and :data:`DESCENT_OVERHEAD` for the compiled loop.

>>> format_bytes(3 * 1024**3)
'3.0 GiB'
"""

from __future__ import annotations

import os

from ..errors import BiasflowError


def machine_memory() -> int:
    """The machine's physical memory in bytes (8 GiB when the platform does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover  (non-POSIX)
        return 8 * 1024**3


DEFAULT_MEMORY_BUDGET = machine_memory() * 3 // 4
"""Bytes a model may plan to use (three quarters of the machine's memory) unless
``BIASFLOW_MEMORY_BUDGET`` says otherwise."""


def memory_budget() -> int:
    """The memory budget in bytes: ``BIASFLOW_MEMORY_BUDGET`` if set, else 3/4 of the machine's memory."""
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
            f"{format_bytes(budget)} (machine memory {format_bytes(machine_memory())}); {hint} "
            "(or raise BIASFLOW_MEMORY_BUDGET, in bytes)"
        )


SOLVER_COPIES = 16
"""Working copies of a state vector an ODE solve holds (stages, error estimate, dense output, gradients)."""

PRIMAL_COPIES = 64
"""θ-sized arrays alive in an autodiff gradient flow (measured 48–81 on dense, uv and twolayer nets)."""

XLA_OVERHEAD = 64 * 1024**2
"""Compiled programs and XLA temporaries at a model's shapes (measured ≈ 63 MB above a warmed process)."""


CONV_OVERHEAD = 16 * 1024**2
"""The same for a convolutional net, whose programs are FFTs (measured ≈ 20 MB)."""

DESCENT_COPIES = 4
"""θ-sized arrays alive in compiled gradient descent (parameters, gradient, update; measured ≈ 4)."""

DESCENT_OVERHEAD = 32 * 1024**2
"""Compiled descent loop and XLA temporaries (measured ≈ 35 MB above a warmed process)."""


def descent_bytes(n_params: int, n: int, d: int) -> int:
    """Peak bytes of gradient descent on ``n_params`` parameters and n × d data:
    ``DESCENT_OVERHEAD + 8·(DESCENT_COPIES·n_params + 2nd)``."""
    return int(DESCENT_OVERHEAD + 8 * (DESCENT_COPIES * n_params + 2 * n * d))


def primal_flow_bytes(n_params: int, n: int, d: int) -> int:
    """Peak bytes of an autodiff gradient flow of ``n_params`` parameters on n × d data:
    ``XLA_OVERHEAD + 8·(PRIMAL_COPIES·n_params + 2nd)`` (the data and one copy)."""
    return int(XLA_OVERHEAD + 8 * (PRIMAL_COPIES * n_params + 2 * n * d))


def require_memory(model, n: int = 0) -> None:
    """Refuse training ``model`` on ``n`` examples when ``model.memory_bytes(n)`` exceeds the budget."""
    check_memory(model.memory_bytes(n), f"{model.name} on {n} examples", "use a smaller model or fewer examples")


__all__ = [
    "CONV_OVERHEAD", "DEFAULT_MEMORY_BUDGET", "DESCENT_COPIES", "DESCENT_OVERHEAD", "PRIMAL_COPIES", "SOLVER_COPIES",
    "XLA_OVERHEAD", "check_memory", "descent_bytes", "format_bytes", "machine_memory", "memory_budget",
    "primal_flow_bytes", "require_memory",
]
