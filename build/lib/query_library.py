"""Query the SQLite library by feeling, from the shell.

Reads the library (``--db``, opened read-only); writes the results to stdout (or
``--out``) as an aligned table, CSV, JSON or an M3U playlist for a DAW or a player.

Filters combine (all must hold):
  --near V A            the files nearest to valence V and arousal A (each in -1..1)
  --descriptor NAME --min X
                        the VA-derived score of NAME at least X (0..1); repeat the pair
  --label NAME          the emotion label is NAME (repeat for any of several)
  --like FILE           the files whose features are nearest to FILE's (standardised
                        feature space); FILE need not be in the library, it is analysed
  --under FOLDER        only files inside FOLDER
  --class NAME          NAME is among the file's top sound classes (YAMNet's AudioSet names:
                        "Rain", "Siren", "Speech", "Dog", ...; any case; repeat: all must hold)
  --domain D            the file is speech, music or other (sound effects, ambiences)
  --text QUERY          words in the file's name or metadata (BWF description, iXML note,
                        ID3/MP4/Vorbis/WMA title and comment, UCS names; SQLite FTS5 syntax:
                        door creak = both words, '"door creak"' = the phrase, door OR gate,
                        creak* = prefix, description:rain = one field; stemmed: doors = door)
  --category CAT        a UCS category: DOORS, its short name DOOR, or a CatID DOORWood
  --confident           only files typical of the models' training data (in-domain score
                        >= 0.5: every prediction carries one, 0..1, with valence and arousal
                        intervals), the predictions to trust most
  --limit N             at most N results
  --sort KEY            arousal or valence, highest first (-arousal, -valence: lowest first)
  --moments             spans (with start and end times) instead of files: every window
                        meets --arousal-above/-below and --valence-above/-below, for at
                        least --min-duration seconds (needs predict_new_audio.py --segments
                        logged into the library); --format markers or audacity for editors

Order: by distance with --near or --like, else by the first descriptor's score, else
by --sort, else by text relevance with --text, else by path. Descriptor and label names are checked against the library, with a "did you
mean" for typos, and so are sound classes (against YAMNet's 521 names). Every row shows
the file's domain, its top three sound classes with their scores, its description (the
first of description, title, UCS FXName, comment) and UCS CatID. Every value is passed to
SQLite as a bound parameter.

Examples:
  python query_library.py --db output/demo/audio_predictions.db --near 0.5 -0.6
  python query_library.py --descriptor soothing --min 0.7 --descriptor uneasy --min 0.4
  python query_library.py --label calm --under /srv/sfx/ambience --format m3u --out calm.m3u
  python query_library.py --class rain --descriptor soothing --min 0.5
  python query_library.py --text "door creak" --descriptor uneasy --min 0.5
  python query_library.py --text "rain OR drizzle" --sort=-arousal --format m3u --out calm_rain.m3u
  python query_library.py --category DOOR --near -0.4 -0.5 --limit 10
  python query_library.py --like takes/scene12_dialogue.wav --limit 5 --format json
  python query_library.py --moments --arousal-above 0.5 --min-duration 4 --format audacity
"""
from __future__ import annotations

import sys

from va_cli import add_common_args, add_descriptor_filter, descriptor_filter, exit_main, parser, run_main
from va_utils import EmoTagError


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("--near", nargs=2, type=float, metavar=("V", "A"), help="nearest to this valence and arousal")
    add_descriptor_filter(ap)
    ap.add_argument("--label", action="append", default=[], metavar="NAME", help="emotion label (repeatable: any of)")
    ap.add_argument("--like", metavar="FILE", help="files that sound like FILE (nearest in feature space)")
    ap.add_argument("--under", metavar="FOLDER", help="only files inside this folder")
    ap.add_argument("--class", dest="classes", action="append", default=[], metavar="NAME",
                    help="a sound class among the file's top classes (repeatable: all of)")
    ap.add_argument("--domain", choices=("speech", "music", "vocal", "other"),
                    help="only files of this domain (vocal: laughs, screams, sighs and other vocal bursts)")
    ap.add_argument("--text", metavar="QUERY", help="words in the name or metadata (FTS5 syntax, see above)")
    ap.add_argument("--category", metavar="CAT", help="a UCS category, short name or CatID (DOORS, DOOR, DOORWood)")
    ap.add_argument("--confident", action="store_true",
                    help="only files typical of the models' training data (in-domain score at least 0.5), "
                         "whose predictions can be trusted most")
    ap.add_argument("--limit", type=int, default=20, help="at most this many results")
    ap.add_argument("--sort", choices=("arousal", "valence", "-arousal", "-valence"),
                    help="order by arousal or valence, highest first (a leading '-': lowest first)")
    ap.add_argument("--moments", action="store_true", help="find spans within files (see above)")
    ap.add_argument("--arousal-above", type=float, metavar="X", help="with --moments: arousal above X")
    ap.add_argument("--arousal-below", type=float, metavar="X", help="with --moments: arousal below X")
    ap.add_argument("--valence-above", type=float, metavar="X", help="with --moments: valence above X")
    ap.add_argument("--valence-below", type=float, metavar="X", help="with --moments: valence below X")
    ap.add_argument("--min-duration", type=float, default=0.0, metavar="S", help="with --moments: shortest span (s)")
    ap.add_argument("--format", choices=("table", "csv", "json", "m3u", "markers", "audacity"), default="table",
                    help="output format (markers: name,start,end CSV; audacity: label track; both for --moments)")
    ap.add_argument("--out", metavar="FILE", help="write the results here instead of stdout")
    ap.add_argument("--cache-dir", default=None, help="feature cache for --like (default: $EMOTAG_CACHE or ~/.cache/emotag)")
    add_common_args(ap, models=False, jobs=False)
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def _run(args):
    from va_query import FORMATS, find, like, open_library
    descriptors = descriptor_filter(args)
    if args.near and args.like:
        raise EmoTagError("--near and --like each set the order; use one of them")
    if args.sort and (args.near or args.like or descriptors):
        raise EmoTagError("--sort orders the other filters' results; --near, --like and --descriptor set "
                          "their own order")
    if args.near and not all(-1 <= x <= 1 for x in args.near):
        raise EmoTagError(f"--near needs valence and arousal in -1..1, got {args.near[0]} {args.near[1]}")
    spans = (args.arousal_above, args.arousal_below, args.valence_above, args.valence_below)
    if not args.moments and any(x is not None for x in spans):
        raise EmoTagError("--arousal-above/-below and --valence-above/-below go with --moments")
    if args.format in ("markers", "audacity") and not args.moments:
        raise EmoTagError(f"--format {args.format} is for --moments")
    if args.moments and (args.near or args.like or descriptors or args.label or args.confident or args.classes
                         or args.domain or args.text or args.category):
        raise EmoTagError("--moments combines with --under, --limit and the four thresholds only")
    from va_query import CONFIDENT_IN_DOMAIN
    confident = CONFIDENT_IN_DOMAIN if args.confident else None
    conn = open_library(args.db)
    try:
        if args.moments:
            from va_query import moments
            rows = moments(conn, arousal_above=args.arousal_above, arousal_below=args.arousal_below,
                           valence_above=args.valence_above, valence_below=args.valence_below,
                           min_duration=args.min_duration, under=args.under, limit=args.limit)
        elif args.like:
            from va_cli import cache_dir
            rows = like(conn, args.db, args.like, descriptors=descriptors, labels=args.label, under=args.under,
                        limit=args.limit, cache_dir=cache_dir(args), min_in_domain=confident,
                        classes=args.classes, domain=args.domain, text=args.text, category=args.category)
        else:
            rows = find(conn, near=args.near, descriptors=descriptors, labels=args.label, under=args.under,
                        limit=args.limit, min_in_domain=confident, classes=args.classes, domain=args.domain,
                        sort=args.sort, text=args.text, category=args.category)
    finally:
        conn.close()
    out = FORMATS[args.format](rows)
    if args.out:
        from va_io import write_text
        from va_utils import check_not_input
        check_not_input(args.out, args.db, args.like)
        write_text(out, args.out)
        if not args.quiet:
            print(f"wrote {len(rows)} results to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0


if __name__ == "__main__":
    exit_main(main)
