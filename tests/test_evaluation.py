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


def test_pairwise_agreement_known_answers():
    import pandas as pd
    from va_evaluation import pairwise_agreement
    pairs = pd.DataFrame({"preferred": ["a", "a", "b", "c", "x"], "unpreferred": ["b", "c", "c", "a", "a"]})
    scores = {"a": 3.0, "b": 2.0, "c": 2.0}
    # a>b yes, a>c yes, b=c tie (0.5), c>a no; the pair with unknown x is left out
    assert pairwise_agreement(scores, pairs) == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    assert np.isnan(pairwise_agreement({"q": 1.0}, pairs))


def test_bradley_terry_orders_a_known_ranking():
    import pandas as pd
    from va_evaluation import bradley_terry, pairwise_agreement
    rng = np.random.default_rng(0)
    true = {"a": 2.0, "b": 1.0, "c": 0.0, "d": -1.5}
    rows = []
    for _ in range(400):
        i, j = rng.choice(list(true), 2, replace=False)
        p = 1 / (1 + np.exp(true[j] - true[i]))
        rows.append((i, j) if rng.random() < p else (j, i))
    pairs = pd.DataFrame(rows, columns=["preferred", "unpreferred"])
    bt = bradley_terry(pairs)
    assert list(bt.sort_values(ascending=False).index) == ["a", "b", "c", "d"]
    assert bt.mean() == pytest.approx(0.0, abs=1e-9)
    assert pairwise_agreement(bt.to_dict(), pairs) > 0.7
    # a clip that always wins keeps a finite score
    assert np.isfinite(bradley_terry(pd.DataFrame({"preferred": ["a"] * 5, "unpreferred": ["b"] * 5}))).all()


def test_load_sonancia(tmp_path):
    from conftest import write_sound
    from va_data_loader import load_sonancia
    from va_utils import BadLabelError
    for c in ("c1", "c2", "c3"):
        write_sound(tmp_path / "sounds" / f"{c}.flac", "chime", seconds=0.5)
    (tmp_path / "arousal_pairs.csv").write_text("c1,c2\nc2,c3\nc1,gone\n")
    (tmp_path / "valence_pairs.csv").write_text("c3,c1\n")
    (tmp_path / "tension_pairs.csv").write_text("")
    clips, pairs = load_sonancia(tmp_path)
    assert list(clips["clip"]) == ["c1", "c2", "c3"] and set(clips["group"]) == {"c1", "c2", "c3"}
    assert len(pairs["arousal"]) == 2 and len(pairs["valence"]) == 1 and len(pairs["tension"]) == 0
    (tmp_path / "valence_pairs.csv").write_text("c3,c1,c2\n")
    with pytest.raises(BadLabelError, match="valence_pairs.csv, line 1"):
        load_sonancia(tmp_path)
