"""Write ``data/descriptor_lexicon.csv``: the NRC-VAD v2.1 values of the words this project uses.

Reads a full NRC-VAD copy (which must not be committed: its licence forbids
redistribution) and ``data/descriptor_pairs.csv``; writes only the rows for the
descriptor words, the RAVDESS category words, the GEMS words and the EmoGator category words. Run it again after
editing the pairs file. It also writes ``data/yamnet_class_va.csv``: for each of YAMNet's
521 class names, the mean valence and arousal of the lexicon terms in the name (the whole
name when the lexicon has it, else its comma-separated parts, else its words of three or
more letters), which :func:`va_yamnet.lexicon_prior` uses; derived values, not lexicon rows.

Examples:
  python make_descriptor_lexicon.py ../shared/lexicon/NRC-VAD-Lexicon-v2.1/NRC-VAD-Lexicon-v2.1.txt
  python make_descriptor_lexicon.py ~/lexica/NRC-VAD-Lexicon-v2.1 --pairs my_pairs.csv --out my_lexicon.csv
"""
from __future__ import annotations

import sys

from va_cli import add_common_args, exit_main, parser, run_main
from va_data_loader import EMOGATOR_WORDS, GEMS_WORDS, RAVDESS_EMOTIONS, load_descriptor_pairs, load_lexicon
from va_io import write_csv
from va_utils import DEFAULT_LEXICON, DEFAULT_PAIRS
from va_yamnet import CLASS_VA as DEFAULT_CLASS_VA, class_lexicon_va


def main(argv=None):
    ap = parser(__doc__)
    ap.add_argument("lexicon", help="a full NRC-VAD copy (v2.1 file, OneFilePerDimension folder, or v1)")
    ap.add_argument("--pairs", default=str(DEFAULT_PAIRS), help="descriptor pairs CSV (default: %(default)s)")
    ap.add_argument("--out", default=str(DEFAULT_LEXICON), help="output CSV (default: %(default)s)")
    ap.add_argument("--class-out", default=str(DEFAULT_CLASS_VA),
                    help="the YAMNet class valence/arousal CSV (default: %(default)s)")
    add_common_args(ap, db=False, jobs=False, models=False)
    return run_main(_run, ap, argv)


def _run(args):
    full = load_lexicon(args.lexicon)
    pairs = load_descriptor_pairs(args.pairs)
    words = list(pairs["word_a"]) + list(pairs["word_b"]) + list(RAVDESS_EMOTIONS.values())
    words += [w for group in GEMS_WORDS.values() for w in group]
    words += [w for group in EMOGATOR_WORDS.values() for w in group]
    words = list(dict.fromkeys(words))
    missing = [w for w in words if w not in full.index]
    if missing:
        print(f"error: {args.lexicon}: words not in the lexicon: {missing}", file=sys.stderr)
        return 2
    sub = full.loc[words].reset_index()
    sub["source"] = "NRC-VAD Lexicon v2.1 (Mohammad 2025)"
    write_csv(sub, args.out)
    print(f"wrote {len(sub)} words to {args.out}")
    classes = class_lexicon_va(full)
    classes["source"] = "mean of NRC-VAD Lexicon v2.1 (Mohammad 2025) terms in the class name"
    write_csv(classes, args.class_out)
    print(f"wrote {int(classes['valence'].notna().sum())} of {len(classes)} YAMNet classes to {args.class_out}")
    return 0


if __name__ == "__main__":
    exit_main(main)
