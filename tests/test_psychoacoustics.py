"""Known answers of the psy. features (va_psychoacoustics), and agreement with MoSQITo.

The units are defined by reference signals (Zwicker & Fastl 2007): a 1 kHz tone at 40 dB
SPL is 1 sone; a critical-band-wide noise at 1 kHz, 60 dB, is 1 acum; a 1 kHz tone at
60 dB, 100% amplitude-modulated at 70 Hz, is 1 asper, and at 4 Hz, 1 vacil. A sample
value of 1.0 is 1 Pa (the module's calibration).
"""
import numpy as np
import pytest

import va_psychoacoustics as psy

SR = 22050


def _t(seconds=3.0, sr=SR):
    return np.arange(int(seconds * sr)) / sr


def tone(db, f=1000.0, seconds=3.0, sr=SR):
    return 2e-5 * 10 ** (db / 20) * np.sqrt(2) * np.sin(2 * np.pi * f * _t(seconds, sr))


def am(db, fm, m=1.0, f=1000.0, seconds=3.0):
    t = _t(seconds)
    return tone(db, f, seconds) * (1 + m * np.sin(2 * np.pi * fm * t))


def band_noise(db, lo, hi, seconds=3.0, sr=SR, seed=0):
    n = int(seconds * sr)
    X = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    X[(f < lo) | (f > hi)] = 0
    y = np.fft.irfft(X, n)
    return y / np.sqrt(np.mean(y ** 2)) * 2e-5 * 10 ** (db / 20)


def middle(y, name, sr=SR):
    """The median of a frame descriptor over the frames away from the signal's ends."""
    n = y.size // 1024 + 1
    v = psy.frame_descriptors(y, sr, 2048, 1024, n)[name]
    return float(np.median(v[3:-3]))


def test_one_sone():
    assert middle(tone(40), "psy.loudness") == pytest.approx(1.0, rel=0.05)


def test_one_acum():
    assert middle(band_noise(60, 920, 1080), "psy.sharpness") == pytest.approx(1.0, rel=0.10)


def test_one_asper_and_its_band_pass():
    ref = psy.analyse(am(60, 70), SR)["psy.roughness"]
    assert ref == pytest.approx(1.0, rel=0.10)
    assert middle(tone(60), "psy.roughness") < 0.05                     # no modulation, no roughness
    half = middle(am(60, 70, m=0.5), "psy.roughness")
    assert 0.2 < half < 0.7                                               # about m^1.6 = 0.33
    for fm in (20, 250):                                                  # a band-pass around 70 Hz
        assert middle(am(60, fm), "psy.roughness") < 0.6 * middle(am(60, 70), "psy.roughness")


def test_one_vacil_and_its_band_pass():
    f4 = psy.analyse(am(60, 4, seconds=6), SR)["psy.fluctuation"]
    assert f4 == pytest.approx(1.0, rel=0.10)
    assert psy.analyse(tone(60, seconds=6), SR)["psy.fluctuation"] < 0.05
    for fm in (1, 10):
        assert psy.analyse(am(60, fm, seconds=6), SR)["psy.fluctuation"] < 0.8 * f4
    assert psy.analyse(am(60, 4, seconds=6), SR)["psy.modulation_rate"] == pytest.approx(4.0, abs=1.0)


def test_tonality_tone_against_noise():
    assert middle(tone(60), "psy.tonality") > 0.9
    assert middle(band_noise(60, 100, 8000), "psy.tonality") < 0.1


def _mosqito_loudness(y48):
    from mosqito.sq_metrics import loudness_zwst
    return float(loudness_zwst(y48, 48000, field_type="free")[0])


def _to_22050(y48):
    from scipy.signal import resample_poly
    return resample_poly(y48, 147, 320)


@pytest.mark.parametrize("signal", ["tone 250 Hz 60 dB", "tone 1 kHz 40 dB", "tone 4 kHz 70 dB",
                                    "noise 100-8000 Hz 60 dB", "noise 500-2000 Hz 50 dB"])
def test_loudness_matches_mosqito(signal):
    """Our fast third-octave levels feed MoSQITo's ISO 532-1 core: within 7% of MoSQITo's
    own stationary loudness on its 48 kHz filter bank."""
    kind, rest = signal.split(" ", 1)
    if kind == "tone":
        f, _, db, _ = rest.split()
        f = float(f) * (1000 if "k" in rest.split()[1] else 1)
        y48 = tone(float(db), f, 2.0, 48000)
    else:
        band, _, db, _ = rest.split()
        lo, hi = (float(x) for x in band.split("-"))
        y48 = band_noise(float(db), lo, hi, 2.0, 48000)
    ours = middle(_to_22050(y48), "psy.loudness")
    assert ours == pytest.approx(_mosqito_loudness(y48), rel=0.07)


def test_sharpness_matches_mosqito():
    from mosqito.sq_metrics import sharpness_din_st
    for lo, hi in ((100, 8000), (2000, 6000), (200, 1000)):
        y48 = band_noise(60, lo, hi, 2.0, 48000)
        ref = float(sharpness_din_st(y48, 48000, weighting="din", field_type="free"))
        assert middle(_to_22050(y48), "psy.sharpness") == pytest.approx(ref, rel=0.10), (lo, hi)


def test_louder_rougher_sharper_in_the_right_direction():
    assert middle(tone(70), "psy.loudness") > 1.8 * middle(tone(60), "psy.loudness")   # +10 dB: about twice as loud
    assert middle(band_noise(60, 3000, 8000), "psy.sharpness") > middle(band_noise(60, 200, 1000), "psy.sharpness")


def test_annoyance_grows_with_roughness_and_loudness():
    base = psy.annoyance(10.0, 1.5, 0.0, 0.0)
    assert base == pytest.approx(10.0)
    assert psy.annoyance(10.0, 1.5, 0.0, 1.0) > base
    assert psy.annoyance(20.0, 1.5, 0.0, 0.0) > base


def test_whole_file_block_wise_and_windows_agree():
    """The psy. group sits on Essentia's frame grid: a block-wise analysis gives a whole-file
    analysis's values, and a window over the whole signal too."""
    import essentia_engine as ee
    rng = np.random.default_rng(1)
    t = _t(20.0)
    y = (0.05 * rng.standard_normal(t.size) * (1 + np.sin(2 * np.pi * 3 * t))
         + 0.1 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 60 * t))).astype(np.float32)
    names = ee.feature_names(ee.DEFAULT_CONFIG)
    psy_cols = [i for i, n in enumerate(names) if n.startswith("psy.")]
    assert len(psy_cols) == 4 * len(ee.DEFAULT_CONFIG.stats) + 4
    whole = ee.analyse(y)
    stream = ee.analyse_stream(lambda: iter(np.array_split(y, 7)), block_seconds=4.0)
    np.testing.assert_allclose(stream[psy_cols], whole[psy_cols], rtol=1e-4, atol=1e-6)
    # a window holds the frames centred inside it (the whole file's edge frames are not):
    # its means and sequence features agree, its minima need not
    _, _, X = ee.analyse_segments(iter(np.array_split(y, 5)), window=20.0, hop=20.0)
    central = [i for i in psy_cols if names[i].endswith((".mean", ".p10", ".p90")) or names[i].count(".") == 1]
    np.testing.assert_allclose(X[0, central], whole[central], rtol=0.05, atol=1e-3)


def test_one_value_per_frame():
    """Speed is measured by bench/bench_extract.py, never by a timed test; this only checks
    that a 60 s signal gives one value per frame."""
    y = band_noise(60, 100, 8000, seconds=60.0)
    d = psy.frame_descriptors(y, SR, 2048, 1024, y.size // 1024 + 1)
    assert all(v.shape == (y.size // 1024 + 1,) for v in d.values())
