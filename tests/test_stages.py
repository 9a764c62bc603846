"""End-to-end: every stage through its main([...]) in a temp folder, checking what it wrote."""
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

import log_predictions_to_db
import predict_batch_descriptor
import predict_descriptor_value
import predict_new_audio
import train_and_visualize_all_descriptors
import train_descriptor_model
import train_emo_model
import va_inference
import va_visualize_descriptors
from essentia_engine import DEFAULT_CONFIG, ExtractorConfig, feature_names
from va_io import load_model, save_model
from va_models import DEFAULT_RECIPES
from conftest import ROOT, write_sound

NAMES = list(feature_names(DEFAULT_CONFIG))


def test_train_emo_model_from_features(trained_models):
    models, out = trained_models
    for t in ("valence", "arousal"):
        pipe, meta = load_model(models / f"trained_{t}_model.joblib", config=DEFAULT_CONFIG)
        assert meta["target"] == t and meta["feature_names"] == NAMES
        assert meta["extractor"]["sample_rate"] == 22050
        assert len(meta["training_data"]["sha256"]) == 64
        assert {"r2", "rmse", "r", "ccc"} <= set(meta["cv"]) and "created" in meta
        assert meta["recipe"] == DEFAULT_RECIPES["regression"] and hasattr(pipe, "predict")
    rep = pd.read_csv(out / "cv_report.csv")
    assert set(rep["metric"]) == {"r2", "rmse", "r", "ccc"} and rep["std"].notna().all()
    assert set(rep["subset"]) == {"all", "ravdess", "emotify"}
    assert (out / "cv_predicted_vs_true.png").stat().st_size > 10_000
    folds = pd.read_csv(out / "cv_folds.csv")
    assert folds["fold"].nunique() == 3
    # the labels beside the tables carry RAVDESS categories: an 8-class classifier is trained too
    clf, meta = load_model(models / "trained_emotion_classifier.joblib", config=DEFAULT_CONFIG)
    assert meta["kind"] == "emotion" and len(meta["classes"]) == 8 and meta["recipe"] == "linear"
    assert 0 <= meta["cv"]["uar"]["mean"] <= 1 and meta["cv"]["uar"]["std"] >= 0
    rep = pd.read_csv(out / "cv_emotion_report.csv")
    assert set(rep["metric"]) == {"uar", "accuracy"} and rep["std"].notna().all()


def test_train_emo_model_from_audio_csv(tmp_path):
    rows = []
    for i in range(12):
        kind = ["drone", "alarm", "chime", "siren"][i % 4]
        write_sound(tmp_path / "a" / f"{i}.wav", kind, seconds=1.0 + 0.05 * i, seed=i)
        rows.append((f"a/{i}.wav", 0.5 if kind in ("drone", "chime") else -0.5,
                     -0.5 if kind in ("drone", "chime") else 0.7, f"src{i // 2}"))
    pd.DataFrame(rows, columns=["file", "valence", "arousal", "group"]).to_csv(tmp_path / "labels.csv", index=False)
    code = train_emo_model.main(["--csv", str(tmp_path / "labels.csv"), "--out-dir", str(tmp_path / "o"),
                                 "--models-dir", str(tmp_path / "m"), "--folds", "3", "--inner-folds", "2", "-q"])
    assert code == 0
    t = pd.read_csv(tmp_path / "o" / "out_Arousal.csv.gz")
    assert len(t) == 12 and list(t.columns[:5]) == ["sha256", "file", "corpus", "group", "arousal"]
    assert list(t.columns[5:]) == NAMES
    assert json.loads((tmp_path / "o" / "out_Arousal.meta.json").read_text())["extractor"]["sample_rate"] == 22050


def test_train_emo_model_rejects_no_data(capsys):
    assert train_emo_model.main(["-q"]) == 2
    assert "no training data" in capsys.readouterr().err


def _predict(tmp_path, models, *paths, quiet=True):
    out = tmp_path / "pred"
    code = predict_new_audio.main([*map(str, paths), "--out-dir", str(out), "--models-dir", str(models)]
                                  + (["-q"] if quiet else []))
    return code, out


def test_predict_new_audio(tmp_path, sound_dir, trained_models):
    code, out = _predict(tmp_path, trained_models[0], sound_dir)
    assert code == 0
    f = pd.read_csv(out / "new_audio_features_raw.csv")
    v = pd.read_csv(out / "new_audio_predicted_va.csv")
    s = pd.read_csv(out / "new_audio_descriptor_scores.csv")
    assert len(f) == len(v) == len(s) == 6
    assert list(f.columns[5:]) == NAMES
    assert v["valence"].between(-1, 1).all() and v["arousal"].between(-1, 1).all()
    assert v["sha256"].str.len().eq(64).all()
    assert v["emotion_label"].isin(["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]).all()
    assert v["emotion_confidence"].between(0, 1).all() and set(v["emotion_source"]) <= {"classifier", "va-nearest"}
    # synthetic tones are unlike the speech the classifier learned from: the VA mapping labels them
    assert (v["emotion_source"] == "va-nearest").sum() >= 4
    code, out3 = _predict(tmp_path / "clf", trained_models[0], sound_dir, "--emotion", "classifier")
    assert code == 0 and set(pd.read_csv(out3 / "new_audio_predicted_va.csv")["emotion_source"]) == {"classifier"}
    code, out2 = _predict(tmp_path / "va", trained_models[0], sound_dir, "--emotion", "va")
    v2 = pd.read_csv(out2 / "new_audio_predicted_va.csv")
    assert code == 0 and set(v2["emotion_source"]) == {"va-nearest"} and v2["emotion_confidence"].between(0, 1).all()
    words = s.columns[2:]
    assert len(words) == 30 and s[words].apply(lambda c: c.between(0, 1)).all().all()
    assert np.allclose(s["soothing"] + s["alarming"], 1)


def test_predict_reports_bad_files_and_carries_on(tmp_path, bad_dir, trained_models, capsys):
    d, good = bad_dir
    code, out = _predict(tmp_path, trained_models[0], d, quiet=False)
    captured = capsys.readouterr()
    err = captured.err
    assert "analysed 2 of 5 files (3 failed" in captured.out
    assert code == 0
    for name in ("corrupt.wav", "empty.wav", "notes.wav", "tiny.wav"):
        assert name in err
    v = pd.read_csv(out / "new_audio_predicted_va.csv")
    assert str(good) in set(v["path"])
    errs = pd.read_csv(out / "new_audio_errors.csv")
    failed = set(errs.loc[errs["severity"] == "error", "path"].map(lambda p: p.split("/")[-1]))
    assert failed == {"corrupt.wav", "empty.wav", "notes.wav"}
    warned = set(errs.loc[errs["severity"] == "warning", "path"].map(lambda p: p.split("/")[-1]))
    assert "tiny.wav" in warned


def test_predict_exits_nonzero_when_nothing_analysed(tmp_path, trained_models, capsys):
    d = tmp_path / "allbad"
    d.mkdir()
    (d / "a.wav").write_bytes(b"")
    (d / "b.mp3").write_text("nope")
    code, out = _predict(tmp_path, trained_models[0], d)
    assert code == 1
    assert len(pd.read_csv(out / "new_audio_errors.csv")) == 2


def test_predict_refuses_model_with_other_extractor_config(tmp_path, sound_dir, trained_models, capsys):
    models = tmp_path / "m"
    for t in ("valence", "arousal"):
        pipe, meta = load_model(trained_models[0] / f"trained_{t}_model.joblib")
        meta["extractor"] = ExtractorConfig(sample_rate=32000).to_dict()
        save_model(pipe, models / f"trained_{t}_model.joblib", metadata=meta)
    code, _ = _predict(tmp_path, models, sound_dir)
    assert code == 2
    assert "running config" in capsys.readouterr().err


@pytest.fixture
def library(tmp_path, sound_dir, trained_models, small_tables):
    """A database holding 6 predicted files plus the small training corpus with labels."""
    models = trained_models[0]
    code, out = _predict(tmp_path, models, sound_dir)
    labels = ROOT / "data" / "out_labels.csv"
    db = tmp_path / "lib.db"
    args = ["--in-dir", str(out), "--models-dir", str(models), "--db", str(db), "--corpus", str(small_tables[0]),
            "--labels", str(labels), "--batch-size", "50", "-q"]
    assert log_predictions_to_db.main(args) == 0
    return db, models, out, args


def _counts(db):
    c = sqlite3.connect(db)
    tables = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = {t: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    c.close()
    return out


def test_log_predictions_to_db(library, small_tables):
    db, models, out, args = library
    n_corpus = len(pd.read_csv(small_tables[0]))
    c = _counts(db)
    assert c["audio_files"] == 6 + n_corpus and c["predictions"] == 6 and c["descriptor_scores"] == 6 * 30
    assert c["models"] == 2 and c["features"] == 6 + n_corpus
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM labels WHERE name = 'calmness'").fetchone()[0] > 0
    assert con.execute("SELECT COUNT(DISTINCT text) FROM labels WHERE name = 'emotion'").fetchone()[0] == 8
    assert con.execute("SELECT name FROM models WHERE target = 'valence'").fetchone()[0] == f"valence_{DEFAULT_RECIPES['regression']}"
    emo = con.execute("SELECT emotion_label, emotion_confidence, emotion_source FROM predictions").fetchall()
    assert len(emo) == 6 and all(e[0] and 0 <= e[1] <= 1 and e[2] in ("classifier", "va-nearest") for e in emo)
    # idempotent: a second run changes no row count and no value
    vals = con.execute("SELECT SUM(valence) FROM predictions").fetchone()
    assert log_predictions_to_db.main(args) == 0
    assert _counts(db) == c
    assert con.execute("SELECT SUM(valence) FROM predictions").fetchone() == vals


def test_log_rejects_mismatched_csvs(library, capsys):
    db, models, out, args = library
    v = pd.read_csv(out / "new_audio_predicted_va.csv").iloc[:-1]
    v.to_csv(out / "new_audio_predicted_va.csv", index=False)
    assert log_predictions_to_db.main(args) == 2
    assert "list different files" in capsys.readouterr().err


def test_descriptor_stages(library, tmp_path, sound_dir, capsys):
    db, models, _, _ = library
    out = tmp_path / "d"
    code = train_descriptor_model.main(["--descriptor", "calmness", "--target", "human", "--db", str(db),
                                        "--models-dir", str(models), "--out-dir", str(out), "--folds", "3",
                                        "--inner-folds", "2", "-q"])
    assert code == 0
    pipe, meta = load_model(models / "descriptors" / "calmness.joblib", config=DEFAULT_CONFIG)
    assert meta["target"] == "human" and meta["training_data"]["n_files"] >= 60
    rep = pd.read_csv(out / "descriptor_cv_calmness.csv")
    assert set(rep["metric"]) == {"r2", "rmse", "r", "ccc"}
    # a typo gets a suggestion
    assert train_descriptor_model.main(["--descriptor", "calmnes", "--target", "human", "--db", str(db),
                                        "--models-dir", str(models), "-q"]) == 2
    assert "did you mean 'calmness'" in capsys.readouterr().err

    code = train_and_visualize_all_descriptors.main(
        ["--db", str(db), "--models-dir", str(models), "--out-dir", str(out), "--labels", "calmness", "tension",
         "--folds", "3", "--inner-folds", "2", "--min-files", "5", "-q"])
    assert code == 0
    summ = pd.read_csv(out / "descriptor_cv_summary.csv")
    assert {"calmness", "tension", "soothing", "alarming"} <= set(summ["descriptor"])
    assert set(summ["target"]) == {"va", "human"}
    assert (out / "descriptor_models_grid.png").is_file()

    csv = tmp_path / "batch.csv"
    code = predict_batch_descriptor.main([str(sound_dir), "--models-dir", str(models), "--db", str(db),
                                          "--out", str(csv), "--log-db", "-q"])
    assert code == 0
    b = pd.read_csv(csv)
    assert len(b) == 6 and {"calmness", "tension", "soothing"} <= set(b.columns)
    assert b["emotion_label"].notna().all() and b["emotion_confidence"].between(0, 1).all()
    assert b["calmness"].between(0, 1).all()
    con = sqlite3.connect(db)
    n = con.execute("SELECT COUNT(*) FROM descriptor_predictions").fetchone()[0]
    assert n == 6 * (len(b.columns) - 5)

    f = sorted(sound_dir.iterdir())[0]
    capsys.readouterr()
    assert predict_descriptor_value.main([str(f), "--models-dir", str(models), "--json",
                                          "--descriptor", "soothing", "calmness", "-q"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert -1 <= res["valence"] <= 1 and set(res["descriptor_scores"]) == {"soothing"}
    assert res["emotion_label"] and 0 <= res["emotion_confidence"] <= 1 and res["emotion_source"] in ("classifier", "va-nearest")
    assert set(res["descriptor_models"]) == {"soothing", "calmness"}
    assert predict_descriptor_value.main([str(f), "--models-dir", str(models)]) == 0
    table = capsys.readouterr().out
    assert "valence" in table and "alarming" in table and "emotion" in table


def test_visualize(library, tmp_path):
    db = library[0]
    out = tmp_path / "fig"
    assert va_visualize_descriptors.main(["--db", str(db), "--out-dir", str(out), "-q"]) == 0
    for name in ("va_plane_library", "va_plane_categories", "va_plane_predicted"):
        assert (out / f"{name}.png").stat().st_size > 20_000 and (out / f"{name}.svg").is_file()


def test_emotion_domain_gate(trained_models, small_tables):
    """Training-like features get the classifier's label; far-off features the VA mapping."""
    from va_io import read_training_table
    clf = va_inference.load_emotion_model(trained_models[0])
    assert clf is not None and clf[1]["domain_gate"]["max_share"] >= 0
    t, _ = read_training_table(small_tables[0], config=DEFAULT_CONFIG)
    X = t[NAMES].to_numpy(float)[:20]
    va = pd.DataFrame({"valence": np.zeros(20), "arousal": np.zeros(20)})
    inside = va_inference.predict_emotion(clf, X, va)
    assert set(inside["emotion_source"]) == {"classifier"} and inside["emotion_confidence"].between(0, 1).all()
    outside = va_inference.predict_emotion(clf, X * 1e3 + 1e3, va)
    assert set(outside["emotion_source"]) == {"va-nearest"}
    assert set(va_inference.predict_emotion(clf, X * 1e3 + 1e3, va, source="classifier")["emotion_source"]) \
        == {"classifier"}
