"""Stage 5: train a model for every descriptor in the library, and draw them all.

Reads features and targets from ``--db`` (see ``train_descriptor_model.py``). With
``--target va`` it trains one model per descriptor word that has VA-derived scores; with
``--target human`` one per human rating (by default the nine GEMS ratings when present);
``--target both`` (the default) does both.

Writes ``models/descriptors/<name>.joblib`` for each, and in ``--out-dir``:
``descriptor_cv_summary.csv`` (every model's nested grouped CV scores, mean ± std) and
``descriptor_models_grid.png/.svg`` (out-of-fold predicted vs true, one panel each).

Example:
  python train_and_visualize_all_descriptors.py --db output/audio_predictions.db
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from train_descriptor_model import add_descriptor_args, available, load_training_data, train_one
from va_cli import exit_main, parser, run_main
from va_data_loader import GEMS
from va_db import connect
from va_io import write_csv
from va_plotter import plot_descriptor_grid
from va_utils import EmoTagError, log


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("--labels", nargs="+", metavar="NAME", help="human ratings to model (default: the GEMS ratings present)")
    add_descriptor_args(ap, targets=("va", "human", "both"), default="both")
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def _run(args):
    conn = connect(args.db, create=False)
    jobs = []
    try:
        for target in (("va", "human") if args.target == "both" else (args.target,)):
            feats, targets = load_training_data(conn, target)
            names = available(targets)
            if target == "human":
                names = args.labels or [g for g in GEMS if g in names]
            jobs.append((target, feats, targets, names))
    finally:
        conn.close()
    results, skipped = [], []
    for target, feats, targets, names in jobs:
        for name in names:
            a = argparse.Namespace(**{**vars(args), "target": target, "descriptor": name})
            try:
                results.append(train_one(name, feats, targets, a))
                log.info("trained %s (%s)", name, target)
            except EmoTagError as exc:
                skipped.append(f"{name}: {exc}")
                log.warning("skipped %s", exc)
    if not results:
        raise EmoTagError("no descriptor model could be trained: " + "; ".join(skipped[:3]))
    summary = pd.concat([r["summary"] for r in results], ignore_index=True)
    out_dir = Path(args.out_dir)
    write_csv(summary, out_dir / "descriptor_cv_summary.csv")
    fig = plot_descriptor_grid({f"{r['name']} ({r['summary']['target'].iloc[0]})": r["oof"] for r in results},
                               out_dir / "descriptor_models_grid")
    if not args.quiet:
        wide = summary.pivot_table(index=["descriptor", "target"], columns="metric", values="mean")
        print(wide[["r", "r2", "ccc", "rmse"]].round(3).to_string())
        print(f"\ntrained {len(results)} descriptor models ({len(skipped)} skipped); wrote "
              f"{out_dir / 'descriptor_cv_summary.csv'} and {fig}")
    return 0


if __name__ == "__main__":
    exit_main(main)
