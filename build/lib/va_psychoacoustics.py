"""Psychoacoustic sound-quality features: loudness, sharpness, roughness, fluctuation, tonality.

Reads and writes no files. :mod:`essentia_engine` calls :func:`frame_descriptors` on the
same frame grid as Essentia's low-level frames (so whole-file, block-wise and per-window
analysis see the same values) and :func:`sequence_features` on the frame sequence of a
file or window. These are the quantities sound-quality engineering uses to predict
annoyance and unpleasantness (Zwicker & Fastl, *Psychoacoustics*, 3rd ed., 2007).

Calibration: a sample value of 1.0 is read as 1 Pa, so a full-scale sine plays at
91 dB SPL and a 1 kHz sine of amplitude 2.83e-3 at 40 dB SPL (MoSQITo's convention of
signals in pascals). A sound library is not calibrated: the levels are relative, but the
same file always gets the same values, and louder files get louder values.

Per frame (``psy.<name>``, then the usual statistics over frames):

* ``loudness``, sone: ISO 532-1 (Zwicker, stationary, free field) of the frame's
  third-octave band levels. The band levels come from the frame's power spectrum (a
  fixed band matrix, 35x faster than MoSQITo's filter bank); the core loudness and the
  upper slopes are MoSQITo's own ISO 532-1 code (``_main_loudness``, ``_calc_slopes``).
* ``sharpness``, acum: DIN 45692 over the specific loudness.
* ``roughness``, asper: the depth of 20-300 Hz envelope modulation in each critical band
  (from the spectral autocorrelation of the frame, which is the envelope's modulation
  spectrum), weighted by Fastl's band-pass around 70 Hz and by the band's loudness.
  Calibrated so that a 1 kHz tone at 60 dB SPL, 100% amplitude-modulated at 70 Hz, is
  1 asper (a simplified model in the spirit of Daniel & Weber 1997).
* ``tonality``, 0..1: the share of the frame's power in spectral peaks standing 10 dB or
  more above their neighbourhood.

Per file or window (from the frame sequence):

* ``loudness_n5``: percentile loudness N5 (exceeded 5% of the time), sone.
* ``fluctuation``, vacil: slow (0.5-10 Hz) modulation of the loudness sequence, weighted
  by Fastl's band-pass around 4 Hz; 1 kHz at 60 dB SPL, 100% modulated at 4 Hz, is 1 vacil.
* ``modulation_rate``, Hz: the centroid of that loudness modulation spectrum.
* ``annoyance``: Zwicker's psychoacoustic annoyance PA (Zwicker & Fastl, eq. 16.2) from
  N5, mean sharpness, fluctuation and roughness.
"""
from __future__ import annotations

import functools

import numpy as np

PREFIX = "psy."
FRAME_NAMES = ("loudness", "sharpness", "roughness", "tonality")
SEQUENCE_NAMES = ("loudness_n5", "fluctuation", "modulation_rate", "annoyance")
P_REF = 2e-5                     #: Pa, 0 dB SPL
# ISO 532-1's 28 third-octave bands, 25 Hz .. 12.5 kHz
THIRD_OCTAVE_CENTRES = 1000.0 * 2.0 ** (np.arange(-16, 12) / 3.0)
# Critical-band edges (Zwicker), Hz: the bands of the roughness model
BARK_EDGES = np.array([20, 100, 200, 300, 400, 510, 630, 770, 920, 1080, 1270, 1480, 1720, 2000, 2320, 2700,
                       3150, 3700, 4400, 5300, 6400, 7700, 9500, 12000, 15500], dtype=float)
ROUGHNESS_MOD_HZ = (20.0, 300.0)
FLUCTUATION_MOD_HZ = (0.5, 10.0)
FLUCTUATION_WINDOW = 64          #: frames per loudness-modulation window (about 3 s at the default hop)
# Calibration constants, set so that the reference signals give 1 asper and 1 vacil
# (see tests/test_psychoacoustics.py, which re-derives them).
ROUGHNESS_K = 0.12947
FLUCTUATION_K = 0.83027


@functools.lru_cache(maxsize=1)
def _mosqito():
    from mosqito.sq_metrics.loudness.loudness_zwst._calc_slopes import _calc_slopes
    from mosqito.sq_metrics.loudness.loudness_zwst._main_loudness import _main_loudness
    return _main_loudness, _calc_slopes


@functools.lru_cache(maxsize=8)
def _bands(sr: int, n_fft: int):
    """Band matrices of an ``n_fft``-point spectrum at ``sr``: third octaves, and critical bands."""
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    # third-octave bands with the skirts of order-3 Butterworth filters (IEC 61260), as
    # the filter bank of ISO 532-1 and MoSQITo has them: |H(f)|^2 of each band per bin
    q = 1.0 / (2 ** (1 / 6) - 2 ** (-1 / 6))
    fc = THIRD_OCTAVE_CENTRES[:, None]
    ff = np.maximum(f[None, :], 1e-3)
    a = 1.0 / (1.0 + (q * (ff / fc - fc / ff)) ** 6)
    edges = np.searchsorted(f, BARK_EDGES[BARK_EDGES < sr / 2])
    edges = np.unique(np.append(edges, f.size))
    return a, edges, f


def _dwin(n: int) -> np.ndarray:
    return np.hanning(n + 2)[1:-1]


def _spectra(y: np.ndarray, n_frames: int, frame: int, hop: int):
    """Windowed rFFT of frames centred on ``i * hop`` (zero-padded at the ends), as Essentia frames them."""
    half = frame // 2
    need = (n_frames - 1) * hop + frame
    pad = np.zeros(need, dtype=np.float64)
    m = min(y.size, need - half)
    pad[half:half + m] = y[:m]
    idx = np.arange(n_frames)[:, None] * hop + np.arange(frame)[None, :]
    w = _dwin(frame)
    X = np.fft.rfft(pad[idx] * w, axis=1)
    # power spectrum in Pa^2 per bin, so that a sine of amplitude A sums to A^2/2 over its bins
    scale = 2.0 / (frame * (w ** 2).sum())
    P = (np.abs(X) ** 2) * scale
    P[:, 0] *= 0.5
    return X, P


def specific_loudness(P: np.ndarray, sr: int, n_fft: int):
    """ISO 532-1 total loudness (sone) and specific loudness (sone/Bark, 240 points) of power spectra.

    ``P``: (frames, bins) power per bin in Pa^2. Returns ``N`` (frames,), ``Ns`` (240, frames).
    """
    main, slopes = _mosqito()
    a = _bands(sr, n_fft)[0]
    third = a @ P.T                                             # (28, frames) Pa^2
    L = 10 * np.log10(np.maximum(third, 1e-30) / P_REF ** 2)
    L = np.clip(L, -60.0, 119.9)
    Nm = main(L, "free")
    N, Ns = slopes(Nm)
    return np.asarray(N, dtype=float).reshape(-1), np.asarray(Ns, dtype=float).reshape(240, -1)


def sharpness_din(N: np.ndarray, Ns: np.ndarray) -> np.ndarray:
    """DIN 45692 sharpness (acum) from total and specific loudness (0 where the loudness is 0)."""
    z = np.linspace(0.1, 24.0, 240)
    g = np.where(z <= 15.8, 1.0, 0.15 * np.exp(0.42 * (z - 15.8)) + 0.85)
    num = 0.11 * ((Ns * (g * z)[:, None]).sum(axis=0) * 0.1)
    return np.where(N > 1e-6, num / np.maximum(N, 1e-6), 0.0)


def _roughness_weight(fm: np.ndarray) -> np.ndarray:
    """Fastl's band-pass of roughness over modulation frequency: 1 at 70 Hz, falling on a log axis."""
    return np.exp(-0.5 * (np.log2(fm / 70.0) / 0.9) ** 2)


def _fluctuation_weight(fm: np.ndarray) -> np.ndarray:
    """Fastl's band-pass of fluctuation strength: ``1 / ((fm/4) + (4/fm))`` scaled to 1 at 4 Hz."""
    return 2.0 / (fm / 4.0 + 4.0 / fm)


def roughness_frames(X: np.ndarray, Ns: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """Roughness (asper) of each frame from its complex spectrum ``X`` and specific loudness ``Ns``."""
    _, edges, f = _bands(sr, n_fft)
    df = f[1] - f[0]
    d_lo, d_hi = int(np.ceil(ROUGHNESS_MOD_HZ[0] / df)), int(ROUGHNESS_MOD_HZ[1] / df)
    d_lo = max(d_lo, 3)                          # a Hann window's own leakage spans 2 bins
    Xc = X.astype(np.complex64)
    P = (np.abs(Xc) ** 2).astype(np.float32)
    nb = edges.size - 1
    cP = np.concatenate([np.zeros((P.shape[0], 1), np.float32), np.cumsum(P, axis=1)], axis=1)
    R0 = cP[:, edges[1:]] - cP[:, edges[:-1]]                 # (frames, bands)
    best = np.zeros((X.shape[0], nb), dtype=np.float32)
    starts = edges[:-1]
    for d in range(d_lo, d_hi + 1):
        C = Xc[:, :-d] * np.conj(Xc[:, d:])                    # (frames, bins - d)
        ok = starts < C.shape[1]
        band = np.zeros((X.shape[0], nb), np.float32)
        band[:, ok] = np.abs(np.add.reduceat(C, starts[ok], axis=1))
        ehi = np.minimum(edges + d, P.shape[1])
        shifted = cP[:, ehi[1:]] - cP[:, ehi[:-1]]            # the partners' energy
        m = 4.0 * band / np.maximum(R0 + shifted, 1e-30)
        best = np.maximum(best, _roughness_weight(np.array(d * df, np.float32)) * np.minimum(m, 1.5))
    # each critical band weighs by its share of the frame's power times the frame's loudness
    # (the specific loudness would also weigh the bands that only the upper slopes reach,
    # where a tone's coherent window leakage looks like modulation)
    share = R0 / np.maximum(R0.sum(axis=1, keepdims=True), 1e-30)
    N = Ns.sum(axis=0) * 0.1
    return ROUGHNESS_K * N * (share * best ** 1.6).sum(axis=1)


def tonality_frames(P: np.ndarray) -> np.ndarray:
    """Share of each frame's power in peaks 10 dB or more above the mean level of the 25 bins around them."""
    L = 10 * np.log10(P + 1e-30)
    k = 12
    c = np.cumsum(np.pad(L, ((0, 0), (k + 1, k)), mode="edge"), axis=1)
    local = (c[:, 2 * k + 1:] - c[:, :-2 * k - 1]) / (2 * k + 1)
    local = local[:, :L.shape[1]]
    peak = np.zeros_like(L, dtype=bool)
    peak[:, 1:-1] = (L[:, 1:-1] >= L[:, :-2]) & (L[:, 1:-1] >= L[:, 2:]) & (L[:, 1:-1] > local[:, 1:-1] + 10.0)
    near = peak.copy()
    near[:, 1:] |= peak[:, :-1]
    near[:, :-1] |= peak[:, 1:]
    tot = P.sum(axis=1)
    return np.where(tot > 0, (P * near).sum(axis=1) / np.maximum(tot, 1e-30), 0.0)


def frame_descriptors(y: np.ndarray, sr: int, frame: int, hop: int, n_frames: int) -> dict[str, np.ndarray]:
    """``{"psy.loudness": (n_frames,), ...}`` on the frame grid ``i * hop`` (frames centred there).

    Parameters
    ----------
    y : np.ndarray, float, the signal (sample value 1.0 = 1 Pa)
    sr, frame, hop : the analysis rate and Essentia's frame and hop sizes
    n_frames : how many frames Essentia produced for ``y``
    """
    if n_frames <= 0:
        return {PREFIX + n: np.zeros(0, np.float32) for n in FRAME_NAMES}
    X, P = _spectra(np.asarray(y, dtype=np.float64), n_frames, frame, hop)
    N, Ns = specific_loudness(P, sr, frame)
    out = {"loudness": N, "sharpness": sharpness_din(N, Ns), "roughness": roughness_frames(X, Ns, sr, frame),
           "tonality": tonality_frames(P)}
    return {PREFIX + k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def loudness_modulation(N: np.ndarray, frame_rate: float):
    """Fluctuation strength (vacil) and modulation rate (Hz) of a loudness sequence (sone per frame).

    The sequence is cut into windows of :data:`FLUCTUATION_WINDOW` frames (half overlap;
    one zero-padded window if shorter); each window's modulation depth spectrum
    ``2 |FFT(N - mean)| / sum(window) / mean`` is weighted by :func:`_fluctuation_weight`.
    """
    N = np.asarray(N, dtype=np.float64)
    n = FLUCTUATION_WINDOW
    if N.size < 4 or N.mean() <= 1e-6:
        return 0.0, 0.0
    starts = list(range(0, max(N.size - n, 0) + 1, n // 2)) if N.size >= n else [0]
    w = _dwin(n)
    fm = np.fft.rfftfreq(n, 1.0 / frame_rate)
    band = (fm >= FLUCTUATION_MOD_HZ[0]) & (fm <= FLUCTUATION_MOD_HZ[1])
    weights = _fluctuation_weight(np.maximum(fm[band], 1e-3))
    F, spec = [], np.zeros(band.sum())
    for s in starts:
        seg = N[s:s + n]
        ww = w[:seg.size] if seg.size == n else _dwin(seg.size)
        mu = seg.mean()
        if mu <= 1e-6:
            continue
        M = np.abs(np.fft.rfft((seg - mu) * ww, n=n))[band] * 2.0 / ww.sum() / mu
        F.append(float((weights * M).max()) * mu ** 0.5)
        spec += M
    if not F:
        return 0.0, 0.0
    rate = float((fm[band] * spec).sum() / spec.sum()) if spec.sum() > 0 else 0.0
    return FLUCTUATION_K * float(np.mean(F)), rate


def annoyance(n5: float, s: float, f: float, r: float) -> float:
    """Zwicker's psychoacoustic annoyance PA = N5 (1 + sqrt(wS^2 + wFR^2)) (Zwicker & Fastl 2007, 16.2)."""
    ws = (s - 1.75) * 0.25 * np.log10(n5 + 10.0) if s > 1.75 else 0.0
    wfr = 2.18 / max(n5, 1e-3) ** 0.4 * (0.4 * f + 0.6 * r)
    return float(n5 * (1.0 + np.sqrt(ws ** 2 + wfr ** 2)))


def sequence_features(pool, frame_rate: float) -> dict[str, float]:
    """``psy.loudness_n5``, ``psy.fluctuation``, ``psy.modulation_rate`` and ``psy.annoyance`` of a frame pool."""
    N = np.asarray(pool.get(PREFIX + "loudness", []), dtype=np.float64).reshape(-1)
    if N.size == 0:
        return {PREFIX + k: 0.0 for k in SEQUENCE_NAMES}
    n5 = float(np.percentile(N, 95))
    f, rate = loudness_modulation(N, frame_rate)
    s = float(np.mean(pool[PREFIX + "sharpness"]))
    r = float(np.mean(pool[PREFIX + "roughness"]))
    return {PREFIX + "loudness_n5": n5, PREFIX + "fluctuation": f, PREFIX + "modulation_rate": rate,
            PREFIX + "annoyance": annoyance(n5, s, f, r)}


def analyse(y: np.ndarray, sr: int, *, frame: int = 2048, hop: int = 1024) -> dict[str, float]:
    """Whole-signal summary (for notebooks and tests): mean of each frame descriptor and the sequence features."""
    y = np.asarray(y, dtype=np.float64)
    n_frames = y.size // hop + 1
    pool = frame_descriptors(y, sr, frame, hop, n_frames)
    out = {k: float(np.mean(v)) for k, v in pool.items()}
    out.update(sequence_features(pool, sr / hop))
    return out
