"""Stage 2: predict valence, arousal and descriptor scores for new audio.

Reads audio files and folders (searched recursively; WAV, FLAC, MP3, M4A, MP4/MOV, WebM,
WMA and more, with their tags), the valence and arousal models in
``--models-dir``, the lexicon and the descriptor pairs. Writes, in ``--out-dir``:

  new_audio_features_raw.csv        sha256, path, duration, sample_rate, channels, features
  new_audio_predicted_va.csv        sha256, path, valence, arousal (in [-1, 1]), model hashes,
                                    emotion_label, emotion_confidence (0..1), emotion_source,
                                    valence_low/high, arousal_low/high (the 90% interval),
                                    in_domain (0..1: how typical the file is of the training data),
                                    domain (speech, music or other) and sound_classes (YAMNet's
                                    top five AudioSet classes with their scores, "Rain 0.40; ..."),
                                    then the metadata fields any file has (title, description,
                                    ucs_catid, ... of va_metadata.FIELDS)
  new_audio_descriptor_scores.csv   sha256, path, one score in 0..1 per descriptor word
  new_audio_errors.csv              every file that failed or was analysed with a warning
  new_audio_faces.csv               with --faces, for every video: sha256, path, start, end, face_label,
                                    face_confidence, face_valence, face_arousal, faces_seen, face_frames,
                                    voice_label (the window's speech emotion, empty without speech),
                                    voice_confidence, fused_label, fused_source (face, voice, face+voice,
                                    face>voice or voice>face when they disagree, none), fused_confidence
                                    and the main face's seven expression probabilities, per window
  new_audio_segments.csv            with --segments WIN HOP: sha256, path, start, end (s), valence,
                                    arousal, emotion label, confidence, source, intervals, domain,
                                    sound classes, top descriptor and one score per descriptor
                                    word, for every window of every file

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

Faces (--faces): a video's picture is looked at too (:mod:`va_faces`): about 4 frames a
second, faces found (BlazeFace), the main face (largest and most persistent) classified
into seven expressions (mini-Xception, FER2013) per window of the --segments grid, and
fused with the voice's emotion in the same window. A video without sound still gets its
face lane; an audio file gets none. The timeline figures get a face and a voice lane.

Examples:
  python predict_new_audio.py my_sounds/ extra/door.wav -j 2
  python predict_new_audio.py scene.mp4 --faces --out-dir output/scene       # face + voice lanes
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
from va_cli import add_common_args, add_face_args, extraction_args, exit_main, parser, run_main, show_progress
from va_inference import ModelSet
from va_io import FEATURE_META_COLUMNS, OUTPUTS, write_csv
from va_metadata import metadata_frame
from va_utils import EmoTagError, find_audio_files, log, show_path


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
    add_face_args(ap)
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


def _run_library(args):
    from va_library import analyse_library
    if args.batch_size < 1:
        raise EmoTagError(f"--batch-size must be at least 1, got {args.batch_size}")
    kw = extraction_args(args)
    summary = analyse_library(args.paths, db=args.db, models_dir=args.models_dir, config=DEFAULT_CONFIG,
                              batch_size=args.batch_size, chunk_size=args.chunk_size, force=args.force,
                              retry_failed=args.retry_failed, emotion=args.emotion, lexicon=args.lexicon,
                              pairs=args.pairs, eps=args.eps, progress=show_progress(args),
                              segments=tuple(args.segments) if args.segments else None,
                              faces={"fps": args.face_fps, "window": args.segments[0], "hop": args.segments[1]}
                              if args.faces else None, **kw)
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


def _run(args):
    if args.segments and not (args.segments[0] > 0 and args.segments[1] > 0):
        raise EmoTagError(f"--segments needs a positive window and hop, got {args.segments[0]} {args.segments[1]}")
    if args.faces and not args.face_fps > 0:
        raise EmoTagError(f"--face-fps must be positive, got {args.face_fps}")
    if args.faces and not args.segments:
        args.segments = [3.0, 1.0]
    if args.db:
        return _run_library(args)
    out_dir = Path(args.out_dir)
    models = ModelSet(args.models_dir, emotion=args.emotion, lexicon=args.lexicon, pairs=args.pairs,
                      eps=args.eps).load()
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
    pva, scores = models.predict(X)
    hashes = models.model_hashes
    pred = pd.concat([meta[["sha256", "path"]], pva[["valence", "arousal"]]], axis=1)
    pred["valence_model"] = hashes["valence"]
    pred["arousal_model"] = hashes["arousal"]
    pred = pd.concat([pred, pva.drop(columns=["valence", "arousal"]), metadata_frame([r.metadata for r in good])],
                     axis=1)
    scores = pd.concat([meta[["sha256", "path"]], scores], axis=1)
    if args.segments:
        seg, seg_errors = models.predict_segments([r.path for r in good], window=args.segments[0],
                                                  hop=args.segments[1], shas={r.path: r.sha256 for r in good},
                                                  **{k: v for k, v in extraction_args(args).items()
                                                     if k not in ("cache_dir", "timeout")})
        errors.extend(seg_errors)
        seg["valence_model"] = hashes["valence"]
        seg["arousal_model"] = hashes["arousal"]
        write_csv(seg, out_dir / OUTPUTS["segments"], window=args.segments[0], hop=args.segments[1])
    faces = None
    if args.faces:
        faces, face_errors = _faces(args, files, {r.path: r.sha256 for r in good}, seg)
        errors.extend(face_errors)
        write_csv(faces, out_dir / OUTPUTS["faces"], window=args.segments[0], hop=args.segments[1],
                  face_fps=args.face_fps)
    if args.segments and args.timelines > 0:
        from va_plotter import plot_timeline
        paths = list(dict.fromkeys(list(seg["path"]) + ([] if faces is None else list(faces["path"]))))
        for path in paths[:args.timelines]:
            plot_timeline(seg[seg["path"] == path], out_dir / "timelines" / Path(path).stem, title=Path(path).name,
                          faces=None if faces is None else faces[faces["path"] == path])
    write_csv(feats, out_dir / OUTPUTS["features"], config=DEFAULT_CONFIG, source="predict_new_audio.py")
    write_csv(pred, out_dir / OUTPUTS["va"])
    write_csv(scores, out_dir / OUTPUTS["scores"], eps=args.eps)
    write_csv(pd.DataFrame(errors, columns=["path", "severity", "message"]), out_dir / OUTPUTS["errors"])
    n_err = sum(not r.ok for r in results) + len(problems)
    if not args.quiet:
        print(f"analysed {len(good)} of {len(results)} files ({n_err} failed; see {out_dir / OUTPUTS['errors']})")
        if faces is not None:
            print(f"faces: {faces['path'].nunique()} videos, {int((faces['face_label'] != 'no_face').sum())} of "
                  f"{len(faces)} windows show a face")
        for k in ("features", "va", "scores") + (("segments",) if args.segments else ()) + \
                (("faces",) if faces is not None else ()):
            print(f"  {out_dir / OUTPUTS[k]}")
    return 0 if good or (faces is not None and len(faces)) else 1


def _faces(args, files, shas, seg):
    """The face lane of every video among ``files`` (videos without sound too), and the errors."""
    import va_faces
    from va_utils import sha256_file
    rows, errors = [], []
    thumbs = Path(args.out_dir) / "thumbnails" if args.keep_thumbnails else None
    for path in files:
        if not va_faces.has_video(path):
            continue
        try:
            sha = shas.get(str(path)) or sha256_file(path)
            rows.append(va_faces.face_rows(path, segments=seg[seg["path"] == str(path)], window=args.segments[0],
                                           hop=args.segments[1], fps=args.face_fps, thumbnails_dir=thumbs,
                                           sha256=sha, lexicon_path=args.lexicon))
        except (EmoTagError, OSError) as exc:
            log.error("%s: faces: %s", show_path(path), exc)
            errors.append({"path": str(path), "severity": "error", "message": f"faces: {exc}"})
    faces = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=va_faces.FACE_COLUMNS)
    return faces, errors


if __name__ == "__main__":
    exit_main(main)
