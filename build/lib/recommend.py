"""Recommend library sounds whose emotion fits a reference: a dialogue take, a temp track, a mix.

Reads the REFERENCE audio file, the models in ``--models-dir`` and the SQLite library
(``--db``, read-only); writes the recommendations to stdout (or ``--out``) in the formats
of ``query_library.py``: an aligned table, CSV, JSON or an M3U playlist.

The reference is analysed (all of it, or ``--segment START END`` seconds of it) and
its valence, arousal and emotion label are predicted as ``predict_new_audio.py`` would.
The fit of a library file is its distance to the reference in the valence/arousal
plane; when the reference and library files both carry an emotion label, files with
the same label come first (nearest first), then the others (nearest first).

``--for music`` keeps music: files of a music corpus (Emotify) or under a folder named
music, songs, tracks, score or soundtrack; ``--for sfx`` keeps the rest; ``--for any``
keeps everything. The filters of ``query_library.py`` (``--descriptor/--min``,
``--under``, ``--limit``) apply too.

Examples:
  python recommend.py takes/scene12.wav --db output/library.db --for music --limit 5
  python recommend.py mix.wav --segment 62 75 --for sfx --format m3u --out scene12_sfx.m3u
"""
from __future__ import annotations

import sys
from pathlib import Path

from va_cli import add_common_args, add_descriptor_filter, descriptor_filter, exit_main, parser, run_main
from va_utils import EmoTagError



def build_parser():
    ap = parser(__doc__)
    ap.add_argument("reference", metavar="REFERENCE", help="the reference audio file")
    ap.add_argument("--for", dest="kind", choices=("music", "sfx", "any"), default="any", help="what to recommend")
    ap.add_argument("--segment", nargs=2, type=float, metavar=("START", "END"),
                    help="use only this part of the reference (seconds)")
    add_descriptor_filter(ap)
    ap.add_argument("--under", metavar="FOLDER", help="only files inside this folder")
    ap.add_argument("--limit", type=int, default=10, help="at most this many recommendations")
    ap.add_argument("--format", choices=("table", "csv", "json", "m3u"), default="table", help="output format")
    ap.add_argument("--out", metavar="FILE", help="write the results here instead of stdout")
    ap.add_argument("--emotion", choices=("auto", "classifier", "va"), default="auto",
                    help="how the reference's emotion label is found (as in predict_new_audio.py)")
    add_common_args(ap, jobs=False)
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def analyse_reference(path, models_dir, *, segment=None, emotion="auto") -> dict:
    """Valence, arousal and emotion label of a reference file (or of ``segment`` of it)."""
    import numpy as np

    from essentia_engine import DEFAULT_CONFIG, analyse
    from extractor import load_audio
    from va_inference import ModelSet
    if not Path(path).is_file():
        raise EmoTagError(f"{path}: no such file")
    y, meta = load_audio(path, sample_rate=DEFAULT_CONFIG.sample_rate)
    if segment is not None:
        start, end = segment
        if not 0 <= start < end:
            raise EmoTagError(f"--segment needs 0 <= START < END, got {start} {end}")
        if start >= meta["duration"]:
            raise EmoTagError(f"{path}: --segment starts at {start} s but the file lasts {meta['duration']:.2f} s")
        sr = DEFAULT_CONFIG.sample_rate
        y = y[int(start * sr): int(end * sr)]
    X = analyse(y, DEFAULT_CONFIG)[None, :]
    pred, _ = ModelSet(models_dir, emotion=emotion).predict(X)
    return {"valence": float(pred["valence"][0]), "arousal": float(pred["arousal"][0]),
            "emotion_label": pred["emotion_label"][0],
            "emotion_confidence": float(np.nan_to_num(pred["emotion_confidence"][0])),
            "emotion_source": pred["emotion_source"][0]}


def _run(args):
    from va_query import FORMATS, open_library, recommend
    descriptors = descriptor_filter(args)
    conn = open_library(args.db)
    try:
        ref = analyse_reference(args.reference, args.models_dir, segment=args.segment, emotion=args.emotion)
        from va_utils import sha256_file
        rows = recommend(conn, ref, kind=args.kind, descriptors=descriptors, under=args.under, limit=args.limit,
                         exclude_sha=sha256_file(args.reference))
    finally:
        conn.close()
    part = f" [{args.segment[0]:g}-{args.segment[1]:g} s]" if args.segment else ""
    if not args.quiet:
        print(f"reference {args.reference}{part}: valence {ref['valence']:+.2f}, arousal {ref['arousal']:+.2f}, "
              f"emotion {ref['emotion_label']} ({ref['emotion_source']}); {len(rows)} recommendations "
              f"for {args.kind}", file=sys.stderr)
    text = FORMATS[args.format](rows)
    if args.out:
        from va_io import write_text
        from va_utils import check_not_input
        check_not_input(args.out, args.db, args.reference)
        write_text(text, args.out)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


if __name__ == "__main__":
    exit_main(main)
