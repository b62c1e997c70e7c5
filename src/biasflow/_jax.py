"""Import-time JAX configuration: float64 everywhere (DESIGN.md, numerical conventions)."""

import jax

jax.config.update("jax_enable_x64", True)
