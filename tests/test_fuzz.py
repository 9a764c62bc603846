"""Hostile files (va_fuzz): every file ends analysed or rejected with a one-line reason;
no crash, no hang. Also the per-file timeout and scans of folders with symlink loops."""
from __future__ import annotations

import json
import os

import pandas as pd

import predict_new_audio
from extractor import extract_batch
from va_fuzz import write_corpus, write_long_silence
from va_utils import find_audio_files

N_FUZZ = 550


def test_seeded_fuzz_corpus_every_file_accounted_for(tmp_path, trained_models, capsys):
    models, _ = trained_models
    folder = tmp_path / "fuzz"
    manifest = write_corpus(folder, n=N_FUZZ, seed=0, long_minutes=12)     # 12 min: the block-wise path too
    out = tmp_path / "out"
    code = predict_new_audio.main([str(folder), "--models-dir", str(models), "--out-dir", str(out), "-j", "2",
                                   "--timeout", "300", "--no-cache", "-q"])
    assert code == 0                                                       # no crash: the batch finished
    err_lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ERROR")]
    feats = pd.read_csv(out / "new_audio_features_raw.csv")
    errors = pd.read_csv(out / "new_audio_errors.csv")
    failed = errors[errors["severity"] == "error"]
    analysed, rejected = set(feats["path"]), set(failed["path"])
    paths = set(manifest["path"])
    assert analysed | rejected == paths and not analysed & rejected       # every file: one outcome
    assert len(feats) == len(analysed) and len(failed) == len(rejected)   # exactly once
    for _, row in manifest.iterrows():                                    # the outcome expected of its kind
        if row["expect"] == "ok":
            assert row["path"] in analysed, (row["kind"], row["detail"], failed.set_index("path")["message"].get(row["path"]))
        elif row["expect"] == "error":
            assert row["path"] in rejected, (row["kind"], row["path"])
    assert not failed["message"].str.contains("timed out").any()           # no hang
    assert failed["message"].map(lambda m: "\n" not in m).all()
    assert len(err_lines) == len(rejected)                                # one line per rejected file, named
    assert all(os.path.basename(p).split("\n")[0][:20] in "\n".join(err_lines) for p in rejected)
    feature_cols = [c for c in feats.columns if c not in ("sha256", "path", "duration", "sample_rate", "channels")]
    assert feats[feature_cols].notna().all().all()
    report = {"files": len(paths), "analysed": len(analysed), "rejected": len(rejected),
              "by_kind": manifest.assign(ok=manifest["path"].isin(analysed)).groupby("kind")["ok"].agg(["sum", "count"])
              .to_dict(orient="index")}
    (tmp_path / "fuzz_report.json").write_text(json.dumps(report, indent=1, default=int))


def test_timeout_stops_a_slow_file_and_the_batch_goes_on(tmp_path):
    import numpy as np
    import soundfile as sf
    long = write_long_silence(tmp_path, 12)["path"]
    good = tmp_path / "good.wav"
    sf.write(good, 0.3 * np.sin(np.linspace(0, 2000, 22050)), 22050)
    res = extract_batch([long, str(good)], timeout=0.3)
    assert "timed out after 0.3 s" in res[0].error
    assert all(r.ok for r in res[1:])


def test_scans_survive_symlink_loops_and_unreadable_folders(tmp_path):
    root = tmp_path / "lib"
    (root / "a" / "b").mkdir(parents=True)
    write_corpus(root / "a" / "b", n=2, seed=3)                           # two good files (kinds 0, 1)
    os.symlink(root, root / "a" / "b" / "loop")                           # a loop back to the top
    os.symlink(root / "a", root / "a" / "self")                           # and onto itself
    os.symlink(tmp_path / "nowhere", root / "dangling.wav")               # a dangling link
    locked = root / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        files, problems = find_audio_files([root])
    finally:
        locked.chmod(0o755)
    assert len(files) == 2
    assert any(p.endswith("dangling.wav") and "broken symbolic link" in m for p, m in problems)
    if os.geteuid() != 0:                                                 # root reads everything
        assert any("locked" in p for p, _ in problems)
