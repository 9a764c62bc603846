"""Run the MusiCNN peer (DEAM and emoMusic valence/arousal heads) on a list of files.

Not a pipeline stage: ``va_baselines.run_peer`` calls it under an interpreter that has
``essentia-tensorflow`` (``make peer-env`` creates ``.venv-peer``), because that package
conflicts with plain ``essentia``. Besides the standard library and ``va_cli`` (for its
help layout), it imports only numpy and Essentia.

Reads a model folder (``msd-musicnn-1.pb``, ``deam-musicnn-msd-1.pb``,
``emomusic-musicnn-msd-1.pb``) and a text file of audio paths, one per line. Writes one
JSON object per file to OUT (``path`` and ``deam_valence, deam_arousal,
emomusic_valence, emomusic_arousal`` on the heads' 1..9 scale, averaged over time, or
``error``).

Examples:
  .venv-peer/bin/python peer_musicnn.py ../shared/peers/essentia-musicnn files.txt out.jsonl
  python peer_musicnn.py /opt/models/essentia-musicnn emotify_paths.txt /tmp/peer.jsonl
"""
import sys
from pathlib import Path


def main(argv=None):
    from va_cli import parser, per_file_jsonl
    ap = parser(__doc__)
    ap.add_argument("model_dir", metavar="MODEL_DIR", help="folder of the three MusiCNN .pb graphs")
    ap.add_argument("list_file", metavar="PATHS.txt", help="audio paths, one per line")
    ap.add_argument("out_file", metavar="OUT", help="JSON lines to write, one object per file")
    args = ap.parse_args(argv)
    model_dir, list_file, out_file = Path(args.model_dir), Path(args.list_file), Path(args.out_file)
    import numpy as np
    import essentia
    essentia.log.infoActive = False
    essentia.log.warningActive = False
    import essentia.standard as es

    embed = es.TensorflowPredictMusiCNN(graphFilename=str(model_dir / "msd-musicnn-1.pb"),
                                        output="model/dense/BiasAdd")
    heads = {}
    for name in ("deam", "emomusic"):
        pb = str(model_dir / f"{name}-musicnn-msd-1.pb")
        try:
            heads[name] = es.TensorflowPredict2D(graphFilename=pb, input="flatten_in_input", output="dense_out")
        except RuntimeError:
            heads[name] = es.TensorflowPredict2D(graphFilename=pb, output="model/Identity")

    def predict(p):
        emb = embed(es.MonoLoader(filename=p, sampleRate=16000, resampleQuality=4)())
        row = {}
        for name, head in heads.items():
            va = np.asarray(head(emb)).mean(axis=0)  # [valence, arousal]
            row[f"{name}_valence"], row[f"{name}_arousal"] = float(va[0]), float(va[1])
        return row

    per_file_jsonl(list_file, out_file, predict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
