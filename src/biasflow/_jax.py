"""JAX configuration, applied by every biasflow module that imports JAX (never at ``import biasflow``).

- float64 everywhere (the numerical conventions of the package);
- a persistent compilation cache, so a process that runs an already compiled program (the same model,
  data shape and options) loads it from disk instead of compiling it again: a CLI called from shell loops
  and sweeps pays XLA's compile time once. It lives in ``$BIASFLOW_JAX_CACHE`` (default
  ``$XDG_CACHE_HOME/biasflow/jax`` or ``~/.cache/biasflow/jax``); ``BIASFLOW_JAX_CACHE=`` (empty) turns it
  off, and a cache directory configured in JAX by the caller is left alone.
"""

import os

import jax

jax.config.update("jax_enable_x64", True)


def _cache_dir() -> str:
    if "BIASFLOW_JAX_CACHE" in os.environ:
        return os.environ["BIASFLOW_JAX_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "biasflow", "jax")


if _cache_dir() and not jax.config.jax_compilation_cache_dir:
    jax.config.update("jax_compilation_cache_dir", _cache_dir())
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
