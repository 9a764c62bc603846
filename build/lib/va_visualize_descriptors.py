"""Stage 8: draw the valence-arousal plane from the library.

Reads ``--db``: the human valence/arousal labels of logged corpora and the predicted
valence/arousal of analysed files. Writes, in ``--out-dir``:

  va_plane_library.png/.svg   every file in the plane, coloured by corpus (predicted files
                              are the corpus "predicted"), with the descriptor words
                              linked in their pairs
  va_plane_categories.png/.svg  files with an emotion category (e.g. RAVDESS), by category
  va_plane_predicted.png/.svg   only predicted files, labelled with their file names

Examples:
  python va_visualize_descriptors.py --db output/audio_predictions.db --out-dir output/figures
  python va_visualize_descriptors.py --db output/library.db --pairs my_pairs.csv --out-dir output/library_figures
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from va_cli import add_common_args, exit_main, parser, run_main
from va_data_loader import load_descriptor_pairs, load_lexicon
from va_db import connect
from va_plotter import plot_va_plane
from va_utils import DEFAULT_OUT_DIR, EmoTagError


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("--lexicon", help="NRC-VAD lexicon file or folder (default: data/descriptor_lexicon.csv)")
    ap.add_argument("--pairs", help="descriptor pairs CSV (default: data/descriptor_pairs.csv)")
    add_common_args(ap, models=False, jobs=False)
    ap.add_argument("--out-dir", default=str(DEFAULT_OUT_DIR / "figures"), help="folder for the figures")
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def library_points(conn) -> pd.DataFrame:
    """Human-labelled and predicted points: ``path, valence, arousal, corpus, category``."""
    human = pd.read_sql_query(
        "SELECT a.path, v.value AS valence, ar.value AS arousal, COALESCE(a.corpus, 'labelled') AS corpus, "
        "e.text AS category FROM audio_files a "
        "JOIN labels v ON v.file_id = a.id AND v.name = 'valence' AND v.source = 'human' "
        "JOIN labels ar ON ar.file_id = a.id AND ar.name = 'arousal' AND ar.source = 'human' "
        "LEFT JOIN labels e ON e.file_id = a.id AND e.name = 'emotion' AND e.source = 'human'", conn)
    pred = pd.read_sql_query(
        "SELECT a.path, p.valence, p.arousal, 'predicted' AS corpus, NULL AS category FROM predictions p "
        "JOIN audio_files a ON a.id = p.file_id "
        "WHERE p.id = (SELECT MAX(id) FROM predictions q WHERE q.file_id = p.file_id)", conn)
    return pd.concat([human, pred], ignore_index=True)


def _run(args):
    conn = connect(args.db, create=False)
    try:
        pts = library_points(conn)
    finally:
        conn.close()
    if pts.empty:
        raise EmoTagError(f"{args.db}: no labelled or predicted files to draw")
    lexicon = load_lexicon(args.lexicon) if args.lexicon else load_lexicon()
    pairs = load_descriptor_pairs(args.pairs, lexicon=lexicon)
    out = Path(args.out_dir)
    figs = [plot_va_plane(pts, out / "va_plane_library", color_by="corpus", pairs=pairs, lexicon=lexicon,
                          title="Library: human labels and predictions")]
    cat = pts.dropna(subset=["category"])
    if len(cat):
        figs.append(plot_va_plane(cat, out / "va_plane_categories", color_by="category", pairs=pairs,
                                  lexicon=lexicon, title="Emotion categories (lexicon targets)"))
    pred = pts[pts["corpus"] == "predicted"].assign(name=lambda d: d["path"].map(lambda p: Path(p).stem))
    if len(pred):
        figs.append(plot_va_plane(pred, out / "va_plane_predicted", color_by=None, pairs=pairs, lexicon=lexicon,
                                  annotate="name", title="Predicted files"))
    if not args.quiet:
        print(f"drew {len(pts)} points; wrote " + ", ".join(str(f) for f in figs) + " (+ .svg)")
    return 0


if __name__ == "__main__":
    exit_main(main)
