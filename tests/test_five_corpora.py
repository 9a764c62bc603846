"""The five-corpus pool: loaders of Sievers, EmoGator and Sonancia targets, the vocal domain and
gate, the AcousticVA recipe (acoustics count for every domain), burst labels, domain intervals,
and the five-corpus harness's scoring on made-up data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import va_yamnet as Y
from conftest import write_sound
from essentia_engine import DEFAULT_CONFIG, feature_names
from va_data_loader import (EMOGATOR_WORDS, corpus_of_group, load_corpus, load_emogator, load_lexicon, load_sievers,
                            pair_scores)
from va_utils import BadLabelError

NAMES = list(feature_names(DEFAULT_CONFIG))
SC = Y.score_columns(NAMES)


def _sievers(tmp_path, rows):
    d = tmp_path / "sievers"
    (d / "sounds").mkdir(parents=True)
    for r in rows:
        write_sound(d / "sounds" / r["file"], "chime", seconds=0.5)
    pd.DataFrame(rows).to_csv(d / "labels.csv", index=False)
    return d


def test_sievers_arousal_from_the_share_of_high_choices(tmp_path):
    d = _sievers(tmp_path, [{"file": "b0_LFO0.flac", "bin": 0, "method": "LFO", "stim": "LFO0", "p_high_arousal": 0.25},
                            {"file": "b1_LFO0.flac", "bin": 1, "method": "LFO", "stim": "LFO0", "p_high_arousal": 1.0},
                            {"file": "b0_SAW3.flac", "bin": 0, "method": "SAW", "stim": "SAW3", "p_high_arousal": 0.0}])
    df = load_sievers(d)
    assert list(df["arousal"]) == [-0.5, 1.0, -1.0]
    assert df["valence"].isna().all()                                 # no valence judged
    assert list(df["group"]) == ["stimLFO0", "stimLFO0", "stimSAW3"]  # a stimulus across bins is one group
    assert set(df["corpus"]) == {"sievers"} and all(corpus_of_group(g) == "sievers" for g in df["group"])


def test_sievers_bad_share_names_the_line(tmp_path):
    d = _sievers(tmp_path, [{"file": "a.flac", "bin": 0, "method": "LFO", "stim": "a", "p_high_arousal": 1.5}])
    with pytest.raises(BadLabelError, match=r"labels.csv, line 2: p_high_arousal"):
        load_sievers(d)


def test_emogator_targets_are_the_lexicon_coordinates_of_the_category(tmp_path):
    d = tmp_path / "emogator"
    rows = []
    for contributor in (1, 2):
        for cat_id, cat in ((2, "Amusement"), (15, "Fear"), (23, "Romantic Love")):
            for inst in (1, 2):
                f = f"{contributor:06d}-{cat_id:02d}-{inst}.ogg"
                rows.append({"file": f, "contributor": contributor, "category_id": cat_id, "category": cat,
                             "instance": inst, "duration": 1.0})
    (d / "sounds").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(d / "labels.csv", index=False)
    lex = load_lexicon()
    df = load_emogator(d, lexicon=lex)
    assert len(df) == 12 and df["group"].nunique() == 2 and set(df["corpus"]) == {"emogator"}
    fear = df[df["burst_emotion"] == "fear"].iloc[0]
    assert (fear["valence"], fear["arousal"]) == pytest.approx(tuple(lex.loc["fear", ["valence", "arousal"]]))
    love = df[df["burst_emotion"] == "romantic love"].iloc[0]
    assert love["valence"] == pytest.approx(lex.loc[["romantic", "love"], "valence"].mean())
    assert fear["valence"] < 0 < df[df["burst_emotion"] == "amusement"]["valence"].iloc[0]
    assert len(load_corpus("emogator", d, lexicon=lex, instances=[1])) == 6          # first takes only


def test_every_emogator_word_is_in_the_shipped_lexicon():
    lex = load_lexicon()
    missing = [w for words in EMOGATOR_WORDS.values() for w in words if w not in lex.index]
    assert not missing and len(EMOGATOR_WORDS) == 30


def test_pair_scores_order_the_clips_as_the_crowd_did():
    pairs = pd.DataFrame({"preferred": ["a", "a", "b", "a", "b", "c"], "unpreferred": ["b", "c", "c", "d", "d", "d"]})
    s = dict(zip("abcd", pair_scores(list("abcd"), pairs)))
    assert s["a"] == 1.0 and s["d"] == -1.0 and s["a"] > s["b"] > s["c"] > s["d"]


def test_corpus_of_group():
    assert [corpus_of_group(g) for g in ("actor01", "track107", "stimLFO0", "contributor001", "10_1_C1_20", "x")] == \
        ["ravdess", "emotify", "sievers", "emogator", "sonancia", "other"]


# ------------------------------------------------------------------ the vocal domain
def _scores(speech=0.0, music=0.0, laugh=0.0, scream=0.0, rain=0.0):
    s = np.zeros(Y.N_CLASSES)
    s[0], s[132], s[13], s[11], s[289] = speech, music, laugh, scream, rain
    return s


def test_vocal_gate_learns_bursts_from_speech(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    speech = np.array([_scores(speech=rng.uniform(0.6, 1.0), laugh=rng.uniform(0, 0.02)) for _ in range(60)])
    bursts = np.array([_scores(speech=rng.uniform(0.2, 0.6), laugh=rng.uniform(0.2, 0.8)) for _ in range(60)])
    S = np.vstack([speech, bursts])
    gate = Y.fit_vocal_gate(S, np.r_[np.zeros(60), np.ones(60)], np.repeat(np.arange(12), 10))
    assert gate["cv"]["bursts_called_vocal"] > 0.9 and gate["cv"]["speech_called_vocal"] < 0.1
    import json
    p = tmp_path / "vocal_gate.json"
    p.write_text(json.dumps(gate))
    monkeypatch.setattr(Y, "VOCAL_GATE", p)
    Y._gate.cache_clear()
    try:
        assert Y.domain(_scores(speech=0.9)) == "speech"
        assert Y.domain(_scores(speech=0.4, laugh=0.6)) == "vocal"
        assert Y.domain(_scores(music=0.8, speech=0.1)) == "music"
        assert Y.domain(_scores(rain=0.9)) == "other"
        sh = Y.domain_shares(np.vstack([_scores(speech=0.9), _scores(speech=0.4, laugh=0.6), _scores(rain=0.9)]))
        np.testing.assert_allclose(sh.sum(axis=1), 1.0)
        assert sh[0].argmax() == 0 and sh[1].argmax() == 2 and sh[2].argmax() == 3
    finally:
        Y._gate.cache_clear()


def test_shipped_gate_calls_the_shipped_corpora_by_their_domains():
    """On the shipped training tables: most of EmoGator's bursts are vocal (quiet takes that YAMNet
    hears as no voice are "other"), RAVDESS's sentences speech."""
    from conftest import ROOT
    cols = [f"yamnet.score.{i}" for i in range(Y.N_CLASSES)]
    df = pd.read_csv(ROOT / "data" / "out_Arousal.csv.gz", usecols=["corpus"] + cols)
    share = pd.crosstab(df["corpus"], Y.domains(df[cols].to_numpy(float)), normalize="index")
    assert share.loc["emogator", "vocal"] >= 0.78 and share.loc["ravdess", "speech"] >= 0.9, share
    assert share.loc["emogator"].get("speech", 0) < 0.1, share
    assert share.loc["emotify", "music"] >= 0.98 and share.loc["sievers"].get("speech", 0) < 0.05, share


# ------------------------------------------------------------------ AcousticVA
def _table(n=240, seed=0, driver="psy.roughness.mean"):
    """Made-up rows of three corpora: speech, music and "other" sounds (rain), y driven by one feature."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES))) * 0.1
    X[:, SC] = 0.0
    k = NAMES.index(driver)
    X[:, k] = rng.normal(size=n)
    third = n // 3
    X[:third, SC[0]] = 0.9                                   # speech
    X[third:2 * third, SC[132]] = 0.9                        # music
    X[2 * third:, SC[289]] = 0.9                             # rain: "other"
    groups = np.array([f"actor{i % 10:02d}" for i in range(third)] + [f"track{i % 20}" for i in range(third)]
                      + [f"stim{i % 15}" for i in range(n - 2 * third)])
    y = np.tanh(-0.8 * X[:, k]) + 0.05 * rng.normal(size=n)
    return X, y, groups, k


@pytest.mark.parametrize("variant", ["shipped", "domain-aware"])
def test_acoustics_count_for_every_domain(variant):
    """No hand-over: an "other" sound's prediction still follows its acoustics (here the zero-crossing
    rate for the shipped variant, which reads no psy. feature, and roughness for the domain-aware stack)."""
    from va_models import make_model
    driver = "lowLevel.zerocrossingrate.mean" if variant == "shipped" else "psy.roughness.mean"
    X, y, groups, k = _table(driver=driver)
    est, _ = make_model("acoustic", "regression", NAMES, target="valence")
    if variant != "shipped":
        est.set_params(semantic=True, psy=True)
    est.fit(X, y, groups=groups)
    other = X[-20:].copy()
    calm, rough = other.copy(), other.copy()
    calm[:, k], rough[:, k] = -1.5, 1.5
    assert est.predict(rough).mean() < est.predict(calm).mean() - 0.15
    p = est.predict(X)
    assert np.all(np.abs(p) <= 1) and np.corrcoef(p, y)[0, 1] > 0.5
    assert [d for d, _, _ in est.experts_] == ["speech and music"]           # no burst corpus: no burst expert

    flat, _ = make_model("acoustic", "regression", NAMES, target="valence")
    flat.set_params(semantic=False, experts=False, psy=False).fit(X, y, groups=groups)
    sel = flat.bases_[0].named_steps["select"].index                      # the ablation reads no psy. column
    assert sel and not any(NAMES[i].startswith("psy.") for i in sel) and not flat.experts_


def test_acoustic_recipe_weighs_corpora_by_the_square_root_of_their_size(monkeypatch):
    from sklearn.linear_model import Ridge

    from va_models import AcousticVA
    X, y, groups, _ = _table(n=150)
    seen = {}
    orig = Ridge.fit

    def spy(self, X_, y_, sample_weight=None):
        if sample_weight is not None and len(y_) == len(y):
            seen["w"] = np.asarray(sample_weight)
        return orig(self, X_, y_, sample_weight=sample_weight)
    monkeypatch.setattr(Ridge, "fit", spy)
    AcousticVA(tuple(NAMES), target="arousal", experts=False).fit(X, y, groups=groups)
    w = seen["w"]
    corpus = np.array([corpus_of_group(g) for g in groups])
    tot = {c: w[corpus == c].sum() for c in np.unique(corpus)}
    n = {c: (corpus == c).sum() for c in tot}
    ratio = {c: tot[c] / np.sqrt(n[c]) for c in tot}
    assert max(ratio.values()) == pytest.approx(min(ratio.values()))


# ------------------------------------------------------------------ labels and intervals
class _Const:
    def __init__(self, classes, k):
        self.classes_ = np.array(classes)
        self.k = k

    def predict_proba(self, X):
        P = np.zeros((len(X), len(self.classes_)))
        P[:, self.k] = 1.0
        return P


def test_bursts_get_the_burst_classifier_speech_the_speech_classifier(monkeypatch):
    from va_inference import predict_emotion
    monkeypatch.setattr(Y, "vocal_probability", lambda s: np.atleast_2d(s)[:, 13] > 0.3)
    X = np.zeros((3, len(NAMES)))
    X[0, SC[0]] = 0.9                                    # speech
    X[1, SC[0]], X[1, SC[13]] = 0.4, 0.6                 # a laugh
    X[2, SC[289]] = 0.9                                  # rain
    speech = (_Const(["angry", "happy"], 1), {"feature_names": NAMES})
    bursts = (_Const(["amusement", "fear"], 0), {"feature_names": NAMES})
    va = pd.DataFrame({"valence": [0.5, 0.5, 0.2], "arousal": [0.2, 0.2, -0.5]})
    out = predict_emotion(speech, X, va, bursts=bursts)
    assert list(out["emotion_source"]) == ["classifier", "burst-classifier", "va-nearest"]
    assert list(out["emotion_label"][:2]) == ["happy", "amusement"]


def test_interval_width_follows_the_domain(monkeypatch):
    from va_inference import predict_uncertainty
    X = np.zeros((2, len(NAMES)))
    X[0, SC[0]] = 0.9
    X[1, SC[289]] = 0.9
    meta = {"feature_names": NAMES, "interval": {"halfwidth": 0.5, "by_domain": {"speech": {"halfwidth": 0.3},
                                                                                   "other": {"halfwidth": 0.8}}}}

    class M:
        pass
    models = {"valence": (M(), meta), "arousal": (M(), {"interval": {"halfwidth": 0.4}})}
    out = predict_uncertainty(models, X, pd.DataFrame({"valence": [0.0, 0.0], "arousal": [0.0, 0.0]}))
    assert list(out["valence_high"]) == [0.3, 0.8] and list(out["arousal_high"]) == [0.4, 0.4]


def test_domain_intervals_are_checked_per_domain():
    from va_evaluation import domain_intervals
    rng = np.random.default_rng(0)
    X = np.zeros((400, len(NAMES)))
    X[:200, SC[0]] = 0.9
    X[200:, SC[289]] = 0.9
    y = rng.normal(size=400)
    oof = y + np.r_[rng.normal(scale=0.1, size=200), rng.normal(scale=0.6, size=200)]
    groups = np.array([f"g{i % 40}" for i in range(400)])
    d = domain_intervals(X, y, oof, groups)
    assert set(d) == {"speech", "other"}
    assert d["speech"]["halfwidth"] < 0.25 < d["other"]["halfwidth"]
    assert all(0.8 < v["coverage_mean"] < 1.0 for v in d.values())


# ------------------------------------------------------------------ the harness's scoring
def test_loco_scores_and_choice_on_made_up_predictions():
    import va_loco_eval as L
    rng = np.random.default_rng(0)
    rows = []
    for c in L.CORPORA:
        for i in range(40):
            rows.append({"corpus": c, "group": f"{c}{i % 10}", "valence": rng.normal() if c != "sievers" else np.nan,
                         "arousal": rng.normal(), "clip": f"c{i}" if c == "sonancia" else ""})
    df = pd.DataFrame(rows)
    son = df[df["corpus"] == "sonancia"]
    order = son.sort_values("arousal")["clip"].tolist()
    pairs = {d: pd.DataFrame({"preferred": order[1:], "unpreferred": order[:-1]}) for d in ("arousal", "valence", "tension")}
    perfect = {"valence": df["valence"].to_numpy(), "arousal": df["arousal"].to_numpy()}
    s = pd.DataFrame([r for c in L.CORPORA for r in L.score_corpus(df, perfect, c, pairs)])
    ar = s[s["dimension"] == "arousal"].set_index("corpus")["value"]
    assert ar["ravdess"] == pytest.approx(1.0) and ar["sievers"] == pytest.approx(1.0) and ar["sonancia"] == 1.0
    assert len(s) == len(L.COLUMNS)
    noisy = {t: v + rng.normal(scale=2.0, size=len(v)) for t, v in perfect.items()}
    rows = [dict(r, system="acoustic", label="a", setting="zero-shot") for c in L.CORPORA
            for r in L.score_corpus(df, perfect, c, pairs)]
    rows += [dict(r, system="no_psy", label="b", setting="zero-shot") for c in L.CORPORA
             for r in L.score_corpus(df, noisy, c, pairs)]
    assert L.choose(pd.DataFrame(rows)) == "acoustic"
    rng_rows = pd.DataFrame(L.range_rows(df, perfect))
    np.testing.assert_allclose(rng_rows["target_std"], rng_rows["pred_std"])
