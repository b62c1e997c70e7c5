"""The estimators are scikit-learn estimators: check_estimator, pipelines, cross-validation, floors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")  # the `sklearn` extra (in the dev extra, so CI runs these)

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from biasflow.data import builtin, digits, non_separable  # noqa: E402
from biasflow.dynamics.separability import check  # noqa: E402
from biasflow.estimators import GradientFlowClassifier, GradientFlowRegressor, LossFloorWarning  # noqa: E402


@parametrize_with_checks([GradientFlowClassifier(), GradientFlowRegressor()])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossFloorWarning)  # most check data sets are not separable
        check(estimator)


def test_cross_val_score_on_pipeline_is_finite():
    ds = digits((3, 8), n=80, seed=1)  # real data: the folds need not be separable
    pipe = make_pipeline(StandardScaler(), GradientFlowClassifier(alpha=0.1, until="1e-5"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossFloorWarning)
        scores = cross_val_score(pipe, ds.X, ds.y, cv=3, error_score="raise")
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    assert scores.mean() > 0.8  # 3 vs 8 is easy for a linear classifier (chance is 0.5)
    grid = GridSearchCV(GradientFlowClassifier(until="1e-5"), {"alpha": [0.1, 1.0]}, cv=2, error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossFloorWarning)
        grid.fit(ds.X, ds.y)
    assert grid.best_params_["alpha"] in (0.1, 1.0) and np.isfinite(grid.best_score_)


def test_non_separable_fits_to_the_floor_with_a_warning():
    ds = non_separable(builtin("sparse"))  # a point repeated with the opposite label
    floor = check(ds, "exp", margin=False).floor_log10
    with pytest.warns(LossFloorWarning, match="floor"):
        clf = GradientFlowClassifier(until="1e-30", floor_rtol=1e-6).fit(ds.X, ds.y)
    assert clf.status_ == "target_unreachable" and clf.floor_log10_ == pytest.approx(floor)
    reached = clf.trajectory_.final.log10_loss
    # stated target: ℒ = ℒ*·(1 + 1e-6), i.e. log10 ℒ − log10 ℒ* = log10(1 + 1e-6) ≈ 4.3e-7
    assert reached - floor == pytest.approx(np.log10(1 + 1e-6), rel=1e-6)
    # at the floor the gradient of the exp loss vanishes: Σ_i exp(−y_i x_iᵀβ) y_i x_i ≈ 0 relative to ℒ
    m = ds.A @ clf.coef_
    g = ds.A.T @ np.exp(-m) / ds.n
    assert np.linalg.norm(g) < 1e-2 * np.exp(-m).mean()  # loose: ℒ − ℒ* ≤ 1e-6 ℒ* bounds ‖∇ℒ‖ only weakly


def test_regressor_not_interpolable_warns_and_matches_least_squares():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    y = X @ np.arange(1.0, 6.0) + rng.standard_normal(40)
    with pytest.warns(LossFloorWarning, match="range of X"):
        reg = GradientFlowRegressor(until="1e-20", floor_rtol=1e-10).fit(X, y)
    ls = np.linalg.lstsq(X, y, rcond=None)[0]
    # excess loss ≤ 1e-10·ℒ* with Hessian XᵀX/n ⪰ λ_min: ‖β − β_ls‖ ≤ sqrt(2e-10 ℒ*/λ_min) ~ 1e-5
    np.testing.assert_allclose(reg.coef_, ls, atol=1e-4)
    assert reg.status_ == "target_unreachable"


def test_predict_proba_is_the_loss_link_and_repr_is_short():
    ds = builtin("sparse")
    for loss, scale in (("exp", 2.0), ("logistic", 1.0)):
        clf = GradientFlowClassifier(loss=loss, alpha=0.5, until="1e-3").fit(ds.X, ds.y)
        f = clf.decision_function(ds.X)
        p = clf.predict_proba(ds.X)
        np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-scale * f)), rtol=1e-12)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
        np.testing.assert_allclose(np.exp(clf.predict_log_proba(ds.X)), p, rtol=1e-12)
        assert list(clf.classes_[np.argmax(p, axis=1)]) == list(clf.predict(ds.X))
    assert repr(GradientFlowClassifier(alpha=0.1)) == "GradientFlowClassifier(alpha=0.1)"
    assert repr(clone(GradientFlowRegressor(depth=3))) == "GradientFlowRegressor(depth=3)"
    assert not hasattr(GradientFlowRegressor(), "decision_function")


def test_three_classes_refused_with_the_reason():
    X = np.eye(3)
    with pytest.raises(ValueError, match="binary.*3 classes"):
        GradientFlowClassifier().fit(X, [0, 1, 2])
