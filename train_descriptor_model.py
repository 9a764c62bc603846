"""Stage 4: train one descriptor model from the features in the SQLite library.

Reads features and targets from ``--db``. The target (``--target``) is either
  va     the VA-derived descriptor score of each file's latest prediction (0..1), as in
         the reference system, for a descriptor word such as ``soothing``;
  human  a human rating logged with a training corpus, such as Emotify's ``calmness``,
         ``power`` or ``tension`` (share of listeners, 0..1).
Files are grouped by their corpus group (actor, track, source recording; else the file).

Writes ``models/descriptors/<name>.joblib`` (+ .json metadata with the CV scores), and in
``--out-dir``: ``descriptor_cv_<name>.csv`` (nested grouped CV, mean ± std) and
``descriptor_<name>_predicted_vs_true.png/.svg``.

Examples:
  python train_descriptor_model.py --descriptor soothing
  python train_descriptor_model.py --descriptor calmness --target human
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from essentia_engine import DEFAULT_CONFIG, feature_names
from va_cli import add_common_args, exit_main, parser, run_main
from va_db import connect, feature_table, human_label_targets, va_descriptor_targets
from va_evaluation import fit_search, nested_cv, summarise
from va_models import DEFAULT_RECIPES, make_model
from va_io import save_model, write_csv
from va_plotter import plot_pred_vs_true
from va_utils import EmoTagError, did_you_mean, log

DESCRIPTOR_DIR = "descriptors"


def add_descriptor_args(ap, *, targets=("va", "human"), default="va"):
    ap.add_argument("--target", choices=targets, default=default,
                    help="va: VA-derived scores of predictions; human: human ratings logged with a corpus")
    ap.add_argument("--folds", type=int, default=5, help="outer grouped CV folds")
    ap.add_argument("--inner-folds", type=int, default=3, help="grouped folds of the hyperparameter search")
    ap.add_argument("--min-files", type=int, default=10, help="refuse to train on fewer files")
    ap.add_argument("--seed", type=int, default=0, help="seed of the fold assignment")
    add_common_args(ap, jobs=False, out_dir=True)
    ap.add_argument("-j", "--jobs", type=int, default=1, help="parallel processes of the hyperparameter search")


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("--descriptor", required=True, help="descriptor word (va) or human label name (human)")
    add_descriptor_args(ap)
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def load_training_data(conn, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of every file, and the long table of (file_id, descriptor, value) targets."""
    feats = feature_table(conn, DEFAULT_CONFIG)
    targets = va_descriptor_targets(conn) if target == "va" else human_label_targets(conn)
    return feats, targets


def available(targets: pd.DataFrame) -> list[str]:
    return sorted(targets["descriptor"].unique().tolist())


def train_one(name: str, feats: pd.DataFrame, targets: pd.DataFrame, args) -> dict:
    """Nested-CV report and final model of one descriptor; returns paths and the OOF table."""
    t = targets[targets["descriptor"] == name][["file_id", "value"]]
    if t.empty:
        raise EmoTagError(f"no {args.target} targets named {name!r} in {args.db}" + did_you_mean(name, available(targets)))
    df = feats.merge(t, on="file_id", how="inner")
    if len(df) < args.min_files:
        raise EmoTagError(f"{name}: only {len(df)} files have both features and a {args.target} target "
                          f"(need --min-files {args.min_files})")
    names = list(feature_names(DEFAULT_CONFIG))
    X, y = df[names].to_numpy(float), df["value"].to_numpy(float)
    if np.std(y) < 1e-2:
        log.warning("%s: the %s targets barely vary (std %.2g); R² is then meaningless and the model "
                    "learns little", name, args.target, np.std(y))
    groups = df["group"].fillna(df["sha256"]).astype(str).to_numpy()
    pipe, grid = make_model(DEFAULT_RECIPES["regression"], "regression", names)
    folds, oof = nested_cv(pipe, grid, X, y, groups, folds=args.folds, inner_folds=args.inner_folds,
                           jobs=args.jobs, seed=args.seed)
    search = fit_search(pipe, grid, X, y, groups, folds=args.folds, jobs=args.jobs, seed=args.seed)
    summary = summarise(folds, descriptor=name, target=args.target)
    allrow = summary.set_index("metric")
    meta = {"kind": "descriptor", "target": args.target, "name": name, "descriptor": name,
            "feature_names": names, "extractor": DEFAULT_CONFIG.to_dict(),
            "value_range": [float(y.min()), float(y.max())], "best_params": search.best_params_,
            "training_data": {"n_files": int(len(df)), "n_groups": int(len(np.unique(groups))), "db": str(args.db)},
            "cv": {"scheme": f"nested GroupKFold {args.folds}x{args.inner_folds}, seed {args.seed}",
                   **{m: {"mean": float(allrow.loc[m, "mean"]), "std": float(allrow.loc[m, "std"])} for m in allrow.index}}}
    path = Path(args.models_dir) / DESCRIPTOR_DIR / f"{name}.joblib"
    save_model(search.best_estimator_, path, metadata=meta)
    out_dir = Path(args.out_dir)
    write_csv(summary, out_dir / f"descriptor_cv_{name}.csv")
    return {"name": name, "model": path, "summary": summary,
            "oof": pd.DataFrame({"y": y, "yhat": oof, "corpus": df["corpus"].fillna("new audio")})}


def _run(args):
    conn = connect(args.db, create=False)
    try:
        feats, targets = load_training_data(conn, args.target)
    finally:
        conn.close()
    res = train_one(args.descriptor, feats, targets, args)
    fig = plot_pred_vs_true({args.descriptor: res["oof"]}, Path(args.out_dir) / f"descriptor_{args.descriptor}_predicted_vs_true")
    s = res["summary"].set_index("metric")
    if not args.quiet:
        print(f"{args.descriptor} ({args.target}, n={int(s.loc['r2', 'n'])}): " +
              ", ".join(f"{m} {s.loc[m, 'mean']:.3f} ± {s.loc[m, 'std']:.3f}" for m in ("r2", "rmse", "r", "ccc")))
        print(f"wrote {res['model']} and {fig}")
    log.info("done")
    return 0


if __name__ == "__main__":
    exit_main(main)
