"""Import-time JAX configuration: float64 everywhere (docs/theory/numerics.md)."""

import jax

jax.config.update("jax_enable_x64", True)
