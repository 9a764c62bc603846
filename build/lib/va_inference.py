"""The one place that runs the models: feature rows in, predictions out.

Reads a models folder through :func:`va_io.load_model`, which checks each file against
``MANIFEST.json``, the model format and the running extractor configuration:

==========================================  =============================================
``trained_valence_model.joblib``            valence in [-1, 1] (unpleasant ... pleasant)
``trained_arousal_model.joblib``            arousal in [-1, 1] (calm ... eventful)
``trained_emotion_classifier.joblib``       8 emotion categories of speech (optional)
``trained_burst_classifier.joblib``         30 emotion categories of vocal bursts (optional)
``descriptors/<name>.joblib``               descriptor models (optional)
==========================================  =============================================

plus the lexicon and the descriptor pairs (``data/``) for the VA-derived descriptor
scores and the nearest-category emotion labels. Writes nothing.

Feature rows are the extractor's vectors, ``X : np.ndarray, shape (n_files,
n_features)`` in the order of :func:`essentia_engine.feature_names`. Every stage script,
the library mode (:mod:`va_library`) and ``recommend.py`` predict through this module,
so "run the models on features" has one definition.

Two ways in:

* :class:`ModelSet` loads a folder's models once (lazily: a run with nothing to predict
  never unpickles a model) and predicts everything for a batch of rows;
* the functions below it (:func:`load_va_models`, :func:`predict_va`,
  :func:`predict_emotion`, ...) are its building blocks, for a notebook that wants one
  piece.

Example::

    >>> from va_inference import ModelSet
    >>> from extractor import extract_file
    >>> models = ModelSet("models")
    >>> X = extract_file("door.wav").features[None, :]
    >>> pred, scores = models.predict(X)      # valence, arousal, emotion_*; one score per word
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from essentia_engine import DEFAULT_CONFIG, ExtractorConfig
from va_io import BURST_CLASSIFIER_FILE, CLASSIFIER_FILE, DESCRIPTOR_DIR, MODEL_FILES, load_model
from va_utils import MODELS_DIR, EmoTagError, ModelMismatchError, did_you_mean, log, sha256_file

EMOTION_SOURCES = ("auto", "classifier", "va")
SEGMENT_COLUMNS = ["sha256", "path", "start", "end", "valence", "arousal", "emotion_label", "emotion_confidence",
                   "emotion_source", "top_descriptor"]


# ------------------------------------------------------------------ building blocks
def load_va_models(models_dir=MODELS_DIR, *, config: ExtractorConfig = DEFAULT_CONFIG) -> dict:
    """``{"valence": (pipeline, metadata), "arousal": (pipeline, metadata)}`` of ``models_dir``.

    Raises :class:`va_utils.ModelMismatchError` for a model of another extractor
    configuration, and :class:`va_utils.EmoTagError` for a missing or untrusted file.
    """
    return {t: load_model(Path(models_dir) / f, config=config) for t, f in MODEL_FILES.items()}


def predict_va(models: dict, X: np.ndarray) -> pd.DataFrame:
    """Valence and arousal of each row of ``X``.

    Returns
    -------
    DataFrame, columns ``valence, arousal``, each float in [-1, 1] (clipped), one row per row of ``X``.
    """
    return pd.DataFrame({t: np.clip(models[t][0].predict(X), -1.0, 1.0) for t in ("valence", "arousal")})


UNCERTAINTY_COLUMNS = ["valence_low", "valence_high", "arousal_low", "arousal_high", "in_domain"]
#: What the sound is (:func:`va_yamnet.describe`): speech, music or other, and its top classes.
CLASS_COLUMNS = ["domain", "sound_classes"]


def predict_uncertainty(models: dict, X: np.ndarray, va: pd.DataFrame) -> pd.DataFrame:
    """How far to trust each prediction: intervals for valence and arousal, and an in-domain score.

    ``<target>_low, <target>_high`` (in [-1, 1]) bound the prediction with the model's
    split-conformal half-width (``metadata["interval"]``: 90% of held-out files fell
    inside under grouped CV, as the model's metadata records), the half-width of the
    file's domain (speech, music, vocal, other) where the model records one per domain
    (``interval["by_domain"]``). ``in_domain`` (0..1) is
    the share of the training files that were at least as atypical as this one: the
    share of its standardised features beyond ±z, ranked against the training files'
    (``metadata["in_domain"]``); near 0 means unlike anything the model learned from.
    Models trained before these entries existed give NaN.

    Returns
    -------
    DataFrame, columns :data:`UNCERTAINTY_COLUMNS`, one row per row of ``X``.
    """
    from va_models import out_of_range_share
    n = len(X)
    out = {}
    dom = None
    for t in ("valence", "arousal"):
        iv = models[t][1].get("interval")
        v = np.asarray(va[t], float)
        if not iv:
            out[f"{t}_low"] = out[f"{t}_high"] = np.full(n, np.nan)
            continue
        half = np.full(n, float(iv["halfwidth"]))
        by = iv.get("by_domain") or {}
        if by and n:
            if dom is None:
                import va_yamnet
                cols = va_yamnet.score_columns(models[t][1].get("feature_names", ()))
                dom = va_yamnet.domains(np.asarray(X, float)[:, cols]) if cols else np.full(n, "", dtype=object)
            for d, w in by.items():
                half[dom == d] = float(w["halfwidth"])
        out[f"{t}_low"] = np.clip(v - half, -1, 1)
        out[f"{t}_high"] = np.clip(v + half, -1, 1)
    dom = models["arousal"][1].get("in_domain")
    if dom and n:
        share = out_of_range_share(models["arousal"][0], X, z=dom["z"])
        q = np.asarray(dom["share_quantiles"], float)
        out["in_domain"] = (q[None, :] >= share[:, None]).mean(axis=1)
    else:
        out["in_domain"] = np.full(n, np.nan)
    return pd.DataFrame(out, columns=UNCERTAINTY_COLUMNS)


def load_emotion_model(models_dir=MODELS_DIR, *, config: ExtractorConfig = DEFAULT_CONFIG):
    """The 8-class emotion classifier of ``models_dir`` as ``(pipeline, metadata)``, or None if absent."""
    p = Path(models_dir) / CLASSIFIER_FILE
    return load_model(p, config=config) if p.is_file() else None


def load_burst_model(models_dir=MODELS_DIR, *, config: ExtractorConfig = DEFAULT_CONFIG):
    """The vocal-burst emotion classifier (EmoGator's 30 categories) as ``(pipeline, metadata)``, or None."""
    p = Path(models_dir) / BURST_CLASSIFIER_FILE
    return load_model(p, config=config) if p.is_file() else None


def _classify(out, model, X, use, source_name):
    P = model[0].predict_proba(X[use])
    k = P.argmax(axis=1)
    out.loc[use, "emotion_label"] = model[0].classes_[k]
    out.loc[use, "emotion_confidence"] = P[np.arange(len(k)), k]
    out.loc[use, "emotion_source"] = source_name


def predict_emotion(classifier, X: np.ndarray, va: pd.DataFrame | None, *, source: str = "auto",
                    lexicon=None, bursts=None) -> pd.DataFrame:
    """``emotion_label, emotion_confidence, emotion_source`` for each row of ``X``.

    ``source="classifier"`` uses the 8-class model (confidence: its class probability,
    0..1); ``"va"`` maps the predicted valence/arousal ``va`` onto the nearest category
    word (:func:`va_analyzer.nearest_category`); ``"auto"`` uses the classifier for
    files that resemble its training data (speech) and the VA mapping for the others.
    Resemblance: YAMNet hears the file as speech (:func:`va_yamnet.domain`, when the
    features carry its class scores), and the classifier's ``domain_gate`` holds (the
    share of standardised features beyond ±z must not exceed the largest share seen
    among its training files). With ``bursts`` (the vocal-burst classifier), files that
    YAMNet's vocal gate calls a vocal burst (``va_yamnet.domain`` "vocal": a laugh, a
    scream, a sigh) get its label instead (``auto`` only).
    ``emotion_source`` is ``classifier``, ``burst-classifier`` or ``va-nearest``.
    """
    from va_analyzer import nearest_category
    if source not in EMOTION_SOURCES:
        raise EmoTagError(f"emotion source must be auto, classifier or va, got {source!r}")
    if source == "classifier" and classifier is None:
        raise EmoTagError("no emotion classifier in the models folder; train one with train_emo_model.py --ravdess, "
                          "or use --emotion va")
    if len(X) == 0:
        return pd.DataFrame({"emotion_label": [], "emotion_confidence": [], "emotion_source": []})
    use = np.zeros(len(X), dtype=bool)
    burst = np.zeros(len(X), dtype=bool)
    if source == "auto" and bursts is not None:
        import va_yamnet
        cols = va_yamnet.score_columns(bursts[1].get("feature_names", ()))
        if cols:
            burst = va_yamnet.domains(np.asarray(X, float)[:, cols]) == "vocal"
    if source in ("auto", "classifier") and classifier is not None:
        use[:] = True
        gate = classifier[1].get("domain_gate")
        if source == "auto" and gate:
            from va_models import out_of_range_share
            use = out_of_range_share(classifier[0], X, z=gate["z"]) <= gate["max_share"]
        if source == "auto":
            import va_yamnet
            cols = va_yamnet.score_columns(classifier[1].get("feature_names", ()))
            if cols:
                use &= np.array([va_yamnet.domain(s) == "speech" for s in np.asarray(X, float)[:, cols]])
    use &= ~burst
    out = pd.DataFrame({"emotion_label": pd.Series([None] * len(X), dtype=object),
                        "emotion_confidence": np.nan, "emotion_source": "va-nearest"})
    if use.any():
        _classify(out, classifier, X, use, "classifier")
    if burst.any():
        _classify(out, bursts, X, burst, "burst-classifier")
    use |= burst
    if (~use).any():
        if va is None:
            raise EmoTagError("the VA mapping needs valence/arousal predictions")
        near = nearest_category(np.asarray(va["valence"])[~use], np.asarray(va["arousal"])[~use], lexicon=lexicon)
        out.loc[~use, "emotion_label"] = near["emotion_label"].to_numpy()
        out.loc[~use, "emotion_confidence"] = near["emotion_confidence"].to_numpy()
    return out


def load_descriptor_models(models_dir=MODELS_DIR, names=None, *, config: ExtractorConfig | None = DEFAULT_CONFIG) -> dict:
    """``{name: (pipeline, metadata)}`` of the descriptor models in ``models_dir/descriptors``.

    With ``names``, load just those and raise for a missing one (with a close match);
    without, load every one there is (possibly none).
    """
    folder = Path(models_dir) / DESCRIPTOR_DIR
    found = {p.stem: p for p in sorted(folder.glob("*.joblib"))}
    if names:
        missing = [n for n in names if n not in found]
        if missing:
            raise ModelMismatchError(f"no descriptor model {missing[0]!r} in {folder}" + did_you_mean(missing[0], found))
        found = {n: found[n] for n in names}
    return {n: load_model(p, config=config) for n, p in found.items()}


def predict_descriptors(models: dict, X: np.ndarray) -> pd.DataFrame:
    """Each descriptor model's prediction for each row of ``X``, clipped to the range it was trained on.

    Returns
    -------
    DataFrame, one column per model name, one row per row of ``X``.
    """
    out = {}
    for name, (pipe, meta) in models.items():
        lo, hi = meta.get("value_range", [-np.inf, np.inf])
        out[name] = np.clip(pipe.predict(X), lo, hi)
    return pd.DataFrame(out, index=range(len(X)), columns=list(models))


def _lexicon(lexicon):
    from va_data_loader import load_lexicon
    if isinstance(lexicon, pd.DataFrame):
        return lexicon
    return load_lexicon(lexicon) if lexicon else load_lexicon()


# ------------------------------------------------------------------ the model set
class ModelSet:
    """A models folder, loaded once, checked against the extractor configuration.

    Parameters
    ----------
    models_dir : path-like
        Folder holding the files listed in the module docstring.
    config : ExtractorConfig
        The running extractor configuration; a model trained with another is refused.
    emotion : {"auto", "classifier", "va"}
        How emotion labels are made (see :func:`predict_emotion`).
    lexicon, pairs : path-like, DataFrame or None
        The NRC-VAD lexicon and descriptor pairs (default: the shipped ones in ``data/``).
    eps : float > 0
        Softening constant of the descriptor scores (1 = the reference method).

    Nothing is unpickled until a prediction is asked for (or :meth:`preload`), so
    building a ``ModelSet`` is free. It is safe to share between threads.
    """

    def __init__(self, models_dir=MODELS_DIR, *, config: ExtractorConfig = DEFAULT_CONFIG, emotion: str = "auto",
                 lexicon=None, pairs=None, eps: float = 1.0):
        if emotion not in EMOTION_SOURCES:
            raise EmoTagError(f"emotion source must be auto, classifier or va, got {emotion!r}")
        self.models_dir, self.config = Path(models_dir), config
        self.emotion, self.eps = emotion, float(eps)
        self._lexicon_arg, self._pairs_arg = lexicon, pairs
        self._va = self._classifier = self._bursts = self._lexicon = self._pairs = None
        self._descriptors: dict = {}
        self._lock = threading.RLock()
        self._error = None

    # -- loading
    def preload(self) -> None:
        """Start loading the models in a thread (they load while, say, workers analyse)."""
        def run():
            try:
                self.load()
            except BaseException as exc:  # re-raised by the first real use
                self._error = exc
        threading.Thread(target=run, daemon=True).start()

    def load(self) -> "ModelSet":
        """Load the valence/arousal models, the classifier (if any), the lexicon and the pairs."""
        from va_data_loader import load_descriptor_pairs
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._va is None:
                va = load_va_models(self.models_dir, config=self.config)
                self._classifier = load_emotion_model(self.models_dir, config=self.config)
                self._bursts = load_burst_model(self.models_dir, config=self.config)
                if self.emotion == "classifier" and self._classifier is None:
                    raise EmoTagError(f"no emotion classifier in {self.models_dir}; train one with "
                                      "train_emo_model.py --ravdess, or use --emotion va")
                self._lexicon = _lexicon(self._lexicon_arg)
                self._pairs = load_descriptor_pairs(self._pairs_arg, lexicon=self._lexicon)
                self._va = va
        return self

    @property
    def va_models(self) -> dict:
        """``{"valence": (pipeline, metadata), "arousal": (pipeline, metadata)}``."""
        return self.load()._va

    @property
    def classifier(self):
        """The emotion classifier as ``(pipeline, metadata)``, or None."""
        return self.load()._classifier

    @property
    def bursts(self):
        """The vocal-burst emotion classifier as ``(pipeline, metadata)``, or None."""
        return self.load()._bursts

    @property
    def lexicon(self) -> pd.DataFrame:
        return self.load()._lexicon

    @property
    def pairs(self) -> pd.DataFrame:
        return self.load()._pairs

    @property
    def model_hashes(self) -> dict:
        """``{"valence": sha256, "arousal": sha256}`` of the model files."""
        return {t: m[1]["sha256"] for t, m in self.va_models.items()}

    def model_metadata(self) -> dict:
        """``{"valence": meta, "arousal": meta}``, each with the model file's ``sha256``.

        Read from the ``.json`` sidecars when they match the model files' hashes and the
        extractor configuration, so that an unchanged library never unpickles a model;
        otherwise the models are loaded (and checked) to get it.
        """
        out = {}
        for target, name in MODEL_FILES.items():
            path = self.models_dir / name
            try:
                meta = json.loads(path.with_suffix(".json").read_text())
                if meta.get("sha256") == sha256_file(path) and meta.get("extractor") == self.config.to_dict():
                    out[target] = meta
                    continue
            except (OSError, ValueError):
                pass
            out[target] = self.va_models[target][1]
        return out

    def descriptor_models(self, names=None) -> dict:
        """The descriptor models (all of them, or ``names``), loaded once each."""
        with self._lock:
            if names:
                missing = [n for n in names if n not in self._descriptors]
                if missing:
                    self._descriptors.update(load_descriptor_models(self.models_dir, missing, config=self.config))
                return {n: self._descriptors[n] for n in names}
            if not getattr(self, "_all_descriptors", False):
                self._descriptors.update(load_descriptor_models(self.models_dir, None, config=self.config))
                self._all_descriptors = True
            return dict(sorted(self._descriptors.items()))

    # -- predicting
    def predict_va(self, X: np.ndarray) -> pd.DataFrame:
        """``valence, arousal`` in [-1, 1] for each row of ``X``."""
        return predict_va(self.va_models, X)

    def predict_emotion(self, X: np.ndarray, va: pd.DataFrame | None, *, source: str | None = None) -> pd.DataFrame:
        """``emotion_label, emotion_confidence, emotion_source`` (see :func:`predict_emotion`)."""
        return predict_emotion(self.classifier, X, va, source=source or self.emotion, lexicon=self.lexicon,
                               bursts=self.bursts)

    def descriptor_scores(self, va: pd.DataFrame) -> pd.DataFrame:
        """The VA-derived score (0..1) of every descriptor word, one row per row of ``va``."""
        from va_analyzer import descriptor_scores
        return descriptor_scores(va["valence"], va["arousal"], pairs=self.pairs, lexicon=self.lexicon, eps=self.eps)

    def predict_descriptors(self, X: np.ndarray, names=None) -> pd.DataFrame:
        """Each descriptor model's prediction for each row of ``X`` (see :func:`predict_descriptors`)."""
        return predict_descriptors(self.descriptor_models(names), X)

    def predict(self, X: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Everything for a batch of feature rows.

        Returns
        -------
        pred : DataFrame
            ``valence, arousal`` (in [-1, 1]), ``emotion_label, emotion_confidence, emotion_source``,
            then :data:`UNCERTAINTY_COLUMNS` (see :func:`predict_uncertainty`), then
            :data:`CLASS_COLUMNS` (``domain``; ``sound_classes`` such as "Rain 0.60; Water 0.57").
        scores : DataFrame
            One VA-derived score (0..1) per descriptor word.
        """
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise EmoTagError(f"feature rows must be a 2-D array (n_files, n_features), given X.shape={X.shape}")
        va = self.predict_va(X) if len(X) else pd.DataFrame({"valence": [], "arousal": []})
        emo = self.predict_emotion(X, va)
        unc = predict_uncertainty(self.va_models, X, va)
        import va_yamnet
        from essentia_engine import feature_names
        what = va_yamnet.describe(X, feature_names(self.config)) if X.shape[1] == len(feature_names(self.config)) \
            else pd.DataFrame({c: [""] * len(X) for c in CLASS_COLUMNS})
        return pd.concat([va, emo, unc, what], axis=1), self.descriptor_scores(va)

    def predict_segments(self, paths, *, window: float, hop: float, jobs: int = 1, backend: str = "loky",
                         scheduler=None, shas=None) -> tuple[pd.DataFrame, list]:
        """Per-window predictions of many files, each decoded and its frames analysed once.

        Returns
        -------
        segments : DataFrame
            :data:`SEGMENT_COLUMNS` (``start``, ``end`` in seconds) then one score per descriptor word.
        errors : list of dict
            ``{"path", "severity", "message"}`` for each file that could not be segmented.
        """
        from extractor import iter_segments
        frames, errors = [], []
        shas = shas or {}
        for i, res, err in iter_segments(paths, config=self.config, window=window, hop=hop, jobs=jobs,
                                         backend=backend, scheduler=scheduler):
            path = str(paths[i])
            if err:
                log.error("%s: segments: %s", path, err)
                errors.append({"path": path, "severity": "error", "message": f"segments: {err}"})
                continue
            starts, ends, X = res
            pred, scores = self.predict(X)
            top = scores.idxmax(axis=1)
            frames.append(pd.concat([pd.DataFrame({"sha256": shas.get(path, ""), "path": path, "start": starts,
                                                   "end": ends}), pred,
                                     pd.DataFrame({"top_descriptor": top.to_numpy()}), scores], axis=1))
        seg = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SEGMENT_COLUMNS)
        return seg, errors
