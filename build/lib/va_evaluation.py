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

import contextlib
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold

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


def group_folds(groups, n_splits: int, *, seed: int = 0):
    """``GroupKFold`` with shuffled group assignment; fewer splits if there are few groups."""
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise EmoTagError(f"grouped CV needs at least 2 groups, got {n_groups}")
    return GroupKFold(n_splits=min(n_splits, n_groups), shuffle=True, random_state=seed)


@contextlib.contextmanager
def one_blas_thread():
    """Every fit inside, here and in joblib's worker processes, uses one BLAS/OpenMP thread.

    The fitted models are then the same on a 2-core laptop and a 64-core server (a
    multi-threaded BLAS sums in another order, which moves an iterative solver's result
    in the third decimal), and small fits are faster: a logistic regression on 1,199
    files x 708 features took 0.75 s on one thread and 2.4 s on two here.
    """
    from joblib import parallel_config
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1), parallel_config(backend="loky", inner_max_num_threads=1):
        yield


class FixedModel:
    """What :func:`fit_search` returns for a grid with one candidate: the estimator fitted
    as it is, under the names of a fitted ``GridSearchCV`` (``best_estimator_``,
    ``best_params_``, ``predict``)."""

    def __init__(self, estimator, params: dict):
        self.best_estimator_, self.best_params_ = estimator, params

    def predict(self, X):
        return self.best_estimator_.predict(X)


def _single_candidate(grid) -> dict | None:
    """The parameters of a grid that holds exactly one candidate (``{}`` included), else None."""
    if isinstance(grid, dict) and all(len(v) == 1 for v in grid.values()):
        return {k: v[0] for k, v in grid.items()}
    return None


@contextlib.contextmanager
def _fitting():
    """Where every fit runs: one BLAS thread, and the known harmless warnings silenced."""
    with one_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant features in SelectKBest
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def fit_search(pipe, grid, X, y, groups, *, folds: int = 5, jobs: int = 1, seed: int = 0, scoring: str = "r2"):
    """Grid search under grouped K-fold; return the fitted ``GridSearchCV``.

    A grid with a single candidate (an empty grid included) has nothing to choose: the
    estimator is fitted once on everything, which gives exactly the model the search
    would have refitted, without the search's K wasted fits.
    """
    only = _single_candidate(grid)
    if only is not None:
        with _fitting():
            model = clone(pipe).set_params(**only)
            if getattr(model, "accepts_groups", False):   # it makes grouped folds of its own
                return FixedModel(model.fit(X, y, groups=groups), only)
            return FixedModel(model.fit(X, y), only)
    cv = group_folds(groups, folds, seed=seed)
    search = GridSearchCV(pipe, grid, cv=cv, scoring=scoring, n_jobs=jobs, refit=True, error_score="raise")
    with _fitting():
        search.fit(X, y, groups=groups)
    return search


def nested_cv(pipe, grid, X, y, groups, *, folds: int = 5, inner_folds: int = 3, jobs: int = 1,
              seed: int = 0, strata=None, refit: bool = False):
    """Nested grouped CV, and (``refit=True``) the final model on all the data.

    The final model is what ``fit_search(pipe, grid, X, y, groups, folds=folds, ...)``
    returns: its hyperparameters searched by grouped ``folds``-fold CV over everything.
    With nothing to search and ``jobs != 1``, it trains in the same parallel batch as the
    outer folds.

    Returns
    -------
    fold_metrics : DataFrame
        One row per (fold, subset): columns ``fold, subset, n, r2, rmse, r, ccc``;
        ``subset`` is ``"all"`` and, when ``strata`` is given (e.g. the corpus of each
        row), also each stratum's name.
    oof : np.ndarray, shape (n,)
        Out-of-fold predictions (each row predicted by a model that never saw its group).
    final : fitted search, only with ``refit=True``
        ``best_estimator_``, ``best_params_`` and ``predict``, as from :func:`fit_search`.
    """
    X, y, groups = np.asarray(X, float), np.asarray(y, float), np.asarray(groups)
    strata = None if strata is None else np.asarray(strata)
    outer = list(group_folds(groups, folds, seed=seed).split(X, y, groups))
    for tr, te in outer:
        if set(groups[tr]) & set(groups[te]):
            raise EmoTagError("a group is on both sides of a split")
    oof = np.full(y.shape, np.nan)
    final = None
    if _single_candidate(grid) is not None and jobs != 1 and len(outer) > 1:
        # nothing to search: the outer folds (and the final model) themselves run in parallel
        from joblib import Parallel, delayed
        parts = [(X[tr], y[tr], groups[tr], inner_folds) for tr, _ in outer]
        if refit:
            parts.append((X, y, groups, folds))
        with one_blas_thread():
            fitted = Parallel(n_jobs=jobs)(delayed(fit_search)(clone(pipe), grid, Xp, yp, gp, folds=k, seed=seed)
                                           for Xp, yp, gp, k in parts)
        if refit:
            final = fitted.pop()
    else:
        fitted = [fit_search(clone(pipe), grid, X[tr], y[tr], groups[tr], folds=inner_folds, jobs=jobs, seed=seed)
                  for tr, _ in outer]
        if refit:
            final = fit_search(clone(pipe), grid, X, y, groups, folds=folds, jobs=jobs, seed=seed)
    rows = []
    for k, ((tr, te), search) in enumerate(zip(outer, fitted)):
        oof[te] = search.predict(X[te])
        subsets = [("all", te)]
        if strata is not None:
            subsets += [(s, te[strata[te] == s]) for s in np.unique(strata)]
        for name, idx in subsets:
            if idx.size >= 2:
                rows.append({"fold": k, "subset": name, "n": int(idx.size), **regression_metrics(y[idx], oof[idx])})
    return (pd.DataFrame(rows), oof, final) if refit else (pd.DataFrame(rows), oof)


def conformal_interval(y, oof, groups, *, folds: int = 5, seed: int = 0, level: float = 0.9) -> dict:
    """A split-conformal prediction interval from out-of-fold residuals, and its coverage under grouped CV.

    The half-width is the ``level`` quantile (with the finite-sample correction
    ``ceil((n + 1) level) / n``) of ``|y - oof|``. Its coverage is checked the same way it
    will be used: for each outer fold (the folds of :func:`nested_cv` with the same
    ``folds`` and ``seed``), the half-width comes from the other folds' residuals and the
    share of this fold's rows inside ``oof ± half-width`` is measured.

    Returns
    -------
    dict
        ``level``, ``halfwidth`` (same unit as ``y``), ``coverage_mean``, ``coverage_std``
        (over folds) and ``folds``.
    """
    y, oof, groups = np.asarray(y, float), np.asarray(oof, float), np.asarray(groups)
    res = np.abs(y - oof)

    def q(r):
        k = min(len(r), int(np.ceil((len(r) + 1) * level)))
        return float(np.sort(r)[k - 1])
    cover = []
    for tr, te in group_folds(groups, folds, seed=seed).split(res, res, groups):
        cover.append(float(np.mean(res[te] <= q(res[tr]))))
    return {"level": level, "halfwidth": q(res), "coverage_mean": float(np.mean(cover)),
            "coverage_std": float(np.std(cover, ddof=1)) if len(cover) > 1 else float("nan"), "folds": len(cover)}


def domain_intervals(X, y, oof, groups, *, folds: int = 5, seed: int = 0, level: float = 0.9,
                     feature_names=None, min_files: int = 30) -> dict:
    """Group-conditional conformal intervals: :func:`conformal_interval` per domain.

    The domain of each row is :func:`va_yamnet.domains` of its YAMNet class scores (the
    columns named ``yamnet.score.*`` in ``feature_names``, default the running
    configuration's). Domains with fewer than ``min_files`` rows or 2 groups are left
    out (they keep the overall width). Returns ``{domain: {halfwidth, coverage_mean,
    coverage_std, folds, n}}``.
    """
    import va_yamnet
    from essentia_engine import DEFAULT_CONFIG
    from essentia_engine import feature_names as names_of
    names = list(feature_names) if feature_names is not None else list(names_of(DEFAULT_CONFIG))
    cols = va_yamnet.score_columns(names)
    if not cols:
        return {}
    X, y, oof, groups = np.asarray(X, float), np.asarray(y, float), np.asarray(oof, float), np.asarray(groups)
    dom = va_yamnet.domains(X[:, cols])
    out = {}
    for d in va_yamnet.DOMAINS:
        m = dom == d
        if m.sum() < min_files or len(np.unique(groups[m])) < 2:
            continue
        iv = conformal_interval(y[m], oof[m], groups[m], folds=min(folds, len(np.unique(groups[m]))), seed=seed,
                                level=level)
        out[d] = {**iv, "n": int(m.sum())}
    return out


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


# ------------------------------------------------------------------ pairwise judgements
def pairwise_agreement(scores: dict, pairs: pd.DataFrame) -> float:
    """Share of judgements ``(preferred, unpreferred)`` that ``scores`` order the same way.

    A tie counts one half; pairs naming a clip without a score are left out. Chance is 0.5.
    Returns NaN when no pair is left.
    """
    keep = pairs["preferred"].isin(scores.keys()) & pairs["unpreferred"].isin(scores.keys())
    if not keep.any():
        return float("nan")
    a = pairs.loc[keep, "preferred"].map(scores).to_numpy(float)
    b = pairs.loc[keep, "unpreferred"].map(scores).to_numpy(float)
    return float(np.mean((a > b) + 0.5 * (a == b)))


def bradley_terry(pairs: pd.DataFrame, clips=None, *, prior: float = 1.0, iterations: int = 200) -> pd.Series:
    """Bradley–Terry strengths of clips from pairwise judgements, as log-strengths with mean 0.

    Each clip gets ``prior`` virtual wins and losses against an average clip, so a clip
    that always (or never) wins keeps a finite score. Fitted by the MM algorithm
    (Hunter 2004). ``clips`` lists the clips to score (default: every clip in ``pairs``).
    """
    clips = sorted(set(pairs["preferred"]) | set(pairs["unpreferred"])) if clips is None else list(clips)
    idx = {c: i for i, c in enumerate(clips)}
    p = pairs[pairs["preferred"].isin(idx) & pairs["unpreferred"].isin(idx)]
    w = np.array([idx[c] for c in p["preferred"]], dtype=int)
    l_ = np.array([idx[c] for c in p["unpreferred"]], dtype=int)
    n = len(clips)
    wins = np.bincount(w, minlength=n) + prior
    s = np.ones(n)
    for _ in range(iterations):
        denom = np.zeros(n)
        inv = 1.0 / (s[w] + s[l_])
        np.add.at(denom, w, inv)
        np.add.at(denom, l_, inv)
        denom += 2 * prior / (s + 1.0)                     # the virtual games against strength 1
        s = wins / denom
        s /= np.exp(np.mean(np.log(s)))
    return pd.Series(np.log(s), index=clips)


# ------------------------------------------------------------------ classification, fixed folds
def classification_metrics(y, yhat) -> dict:
    """Unweighted average recall (UAR, = balanced accuracy) and accuracy."""
    y, yhat = np.asarray(y), np.asarray(yhat)
    classes = np.unique(y)
    recalls = [float(np.mean(yhat[y == c] == c)) for c in classes]
    return {"uar": float(np.mean(recalls)), "accuracy": float(np.mean(y == yhat))}


def confusion(y, yhat, labels) -> np.ndarray:
    """Counts, rows = true label, columns = predicted label, in the order of ``labels``."""
    idx = {l: i for i, l in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=int)
    for a, b in zip(y, yhat):
        m[idx[a], idx[b]] += 1
    return m


def fixed_folds(groups, n_splits: int = 5, *, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The outer folds as explicit ``(train, test)`` index pairs, so that every system
    in a comparison is scored on exactly the same splits."""
    groups = np.asarray(groups)
    return [(tr, te) for tr, te in group_folds(groups, n_splits, seed=seed).split(np.zeros(len(groups)), groups=groups)]


def oof_predict(pipe, grid, X, y, groups, folds, *, inner_folds: int = 3, scoring=None, jobs: int = 1,
                seed: int = 0, proba: bool = False):
    """Out-of-fold predictions over the given outer ``folds``.

    With a non-empty ``grid`` the hyperparameters are searched by grouped
    ``inner_folds``-fold CV inside each outer training part (nested CV); with an empty
    grid ``pipe`` is fitted as is. No test group is ever seen in training.

    Returns
    -------
    oof : np.ndarray, shape (n,)
    params : list of dict
        The chosen hyperparameters of each outer fold.
    proba : np.ndarray, shape (n, n_classes), only when ``proba=True``
        Out-of-fold class probabilities, columns in sorted class order.
    """
    X, y, groups = np.asarray(X, float), np.asarray(y), np.asarray(groups)
    oof = np.empty(y.shape, dtype=y.dtype if y.dtype.kind in "OUS" else float)
    classes = np.unique(y) if proba else None
    P = np.zeros((y.size, classes.size)) if proba else None
    chosen = []
    for tr, te in folds:
        if set(groups[tr]) & set(groups[te]):
            raise EmoTagError("a group is on both sides of a split")
        if grid:
            cv = group_folds(groups[tr], inner_folds, seed=seed)
            model = GridSearchCV(clone(pipe), grid, cv=cv, scoring=scoring, n_jobs=jobs, refit=True,
                                 error_score="raise")
        else:
            model = clone(pipe)
        with _fitting():
            if grid or getattr(model, "accepts_groups", False):
                model.fit(X[tr], y[tr], groups=groups[tr])
            else:
                model.fit(X[tr], y[tr])
        oof[te] = model.predict(X[te])
        chosen.append(dict(model.best_params_) if grid else {})
        if proba:
            pr = model.predict_proba(X[te])
            cols = np.searchsorted(classes, model.classes_)
            P[np.ix_(te, cols)] = pr
    return (oof, chosen, P) if proba else (oof, chosen)
