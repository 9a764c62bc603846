"""Stage 7: describe one audio file: valence, arousal, descriptor scores and models.

Reads one audio file, the valence/arousal models and the descriptor models in
``--models-dir``. Writes nothing; prints an aligned table, or JSON with ``--json``:
valence and arousal in [-1, 1], the emotion label with its confidence (from the 8-class
classifier, or the category nearest to the predicted valence/arousal), the VA-derived score (0..1) of every descriptor word,
and the prediction of every descriptor model (or only ``--descriptor NAME ...``).

Examples:
  python predict_descriptor_value.py door_creak.wav
  python predict_descriptor_value.py door_creak.wav --descriptor soothing calmness --json
"""
from __future__ import annotations

import json

from essentia_engine import DEFAULT_CONFIG
from extractor import extract_file
from va_cli import add_common_args, cache_dir, exit_main, parser, run_main
from va_inference import ModelSet
from va_utils import EmoTagError, did_you_mean


def build_parser():
    ap = parser(__doc__)
    ap.add_argument("file", help="an audio file")
    ap.add_argument("--descriptor", nargs="+", metavar="NAME", help="only these descriptor words/models")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--emotion", choices=("auto", "classifier", "va"), default="auto",
                    help="emotion label from the 8-class classifier, from the nearest category to the predicted "
                         "valence/arousal, or (auto) the classifier when the file resembles its speech training data")
    ap.add_argument("--lexicon", help="NRC-VAD lexicon file or folder (default: data/descriptor_lexicon.csv)")
    ap.add_argument("--pairs", help="descriptor pairs CSV (default: data/descriptor_pairs.csv)")
    add_common_args(ap, db=False, cluster=False)
    return ap


def main(argv=None):
    return run_main(_run, build_parser(), argv)


def describe(path, *, models_dir, descriptors=None, lexicon=None, pairs=None, cache=None, emotion="auto") -> dict:
    """All predictions for one file as a dict (see the module docstring)."""
    models = ModelSet(models_dir, emotion=emotion, lexicon=lexicon, pairs=pairs).load()
    res = extract_file(path, config=DEFAULT_CONFIG, cache_dir=cache)
    X = res.features[None, :]
    pred, scores = models.predict(X)
    va = emo = pred.iloc[0]
    scores = scores.iloc[0]
    dmodels = models.descriptor_models()
    if descriptors:
        unknown = [d for d in descriptors if d not in scores.index and d not in dmodels]
        if unknown:
            raise EmoTagError(f"unknown descriptor {unknown[0]!r}" + did_you_mean(unknown[0], list(scores.index) + list(dmodels)))
        scores = scores[[d for d in descriptors if d in scores.index]]
        dmodels = {k: v for k, v in dmodels.items() if k in descriptors}
    model_preds = models.predict_descriptors(X, list(dmodels)).iloc[0] if dmodels else {}
    return {"file": str(path), "sha256": res.sha256, "duration": res.duration, "warnings": res.warnings,
            "valence": float(va["valence"]), "arousal": float(va["arousal"]),
            "emotion_label": str(emo["emotion_label"]), "emotion_confidence": round(float(emo["emotion_confidence"]), 4),
            "emotion_source": str(emo["emotion_source"]),
            "descriptor_scores": {k: round(float(v), 4) for k, v in scores.items()},
            "descriptor_models": {k: round(float(v), 4) for k, v in dict(model_preds).items()}}


def _run(args):
    out = describe(args.file, models_dir=args.models_dir, descriptors=args.descriptor, lexicon=args.lexicon,
                   pairs=args.pairs, cache=cache_dir(args), emotion=args.emotion)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['file']}  ({out['duration']:.2f} s, sha256 {out['sha256'][:12]}…)")
    for w in out["warnings"]:
        print(f"  warning: {w}")
    print(f"  valence  {out['valence']:+.3f}   (-1 unpleasant … +1 pleasant)")
    print(f"  arousal  {out['arousal']:+.3f}   (-1 calm … +1 eventful)")
    print(f"  emotion  {out['emotion_label']} (confidence {out['emotion_confidence']:.2f}, from {out['emotion_source']})")
    rows = [(k, f"{v:.3f}", "VA-derived score") for k, v in
            sorted(out["descriptor_scores"].items(), key=lambda kv: -kv[1])]
    rows += [(k, f"{v:.3f}", "descriptor model") for k, v in out["descriptor_models"].items()]
    if rows:
        w = max(len(r[0]) for r in rows)
        print(f"  {'descriptor'.ljust(w)}  value  source")
        for name, v, src in rows:
            print(f"  {name.ljust(w)}  {v}  {src}")
    return 0


if __name__ == "__main__":
    exit_main(main)
