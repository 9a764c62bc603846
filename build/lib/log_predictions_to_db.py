"""Stage 3: log predictions, features and labels into the SQLite library.

Reads the hand-off CSVs of ``predict_new_audio.py`` from ``--in-dir``
(new_audio_features_raw.csv, new_audio_predicted_va.csv, new_audio_descriptor_scores.csv, and
new_audio_segments.csv when ``--segments`` wrote one, new_audio_faces.csv when ``--faces`` did)
and the models they name from ``--models-dir``. With ``--corpus``, it also logs a
training corpus: its feature table (``out_Valence.csv.gz``) and its human labels
(``out_labels.csv``: valence, arousal, emotion, GEMS ratings ...).

Writes ``--db`` (default output/audio_predictions.db). Logging is idempotent (a second
run changes nothing) and commits one transaction per ``--batch-size`` files, so an
interrupted run loses at most the batch in flight and never leaves a partial one.

Several processes may log into one database at once (WAL journaling, a 30 s busy
timeout); ``--backup FILE`` copies a live database safely.

Examples:
  python log_predictions_to_db.py --in-dir output
  python log_predictions_to_db.py --db output/library.db --backup /mnt/backup/library.db
  python log_predictions_to_db.py --corpus data/out_Valence.csv.gz --labels data/out_labels.csv --no-predictions
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from essentia_engine import DEFAULT_CONFIG, feature_names
from va_cli import add_common_args, exit_main, parser, run_main, show_progress
from va_db import BULK_BATCH, connect, counts, log_batch, log_segments, register_model
from va_io import OUTPUTS, read_csv, read_descriptor_scores, read_features, read_predictions, read_training_table
from va_metadata import FIELDS as META_FIELDS
from va_utils import DEFAULT_OUT_DIR, BadLabelError, log


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("--in-dir", default=str(DEFAULT_OUT_DIR), help="folder holding predict_new_audio.py's CSVs")
    ap.add_argument("--no-predictions", action="store_true", help="do not log --in-dir (only --corpus)")
    ap.add_argument("--corpus", metavar="CSV", help="a training feature table (out_Valence.csv.gz) to log as a corpus")
    ap.add_argument("--labels", metavar="CSV", help="human labels of the corpus (out_labels.csv)")
    ap.add_argument("--backup", metavar="FILE",
                    help="copy the database to FILE with SQLite's online backup API (safe while other processes "
                         "write to it) and stop; nothing is logged")
    ap.add_argument("--batch-size", type=int, default=BULK_BATCH,
                    help="files per transaction (an interrupted run loses at most one batch)")
    add_common_args(ap, jobs=False)
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def _model_ids(conn, models_dir: Path, shas: dict) -> tuple[int, int]:
    """Register the models named in the predictions; metadata from their .json files."""
    known = {}
    for js in sorted(Path(models_dir).rglob("*.json")):
        try:
            meta = json.loads(js.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(meta, dict) and "sha256" in meta:
            known[meta["sha256"]] = meta
    ids = []
    for target in ("valence", "arousal"):
        sha = shas[target]
        meta = known.get(sha)
        if meta is None:
            log.warning("model %s… (%s) not found in %s; logged without metadata", sha[:12], target, models_dir)
            meta = {"name": f"{target}_model", "kind": "va", "target": target}
        with conn:
            ids.append(register_model(conn, sha, meta))
    return ids[0], ids[1]


def _batches(n: int, size: int):
    for start in range(0, n, max(1, size)):
        yield slice(start, min(n, start + size))


def log_predictions(conn, in_dir: Path, models_dir: Path, batch_size: int, progress: bool) -> int:
    feats = read_features(in_dir / OUTPUTS["features"], config=DEFAULT_CONFIG)
    pred = read_predictions(in_dir / OUTPUTS["va"])
    scores = read_descriptor_scores(in_dir / OUTPUTS["scores"])
    key = ["sha256", "path"]
    if not (feats[key].equals(pred[key]) and feats[key].equals(scores[key])):
        raise BadLabelError(f"{in_dir}: the features, predictions and scores CSVs list different files; "
                            "re-run predict_new_audio.py")
    models = pred[["valence_model", "arousal_model"]].drop_duplicates()
    if len(models) > 1:
        raise BadLabelError(f"{in_dir / OUTPUTS['va']}: predictions come from more than one model pair")
    if pred.empty:
        return 0
    ids = _model_ids(conn, models_dir, {"valence": models.iloc[0, 0], "arousal": models.iloc[0, 1]})
    names = list(feature_names(DEFAULT_CONFIG))
    words = [c for c in scores.columns if c not in key]
    meta_cols = [c for c in META_FIELDS if c in pred.columns]      # the tags and UCS fields the files had
    X = feats[names].to_numpy(float)
    it = list(_batches(len(feats), batch_size))
    if progress:
        from tqdm import tqdm
        it = tqdm(it, unit="batch", desc="logging")
    for sl in it:
        log_batch(conn, files=feats.iloc[sl][["sha256", "path", "duration", "sample_rate", "channels"]],
                  config=DEFAULT_CONFIG, features=X[sl], predictions=pred.iloc[sl], model_ids=ids,
                  scores=scores.iloc[sl][words], metadata=pred.iloc[sl][meta_cols])
    seg_csv = in_dir / OUTPUTS["segments"]
    if seg_csv.is_file():
        seg = read_csv(seg_csv, required=["sha256", "path", "start", "end", "valence", "arousal", "valence_model",
                                          "arousal_model"], finite=["start", "end", "valence", "arousal"],
                       key=["sha256", "start", "end"])
        known = set(feats["sha256"])
        if not set(seg["sha256"]) <= known:
            raise BadLabelError(f"{seg_csv}: lists files that {in_dir / OUTPUTS['features']} does not; "
                                "re-run predict_new_audio.py")
        if seg.empty or (seg["valence_model"].iloc[0], seg["arousal_model"].iloc[0]) != tuple(models.iloc[0]):
            if not seg.empty:
                raise BadLabelError(f"{seg_csv}: predicted by other models than {in_dir / OUTPUTS['va']}")
        else:
            batch = []   # whole files per transaction: a file's windows are replaced together
            for _, part in seg.groupby("sha256", sort=False):
                batch.append(part)
                if sum(len(b) for b in batch) >= 50_000:
                    log_segments(conn, ids, pd.concat(batch), words)
                    batch = []
            if batch:
                log_segments(conn, ids, pd.concat(batch), words)
    faces_csv = in_dir / OUTPUTS["faces"]
    if faces_csv.is_file():
        from va_db import log_faces
        faces = read_csv(faces_csv, required=["sha256", "path", "start", "end", "face_label", "faces_seen",
                                              "face_frames", "fused_source"], finite=["start", "end"],
                         key=["sha256", "start", "end"])
        log_faces(conn, faces)
    return len(feats)


def log_corpus(conn, table_path: Path, labels_path, batch_size: int) -> int:
    table, _ = read_training_table(table_path, config=DEFAULT_CONFIG)
    names = list(feature_names(DEFAULT_CONFIG))
    files = table[["sha256", "file", "corpus", "group"]].rename(columns={"file": "path"})
    labels = None
    if labels_path:
        # arousal is every corpus's target; valence is missing where none was judged (Sievers)
        lab = read_csv(labels_path, required=["sha256", "valence", "arousal"], finite=["arousal"])
        lab = lab.set_index("sha256").reindex(table["sha256"])
        if lab["arousal"].isna().any():
            missing = table["sha256"][lab["arousal"].isna().to_numpy()].iloc[0]
            raise BadLabelError(f"{labels_path}: no labels for sha256 {missing} of {table_path}")
        keep = [c for c in lab.columns if c not in ("file", "corpus", "group", "path")]
        labels = lab[keep].reset_index(drop=True)
    X = table[names].to_numpy(float)
    for sl in _batches(len(table), batch_size):
        log_batch(conn, files=files.iloc[sl], config=DEFAULT_CONFIG, features=X[sl],
                  labels=None if labels is None else labels.iloc[sl])
    return len(table)


def _run(args):
    if args.backup:
        from va_db import backup
        dest = backup(args.db, args.backup)
        if not args.quiet:
            print(f"backed up {args.db} to {dest}")
        return 0
    if args.no_predictions and not args.corpus:
        raise BadLabelError("nothing to log: --no-predictions without --corpus")
    conn = connect(args.db)
    before = counts(conn)
    n_pred = n_corpus = 0
    try:
        if args.corpus:
            n_corpus = log_corpus(conn, Path(args.corpus), args.labels, args.batch_size)
        if not args.no_predictions:
            n_pred = log_predictions(conn, Path(args.in_dir), Path(args.models_dir), args.batch_size,
                                     show_progress(args))
        after = counts(conn)
    finally:
        conn.close()
    if not args.quiet:
        print(f"logged {n_pred} predicted files and {n_corpus} corpus files into {args.db}")
        changed = {t: after[t] - before[t] for t in after if after[t] != before[t]}
        print("new rows: " + (", ".join(f"{t} +{n}" for t, n in changed.items()) if changed else "none (already logged)"))
    return 0


if __name__ == "__main__":
    exit_main(main)
