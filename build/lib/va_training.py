"""Training descriptor models from the SQLite library: targets, nested grouped CV, the saved model.

Reads features and targets from an open library connection (:mod:`va_db`). Writes, for
each descriptor, ``MODELS_DIR/descriptors/<name>.joblib`` (+ ``.json`` metadata with the
CV scores, through :func:`va_io.save_model`) and ``OUT_DIR/descriptor_cv_<name>.csv``.
``train_descriptor_model.py`` (one descriptor) and
``train_and_visualize_all_descriptors.py`` (all of them) are its command lines.

A target is either

* ``"va"``: the VA-derived descriptor score (0..1) of each file's latest prediction, as
  in the reference system, for a descriptor word such as ``soothing``; or
* ``"human"``: a human rating logged with a training corpus, such as Emotify's
  ``calmness`` (share of listeners, 0..1).

Files are grouped by their corpus group (actor, track, source recording; else the file),
so no group is on both sides of a split.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from essentia_engine import DEFAULT_CONFIG, feature_names
from va_db import feature_table, human_label_targets, va_descriptor_targets
from va_evaluation import nested_cv, summarise
from va_io import DESCRIPTOR_DIR, save_model, write_csv
from va_models import DEFAULT_RECIPES, make_model
from va_utils import EmoTagError, did_you_mean, log

TARGET_KINDS = ("va", "human")


def load_training_data(conn, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of every file, and the long table of ``(file_id, descriptor, value)`` targets of kind ``target``."""
    if target not in TARGET_KINDS:
        raise EmoTagError(f"target must be one of {TARGET_KINDS}, got {target!r}")
    feats = feature_table(conn, DEFAULT_CONFIG)
    targets = va_descriptor_targets(conn) if target == "va" else human_label_targets(conn)
    return feats, targets


def available(targets: pd.DataFrame) -> list[str]:
    """The descriptor names that have targets, sorted."""
    return sorted(targets["descriptor"].unique().tolist())


def train_descriptor(name: str, feats: pd.DataFrame, targets: pd.DataFrame, *, target: str, models_dir,
                     out_dir, folds: int = 5, inner_folds: int = 3, min_files: int = 10, seed: int = 0,
                     jobs: int = 1, db=None) -> dict:
    """Nested-CV report and final model of one descriptor.

    Parameters
    ----------
    name : str
        The descriptor (a word with ``target="va"``, a rating name with ``"human"``).
    feats, targets : DataFrame
        From :func:`load_training_data`.
    folds, inner_folds : int
        Outer and inner (hyperparameter search) grouped folds.
    min_files : int
        Refuse to train on fewer files.
    db : path-like, optional
        Recorded in the model's metadata.

    Returns
    -------
    dict
        ``name``, ``model`` (the saved path), ``summary`` (mean ± std per metric) and
        ``oof`` (a DataFrame ``y, yhat, corpus`` of out-of-fold predictions).
    """
    t = targets[targets["descriptor"] == name][["file_id", "value"]]
    if t.empty:
        raise EmoTagError(f"no {target} targets named {name!r} in {db}" + did_you_mean(name, available(targets)))
    df = feats.merge(t, on="file_id", how="inner")
    if len(df) < min_files:
        raise EmoTagError(f"{name}: only {len(df)} files have both features and a {target} target "
                          f"(need --min-files {min_files})")
    names = list(feature_names(DEFAULT_CONFIG))
    X, y = df[names].to_numpy(float), df["value"].to_numpy(float)
    if np.std(y) < 1e-2:
        log.warning("%s: the %s targets barely vary (std %.2g); R² is then meaningless and the model "
                    "learns little", name, target, np.std(y))
    groups = df["group"].fillna(df["sha256"]).astype(str).to_numpy()
    pipe, grid = make_model(DEFAULT_RECIPES["descriptor"], "regression", names)
    fold_scores, oof, search = nested_cv(pipe, grid, X, y, groups, folds=folds, inner_folds=inner_folds,
                                         jobs=jobs, seed=seed, refit=True)
    summary = summarise(fold_scores, descriptor=name, target=target)
    allrow = summary.set_index("metric")
    meta = {"kind": "descriptor", "target": target, "name": name, "descriptor": name,
            "feature_names": names, "extractor": DEFAULT_CONFIG.to_dict(),
            "value_range": [float(y.min()), float(y.max())], "best_params": search.best_params_,
            "training_data": {"n_files": int(len(df)), "n_groups": int(len(np.unique(groups))), "db": str(db)},
            "cv": {"scheme": f"nested GroupKFold {folds}x{inner_folds}, seed {seed}",
                   **{m: {"mean": float(allrow.loc[m, "mean"]), "std": float(allrow.loc[m, "std"])}
                      for m in allrow.index}}}
    path = Path(models_dir) / DESCRIPTOR_DIR / f"{name}.joblib"
    save_model(search.best_estimator_, path, metadata=meta)
    write_csv(summary, Path(out_dir) / f"descriptor_cv_{name}.csv")
    return {"name": name, "model": path, "summary": summary,
            "oof": pd.DataFrame({"y": y, "yhat": oof, "corpus": df["corpus"].fillna("new audio")})}

