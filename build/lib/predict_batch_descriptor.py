"""Stage 6: predict every descriptor model for a folder of audio.

Reads audio files/folders (recursively) and the models in ``--models-dir/descriptors``
(or only ``--descriptor NAME ...``). Writes ``--out`` (default
output/batch_descriptor_predictions.csv: sha256, path, ``emotion_label``,
``emotion_confidence``, ``emotion_source`` (the classifier for speech, the valence/arousal
models' nearest category word for other sounds, as ``predict_new_audio.py``), then one
column per descriptor) and,
with ``--log-db``, the same values as ``descriptor_predictions`` rows in ``--db``.
Unreadable files are reported by name; the exit code is non-zero only when no file
could be analysed.

Examples:
  python predict_batch_descriptor.py my_sounds/ -j 2
  python predict_batch_descriptor.py my_sounds/ --descriptor soothing calmness --log-db
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from essentia_engine import DEFAULT_CONFIG
from extractor import extract_batch
from va_cli import add_common_args, extraction_args, exit_main, parser, run_main, show_progress
from va_db import connect, log_descriptor_predictions, register_model
from va_inference import ModelSet, load_emotion_model, predict_emotion
from va_io import write_csv
from va_utils import DEFAULT_OUT_DIR, EmoTagError, find_audio_files, log, show_path


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("paths", nargs="+", metavar="PATH", help="audio files and/or folders")
    ap.add_argument("--descriptor", nargs="+", metavar="NAME", help="only these descriptor models")
    ap.add_argument("--out", default=str(DEFAULT_OUT_DIR / "batch_descriptor_predictions.csv"), help="output CSV")
    ap.add_argument("--log-db", action="store_true", help="also write the predictions into --db")
    add_common_args(ap)
    return ap


def _emotion(model_set, models_dir, X):
    """The emotion label of each file, as predict_new_audio.py gives it: the classifier for
    speech, the nearest category word of the predicted valence/arousal for other sounds.
    A models folder holding descriptor models and a classifier but no VA models gets the
    classifier's answer for every file; one with neither gets no emotion columns."""
    try:
        va = model_set.predict_va(X)
    except EmoTagError:
        clf = load_emotion_model(models_dir)
        return predict_emotion(clf, X, None, source="classifier") if clf is not None else None
    return model_set.predict_emotion(X, va)


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def _run(args):
    model_set = ModelSet(args.models_dir)
    models = model_set.descriptor_models(args.descriptor)
    if not models:
        raise EmoTagError(f"no descriptor models in {Path(args.models_dir) / 'descriptors'}; "
                          "run train_and_visualize_all_descriptors.py first")
    files, problems = find_audio_files(args.paths)
    for p, m in problems:
        log.error("%s: %s", show_path(p), m)
    results = extract_batch(files, config=DEFAULT_CONFIG, **extraction_args(args),
                            progress=show_progress(args))
    for r in results:
        if not r.ok:
            log.error("%s: %s", show_path(r.path), r.error)
    good = [r for r in results if r.ok]
    X = np.vstack([r.features for r in good]) if good else np.zeros((0, 1))
    meta = pd.DataFrame({"sha256": [r.sha256 for r in good], "path": [r.path for r in good]})
    preds = model_set.predict_descriptors(X, list(models)) if good else pd.DataFrame(columns=list(models))
    emo = _emotion(model_set, args.models_dir, X) if good else None
    write_csv(pd.concat([meta] + ([emo] if emo is not None else []) + [preds], axis=1), args.out)
    if args.log_db and good:
        conn = connect(args.db)
        try:
            for name, (_, m) in models.items():
                with conn:
                    mid = register_model(conn, m["sha256"], m)
                log_descriptor_predictions(conn, mid, name, meta, preds[name])
        finally:
            conn.close()
    if not args.quiet:
        n_bad = len(results) - len(good) + len(problems)
        print(f"predicted {len(models)} descriptors for {len(good)} files ({n_bad} failed) -> {args.out}"
              + (f" and {args.db}" if args.log_db else ""))
    return 0 if good else 1


if __name__ == "__main__":
    exit_main(main)
