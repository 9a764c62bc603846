"""The extractor: shape, determinism, formats, channels, sample rates, bad files, cache."""
import numpy as np
import pytest
import soundfile as sf

from essentia_engine import DEFAULT_CONFIG, ExtractorConfig, analyse, feature_names
from extractor import extract_batch, extract_file, load_audio
from va_utils import BadAudioError, EmoTagError
from conftest import ROOT, write_sound

N = len(feature_names(DEFAULT_CONFIG))


def test_feature_names_fixed_order_and_named():
    names = feature_names(DEFAULT_CONFIG)
    assert len(names) == len(set(names)) == N
    assert "lowLevel.spectral_centroid.mean" in names and "lowLevel.mfcc.stdev.12" in names
    assert names == feature_names(ExtractorConfig())  # same config -> same list
    rich = feature_names(ExtractorConfig(rhythm=True, tonal=True))
    assert "rhythm.bpm" in rich and "tonal.hpcp.mean.0" in rich and len(rich) > N
    assert {"prosody.voiced_ratio", "prosody.f0_median", "sfx.log_attack_time"} <= set(names)
    plain = feature_names(ExtractorConfig(stats=("mean", "stdev"), envelope=False, prosody=False, yamnet=False,
                                          graph="lean", psychoacoustics=False))
    # the lean graph: 69 frame values (25 Bark bands below Nyquist, 13 MFCC, 3 tristimulus
    # and 28 scalars) x 2 statistics; the full graph had 86 (27 Bark bands, 6 + 6 contrast)
    assert len(plain) == 138 and not any(n.startswith("prosody.") for n in plain)
    full = feature_names(ExtractorConfig(stats=("mean", "stdev"), envelope=False, prosody=False, yamnet=False,
                                         graph="full", psychoacoustics=False))
    assert len(full) == 172 and "lowLevel.dissonance.mean" in full and "lowLevel.dissonance.mean" not in plain
    # the psy. group: 4 frame descriptors x the statistics, and 4 sequence features
    assert sum(n.startswith("psy.") for n in names) == 4 * len(DEFAULT_CONFIG.stats) + 4
    # the default carries YAMNet's 521 class scores and 1024-d embedding, after our features
    assert sum(n.startswith("yamnet.score.") for n in names) == 521
    assert sum(n.startswith("yamnet.embedding.") for n in names) == 1024
    assert names[:len(names) - 1545] == feature_names(ExtractorConfig(yamnet=False))


def test_bad_config_rejected():
    with pytest.raises(EmoTagError, match="Unknown statistics"):
        ExtractorConfig(stats=("median",))


@pytest.mark.parametrize("ext,subtype", [("wav", None), ("flac", None), ("ogg", None), ("mp3", None), ("aiff", None)])
@pytest.mark.parametrize("channels", [1, 2])
def test_formats_and_channels(tmp_path, ext, subtype, channels):
    p = write_sound(tmp_path / f"x.{ext}", "chime", seconds=1.0, sr=44100, channels=channels, subtype=subtype)
    r = extract_file(p)
    assert r.features.shape == (N,) and np.isfinite(r.features).all()
    assert r.channels == channels and r.sample_rate == 44100
    assert abs(r.duration - 1.0) < 0.06  # MP3 adds encoder padding


@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000, 96000])
def test_sample_rates_resampled_to_analysis_rate(tmp_path, sr):
    p = write_sound(tmp_path / "x.wav", "chime", seconds=1.0, sr=sr)
    y, meta = load_audio(p, sample_rate=22050)
    assert meta["sample_rate"] == sr
    assert abs(y.size - 22050) <= 2  # 1 s at the analysis rate


def test_same_audio_any_rate_gives_similar_features(tmp_path):
    """A 22.05 kHz file and the same signal at 44.1 kHz agree after resampling."""
    sr = 22050
    y = write_sound(tmp_path / "a.wav", "drone", seconds=2.0, sr=sr)
    sig, _ = sf.read(y)
    import soxr
    sf.write(tmp_path / "b.wav", soxr.resample(sig, sr, 44100), 44100)
    fa, fb = extract_file(tmp_path / "a.wav").features, extract_file(tmp_path / "b.wav").features
    names = np.array(feature_names(DEFAULT_CONFIG))
    idx = [i for i, n in enumerate(names) if n.startswith("lowLevel.mfcc.mean")]
    assert np.allclose(fa[idx], fb[idx], rtol=0.05, atol=1.0)


def test_deterministic(tmp_path):
    p = write_sound(tmp_path / "x.flac", "noise_burst", seconds=1.0)
    a = extract_file(p).features
    b = extract_file(p).features
    assert np.array_equal(a, b)


def test_stereo_downmix_equals_mono_mean(tmp_path):
    sr = 22050
    rng = np.random.default_rng(1)
    left, right = rng.uniform(-0.5, 0.5, sr), rng.uniform(-0.5, 0.5, sr)
    sf.write(tmp_path / "st.wav", np.column_stack([left, right]), sr, subtype="FLOAT")
    y, _ = load_audio(tmp_path / "st.wav", sample_rate=sr)
    assert np.allclose(y, (left + right) / 2, atol=1e-6)


def test_silence_gives_defined_values():
    v = analyse(np.zeros(22050, np.float32))
    assert np.isfinite(v).all()


def test_short_clip_padded_with_warning():
    with pytest.warns(UserWarning, match="shorter than one analysis frame"):
        v = analyse(np.ones(100, np.float32) * 0.1)
    assert v.shape == (N,)


@pytest.mark.parametrize("content,msg", [(b"", "empty"), (b"hello world" * 10, "cannot decode"),
                                         (b"RIFF\x00\x00\x00\x00WAVEjunkjunk", "cannot decode")])
def test_bad_files_raise(tmp_path, content, msg):
    p = tmp_path / "bad.wav"
    p.write_bytes(content)
    with pytest.raises(BadAudioError, match=msg):
        extract_file(p)


def test_batch_captures_errors_and_keeps_order(tmp_path, sound_dir):
    files = sorted(sound_dir.iterdir())
    (tmp_path / "broken.flac").write_bytes(b"fLaC" + b"\x00" * 50)
    paths = files[:2] + [tmp_path / "broken.flac", tmp_path / "missing.wav"] + files[2:]
    res = extract_batch(paths, jobs=2)
    assert [r.path for r in res] == [str(p) for p in paths]
    assert [r.ok for r in res] == [True, True, False, False] + [True] * (len(files) - 2)
    assert "cannot read file" in res[3].error
    serial = extract_batch(paths, jobs=1)
    for a, b in zip(res, serial):
        assert (a.features is None and b.features is None) or np.array_equal(a.features, b.features)


def test_cache_keyed_by_content_and_config(tmp_path):
    p = write_sound(tmp_path / "x.wav", "chime", seconds=1.0)
    cache = tmp_path / "c"
    first = extract_file(p, cache_dir=cache)
    assert not first.cached
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(p.read_bytes())
    again = extract_file(copy, cache_dir=cache)
    assert again.cached and np.array_equal(again.features, first.features)
    other = ExtractorConfig(stats=("mean",))
    r = extract_file(p, config=other, cache_dir=cache)
    assert not r.cached and r.features.shape == (len(feature_names(other)),)


def _scene(seconds, sr=22050, lead_silence=0.0, seed=3):
    """Tones that change every 2 s, a slow tremolo, noise, a quiet gap and leading silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 220 * 2 ** (np.floor(t / 2) % 7 / 12)
    y = 0.3 * np.sin(2 * np.pi * np.cumsum(f0) / sr) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.1 * t))
    y += 0.05 * rng.standard_normal(t.size)
    y[int(0.4 * t.size):int(0.45 * t.size)] *= 1e-3
    y[:int(lead_silence * sr)] = 0
    return y.astype(np.float32)


def _corpus_std():
    import pandas as pd
    table = pd.read_csv(ROOT / "data" / "out_Valence.csv.gz")
    sd = table[list(feature_names(DEFAULT_CONFIG))].std().to_numpy()
    return np.where(sd > 0, sd, 1.0)


@pytest.mark.parametrize("lead", [0.0, 2.3])
def test_blockwise_matches_whole_file(lead):
    """Block-wise analysis (20 s blocks) of a 95 s signal agrees with the whole-file analysis.

    Tolerance: every feature within 0.01 standard deviations of the shipped training
    table (most frame statistics are identical), measured max about 0.003.
    """
    from essentia_engine import analyse_stream
    y = _scene(95, lead_silence=lead)
    whole = analyse(y)
    block = analyse_stream(lambda: (y[i:i + 50000] for i in range(0, y.size, 50000)), block_seconds=20)
    z = np.abs(whole - block) / _corpus_std()
    assert z.max() < 0.01, feature_names(DEFAULT_CONFIG)[int(z.argmax())]
    frame_stats = np.array([n.startswith("lowLevel.") for n in feature_names(DEFAULT_CONFIG)])
    assert np.array_equal(whole[frame_stats], block[frame_stats])   # frame statistics: bit-identical


def test_long_file_takes_the_blockwise_path(tmp_path):
    sf.write(tmp_path / "long.flac", _scene(40), 22050)
    whole = extract_file(tmp_path / "long.flac", long_file_seconds=1e9).features
    block = extract_file(tmp_path / "long.flac", long_file_seconds=30).features
    assert not np.array_equal(whole, block)   # the other path was taken...
    assert (np.abs(whole - block) / _corpus_std()).max() < 0.01   # ...and agrees


def test_flatness_sfx_matches_essentia():
    import essentia.standard as es
    from essentia_engine import _flatness_sfx
    rng = np.random.default_rng(0)
    for n in (1, 2, 21, 1000, 12345):
        env = np.abs(rng.standard_normal(n)).astype(np.float32)
        assert _flatness_sfx(env) == pytest.approx(float(es.FlatnessSFX()(env)), rel=1e-6)


def test_lowlevel_graph_equals_essentia_extractor_on_successive_signals():
    """Our leak-free low-level graph gives Essentia's ``Extractor`` frames, call after call.

    (Essentia's standard-mode equal-loudness extractor returns its first signal's frames
    again unless reset; a stale graph would fail on the second signal.)
    """
    import essentia.standard as es
    from essentia_engine import _algorithm
    ref = es.Extractor(lowLevel=True, rhythm=False, midLevel=False, tuning=False, highLevel=False, dynamics=False,
                       relativeIoi=False, sampleRate=22050.0, lowLevelFrameSize=2048, lowLevelHopSize=1024)
    from essentia_engine import PREVIOUS_CONFIG
    ours = _algorithm(PREVIOUS_CONFIG)
    for y in (_scene(3, seed=1), _scene(2, seed=2) * 0.1, _scene(4, seed=3)):
        want, got = ref(y), ours(y)
        assert sorted(want.descriptorNames()) == sorted(n for n in got.descriptorNames() if not n.startswith("psy."))
        for name in want.descriptorNames():
            assert np.array_equal(np.asarray(want[name]), np.asarray(got[name])), name


def test_lean_graph_matches_essentias_algorithms_on_its_one_spectrum():
    """Each vectorised descriptor of the lean graph equals the Essentia algorithm run frame
    by frame on the same windowed spectrum, with the true sample rate; the frame grid is
    ``FrameCutter``'s, and the configuration keys of old artifacts are unchanged."""
    import essentia.standard as es
    from essentia_engine import LEAN_CONFIG, PREVIOUS_CONFIG, _algorithm
    sr, N, hop = 22050, 2048, 1024
    y = _scene(3, seed=4)
    y[: sr // 2] *= 0.001                                 # a quiet start: the silence rates move
    pool = _algorithm(LEAN_CONFIG)(y)
    frames = list(es.FrameGenerator(y, frameSize=N, hopSize=hop))
    assert len(pool["lowLevel.pitch"]) == len(frames)
    w = es.Windowing(type="blackmanharris62")
    spec = es.Spectrum()
    algos = {
        "spectral_energy": es.Energy(), "hfc": es.HFC(sampleRate=sr), "spectral_rms": es.RMS(),
        "spectral_rolloff": es.RollOff(sampleRate=sr), "spectral_centroid": es.Centroid(range=sr / 2),
        "spectral_energyband_middle_high": es.EnergyBand(startCutoffFrequency=800, stopCutoffFrequency=4000,
                                                         sampleRate=sr),
    }
    bark, mfcc, flux = es.BarkBands(numberBands=27, sampleRate=sr), es.MFCC(sampleRate=sr), es.Flux()
    moments, shape = es.CentralMoments(range=sr / 2), es.DistributionShape()
    bmoments, crest, flat = es.CentralMoments(range=24), es.Crest(), es.FlatnessDB()
    zcr, yin = es.ZeroCrossingRate(), es.PitchYinFFT(frameSize=N, sampleRate=sr)
    decrease, square = es.Decrease(range=sr / 2), es.UnaryOperator(type="square")
    want = {k: [] for k in list(algos) + ["barkbands", "mfcc", "spectral_flux", "spectral_spread", "spectral_skewness",
                                          "spectral_kurtosis", "barkbands_spread", "spectral_crest",
                                          "spectral_flatness_db", "zerocrossingrate", "pitch", "spectral_decrease"]}
    for fr in frames:
        s = spec(w(fr))
        for k, a in algos.items():
            want[k].append(a(s))
        b = bark(s)[:25]
        want["barkbands"].append(b)
        want["mfcc"].append(mfcc(s)[1])
        want["spectral_flux"].append(flux(s))
        sp, sk, ku = shape(moments(s))
        want["spectral_spread"].append(sp)
        want["spectral_skewness"].append(sk)
        want["spectral_kurtosis"].append(ku)
        want["barkbands_spread"].append(shape(bmoments(b))[0])
        want["spectral_crest"].append(crest(b))
        want["spectral_flatness_db"].append(flat(b))
        want["zerocrossingrate"].append(zcr(fr))
        want["pitch"].append(yin(s)[0])
        want["spectral_decrease"].append(decrease(square(s)))
    for k, v in want.items():
        got, ref = np.asarray(pool["lowLevel." + k], dtype=np.float64), np.asarray(v, dtype=np.float64)
        scale = np.abs(ref).max() + 1e-12
        assert np.abs(got - ref).max() / scale < 2e-3, k
    # silence rates: Essentia's SilenceRate (thresholds of the composite), frame by frame
    rate = es.SilenceRate(thresholds=[10 ** (t / 20.0) for t in (-20, -30, -60)])
    ref = np.array([rate(fr) for fr in frames], dtype=np.float64)
    for i, name in enumerate(("20dB", "30dB", "60dB")):
        assert np.array_equal(np.asarray(pool[f"lowLevel.silence_rate_{name}"]), ref[:, i]), name
    assert ref[:, 2].min() == 0 and ref[:, 2].max() == 1      # the quiet start moves the 60 dB rate
    # the configurations of earlier releases keep their keys (their caches and models stay valid)
    assert ExtractorConfig.from_dict(PREVIOUS_CONFIG.to_dict()) == PREVIOUS_CONFIG
    assert PREVIOUS_CONFIG.key == "a91901eee5065b00"
    assert DEFAULT_CONFIG == PREVIOUS_CONFIG
    assert ExtractorConfig.from_dict(LEAN_CONFIG.to_dict()) == LEAN_CONFIG and LEAN_CONFIG.key != PREVIOUS_CONFIG.key
