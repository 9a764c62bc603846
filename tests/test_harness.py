"""The evaluation harness on tiny synthetic corpora: shared grouped folds, known-answer
metrics, the peer stand-in, the dropout MLP and the whole evaluate_models.py run."""
import numpy as np
import pandas as pd
import pytest

import evaluate_models
from va_analyzer import nearest_category
from va_benchmark import Corpus, PeerCalibrated, System, Task, run_combined, run_system, score_fold
from va_evaluation import classification_metrics, confusion, fixed_folds, oof_predict
from va_models import DEFAULT_RECIPES, ClassifierVA, DropoutMLP, EnergyLog, make_model
from va_utils import EmoTagError
from conftest import write_sound


# ------------------------------------------------------------------ metrics: known answers
def test_classification_metrics_known_answers():
    y = np.array(["a", "a", "a", "a", "b", "b"])
    yhat = np.array(["a", "a", "a", "b", "b", "a"])
    m = classification_metrics(y, yhat)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["uar"] == pytest.approx((3 / 4 + 1 / 2) / 2)  # mean of per-class recalls
    cm = confusion(y, yhat, ["a", "b"])
    assert cm.tolist() == [[3, 1], [1, 1]]
    # a majority-class predictor has UAR 1/K whatever the imbalance
    assert classification_metrics(y, np.array(["a"] * 6))["uar"] == pytest.approx(0.5)


def test_hilo_accuracy_known_answer():
    task = Task("ravdess", "arousal", "regression", ("r", "hilo_accuracy"))
    s = score_fold(task, np.array([-0.5, -0.2, 0.3, 0.6]), np.array([-0.1, 0.1, 0.2, -0.3]))
    assert s["hilo_accuracy"] == pytest.approx(0.5) and set(s) == {"r", "hilo_accuracy"}


def test_nearest_category_known_answers():
    from va_data_loader import load_lexicon, word_coords
    lex = load_lexicon()
    calm, angry = word_coords(lex, ["calm", "angry"])
    out = nearest_category([calm[0], angry[0]], [calm[1], angry[1]], lexicon=lex)
    assert out["emotion_label"].tolist() == ["calm", "angry"]
    assert out["emotion_confidence"].between(0, 1).all()
    far = nearest_category([calm[0]], [calm[1]], lexicon=lex, sigma=0.01)
    assert far["emotion_confidence"].iloc[0] == pytest.approx(1.0)


# ------------------------------------------------------------------ folds
def _synthetic(n_groups=10, per=12, seed=0):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"g{i}" for i in range(n_groups)], per)
    X = rng.standard_normal((groups.size, 6))
    y_reg = 0.8 * X[:, 0] + 0.1 * rng.standard_normal(groups.size)
    y_cls = np.where(X[:, 1] > 0, "up", "down")
    return X, y_reg, y_cls, groups


def test_fixed_folds_are_grouped_and_partition_the_data():
    _, _, _, groups = _synthetic(n_groups=13, per=7)
    folds = fixed_folds(groups, 5, seed=3)
    assert len(folds) == 5
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen.tolist()) == list(range(groups.size))  # every row tested exactly once
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])
        assert tr.size + te.size == groups.size
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, fixed_folds(groups, 5, seed=3)))  # reproducible


def test_oof_predict_refuses_leaky_folds_and_learns_a_signal():
    X, y, labels, groups = _synthetic()
    leaky = [(np.arange(0, 100), np.arange(90, 120))]
    with pytest.raises(EmoTagError, match="both sides"):
        oof_predict(*make_model("svm", "regression", []), X, y, groups, leaky)
    folds = fixed_folds(groups, 4)
    oof, params = oof_predict(*make_model("svm", "regression", []), X, y, groups, folds, inner_folds=2)
    assert np.corrcoef(oof, y)[0, 1] > 0.8 and len(params) == 4 and "model__C" in params[0]
    oof, _, P = oof_predict(*make_model("linear", "classification", []), X, labels, groups, folds, inner_folds=2,
                            scoring="balanced_accuracy", proba=True)
    assert classification_metrics(labels, oof)["uar"] > 0.8
    assert np.allclose(P.sum(axis=1), 1)


def test_every_system_is_scored_on_the_same_folds():
    X, y, labels, groups = _synthetic()
    table = pd.DataFrame({"group": groups, "valence": y, "arousal": -y, "emotion": labels})
    folds = fixed_folds(groups, 3)
    corpus = Corpus("ravdess", table, {"ours": (X, [f"f{i}" for i in range(6)]), "b": (X[:, :3], ["x", "y", "z"])},
                    folds)
    task = Task("ravdess", "valence", "regression", ("r", "r2"))
    systems = [System("s1", "one", "ours", lambda t, n: make_model("svm", t.kind, n)),
               System("s2", "two", "b", lambda t, n: make_model("linear", t.kind, n)),
               System("s3", "absent", "zzz", lambda t, n: make_model("svm", t.kind, n))]
    rows = [run_system(corpus, task, s, inner_folds=2) for s in systems]
    assert rows[2] is None  # its features are missing: skipped, not failed
    a, b = rows[0][0], rows[1][0]
    assert a["fold"].tolist() == b["fold"].tolist() and a["n"].tolist() == b["n"].tolist()
    assert a["n"].groupby(a["fold"]).first().tolist() == [te.size for _, te in folds]
    comb, _ = run_combined([corpus], "valence", inner_folds=2)
    assert set(comb["system"]) == {"ours_shipped"} and comb["fold"].nunique() == 3


def test_classifier_va_maps_posteriors_to_coordinates():
    X, _, labels, groups = _synthetic()
    coords = {"up": (0.5, 0.9), "down": (-0.5, -0.9)}
    clf, grid = make_model("linear", "classification", [])
    est = ClassifierVA(clf, coords, dim=1, grid=grid).fit(X, labels, groups=groups)
    pred = est.predict(X)
    assert pred.min() >= -0.9 - 1e-9 and pred.max() <= 0.9 + 1e-9
    assert np.corrcoef(pred, X[:, 1])[0, 1] > 0.8


def test_peer_calibration_picks_the_output_and_sign_that_fit():
    rng = np.random.default_rng(0)
    target = rng.standard_normal(200)
    X = np.column_stack([rng.standard_normal(200), 5 - 2 * target + 0.1 * rng.standard_normal(200)])
    p = PeerCalibrated([0, 1]).fit(X, target)
    assert p.column_ == 1 and p.coef_[0] < 0
    assert np.corrcoef(p.predict(X), target)[0, 1] > 0.99


def test_dropout_mlp_learns_and_is_seeded():
    X, y, labels, _ = _synthetic(n_groups=20)
    reg = DropoutMLP(kind="regression", hidden=(16,), epochs=60, seed=1).fit(X, y)
    assert np.corrcoef(reg.predict(X), y)[0, 1] > 0.9
    again = DropoutMLP(kind="regression", hidden=(16,), epochs=60, seed=1).fit(X, y)
    assert np.array_equal(reg.predict(X), again.predict(X))
    clf = DropoutMLP(kind="classification", hidden=(16,), epochs=60, dropout=0.2).fit(X, labels)
    assert (clf.predict(X) == labels).mean() > 0.85 and np.allclose(clf.predict_proba(X).sum(axis=1), 1)


def test_energy_log_compresses_only_energy_columns():
    names = ["lowLevel.barkbands.mean.0", "lowLevel.spectral_centroid.mean", "lowLevel.barkbands_kurtosis.mean"]
    X = np.array([[100.0, 100.0, 100.0]])
    out = EnergyLog(tuple(names)).fit(X).transform(X)
    assert out.tolist() == [[pytest.approx(2.0), 100.0, 100.0]]
    from va_models import RECIPES
    assert DEFAULT_RECIPES["regression"] in RECIPES and DEFAULT_RECIPES["classification"] in RECIPES


# ------------------------------------------------------------------ the whole script
EMOS = {1: "drone", 2: "chime", 3: "chime", 4: "drone", 5: "alarm", 6: "siren", 7: "alarm", 8: "siren"}


@pytest.fixture
def tiny_corpora(tmp_path):
    """A RAVDESS-layout folder (6 actors x 8 emotions) and an Emotify-layout folder (12 tracks)."""
    rav = tmp_path / "ravdess"
    for actor in range(1, 7):
        for emo, kind in EMOS.items():
            write_sound(rav / f"Actor_{actor:02d}" / f"03-01-{emo:02d}-01-01-01-{actor:02d}.wav", kind,
                        seconds=0.6, seed=actor * 10 + emo)
    emo_dir = tmp_path / "emotify"
    rng = np.random.default_rng(0)
    rows = []
    for i, tid in enumerate(range(3, 39, 3)):
        kind = ["drone", "alarm", "chime", "siren"][i % 4]
        write_sound(emo_dir / "classical" / f"{tid}.ogg", kind, seconds=1.0, seed=tid)
        shares = rng.uniform(0.05, 0.6, 9)
        rows.append([tid, "classical", f"classical/{tid}.ogg", 20, *shares])
    from va_data_loader import GEMS
    pd.DataFrame(rows, columns=["track_id", "genre", "file", "n_listeners", *GEMS]).to_csv(emo_dir / "labels.csv",
                                                                                            index=False)
    return rav, emo_dir


def test_evaluate_models_quick_on_tiny_corpora(tmp_path, tiny_corpora, capsys):
    rav, emo = tiny_corpora
    out = tmp_path / "docs"
    code = evaluate_models.main(["--quick", "--ravdess", str(rav), "--emotify", str(emo), "--out-dir", str(out),
                                 "--peer-python", str(tmp_path / "no-such-python"), "--inner-folds", "2", "-q"])
    assert code == 0
    text = (out / "RESULTS.md").read_text()
    assert "python evaluate_models.py --quick" in text and "Library versions" in text
    assert "baseline (d)" in text and "no interpreter" in text  # skipped with its reason, not failed
    scores = pd.read_csv(out / "results_scores.csv")
    for system in ("ours", "ours_shipped", "a"):
        assert system in set(scores["system"])
    rav_scores = scores[scores["corpus"] == "ravdess"]
    assert set(rav_scores["metric"]) >= {"uar", "accuracy", "r", "r2", "ccc", "hilo_accuracy"}
    # all systems were scored on the same folds: identical test sizes per fold
    sizes = rav_scores.groupby(["system", "fold"])["n"].first().unstack()
    assert (sizes.nunique(axis=0) == 1).all()
    summary = pd.read_csv(out / "results_summary.csv")
    assert summary["folds"].between(1, 3).all()  # r is undefined (NaN, not counted) on a constant prediction
    ours = summary[summary["system"] == "ours"]
    assert (ours.loc[ours["metric"].isin(["uar", "accuracy", "r2"]), "folds"] == 3).all()
    assert (out / "figures" / "confusion_ravdess.png").stat().st_size > 5_000


def test_evaluate_models_without_corpora_fails_cleanly(tmp_path, capsys):
    code = evaluate_models.main(["--ravdess", str(tmp_path / "x"), "--emotify", str(tmp_path / "y"), "-q"])
    assert code == 2 and "no corpus found" in capsys.readouterr().err


def test_clip_bounds_standardised_features_and_the_stack_extrapolation():
    from va_models import Clip, make_model
    X = np.array([[-10.0, 0.5, 3.0, 7.0]])
    assert np.array_equal(Clip(3.0).fit(X).transform(X), [[-3.0, 0.5, 3.0, 3.0]])
    rng = np.random.default_rng(0)
    names = [f"lowLevel.mfcc.mean.{i}" for i in range(6)]
    Xtr = rng.standard_normal((80, 6))
    y = np.tanh(Xtr[:, 0])
    far = Xtr[:5] * 1e3
    plain, _ = make_model("stack", "regression", names)
    bounded, _ = make_model("stack_clip", "regression", names)
    assert [s for s, _ in bounded.estimators[0][1].steps] == ["log", "scale", "clip", "model"]
    p_plain = plain.fit(Xtr, y).predict(far)
    p_bounded = bounded.fit(Xtr, y).predict(far)
    assert np.abs(p_bounded).max() < 2.0 < np.abs(p_plain).max()          # the linear part no longer runs away
    np.testing.assert_allclose(bounded.predict(Xtr[:20] * 0.1), plain.predict(Xtr[:20] * 0.1), atol=0.15)


def test_peer_runners_write_one_json_line_per_file_and_carry_on(tmp_path):
    import json as _json

    from va_cli import per_file_jsonl
    lst = tmp_path / "paths.txt"
    lst.write_text("a.wav\n\nbroken.wav\nc.wav\n")

    def predict(p):
        if p.startswith("broken"):
            raise ValueError("cannot read\nsecond line")
        return {"valence": 0.5, "arousal": -0.25}

    assert per_file_jsonl(lst, tmp_path / "out.jsonl", predict) == 1
    rows = [_json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["path"] for r in rows] == ["a.wav", "broken.wav", "c.wav"]
    assert rows[0] == {"path": "a.wav", "valence": 0.5, "arousal": -0.25}
    assert rows[1]["error"].startswith("ValueError: cannot read")
