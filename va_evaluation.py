"""Grouped cross-validation, hyperparameter search and regression metrics.

Reads and writes no files. Used by ``train_emo_model.py`` and the descriptor stages so
that every reported number comes from the same procedure:

* folds are :class:`sklearn.model_selection.GroupKFold` over the leaking unit (actor,
  track, source recording), so no group is on both sides of a split;
* the hyperparameter search runs *inside* each outer training fold (nested CV), so the
  reported scores never saw the test fold;
* metrics are R², RMSE, Pearson r and Lin's concordance correlation coefficient (CCC),
  given as one value per outer fold and summarised as mean ± std.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.feature_selection import SelectKBest, f_regression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from va_utils import EmoTagError

METRICS = ("r2", "rmse", "r", "ccc")


def pearson_r(y, yhat) -> float:
    """Pearson correlation; NaN when either side is constant."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    if y.size < 2 or np.std(y) == 0 or np.std(yhat) == 0:
        return float("nan")
    return float(np.corrcoef(y, yhat)[0, 1])


def ccc(y, yhat) -> float:
    """Lin's concordance correlation coefficient in [-1, 1]."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    my, mp = y.mean(), yhat.mean()
    vy, vp = y.var(), yhat.var()
    cov = ((y - my) * (yhat - mp)).mean()
    den = vy + vp + (my - mp) ** 2
    return float(2 * cov / den) if den > 0 else float("nan")


def regression_metrics(y, yhat) -> dict:
    """R², RMSE, Pearson r and CCC of predictions ``yhat`` against ``y``."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    ss_res = float(((y - yhat) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {"r2": 1 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
            "rmse": float(np.sqrt(ss_res / y.size)), "r": pearson_r(y, yhat), "ccc": ccc(y, yhat)}


def svr_pipeline(n_features: int):
    """scaler -> SelectKBest(f_regression) -> RBF SVR, and its search grid."""
    pipe = Pipeline([("scale", StandardScaler()), ("select", SelectKBest(f_regression)),
                     ("svr", SVR(kernel="rbf", gamma="scale"))])
    ks = sorted({min(k, n_features) for k in (40, 100)} | {n_features})
    grid = {"select__k": ks, "svr__C": [0.3, 1.0, 3.0], "svr__epsilon": [0.05, 0.1]}
    return pipe, grid


def group_folds(groups, n_splits: int, *, seed: int = 0):
    """``GroupKFold`` with shuffled group assignment; fewer splits if there are few groups."""
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise EmoTagError(f"grouped CV needs at least 2 groups, got {n_groups}")
    return GroupKFold(n_splits=min(n_splits, n_groups), shuffle=True, random_state=seed)


def fit_search(pipe, grid, X, y, groups, *, folds: int = 5, jobs: int = 1, seed: int = 0):
    """Grid search under grouped K-fold; return the fitted ``GridSearchCV``."""
    cv = group_folds(groups, folds, seed=seed)
    search = GridSearchCV(pipe, grid, cv=cv, scoring="r2", n_jobs=jobs, refit=True, error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant features in SelectKBest
        warnings.simplefilter("ignore", RuntimeWarning)
        search.fit(X, y, groups=groups)
    return search


def nested_cv(pipe, grid, X, y, groups, *, folds: int = 5, inner_folds: int = 3, jobs: int = 1,
              seed: int = 0, strata=None):
    """Nested grouped CV.

    Returns
    -------
    fold_metrics : DataFrame
        One row per (fold, subset): columns ``fold, subset, n, r2, rmse, r, ccc``;
        ``subset`` is ``"all"`` and, when ``strata`` is given (e.g. the corpus of each
        row), also each stratum's name.
    oof : np.ndarray, shape (n,)
        Out-of-fold predictions (each row predicted by a model that never saw its group).
    """
    X, y, groups = np.asarray(X, float), np.asarray(y, float), np.asarray(groups)
    strata = None if strata is None else np.asarray(strata)
    outer = group_folds(groups, folds, seed=seed)
    oof = np.full(y.shape, np.nan)
    rows = []
    for k, (tr, te) in enumerate(outer.split(X, y, groups)):
        assert not set(groups[tr]) & set(groups[te])
        search = fit_search(clone(pipe), grid, X[tr], y[tr], groups[tr], folds=inner_folds, jobs=jobs, seed=seed)
        oof[te] = search.predict(X[te])
        subsets = [("all", te)]
        if strata is not None:
            subsets += [(s, te[strata[te] == s]) for s in np.unique(strata)]
        for name, idx in subsets:
            if idx.size >= 2:
                rows.append({"fold": k, "subset": name, "n": int(idx.size), **regression_metrics(y[idx], oof[idx])})
    return pd.DataFrame(rows), oof


def summarise(fold_metrics: pd.DataFrame, **labels) -> pd.DataFrame:
    """Mean and std over folds of each metric, per subset: one row per (subset, metric)."""
    if fold_metrics.empty:
        raise EmoTagError("every test fold holds fewer than 2 files; add data or lower --folds")
    out = []
    for subset, g in fold_metrics.groupby("subset", sort=False):
        for m in METRICS:
            out.append({**labels, "subset": subset, "metric": m, "mean": g[m].mean(), "std": g[m].std(ddof=1),
                        "folds": len(g), "n": int(g["n"].sum())})
    return pd.DataFrame(out)
