"""What a sound is: YAMNet's 521 AudioSet class scores and its 1024-d embedding, on CPU.

Reads ``models/yamnet/yamnet.tflite`` and ``models/yamnet/yamnet_class_map.csv`` (shipped
with the project under the Apache License 2.0; see ``models/yamnet/README.md``) and runs
the model through the ``ai-edge-litert`` TensorFlow Lite runtime. Writes nothing.

YAMNet hears 0.975 s patches of 16 kHz mono audio; the published model hops 0.48 s
between patches. For each patch it gives 521 class scores (sigmoid, 0..1: "Speech",
"Music", "Siren", "Rain", "Screaming", ...) and the 1024-d embedding before its
classifier. :func:`frames` returns both per patch; :func:`pooled` averages them over a
file or a window; :func:`top_classes` and :func:`domain` say what the sound is.

The model file is checked against its sha256 before it is loaded, like every other
model of the project. One interpreter is built per process, on one thread.

Example::

    >>> import va_yamnet
    >>> scores, emb = va_yamnet.frames(y16)            # y16: mono float32 at 16 kHz
    >>> va_yamnet.top_classes(scores.mean(axis=0), k=3)
    [('Siren', 0.71), ('Civil defense siren', 0.52), ('Emergency vehicle', 0.33)]
"""
from __future__ import annotations

import csv
import functools
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from va_utils import DATA_DIR, MODELS_DIR, EmoTagError, ModelMismatchError, tflite_interpreter

MODEL_DIR = MODELS_DIR / "yamnet"
MODEL_FILE = MODEL_DIR / "yamnet.tflite"
CLASS_MAP = MODEL_DIR / "yamnet_class_map.csv"
#: Valence/arousal of each class name from the NRC-VAD lexicon (make_descriptor_lexicon.py).
CLASS_VA = DATA_DIR / "yamnet_class_va.csv"
MODEL_SHA256 = "469be6a3421cbc52cf97e9f2f966cba984198e8e7af9854d68b3e3ebb1e04194"

SAMPLE_RATE = 16000         #: Hz, the model's input rate
PATCH = 15600               #: samples per patch (0.975 s)
HOP = 7680                  #: samples between patches (0.48 s), as published
N_CLASSES = 521
EMBEDDING_SIZE = 1024
_EMBEDDING_TENSOR = "yamnet_frames/global_average_pooling2d/Mean"

#: The class indices behind the coarse domains (AudioSet ontology): speech, and music
#: with its instruments, genres and moods.
SPEECH_CLASSES = tuple(range(0, 6))        # Speech ... Speech synthesizer
MUSIC_CLASSES = tuple(range(132, 277))     # Music ... Scary music
# Non-verbal vocal sounds: shouts, screams, laughs, cries, sighs (6-23), humming, groans,
# grunts (32-34), breathing, gasps, pants, coughs, sniffs (36-45); not Whistling (35).
VOCAL_CLASSES = tuple(range(6, 24)) + (32, 33, 34) + tuple(range(36, 46))
DOMAINS = ("speech", "music", "vocal", "other")
#: Without a vocal gate (below), a voice is a vocal burst rather than speech when its
#: strongest burst class reaches this share of its strongest speech class.
VOCAL_RATIO = 0.5
#: The vocal gate: a logistic regression over log class scores that tells a vocal burst
#: (EmoGator) from speech (RAVDESS); written by ``train_emo_model.py`` (see its metadata).
VOCAL_GATE = MODELS_DIR / "vocal_gate.json"
_GATE_FLOOR = 1e-4
#: A file is speech or music when that domain's strongest mean class score reaches this.
DOMAIN_THRESHOLD = 0.2


@functools.lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 521 display names, in output order."""
    with open(CLASS_MAP, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) != N_CLASSES or [int(r["index"]) for r in rows] != list(range(N_CLASSES)):
        raise ModelMismatchError(f"{CLASS_MAP}: expected {N_CLASSES} classes indexed 0..{N_CLASSES - 1}")
    return tuple(r["display_name"] for r in rows)


class _Model:
    """One LiteRT interpreter on one thread; ``__call__`` runs one patch."""

    def __init__(self, path=MODEL_FILE):
        self.it = tflite_interpreter(path, MODEL_SHA256, "YAMNet", preserve_all_tensors=True)   # one hidden tensor
        self.input = self.it.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in self.it.get_output_details()}
        self.scores = next(i for n, i in outs.items() if tuple(self.it.get_tensor(i).shape) == (1, N_CLASSES))
        self.embedding = next(d["index"] for d in self.it.get_tensor_details() if d["name"] == _EMBEDDING_TENSOR)
        self.lock = threading.Lock()

    def __call__(self, patch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            self.it.set_tensor(self.input, patch[None, :])
            self.it.invoke()
            return self.it.get_tensor(self.scores)[0].copy(), self.it.get_tensor(self.embedding)[0].copy()


@functools.lru_cache(maxsize=1)
def _model() -> _Model:
    return _Model()


def n_patches(n_samples: int, hop: int = HOP) -> int:
    """Patches of a signal of ``n_samples`` at 16 kHz: at least one, the last one zero-padded."""
    return 1 + max(0, int(np.ceil((n_samples - PATCH) / hop)))


def frames(y16: np.ndarray, hop: int = HOP) -> tuple[np.ndarray, np.ndarray]:
    """Class scores and embeddings of every patch of a 16 kHz mono signal.

    Parameters
    ----------
    y16 : np.ndarray, shape (n,), float in [-1, 1], at 16 kHz
        A signal shorter than one patch is zero-padded to one patch.
    hop : int, samples at 16 kHz
        Hop between patches (the extractor configuration's ``yamnet_hop``).

    Returns
    -------
    scores : np.ndarray, shape (n_patches, 521), float32 in [0, 1]
    embeddings : np.ndarray, shape (n_patches, 1024), float32
    """
    y16 = np.asarray(y16, dtype=np.float32)
    if y16.ndim != 1:
        raise EmoTagError(f"YAMNet needs mono audio, given y.shape={y16.shape}")
    n = n_patches(y16.size, hop)
    padded = np.zeros((n - 1) * hop + PATCH, dtype=np.float32)
    padded[:y16.size] = np.clip(y16, -1.0, 1.0)
    model = _model()
    scores = np.empty((n, N_CLASSES), dtype=np.float32)
    emb = np.empty((n, EMBEDDING_SIZE), dtype=np.float32)
    for k in range(n):
        scores[k], emb[k] = model(padded[k * hop: k * hop + PATCH])
    return scores, emb


def resample_to_16k(y: np.ndarray, sr: int) -> np.ndarray:
    """``y`` (mono, at ``sr`` Hz) at 16 kHz, with soxr's high-quality resampler."""
    if sr == SAMPLE_RATE:
        return np.asarray(y, dtype=np.float32)
    import soxr
    return soxr.resample(np.asarray(y, dtype=np.float32), sr, SAMPLE_RATE, quality="HQ").astype(np.float32)


class Stream:
    """YAMNet over a signal that arrives in chunks, in bounded memory.

    ``feed(x)`` takes mono chunks at ``sr`` Hz (resampled to 16 kHz by a streaming soxr
    resampler) and runs every patch that is complete; ``finish()`` runs the last,
    zero-padded one. Patches are on the same grid as :func:`frames` with the same ``hop``. Per patch the
    stream keeps its class scores and embedding (about 6 kB, 45 MB per audio hour) when
    ``keep=True`` (for windows), else only their running sums (for a whole file).
    """

    def __init__(self, sr: int, *, keep: bool = False, hop: int = HOP):
        import soxr
        self.sr, self.keep, self.hop = int(sr), keep, int(hop)
        self._rs = None if self.sr == SAMPLE_RATE else soxr.ResampleStream(self.sr, SAMPLE_RATE, 1, dtype="float32",
                                                                            quality="HQ")
        self._buf = np.zeros(0, np.float32)
        self._done = 0                      # patches run so far
        self._n16 = 0                       # 16 kHz samples received
        self.scores, self.embeddings = [], []
        self._sum_s = np.zeros(N_CLASSES)
        self._sum_e = np.zeros(EMBEDDING_SIZE)

    def _run(self, patch):
        s, e = _model()(patch)
        if self.keep:
            self.scores.append(s)
            self.embeddings.append(e)
        self._sum_s += s
        self._sum_e += e
        self._done += 1

    def _drain(self):
        while self._buf.size >= PATCH:
            self._run(self._buf[:PATCH])
            self._buf = self._buf[self.hop:]

    def _push(self, y16):
        self._n16 += y16.size
        self._buf = np.concatenate([self._buf, np.clip(y16, -1.0, 1.0).astype(np.float32)])
        self._drain()

    def feed(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float32)
        self._push(x if self._rs is None else self._rs.resample_chunk(x, last=False))

    def finish(self) -> "Stream":
        if self._rs is not None:
            self._push(self._rs.resample_chunk(np.zeros(0, np.float32), last=True))
        want = n_patches(self._n16, self.hop)
        while self._done < want:           # the tail: zero-padded patches, as frames() pads
            self._run(np.pad(self._buf[:PATCH], (0, max(0, PATCH - self._buf[:PATCH].size))))
            self._buf = self._buf[self.hop:]
        return self

    @property
    def n(self) -> int:
        return self._done

    def pooled(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean class scores (521,) and mean embedding (1024,) over every patch."""
        return self._sum_s / max(self._done, 1), self._sum_e / max(self._done, 1)

    def centres(self) -> np.ndarray:
        """Each kept patch's centre, in seconds from the start of the stream."""
        return (np.arange(len(self.scores)) * self.hop + PATCH / 2) / SAMPLE_RATE

    def window(self, a: float, b: float) -> np.ndarray:
        """The pooled features (scores then embedding) of the patches centred in ``[a, b)`` seconds.

        A window that holds no patch centre takes the patch nearest to its middle.
        Needs ``keep=True``.
        """
        c = self.centres()
        sel = np.flatnonzero((c >= a) & (c < b))
        if sel.size == 0:
            sel = np.array([int(np.argmin(np.abs(c - (a + b) / 2)))])
        S, E = np.asarray(self.scores)[sel], np.asarray(self.embeddings)[sel]
        return np.concatenate([S.mean(axis=0), E.mean(axis=0)]).astype(np.float64)


def pooled(scores: np.ndarray, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean class scores (521,) and mean embedding (1024,) over patches."""
    return scores.mean(axis=0), embeddings.mean(axis=0)


def feature_names() -> tuple[str, ...]:
    """The names of :func:`features`' values: ``yamnet.score.<i>`` then ``yamnet.embedding.<j>``."""
    return tuple([f"yamnet.score.{i}" for i in range(N_CLASSES)]
                 + [f"yamnet.embedding.{j}" for j in range(EMBEDDING_SIZE)])


def features(y: np.ndarray, sr: int, hop: int = HOP) -> dict[str, float]:
    """The pooled YAMNet features of a mono signal at ``sr`` Hz, by name (see :func:`feature_names`)."""
    s, e = pooled(*frames(resample_to_16k(y, sr), hop))
    return dict(zip(feature_names(), np.concatenate([s, e]).astype(np.float64)))


def top_classes(mean_scores: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` highest-scoring classes as ``(name, score)``, best first."""
    mean_scores = np.asarray(mean_scores, dtype=float)
    if mean_scores.shape != (N_CLASSES,):
        raise EmoTagError(f"expected {N_CLASSES} class scores, given shape {mean_scores.shape}")
    names = class_names()
    idx = np.argsort(-mean_scores, kind="stable")[:k]
    return [(names[i], float(mean_scores[i])) for i in idx]


#: How many classes a file keeps (CSVs, database, queries).
TOP_K = 5


def score_columns(feature_names) -> list[int]:
    """Indices of the 521 ``yamnet.score.<i>`` columns in a feature vector (empty without the group)."""
    idx = {n: i for i, n in enumerate(feature_names)}
    cols = [idx.get(f"yamnet.score.{i}") for i in range(N_CLASSES)]
    return [] if any(c is None for c in cols) else cols


def format_classes(pairs) -> str:
    """``"Rain 0.60; Water 0.57"`` from ``[(name, score), ...]``."""
    return "; ".join(f"{n} {s:.2f}" for n, s in pairs)


def describe(X: np.ndarray, feature_names, *, k: int = TOP_K) -> "pd.DataFrame":
    """``domain`` and ``sound_classes`` (top ``k``, formatted) of each feature row.

    Both are empty strings when the rows have no YAMNet group (an older configuration).
    """
    import pandas as pd
    X = np.atleast_2d(np.asarray(X, dtype=float))
    cols = score_columns(feature_names)
    if not cols:
        return pd.DataFrame({"domain": [""] * len(X), "sound_classes": [""] * len(X)})
    S = X[:, cols]
    return pd.DataFrame({"domain": [domain(s) for s in S],
                         "sound_classes": [format_classes(top_classes(s, k)) for s in S]})


def check_class(name: str) -> str:
    """The exact class name for ``name`` (case-insensitive); :class:`EmoTagError` with a
    "did you mean" otherwise."""
    from va_utils import did_you_mean
    names = class_names()
    low = {n.lower(): n for n in names}
    if str(name).lower() in low:
        return low[str(name).lower()]
    raise EmoTagError(f"{name!r} is not one of YAMNet's {N_CLASSES} sound classes" + did_you_mean(name, names))


@functools.lru_cache(maxsize=4)
def _gate(path=None):
    import json
    p = Path(path) if path else VOCAL_GATE
    if not p.is_file():
        return None
    d = json.loads(p.read_text())
    return np.asarray(d["coef"], dtype=float), float(d["intercept"])


def _gate_inputs(S):
    return np.log(np.clip(S, _GATE_FLOOR, 1.0))


def vocal_probability(mean_scores: np.ndarray) -> np.ndarray:
    """How likely a voice is a vocal burst (a laugh, scream, sigh) rather than speech, 0..1, per row.

    The vocal gate (:data:`VOCAL_GATE`) when it is there; otherwise the share of the
    strongest burst class in :data:`VOCAL_RATIO` times the strongest speech class, capped at 1.
    Meaningful only for files that hold a voice (see :func:`domain`).
    """
    s = np.atleast_2d(np.asarray(mean_scores, dtype=float))
    g = _gate()
    if g is not None:
        z = _gate_inputs(s) @ g[0] + g[1]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
    sp = s[:, list(SPEECH_CLASSES)].max(axis=1)
    vb = s[:, list(VOCAL_CLASSES)].max(axis=1)
    return np.clip(vb / np.maximum(VOCAL_RATIO * sp, 1e-9), 0, 1)


def fit_vocal_gate(mean_scores, is_burst, groups, *, C: float = 0.01, folds: int = 5) -> dict:
    """Fit the vocal gate on voices: ``is_burst`` 1 for vocal bursts, 0 for speech.

    Returns the JSON-able gate (``coef``, ``intercept``) with its speaker-grouped
    ``folds``-fold CV: the share of bursts and of speech it calls a burst.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict
    L = _gate_inputs(np.asarray(mean_scores, dtype=float))
    y = np.asarray(is_burst, dtype=int)
    clf = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
    p = cross_val_predict(clf, L, y, groups=groups, cv=GroupKFold(n_splits=folds), method="predict_proba")[:, 1]
    clf.fit(L, y)
    return {"coef": [round(float(c), 6) for c in clf.coef_[0]], "intercept": round(float(clf.intercept_[0]), 6),
            "inputs": f"log(max(score, {_GATE_FLOOR})) of the {N_CLASSES} YAMNet classes",
            "model": f"LogisticRegression(C={C}, class_weight='balanced')",
            "cv": {"scheme": f"GroupKFold({folds}) by speaker", "bursts_called_vocal": float(np.mean(p[y == 1] > 0.5)),
                   "speech_called_vocal": float(np.mean(p[y == 0] > 0.5)), "n_bursts": int((y == 1).sum()),
                   "n_speech": int((y == 0).sum())}}


def domain(mean_scores: np.ndarray) -> str:
    """``"speech"``, ``"music"``, ``"vocal"`` or ``"other"``: the coarse domain of a file from its mean class scores.

    A voice (the strongest speech or :data:`VOCAL_CLASSES` score) or music (the strongest
    music score) when it reaches :data:`DOMAIN_THRESHOLD` and beats the other; a voice
    is ``"vocal"`` (a laugh, scream, sigh: a vocal burst, not a sentence) when
    :func:`vocal_probability` says so (>= 0.5), else ``"speech"``. Otherwise "other"
    (sound effects, ambiences, noise, silence).
    """
    return str(domains(mean_scores)[0])


def domains(mean_scores: np.ndarray) -> np.ndarray:
    """:func:`domain` of each row of an (n, 521) array of mean class scores."""
    s = np.atleast_2d(np.asarray(mean_scores, dtype=float))
    voice = np.maximum(s[:, list(SPEECH_CLASSES)].max(axis=1), s[:, list(VOCAL_CLASSES)].max(axis=1))
    mu = s[:, list(MUSIC_CLASSES)].max(axis=1)
    out = np.full(len(s), "other", dtype=object)
    is_music = (mu >= DOMAIN_THRESHOLD) & (mu > voice)
    is_voice = (voice >= DOMAIN_THRESHOLD) & ~is_music
    out[is_music] = "music"
    if is_voice.any():
        p = vocal_probability(s[is_voice])
        out[np.flatnonzero(is_voice)] = np.where(p >= 0.5, "vocal", "speech")
    return out


def domain_shares(mean_scores: np.ndarray) -> np.ndarray:
    """Soft domain memberships, shape (n, 4) in the order of :data:`DOMAINS`, rows summing to 1.

    Voice and music evidence are their strongest class scores over
    :data:`DOMAIN_THRESHOLD` (capped at 1), a voice's split between speech and vocal by
    :func:`vocal_probability`; "other" is 1 minus the larger evidence.
    """
    s = np.atleast_2d(np.asarray(mean_scores, dtype=float))
    voice = np.maximum(s[:, list(SPEECH_CLASSES)].max(axis=1), s[:, list(VOCAL_CLASSES)].max(axis=1))
    e_voice = np.clip(voice / DOMAIN_THRESHOLD, 0, 1)
    e_mu = np.clip(s[:, list(MUSIC_CLASSES)].max(axis=1) / DOMAIN_THRESHOLD, 0, 1)
    p = vocal_probability(s)
    out = np.column_stack([e_voice * (1 - p), e_mu, e_voice * p, 1 - np.maximum(e_voice, e_mu)])
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)


def domain_weight(mean_scores: np.ndarray) -> np.ndarray:
    """How much a file is speech or music, 0..1, from its mean class scores (shape (521,) or (n, 521)).

    The strongest speech or music class score over :data:`DOMAIN_THRESHOLD`, capped at 1:
    1 for every file that :func:`domain` calls speech or music, falling to 0 for sounds
    with no speech or music in them.
    """
    s = np.atleast_2d(np.asarray(mean_scores, dtype=float))
    m = np.maximum(s[:, list(SPEECH_CLASSES)].max(axis=1), s[:, list(MUSIC_CLASSES)].max(axis=1))
    w = np.clip(m / DOMAIN_THRESHOLD, 0.0, 1.0)
    return w[0] if np.ndim(mean_scores) == 1 else w


def class_lexicon_va(lexicon) -> "pd.DataFrame":
    """Valence and arousal of each class name, from a full lexicon (``va_data_loader.load_lexicon``).

    A name's coordinates are the mean of the lexicon terms found in it: the whole name
    (lower case) when the lexicon has it, otherwise each comma- or bracket-separated part
    that it has, otherwise the words of three or more letters that it has. Classes with no
    term get NaN. Returns columns ``index, class, valence, arousal, terms``.
    """
    import re

    import pandas as pd
    terms = {str(t).lower(): i for i, t in enumerate(lexicon.index)}
    coords = lexicon[["valence", "arousal"]].to_numpy(float)
    rows = []
    for k, name in enumerate(class_names()):
        low = name.lower()
        found = [low] if low in terms else []
        if not found:
            for part in (p.strip() for p in re.split(r"[,()]", low)):
                if part in terms:
                    found.append(part)
                elif part:
                    found += [w for w in re.findall(r"[a-z']+", part) if len(w) >= 3 and w in terms]
        found = list(dict.fromkeys(found))
        v, a = coords[[terms[f] for f in found]].mean(axis=0) if found else (np.nan, np.nan)
        rows.append({"index": k, "class": name, "valence": round(float(v), 4), "arousal": round(float(a), 4),
                     "terms": "; ".join(found)})
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=1)
def _class_va() -> np.ndarray:
    import pandas as pd
    df = pd.read_csv(CLASS_VA)
    if len(df) != N_CLASSES or list(df["index"]) != list(range(N_CLASSES)):
        raise EmoTagError(f"{CLASS_VA}: expected {N_CLASSES} rows indexed 0..{N_CLASSES - 1}; "
                          "regenerate it with make_descriptor_lexicon.py")
    return df[["valence", "arousal"]].to_numpy(float)


def lexicon_prior(mean_scores: np.ndarray) -> np.ndarray:
    """Valence and arousal of sounds from what they are, with no training.

    The class scores weight the lexicon coordinates of the class names
    (:data:`CLASS_VA`): ``sum_c s_c * va_c / sum_c s_c`` over the classes that have
    coordinates. "Screaming" pulls towards unpleasant and aroused, "Piano" towards
    pleasant and calm.

    Parameters
    ----------
    mean_scores : np.ndarray, shape (521,) or (n, 521), in [0, 1]

    Returns
    -------
    np.ndarray, shape (2,) or (n, 2): valence, arousal in [-1, 1]
    """
    s = np.atleast_2d(np.asarray(mean_scores, dtype=float))
    if s.shape[1] != N_CLASSES:
        raise EmoTagError(f"expected {N_CLASSES} class scores per row, given shape {s.shape}")
    va = _class_va()
    ok = np.isfinite(va[:, 0])
    w = s[:, ok]
    out = (w @ va[ok]) / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return out[0] if np.ndim(mean_scores) == 1 else out
