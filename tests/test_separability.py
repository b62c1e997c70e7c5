"""Separability LP (HiGHS), hard set and loss floor (docs/theory/numerics.md §2.5, oracles.md §8.20)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from biasflow.data import gaussian, make_dataset, non_separable
from biasflow.dynamics.separability import check


def test_separable_gaussian():
    sep = check(gaussian(n=10, d=30, k=1, seed=0), "exp")
    assert sep.separable and sep.hard_set == () and sep.floor == 0.0 and sep.margin > 0


@pytest.mark.parametrize("loss,ell0", [("exp", 1.0), ("logistic", math.log(2.0))])
@pytest.mark.parametrize("index", [0, 3])
def test_flipped_copy_floor(loss, ell0, index):
    ds = non_separable(gaussian(n=10, d=30, k=1, seed=0), index=index)
    sep = check(ds, loss)
    assert not sep.separable
    assert sorted(sep.hard_set) == sorted([index, 10])
    assert abs(sep.floor / (2 * ell0 / ds.n) - 1) < 1e-8
    assert sep.margin <= 1e-12


def test_floor_of_genuinely_overlapping_hard_set():
    # 1-D: points +1 at x = 1, 2 and -1 at x = 1.5: hard set is all three; the floor solves a 1-D problem
    X = np.array([[1.0], [2.0], [1.5], [-3.0]])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    sep = check(make_dataset(X, y), "exp")
    assert not sep.separable
    # point 3 (x = −3, y = −1) has margin 3β > 0 for β > 0, but points 0..2 force β = 0 on the cone
    from scipy.optimize import minimize_scalar

    f = lambda b: np.exp(-b) + np.exp(-2 * b) + np.exp(1.5 * b) + np.exp(-3 * b) * 0
    hard = set(sep.hard_set)
    if hard == {0, 1, 2, 3}:
        f = lambda b: np.exp(-b) + np.exp(-2 * b) + np.exp(1.5 * b) + np.exp(-3 * b)
    ref = minimize_scalar(f, bounds=(-5, 5), method="bounded", options={"xatol": 1e-12}).fun / 4
    assert abs(sep.floor / ref - 1) < 1e-8


def test_regression_floor_is_least_squares():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(7, 2)), rng.normal(size=7)
    sep = check(make_dataset(X, y, task="regression"), "square")
    b, *_ = np.linalg.lstsq(X, y, rcond=None)
    assert not sep.separable
    assert abs(sep.floor / (0.5 * np.mean((y - X @ b) ** 2)) - 1) < 1e-10
    assert check(make_dataset(X[:2], y[:2], task="regression")).separable


@given(st.integers(1, 8), st.integers(1, 6), st.integers(0, 20))
def test_lp_decision_agrees_with_a_witness(n, d, seed):
    ds = gaussian(n=n, d=d, k=1, seed=seed, flip=0.3)
    sep = check(ds, "logistic")
    if sep.separable:
        assert sep.margin > 0
    else:
        assert sep.floor_log10 is not None and sep.floor > 0
        # floor never exceeds the loss at β = 0
        assert sep.floor <= math.log(2.0) * (1 + 1e-12)
        assert len(sep.hard_set) >= 2
