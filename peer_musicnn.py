"""Run the MusiCNN peer (DEAM and emoMusic valence/arousal heads) on a list of files.

Not a pipeline stage: ``va_baselines.run_peer`` calls it under an interpreter that has
``essentia-tensorflow`` (``make peer-env`` creates ``.venv-peer``), because that package
conflicts with plain ``essentia``. It imports only numpy and Essentia.

Reads a model folder (``msd-musicnn-1.pb``, ``deam-musicnn-msd-1.pb``,
``emomusic-musicnn-msd-1.pb``) and a text file of audio paths, one per line. Writes one
JSON object per file to OUT (``path`` and ``deam_valence, deam_arousal,
emomusic_valence, emomusic_arousal`` on the heads' 1..9 scale, averaged over time, or
``error``)::

    .venv-peer/bin/python peer_musicnn.py ../shared/peers/essentia-musicnn files.txt out.jsonl
"""
import json
import sys
from pathlib import Path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    model_dir, list_file, out_file = (Path(a) for a in argv)
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
    paths = [p for p in list_file.read_text().splitlines() if p.strip()]
    with open(out_file, "w") as fh:
        for p in paths:
            try:
                audio = es.MonoLoader(filename=p, sampleRate=16000, resampleQuality=4)()
                emb = embed(audio)
                row = {"path": p}
                for name, head in heads.items():
                    va = np.asarray(head(emb)).mean(axis=0)  # [valence, arousal]
                    row[f"{name}_valence"], row[f"{name}_arousal"] = float(va[0]), float(va[1])
            except Exception as exc:  # one bad file must not stop the run
                row = {"path": p, "error": f"{type(exc).__name__}: {exc}"}
            fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
