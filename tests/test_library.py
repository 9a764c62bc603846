"""Library mode: incremental and resumable runs, renames, failures, a kill -9, a Dask cluster."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

import soundfile as sf

from conftest import ROOT
from synth_audio import synthesize
from extractor import extract_batch
from va_library import analyse_library

KINDS = ["drone", "chime", "noise_burst", "siren", "rain", "heartbeat"]


def make_library(folder, n, seconds=1.5, start=0):
    """``n`` synthetic files in three subfolders, each with different content."""
    for i in range(start, start + n):
        kind = KINDS[i % len(KINDS)]
        y = synthesize(kind, seconds=seconds, sr=22050, seed=i) * (1.0 - 0.01 * (i % 50))
        p = folder / f"sub{i % 3}" / f"{i:03d}_{kind}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, y, 22050)
    return folder


def rows(db):
    c = sqlite3.connect(db)
    try:
        out = {t: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]  # noqa: S608 (fixed names)
               for t in ("audio_files", "audio_paths", "features", "predictions", "failures")}
        out["integrity"] = c.execute("PRAGMA integrity_check").fetchone()[0]
        out["dup_pred"] = c.execute("SELECT COUNT(*) FROM (SELECT file_id FROM predictions "
                                    "GROUP BY file_id HAVING COUNT(*) > 1)").fetchone()[0]
        out["paths"] = sorted(r[0] for r in c.execute("SELECT path FROM audio_paths"))
    finally:
        c.close()
    return out


def run(lib, db, models, **kw):
    return analyse_library([str(lib)], db=db, models_dir=models, cache_dir=None, **kw)


def test_incremental_rename_touch_copy_add_and_failures(tmp_path, trained_models):
    models, _ = trained_models
    lib, db = make_library(tmp_path / "lib", 8), tmp_path / "lib.db"
    first = run(lib, db, models, batch_size=3)
    assert (first.analysed, first.unchanged, first.failed) == (8, 0, 0)
    r = rows(db)
    assert r["audio_files"] == r["features"] == r["predictions"] == r["audio_paths"] == 8

    again = run(lib, db, models)
    assert (again.analysed, again.unchanged, again.recognised) == (0, 8, 0)

    # rename one file, touch another, copy a third, add two new ones and a broken one
    files = sorted(lib.rglob("*.wav"))
    renamed = files[0].with_name("renamed.wav")
    files[0].rename(renamed)
    os.utime(files[1], ns=(files[1].stat().st_atime_ns, files[1].stat().st_mtime_ns + 10**9))
    (lib / "copy.wav").write_bytes(files[2].read_bytes())
    make_library(lib, 2, start=100)
    (lib / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    third = run(lib, db, models)
    assert third.analysed == 2                       # only the new content
    assert third.recognised == 3                     # rename, touch and copy: by content hash
    assert third.unchanged == 6 and third.failed == 1
    assert third.removed_paths == 1                  # the old name of the renamed file
    assert any("broken.wav" in p and "cannot decode" in m for p, m in third.failures)
    r = rows(db)
    assert r["audio_files"] == r["features"] == r["predictions"] == 10   # no duplicate content
    assert r["audio_paths"] == 11 and r["failures"] == 1 and r["dup_pred"] == 0
    assert str(renamed) in r["paths"] and str(files[0]) not in r["paths"]

    fourth = run(lib, db, models)                    # the failure is remembered, not retried
    assert (fourth.analysed, fourth.failed, fourth.skipped_failed, fourth.unchanged) == (0, 0, 1, 11)
    assert run(lib, db, models, retry_failed=True).failed == 1

    forced = run(lib, db, models, force=True)        # --force recomputes, still one row per file
    assert forced.analysed == 10 and forced.unchanged == 0
    r2 = rows(db)
    assert {k: r2[k] for k in ("audio_files", "features", "predictions")} == \
        {k: r[k] for k in ("audio_files", "features", "predictions")}
    assert r2["integrity"] == "ok"


def test_new_models_repredict_without_reanalysis(tmp_path, trained_models):
    import shutil
    models, _ = trained_models
    lib, db = make_library(tmp_path / "lib", 4), tmp_path / "lib.db"
    run(lib, db, models)
    other = tmp_path / "models2"
    shutil.copytree(models, other)
    import joblib

    from va_io import save_model
    for name in ("trained_valence_model.joblib",):   # a "retrained" model: same pipeline, new file hash
        obj = joblib.load(other / name)
        save_model(obj["pipeline"], other / name, metadata={**obj["metadata"], "created": "retrained"})
    s = run(lib, db, other)
    assert s.analysed == 0 and s.predicted == 4
    assert rows(db)["predictions"] == 8              # one per file and model pair


def test_cli_summary_and_errors_csv(tmp_path, trained_models, capsys):
    import predict_new_audio
    models, _ = trained_models
    lib = make_library(tmp_path / "lib", 3)
    (lib / "empty.wav").write_bytes(b"")
    code = predict_new_audio.main([str(lib), "--db", str(tmp_path / "l.db"), "--models-dir", str(models),
                                   "--out-dir", str(tmp_path / "out"), "--no-cache"])
    out = capsys.readouterr().out
    assert code == 0
    assert "4 files: 3 analysed" in out and "1 failed" in out
    errs = (tmp_path / "out" / "new_audio_errors.csv").read_text()
    assert "empty.wav" in errs and "empty" in errs


def test_killed_run_resumes_with_one_row_per_file(tmp_path, trained_models):
    """SIGKILL mid-run, then re-run: nothing duplicated, nothing completed lost, integrity ok."""
    models, _ = trained_models
    n = 40
    lib, db = make_library(tmp_path / "lib", n, seconds=6.0), tmp_path / "lib.db"
    cmd = [sys.executable, str(ROOT / "predict_new_audio.py"), str(lib), "--db", str(db), "--models-dir",
           str(models), "--out-dir", str(tmp_path / "out"), "--batch-size", "2", "--no-cache", "-q"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    committed = 0
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    c = sqlite3.connect(db, timeout=1)
                    committed = c.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
                    c.close()
                except sqlite3.Error:
                    committed = 0
            if committed >= 6:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be killed: " + proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = rows(db)
    assert before["integrity"] == "ok"
    assert 6 <= before["predictions"] < n and before["predictions"] % 2 == 0   # whole batches only
    assert before["audio_files"] == before["features"] == before["predictions"]

    resumed = run(lib, db, models)
    assert resumed.unchanged == before["predictions"]      # completed work kept...
    assert resumed.analysed == n - before["predictions"]   # ...and only the rest analysed
    after = rows(db)
    assert after["audio_files"] == after["features"] == after["predictions"] == after["audio_paths"] == n
    assert after["dup_pred"] == 0 and after["integrity"] == "ok"


def test_dask_local_cluster_gives_the_local_features(tmp_path, sound_dir):
    """Extraction on a real dask.distributed LocalCluster (worker processes) = the local path."""
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    paths = sorted(sound_dir.iterdir()) + [tmp_path / "missing.wav"]
    local = extract_batch(paths, jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = extract_batch(paths, backend="dask", scheduler=cluster.scheduler_address)
    assert [r.path for r in remote] == [str(p) for p in paths]
    assert [r.ok for r in remote] == [r.ok for r in local] == [True] * (len(paths) - 1) + [False]
    for a, b in zip(local, remote):
        assert (a.features is None and b.features is None) or np.array_equal(a.features, b.features)


def test_library_mode_segments_once_per_file(tmp_path, trained_models):
    models, _ = trained_models
    lib, db = make_library(tmp_path / "lib", 4, seconds=5.0), tmp_path / "lib.db"
    first = run(lib, db, models, segments=(3.0, 1.0))
    assert first.analysed == 4 and first.segmented == 4
    c = sqlite3.connect(db)
    assert c.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == 4 * 3          # windows at 0, 1, 2 s
    c.close()
    again = run(lib, db, models, segments=(3.0, 1.0))
    assert again.unchanged == 4 and again.segmented == 0                               # nothing done twice
    plain = run(lib, db, models)
    assert plain.segmented == 0
