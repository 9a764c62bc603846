"""Stage 5: train a model for every descriptor in the library, and draw them all.

Reads features and targets from ``--db`` (see ``train_descriptor_model.py``). With
``--target va`` it trains one model per descriptor word that has VA-derived scores; with
``--target human`` one per human rating (by default the nine GEMS ratings when present);
``--target both`` (the default) does both. VA-derived targets are a function of the
predicted valence/arousal, so those models learn to imitate the VA models (the reference
system's design), and on a small library their scores say little; human ratings are the
targets that teach the models something new.

Writes ``models/descriptors/<name>.joblib`` for each, and in ``--out-dir``:
``descriptor_cv_summary.csv`` (every model's nested grouped CV scores, mean ± std) and
``descriptor_models_grid.png/.svg`` (out-of-fold predicted vs true, one panel each).

Examples:
  python train_and_visualize_all_descriptors.py --db output/audio_predictions.db -j 2
  python train_and_visualize_all_descriptors.py --target human --labels calmness tension --db output/library.db
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from va_cli import add_descriptor_training_args, exit_main, parser, run_main, show_progress, training_args
from va_data_loader import GEMS
from va_db import connect
from va_io import write_csv
from va_plotter import plot_descriptor_grid
from va_training import available, load_training_data, train_descriptor
from va_utils import EmoTagError, log


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("--labels", nargs="+", metavar="NAME", help="human ratings to model (default: the GEMS ratings present)")
    add_descriptor_training_args(ap, targets=("va", "human", "both"), default="both")
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
    bar = None
    if show_progress(args):
        from tqdm import tqdm
        bar = tqdm(total=sum(len(j[3]) for j in jobs), unit="model", desc="training descriptor models",
                   dynamic_ncols=True)
    try:
        for target, feats, targets, names in jobs:
            for name in names:
                if bar is not None:
                    bar.set_postfix_str(f"{name} ({target})", refresh=False)
                try:
                    results.append(train_descriptor(name, feats, targets, **{**training_args(args), "target": target}))
                    log.debug("trained %s (%s)", name, target)
                except EmoTagError as exc:
                    skipped.append(f"{name}: {exc}")
                    log.warning("skipped %s", exc)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if not results:
        raise EmoTagError("no descriptor model could be trained: " + "; ".join(skipped[:3]))
    summary = pd.concat([r["summary"] for r in results], ignore_index=True)
    out_dir = Path(args.out_dir)
    write_csv(summary, out_dir / "descriptor_cv_summary.csv")
    fig = plot_descriptor_grid({f"{r['name']} ({r['summary']['target'].iloc[0]})": r["oof"] for r in results},
                               out_dir / "descriptor_models_grid")
    if not args.quiet:
        wide = summary.pivot_table(index=["descriptor", "target"], columns="metric", values="mean")
        if args.verbose:
            print(wide[["r", "r2", "ccc", "rmse"]].round(3).to_string())
        else:   # one line per kind of target; -v prints the table of every model
            for target, g in wide.groupby(level="target"):
                best = g["r"].idxmax()[0] if g["r"].notna().any() else None
                print(f"{target}: {len(g)} models, median r {g['r'].median():.3f}"
                      + (f", best {best} (r {g['r'].max():.3f})" if best else "")
                      + (" (targets derived from the VA predictions)" if target == "va" else ""))
        print(f"trained {len(results)} descriptor models ({len(skipped)} skipped); wrote "
              f"{out_dir / 'descriptor_cv_summary.csv'} and {fig}")
    return 0


if __name__ == "__main__":
    exit_main(main)
