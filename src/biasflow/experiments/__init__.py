"""One-command reproductions of papers: ``biasflow reproduce NAME --out DIR [--quick]``.

Each reproduction is one module here with a function ``run(out: Path, quick: bool) -> ExperimentResult``.
It writes its figures (SVG + PNG) under ``out/figures/``, may append rows to the results store in ``out``,
and returns the claims it checked, each with the number we measured and whether it holds. The report
(``biasflow report DIR``) renders them.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

from ..errors import BiasflowError


@dataclasses.dataclass(frozen=True)
class Claim:
    """A qualitative claim of a paper, checked on our numbers.

    Attributes:
        claim: the statement, in words (ours, not the paper's text).
        measured: what we measured, in words with numbers.
        holds: whether it holds on our run.
        source: where it comes from, e.g. ``"Moroshko et al. 2020, Fig. 2"`` or ``"docs/theory/diagonal.md §3.6"``.
    """

    claim: str
    measured: str
    holds: bool
    source: str = ""


@dataclasses.dataclass
class ExperimentResult:
    """What a reproduction returns (and writes as ``out/experiment.json``)."""

    name: str
    title: str
    claims: list[Claim]
    figures: list[str]          # paths relative to ``out`` (e.g. "figures/phase.svg")
    config: dict
    summary: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        return d


EXPERIMENTS: dict[str, str] = {
    "moroshko2020": "biasflow.experiments.moroshko2020",
    "woodworth2020": "biasflow.experiments.woodworth2020",
    "azulay2021": "biasflow.experiments.azulay2021",
    "yun2021": "biasflow.experiments.yun2021",
    "huang2020": "biasflow.experiments.huang2020",
    "lawrence2022": "biasflow.experiments.lawrence2022",
    "cao2023": "biasflow.experiments.cao2023",
    "menon2024": "biasflow.experiments.menon2024",
    "arora2019": "biasflow.experiments.arora2019",
    "jin2023": "biasflow.experiments.jin2023",
    "liang2025": "biasflow.experiments.liang2025",
}
"""Reproductions by name → module (each defines ``run(out, quick)``)."""


def get_experiment(name: str):
    """The ``run`` function of a reproduction, by name."""
    if name not in EXPERIMENTS:
        raise BiasflowError(f"unknown reproduction {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    module = importlib.import_module(EXPERIMENTS[name])
    return module.run


def run_experiment(name: str, out: str | Path, quick: bool = False) -> ExperimentResult:
    """Run a reproduction into directory ``out``."""
    return get_experiment(name)(Path(out), quick)
