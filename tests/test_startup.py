"""Start-up in proportion to the work: light commands never import JAX (or the other heavy packages).

Each case runs in a fresh interpreter (a subprocess), then lists which heavy top-level packages ended up
in ``sys.modules``. No timing is asserted here; ``benchmarks/bench_startup.py`` measures the seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from biasflow.data import gaussian, save

SRC = str(Path(__file__).resolve().parents[1] / "src")
HEAVY = ("jax", "jaxlib", "optax", "cvxpy", "pyarrow", "duckdb", "dask", "distributed", "matplotlib")

PROBE = """
import json, sys
{body}
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))))
"""


def loaded_after(body: str) -> list[str]:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
               BIASFLOW_NO_PROGRESS="1")
    code = PROBE.format(body=body, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_body(*args: str) -> str:
    """Run the CLI in the probe process; its stdout is redirected so only the module list is printed."""
    return ("import contextlib, io\nfrom biasflow.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    rc = main({list(args)!r})\n"
            "assert rc == 0, rc\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("startup")
    save(gaussian(n=12, d=20, k=2, seed=0), d / "cls.npz")
    save(gaussian(n=8, d=20, k=2, task="regression", seed=0), d / "reg.npz")
    return d


def test_import_biasflow_is_light():
    assert loaded_after("import biasflow") == []


def test_help_is_light():
    assert loaded_after(cli_body("--help")) == []


def test_margin_l1_never_imports_jax(files):
    assert loaded_after(cli_body("margin", "--data", str(files / "cls.npz"), "--norm", "l1", "--json")) == []


@pytest.mark.parametrize("args", [
    ("flow", "--data", "{d}/cls.npz", "--alpha", "0.1", "--until-loss", "1e-100", "--json"),
    ("flow", "--data", "{d}/reg.npz", "--loss", "square", "--until-loss", "1e-10", "--json"),
    ("interpolate", "--data", "{d}/reg.npz", "--alpha", "0.1", "--json"),
    ("predict", "--data", "{d}/cls.npz", "--alpha", "0.1", "--at-loss", "1e-50", "--json"),
], ids=["flow-exact", "flow-square", "interpolate", "predict-diagonal"])
def test_numpy_paths_never_import_jax(files, args):
    loaded = loaded_after(cli_body(*[a.format(d=files) for a in args]))
    assert "jax" not in loaded and "optax" not in loaded and "cvxpy" not in loaded, loaded


def test_lazy_names_resolve():
    """Every public name of the package resolves (first access imports its module)."""
    import biasflow

    for name in biasflow.__all__:
        assert getattr(biasflow, name) is not None
    with pytest.raises(AttributeError):
        biasflow.no_such_name  # noqa: B018


@pytest.mark.parametrize("value", ["", "cache"])
def test_persistent_compilation_cache_setting(tmp_path, value):
    """BIASFLOW_JAX_CACHE names the directory of JAX's persistent compilation cache; empty turns it off."""
    want = str(tmp_path / value) if value else ""
    env = dict(os.environ, PYTHONPATH=SRC, BIASFLOW_JAX_CACHE=want)
    code = "import biasflow._jax, jax; print(jax.config.jax_compilation_cache_dir or '')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == want


def test_bias_package_is_lazy_and_keeps_function_names():
    """``biasflow.bias`` imports a submodule on first use; ``compare``/``interpolate``/``predict`` stay the
    functions (as the former eager imports made them) even after their submodules are loaded."""
    code = ("import sys, biasflow.bias as b\n"
            "before = sorted(m for m in sys.modules if m.startswith('biasflow.bias.'))\n"
            "from biasflow.bias.predict import predict\n"
            "from biasflow.bias.interpolate import interpolate\n"
            "import biasflow.bias.compare\n"
            "from biasflow.bias import max_margin, Q\n"
            "import json\n"
            "print(json.dumps([before, b.predict is predict, b.interpolate is interpolate,\n"
            "                  callable(b.compare) and b.compare.__module__ == 'biasflow.bias.compare',\n"
            "                  max_margin.__module__, Q.__module__, set(b.__all__) <= set(dir(b))]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=SRC))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [[], True, True, True, "biasflow.bias.margins", "biasflow.bias.potentials",
                                      True]
    import biasflow.bias

    with pytest.raises(AttributeError):
        biasflow.bias.no_such_name  # noqa: B018


@pytest.mark.parametrize("order", ["jax first", "biasflow first"])
def test_float64_for_the_callers_jax_arrays_whatever_the_import_order(order):
    """``import biasflow`` loads no JAX, yet a model of the user's own built with jax.numpy before any
    biasflow JAX module is imported must be float64 (a float32 array traced into a biasflow program fails)."""
    imports = "import jax.numpy as jnp; import biasflow" if order == "jax first" else \
        "import biasflow; import jax.numpy as jnp"
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"} | {"PYTHONPATH": SRC}
    code = f"{imports}; print(jnp.zeros(2).dtype)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "float64"
