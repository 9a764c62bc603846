"""The one io module for hand-off files: CSV tables and joblib models.

Every stage reads and writes its hand-off files through these functions, so that column
checks, atomic writes and model metadata checks exist in exactly one place.

Tables (all keyed by ``sha256``, the content hash of the audio file):

=================================  ==================================================
``new_audio_features_raw.csv``     sha256, path, duration, sample_rate, channels, <features>
``new_audio_predicted_va.csv``     sha256, path, valence, arousal, emotion words, intervals, in_domain,
                                   domain, sound_classes, and the va_metadata.FIELDS any file has
                                   (title, description, ucs_catid, ...)
``new_audio_descriptor_scores.csv`` sha256, path, <one column per descriptor word>
``new_audio_errors.csv``           path, severity, message
``out_Valence.csv.gz`` / ``out_Arousal.csv.gz``  sha256, file, corpus, group, <target>, <features>
=================================  ==================================================

A table that carries features has a sidecar ``<name>.meta.json`` holding the extractor
configuration; readers refuse a table whose configuration differs from the running one.
Writers write to a temporary file in the same folder and rename it, so a crash never
leaves half a file. Any table may be gzip-compressed: a name ending in ``.gz`` is written
compressed and read back transparently (the training tables are, at 2,253 feature columns).

Models are ``joblib`` files holding ``{"pipeline": sklearn Pipeline, "metadata": dict}``
with a readable copy of the metadata beside them as ``<name>.json``.
"""
from __future__ import annotations

import datetime as _dt
import gzip
import io
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from essentia_engine import ExtractorConfig, feature_names
from va_utils import show, BadLabelError, ModelMismatchError, __version__, sha256_file

FILE_KEY = ["sha256", "path"]  # the same audio may sit at several paths
FEATURE_META_COLUMNS = ["sha256", "path", "duration", "sample_rate", "channels"]
TRAINING_META_COLUMNS = ["sha256", "file", "corpus", "group"]
PREDICTION_COLUMNS = ["sha256", "path", "valence", "arousal", "valence_model", "arousal_model"]
TARGETS = ("valence", "arousal")
# The hand-off files of predict_new_audio.py, which log_predictions_to_db.py reads.
OUTPUTS = {"features": "new_audio_features_raw.csv", "va": "new_audio_predicted_va.csv",
           "scores": "new_audio_descriptor_scores.csv", "errors": "new_audio_errors.csv",
           "segments": "new_audio_segments.csv", "faces": "new_audio_faces.csv"}


# ---------------------------------------------------------------------------- writing
def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _atomic_write(path: Path, write) -> None:
    """Write through ``write(text_handle)`` to a temporary file, then rename it onto ``path``.

    A name ending in ``.gz`` is written gzip-compressed (with a zero timestamp, so the same
    table gives the same bytes); pandas reads it back by its extension.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if path.suffix == ".gz":
            with os.fdopen(fd, "wb") as raw:
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
                        io.TextIOWrapper(gz, encoding="utf-8", newline="") as fh:
                    write(fh)
                raw.flush()
                os.fsync(raw.fileno())
        else:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(text: str, path) -> Path:
    """Write a text file (a playlist, a report, an HTML map) atomically."""
    _atomic_write(Path(path), lambda fh: fh.write(text))
    return Path(path)


def write_csv(df: pd.DataFrame, path, *, config: ExtractorConfig | None = None, **meta) -> Path:
    """Write ``df`` atomically; with ``config``, also write the ``.meta.json`` sidecar."""
    path = Path(path)
    _atomic_write(path, lambda fh: df.to_csv(fh, index=False, float_format="%.7g", lineterminator="\n"))
    if config is not None:
        side = {"extractor": config.to_dict(), "n_features": len(feature_names(config)),
                "written": _now(), "emotag_version": __version__, **meta}
        write_json(side, meta_path(path))
    return path


def write_json(obj, path) -> Path:
    _atomic_write(Path(path), lambda fh: json.dump(obj, fh, indent=2, sort_keys=True, default=str))
    return Path(path)


def meta_path(csv_path) -> Path:
    """``out_Valence.csv.gz`` or ``out_Valence.csv.gz`` -> ``out_Valence.meta.json``."""
    p = Path(csv_path)
    if p.suffix == ".gz":
        p = p.with_suffix("")
    return p.with_suffix(".meta.json")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------- reading
def read_csv(path, *, required=(), key="sha256", numeric=(), finite=(), text=()) -> pd.DataFrame:
    """Read a hand-off CSV and validate it.

    Parameters
    ----------
    required : sequence of str
        Columns that must exist.
    key : str, list of str, or None
        Column(s) whose values (together) must be unique.
    numeric : sequence of str
        Columns that must parse as numbers (empty cells allowed unless also in ``finite``).
    finite : sequence of str
        Columns that must be finite numbers in every row.
    text : sequence of str
        Columns read as text whatever they hold (a take "3" stays "3").

    Raises
    ------
    BadLabelError
        With the file, the line number (1 = header) and what to fix.
    """
    path = Path(path)
    if not path.is_file():
        raise BadLabelError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, dtype={"sha256": str, "path": str, "file": str, "group": str, **{c: str for c in text}})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BadLabelError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise BadLabelError(f"{path}: missing column(s) {missing}; the header has {list(df.columns)[:8]}...")
    keys = [key] if isinstance(key, str) else list(key or [])
    if keys and all(k in df.columns for k in keys):
        dup = df.duplicated(subset=keys, keep=False)
        if dup.any():
            rows = (np.flatnonzero(dup.to_numpy()) + 2)[:5].tolist()
            val = tuple(df.loc[dup, keys].iloc[0])
            raise BadLabelError(f"{path}: duplicate {'/'.join(keys)} {val if len(val) > 1 else val[0]!r} on lines {rows}; "
                                f"keep one row per {'/'.join(keys)}")
    for col in list(numeric) + [c for c in finite if c not in numeric]:
        if col not in df.columns:
            continue
        num = pd.to_numeric(df[col], errors="coerce")
        bad_parse = num.isna() & df[col].notna()
        if bad_parse.any():
            i = int(np.flatnonzero(bad_parse.to_numpy())[0])
            raise BadLabelError(f"{path}, line {i + 2}: column {col!r} holds {show(df[col].iloc[i])}, expected a number")
        if col in finite:
            bad = ~np.isfinite(num.to_numpy(dtype=float))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise BadLabelError(f"{path}, line {i + 2}: column {col!r} is {show(df[col].iloc[i])}, expected a finite number")
        df[col] = num
    return df


def read_meta(csv_path) -> dict | None:
    p = meta_path(csv_path)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise BadLabelError(f"{p}: not valid JSON ({exc})") from None


def check_feature_columns(df: pd.DataFrame, config: ExtractorConfig, path) -> list[str]:
    """Return the feature columns of ``df``; raise unless they are exactly ``feature_names(config)``."""
    names = list(feature_names(config))
    present = [c for c in df.columns if c in set(names)]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise BadLabelError(f"{path}: {len(missing)} feature column(s) missing, e.g. {missing[:3]}; "
                            f"was it written with another extractor configuration?")
    if present != names:
        first = next(i for i, (a, b) in enumerate(zip(present, names)) if a != b)
        raise BadLabelError(f"{path}: feature columns out of order at {present[first]!r} (expected {names[first]!r}); "
                            "rewrite the table with the project's writer")
    return names


def _check_sidecar(path, config: ExtractorConfig):
    meta = read_meta(path)
    if meta is None:
        raise BadLabelError(f"{meta_path(path)}: missing; a feature table needs its sidecar to prove "
                            "which extractor configuration made it")
    got = ExtractorConfig.from_dict(meta.get("extractor", {}))
    if got != config:
        raise ModelMismatchError(f"{path}: made with extractor config {got.to_dict()}, "
                                 f"but the running config is {config.to_dict()}")
    return meta


def read_features(path, *, config: ExtractorConfig) -> pd.DataFrame:
    """Read ``new_audio_features_raw.csv`` (or any table with the feature meta columns)."""
    _check_sidecar(path, config)
    names = list(feature_names(config))
    df = read_csv(path, required=FEATURE_META_COLUMNS + names, key=FILE_KEY,
                  numeric=["duration", "sample_rate", "channels"], finite=names)
    check_feature_columns(df, config, path)
    return df


def read_training_table(path, *, config: ExtractorConfig) -> tuple[pd.DataFrame, str]:
    """Read ``out_Valence.csv.gz``/``out_Arousal.csv.gz`` (or plain ``.csv``); return the table and its target name."""
    meta = _check_sidecar(path, config)
    head = pd.read_csv(path, nrows=0).columns
    targets = [t for t in TARGETS if t in head]
    if len(targets) != 1:
        raise BadLabelError(f"{path}: expected exactly one target column of {TARGETS}, found {targets}")
    names = list(feature_names(config))
    df = read_csv(path, required=TRAINING_META_COLUMNS + targets + names, finite=names + targets)
    check_feature_columns(df, config, path)
    df.attrs["meta"] = meta
    return df, targets[0]


def read_predictions(path) -> pd.DataFrame:
    """Read ``new_audio_predicted_va.csv`` (its metadata columns, where present, as text)."""
    from va_metadata import FIELDS
    return read_csv(path, required=PREDICTION_COLUMNS, key=FILE_KEY, finite=["valence", "arousal"], text=FIELDS)


def read_descriptor_scores(path) -> pd.DataFrame:
    """Read ``new_audio_descriptor_scores.csv``: every column after sha256/path is a score in 0..1."""
    header = pd.read_csv(path, nrows=0).columns if Path(path).is_file() else []
    words = [c for c in header if c not in FILE_KEY]
    df = read_csv(path, required=FILE_KEY, key=FILE_KEY, finite=words)
    bad = [w for w in words if ((df[w] < 0) | (df[w] > 1)).any()]
    if bad:
        raise BadLabelError(f"{path}: scores of {bad[:3]} outside 0..1")
    return df


# ----------------------------------------------------------------------------- models
def library_versions() -> dict:
    import importlib.metadata as md
    out = {"python": platform.python_version(), "emotag": __version__}
    for pkg in ("essentia", "numpy", "scikit-learn", "pandas", "joblib", "soundfile", "soxr"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def save_model(pipeline, path, *, metadata: dict) -> str:
    """Save ``{"pipeline", "metadata"}`` with joblib plus a ``.json`` copy; return the file's sha256."""
    import joblib
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"created": _now(), "library_versions": library_versions(), "model_format": MODEL_FORMAT, **metadata}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump({"pipeline": pipeline, "metadata": metadata}, tmp, compress=3)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sha = sha256_file(path)
    write_json({**metadata, "sha256": sha}, path.with_suffix(".json"))
    _add_to_manifest(path, sha)
    return sha


#: Models a folder trusts: ``{file name: sha256}``, written by :func:`save_model`.
MANIFEST = "MANIFEST.json"
#: The model file layout this code reads; a model written for another major version is refused.
MODEL_FORMAT = 1
_TRUST = {"all": False}


def trust_models(trust: bool = True) -> None:
    """Load models that no manifest vouches for (``--trust-model``), with a warning each."""
    _TRUST["all"] = bool(trust)


def _add_to_manifest(path: Path, sha: str) -> None:
    man = path.parent / MANIFEST
    entries = {}
    if man.is_file():
        try:
            entries = json.loads(man.read_text()).get("models", {})
        except (OSError, ValueError):
            entries = {}
    entries[path.name] = sha
    write_json({"note": "sha256 of the models trained into this folder; a model loads only if it matches "
                        "(or with --trust-model)", "models": entries}, man)


def _check_trusted(path: Path, sha: str) -> None:
    """Refuse a model file that the folder's manifest does not vouch for, unless trusted."""
    man = path.parent / MANIFEST
    try:
        want = json.loads(man.read_text()).get("models", {}).get(path.name) if man.is_file() else None
    except (OSError, ValueError):
        want = None
    if want == sha:
        return
    why = (f"its sha256 {sha[:12]}… differs from the one {man} recorded at training time (changed since?)"
           if want else f"no {MANIFEST} beside it records it (it was not trained into this folder)")
    if not _TRUST["all"]:
        raise ModelMismatchError(f"{path}: refused: {why}. Loading a model file runs code; pass --trust-model "
                                 "only for a model from a source you trust")
    import warnings
    warnings.warn(f"{path}: loading an untrusted model ({why}); loading a model file runs code", stacklevel=3)
    print(f"warning: {path}: loading an untrusted model ({why}); loading a model file runs code", file=sys.stderr)


#: The model files ``train_emo_model.py`` writes into a models folder.
MODEL_FILES = {"valence": "trained_valence_model.joblib", "arousal": "trained_arousal_model.joblib"}
CLASSIFIER_FILE = "trained_emotion_classifier.joblib"
BURST_CLASSIFIER_FILE = "trained_burst_classifier.joblib"   # EmoGator's 30 vocal-burst categories
VOCAL_GATE_FILE = "vocal_gate.json"                         # va_yamnet's speech-or-vocal-burst gate
DESCRIPTOR_DIR = "descriptors"   # models_dir/descriptors/<name>.joblib


def load_model(path, *, config: ExtractorConfig | None = None):
    """Load a model saved by :func:`save_model`.

    A model file is a pickle, and unpickling runs code, so the file's sha256 must match
    the ``MANIFEST.json`` that training wrote beside it; otherwise it is refused
    (``ModelMismatchError``) unless :func:`trust_models` was called (``--trust-model``),
    and then it loads with a warning. With ``config``, also refuse a model trained on
    another extractor configuration or another feature list, and any model written in
    another model format.

    Returns
    -------
    pipeline, metadata : sklearn estimator, dict
        ``metadata["sha256"]`` is the model file's hash.
    """
    import joblib
    path = Path(path)
    if not path.is_file():
        raise ModelMismatchError(f"{path}: no such model file; train one first (see README)")
    sha = sha256_file(path)
    _check_trusted(path, sha)        # before unpickling: loading runs code
    try:
        obj = joblib.load(path)
    except Exception as exc:
        raise ModelMismatchError(f"{path}: not a readable model file ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict) or "pipeline" not in obj or "metadata" not in obj:
        raise ModelMismatchError(f"{path}: not a model saved by this project (no pipeline/metadata)")
    meta = dict(obj["metadata"])
    meta["sha256"] = sha
    fmt = int(meta.get("model_format", MODEL_FORMAT))
    if fmt != MODEL_FORMAT:
        raise ModelMismatchError(f"{path}: written in model format {fmt}, this emotag reads format {MODEL_FORMAT}; "
                                 "retrain it with this version")
    if config is not None:
        got = meta.get("extractor")
        if got is None or ExtractorConfig.from_dict(got) != config:
            raise ModelMismatchError(f"{path}: trained with extractor config {got}, "
                                     f"but the running config is {config.to_dict()}; retrain or use a matching config")
        if list(meta.get("feature_names", [])) != list(feature_names(config)):
            raise ModelMismatchError(f"{path}: its feature list differs from the running extractor's")
    return obj["pipeline"], meta
