"""Emotion over time: segment features, per-window predictions, the segments table,
moments and timelines, on synthetic audio and synthetic libraries with known answers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import log_predictions_to_db
import predict_new_audio
import query_library
from essentia_engine import DEFAULT_CONFIG, analyse_segments, feature_names
from va_db import connect, log_batch, log_segments, register_model
from va_query import moments, open_library, to_audacity, to_markers

SR = 22050


def quiet_then_loud(seconds_each=10, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([0.01 * rng.standard_normal(seconds_each * SR),
                           0.5 * rng.standard_normal(seconds_each * SR)]).astype(np.float32)


def test_window_grid_and_a_known_change():
    y = quiet_then_loud()
    starts, ends, X = analyse_segments(iter([y[i:i + 40000] for i in range(0, y.size, 40000)]), window=3, hop=1)
    assert np.array_equal(starts, np.arange(18.0)) and np.array_equal(ends, starts + 3)
    assert X.shape == (18, len(feature_names(DEFAULT_CONFIG))) and np.isfinite(X).all()
    rms = X[:, feature_names(DEFAULT_CONFIG).index("lowLevel.spectral_rms.mean")]
    quiet, loud = rms[starts + 3 <= 10], rms[starts >= 10]
    assert quiet.max() * 10 < loud.min()                      # 34 dB apart in the signal
    assert np.all(np.diff(rms[6:11]) > 0)                     # rising while windows cross the change


def test_shorter_than_one_window_gives_one_window():
    y = quiet_then_loud(1)
    starts, ends, X = analyse_segments(iter([y]), window=3, hop=1)
    assert starts.tolist() == [0.0] and ends.tolist() == [pytest.approx(2.0)] and X.shape[0] == 1


def test_predict_segments_csv_and_database(tmp_path, trained_models):
    models, _ = trained_models
    d = tmp_path / "audio"
    d.mkdir()
    sf.write(d / "change.wav", quiet_then_loud(), SR)
    sf.write(d / "short.wav", quiet_then_loud(1), SR)
    out, out_plain = tmp_path / "out", tmp_path / "plain"
    assert predict_new_audio.main([str(d), "--models-dir", str(models), "--out-dir", str(out), "--segments", "3", "1",
                                   "--no-cache", "-q"]) == 0
    assert predict_new_audio.main([str(d), "--models-dir", str(models), "--out-dir", str(out_plain),
                                   "--no-cache", "-q"]) == 0
    seg = pd.read_csv(out / "new_audio_segments.csv")
    change = seg[seg["path"].str.endswith("change.wav")]
    assert change["start"].tolist() == list(np.arange(18.0)) and (change["end"] - change["start"] == 3).all()
    assert len(seg[seg["path"].str.endswith("short.wav")]) == 1
    assert seg[["valence", "arousal"]].abs().le(1).all().all()
    assert {"emotion_label", "emotion_source", "top_descriptor", "soothing"} <= set(seg.columns)
    # the file-level values stay as they are
    for name in ("new_audio_predicted_va.csv", "new_audio_features_raw.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(out / name), pd.read_csv(out_plain / name))
    db = tmp_path / "lib.db"
    for _ in range(2):                                        # logging twice changes nothing
        assert log_predictions_to_db.main(["--in-dir", str(out), "--models-dir", str(models), "--db", str(db),
                                           "-q"]) == 0
    c = connect(db)
    assert c.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == len(seg) == 19
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    c.close()
    assert (out / "timelines" / "change.png").is_file() and (out / "timelines" / "change.svg").is_file()


@pytest.fixture
def segment_library(tmp_path):
    """Two files with known per-window arousal: calm, 6 windows of high arousal, calm."""
    db = tmp_path / "m.db"
    conn = connect(db)
    with conn:
        vm = register_model(conn, "v" * 64, {"name": "v"})
        am = register_model(conn, "a" * 64, {"name": "a"})
    files = pd.DataFrame({"sha256": ["a" * 64, "b" * 64], "path": ["/lib/scene.wav", "/lib/calm.wav"]})
    log_batch(conn, files=files, predictions=pd.DataFrame({"valence": [0.0, 0.1], "arousal": [0.1, -0.5]}),
              model_ids=(vm, am))
    ar = [-0.5] * 10 + [0.8] * 6 + [-0.5] * 4
    seg = pd.DataFrame({"sha256": ["a" * 64] * 20 + ["b" * 64] * 20, "path": ["/lib/scene.wav"] * 20 + ["/lib/calm.wav"] * 20,
                        "start": list(range(20)) * 2, "end": [s + 3 for s in range(20)] * 2,
                        "valence": 0.2, "arousal": ar + [-0.6] * 20, "emotion_label": "calm",
                        "emotion_confidence": 0.5, "emotion_source": "va-nearest", "top_descriptor": "calm",
                        "calm": 0.7})
    log_segments(conn, (vm, am), seg, ["calm"])
    conn.close()
    return db


def test_moments_known_span_and_exports(segment_library, capsys):
    conn = open_library(segment_library)
    found = moments(conn, arousal_above=0.5, min_duration=4)
    assert [(m["path"], m["start"], m["end"]) for m in found] == [("/lib/scene.wav", 11.0, 17.0)]
    assert found[0]["arousal"] == pytest.approx(0.8)
    assert moments(conn, arousal_above=0.5, min_duration=7) == []
    assert len(moments(conn, arousal_below=-0.55)) == 1           # the calm file, all of it
    assert to_markers(found).splitlines() == ["name,start,end", "scene.wav,11.000,17.000"]
    assert to_audacity(found).split("\t")[:2] == ["11.000000", "17.000000"]
    assert query_library.main(["--db", str(segment_library), "--moments", "--arousal-above", "0.5",
                               "--min-duration", "4", "--format", "markers"]) == 0
    assert "scene.wav,11.000,17.000" in capsys.readouterr().out
    assert query_library.main(["--db", str(segment_library), "--arousal-above", "0.5"]) == 2   # needs --moments


def test_recommend_fits_the_reference(tmp_path, trained_models, capsys):
    """A quieter copy of a library file recommends that file first; --for, --segment, formats."""
    import recommend
    import va_query
    from synth_audio import synthesize
    from va_library import analyse_library
    models, _ = trained_models
    lib = tmp_path / "lib"
    kinds = ["drone", "chime", "noise_burst", "siren", "rain", "heartbeat", "major_chord", "alarm"]
    for i, kind in enumerate(kinds):
        folder = lib / ("music" if kind.endswith("chord") else "sfx")
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"{kind}.wav", synthesize(kind, seconds=3.0, sr=SR, seed=i), SR)
    db = tmp_path / "l.db"
    analyse_library([str(lib)], db=db, models_dir=models, cache_dir=None)
    ref = tmp_path / "take.wav"
    sf.write(ref, 0.7 * synthesize("siren", seconds=3.0, sr=SR, seed=3), SR)
    conn = open_library(db)
    r = recommend.analyse_reference(ref, models)
    got = va_query.recommend(conn, r, limit=3)
    assert got[0]["path"].endswith("siren.wav") and len(got) == 3
    assert [g["distance"] for g in got if g["same_label"]] == sorted(g["distance"] for g in got if g["same_label"])
    music = va_query.recommend(conn, r, kind="music", limit=5)
    assert {g["path"].rsplit("/", 1)[1] for g in music} == {"major_chord.wav"}
    assert all("/sfx/" in g["path"] for g in va_query.recommend(conn, r, kind="sfx", limit=10))
    own = va_query.recommend(conn, recommend.analyse_reference(lib / "sfx" / "rain.wav", models), limit=10,
                              exclude_sha=__import__("va_utils").sha256_file(lib / "sfx" / "rain.wav"))
    assert not any(g["path"].endswith("rain.wav") for g in own)
    conn.close()
    assert recommend.main([str(ref), "--db", str(db), "--models-dir", str(models), "--segment", "0.5", "2.5",
                           "--limit", "2", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "[0.5-2.5 s]" in out.err and len(__import__("json").loads(out.out)) == 2
    assert recommend.main([str(ref), "--db", str(db), "--models-dir", str(models), "--segment", "9", "12"]) == 2


def test_timeline_draws_the_windows_and_their_words(tmp_path):
    from va_plotter import plot_timeline
    seg = pd.DataFrame({"start": np.arange(8.0), "end": np.arange(8.0) + 3, "valence": np.linspace(-0.5, 0.5, 8),
                        "arousal": [-0.6] * 4 + [0.7] * 4, "top_descriptor": ["calm"] * 4 + ["tense"] * 4})
    out = plot_timeline(seg, tmp_path / "t", title="scene")
    svg = (tmp_path / "t.svg").read_text()
    assert out == tmp_path / "t.png" and out.stat().st_size > 5000
    assert "calm" in svg and "tense" in svg and "scene" in svg      # the band's words and the title
    assert svg.count("<path") > 10
