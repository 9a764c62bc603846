"""Audio in, feature vectors out: decoding, downmix, resampling, caching, batches.

Reads audio files (WAV, FLAC, OGG, MP3, AIFF through libsndfile; AAC, ALAC, Opus, WMA, the
audio track of MP4/MOV/WebM video and more through FFmpeg, see ``va_decode``; any channel
count and sample rate) and an optional on-disk feature cache; writes only cache entries. Stage scripts turn the results
into hand-off CSVs through ``va_io``.

* :func:`load_audio` decodes a file in blocks, downmixes to mono and resamples to the
  analysis rate of the configuration (soxr, high quality).
* :func:`extract_file` returns a :class:`FileResult` for one file; bad input raises
  :class:`va_utils.BadAudioError`.
* :func:`iter_extract` runs many files in parallel, in chunks (joblib with loky worker
  processes, or a Dask cluster through joblib's Dask backend), yields results as they
  complete, never raises for a bad file (it becomes an error row) and reuses cached
  features keyed by the file's sha256 plus the extractor configuration key.
  :func:`extract_batch` is the same, collected in input order.

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
from va_decode import blocks as decode_blocks, probe
from va_utils import BadAudioError, EmoTagError, sha256_file

__all__ = ["FileResult", "iter_audio", "load_audio", "extract_file", "extract_batch", "iter_extract", "iter_hash",
           "run_chunks", "extract_segments", "iter_segments", "default_cache_dir", "LONG_FILE_SECONDS", "DEFAULT_CONFIG", "ExtractorConfig",
           "feature_names"]

_BLOCK = 1 << 16
#: Files longer than this (seconds) are analysed block-wise, in bounded memory.
LONG_FILE_SECONDS = 600.0


@dataclasses.dataclass
class FileResult:
    """The outcome of analysing one file.

    ``features`` is a float64 vector in the order of ``feature_names(config)`` when
    ``error`` is None, else None. ``warnings`` lists one-line notes (for example padding
    or unreadable tags). ``metadata`` holds the file's tags and UCS fields
    (``va_metadata.read_metadata``), read by :func:`iter_extract` for files that analyse.
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
    metadata: dict = dataclasses.field(default_factory=dict)   # va_metadata.FIELDS found in the file

    @property
    def ok(self) -> bool:
        return self.error is None


def default_cache_dir() -> Path:
    """``$EMOTAG_CACHE`` or ``$XDG_CACHE_HOME/emotag`` or ``~/.cache/emotag``."""
    if os.environ.get("EMOTAG_CACHE"):
        return Path(os.environ["EMOTAG_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "emotag"


def iter_audio(path, *, sample_rate: int = DEFAULT_CONFIG.sample_rate, info=None):
    """Decode ``path`` block by block to mono float32 at ``sample_rate``.

    Each block of the file (``va_decode.blocks``: libsndfile or FFmpeg, at the file's own
    rate) is downmixed (mean over channels) and fed to a streaming soxr resampler (high
    quality), so memory holds one block, whatever the file's length. Non-finite samples
    are replaced by 0 (with a warning at the end).

    Yields
    ------
    np.ndarray, shape (n,), float32
        Consecutive pieces of the mono signal.

    Raises
    ------
    BadAudioError
        The file cannot be decoded or fails part-way.
    """
    import soxr

    info = info or probe(path)
    rs = None if info.samplerate == sample_rate else soxr.ResampleStream(
        info.samplerate, sample_rate, 1, dtype="float32", quality="HQ")
    n_bad = 0
    for block in decode_blocks(path, info, blocksize=_BLOCK):
        mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else np.array(block[:, 0], np.float32)
        bad = ~np.isfinite(mono)
        if bad.any():
            n_bad += int(bad.sum())
            mono[bad] = 0.0
        yield rs.resample_chunk(mono) if rs else mono
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
    info = probe(path)
    parts = list(iter_audio(path, sample_rate=sample_rate, info=info))
    y = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if y.size == 0 or info.frames <= 0:
        raise BadAudioError("file holds no audio samples")
    return y, _meta(info)      # exact now, also for FFmpeg files (counted while decoding)


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
                 long_file_seconds: float = LONG_FILE_SECONDS, sha256: str | None = None) -> FileResult:
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
    sha256 : str or None
        The file's content hash when the caller has computed it already.
    """
    path = str(path)
    try:
        sha = sha256 or sha256_file(path)
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
        info = probe(path)
        meta = _meta(info)
        blockwise_ok = not (config.rhythm or config.tonal) and config.loudness_norm is None
        if meta["duration"] > long_file_seconds and blockwise_ok:
            res.features = analyse_stream(lambda: iter_audio(path, sample_rate=config.sample_rate, info=info), config)
            meta = _meta(info)
        else:
            y, meta = load_audio(path, sample_rate=config.sample_rate)
            res.features = analyse(y, config)
    res.warnings = list(dict.fromkeys(str(w.message) for w in caught))
    res.duration, res.sample_rate, res.channels = meta["duration"], meta["sample_rate"], meta["channels"]
    if cp is not None:
        try:
            _cache_write(cp, res.features, np.array([res.duration, res.sample_rate, res.channels]))
        except OSError as exc:
            res.warnings.append(f"feature cache not written ({exc})")
    return res


def extract_segments(path, *, config: ExtractorConfig = DEFAULT_CONFIG, window: float = 3.0, hop: float = 1.0):
    """Features of every ``window``-second window, every ``hop`` seconds, of one file.

    The file is decoded once, as a stream, and its frames analysed once
    (:func:`essentia_engine.analyse_segments`), so a long file needs little memory.

    Returns
    -------
    starts, ends : np.ndarray, seconds
    X : np.ndarray, shape (n_windows, n_features)

    Raises
    ------
    BadAudioError
        The file cannot be decoded.
    """
    from essentia_engine import analyse_segments
    info = probe(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return analyse_segments(iter_audio(path, sample_rate=config.sample_rate, info=info), config,
                                window=window, hop=hop)


def _segments_chunk(items, config, window, hop):
    """Worker task: ``[(index, path), ...]`` -> ``[(index, (starts, ends, X) or None, error or None)]``."""
    from threadpoolctl import threadpool_limits
    out = []
    with threadpool_limits(limits=1):
        for i, p in items:
            try:
                out.append((i, extract_segments(p, config=config, window=window, hop=hop), None))
            except EmoTagError as exc:
                out.append((i, None, str(exc)))
            except Exception as exc:  # Essentia and codecs raise plain RuntimeError etc.
                out.append((i, None, f"segment analysis failed ({type(exc).__name__}: {exc})".split("\n")[0]))
    return out


def iter_segments(paths, *, config: ExtractorConfig = DEFAULT_CONFIG, window: float = 3.0, hop: float = 1.0,
                  jobs: int = 1, backend: str = "loky", scheduler=None):
    """Segment features of many files in parallel; yield ``(index, (starts, ends, X) or None, error)``."""
    paths = [str(p) for p in paths]
    if not paths:
        return
    items = list(enumerate(paths))
    chunks = [items[k:k + 2] for k in range(0, len(items), 2)]
    for out in run_chunks(_segments_chunk, chunks, jobs=jobs, backend=backend, scheduler=scheduler,
                          args=(config, window, hop)):
        yield from out


class FileTimeout(Exception):
    """A file took longer than the per-file time limit."""


def _on_alarm(signum, frame):
    raise FileTimeout()


def _safe_extract(path, config, cache_dir, sha256=None, long_file_seconds=LONG_FILE_SECONDS,
                  timeout: float | None = None) -> FileResult:
    """:func:`extract_file` that turns every failure into an error row.

    ``timeout`` (seconds) stops a file that takes longer, with an error row. It is a
    SIGALRM timer, so it acts when control is back in Python: between decoded blocks,
    and between Essentia calls (a long file's blocks are 60 s of audio each).
    """
    import signal
    import threading
    armed = bool(timeout) and threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if armed:
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, float(timeout))
    try:
        res = extract_file(path, config=config, cache_dir=cache_dir, sha256=sha256,
                           long_file_seconds=long_file_seconds)
        from va_metadata import read_metadata
        res.metadata, notes = read_metadata(path)
        res.warnings.extend(notes)
        return res
    except FileTimeout:
        return FileResult(path=str(path), sha256=sha256, error=f"timed out after {timeout:g} s (--timeout)")
    except EmoTagError as exc:
        return FileResult(path=str(path), sha256=sha256, error=str(exc))
    except MemoryError:
        return FileResult(path=str(path), sha256=sha256, error="out of memory while analysing")
    except Exception as exc:  # Essentia and codecs raise plain RuntimeError etc.
        return FileResult(path=str(path), sha256=sha256,
                          error=f"analysis failed ({type(exc).__name__}: {exc})".split("\n")[0])
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def _extract_chunk(items, config, cache_dir, long_file_seconds, timeout=None):
    """Worker task: ``[(index, path, sha256 or None), ...]`` -> ``[(index, FileResult), ...]``.

    BLAS and OpenMP pools are held to one thread: the parallelism is across files.
    """
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1):
        return [(i, _safe_extract(p, config, cache_dir, sha, long_file_seconds, timeout)) for i, p, sha in items]


def _hash_chunk(items):
    """Worker task: ``[(index, path), ...]`` -> ``[(index, sha256 or None, error or None), ...]``."""
    out = []
    for i, p in items:
        try:
            out.append((i, sha256_file(p), None))
        except OSError as exc:
            out.append((i, None, f"cannot read file: {exc.strerror or exc}"))
    return out


def chunk_size_for(n: int, jobs: int) -> int:
    """Files per worker task: about 8 tasks per worker, between 1 and 32 files each."""
    return int(min(32, max(1, -(-n // (max(1, jobs) * 8)))))


def _workers(jobs: int) -> int:
    return (os.cpu_count() or 1) if jobs in (-1, 0) else max(1, jobs)


def run_chunks(func, chunks, *, jobs: int = 1, backend: str = "loky", scheduler: str | None = None, args=()):
    """Yield ``func(chunk, *args)`` for every chunk, in completion order.

    ``backend="loky"`` runs ``jobs`` local worker processes (``jobs=1``: in this
    process). ``backend="dask"`` runs the same tasks on a Dask distributed cluster
    (:mod:`va_cluster`): the scheduler at ``scheduler`` (``tcp://host:8786``, or a
    :class:`va_cluster.ClusterSpec` with its time limit), or a local cluster of ``jobs``
    worker processes when no address is given. Workers only compute and return; the
    caller alone writes results.
    """
    from joblib import Parallel, delayed, parallel_config
    chunks = list(chunks)
    if backend == "loky" and (_workers(jobs) == 1 or len(chunks) <= 1):
        for c in chunks:
            yield func(c, *args)
        return
    tasks = (delayed(func)(c, *args) for c in chunks)
    if backend == "loky":
        with parallel_config(backend="loky"):
            yield from Parallel(n_jobs=_workers(jobs), return_as="generator_unordered", batch_size=1)(tasks)
        return
    if backend != "dask":
        raise EmoTagError(f"unknown backend {backend!r}; expected 'loky' or 'dask'")
    import va_cluster
    yield from va_cluster.run_tasks(func, chunks, args=args, spec=va_cluster.ClusterSpec.of(scheduler),
                                    jobs=_workers(jobs), on_failure=_FAILED_CHUNK.get(func))


#: How a chunk whose cluster task failed for good becomes results (one error row per file).
_FAILED_CHUNK = {
    _extract_chunk: lambda chunk, msg: [(i, FileResult(path=p, sha256=s, error=msg)) for i, p, s in chunk],
    _hash_chunk: lambda chunk, msg: [(i, None, msg) for i, _ in chunk],
    _segments_chunk: lambda chunk, msg: [(i, None, msg) for i, _ in chunk],
}


def iter_extract(paths, *, config: ExtractorConfig = DEFAULT_CONFIG, jobs: int = 1, cache_dir=None,
                 shas=None, chunk_size: int | None = None, backend: str = "loky", scheduler=None,
                 long_file_seconds: float = LONG_FILE_SECONDS, timeout: float | None = None):
    """Analyse many files in parallel; yield ``(index, FileResult)`` as chunks complete.

    ``shas`` optionally gives each file's content hash (None where unknown). The order
    is the order of completion; ``index`` refers to ``paths``. See :func:`run_chunks`
    for ``jobs``, ``backend`` and ``scheduler``; ``timeout`` (seconds per file, None:
    no limit) turns a file that takes longer into an error row.
    """
    paths = [str(p) for p in paths]
    if not paths:
        return
    feature_names(config)  # fail early on a bad config, in this process
    shas = list(shas) if shas is not None else [None] * len(paths)
    size = chunk_size or chunk_size_for(len(paths), _workers(jobs))
    items = [(i, p, s) for i, (p, s) in enumerate(zip(paths, shas))]
    chunks = [items[k:k + size] for k in range(0, len(items), size)]
    for out in run_chunks(_extract_chunk, chunks, jobs=jobs, backend=backend, scheduler=scheduler,
                          args=(config, None if cache_dir is None else str(cache_dir), long_file_seconds,
                                timeout)):
        yield from out


def iter_hash(paths, *, jobs: int = 1, backend: str = "loky", scheduler=None):
    """Content hashes of many files, in parallel; yield ``(index, sha256, error)``."""
    paths = [str(p) for p in paths]
    if not paths:
        return
    size = max(1, min(256, -(-len(paths) // (max(1, _workers(jobs)) * 4))))
    items = list(enumerate(paths))
    chunks = [items[k:k + size] for k in range(0, len(items), size)]
    for out in run_chunks(_hash_chunk, chunks, jobs=jobs, backend=backend, scheduler=scheduler):
        yield from out


def extract_batch(paths, *, config: ExtractorConfig = DEFAULT_CONFIG, jobs: int = 1,
                  cache_dir=None, progress: bool = False, backend: str = "loky", scheduler=None,
                  chunk_size: int | None = None, timeout: float | None = None) -> list[FileResult]:
    """Analyse many files, in parallel when ``jobs > 1``; one :class:`FileResult` each.

    A file that cannot be analysed becomes a result with ``error`` set; the batch never
    aborts for one file. Results come back in the order of ``paths``.

    Parameters
    ----------
    jobs : int
        Worker processes (joblib/loky); ``-1`` uses every core.
    progress : bool
        Show a tqdm progress bar on stderr.
    backend, scheduler :
        ``"loky"`` (local processes) or ``"dask"`` (a Dask cluster); see :func:`run_chunks`.
    """
    paths = [str(p) for p in paths]
    out: list[FileResult | None] = [None] * len(paths)
    it = iter_extract(paths, config=config, jobs=jobs, cache_dir=cache_dir, backend=backend,
                      scheduler=scheduler, chunk_size=chunk_size, timeout=timeout)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, total=len(paths), unit="file", desc="features", dynamic_ncols=True)
    for i, r in it:
        out[i] = r
    return out
