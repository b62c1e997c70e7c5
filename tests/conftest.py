"""Test configuration: float64 JAX, deterministic hypothesis profile, CLI helper."""

from __future__ import annotations

import os

os.environ.setdefault("BIASFLOW_JAX_CACHE", "")  # tests write nothing outside their temporary directories

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
os.environ.setdefault("BIASFLOW_NO_PROGRESS", "1")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "biasflow", max_examples=30, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("biasflow")


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""
    from biasflow.cli import main

    def run(*args: str):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
