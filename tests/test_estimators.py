"""The scikit-learn-style façade: fit gradient flow, read coef_, margin_, trajectory_."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biasflow.bias.interpolate import interpolate
from biasflow.data import builtin, gaussian
from biasflow.errors import BiasflowError
from biasflow.estimators import GradientFlowClassifier, GradientFlowRegressor
from biasflow.models import Diagonal

SPARSE = builtin("sparse")
REG = gaussian(n=8, d=20, k=2, task="regression", seed=4)


def test_estimators():
    clf = GradientFlowClassifier(depth=2, alpha=0.5, until="1e-30").fit(SPARSE.X, (SPARSE.y > 0).astype(int))
    assert clf.status_ == "ok" and list(clf.classes_) == [0, 1]
    assert clf.score(SPARSE.X, (SPARSE.y > 0).astype(int)) == 1.0
    assert clf.margin_ == pytest.approx(float(np.min(SPARSE.A @ clf.coef_)) / np.abs(clf.coef_).sum())
    assert clf.trajectory_.final.log10_loss == pytest.approx(-30.0)
    reg = GradientFlowRegressor(depth=2, alpha=0.2, until="1e-20").fit(REG.X, REG.y)
    ref = interpolate(Diagonal(d=20, depth=2, alpha=0.2), REG).predictor
    np.testing.assert_allclose(reg.coef_, ref, atol=1e-6 * np.linalg.norm(ref))
    assert reg.score(REG.X, REG.y) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="not fitted"):  # BiasflowError, or scikit-learn's NotFittedError
        GradientFlowRegressor().predict(REG.X)
    with pytest.raises(BiasflowError, match="two classes"):
        GradientFlowClassifier().fit(SPARSE.X, np.zeros(10))
    assert math.isfinite(reg.get_params()["alpha"])


def test_estimator_params_and_bad_input():
    clf = GradientFlowClassifier(alpha=0.3)
    assert clf.get_params()["alpha"] == 0.3 and clf.set_params(depth=3).depth == 3
    with pytest.raises(ValueError, match="[Uu]nknown parameter|Invalid parameter"):
        clf.set_params(nope=1)
    with pytest.raises(BiasflowError, match="regression loss|classification loss|needs a"):
        GradientFlowRegressor(loss="exp").fit(REG.X, REG.y)
    fitted = GradientFlowClassifier(alpha=0.5, until="1e-5").fit(SPARSE.X, SPARSE.y)
    with pytest.raises(ValueError, match="shape|features"):
        fitted.predict(np.ones((2, 3)))
