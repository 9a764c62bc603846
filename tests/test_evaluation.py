"""Grouped CV and metrics: known answers, and no group on both sides of a split."""
import numpy as np
import pytest

from va_evaluation import ccc, group_folds, nested_cv, pearson_r, regression_metrics, summarise
from va_models import make_model
from va_utils import EmoTagError


def test_metrics_known_answers():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    m = regression_metrics(y, y)
    assert m["r2"] == 1.0 and m["rmse"] == 0.0 and np.isclose(m["r"], 1) and np.isclose(m["ccc"], 1)
    m = regression_metrics(y, y + 1)  # perfect correlation, biased
    assert np.isclose(m["r"], 1) and np.isclose(m["rmse"], 1.0)
    assert np.isclose(m["ccc"], 2 * 1.25 / (1.25 + 1.25 + 1.0))
    assert np.isclose(m["r2"], 1 - 4 / 5)
    assert np.isnan(pearson_r(y, np.ones(4)))
    assert np.isclose(ccc(y, -y + 5), -1.0)


def test_group_folds_never_split_a_group():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 23, 400).astype(str)
    for tr, te in group_folds(groups, 5).split(np.zeros(400), groups=groups):
        assert not set(groups[tr]) & set(groups[te])
    with pytest.raises(EmoTagError, match="at least 2 groups"):
        group_folds(np.array(["a"] * 5), 5)


def test_nested_cv_outputs_and_grouping():
    rng = np.random.default_rng(1)
    n, g = 120, 12
    groups = np.repeat(np.arange(g), n // g).astype(str)
    X = rng.standard_normal((n, 6))
    y = X[:, 0] * 0.5 + 0.1 * rng.standard_normal(n)
    pipe, grid = make_model("svm", "regression", [f"f{i}" for i in range(6)])
    folds, oof = nested_cv(pipe, grid, X, y, groups, folds=4, inner_folds=2, strata=np.where(X[:, 1] > 0, "a", "b"))
    assert np.isfinite(oof).all()
    assert set(folds["subset"]) == {"all", "a", "b"} and folds["fold"].nunique() == 4
    assert folds.loc[folds["subset"] == "all", "r"].mean() > 0.8  # an easy linear signal is learned
    s = summarise(folds, target="t")
    assert set(s["metric"]) == {"r2", "rmse", "r", "ccc"} and (s["folds"] == 4).all()
