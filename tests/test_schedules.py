"""Learning-rate schedules match their formulas (docs/theory/large-steps.md §6), parse from the CLI form, and reject bad
parameters with one clear line."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow.dynamics.schedules import SCHEDULES, make_schedule, parse_schedule
from biasflow.errors import BiasflowError

T = np.arange(0, 400)


def values(spec, steps=400):
    s = parse_schedule(spec, steps=steps)
    return np.array([float(s(int(t))) for t in T])


def tri(t, l):
    return (2 / math.pi) * abs(math.asin(math.sin(math.pi * t / (2 * l))))


FORMULAS = {
    "constant": lambda t: 1.0,
    "step:gamma=0.5,l=30": lambda t: 0.5 ** (t // 30),
    "nstep:milestones=50/120/300,gamma=0.2": lambda t: 0.2 ** sum(t >= m for m in (50, 120, 300)),
    "exp:gamma=0.99": lambda t: 0.99**t,
    "inv:gamma=0.01,p=0.75": lambda t: (1 + 0.01 * t) ** -0.75,
    "poly:l=300,p=2": lambda t: max(1 - t / 300, 0.0) ** 2,
    "cosine:l=300,final=0.1": lambda t: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(t, 300) / 300)),
    "tri:l=25,low=0.2": lambda t: 0.2 + 0.8 * tri(t, 25),
    "sin:l=25,low=0.2": lambda t: 0.2 + 0.8 * abs(math.sin(math.pi * t / 50)),
    "cos:l=25,low=0.2": lambda t: 0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * t / 25)),
    "tri2:l=25,low=0.0": lambda t: tri(t, 25) * 0.5 ** (t // 50),
    "sin2:l=25,low=0.0": lambda t: abs(math.sin(math.pi * t / 50)) * 0.5 ** (t // 50),
    "triexp:l=25,low=0.1,gamma=0.99": lambda t: 0.1 + 0.9 * tri(t, 25) * 0.99**t,
    "sinexp:l=25,low=0.1,gamma=0.99": lambda t: 0.1 + 0.9 * abs(math.sin(math.pi * t / 50)) * 0.99**t,
    "warmup:warmup=40": lambda t: min(t / 40, 1.0),
    "exp:gamma=0.99,warmup=20": lambda t: t / 20 if t < 20 else 0.99 ** (t - 20),
}


@pytest.mark.parametrize("spec", list(FORMULAS))
def test_schedule_matches_formula(spec):
    ref = np.array([FORMULAS[spec](int(t)) for t in T])
    np.testing.assert_allclose(values(spec), ref, rtol=1e-12, atol=1e-14)


def test_every_name_builds_and_round_trips():
    for name in SCHEDULES:
        kw = {"milestones": "10/20"} if name == "nstep" else {}
        w = 5 if name == "warmup" else 0
        s = make_schedule(name, steps=100, warmup=w, **kw)
        again = parse_schedule(s.spec(), steps=100)
        assert again.spec() == s.spec()
        assert [float(again(t)) for t in (0, 7, 50)] == [float(s(t)) for t in (0, 7, 50)]
    assert make_schedule("loss").kind == "loss" and make_schedule("normalized").kind == "normalized"
    assert parse_schedule("triangular:l=5").name == "tri" and parse_schedule("fix").name == "constant"


@pytest.mark.parametrize(
    "spec,match",
    [
        ("zigzag", "unknown schedule 'zigzag'"),
        ("step:gamma=0", "gamma must lie in"),
        ("step:gamma=1.5", "gamma must lie in"),
        ("step:l=0", "l must be ≥ 1"),
        ("step:l=2.5", "whole number"),
        ("inv:gamma=-1", "gamma must be > 0"),
        ("poly:p=0", "p must be > 0"),
        ("tri:low=1.5", "low must lie in"),
        ("cosine:final=2", "final must lie in"),
        ("nstep:gamma=0.1", "needs milestones"),
        ("nstep:milestones=20/10", "increasing"),
        ("nstep:milestones=a/b", "step numbers"),
        ("exp:rate=0.9", "no parameter 'rate'"),
        ("exp:gamma=x", "not a number"),
        ("exp:gamma", "key=value"),
        ("exp:gamma=inf", "finite"),
        ("warmup", "warmup=W"),
        ("constant:warmup=-3", "warmup"),
        ("loss:warmup=5", "does not combine"),
    ],
)
def test_bad_schedule_parameters(spec, match):
    with pytest.raises(BiasflowError, match=match) as e:
        parse_schedule(spec, steps=100)
    assert "\n" not in str(e.value)


@given(st.floats(0.01, 1.0), st.integers(1, 200), st.integers(0, 1000))
def test_step_schedule_property(gamma, l, t):
    s = make_schedule("step", gamma=gamma, l=l)
    assert math.isclose(float(s(t)), gamma ** (t // l), rel_tol=1e-12, abs_tol=1e-300)


@given(st.sampled_from(["tri", "sin", "cos"]), st.integers(1, 50), st.floats(0.0, 1.0), st.integers(0, 500))
def test_cyclic_schedules_stay_between_low_and_one(name, l, low, t):
    v = float(make_schedule(name, l=l, low=low)(t))
    assert low - 1e-12 <= v <= 1.0 + 1e-12
