"""The SQLite library: schema, idempotence, rollback of a failed batch, kill -9 mid-run."""
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import va_db
from essentia_engine import DEFAULT_CONFIG, feature_names
from va_db import connect, counts, log_batch, register_model
from conftest import ROOT

N = len(feature_names(DEFAULT_CONFIG))


def _batch(start, n):
    files = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(start, start + n)],
                          "path": [f"/lib/f{i}.wav" for i in range(start, start + n)],
                          "duration": 2.0, "sample_rate": 44100, "channels": 2})
    rng = np.random.default_rng(start)
    preds = pd.DataFrame({"valence": rng.uniform(-1, 1, n), "arousal": rng.uniform(-1, 1, n)})
    scores = pd.DataFrame({"calm": rng.uniform(0, 1, n)}).assign(chaotic=lambda d: 1 - d["calm"])
    return files, rng.random((n, N)), preds, scores


def _log(conn, start, n):
    with conn:
        ids = (register_model(conn, "a" * 64, {"name": "v", "kind": "va"}),
               register_model(conn, "b" * 64, {"name": "a", "kind": "va"}))
    files, X, preds, scores = _batch(start, n)
    log_batch(conn, files=files, config=DEFAULT_CONFIG, features=X, predictions=preds, model_ids=ids, scores=scores,
              labels=pd.DataFrame({"emotion": ["calm"] * n, "valence": preds["valence"]}))


def test_schema_foreign_keys_and_wal(tmp_path):
    conn = connect(tmp_path / "l.db")
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.IntegrityError):
        with conn:
            conn.execute("INSERT INTO audio_paths(path, file_id) VALUES ('x', 999)")
    idx = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"idx_predictions_va", "idx_descriptor_scores_prediction", "idx_labels"} <= idx


def test_idempotent(tmp_path):
    conn = connect(tmp_path / "l.db")
    _log(conn, 0, 20)
    first = counts(conn)
    before = conn.execute("SELECT SUM(valence), SUM(arousal) FROM predictions").fetchone()
    _log(conn, 0, 20)
    assert counts(conn) == first
    assert conn.execute("SELECT SUM(valence), SUM(arousal) FROM predictions").fetchone() == before
    assert first["audio_files"] == 20 and first["descriptor_scores"] == 40 and first["features"] == 20


def test_failure_mid_batch_rolls_back(tmp_path, monkeypatch):
    conn = connect(tmp_path / "l.db")
    _log(conn, 0, 10)
    good = counts(conn)
    real = va_db._file_ids

    def failing(conn_, files):
        real(conn_, files)  # rows of this batch are already inserted ...
        raise RuntimeError("injected failure")  # ... and must be rolled back

    monkeypatch.setattr(va_db, "_file_ids", failing)
    with pytest.raises(RuntimeError, match="injected"):
        _log(conn, 10, 10)
    assert counts(conn) == good
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


KILL_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
from test_db import _log
from va_db import connect
conn = connect({db!r})
for b in range(10_000):
    _log(conn, b * 50, 50)
"""


def test_kill_9_mid_run_leaves_whole_batches(tmp_path):
    db = tmp_path / "k.db"
    script = KILL_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"), db=str(db))
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until a few batches have committed
        time.sleep(0.3)
        if db.exists():
            try:
                c = sqlite3.connect(db, timeout=5)
                n = c.execute("SELECT COUNT(*) FROM audio_files").fetchone()[0]
                c.close()
            except sqlite3.OperationalError:
                continue
            if n >= 150:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    conn = connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    c = counts(conn)
    assert c["audio_files"] >= 150 and c["audio_files"] % 50 == 0  # no partial batch
    assert c["features"] == c["predictions"] == c["audio_files"]
    assert c["descriptor_scores"] == 2 * c["audio_files"]


def test_emotion_columns_written_and_old_libraries_upgraded(tmp_path):
    db = tmp_path / "old.db"
    old = sqlite3.connect(db)  # a version-1 library: predictions without the emotion columns
    old.executescript(va_db.SCHEMA.replace(
        "    emotion_label TEXT, emotion_confidence REAL CHECK (emotion_confidence BETWEEN 0 AND 1),\n"
        "    emotion_source TEXT,\n", ""))
    assert "emotion_label" not in {r[1] for r in old.execute("PRAGMA table_info(predictions)")}
    old.close()
    conn = connect(db)
    assert {"emotion_label", "emotion_confidence", "emotion_source"} <= {
        r[1] for r in conn.execute("PRAGMA table_info(predictions)")}
    with conn:
        ids = (register_model(conn, "a" * 64, {"name": "v"}), register_model(conn, "b" * 64, {"name": "a"}))
    files, X, preds, _ = _batch(0, 3)
    preds = preds.assign(emotion_label=["calm", "sad", "happy"], emotion_confidence=[0.9, 0.5, 0.7],
                         emotion_source="classifier")
    log_batch(conn, files=files, predictions=preds, model_ids=ids)
    rows = conn.execute("SELECT emotion_label, emotion_confidence, emotion_source FROM predictions ORDER BY id").fetchall()
    assert rows == [("calm", 0.9, "classifier"), ("sad", 0.5, "classifier"), ("happy", 0.7, "classifier")]
    assert conn.execute("SELECT value FROM schema_info WHERE key = 'version'").fetchone()[0] == str(va_db.SCHEMA_VERSION)


WRITER_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
from test_db import _log
from va_db import connect
conn = connect({db!r})
for b in range({batches}):
    _log(conn, {offset} + b * 20, 20)
print("done")
"""


def test_two_processes_log_at_once(tmp_path):
    """Two writer processes on one library, interleaving 25 transactions each: both succeed."""
    db = tmp_path / "c.db"
    connect(db).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"),
                                                                          db=str(db), batches=25, offset=off)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for off in (0, 100_000)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    conn = connect(db)
    c = counts(conn)
    assert c["audio_files"] == c["predictions"] == c["features"] == 2 * 25 * 20
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_backup_of_a_live_library(tmp_path):
    import log_predictions_to_db
    db = tmp_path / "live.db"
    conn = connect(db)
    _log(conn, 0, 30)
    writer = connect(db)
    writer.execute("BEGIN IMMEDIATE")                      # another writer is mid-transaction during the copy
    assert log_predictions_to_db.main(["--db", str(db), "--backup", str(tmp_path / "copy.db"), "-q"]) == 0
    writer.rollback()
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT COUNT(*) FROM audio_files").fetchone()[0] == 30
    assert log_predictions_to_db.main(["--db", str(db), "--backup", str(db), "-q"]) == 2   # never onto itself
