"""The user-facing model options, written once: dataclass fields whose metadata carries their help.

Every option a model can take from the command line (``--depth 3``) or a sweep file (``depth = 3``) is a
field of :class:`ModelOptions`, with ``metadata["help"]`` (one line: meaning, unit, default) and, for the
sweep schema, ``metadata["schema"]`` (pydantic constraints). :func:`biasflow.models.options` returns the
fields a registered model takes; the ``flow``/``descent``/``predict`` commands build their option list and
help from here (:func:`biasflow.cli._common.model_options`), and the sweep's ``[run]`` table inherits its
model keys from :func:`pydantic_fields`. A new option is one new field here.

>>> sorted(f.name for f in fields())[:8]
['activation', 'alpha', 'asymmetric', 'center', 'depth', 'gamma0', 'group', 'init']
>>> help_of("alpha")
'initialization scale α > 0'
"""

from __future__ import annotations

import dataclasses
from dataclasses import field


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """The options shared by the model factories of :data:`biasflow.models.MODELS`."""

    depth: int | None = field(default=None, metadata={
        "help": "depth D (diagonal) or number of layers L; default the model's (2)",
        "schema": {"ge": 1, "le": 64}})
    width: int | None = field(default=None, metadata={
        "help": "hidden width, or filter length (conv); default the model's",
        "schema": {"ge": 1}})
    alpha: float = field(default=1.0, metadata={
        "help": "initialization scale α > 0",
        "schema": {"gt": 0, "allow_inf_nan": False}})
    shape: float | tuple | None = field(default=None, metadata={
        "help": "initialization shape: a number or a per-coordinate list; default uniform",
        "schema": {}})
    seed: int = field(default=0, metadata={
        "help": "seed of random initializations",
        "schema": {}})
    activation: str | None = field(default=None, metadata={
        "help": "hidden activation of the shallow network: relu or abs; default relu",
        "schema": {}})
    asymmetric: bool | None = field(default=None, metadata={
        "help": "mirrored pairs of hidden units (same w, b; opposite output weights) so that f₀ ≡ 0",
        "schema": {}})
    train: str | None = field(default=None, metadata={
        "help": "which layers train: all, or output (then the model is linear in its parameters); default all",
        "schema": {}})
    skip: bool | None = field(default=None, metadata={
        "help": "add an affine skip connection s·(uᵀx + v), unpenalized as the width grows",
        "schema": {}})
    group: str | None = field(default=None, metadata={
        "help": "finite group of a G-CNN: cyclic:n=8, dihedral:n=4 (order 8), product:cyclic:n=2,dihedral:n=3, "
                "C2xD3 or file:PATH; default cyclic:n=d",
        "schema": {}})
    gamma0: float = field(default=1.0, metadata={
        "help": "initial batch-norm scale γ(0) ≠ 0; default 1",
        "schema": {"allow_inf_nan": False}})
    patches: int = field(default=1, metadata={
        "help": "number P of equal patches (must divide d) sharing one batch-normalized filter; default 1",
        "schema": {"ge": 1}})
    center: bool = field(default=False, metadata={
        "help": "batch norm re-centers with the mean patch and trains a shift (affine model); default off",
        "schema": {}})
    widths: str | None = field(default=None, metadata={
        "help": "inner sizes h_1,…,h_{L−1} of a matrix factorization, comma-separated; default max(m, k) each",
        "schema": {}})
    init: str | None = field(default=None, metadata={
        "help": "initialization KIND:eps=ε, KIND gaussian | balanced | identity (matrix); default gaussian:eps=α; "
                "law of (w, b): pm1-uniform:a=A | uniform:aw=AW,ab=AB | gaussian:sw=SW,sb=SB (shallow; default "
                "pm1-uniform:a=2)",
        "schema": {}})


def fields() -> tuple[dataclasses.Field, ...]:
    """The option fields, in declaration order."""
    return dataclasses.fields(ModelOptions)


def help_of(name: str) -> str:
    """The one-line help of option ``name``."""
    return next(f.metadata["help"] for f in fields() if f.name == name)


def pydantic_fields() -> dict:
    """``{name: (annotation, pydantic.Field)}`` for the sweep's run schema (pydantic's create_model)."""
    from pydantic import Field

    out = {}
    for f in fields():
        ann = float | list[float] | None if f.name == "shape" else f.type
        if isinstance(ann, str):
            ann = eval(ann, {"tuple": tuple})  # noqa: S307  (the annotations above, postponed by __future__)
        out[f.name] = (ann, Field(f.default, description=f.metadata["help"], **f.metadata["schema"]))
    return out


__all__ = ["ModelOptions", "fields", "help_of", "pydantic_fields"]
