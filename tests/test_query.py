"""query_library.py / va_query: known answers on a synthetic library."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

import query_library
from va_db import connect, log_batch, register_model
from va_query import find, open_library, to_csv, to_json, to_m3u, to_table
from va_utils import EmoTagError

N = 60


@pytest.fixture
def library(tmp_path):
    """60 files on a known VA layout, 3 descriptors with known scores, labels, two folders."""
    rng = np.random.default_rng(1)
    va = rng.uniform(-1, 1, (N, 2)).round(4)
    folders = np.where(np.arange(N) % 2 == 0, "/lib/ambience", "/lib/impacts")
    paths = [f"{f}/f{i:02d}.wav" for i, f in enumerate(folders)]
    labels = np.array(["calm", "tense", "happy"])[np.arange(N) % 3]
    scores = pd.DataFrame({"soothing": (1 - va[:, 1]) / 2, "uneasy": (1 - va[:, 0]) / 2,
                           "bright": rng.uniform(0, 1, N).round(4)})
    db = tmp_path / "q.db"
    conn = connect(db)
    with conn:
        vm = register_model(conn, "v" * 64, {"name": "v", "kind": "va"})
        am = register_model(conn, "a" * 64, {"name": "a", "kind": "va"})
    files = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(N)], "path": paths, "duration": 2.0 + np.arange(N)})
    pred = pd.DataFrame({"valence": va[:, 0], "arousal": va[:, 1], "emotion_label": labels,
                         "emotion_confidence": 0.8, "emotion_source": "va-nearest"})
    log_batch(conn, files=files, predictions=pred, model_ids=(vm, am), scores=scores)
    conn.close()
    truth = pd.DataFrame({"path": paths, "valence": va[:, 0], "arousal": va[:, 1], "label": labels,
                          "folder": folders}).join(scores)
    return db, truth


def test_near_is_the_brute_force_order(library):
    db, t = library
    conn = open_library(db)
    for v, a, k in [(0.5, -0.5, 5), (-1, 1, 7), (0, 0, N)]:
        got = find(conn, near=(v, a), limit=k)
        d = np.hypot(t["valence"] - v, t["arousal"] - a)
        assert [r["path"] for r in got] == list(t["path"].iloc[np.argsort(d.to_numpy(), kind="stable")[:k]])
        assert np.allclose([r["distance"] for r in got], np.sort(d)[:k])


def test_descriptor_thresholds_combine_and_order_by_the_first(library):
    db, t = library
    conn = open_library(db)
    got = find(conn, descriptors=[("soothing", 0.7), ("uneasy", 0.4)], limit=None)
    want = t[(t["soothing"] >= 0.7) & (t["uneasy"] >= 0.4)].sort_values(["soothing", "path"], ascending=[False, True])
    assert [r["path"] for r in got] == list(want["path"]) and len(got) > 0
    assert all(r["soothing"] >= 0.7 and r["uneasy"] >= 0.4 for r in got)


def test_label_under_limit_and_near_together(library):
    db, t = library
    conn = open_library(db)
    got = find(conn, near=(0.2, 0.2), labels=["calm", "happy"], under="/lib/ambience", limit=4)
    sub = t[t["label"].isin(["calm", "happy"]) & (t["folder"] == "/lib/ambience")]
    d = np.hypot(sub["valence"] - 0.2, sub["arousal"] - 0.2).to_numpy()
    assert [r["path"] for r in got] == list(sub["path"].iloc[np.argsort(d, kind="stable")[:4]])
    assert len(find(conn, under="/lib/impacts", limit=None)) == N // 2
    assert len(find(conn, under="/lib/imp", limit=None)) == 0          # a folder, not a name prefix
    assert len(find(conn, limit=3)) == 3


def test_typos_get_did_you_mean_and_injection_is_just_a_name(library):
    db, _ = library
    conn = open_library(db)
    with pytest.raises(EmoTagError, match="did you mean 'soothing'"):
        find(conn, descriptors=[("sothing", 0.5)])
    with pytest.raises(EmoTagError, match="did you mean 'tense'"):
        find(conn, labels=["tnese"])
    with pytest.raises(EmoTagError, match="no descriptor"):
        find(conn, descriptors=[("x'; DROP TABLE predictions; --", 0.1)])
    assert conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == N


def test_formats(library):
    db, _ = library
    conn = open_library(db)
    rows = find(conn, near=(0, 0), descriptors=[("bright", 0.0)], limit=3)
    back = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["path"] for r in back] == [r["path"] for r in rows] and "bright" in back[0]
    assert json.loads(to_json(rows))[0]["path"] == rows[0]["path"]
    m3u = to_m3u(rows).splitlines()
    assert m3u[0] == "#EXTM3U" and m3u[1].startswith("#EXTINF:") and m3u[2] == rows[0]["path"]
    table = to_table(rows).splitlines()
    assert table[0].split()[:3] == ["path", "valence", "arousal"] and len(table) == 2 + 3


def test_cli(library, capsys, tmp_path):
    db, t = library
    code = query_library.main(["--db", str(db), "--descriptor", "soothing", "--min", "0.9", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and {r["path"] for r in rows} == set(t.loc[t["soothing"] >= 0.9, "path"])
    assert query_library.main(["--db", str(db), "--label", "clam"]) == 2
    assert "did you mean 'calm'" in capsys.readouterr().err
    out = tmp_path / "calm.m3u"
    assert query_library.main(["--db", str(db), "--label", "calm", "--format", "m3u", "--out", str(out)]) == 0
    assert out.read_text().count("#EXTINF") == N // 3
    with pytest.raises(SystemExit):
        query_library.main(["--db", str(db), "--min", "0.5"])           # --min without --descriptor
    assert query_library.main(["--db", str(tmp_path / "none.db"), "--near", "0", "0"]) == 2


def test_like_finds_the_closest_sound(tmp_path, trained_models):
    """A 0.8x-gain copy of one file is nearest to that file in feature space."""
    import soundfile as sf

    from synth_audio import synthesize
    from va_library import analyse_library
    from va_query import like
    models, _ = trained_models
    lib = tmp_path / "lib"
    lib.mkdir()
    for i, kind in enumerate(["drone", "chime", "noise_burst", "siren", "rain", "heartbeat"]):
        sf.write(lib / f"{kind}.wav", synthesize(kind, seconds=2.0, sr=22050, seed=i), 22050)
    db = tmp_path / "l.db"
    analyse_library([str(lib)], db=db, models_dir=models, cache_dir=None)
    probe = tmp_path / "probe.wav"
    sf.write(probe, 0.8 * synthesize("chime", seconds=2.0, sr=22050, seed=1), 22050)
    conn = open_library(db)
    rows = like(conn, db, probe, limit=3)
    assert rows[0]["path"].endswith("chime.wav") and len(rows) == 3
    assert rows[0]["feature_distance"] < rows[1]["feature_distance"]
    own = like(conn, db, lib / "rain.wav", limit=10)                    # a library file: itself left out
    assert len(own) == 5 and not any(r["path"].endswith("rain.wav") for r in own)


def test_outputs_never_overwrite_inputs(library):
    db, _ = library
    assert query_library.main(["--db", str(db), "--near", "0", "0", "--out", str(db)]) == 2
    assert open_library(db).execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == N


def test_near_on_a_clustered_library_and_more_than_there_are(tmp_path):
    rng = np.random.default_rng(0)
    conn = connect(tmp_path / "n.db")
    with conn:
        vm = register_model(conn, "v" * 64, {"name": "v", "kind": "va"})
        am = register_model(conn, "a" * 64, {"name": "a", "kind": "va"})
    n = 3000
    va = np.clip(rng.normal(0.3, 0.3, (n, 2)), -1, 1)       # clustered, as real libraries are
    files = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(n)], "path": [f"/lib/{i}.wav" for i in range(n)]})
    log_batch(conn, files=files, predictions=pd.DataFrame(va, columns=["valence", "arousal"]), model_ids=(vm, am))
    for v, a, k in [(0.3, 0.3, 20), (-0.95, 0.9, 20), (1.0, -1.0, 5), (0.0, 0.0, 1)]:
        got = pd.DataFrame(find(conn, near=(v, a), limit=k))
        d = np.hypot(va[:, 0] - v, va[:, 1] - a)
        assert np.allclose(got["distance"], np.sort(d)[:k])
        assert got["path"].iloc[0] == f"/lib/{int(np.argmin(d))}.wav"
    assert len(find(conn, near=(0, 0), limit=n + 10)) == n     # asking for more than there are
    conn.close()
