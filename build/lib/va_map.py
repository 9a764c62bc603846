"""Stage: export the library as one interactive valence/arousal map (a self-contained HTML file).

Reads the SQLite library (``--db``, read-only), the descriptor lexicon and pairs;
writes one HTML file (``--out``) that works offline from ``file://``, with no server and
no CDN. Every analysed file is a point in the valence/arousal plane; hovering shows its
name, valence, arousal, top 3 descriptors and emotion label; clicking plays it (through
a path relative to the HTML file, so keep the map beside the library or pass --out
accordingly); filters by descriptor score, emotion label, folder and name; colours by a
chosen field; the descriptor words sit in the plane with their pair links. Drawn on a
canvas, so 50,000 points stay responsive.

Examples:
  python va_map.py --db output/demo/audio_predictions.db --out output/demo/va_map.html
  python va_map.py --db output/library.db --out /srv/sfx/emotion_map.html --color emotion_label
"""
from __future__ import annotations

from pathlib import Path

from va_cli import add_common_args, exit_main, parser, run_main
from va_utils import DEFAULT_OUT_DIR, EmoTagError


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("--out", default=str(DEFAULT_OUT_DIR / "va_map.html"), help="the HTML file to write")
    ap.add_argument("--color", default="valence",
                    help="initial colouring: valence, arousal, emotion_label, folder or a descriptor name")
    ap.add_argument("--title", default="emotag: valence/arousal map", help="page title")
    ap.add_argument("--lexicon", help="NRC-VAD lexicon file or folder (default: data/descriptor_lexicon.csv)")
    ap.add_argument("--pairs", help="descriptor pairs CSV (default: data/descriptor_pairs.csv)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many files (default: all)")
    add_common_args(ap, models=False, jobs=False)
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def _run(args):
    from va_data_loader import load_descriptor_pairs, load_lexicon
    from va_io import write_text
    from va_mapview import library_payload, render
    from va_query import descriptor_names, open_library
    from va_utils import did_you_mean
    out = Path(args.out)
    from va_utils import check_not_input
    check_not_input(out, args.db)
    conn = open_library(args.db)
    try:
        fields = ["valence", "arousal", "emotion_label", "folder"]
        if args.color not in fields:
            names = descriptor_names(conn)
            if args.color not in names:
                raise EmoTagError(f"--color {args.color!r} is not a field or descriptor of the library"
                                  f"{did_you_mean(args.color, fields + names)}")
        lexicon = load_lexicon(args.lexicon) if args.lexicon else load_lexicon()
        pairs = load_descriptor_pairs(args.pairs, lexicon=lexicon)
        payload = library_payload(conn, out.parent, lexicon=lexicon, pairs=pairs, limit=args.limit)
    finally:
        conn.close()
    if payload["n"] == 0:
        raise EmoTagError(f"{args.db}: no predictions to map; run predict_new_audio.py --db or log_predictions_to_db.py")
    write_text(render(payload, title=args.title, color=args.color), out)
    if not args.quiet:
        print(f"wrote the map of {payload['n']} files to {out} ({out.stat().st_size / 2**20:.1f} MB); "
              f"open it in a browser: file://{out.resolve()}")
    return 0


if __name__ == "__main__":
    exit_main(main)
