"""Essentia feature engine: the one extractor configuration, and pool -> named vector.

Reads and writes no files. ``extractor.py`` decodes audio and calls :func:`analyse`.
Everything that decides what a feature vector means lives here: the analysis sample rate,
frame and hop sizes, which Essentia ``Extractor`` groups run, and which statistics are
taken over frames. Training and prediction both use :data:`DEFAULT_CONFIG` unless told
otherwise, and every artifact records :meth:`ExtractorConfig.to_dict`, so they cannot drift.

Example::

    >>> import numpy as np
    >>> from essentia_engine import DEFAULT_CONFIG, analyse, feature_names
    >>> y = np.zeros(22050, dtype=np.float32)
    >>> vec = analyse(y, DEFAULT_CONFIG)
    >>> len(vec) == len(feature_names(DEFAULT_CONFIG))
    True
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import warnings

import numpy as np

from va_utils import EmoTagError

_PUBLISHED_YAMNET_HOP = 7680      # 0.48 s at 16 kHz (va_yamnet.HOP)
_STATS = ("mean", "stdev", "min", "max", "p10", "p90", "dmean", "dstdev")

# Rhythm/tonal outputs kept, and how: "scalar" keeps a number, "frames" takes statistics
# over a (frames,) or (frames, dims) array, "vector" keeps a fixed-length array as is.
_RHYTHM_KEYS = {
    "rhythm.bpm": "scalar", "rhythm.confidence": "scalar", "rhythm.onset_rate": "scalar",
    "rhythm.first_peak_bpm": "scalar", "rhythm.first_peak_weight": "scalar",
    "rhythm.second_peak_bpm": "scalar", "rhythm.second_peak_weight": "scalar",
    "rhythm.bpm_intervals": "frames",
}
_TONAL_KEYS = {
    "tonal.hpcp": "frames", "tonal.chords_strength": "frames",
    "tonal.tuning_frequency": "frames", "tonal.key_strength": "scalar",
    "tonal.chords_changes_rate": "scalar", "tonal.chords_number_rate": "scalar",
    "tonal.chords_histogram": "vector",
}


@dataclasses.dataclass(frozen=True)
class ExtractorConfig:
    """Everything that defines a feature vector.

    Parameters
    ----------
    sample_rate : int, Hz
        Analysis rate; audio is downmixed to mono and resampled to it.
    frame_size, hop_size : int, samples
        Low-level framing at ``sample_rate``.
    rhythm, tonal : bool
        Also run Essentia's rhythm group, or its tuning + mid-level (tonal) group.
    stats : tuple of str
        Statistics over frames, from ``mean, stdev, min, max, p10, p90, dmean, dstdev``
        (``d*`` are over first differences).
    envelope : bool
        Also compute Essentia's ``sfx`` envelope descriptors over the whole signal (log
        attack time, temporal centroid to total length, flatness, max/min to total,
        derivative after the maximum, strong decay, effective duration).
    prosody : bool
        Also compute pitch-contour statistics over voiced frames (voiced ratio, median,
        spread and slope of f0 in semitones, voiced segments per second) and level
        statistics (dB) of voiced frames: the prosody cues of speech.
    trim_db : float or None, dB
        Drop leading and trailing blocks (50 ms) more than this many dB below the
        loudest block before analysis, as speech front-ends do (None: keep everything).
    loudness_norm : float or None, dBFS
        Scale each signal so that the RMS of its non-silent frames equals this level
        before analysis (None: analyse the level as recorded).
    yamnet : bool
        Also add YAMNet's pooled sound-event features (:mod:`va_yamnet`): the mean of its
        521 AudioSet class scores and of its 1024-d embedding over 0.975 s patches, from
        the same decoded signal resampled to 16 kHz. On by default: the shipped models
        use the embedding, and the class scores say what each file is. Block-wise
        (long files) and per-window (``--segments``) analysis stream it patch by patch.
    graph : str
        ``"lean"`` (opt-in; issue 22 will make it the default once the harness has
        chosen it): one frame chain (cut, window, transform
        once) feeding every spectral descriptor (:class:`_LeanLowLevel`); the descriptors
        that are sums of weighted power (energy bands, HFC, Bark and mel bands) come from
        one matrix product over all frames, pitch and the harmonic peaks from Essentia's
        algorithms per frame; pitch salience, spectral contrast, dissonance, strong peak and
        the equal-loudness copy of the signal are gone, and every algorithm is told the
        true sample rate. ``"full"``: Essentia's two low-level composites, as before (the
        models and tables of earlier releases).
    yamnet_hop : int, samples at 16 kHz
        Hop between YAMNet patches: 7680 (0.48 s, as published) by default;
        :data:`LEAN_CONFIG` uses 15360 (0.96 s, half the published rate).
    psychoacoustics : bool
        Also compute the ``psy.`` group (:mod:`va_psychoacoustics`): ISO 532-1 loudness,
        DIN 45692 sharpness, roughness and tonality per frame (with the usual statistics),
        and percentile loudness N5, fluctuation strength, modulation rate and Zwicker's
        psychoacoustic annoyance over the frame sequence. On the low-level frame grid, so
        whole-file, block-wise and per-window analysis agree.
    silence_dither : float
        Amplitude of the seeded Gaussian noise written into samples that are exactly 0.
        Essentia's ``Extractor`` adds *unseeded* noise to digitally silent frames, which
        makes features of files with digital silence differ from run to run (max
        |a - b| / (|a| + |b|) of 0.54 on a silent clip); a fixed -80 dBFS dither in those samples makes them deterministic and
        leaves every non-zero sample untouched.
    """

    sample_rate: int = 22050
    frame_size: int = 2048
    hop_size: int = 1024
    rhythm: bool = False
    tonal: bool = False
    stats: tuple = _STATS
    envelope: bool = True
    prosody: bool = True
    trim_db: float | None = 40.0
    loudness_norm: float | None = None
    silence_dither: float = 1e-4
    yamnet: bool = True
    psychoacoustics: bool = True
    graph: str = "full"
    yamnet_hop: int = 7680

    def __post_init__(self):
        bad = [s for s in self.stats if s not in _STATS]
        if bad or not self.stats:
            raise EmoTagError(f"Unknown statistics {bad}; expected some of {_STATS}")
        if self.graph not in ("lean", "full"):
            raise EmoTagError(f"Unknown extractor graph {self.graph!r}; expected 'lean' or 'full'")
        if self.sample_rate < 4000 or self.frame_size < 64 or not 0 < self.hop_size <= self.frame_size:
            raise EmoTagError(f"Implausible extractor settings: {self}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["stats"] = list(self.stats)
        d["engine"] = "essentia.standard.Extractor" if self.graph == "full" else "emotag lean graph (Essentia algorithms)"
        if not d["yamnet"]:
            del d["yamnet"]     # configurations from before the field keep their key and their models
        if not d["psychoacoustics"]:
            del d["psychoacoustics"]
        if d["graph"] == "full":            # configurations from before issue 22: the same key
            del d["graph"]
        if not d.get("yamnet") or ("graph" not in d and d["yamnet_hop"] == _PUBLISHED_YAMNET_HOP):
            del d["yamnet_hop"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ExtractorConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        kw.setdefault("yamnet", False)      # written before the field existed: no YAMNet group
        kw.setdefault("psychoacoustics", False)
        kw.setdefault("graph", "full")      # written before issue 22: Essentia's two composites
        kw.setdefault("yamnet_hop", _PUBLISHED_YAMNET_HOP if kw["graph"] == "full" else 2 * _PUBLISHED_YAMNET_HOP)
        if "stats" in kw:
            kw["stats"] = tuple(kw["stats"])
        return cls(**kw)

    @property
    def key(self) -> str:
        """Short stable hash of the configuration (cache and database key)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def min_samples(self) -> int:
        """Shortest signal analysed without padding: one frame."""
        return self.frame_size


DEFAULT_CONFIG = ExtractorConfig()
#: The default before issue 22 (Essentia's two composites, the psy. group, YAMNet every
#: 0.48 s): the configuration of the tables and models of earlier releases, and the
#: "before" of the harness's before/after.
PREVIOUS_CONFIG = ExtractorConfig(graph="full", psychoacoustics=True, yamnet_hop=_PUBLISHED_YAMNET_HOP)
#: The lean graph of issue 22 (one frame chain, no psy. group, YAMNet every 0.96 s): not
#: yet the default; the harness has to choose it first (docs/RESULTS.md).
LEAN_CONFIG = ExtractorConfig(graph="lean", psychoacoustics=False, yamnet_hop=2 * _PUBLISHED_YAMNET_HOP)


def _essentia():
    import essentia
    essentia.log.infoActive = False
    essentia.log.warningActive = False
    import essentia.standard as es
    return es


class _Pool(dict):
    """``{descriptor name: frames}``, answering the two calls of an Essentia pool we use."""

    def descriptorNames(self):
        return list(self.keys())


_SFX_OUTPUTS = ("inharmonicity", "tristimulus", "oddtoevenharmonicenergyratio")


class _LowLevel:
    """The low-level part of Essentia's ``Extractor``, without its memory leak.

    ``essentia.standard.Extractor`` builds a new streaming network on every call and
    does not free all of it: 100 calls on one 5 s signal grew the process by 102 MB
    (``bench/bench_leak.py``), and ``bench/bench_library.py`` (at commit efeef7b) saw
    the largest process's peak grow from 296 MB at 100 files to 508 MB at 2,000. Its
    low-level group is exactly ``LowLevelSpectralExtractor`` plus
    ``LowLevelSpectralEqloudExtractor`` on the same signal, whose standard-mode versions
    do not leak; this runs those two (configured once) and names their outputs as the
    ``Extractor`` does, so the features are bit-identical (``tests/test_extractor.py``).
    """

    def __init__(self, config):
        es = _essentia()
        self.config = config
        kw = dict(frameSize=config.frame_size, hopSize=config.hop_size, sampleRate=float(config.sample_rate))
        self.plain = es.LowLevelSpectralExtractor(**kw)
        self.eqloud = es.LowLevelSpectralEqloudExtractor(**kw)
        self.plain_names = self.plain.outputNames()
        self.eqloud_names = self.eqloud.outputNames()

    def __call__(self, y):
        pool = _Pool()
        self.plain.reset()      # standard-mode composites keep state between calls: the
        self.eqloud.reset()     # equal-loudness one returns its first signal's frames without this
        for n, v in zip(self.plain_names, self.plain(y)):
            pool[("sfx." if n in _SFX_OUTPUTS else "lowLevel.") + n] = v
        for n, v in zip(self.eqloud_names, self.eqloud(y)):
            pool["lowLevel." + n] = v
        return _with_psy(pool, y, self.config)


class _LeanLowLevel:
    """The lean low-level graph: one frame chain for every spectral descriptor.

    Frames are cut on Essentia's ``FrameCutter`` grid (frame ``k`` centred on sample
    ``k * hop``, zero-padded at the ends, ``ceil(n / hop) + 1`` frames), windowed
    (Blackman-Harris 62 dB, normalised as Essentia's ``Windowing``) and transformed once,
    in batches of frames with NumPy. From that one magnitude spectrum:

    * one matrix product gives everything that is a weighted sum of power: spectral
      energy, the four energy bands, HFC, the Bark bands (those below Nyquist) and the 40
      mel bands of the MFCC; the weights are read from Essentia's own ``Energy``,
      ``EnergyBand``, ``HFC``, ``BarkBands`` and ``MelBands`` (one unit impulse per bin,
      once per configuration), so the values are theirs;
    * vectorised formulas give spectral RMS, flux, roll-off, decrease, centroid, spread,
      skewness and kurtosis, the Bark-band shape, crest and flatness, the MFCC (log and
      DCT of the mel bands, as Essentia's ``MFCC``), zero-crossing and silence rates;
      ``tests/test_extractor.py`` checks each against the Essentia algorithm;
    * per frame, Essentia's ``PitchYinFFT`` (the prosody needs it), ``SpectralPeaks``
      (spectral complexity counts its peaks above 0.005), ``HarmonicPeaks`` and the
      tristimulus, odd-to-even ratio and inharmonicity of the harmonics.

    Compared with the two composites of the full graph it drops the equal-loudness copy
    of the signal with its second frame chain, pitch salience, spectral contrast,
    dissonance and strong peak, and tells every algorithm the true sample rate (the
    composites leave most of theirs at 44.1 kHz).
    """

    BATCH = 512     # frames per NumPy batch: bounded memory for any signal length

    def __init__(self, config):
        es = _essentia()
        self.config = config
        sr, N = float(config.sample_rate), config.frame_size
        n = N // 2 + 1
        self.n_bins = n
        self.window = np.asarray(es.Windowing(type="blackmanharris62", size=N, zeroPhase=False)(
            np.ones(N, np.float32)), dtype=np.float32)
        nyq = sr / 2

        def weights(alg):
            rows = []
            for k in range(n):
                e = np.zeros(n, np.float32)
                e[k] = 1.0
                rows.append(np.atleast_1d(np.asarray(alg(e), dtype=np.float64)))
            return np.stack(rows)

        bands = [("spectral_energy", weights(es.Energy()))]
        for name, lo, hi in (("low", 20, 150), ("middle_low", 150, 800), ("middle_high", 800, 4000),
                             ("high", 4000, 20000)):
            bands.append((f"spectral_energyband_{name}", weights(es.EnergyBand(
                startCutoffFrequency=min(lo, nyq), stopCutoffFrequency=min(hi, nyq), sampleRate=sr))))
        bands.append(("hfc", weights(es.HFC(sampleRate=sr))))
        bark = weights(es.BarkBands(numberBands=27, sampleRate=sr))
        bark = bark[:, bark.any(axis=0)]                  # the bands below Nyquist
        mel = weights(es.MelBands(inputSize=n, numberBands=40, sampleRate=sr, highFrequencyBound=min(11000.0, nyq),
                                  type="power", normalize="unit_sum"))
        self.scalar_names = [b[0] for b in bands]
        self.n_bark = bark.shape[1]
        self.W = np.concatenate([b[1] for b in bands] + [bark, mel], axis=1)
        self.freqs = np.arange(n) * nyq / (n - 1)
        self.silence_thresholds = [10 ** (t / 2.0 / 10.0) for t in (-20, -30, -60)]   # SilenceRate's
        self.yin = es.PitchYinFFT(frameSize=N, sampleRate=sr)
        self.peaks = es.SpectralPeaks(orderBy="frequency", minFrequency=sr / N, sampleRate=sr)
        self.harmonic = es.HarmonicPeaks()
        self.tristimulus = es.Tristimulus()
        self.odd_even = es.OddToEvenHarmonicEnergyRatio()
        self.inharmonicity = es.Inharmonicity()

    def _frames(self, y, k0, k1):
        N, hop = self.config.frame_size, self.config.hop_size
        start = np.arange(k0, k1) * hop - N // 2
        lo, hi = max(0, int(start[0])), min(y.size, int(start[-1]) + N)
        seg = np.zeros(int(start[-1]) + N - int(start[0]), np.float32)
        seg[lo - int(start[0]): hi - int(start[0])] = y[lo:hi]
        idx = (start - start[0])[:, None] + np.arange(N)[None, :]
        return seg[idx]

    def __call__(self, y):
        import scipy.fft
        y = np.asarray(y, dtype=np.float32)
        cfg = self.config
        nyq = cfg.sample_rate / 2
        n_fr = -(-y.size // cfg.hop_size) + 1
        out: dict[str, list] = {}
        prev = np.zeros(self.n_bins, np.float32)
        for k0 in range(0, n_fr, self.BATCH):
            F = self._frames(y, k0, min(n_fr, k0 + self.BATCH))
            S = np.abs(scipy.fft.rfft(F * self.window, axis=1)).astype(np.float32)
            part = self._vectorised(F, S, prev, nyq)
            part.update(self._per_frame(S))
            prev = S[-1]
            for name, v in part.items():
                out.setdefault(name, []).append(v)
        # float32, as Essentia's algorithms return them
        pool = _Pool({name: np.concatenate(v).astype(np.float32) for name, v in out.items()})
        return _with_psy(pool, y, cfg)

    def _vectorised(self, F, S, prev, nyq):
        P = S.astype(np.float64) ** 2
        B = P @ self.W
        ns = len(self.scalar_names)
        out = {f"lowLevel.{name}": B[:, i] for i, name in enumerate(self.scalar_names)}
        bark = B[:, ns:ns + self.n_bark]
        mel = B[:, ns + self.n_bark:]
        import scipy.fft
        out["lowLevel.mfcc"] = scipy.fft.dct(20 * np.log10(np.maximum(mel, 1e-10)), type=2, norm="ortho", axis=1)[:, :13]
        out["lowLevel.barkbands"] = bark
        out["lowLevel.spectral_rms"] = np.sqrt(P.mean(axis=1))
        d = np.diff(np.concatenate([prev[None, :], S]), axis=0)
        out["lowLevel.spectral_flux"] = np.sqrt((d.astype(np.float64) ** 2).sum(axis=1))
        total = P.sum(axis=1)
        cum = np.cumsum(P, axis=1)
        k = np.argmax(cum >= 0.85 * total[:, None], axis=1)
        out["lowLevel.spectral_rolloff"] = np.where(total > 0, self.freqs[k], 0.0)
        f = self.freqs
        fc = f - f.mean()
        out["lowLevel.spectral_decrease"] = (P - P.mean(axis=1, keepdims=True)) @ fc / (fc @ fc)
        for prefix, A, x in (("spectral", S, f), ("barkbands", bark, np.arange(bark.shape[1], dtype=np.float64))):
            # central moments of the normalised distribution from raw moments (one matrix
            # product), on an abscissa scaled to [0, 1] for accuracy, scaled back after
            top = x[-1]
            u = x / top
            R = np.asarray(A, dtype=np.float64) @ np.stack([np.ones_like(u), u, u ** 2, u ** 3, u ** 4], axis=1)
            s0 = np.where(R[:, 0] > 0, R[:, 0], 1.0)
            m1, r2, r3, r4 = (R[:, i] / s0 for i in range(1, 5))
            m2 = np.maximum(r2 - m1 ** 2, 0.0)
            m3 = r3 - 3 * m1 * r2 + 2 * m1 ** 3
            m4 = r4 - 4 * m1 * r3 + 6 * m1 ** 2 * r2 - 3 * m1 ** 4
            with np.errstate(divide="ignore", invalid="ignore"):
                skew = np.where(m2 > 1e-12, m3 / m2 ** 1.5, 0.0)
                kurt = np.where(m2 > 1e-12, m4 / m2 ** 2 - 3.0, -3.0)
            if prefix == "spectral":
                out["lowLevel.spectral_centroid"] = np.where(R[:, 0] > 0, m1 * top, 0.0)
            out[f"lowLevel.{prefix}_spread"] = m2 * top ** 2
            out[f"lowLevel.{prefix}_skewness"] = skew
            out[f"lowLevel.{prefix}_kurtosis"] = kurt
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = bark.mean(axis=1)
            out["lowLevel.spectral_crest"] = np.where(mean > 0, bark.max(axis=1) / mean, 0.0)
            geo = np.exp(np.log(np.where(bark > 0, bark, 1.0)).mean(axis=1))
            flat = np.where((bark > 0).all(axis=1) & (mean > 0), -10 * np.log10(geo / mean) / 60.0, 1.0)
        out["lowLevel.spectral_flatness_db"] = flat
        pos = F > 0                      # as Essentia's ZeroCrossingRate: zero is not positive
        out["lowLevel.zerocrossingrate"] = (pos[:, 1:] != pos[:, :-1]).sum(axis=1) / F.shape[1]
        power = (F.astype(np.float64) ** 2).mean(axis=1)
        for name, t in zip(("20dB", "30dB", "60dB"), self.silence_thresholds):
            out[f"lowLevel.silence_rate_{name}"] = (power < t).astype(np.float64)
        return out

    def _per_frame(self, S):
        # ``__compute__`` is what Essentia's Python wrapper calls after checking and
        # converting its arguments; the inputs here are already contiguous float32, and
        # skipping the wrapper halves the cost of these ~6 calls per frame
        m = S.shape[0]
        f0, conf, cx = np.zeros(m), np.zeros(m), np.zeros(m)
        tri, oe, inh = np.zeros((m, 3)), np.zeros(m), np.zeros(m)
        yin, peaks, harmonic = self.yin.__compute__, self.peaks.__compute__, self.harmonic.__compute__
        tris, odd_even, inharm = (self.tristimulus.__compute__, self.odd_even.__compute__,
                                  self.inharmonicity.__compute__)
        S = np.ascontiguousarray(S, dtype=np.float32)
        for i in range(m):
            s = S[i]
            f0[i], conf[i] = yin(s)
            fr, mg = peaks(s)
            cx[i] = np.count_nonzero(mg > 0.005)
            if f0[i] > 0 and fr.size:
                hf, hm = harmonic(fr, mg, float(f0[i]))
                if hf.size:
                    tri[i] = tris(hf, hm)
                    oe[i] = odd_even(hf, hm)
                    inh[i] = inharm(hf, hm)
        return {"lowLevel.pitch": f0, "lowLevel.pitch_instantaneous_confidence": conf,
                "lowLevel.spectral_complexity": cx, "sfx.tristimulus": tri,
                "sfx.oddtoevenharmonicenergyratio": oe, "sfx.inharmonicity": inh}


def _with_psy(pool, y, config):
    """Add the per-frame ``psy.`` descriptors (on the pool's own frame grid) when configured."""
    if not config.psychoacoustics:
        return pool
    import va_psychoacoustics
    if not isinstance(pool, dict):
        pool = _Pool({n: pool[n] for n in pool.descriptorNames()})
    framed = [n for n in pool if n.startswith(("lowLevel.", "sfx.")) and np.ndim(pool[n]) >= 1 and len(pool[n])]
    n_fr = min(len(pool[n]) for n in framed) if framed else 0
    pool.update(va_psychoacoustics.frame_descriptors(y, config.sample_rate, config.frame_size, config.hop_size, n_fr))
    return pool


class _Extractor:
    """Essentia's ``Extractor`` (rhythm or tonal groups), with the ``psy.`` frames added."""

    def __init__(self, config, algo):
        self.config, self.algo = config, algo

    def __call__(self, y):
        return _with_psy(self.algo(y), y, self.config)


@functools.lru_cache(maxsize=8)
def _algorithm(config: ExtractorConfig):
    """One configured analysis per config and process, reused across files.

    The low-level group alone (the default) runs :class:`_LowLevel`; with rhythm or
    tonal groups, Essentia's ``Extractor`` (which leaks about 1 MB per call).
    """
    if not (config.rhythm or config.tonal):
        return _LeanLowLevel(config) if config.graph == "lean" else _LowLevel(config)
    es = _essentia()
    return _Extractor(config, es.Extractor(
        lowLevel=True, rhythm=config.rhythm, midLevel=config.tonal, tuning=config.tonal,
        highLevel=False, dynamics=False, relativeIoi=False, sampleRate=float(config.sample_rate),
        lowLevelFrameSize=config.frame_size, lowLevelHopSize=config.hop_size,
    ))


def _frame_stats(a: np.ndarray, stats) -> list[tuple[str, np.ndarray]]:
    """Statistics over axis 0 of a (frames,) or (frames, dims) array, NaN-safe.

    All-finite input (the usual case) takes the plain NumPy reductions, which give the
    same values as the ``nan*`` ones in a fraction of the time.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    finite = bool(np.isfinite(a).all())
    if not finite:
        a = np.where(np.isfinite(a), a, np.nan)
    mean, std, amin, amax, pct = ((np.mean, np.std, np.min, np.max, np.percentile) if finite else
                                  (np.nanmean, np.nanstd, np.nanmin, np.nanmax, np.nanpercentile))
    empty = np.full(a.shape[1], np.nan)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        d = np.diff(a, axis=0) if a.shape[0] > 1 else np.zeros((1, a.shape[1]))
        p10 = p90 = empty
        if a.shape[0] and ("p10" in stats or "p90" in stats):
            p10, p90 = pct(a, [10, 90], axis=0)
        for s in stats:
            if s == "mean":
                v = mean(a, axis=0)
            elif s == "stdev":
                v = std(a, axis=0)
            elif s == "min":
                v = amin(a, axis=0) if a.shape[0] else empty
            elif s == "max":
                v = amax(a, axis=0) if a.shape[0] else empty
            elif s == "p10":
                v = p10
            elif s == "p90":
                v = p90
            elif s == "dmean":
                v = mean(np.abs(d), axis=0)
            else:  # dstdev
                v = std(d, axis=0)
            out.append((s, v))
    return out


def aggregate(pool, config: ExtractorConfig) -> dict[str, float]:
    """Turn an Essentia pool (or a ``{name: frames}`` dict) into an ordered ``{name: value}`` dict.

    Frame-wise descriptors get one value per statistic, named ``<descriptor>.<stat>`` or,
    for arrays, ``<descriptor>.<stat>.<i>``. Values may be NaN where a descriptor is
    undefined (for example over digital silence); :func:`analyse` decides what to do.
    """
    feats: dict[str, float] = {}

    def put_stats(name, arr):
        arr = np.asarray(arr, dtype=np.float64)
        for s, v in _frame_stats(arr, config.stats):
            if arr.ndim == 1:
                feats[f"{name}.{s}"] = float(v[0])
            else:
                for i, x in enumerate(v):
                    feats[f"{name}.{s}.{i}"] = float(x)

    names = sorted(pool.descriptorNames() if hasattr(pool, "descriptorNames") else pool.keys())
    for name in names:
        if name.startswith(("lowLevel.", "sfx.", "psy.")):
            put_stats(name, pool[name])
    for table, enabled in ((_RHYTHM_KEYS, config.rhythm), (_TONAL_KEYS, config.tonal)):
        if not enabled:
            continue
        for name, kind in table.items():
            val = pool[name] if name in names else None
            if kind == "scalar":
                v = np.asarray(val if val is not None else np.nan, dtype=np.float64).ravel()
                feats[name] = float(v[0]) if v.size else float("nan")
            elif kind == "frames":
                arr = np.asarray(val if val is not None else [], dtype=np.float64)
                if name == "rhythm.bpm_intervals" or arr.ndim == 1:
                    arr = arr.reshape(-1)
                put_stats(name, arr)
            else:
                for i, x in enumerate(np.asarray(val, dtype=np.float64).ravel()):
                    feats[f"{name}.{i}"] = float(x)
    return feats


def _flatness_sfx(env: np.ndarray) -> float:
    """Essentia's ``FlatnessSFX`` (95th over 20th percentile of the envelope), computed
    with a partial sort instead of a full one: the same float32 arithmetic, O(n)."""
    env = np.asarray(env, dtype=np.float32)
    last = env.size - 1

    def roll_off(threshold):
        indexf = np.float32(last) * np.float32(threshold) / np.float32(100.0)
        i = int(indexf)
        if indexf == i:
            return np.partition(env, i)[i]
        lo, hi = np.partition(env, (i, i + 1))[[i, i + 1]]
        return (hi - lo) * np.float32(indexf - i) + lo

    den = roll_off(20.0)
    return 1.0 if den == 0 else float(np.float32(roll_off(95.0) / den))


def envelope_descriptors(env: np.ndarray, sr: float, deriv_scale: float = 1.0) -> dict[str, float]:
    """The ``sfx`` descriptors of an amplitude envelope ``env`` sampled at ``sr`` Hz.

    ``deriv_scale`` rescales the derivative descriptors when ``env`` is a decimated
    envelope (1/D for every D-th sample), so that they stay per input sample.
    """
    es = _essentia()
    env = np.ascontiguousarray(env, dtype=np.float32)
    lat, _, _ = es.LogAttackTime(sampleRate=float(sr))(env)
    der_after_max, max_der_before_max = es.DerivativeSFX()(env)
    return {
        "sfx.log_attack_time": float(lat),
        "sfx.tc_to_total": float(es.TCToTotal()(env)),
        "sfx.flatness": _flatness_sfx(env),
        "sfx.max_to_total": float(es.MaxToTotal()(env)),
        "sfx.min_to_total": float(es.MinToTotal()(env)),
        "sfx.der_av_after_max": float(der_after_max) * deriv_scale,
        "sfx.max_der_before_max": float(max_der_before_max) * deriv_scale,
    }


def envelope_features(y: np.ndarray, sr: int) -> dict[str, float]:
    """Essentia ``sfx`` envelope descriptors of the whole signal ``y`` (mono, at ``sr``)."""
    es = _essentia()
    feats = envelope_descriptors(es.Envelope(sampleRate=float(sr))(y), sr)
    feats["sfx.strong_decay"] = float(np.log10(1e-9 + es.StrongDecay(sampleRate=float(sr))(y)))
    feats["sfx.effective_duration"] = float(es.EffectiveDuration(sampleRate=float(sr))(y))
    return feats


def prosody_features(pool, config: ExtractorConfig) -> dict[str, float]:
    """Pitch-contour and level statistics over voiced frames of an ``Extractor`` pool.

    A frame is voiced when its YinFFT confidence exceeds 0.5 and its f0 lies in
    50..1000 Hz. f0 is in semitones re 55 Hz; levels are ``20 log10(rms)``. With fewer
    than 3 voiced frames (noise, most sound effects) the pitch and voiced-level values
    are 0, and ``voiced_ratio`` says why; that is expected, so no warning is raised.
    """
    f0 = np.asarray(pool["lowLevel.pitch"], dtype=np.float64).ravel()
    conf = np.asarray(pool["lowLevel.pitch_instantaneous_confidence"], dtype=np.float64).ravel()
    rms = np.asarray(pool["lowLevel.spectral_rms"], dtype=np.float64).ravel()
    n = min(f0.size, conf.size, rms.size)
    f0, conf, rms = f0[:n], conf[:n], rms[:n]
    voiced = (conf > 0.5) & (f0 > 50) & (f0 < 1000)
    level = 20 * np.log10(np.maximum(rms, 1e-10))
    out = {"prosody.voiced_ratio": float(voiced.mean()) if n else 0.0}
    seconds = max(n * config.hop_size / config.sample_rate, 1e-9)
    onsets = np.flatnonzero(np.diff(np.r_[0, voiced.astype(int)]) == 1)
    out["prosody.voiced_segments_per_s"] = float(onsets.size / seconds)
    nan = float("nan")
    if voiced.sum() < 3:
        nan = 0.0  # unvoiced: defined as 0 (see the docstring), not a failure
    if voiced.sum() >= 3:
        st = 12 * np.log2(f0[voiced] / 55.0)
        t = np.flatnonzero(voiced) * config.hop_size / config.sample_rate
        p10, p50, p90 = np.percentile(st, [10, 50, 90])
        d = np.diff(st)
        out.update({
            "prosody.f0_median": float(p50), "prosody.f0_std": float(st.std()),
            "prosody.f0_range": float(p90 - p10), "prosody.f0_slope": float(np.polyfit(t, st, 1)[0]),
            "prosody.f0_abs_delta": float(np.abs(d).mean()),
            "prosody.level_voiced_mean": float(level[voiced].mean()),
            "prosody.level_voiced_std": float(level[voiced].std()),
        })
    else:
        for k in ("f0_median", "f0_std", "f0_range", "f0_slope", "f0_abs_delta",
                  "level_voiced_mean", "level_voiced_std"):
            out[f"prosody.{k}"] = nan
    active = level > level.max() - 40 if n else np.zeros(0, bool)
    out["prosody.level_active_mean"] = float(level[active].mean()) if active.any() else nan
    out["prosody.level_range"] = float(np.percentile(level, 95) - np.percentile(level, 5)) if n else nan
    return out


def _block_db(y: np.ndarray, sr: int):
    hop = max(1, int(0.05 * sr))
    n = max(1, y.size // hop)
    blocks = y[: n * hop].reshape(n, -1) if y.size >= hop else y[None, :]
    ms = (blocks.astype(np.float64) ** 2).mean(axis=1)
    return 10 * np.log10(np.maximum(ms, 1e-20)), hop


def trim_silence(y: np.ndarray, top_db: float, sr: int) -> np.ndarray:
    """Drop leading/trailing 50 ms blocks more than ``top_db`` below the loudest block."""
    db, hop = _block_db(y, sr)
    keep = np.flatnonzero(db > db.max() - top_db)
    if keep.size == 0 or db.max() <= -200:
        return y
    return y[keep[0] * hop: min(y.size, (keep[-1] + 1) * hop)]


def normalise_loudness(y: np.ndarray, target_db: float, sr: int) -> np.ndarray:
    """Scale ``y`` so that the RMS of its non-silent 50 ms blocks is ``target_db`` dBFS.

    Blocks more than 40 dB below the loudest block are ignored; an all-silent signal is
    returned unchanged.
    """
    db, _ = _block_db(y, sr)
    if db.max() <= -200:
        return y
    active = 10 ** (db[db > db.max() - 40] / 10)
    gain = 10 ** ((target_db - 10 * np.log10(active.mean())) / 20)
    return (y * np.float32(gain)).astype(np.float32)


def _features(y: np.ndarray, config: ExtractorConfig, *, yamnet: bool = True) -> dict[str, float]:
    pool = _algorithm(config)(y)
    feats = aggregate(pool, config)
    if config.envelope:
        feats.update(envelope_features(y, config.sample_rate))
    if config.prosody:
        feats.update(prosody_features(pool, config))
    if config.psychoacoustics:
        feats.update(psy_sequence(pool, config))
    if config.yamnet and yamnet:
        import va_yamnet
        feats.update(va_yamnet.features(y, config.sample_rate, hop=config.yamnet_hop))
    return feats


def psy_sequence(pool, config: ExtractorConfig) -> dict[str, float]:
    """The ``psy.`` features of a frame sequence (:func:`va_psychoacoustics.sequence_features`)."""
    import va_psychoacoustics
    return va_psychoacoustics.sequence_features(pool, config.sample_rate / config.hop_size)


def _reference_signal(sr: int) -> np.ndarray:
    """A fixed 3 s test signal (tone + noise + clicks) used to list the feature names."""
    rng = np.random.default_rng(0)
    t = np.arange(3 * sr) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    y[:: sr // 2] += 0.9
    return y.astype(np.float32)


@functools.lru_cache(maxsize=8)
def feature_names(config: ExtractorConfig = DEFAULT_CONFIG) -> tuple[str, ...]:
    """The ordered feature names of ``config`` (the columns of every feature table)."""
    names = tuple(_features(_reference_signal(config.sample_rate), config, yamnet=False).keys())
    if config.yamnet:
        import va_yamnet
        names += va_yamnet.feature_names()
    return names


def analyse(y: np.ndarray, config: ExtractorConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Features of a mono signal already at ``config.sample_rate``.

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32 in [-1, 1]
        Mono audio. Signals shorter than one frame are zero-padded to one frame, with a
        warning. Non-finite samples must be removed by the caller. Exactly-zero samples
        get ``config.silence_dither`` (see :class:`ExtractorConfig`).

    Returns
    -------
    features : np.ndarray, shape (len(feature_names(config)),), float64
        Finite values in the order of :func:`feature_names`. Descriptors that are
        undefined for this signal (all frames NaN, as over digital silence) are set to 0
        with a warning.
    """
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise EmoTagError(f"Audio must be mono and one-dimensional, given y.shape={y.shape}")
    if y.size < config.min_samples:
        warnings.warn(
            f"signal of {y.size / config.sample_rate:.3f} s is shorter than one analysis frame "
            f"({config.min_samples / config.sample_rate:.3f} s); zero-padded to one frame",
            stacklevel=2,
        )
        y = np.pad(y, (0, config.min_samples - y.size))
    if config.trim_db is not None:
        y = trim_silence(y, config.trim_db, config.sample_rate)
        if y.size < config.min_samples:
            y = np.pad(y, (0, config.min_samples - y.size))
    if config.loudness_norm is not None:
        y = normalise_loudness(y, config.loudness_norm, config.sample_rate)
    zeros = y == 0
    if config.silence_dither > 0 and zeros.any():
        y = y.copy()
        noise = np.random.default_rng(0).standard_normal(int(zeros.sum())).astype(np.float32)
        y[zeros] = noise * np.float32(config.silence_dither)
    return _vector(_features(y, config), config)


def _vector(feats: dict, config: ExtractorConfig) -> np.ndarray:
    names = feature_names(config)
    vec = np.array([feats.get(n, np.nan) for n in names], dtype=np.float64)
    bad = ~np.isfinite(vec)
    if bad.any():
        shown = ", ".join(np.array(names)[bad][:3])
        warnings.warn(f"{int(bad.sum())} descriptors undefined for this signal ({shown}, ...); set to 0",
                      stacklevel=3)
        vec[bad] = 0.0
    return vec


# ----------------------------------------------------------------- block-wise analysis
#: Envelope decimation of the block-wise path (every D-th envelope sample is kept).
ENVELOPE_DECIMATION = 8
#: Seconds of preceding signal fed to the envelope follower of each block (its release
#: time is 1.5 s, so the restart error decays to e^-6.7 of the past peak).
ENVELOPE_CONTEXT_S = 10.0


class _Blocks:
    """Re-cut a stream of mono chunks into blocks of ``size`` samples (the last one shorter)."""

    def __init__(self, chunks, size: int):
        self.chunks, self.size = iter(chunks), size

    def __iter__(self):
        buf, start = [], 0
        have = 0
        pending = None
        for c in self.chunks:
            c = np.asarray(c, dtype=np.float32).ravel()
            if c.size == 0:
                continue
            buf.append(c)
            have += c.size
            while have >= self.size:
                cat = np.concatenate(buf)
                block, rest = cat[:self.size], cat[self.size:]
                if pending is not None:
                    yield start, pending, False
                    start += pending.size
                pending = block
                buf, have = ([rest] if rest.size else []), rest.size
        tail = np.concatenate(buf) if buf else np.zeros(0, np.float32)
        if pending is not None and tail.size == 0:
            yield start, pending, True
            return
        if pending is not None:
            yield start, pending, False
            start += pending.size
        if tail.size:
            yield start, tail, True


def _span(chunks, a: int, b: int):
    """The samples ``a:b`` of a stream of chunks."""
    pos = 0
    for c in chunks:
        c = np.asarray(c, dtype=np.float32).ravel()
        lo, hi = max(a - pos, 0), min(b - pos, c.size)
        if hi > lo:
            yield c[lo:hi]
        pos += c.size
        if pos >= b:
            return


def trim_span(chunks, top_db: float | None, sr: int) -> tuple[int, int, int]:
    """``(a, b, n)``: the span :func:`trim_silence` would keep, from a stream, and its length."""
    hop = max(1, int(0.05 * sr))
    ms, rem, n = [], np.zeros(0, np.float32), 0
    for c in chunks:
        c = np.asarray(c, dtype=np.float32).ravel()
        n += c.size
        y = np.concatenate([rem, c])
        m = y.size // hop * hop
        if m:
            ms.append((y[:m].astype(np.float64) ** 2).reshape(-1, hop).mean(axis=1))
        rem = y[m:]
    if n == 0:
        raise EmoTagError("no audio samples")
    if top_db is None:
        return 0, n, n
    db = 10 * np.log10(np.maximum(np.concatenate(ms), 1e-20)) if ms else \
        np.array([10 * np.log10(max((rem.astype(np.float64) ** 2).mean(), 1e-20))])
    keep = np.flatnonzero(db > db.max() - top_db)
    if keep.size == 0 or db.max() <= -200:
        return 0, n, n
    return int(keep[0] * hop), int(min(n, (keep[-1] + 1) * hop)), n


def _stream_frames(chunks, config: ExtractorConfig, block: int, *, tail_keep: int = 0):
    """Frame descriptors of a signal stream, block by block, on the whole-signal grid.

    Yields ``(start, x, frames, centers, tail)`` per block: ``x`` is the block (silence
    dithered as :func:`analyse` does), ``frames`` the ``{name: array}`` of the frames
    whose centre falls in this block's share of the grid, ``centers`` their centre
    samples, and ``tail`` the last ``tail_keep`` samples before this block (context
    for callers). Each block is fed to Essentia with enough preceding signal (at least
    4 frames and 0.5 s) that every kept frame sees the same samples, and the spectral
    flux the same previous frame, as in a whole-signal analysis.
    """
    sr, hop, frame = config.sample_rate, config.hop_size, config.frame_size
    lead = -(-(frame // 2) // hop) * hop                         # >= half a frame, on the grid
    ctx = -(-max(4 * frame, int(0.5 * sr)) // hop) * hop + lead  # signal before each block
    keep_tail = max(ctx, tail_keep)
    rng = np.random.default_rng(0)
    extractor = _algorithm(config)
    tail = np.zeros(0, np.float32)
    for start, x, last in _Blocks(chunks, block):
        zeros = x == 0
        if config.silence_dither > 0 and zeros.any():
            x = x.copy()
            x[zeros] = rng.standard_normal(int(zeros.sum())).astype(np.float32) * np.float32(config.silence_dither)
        seg = np.concatenate([tail[-ctx:], x]) if start else x
        s0 = start - (seg.size - x.size)
        pool = extractor(seg)
        names = [n for n in pool.descriptorNames() if n.startswith(("lowLevel.", "sfx.", "psy."))]
        n_fr = min(len(pool[n]) for n in names)
        c = s0 + np.arange(n_fr) * hop
        keep = (c >= (start - lead if start else 0)) & ((c < start + block - lead) | last)
        frames = {n: np.asarray(pool[n], dtype=np.float32)[:n_fr][keep] for n in names}
        yield start, x, frames, c[keep], tail
        tail = np.concatenate([tail, x])[-keep_tail:]


def _block_size(config: ExtractorConfig, block_seconds: float) -> int:
    """Samples per block: a multiple of the hop and of the envelope decimation."""
    hop, D = config.hop_size, ENVELOPE_DECIMATION
    grid = hop * D // int(np.gcd(hop, D))
    return max(1, round(block_seconds * config.sample_rate / grid)) * grid


def analyse_stream(open_chunks, config: ExtractorConfig = DEFAULT_CONFIG, *, block_seconds: float = 60.0) -> np.ndarray:
    """Features of a long signal read as a stream of mono chunks, in bounded memory.

    ``open_chunks()`` must return a fresh iterator over the signal (mono float32 at
    ``config.sample_rate``, finite) each time it is called: a first pass finds the
    silence-trimmed span (as :func:`trim_silence` would), a second pass analyses that
    span in blocks of ``block_seconds``. Frames are cut on the grid of a whole-file
    :func:`analyse`, and each block is fed to Essentia with enough preceding signal
    (at least 4 frames and 0.5 s) that every kept frame sees the same samples and the
    spectral flux its true previous frame: the frame-wise statistics are those of a
    whole-file analysis, bit for bit. What differs (bounded in ``tests/test_extractor.py``
    and stated in the README):

    * the envelope descriptors come from an envelope decimated by
      :data:`ENVELOPE_DECIMATION`, each block's follower restarted
      :data:`ENVELOPE_CONTEXT_S` seconds early;
    * the strong decay is summed in float64 (Essentia sums in float32);
    * the effective duration counts samples on a 16-bit amplitude histogram.

    Memory holds one block, the frame descriptors (about 0.4 kB per frame) and the
    decimated envelope (about 10 MB per audio hour at 22.05 kHz), never the signal.
    Rhythm, tonal and loudness normalisation are not supported block-wise. YAMNet (when
    ``config.yamnet``) hears the same span through a streaming resampler
    (:class:`va_yamnet.Stream`); its pooled values match a whole-file run to about 1e-7.
    """
    if config.rhythm or config.tonal or config.loudness_norm is not None:
        raise EmoTagError("block-wise analysis supports the low-level, envelope and prosody groups only "
                          "(no rhythm, tonal or loudness_norm)")
    sr = config.sample_rate
    es = _essentia()
    D = ENVELOPE_DECIMATION
    block = _block_size(config, block_seconds)
    env_ctx = int(ENVELOPE_CONTEXT_S * sr)
    a, b, _ = trim_span(open_chunks(), config.trim_db, sr)
    if b - a < config.min_samples:
        raise EmoTagError("the signal is shorter than one frame once trimmed; use analyse()")
    envelope = es.Envelope(sampleRate=float(sr))

    frames: dict[str, list] = {}
    ystream = _yamnet_stream(config, keep=False)
    env_parts, rise_parts = [], []              # decimated envelope; largest rise per D samples
    sum_sq = sum_abs = sum_iabs = 0.0           # strong decay, over the whole span
    peak = 0.0
    hist = np.zeros(65537, dtype=np.int64)      # |x| in 1/65536 steps of full scale (effective duration)
    for start, x, fr, _, tail in _stream_frames(_span(open_chunks(), a, b), config, block, tail_keep=env_ctx):
        for n, v in fr.items():
            frames.setdefault(n, []).append(v)
        if ystream is not None:
            ystream.feed(x)
        # envelope, decimated on the global grid (blocks start on multiples of D)
        eseg = np.concatenate([tail[-env_ctx:], x]) if start else x
        env_all = np.asarray(envelope(eseg), dtype=np.float32)
        env = env_all[eseg.size - x.size:]
        env_parts.append(env[::D].copy())
        before = env_all[eseg.size - x.size - 1: eseg.size - x.size] if start else env[:1]
        rise = np.diff(np.concatenate([before, env]))
        rise = np.pad(rise, (0, (-rise.size) % D), constant_values=-np.inf)
        rise_parts.append(rise.reshape(-1, D).max(axis=1))
        # strong decay sums and the amplitude histogram
        ax = np.abs(x).astype(np.float64)
        sum_sq += float((ax * ax).sum())
        sum_abs += float(ax.sum())
        sum_iabs += float((ax * (start + np.arange(x.size, dtype=np.float64))).sum())
        peak = max(peak, float(ax.max()))
        hist += np.bincount(np.minimum(ax * 65536.0, 65536).astype(np.int64), minlength=65537)
    pool = {n: np.concatenate(v) for n, v in frames.items()}
    feats = aggregate(pool, config)
    env = np.concatenate(env_parts)
    feats.update(envelope_descriptors(env, sr / D, deriv_scale=1.0 / D))
    rise = np.concatenate(rise_parts)
    top = int(np.argmax(env))
    if top > 0:  # Essentia's DerivativeSFX: the largest one-sample rise before the maximum
        feats["sfx.max_der_before_max"] = float(rise[1:top + 1].max())
    centroid = sum_iabs / sum_abs / sr if sum_abs > 0 else 0.0
    strong = np.sqrt(sum_sq / centroid) if centroid > 0 else 0.0
    feats["sfx.strong_decay"] = float(np.log10(1e-9 + strong))
    thr = max(0.4 * peak, 10 ** (-90 / 20))
    feats["sfx.effective_duration"] = float(hist[int(np.ceil(thr * 65536.0)):].sum() / sr)
    if config.prosody:
        feats.update(prosody_features(pool, config))
    if config.psychoacoustics:
        feats.update(psy_sequence(pool, config))
    if ystream is not None:
        import va_yamnet
        feats.update(zip(va_yamnet.feature_names(), np.concatenate(ystream.finish().pooled())))
    return _vector(feats, config)


def _yamnet_stream(config: ExtractorConfig, *, keep: bool):
    if not config.yamnet:
        return None
    import va_yamnet
    return va_yamnet.Stream(config.sample_rate, keep=keep, hop=config.yamnet_hop)


def analyse_segments(chunks, config: ExtractorConfig = DEFAULT_CONFIG, *, window: float = 3.0, hop: float = 1.0,
                     block_seconds: float = 60.0):
    """Features of every ``window``-second window, every ``hop`` seconds, of one signal stream.

    The signal (an iterable of mono float32 chunks at ``config.sample_rate``) is read
    once and its frames are analysed once, block-wise (memory does not grow with the
    file's length beyond the frame descriptors, about 0.4 kB per frame). A window's
    frame statistics and prosody are taken over the frames whose centres fall inside
    it, its envelope descriptors over its own samples; there is no silence trimming
    (windows are places in the file). A signal shorter than one window gives one
    window over all of it. YAMNet's class scores and embedding (``config.yamnet``) are
    pooled over the 0.975 s patches centred in the window.

    Returns
    -------
    starts, ends : np.ndarray, seconds
    X : np.ndarray, shape (n_windows, n_features), in the order of :func:`feature_names`
    """
    if config.rhythm or config.tonal or config.loudness_norm is not None:
        raise EmoTagError("segment analysis supports the low-level, envelope and prosody groups only")
    if not (window > 0 and 0 < hop):
        raise EmoTagError(f"segment window and hop must be positive, got {window} and {hop}")
    sr = config.sample_rate
    win, step = int(round(window * sr)), int(round(hop * sr))
    if win < config.min_samples:
        raise EmoTagError(f"a {window} s window is shorter than one analysis frame")
    frames: dict[str, list] = {}
    centers, env_feats = [], []
    k = 0                                          # next window to finish
    buf, buf0 = np.zeros(0, np.float32), 0         # signal kept for the windows still open
    total = 0
    ystream = _yamnet_stream(config, keep=True)
    for start, x, fr, c, _ in _stream_frames(chunks, config, _block_size(config, block_seconds)):
        for n, v in fr.items():
            frames.setdefault(n, []).append(v)
        if ystream is not None:
            ystream.feed(x)
        centers.append(c)
        buf = np.concatenate([buf, x])
        total = start + x.size
        while k * step + win <= total:             # windows complete in the signal so far
            a = k * step - buf0
            env_feats.append(envelope_features(buf[a:a + win], sr))
            k += 1
        drop = k * step - buf0                      # samples no open window needs
        if drop > 0:
            buf, buf0 = buf[drop:], buf0 + drop
    if total == 0:
        raise EmoTagError("no audio samples")
    spans = [(i * step, i * step + win) for i in range(k)]
    if not spans:                                   # shorter than one window: one window over all
        y = buf if buf.size >= config.min_samples else np.pad(buf, (0, config.min_samples - buf.size))
        env_feats.append(envelope_features(y, sr))
        spans = [(0, total)]
    c = np.concatenate(centers)
    pool = {n: np.concatenate(v) for n, v in frames.items()}
    if ystream is not None:
        import va_yamnet
        ystream.finish()
        ynames = va_yamnet.feature_names()
    # every frame-wise column in one matrix, so that a window's statistics are one call
    order = sorted(pool)
    F = np.column_stack([pool[n].reshape(len(c), -1) for n in order]).astype(np.float64)
    keys = []
    for n in order:
        dims = pool[n].shape[1] if pool[n].ndim == 2 else None
        keys.append((n, dims))
    X = np.empty((len(spans), len(feature_names(config))))
    for i, (a, b) in enumerate(spans):
        lo, hi = np.searchsorted(c, a), np.searchsorted(c, b)
        stats = dict(_frame_stats(F[lo:hi], config.stats))
        feats, col = {}, 0
        for n, dims in keys:
            width = dims or 1
            for st in config.stats:
                v = stats[st][col:col + width]
                if dims is None:
                    feats[f"{n}.{st}"] = float(v[0])
                else:
                    feats.update((f"{n}.{st}.{j}", float(x)) for j, x in enumerate(v))
            col += width
        feats.update(env_feats[i])
        part = {n: v[lo:hi] for n, v in pool.items()}
        if config.prosody:
            feats.update(prosody_features(part, config))
        if config.psychoacoustics:
            feats.update(psy_sequence(part, config))
        if ystream is not None:
            feats.update(zip(ynames, ystream.window(a / sr, b / sr)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X[i] = _vector(feats, config)
    starts = np.array([a for a, _ in spans], dtype=float) / sr
    ends = np.array([b for _, b in spans], dtype=float) / sr
    return starts, ends, X
