"""The comparison behind ``evaluate_models.py``: tasks, systems, shared folds, scores.

Reads audio (through the feature extractors and their caches); writes nothing itself.

A *task* is one target on one corpus (``ravdess/emotion8``, ``emotify/tension``, ...).
A *system* is a feature set plus a model recipe: our candidates and baselines (a)-(d)
of :mod:`va_baselines`. Every system is scored on every task it applies to, on the
**same** outer folds (:func:`va_evaluation.fixed_folds`, grouped by actor or track), and
hyperparameters, where a system has any, are searched inside each outer training part.

:func:`run_benchmark` returns one row per (task, system, fold, metric); the caller turns
that into tables.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from essentia_engine import ExtractorConfig, feature_names
from va_data_loader import GEMS, RAVDESS_EMOTIONS, load_lexicon, word_coords
from va_evaluation import classification_metrics, confusion, oof_predict, regression_metrics
from va_models import DEFAULT_RECIPES, ClassifierVA, make_model
from va_utils import EmoTagError, log

AROUSAL_SPLIT = 0.0  # RAVDESS "high vs low arousal": lexicon arousal above / below this


@dataclasses.dataclass
class Task:
    corpus: str
    target: str        # column of the corpus table
    kind: str          # "regression" | "classification"
    metrics: tuple

    @property
    def name(self) -> str:
        return f"{self.corpus}/{self.target}"


def tasks_for(corpus: str) -> list[Task]:
    reg_full, reg = ("r", "r2", "ccc"), ("r", "r2")
    if corpus == "ravdess":
        return [Task("ravdess", "emotion", "classification", ("uar", "accuracy")),
                Task("ravdess", "valence", "regression", reg_full),
                Task("ravdess", "arousal", "regression", reg_full + ("hilo_accuracy",))]
    if corpus == "emotify":
        return [Task("emotify", g, "regression", reg) for g in GEMS] + \
            [Task("emotify", t, "regression", reg) for t in ("valence", "arousal")]
    raise EmoTagError(f"no tasks defined for corpus {corpus!r}")


@dataclasses.dataclass
class System:
    """``features`` names a matrix in the feature dict; ``build(task, names)`` gives
    ``(estimator, grid)`` or None when the system does not apply to the task."""
    name: str
    label: str
    features: str
    build: object
    fit_on: str = "task"   # "task": labels of the task; "emotion": fit on categories (ClassifierVA)


def _category_coords():
    words = list(RAVDESS_EMOTIONS.values())
    return dict(zip(words, map(tuple, word_coords(load_lexicon(), words, source="RAVDESS categories"))))


def our_systems(families=("svm", "linear", "hgb", "mlp", "stack")) -> list[System]:
    """Our default recipe, the speech classifier's VA, and (optionally) every candidate family."""
    coords = _category_coords()

    def default(task, names):
        return make_model(DEFAULT_RECIPES[task.kind], task.kind, names, target=task.target)

    def via_classifier(task, names):
        if task.corpus != "ravdess" or task.target not in ("valence", "arousal"):
            return None
        clf, grid = make_model(DEFAULT_RECIPES["classification"], "classification", names)
        return ClassifierVA(clf, coords, dim=0 if task.target == "valence" else 1, grid=grid), {}

    systems = [System("ours", "ours (default recipe)", "ours", default),
               System("ours_clfva", "ours: 8-class posteriors → VA", "ours", via_classifier, fit_on="emotion")]
    for fam in families:
        systems.append(System(f"ours_{fam}", f"ours: {fam}", "ours",
                              lambda task, names, fam=fam: make_model(fam, task.kind, names, target=task.target)))
    return systems


# Feature ablations of our default recipe: (feature-set key, label). The subsets are
# columns of the default features; "notrim" and "loudnorm" are extracted with a changed
# ExtractorConfig (see ABLATION_CONFIGS).
ABLATIONS = {
    "ours_noyamnet": "features: ours only, without the YAMNet group (the default before issue 13)",
    "ours_ms": "features: mean and stdev only, no envelope/prosody",
    "ours_allstats": "features: 8 statistics, no envelope/prosody",
    "ours_nolog": "features: all, without the log-energy transform",
    "ours_notrim": "features: all, without trimming silence",
    "ours_loudnorm": "features: all, loudness normalised to -20 dBFS",
}
ABLATION_CONFIGS = {"ours_notrim": {"trim_db": None}, "ours_loudnorm": {"loudness_norm": -20.0}}


def ablation_subsets(X, names):
    """The column-subset ablations of the default features: {key: (X, names)}.

    The statistics ablations change our features only and keep the YAMNet group;
    ``ours_noyamnet`` drops the YAMNet group (so the default recipe has no embedding and
    no lexicon prior).
    """
    names = np.asarray(names)
    yam = np.array([n.startswith("yamnet.") for n in names])
    extra = np.array([n.startswith(("prosody.", "sfx.")) and n.count(".") == 1 for n in names])
    ms = np.array([(".mean" in n or ".stdev" in n) and ".dmean" not in n and ".dstdev" not in n for n in names])
    keep = {"ours_noyamnet": ~yam, "ours_ms": (ms & ~extra) | yam, "ours_allstats": ~extra}
    return {k: (X[:, m], list(names[m])) for k, m in keep.items()}


def _without_log(est):
    """``est`` with every :class:`va_models.EnergyLog` step replaced by "passthrough"."""
    from va_models import EnergyLog
    params = est.get_params(deep=True)
    off = {k: "passthrough" for k, v in params.items() if isinstance(v, EnergyLog)}
    off.update({k: False for k in params if k == "energy_log" or k.endswith("__energy_log")})   # SoundVA
    return est.set_params(**off)


def ablation_systems() -> list[System]:
    def default(task, names):
        return make_model(DEFAULT_RECIPES[task.kind], task.kind, names, target=task.target)

    def nolog(task, names):
        est, grid = default(task, names)
        return _without_log(est), grid
    out = []
    for key, label in ABLATIONS.items():
        feats = "ours" if key == "ours_nolog" else key
        out.append(System(f"abl_{key[5:]}", f"ablation, {label}", feats, nolog if key == "ours_nolog" else default))
    return out


def baseline_systems() -> list[System]:
    from va_baselines import mlp_pipeline, recipe_a_pipeline, svm_pipeline
    return [
        System("a", "(a) reference: Essentia 32 kHz, k=150, SVR C=0.4", "a",
               lambda t, n: (recipe_a_pipeline(t.kind), {})),
        System("b_svm", "(b) thesis features, SVM", "b", lambda t, n: (svm_pipeline(t.kind), {})),
        System("b_mlp", "(b) thesis features, MLP dropout 0.2", "b", lambda t, n: (mlp_pipeline(t.kind), {})),
        System("c", "(c) speech app: 100 MFCC means, SVM", "c", lambda t, n: (svm_pipeline(t.kind), {})),
    ]


class PeerCalibrated(BaseEstimator):
    """A peer output used as a predictor: on the training part pick, among ``columns``,
    the output with the largest |r| to the target (so its sign fits), then map it
    linearly onto the target. No other training."""

    def __init__(self, columns=()):
        self.columns = columns

    def fit(self, X, y):
        X = np.asarray(X, float)
        rs = [abs(np.corrcoef(X[:, c], y)[0, 1]) if np.std(X[:, c]) > 0 else 0 for c in self.columns]
        self.column_ = self.columns[int(np.argmax(rs))]
        self.coef_ = np.polyfit(X[:, self.column_], y, 1)
        return self

    def predict(self, X):
        return np.polyval(self.coef_, np.asarray(X, float)[:, self.column_])


def peer_systems() -> list[System]:
    from va_baselines import PEER_OUTPUTS
    systems = []
    for head in ("deam", "emomusic"):
        cols = {n: i for i, n in enumerate(PEER_OUTPUTS) if n.startswith(head)}

        def build(task, names, cols=cols, head=head):
            if task.corpus != "emotify":
                return None
            if task.target in ("valence", "arousal"):
                return PeerCalibrated([cols[f"{head}_{task.target}"]]), {}
            return PeerCalibrated(sorted(cols.values())), {}
        systems.append(System(f"d_{head}", f"(d) peer: MusiCNN-{head.upper() if head == 'deam' else 'emoMusic'}",
                              "d", build))
    return systems


@dataclasses.dataclass
class Corpus:
    name: str
    table: pd.DataFrame                    # loader output (path, group, targets ...)
    features: dict                         # feature-set name -> (X, names)
    folds: list


def score_fold(task: Task, y, yhat) -> dict:
    if task.kind == "classification":
        return classification_metrics(y, yhat)
    out = {k: v for k, v in regression_metrics(y, yhat).items() if k in task.metrics}
    if "hilo_accuracy" in task.metrics:
        out["hilo_accuracy"] = float(np.mean((np.asarray(y) > AROUSAL_SPLIT) == (np.asarray(yhat) > AROUSAL_SPLIT)))
    return out


def run_system(corpus: Corpus, task: Task, system: System, *, jobs=1, inner_folds=3, search=True):
    """Out-of-fold predictions and per-fold scores of one system on one task (or None)."""
    if system.features not in corpus.features:
        return None
    X, names = corpus.features[system.features]
    built = system.build(task, names)
    if built is None:
        return None
    est, grid = built
    if not search:
        grid = {}
        if hasattr(est, "grid"):
            est.set_params(grid=None)
    t = corpus.table
    y_fit = t["emotion"].to_numpy() if system.fit_on == "emotion" else t[task.target].to_numpy()
    scoring = "balanced_accuracy" if task.kind == "classification" else "r2"
    t0 = time.perf_counter()
    oof, params = oof_predict(est, grid, X, y_fit, t["group"].to_numpy(), corpus.folds,
                              inner_folds=inner_folds, scoring=scoring, jobs=jobs)
    y = t[task.target].to_numpy()
    rows = []
    for k, (_, te) in enumerate(corpus.folds):
        for m, v in score_fold(task, y[te], oof[te]).items():
            rows.append({"task": task.name, "corpus": corpus.name, "target": task.target, "system": system.name,
                         "label": system.label, "fold": k, "metric": m, "value": v, "n": int(te.size)})
    log.info("%-22s %-12s %5.1f s", task.name, system.name, time.perf_counter() - t0)
    return pd.DataFrame(rows), oof, params


def run_combined(corpora: list[Corpus], target: str, *, jobs=1, inner_folds=3, search=True, recipe=None):
    """The shipped VA recipe trained on all corpora at once, scored per corpus.

    Fold k of the combined run is the union of fold k of each corpus, so every test file
    is predicted by a model that saw none of its group, on the same splits as the
    per-corpus systems.
    """
    Xs, ys, gs, offsets = [], [], [], []
    n = 0
    for c in corpora:
        X, names = c.features["ours"]
        Xs.append(X)
        ys.append(c.table[target].to_numpy(float))
        gs.append((c.name + ":" + c.table["group"].astype(str)).to_numpy())
        offsets.append(n)
        n += len(X)
    k = min(len(c.folds) for c in corpora)
    folds = [(np.concatenate([c.folds[i][0] + o for c, o in zip(corpora, offsets)]),
              np.concatenate([c.folds[i][1] + o for c, o in zip(corpora, offsets)])) for i in range(k)]
    est, grid = make_model(recipe or DEFAULT_RECIPES["regression"], "regression", names, target=target)
    system = "ours_shipped" if recipe is None else f"ours_shipped_{recipe}"
    label = ("ours, shipped VA model (trained on both corpora)" if recipe is None
             else f"ours: {recipe}, trained on both corpora")
    oof, params = oof_predict(est, grid if search else {}, np.vstack(Xs), np.concatenate(ys), np.concatenate(gs),
                              folds, inner_folds=inner_folds, scoring="r2", jobs=jobs)
    rows = []
    for c, o in zip(corpora, offsets):
        task = next(t for t in tasks_for(c.name) if t.target == target)
        y = c.table[target].to_numpy(float)
        for i in range(k):
            te = c.folds[i][1]
            for m, v in score_fold(task, y[te], oof[te + o]).items():
                rows.append({"task": task.name, "corpus": c.name, "target": target, "system": system,
                             "label": label, "fold": i,
                             "metric": m, "value": v, "n": int(te.size)})
    return pd.DataFrame(rows), params


def summarise_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over folds per (task, system, metric)."""
    g = scores.groupby(["corpus", "task", "target", "system", "label", "metric"], sort=False)["value"]
    return g.agg(mean="mean", std=lambda v: v.std(ddof=1), folds="count").reset_index()


def emotion_confusion(corpus: Corpus, oof) -> tuple[np.ndarray, list]:
    labels = list(RAVDESS_EMOTIONS.values())
    return confusion(corpus.table["emotion"].to_numpy(), oof, labels), labels


def feature_matrix(results, config: ExtractorConfig):
    bad = [r for r in results if not r.ok]
    if bad:
        raise EmoTagError(f"{bad[0].path}: {bad[0].error} ({len(bad)} files failed)")
    return np.vstack([r.features for r in results]), list(feature_names(config))
