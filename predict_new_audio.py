"""Stage 2: predict valence, arousal and descriptor scores for new audio.

Reads audio files and folders (searched recursively), the valence and arousal models in
``--models-dir``, the lexicon and the descriptor pairs. Writes, in ``--out-dir``:

  new_audio_features_raw.csv        sha256, path, duration, sample_rate, channels, features
  new_audio_predicted_va.csv        sha256, path, valence, arousal (in [-1, 1]), model hashes,
                                    emotion_label, emotion_confidence (0..1), emotion_source
  new_audio_descriptor_scores.csv   sha256, path, one score in 0..1 per descriptor word
  new_audio_errors.csv              every file that failed or was analysed with a warning
  new_audio_segments.csv            with --segments WIN HOP: sha256, path, start, end (s), valence,
                                    arousal, emotion label, confidence, source, top descriptor and
                                    one score per descriptor word, for every window of every file

The emotion label comes from the 8-class classifier (trained on RAVDESS speech) for
files whose features resemble its training data, and otherwise (or with ``--emotion
va``, or without a classifier) from the category word nearest to the predicted
valence/arousal; ``emotion_source`` says which. ``--emotion classifier`` forces the
classifier.

Every file is identified by its content hash (sha256) plus its path. An unreadable file
is reported by name on one line and the others carry on; the exit code is non-zero only
when no file could be analysed. A model trained with another extractor configuration is
refused.

Library mode (--db LIBRARY.db) is for large, growing libraries. It writes straight into
the SQLite library instead of the CSVs, in batches of --batch-size files (one
transaction each), and is incremental: files whose path, size and modification time are
unchanged are skipped without being opened, renamed or moved files are recognised by
their content hash and not analysed again, and a run stopped by Ctrl-C or kill -9
continues where it stopped when re-run. --force re-analyses everything. Failures are
listed in --out-dir/new_audio_errors.csv and in the database's `failures` table, and
are not retried until the file changes (or --retry-failed). With --segments, the
windows go into the segments table, for every file that has none from these models.

Examples:
  python predict_new_audio.py my_sounds/ extra/door.wav -j 2
  python predict_new_audio.py ../shared/data/emotify --out-dir output/emotify
  python predict_new_audio.py /srv/sfx --db output/library.db -j -1          # incremental library run
  python predict_new_audio.py /srv/sfx --db output/library.db --scheduler tcp://10.0.0.5:8786
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from essentia_engine import DEFAULT_CONFIG, feature_names
from extractor import extract_batch
from va_analyzer import descriptor_scores
from va_cli import add_common_args, extraction_args, exit_main, parser, run_main, show_progress
from va_data_loader import load_descriptor_pairs, load_lexicon
from va_io import FEATURE_META_COLUMNS, load_model, write_csv
from va_utils import EmoTagError, find_audio_files, log, show_path

OUTPUTS = {"features": "new_audio_features_raw.csv", "va": "new_audio_predicted_va.csv",
           "scores": "new_audio_descriptor_scores.csv", "errors": "new_audio_errors.csv",
           "segments": "new_audio_segments.csv"}


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("paths", nargs="+", metavar="PATH", help="audio files and/or folders")
    ap.add_argument("--lexicon", help="NRC-VAD lexicon file or folder (default: data/descriptor_lexicon.csv)")
    ap.add_argument("--pairs", help="descriptor pairs CSV (default: data/descriptor_pairs.csv)")
    ap.add_argument("--emotion", choices=("auto", "classifier", "va"), default="auto",
                    help="emotion labels from the 8-class classifier, from the nearest category to the predicted "
                         "valence/arousal, or (auto) the classifier for files that resemble its speech training "
                         "data and the nearest category for the rest")
    ap.add_argument("--eps", type=float, default=1.0, help="softening constant of the descriptor scores (1 = reference method)")
    ap.add_argument("--segments", nargs=2, type=float, metavar=("WIN", "HOP"),
                    help="also predict every WIN-second window, every HOP seconds (e.g. 3 1), into "
                         "new_audio_segments.csv (with --db: into the segments table, for files that lack them); "
                         "each file is decoded and its frames analysed once")
    ap.add_argument("--timelines", type=int, default=10, metavar="N",
                    help="with --segments: draw the valence/arousal timeline of the first N files into "
                         "OUT_DIR/timelines/ (PNG + SVG)")
    lib = ap.add_argument_group("library mode (incremental, resumable, straight into the database)")
    lib.add_argument("--db", metavar="LIBRARY.db", default=None,
                     help="analyse into this SQLite library instead of writing the hand-off CSVs")
    lib.add_argument("--batch-size", type=int, default=200, help="files per database transaction")
    lib.add_argument("--chunk-size", type=int, default=None,
                     help="files per worker task (default: about 8 tasks per worker, at most 32 files each)")
    lib.add_argument("--force", action="store_true", help="re-analyse every file, even unchanged ones")
    lib.add_argument("--retry-failed", action="store_true", help="try again files that failed before and have not changed")
    add_common_args(ap, db=False, out_dir=True)
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def load_va_models(models_dir, config=DEFAULT_CONFIG):
    """The valence and arousal models of ``models_dir``, checked against ``config``."""
    from va_io import MODEL_FILES
    return {t: load_model(Path(models_dir) / f, config=config) for t, f in MODEL_FILES.items()}


def predict_va(models, X: np.ndarray) -> pd.DataFrame:
    """Valence and arousal for a feature matrix, clipped to [-1, 1]."""
    return pd.DataFrame({t: np.clip(models[t][0].predict(X), -1.0, 1.0) for t in ("valence", "arousal")})


def load_emotion_model(models_dir, config=DEFAULT_CONFIG):
    """The 8-class emotion classifier of ``models_dir`` as ``(pipeline, metadata)``, or None."""
    from va_io import CLASSIFIER_FILE
    p = Path(models_dir) / CLASSIFIER_FILE
    return load_model(p, config=config) if p.is_file() else None


def predict_emotion(classifier, X: np.ndarray, va: pd.DataFrame, *, source: str = "auto",
                    lexicon=None) -> pd.DataFrame:
    """``emotion_label, emotion_confidence, emotion_source`` for each row of ``X``.

    ``source="classifier"`` uses the 8-class model (confidence: its class probability);
    ``"va"`` maps the predicted valence/arousal onto the nearest category word
    (:func:`va_analyzer.nearest_category`); ``"auto"`` uses the classifier for files that
    resemble its training data (speech) and the VA mapping for the others. Resemblance is
    the classifier's ``domain_gate``: the share of standardised features beyond ±5 must
    not exceed the largest share seen among its training files.
    """
    from va_analyzer import nearest_category
    if source not in ("auto", "classifier", "va"):
        raise EmoTagError(f"emotion source must be auto, classifier or va, got {source!r}")
    if source == "classifier" and classifier is None:
        raise EmoTagError("no emotion classifier in the models folder; train one with train_emo_model.py --ravdess, "
                          "or use --emotion va")
    if len(X) == 0:
        return pd.DataFrame({"emotion_label": [], "emotion_confidence": [], "emotion_source": []})
    use = np.zeros(len(X), dtype=bool)
    if source in ("auto", "classifier") and classifier is not None:
        use[:] = True
        gate = classifier[1].get("domain_gate")
        if source == "auto" and gate:
            share = (np.abs(classifier[0][:-1].transform(X)) > gate["z"]).mean(axis=1)
            use = share <= gate["max_share"]
    out = pd.DataFrame({"emotion_label": pd.Series([None] * len(X), dtype=object),
                        "emotion_confidence": np.nan, "emotion_source": "va-nearest"})
    if use.any():
        P = classifier[0].predict_proba(X[use])
        k = P.argmax(axis=1)
        out.loc[use, "emotion_label"] = classifier[0].classes_[k]
        out.loc[use, "emotion_confidence"] = P[np.arange(len(k)), k]
        out.loc[use, "emotion_source"] = "classifier"
    if (~use).any():
        if va is None:
            raise EmoTagError("the VA mapping needs valence/arousal predictions")
        near = nearest_category(np.asarray(va["valence"])[~use], np.asarray(va["arousal"])[~use], lexicon=lexicon)
        out.loc[~use, "emotion_label"] = near["emotion_label"].to_numpy()
        out.loc[~use, "emotion_confidence"] = near["emotion_confidence"].to_numpy()
    return out


def _run_library(args):
    from va_library import analyse_library
    if args.batch_size < 1:
        raise EmoTagError(f"--batch-size must be at least 1, got {args.batch_size}")
    kw = extraction_args(args)
    summary = analyse_library(args.paths, db=args.db, models_dir=args.models_dir, config=DEFAULT_CONFIG,
                              batch_size=args.batch_size, chunk_size=args.chunk_size, force=args.force,
                              retry_failed=args.retry_failed, emotion=args.emotion, lexicon=args.lexicon,
                              pairs=args.pairs, eps=args.eps, progress=show_progress(args),
                              segments=tuple(args.segments) if args.segments else None, **kw)
    errors_csv = Path(args.out_dir) / OUTPUTS["errors"]
    write_csv(pd.DataFrame([{"path": p, "severity": "error", "message": m} for p, m in summary.failures],
                           columns=["path", "severity", "message"]), errors_csv)
    if not args.quiet:
        print(summary.line())
        print(f"  database {args.db}; failures listed in {errors_csv} and the database's failures table")
    if summary.scanned == 0:
        log.error("no audio files found in %s", " ".join(args.paths))
        return 1
    return 0


def predict_segments(paths, models, classifier, lexicon, pairs, *, window, hop, emotion="auto", eps=1.0,
                     jobs=1, backend="loky", scheduler=None, shas=None):
    """Per-window predictions of many files; returns ``(segments DataFrame, errors list)``."""
    from extractor import iter_segments
    frames, errors = [], []
    shas = shas or {}
    for i, res, err in iter_segments(paths, config=DEFAULT_CONFIG, window=window, hop=hop, jobs=jobs,
                                     backend=backend, scheduler=scheduler):
        path = str(paths[i])
        if err:
            log.error("%s: segments: %s", path, err)
            errors.append({"path": path, "severity": "error", "message": f"segments: {err}"})
            continue
        starts, ends, X = res
        va = predict_va(models, X)
        emo = predict_emotion(classifier, X, va, source=emotion, lexicon=lexicon)
        scores = descriptor_scores(va["valence"], va["arousal"], pairs=pairs, lexicon=lexicon, eps=eps)
        top = scores.idxmax(axis=1)
        frames.append(pd.concat([pd.DataFrame({"sha256": shas.get(path, ""), "path": path, "start": starts,
                                               "end": ends}), va, emo,
                                 pd.DataFrame({"top_descriptor": top.to_numpy()}), scores], axis=1))
    cols = ["sha256", "path", "start", "end", "valence", "arousal", "emotion_label", "emotion_confidence",
            "emotion_source", "top_descriptor"]
    seg = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    return seg, errors


def _run(args):
    if args.segments and not (args.segments[0] > 0 and args.segments[1] > 0):
        raise EmoTagError(f"--segments needs a positive window and hop, got {args.segments[0]} {args.segments[1]}")
    if args.db:
        return _run_library(args)
    out_dir = Path(args.out_dir)
    models = load_va_models(args.models_dir)
    classifier = load_emotion_model(args.models_dir)
    lexicon = load_lexicon(args.lexicon) if args.lexicon else load_lexicon()
    pairs = load_descriptor_pairs(args.pairs, lexicon=lexicon)
    files, problems = find_audio_files(args.paths)
    errors = [{"path": p, "severity": "error", "message": m} for p, m in problems]
    for p, m in problems:
        log.error("%s: %s", show_path(p), m)
    if not files:
        write_csv(pd.DataFrame(errors, columns=["path", "severity", "message"]), out_dir / OUTPUTS["errors"])
        log.error("no audio files found in %s", " ".join(args.paths))
        return 1
    log.info("analysing %d files", len(files))
    results = extract_batch(files, config=DEFAULT_CONFIG, **extraction_args(args),
                            progress=show_progress(args))
    for r in results:
        if not r.ok:
            log.error("%s: %s", show_path(r.path), r.error)
            errors.append({"path": r.path, "severity": "error", "message": r.error})
        for w in r.warnings:
            log.warning("%s: %s", show_path(r.path), w)
            errors.append({"path": r.path, "severity": "warning", "message": w})
    good = [r for r in results if r.ok]
    names = list(feature_names(DEFAULT_CONFIG))
    meta = pd.DataFrame([[r.sha256, r.path, r.duration, r.sample_rate, r.channels] for r in good],
                        columns=FEATURE_META_COLUMNS)
    X = np.vstack([r.features for r in good]) if good else np.zeros((0, len(names)))
    feats = pd.concat([meta, pd.DataFrame(X, columns=names)], axis=1)
    va = predict_va(models, X) if good else pd.DataFrame({"valence": [], "arousal": []})
    pred = pd.concat([meta[["sha256", "path"]], va], axis=1)
    pred["valence_model"] = models["valence"][1]["sha256"]
    pred["arousal_model"] = models["arousal"][1]["sha256"]
    emo = predict_emotion(classifier, X, va, source=args.emotion, lexicon=lexicon)
    pred = pd.concat([pred, emo], axis=1)
    scores = descriptor_scores(va["valence"], va["arousal"], pairs=pairs, lexicon=lexicon, eps=args.eps)
    scores = pd.concat([meta[["sha256", "path"]], scores], axis=1)
    if args.segments:
        seg, seg_errors = predict_segments([r.path for r in good], models, classifier, lexicon, pairs,
                                           window=args.segments[0], hop=args.segments[1], emotion=args.emotion,
                                           eps=args.eps, shas={r.path: r.sha256 for r in good},
                                           **{k: v for k, v in extraction_args(args).items()
                                              if k not in ("cache_dir", "timeout")})
        errors.extend(seg_errors)
        seg["valence_model"] = models["valence"][1]["sha256"]
        seg["arousal_model"] = models["arousal"][1]["sha256"]
        write_csv(seg, out_dir / OUTPUTS["segments"], window=args.segments[0], hop=args.segments[1])
        if args.timelines > 0 and len(seg):
            from va_plotter import plot_timeline
            for path in list(dict.fromkeys(seg["path"]))[:args.timelines]:
                plot_timeline(seg[seg["path"] == path], out_dir / "timelines" / Path(path).stem,
                              title=Path(path).name)
    write_csv(feats, out_dir / OUTPUTS["features"], config=DEFAULT_CONFIG, source="predict_new_audio.py")
    write_csv(pred, out_dir / OUTPUTS["va"])
    write_csv(scores, out_dir / OUTPUTS["scores"], eps=args.eps)
    write_csv(pd.DataFrame(errors, columns=["path", "severity", "message"]), out_dir / OUTPUTS["errors"])
    n_err = sum(not r.ok for r in results) + len(problems)
    if not args.quiet:
        print(f"analysed {len(good)} of {len(results)} files ({n_err} failed; see {out_dir / OUTPUTS['errors']})")
        for k in ("features", "va", "scores") + (("segments",) if args.segments else ()):
            print(f"  {out_dir / OUTPUTS[k]}")
    return 0 if good else 1


if __name__ == "__main__":
    exit_main(main)
