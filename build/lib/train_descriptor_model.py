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

from va_cli import add_descriptor_training_args, exit_main, parser, run_main, training_args
from va_db import connect
from va_plotter import plot_pred_vs_true
from va_training import load_training_data, train_descriptor
from va_utils import log


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("--descriptor", required=True, help="descriptor word (va) or human label name (human)")
    add_descriptor_training_args(ap)
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def _run(args):
    conn = connect(args.db, create=False)
    try:
        feats, targets = load_training_data(conn, args.target)
    finally:
        conn.close()
    res = train_descriptor(args.descriptor, feats, targets, **training_args(args))
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
