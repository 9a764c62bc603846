"""YAMNet (va_yamnet): known answers on synthetic audio, shapes, the model check, the extractor group."""
from __future__ import annotations

import numpy as np
import pytest

import va_yamnet as Y
from conftest import write_sound
from synth_audio import synthesize
from va_utils import EmoTagError, ModelMismatchError


def _mean_scores(kind, seconds=4.0):
    y = synthesize(kind, seconds=seconds, sr=22050, seed=0)
    scores, emb = Y.frames(Y.resample_to_16k(y, 22050))
    return scores.mean(axis=0)


@pytest.mark.parametrize("kind, expected", [("rain", "Rain"), ("silence", "Silence"),
                                            ("heartbeat", "Heart sounds, heartbeat")])
def test_known_sounds_are_recognised(kind, expected):
    top = Y.top_classes(_mean_scores(kind), k=3)
    assert expected in [name for name, _ in top], top
    assert all(0.0 <= s <= 1.0 for _, s in top)


def test_silence_is_silence_and_not_speech_or_music():
    m = _mean_scores("silence")
    assert Y.top_classes(m, k=1)[0] == ("Silence", pytest.approx(1.0, abs=0.05))
    assert Y.domain(m) == "other"
    assert Y.domain(_mean_scores("rain")) == "other"


def test_domain_rule_on_made_up_scores():
    m = np.zeros(Y.N_CLASSES)
    assert Y.domain(m) == "other"
    m[0] = 0.8                                   # Speech
    assert Y.domain(m) == "speech"
    m[132] = 0.9                                 # Music, stronger
    assert Y.domain(m) == "music"
    m[:] = 0
    m[132] = Y.DOMAIN_THRESHOLD - 0.01           # too weak to call
    assert Y.domain(m) == "other"


def test_patch_grid_and_shapes():
    assert Y.n_patches(100) == 1 and Y.n_patches(Y.PATCH) == 1
    assert Y.n_patches(32000) == 1 + int(np.ceil((32000 - Y.PATCH) / Y.HOP)) == 4
    scores, emb = Y.frames(np.zeros(8000, dtype=np.float32))        # 0.5 s: one zero-padded patch
    assert scores.shape == (1, 521) and emb.shape == (1, 1024)
    y16 = Y.resample_to_16k(synthesize("chime", seconds=2.0, sr=22050), 22050)
    assert y16.size == pytest.approx(32000, abs=2)
    scores, emb = Y.frames(y16)
    assert scores.shape == (Y.n_patches(y16.size), 521) and np.isfinite(emb).all()
    assert ((scores >= 0) & (scores <= 1)).all()
    with pytest.raises(EmoTagError, match="mono"):
        Y.frames(np.zeros((2, 16000), dtype=np.float32))
    with pytest.raises(EmoTagError, match="521 class scores"):
        Y.top_classes(np.zeros(10))


def test_class_names_and_feature_names():
    names = Y.class_names()
    assert len(names) == 521 and names[0] == "Speech" and names[132] == "Music" and names[494] == "Silence"
    fn = Y.feature_names()
    assert len(fn) == 521 + 1024 and fn[0] == "yamnet.score.0" and fn[-1] == "yamnet.embedding.1023"


def test_a_changed_model_file_is_refused(tmp_path):
    bad = tmp_path / "yamnet.tflite"
    data = bytearray(Y.MODEL_FILE.read_bytes())
    data[-1] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelMismatchError, match="refused"):
        Y._Model(bad)


def test_yamnet_feature_group_in_the_extractor(tmp_path):
    from essentia_engine import DEFAULT_CONFIG, ExtractorConfig, feature_names
    from extractor import extract_file
    cfg = DEFAULT_CONFIG
    assert cfg.yamnet and cfg.to_dict()["yamnet"] is True
    old = ExtractorConfig(yamnet=False)
    assert "yamnet" not in old.to_dict()                               # older configs keep their key
    assert ExtractorConfig.from_dict(old.to_dict()) == old             # ... and read back without YAMNet
    assert cfg.key != old.key and ExtractorConfig.from_dict(cfg.to_dict()) == cfg
    names = feature_names(cfg)
    assert names[:len(feature_names(old))] == feature_names(old)
    assert names[-(521 + 1024):] == Y.feature_names()
    path = write_sound(tmp_path / "rain.wav", "rain", seconds=3.0)
    res = extract_file(path, config=cfg)
    assert res.features.shape == (len(names),) and np.isfinite(res.features).all()
    scores = res.features[len(names) - 1545: len(names) - 1024]
    assert "Rain" in [n for n, _ in Y.top_classes(scores, k=3)]


def _siren_rain_chime():
    return np.concatenate([synthesize(k, seconds=5.0, sr=22050) for k in ("siren", "rain", "chime")])


def test_stream_matches_whole_signal_and_pools_windows():
    y = _siren_rain_chime()
    s, e = Y.pooled(*Y.frames(Y.resample_to_16k(y, 22050)))
    st = Y.Stream(22050, keep=True)
    for i in range(0, y.size, 7001):                      # odd chunk sizes
        st.feed(y[i:i + 7001])
    st.finish()
    assert st.n == Y.n_patches(Y.resample_to_16k(y, 22050).size)
    s2, e2 = st.pooled()
    np.testing.assert_allclose(s2, s, atol=1e-5)
    np.testing.assert_allclose(e2, e, atol=1e-4)
    first = [n for n, _ in Y.top_classes(st.window(0, 4)[:521], 3)]
    middle = [n for n, _ in Y.top_classes(st.window(6, 9)[:521], 3)]
    assert {"Siren", "Alarm"} & set(first), first
    assert {"Rain", "Water"} & set(middle), middle
    np.testing.assert_allclose(st.window(100, 101), st.window(14.5, 15.5))   # empty window: the nearest patch


def test_block_wise_and_per_window_analysis_carry_yamnet():
    from essentia_engine import DEFAULT_CONFIG, analyse, analyse_segments, analyse_stream, feature_names
    y = _siren_rain_chime()
    names = feature_names(DEFAULT_CONFIG)
    yi = [i for i, n in enumerate(names) if n.startswith("yamnet.")]
    whole = analyse(y, DEFAULT_CONFIG)
    chunks = lambda: iter([y[i:i + 30000] for i in range(0, y.size, 30000)])
    stream = analyse_stream(chunks, DEFAULT_CONFIG, block_seconds=3)
    np.testing.assert_allclose(stream[yi], whole[yi], atol=1e-4)
    starts, ends, X = analyse_segments(chunks(), DEFAULT_CONFIG, window=3, hop=3)
    tops = [[n for n, _ in Y.top_classes(x[yi][:521], 3)] for x in X]
    assert len(tops) == 5
    assert {"Siren", "Alarm"} & set(tops[0]) and {"Rain", "Water"} & set(tops[2]), tops


def test_describe_and_class_names_are_checked():
    from essentia_engine import DEFAULT_CONFIG, feature_names
    names = feature_names(DEFAULT_CONFIG)
    x = np.zeros((2, len(names)))
    x[0, names.index("yamnet.score.0")] = 0.9                 # Speech
    x[1, names.index("yamnet.score.494")] = 1.0               # Silence
    d = Y.describe(x, names, k=2)
    assert list(d["domain"]) == ["speech", "other"]
    assert d["sound_classes"][1].startswith("Silence 1.00; ")
    assert list(Y.describe(x[:, :100], names[:100])["domain"]) == ["", ""]   # no YAMNet group
    assert Y.check_class("rain") == "Rain"
    with pytest.raises(EmoTagError, match="did you mean 'Rain'"):
        Y.check_class("Rian")
    np.testing.assert_allclose(Y.domain_weight(x[:, Y.score_columns(names)]), [1.0, 0.0])


def test_lexicon_prior_known_answers():
    import pandas as pd
    table = pd.read_csv(Y.CLASS_VA)
    assert len(table) == 521 and table["valence"].notna().sum() >= 450
    s = np.zeros(521)
    s[494] = 1.0                                                   # only "Silence"
    silence = table.loc[494, ["valence", "arousal"]].to_numpy(float)
    np.testing.assert_allclose(Y.lexicon_prior(s), silence, atol=1e-9)
    s[11] = 1.0                                                    # + "Screaming", equal weight
    both = (silence + table.loc[11, ["valence", "arousal"]].to_numpy(float)) / 2
    np.testing.assert_allclose(Y.lexicon_prior(s), both, atol=1e-9)
    assert Y.lexicon_prior(np.vstack([s, s])).shape == (2, 2)
    # on real model output, digital silence comes out calm
    va = Y.lexicon_prior(_mean_scores("silence"))
    assert np.isfinite(va).all() and va[1] < -0.4
