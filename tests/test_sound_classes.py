"""What a sound is, end to end: known answers on synthetic audio through the CSVs, the
database, query_library.py --class/--domain/--sort, the map payload, and the shipped
models' hand-over to the lexicon prior for sounds that are neither speech nor music."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import predict_new_audio
import query_library
import va_yamnet as Y
from conftest import ROOT, write_sound
from essentia_engine import DEFAULT_CONFIG, feature_names
from va_utils import EmoTagError

KINDS = ("siren", "alarm", "noise_burst", "drone", "rain", "silence")


@pytest.fixture(scope="module")
def demo_library(tmp_path_factory):
    """Six demo kinds predicted by the shipped models, in CSVs and in a library."""
    d = tmp_path_factory.mktemp("what")
    for i, kind in enumerate(KINDS):
        write_sound(d / "audio" / f"{i}_{kind}.wav", kind, seconds=4.0, seed=i)
    assert predict_new_audio.main([str(d / "audio"), "--out-dir", str(d / "csv"), "-q", "--no-cache"]) == 0
    db = d / "lib.db"
    assert predict_new_audio.main([str(d / "audio"), "--db", str(db), "--out-dir", str(d / "lib"), "-q",
                                   "--no-cache"]) == 0
    pred = pd.read_csv(d / "csv" / "new_audio_predicted_va.csv")
    pred["kind"] = [p.split("_", 1)[1].rsplit(".", 1)[0] for p in pred["path"].map(lambda s: s.split("/")[-1])]
    return d, db, pred.set_index("kind")


def test_csv_carries_domain_and_top_classes(demo_library):
    _, _, pred = demo_library
    assert {"domain", "sound_classes", "in_domain", "valence_low", "arousal_high"} <= set(pred.columns)
    assert pred.loc["silence", "domain"] == "other"
    assert pred.loc["silence", "sound_classes"].startswith("Silence 1.00")
    assert "Rain" in pred.loc["rain", "sound_classes"]
    assert "Siren" in pred.loc["siren", "sound_classes"] and "Alarm" in pred.loc["alarm", "sound_classes"]
    assert all(len(s.split("; ")) == Y.TOP_K for s in pred["sound_classes"])


def test_the_shipped_models_hear_alarms_as_more_aroused_than_calm_sounds(demo_library):
    """The demo's check by ear: siren, alarm and noise burst above drone and silence. (The synthetic
    rain, a dense broadband noise, is heard as aroused since the models read the acoustics of
    every sound: what it sounds like, not only that YAMNet calls it rain.)"""
    _, _, pred = demo_library
    a = pred["arousal"]
    assert min(a["siren"], a["alarm"], a["noise_burst"]) > max(a["drone"], a["silence"]), a.to_dict()


def test_library_query_by_class_domain_and_sort(demo_library, capsys):
    _, db, _ = demo_library
    assert query_library.main(["--db", str(db), "--class", "rain", "--format", "csv"]) == 0
    out = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert len(out) == 1 and out["path"][0].endswith("_rain.wav") and "Rain" in out["sound_classes"][0]
    assert query_library.main(["--db", str(db), "--domain", "other", "--sort", "arousal", "--format", "csv"]) == 0
    out = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert set(out["domain"]) == {"other"} and list(out["arousal"]) == sorted(out["arousal"], reverse=True)
    assert query_library.main(["--db", str(db), "--class", "Rian"]) != 0
    err = capsys.readouterr().err
    assert "did you mean 'Rain'" in err and len(err.strip().splitlines()) == 1
    from va_query import find, open_library
    conn = open_library(db)
    try:
        assert [r["path"].endswith("_silence.wav") for r in find(conn, classes=["Silence"], limit=None)] == [True]
        assert find(conn, classes=["Silence", "Rain"], limit=None) == []          # all must hold
        with pytest.raises(EmoTagError, match="domain must be"):
            find(conn, domain="noise")
        n = conn.execute("SELECT COUNT(*) FROM sound_classes").fetchone()[0]
        assert n == len(KINDS) * Y.TOP_K
    finally:
        conn.close()


def test_map_payload_has_classes_and_domains(demo_library):
    import sqlite3

    from va_mapview import library_payload
    d, db, _ = demo_library
    conn = sqlite3.connect(db)
    try:
        p = library_payload(conn, d)
    finally:
        conn.close()
    rain = [i for i, n in enumerate(p["name"]) if n.endswith("_rain.wav")][0]
    assert "Rain" in p["classes"][rain] and p["domain"][rain] == "other"
    assert len(p["classes"]) == len(p["domain"]) == p["n"] == len(KINDS)


def test_sound_va_hands_over_to_the_prior_outside_speech_and_music():
    from va_models import SoundVA
    names = list(feature_names(DEFAULT_CONFIG))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, len(names)))
    sc = Y.score_columns(names)
    X[:, sc] = 0.0
    X[:, sc[132]] = 0.9                                        # all "Music": the training domain
    y = np.tanh(X[:, 0])
    m = SoundVA(tuple(names), target="arousal").fit(X, y)
    np.testing.assert_allclose(m.predict(X[:5]), m.model_.predict(X[:5]))     # music: the stack alone
    Z = X[:5].copy()
    Z[:, sc] = 0.0
    Z[:, sc[494]] = 1.0                                       # only "Silence": the prior alone
    np.testing.assert_allclose(m.predict(Z), Y.lexicon_prior(Z[:, sc])[:, 1])
    assert np.abs(SoundVA(tuple(names), target=None).fit(X, y).predict(Z)
                  - m.model_.predict(Z)).max() < 1e-12         # descriptor models: no prior


def test_yamnet_group_is_shipped_with_its_licence():
    assert (ROOT / "models" / "yamnet" / "LICENSE").is_file() and Y.MODEL_FILE.is_file()
    import json
    meta = json.loads((ROOT / "models" / "trained_arousal_model.json").read_text())
    from va_models import DEFAULT_RECIPES
    assert meta["extractor"]["yamnet"] is True and meta["recipe"] == DEFAULT_RECIPES["regression"]
    assert any(n.startswith("yamnet.embedding.") for n in meta["feature_names"])


def test_domains_of_the_training_corpora():
    """YAMNet's coarse domain on the shipped tables: RAVDESS is speech, Emotify is music (the vocal
    gate calls a few acted sentences vocal bursts)."""
    cols = [f"yamnet.score.{i}" for i in range(Y.N_CLASSES)]
    df = pd.read_csv(ROOT / "data" / "out_Valence.csv.gz", usecols=["corpus"] + cols)
    dom = pd.Series([Y.domain(s) for s in df[cols].to_numpy(float)])
    share = pd.crosstab(df["corpus"], dom, normalize="index")
    assert share.loc["ravdess", "speech"] >= 0.95 and share.loc["emotify", "music"] >= 0.98, share


def test_the_speech_emotion_classifier_is_not_asked_about_sound_effects(demo_library):
    _, _, pred = demo_library
    assert set(pred["emotion_source"]) == {"va-nearest"}, pred["emotion_source"].to_dict()
