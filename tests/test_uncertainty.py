"""Saying when it does not know: conformal intervals, the in-domain score, and --confident."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import query_library
from va_db import connect, log_batch, register_model
from va_evaluation import conformal_interval
from va_inference import UNCERTAINTY_COLUMNS, ModelSet, predict_uncertainty


def test_conformal_interval_known_answer():
    rng = np.random.default_rng(0)
    n = 200
    groups = np.repeat(np.arange(20), n // 20)
    y = rng.standard_normal(n)
    oof = y + np.linspace(-1, 1, n)[rng.permutation(n)]          # residuals spread evenly over [-1, 1]
    iv = conformal_interval(y, oof, groups, folds=5, level=0.9)
    res = np.sort(np.abs(y - oof))
    assert iv["halfwidth"] == pytest.approx(res[int(np.ceil(201 * 0.9)) - 1])
    assert 0.8 <= iv["coverage_mean"] <= 1.0 and iv["folds"] == 5 and iv["coverage_std"] >= 0


def test_trained_models_carry_checked_intervals_and_a_domain(trained_models):
    meta = json.loads((trained_models[0] / "trained_arousal_model.json").read_text())
    assert meta["interval"]["level"] == 0.9 and meta["interval"]["halfwidth"] > 0
    assert 0 <= meta["interval"]["coverage_mean"] <= 1
    q = meta["in_domain"]["share_quantiles"]
    assert len(q) == 101 and q == sorted(q)


def test_in_domain_is_high_for_training_like_rows_and_zero_far_away(trained_models, small_tables):
    from va_io import read_training_table
    from essentia_engine import DEFAULT_CONFIG, feature_names
    table, _ = read_training_table(small_tables[1], config=DEFAULT_CONFIG)
    X = table[list(feature_names(DEFAULT_CONFIG))].to_numpy(float)[:10]
    models = ModelSet(trained_models[0])
    pred, _ = models.predict(X)
    from va_inference import CLASS_COLUMNS
    assert list(pred.columns[-7:]) == UNCERTAINTY_COLUMNS + CLASS_COLUMNS
    assert (pred["in_domain"] >= 0.5).mean() >= 0.7          # by construction a few training files are atypical
    hw = models.va_models["arousal"][1]["interval"]["halfwidth"]
    inside = (pred["arousal_low"] <= pred["arousal"]) & (pred["arousal"] <= pred["arousal_high"])
    assert inside.all()
    unclipped = (pred["arousal"] - hw > -1) & (pred["arousal"] + hw < 1)
    assert np.allclose((pred["arousal_high"] - pred["arousal_low"])[unclipped], 2 * hw)
    far, _ = models.predict(X * 1e3 + 1e3)
    assert (far["in_domain"] == 0).all()


def test_models_without_the_metadata_give_nan():
    class Flat:
        def predict(self, X):
            return np.zeros(len(X))
    models = {"valence": (Flat(), {}), "arousal": (Flat(), {})}
    out = predict_uncertainty(models, np.zeros((3, 4)), pd.DataFrame({"valence": [0.0] * 3, "arousal": [0.0] * 3}))
    assert out.shape == (3, 5) and out.isna().all().all()


def _library(path, in_domain):
    conn = connect(path)
    with conn:
        vm = register_model(conn, "v" * 64, {"name": "v", "kind": "va"})
        am = register_model(conn, "a" * 64, {"name": "a", "kind": "va"})
    n = len(in_domain)
    files = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(n)], "path": [f"/lib/f{i}.wav" for i in range(n)]})
    pred = pd.DataFrame({"valence": np.linspace(-0.5, 0.5, n), "arousal": 0.0, "emotion_label": "calm",
                         "emotion_confidence": 0.7, "emotion_source": "va-nearest", "in_domain": in_domain,
                         "valence_low": -1.0, "valence_high": 1.0, "arousal_low": -0.5, "arousal_high": 0.5})
    log_batch(conn, files=files, predictions=pred, model_ids=(vm, am))
    conn.close()


def test_confident_keeps_only_typical_files(tmp_path, capsys):
    db = tmp_path / "l.db"
    _library(db, [0.9, 0.1, 0.5, np.nan, 0.49, 1.0])
    assert query_library.main(["--db", str(db), "--confident", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["path"] for r in rows) == ["/lib/f0.wav", "/lib/f2.wav", "/lib/f5.wav"]
    assert all(r["in_domain"] >= 0.5 for r in rows)
    assert query_library.main(["--db", str(db), "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 6
    conn = connect(db)
    stored = conn.execute("SELECT arousal_low, arousal_high FROM predictions").fetchall()
    assert set(stored) == {(-0.5, 0.5)}
    conn.close()
    assert query_library.main(["--db", str(db), "--confident", "--moments"]) == 2
