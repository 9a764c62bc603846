"""Audio in, feature vectors out: decoding, downmix, resampling, caching, batches.

Reads audio files (WAV, FLAC, OGG, MP3, AIFF; any channel count and sample rate) and an
optional on-disk feature cache; writes only cache entries. Stage scripts turn the results
into hand-off CSVs through ``va_io``.

* :func:`load_audio` decodes a file in blocks, downmixes to mono and resamples to the
  analysis rate of the configuration (soxr, high quality).
* :func:`extract_file` returns a :class:`FileResult` for one file; bad input raises
  :class:`va_utils.BadAudioError`.
* :func:`extract_batch` runs many files in parallel (joblib, loky workers), never raises
  for a bad file (it becomes an error row) and reuses cached features keyed by the
  file's sha256 plus the extractor configuration key.

Example::

    >>> from extractor import extract_batch
    >>> results = extract_batch(["a.wav", "b.flac"], jobs=2)
    >>> [r.ok for r in results]
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from essentia_engine import DEFAULT_CONFIG, ExtractorConfig, analyse, analyse_stream, feature_names
from va_utils import BadAudioError, EmoTagError, sha256_file

__all__ = ["FileResult", "load_audio", "extract_file", "extract_batch", "default_cache_dir",
           "DEFAULT_CONFIG", "ExtractorConfig", "feature_names", "iter_audio", "LONG_FILE_SECONDS"]

_BLOCK = 1 << 16
#: Files longer than this (seconds) are analysed block-wise, in bounded memory.
LONG_FILE_SECONDS = 600.0


@dataclasses.dataclass
class FileResult:
    """The outcome of analysing one file.

    ``features`` is a float64 vector in the order of ``feature_names(config)`` when
    ``error`` is None, else None. ``warnings`` lists one-line notes (for example padding).
    """

    path: str
    sha256: str | None = None
    duration: float | None = None      # seconds, of the original file
    sample_rate: int | None = None     # Hz, of the original file
    channels: int | None = None
    features: np.ndarray | None = None
    error: str | None = None
    warnings: list = dataclasses.field(default_factory=list)
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def default_cache_dir() -> Path:
    """``$EMOTAG_CACHE`` or ``$XDG_CACHE_HOME/emotag`` or ``~/.cache/emotag``."""
    if os.environ.get("EMOTAG_CACHE"):
        return Path(os.environ["EMOTAG_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "emotag"


def _info(path):
    import soundfile as sf
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        msg = str(exc).split("\n")[0]
        if os.path.getsize(path) == 0:
            msg = "file is empty (0 bytes)"
        raise BadAudioError(f"cannot decode audio: {msg}") from None
    if info.frames <= 0:
        raise BadAudioError("file holds no audio samples")
    if info.samplerate <= 0 or info.channels <= 0:
        raise BadAudioError(f"invalid header (sample rate {info.samplerate}, {info.channels} channels)")
    return info


def iter_audio(path, *, sample_rate: int = DEFAULT_CONFIG.sample_rate, info=None):
    """Decode ``path`` block by block to mono float32 at ``sample_rate``.

    Each block of the file is downmixed (mean over channels) and fed to a streaming soxr
    resampler (high quality), so memory holds one block, whatever the file's length.
    Non-finite samples are replaced by 0 (with a warning at the end).

    Yields
    ------
    np.ndarray, shape (n,), float32
        Consecutive pieces of the mono signal.

    Raises
    ------
    BadAudioError
        The file cannot be decoded or fails part-way.
    """
    import soundfile as sf
    import soxr

    info = info or _info(path)
    rs = None if info.samplerate == sample_rate else soxr.ResampleStream(
        info.samplerate, sample_rate, 1, dtype="float32", quality="HQ")
    n_bad = 0
    try:
        for block in sf.blocks(str(path), blocksize=_BLOCK, always_2d=True, dtype="float32"):
            mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0].copy()
            bad = ~np.isfinite(mono)
            if bad.any():
                n_bad += int(bad.sum())
                mono[bad] = 0.0
            yield rs.resample_chunk(mono) if rs else mono
    except sf.LibsndfileError as exc:
        raise BadAudioError(f"decoding failed part-way: {exc}") from None
    if rs:
        yield rs.resample_chunk(np.zeros(0, np.float32), last=True)
    if n_bad:
        warnings.warn(f"{n_bad} non-finite samples (NaN/Inf) replaced by 0", stacklevel=2)


def load_audio(path, *, sample_rate: int = DEFAULT_CONFIG.sample_rate):
    """Decode ``path`` to mono float32 at ``sample_rate`` (see :func:`iter_audio`).

    Returns
    -------
    y : np.ndarray, shape (n,), float32
        Mono signal at ``sample_rate``.
    info : dict
        ``duration`` (s), ``sample_rate`` (Hz) and ``channels`` of the original file.

    Raises
    ------
    BadAudioError
        The file cannot be decoded or holds no samples.
    """
    info = _info(path)
    parts = list(iter_audio(path, sample_rate=sample_rate, info=info))
    y = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if y.size == 0:
        raise BadAudioError("file holds no audio samples")
    return y, _meta(info)


def _meta(info) -> dict:
    return {"duration": info.frames / info.samplerate, "sample_rate": int(info.samplerate),
            "channels": int(info.channels)}


def _cache_path(cache_dir: Path, config: ExtractorConfig, sha: str) -> Path:
    return Path(cache_dir) / config.key / sha[:2] / f"{sha}.npz"


def _cache_read(p: Path, n: int):
    try:
        with np.load(p) as z:
            vec = z["features"]
            meta = z["meta"]
        if vec.shape == (n,) and np.isfinite(vec).all():
            return vec, meta
    except Exception:  # unreadable or stale cache entry: recompute
        pass
    return None


def _cache_write(p: Path, vec: np.ndarray, meta: np.ndarray) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, features=vec, meta=meta)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def extract_file(path, *, config: ExtractorConfig = DEFAULT_CONFIG, cache_dir=None,
                 long_file_seconds: float = LONG_FILE_SECONDS) -> FileResult:
    """Analyse one file; raise :class:`BadAudioError` if it cannot be analysed.

    Files longer than ``long_file_seconds`` are decoded twice as a stream and analysed
    block-wise (:func:`essentia_engine.analyse_stream`), so memory does not grow with
    their length; shorter ones are decoded whole and analysed by
    :func:`essentia_engine.analyse`.

    Parameters
    ----------
    path : path-like
    config : ExtractorConfig
    cache_dir : path-like or None
        Feature cache folder; None disables caching.
    long_file_seconds : float
        Duration above which the block-wise path is taken.
    """
    path = str(path)
    try:
        sha = sha256_file(path)
    except OSError as exc:
        raise BadAudioError(f"cannot read file: {exc.strerror or exc}") from None
    res = FileResult(path=path, sha256=sha)
    n = len(feature_names(config))
    cp = _cache_path(Path(cache_dir), config, sha) if cache_dir else None
    if cp is not None and cp.exists():
        hit = _cache_read(cp, n)
        if hit is not None:
            vec, meta = hit
            res.features, res.cached = vec, True
            res.duration, res.sample_rate, res.channels = float(meta[0]), int(meta[1]), int(meta[2])
            return res
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = _info(path)
        meta = _meta(info)
        if meta["duration"] > long_file_seconds and not (config.rhythm or config.tonal or config.loudness_norm):
            res.features = analyse_stream(lambda: iter_audio(path, sample_rate=config.sample_rate, info=info), config)
        else:
            y, meta = load_audio(path, sample_rate=config.sample_rate)
            res.features = analyse(y, config)
    res.warnings = [str(w.message) for w in caught]
    res.duration, res.sample_rate, res.channels = meta["duration"], meta["sample_rate"], meta["channels"]
    if cp is not None:
        try:
            _cache_write(cp, res.features, np.array([res.duration, res.sample_rate, res.channels]))
        except OSError as exc:
            res.warnings.append(f"feature cache not written ({exc})")
    return res


def _safe_extract(path, config, cache_dir) -> FileResult:
    """:func:`extract_file` that turns every failure into an error row."""
    try:
        return extract_file(path, config=config, cache_dir=cache_dir)
    except EmoTagError as exc:
        return FileResult(path=str(path), error=str(exc))
    except MemoryError:
        return FileResult(path=str(path), error="out of memory while analysing")
    except Exception as exc:  # Essentia and codecs raise plain RuntimeError etc.
        return FileResult(path=str(path), error=f"analysis failed ({type(exc).__name__}: {exc})".split("\n")[0])


def extract_batch(paths, *, config: ExtractorConfig = DEFAULT_CONFIG, jobs: int = 1,
                  cache_dir=None, progress: bool = False) -> list[FileResult]:
    """Analyse many files, in parallel when ``jobs > 1``; one :class:`FileResult` each.

    A file that cannot be analysed becomes a result with ``error`` set; the batch never
    aborts for one file. Results come back in the order of ``paths``.

    Parameters
    ----------
    jobs : int
        Worker processes (joblib/loky); ``-1`` uses every core.
    progress : bool
        Show a tqdm progress bar on stderr.
    """
    paths = [str(p) for p in paths]
    feature_names(config)  # fail early on a bad config, in this process
    if jobs == 1 or len(paths) <= 1:
        it = (_safe_extract(p, config, cache_dir) for p in paths)
    else:
        from joblib import Parallel, delayed
        it = Parallel(n_jobs=jobs, return_as="generator", batch_size="auto")(
            delayed(_safe_extract)(p, config, cache_dir) for p in paths)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, total=len(paths), unit="file", desc="features", dynamic_ncols=True)
    return list(it)
