"""The SQLite library: schema, connection settings, batch writers and readers.

Reads and writes one SQLite file (default ``output/audio_predictions.db``). Stages
write through :func:`log_batch`, which commits one transaction per batch of files, so a
crash or ``kill -9`` leaves the database as it was before that batch. Every statement
is parameterised; no SQL is built from user input.

Queries of the library by feeling live in ``va_query``.

Schema (foreign keys on)::

    audio_files(id, sha256 UNIQUE, path, duration, sample_rate, channels, corpus, group_id, added_at)
    audio_paths(path PRIMARY KEY, file_id -> audio_files, size, mtime_ns)
                                                                every path a content was seen at, with
                                                                the size and mtime it had then
    failures(path PRIMARY KEY, size, mtime_ns, config_key, error)  files that could not be analysed
    segments(file_id, valence_model_id, arousal_model_id, start_s, end_s, valence, arousal,
             emotion_label, emotion_confidence, emotion_source, top_descriptor, scores JSON)
                                                                per-window predictions (--segments)
    faces(file_id, start_s, end_s, face_label, face_confidence, face_valence, face_arousal, faces_seen,
          face_frames, voice_label, voice_confidence, fused_label, fused_source, fused_confidence, probs JSON)
                                                                a video's face lane per window (--faces):
                                                                the main face, the voice, the fused answer
    models(id, sha256 UNIQUE, name, kind, target, metadata JSON, added_at)
    feature_sets(id, config_key UNIQUE, config JSON, names JSON)
    features(file_id -> audio_files, feature_set_id -> feature_sets, vector BLOB float32)
    predictions(id, file_id, valence_model_id -> models, arousal_model_id -> models, valence, arousal,
                emotion_label, emotion_confidence, emotion_source)
    descriptor_scores(prediction_id -> predictions, descriptor, score)   VA-derived, 0..1; stored
                                                                clustered by descriptor, so one word's
                                                                scores are one contiguous range
    descriptor_predictions(file_id, model_id -> models, descriptor, value)  descriptor models
    labels(file_id, name, value, text, source)                  human labels and ratings
    sound_classes(file_id, rank, class, score)                  YAMNet's top classes of each file,
                                                                written with its features; the file's
                                                                coarse domain is audio_files.domain
    metadata(file_id PRIMARY KEY, name, <va_metadata.FIELDS>)   what the file says about itself: bext,
                                                                iXML, INFO, ID3/MP4/Vorbis/ASF tags, UCS
    metadata_fts(name, <va_metadata.TEXT_FIELDS>)               FTS5 index of it (rowid = file_id; porter
                                                                stemming, so "doors" finds "door")
    feedback(id, file_id, action, reference, query, at)         what a user picked, rejected or exported
                                                                (the server's /api/feedback)
    jobs(id, kind, folder, params JSON, status, done, total, failures JSON, error, created_at, updated_at)
                                                                background library scans of the server;
                                                                a job still "queued" or "running" when the
                                                                server stops is resumed when it starts
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from essentia_engine import ExtractorConfig, feature_names
from va_metadata import FIELDS as META_FIELDS, TEXT_FIELDS as META_TEXT
from va_utils import EmoTagError

SCHEMA_VERSION = 7
#: Files per transaction when logging in bulk: fewer, larger commits rewrite fewer
#: index pages (bench/bench_library.py measures the rate).
BULK_BATCH = 5000
# Columns added after version 1, created on open when an older library lacks them.
UNCERTAINTY = ("valence_low", "valence_high", "arousal_low", "arousal_high", "in_domain")
_ADDED_COLUMNS = {"predictions": [("emotion_label", "TEXT"), ("emotion_confidence", "REAL"), ("emotion_source", "TEXT"),
                                  *[(c, "REAL") for c in UNCERTAINTY]],
                  "audio_paths": [("size", "INTEGER"), ("mtime_ns", "INTEGER")],
                  "audio_files": [("domain", "TEXT")],
                  "segments": [("domain", "TEXT"), ("sound_classes", "TEXT")]}

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audio_files (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    duration REAL, sample_rate INTEGER, channels INTEGER,
    corpus TEXT, group_id TEXT,
    added_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS audio_paths (
    path TEXT PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES audio_files(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_audio_paths_file ON audio_paths(file_id);
CREATE INDEX IF NOT EXISTS idx_audio_files_corpus ON audio_files(corpus);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL, kind TEXT NOT NULL, target TEXT,
    metadata TEXT NOT NULL,
    added_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS feature_sets (
    id INTEGER PRIMARY KEY,
    config_key TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    names TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS features (
    file_id INTEGER NOT NULL REFERENCES audio_files(id) ON DELETE CASCADE,
    feature_set_id INTEGER NOT NULL REFERENCES feature_sets(id),
    vector BLOB NOT NULL,
    PRIMARY KEY (file_id, feature_set_id)
);
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES audio_files(id) ON DELETE CASCADE,
    valence_model_id INTEGER NOT NULL REFERENCES models(id),
    arousal_model_id INTEGER NOT NULL REFERENCES models(id),
    valence REAL NOT NULL CHECK (valence BETWEEN -1 AND 1),
    arousal REAL NOT NULL CHECK (arousal BETWEEN -1 AND 1),
    emotion_label TEXT, emotion_confidence REAL CHECK (emotion_confidence BETWEEN 0 AND 1),
    emotion_source TEXT,
    valence_low REAL, valence_high REAL, arousal_low REAL, arousal_high REAL,
    in_domain REAL CHECK (in_domain BETWEEN 0 AND 1),
    UNIQUE (file_id, valence_model_id, arousal_model_id)
);
CREATE INDEX IF NOT EXISTS idx_predictions_va ON predictions(valence, arousal);
CREATE TABLE IF NOT EXISTS descriptor_scores (
    prediction_id INTEGER NOT NULL REFERENCES predictions(id) ON DELETE CASCADE,
    descriptor TEXT NOT NULL,
    score REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
    PRIMARY KEY (descriptor, prediction_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_descriptor_scores_prediction ON descriptor_scores(prediction_id);
CREATE TABLE IF NOT EXISTS descriptor_predictions (
    file_id INTEGER NOT NULL REFERENCES audio_files(id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES models(id),
    descriptor TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (file_id, model_id)
);
CREATE INDEX IF NOT EXISTS idx_descriptor_predictions ON descriptor_predictions(descriptor, value);
CREATE TABLE IF NOT EXISTS labels (
    file_id INTEGER NOT NULL REFERENCES audio_files(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL, text TEXT,
    source TEXT NOT NULL,
    PRIMARY KEY (file_id, name, source)
);
CREATE INDEX IF NOT EXISTS idx_labels ON labels(name, value);
CREATE TABLE IF NOT EXISTS segments (
    file_id INTEGER NOT NULL REFERENCES audio_files(id) ON DELETE CASCADE,
    valence_model_id INTEGER NOT NULL REFERENCES models(id),
    arousal_model_id INTEGER NOT NULL REFERENCES models(id),
    start_s REAL NOT NULL, end_s REAL NOT NULL,
    valence REAL NOT NULL CHECK (valence BETWEEN -1 AND 1),
    arousal REAL NOT NULL CHECK (arousal BETWEEN -1 AND 1),
    emotion_label TEXT, emotion_confidence REAL, emotion_source TEXT,
    top_descriptor TEXT,
    scores TEXT,
    PRIMARY KEY (valence_model_id, arousal_model_id, file_id, start_s, end_s)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS faces (
    file_id INTEGER NOT NULL REFERENCES audio_files(id) ON DELETE CASCADE,
    start_s REAL NOT NULL, end_s REAL NOT NULL,
    face_label TEXT NOT NULL,
    face_confidence REAL CHECK (face_confidence BETWEEN 0 AND 1),
    face_valence REAL CHECK (face_valence BETWEEN -1 AND 1),
    face_arousal REAL CHECK (face_arousal BETWEEN -1 AND 1),
    faces_seen INTEGER NOT NULL, face_frames INTEGER NOT NULL,
    voice_label TEXT, voice_confidence REAL,
    fused_label TEXT, fused_source TEXT NOT NULL, fused_confidence REAL,
    probs TEXT,
    PRIMARY KEY (file_id, start_s, end_s)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_faces_label ON faces(face_label);
CREATE TABLE IF NOT EXISTS sound_classes (
    file_id INTEGER NOT NULL REFERENCES audio_files(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    class TEXT NOT NULL,
    score REAL NOT NULL CHECK (score BETWEEN 0 AND 1),
    PRIMARY KEY (file_id, rank)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_sound_classes ON sound_classes(class, score);
CREATE TABLE IF NOT EXISTS metadata (
    file_id INTEGER PRIMARY KEY REFERENCES audio_files(id) ON DELETE CASCADE,
    name TEXT NOT NULL, {meta_columns}
);
CREATE INDEX IF NOT EXISTS idx_metadata_catid ON metadata(ucs_catid);
CREATE VIRTUAL TABLE IF NOT EXISTS metadata_fts USING fts5(name, {fts_columns},
    tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS metadata_fts_delete AFTER DELETE ON metadata BEGIN
    DELETE FROM metadata_fts WHERE rowid = old.file_id;
END;
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES audio_files(id) ON DELETE CASCADE,
    action TEXT NOT NULL CHECK (action IN ('picked', 'rejected', 'exported')),
    reference TEXT, query TEXT,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS idx_feedback_file ON feedback(file_id);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    folder TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    done INTEGER NOT NULL DEFAULT 0, total INTEGER,
    failures TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS failures (
    path TEXT PRIMARY KEY,
    size INTEGER, mtime_ns INTEGER,
    config_key TEXT NOT NULL,
    error TEXT NOT NULL,
    seen_at TEXT NOT NULL DEFAULT (datetime('now'))
);
""".replace("{meta_columns}", ", ".join(f"{c} TEXT" for c in META_FIELDS)).replace("{fts_columns}", ", ".join(META_TEXT))

TABLES = ("audio_files", "audio_paths", "models", "feature_sets", "features", "predictions",
          "descriptor_scores", "descriptor_predictions", "labels", "failures", "segments", "faces", "sound_classes",
          "metadata",
          "feedback", "jobs")


def connect(path, *, create: bool = True) -> sqlite3.Connection:
    """Open the library with foreign keys on, WAL journaling and a busy timeout."""
    path = Path(path)
    if not create and not path.is_file():
        raise EmoTagError(f"{path}: no such database; run log_predictions_to_db.py first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(str(path), timeout=30.0)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA cache_size = -262144")   # 256 MB at most: index inserts of a 100,000-file library stay in memory
        with conn:
            conn.executescript(SCHEMA)
            for table, cols in _ADDED_COLUMNS.items():
                have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}  # noqa: S608 (fixed names)
                for name, typ in cols:
                    if name not in have:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {typ}")  # noqa: S608
            conn.execute("CREATE INDEX IF NOT EXISTS idx_predictions_label ON predictions(emotion_label)")
            conn.execute("INSERT OR REPLACE INTO schema_info VALUES ('version', ?)", (str(SCHEMA_VERSION),))
    except sqlite3.DatabaseError as exc:
        raise EmoTagError(f"{path}: not a usable SQLite database ({exc})") from None
    return conn


def backup(src, dest) -> Path:
    """Copy a library safely while other processes may be writing to it.

    Uses SQLite's online backup API into a temporary file beside ``dest``, checks it
    (``PRAGMA integrity_check``), then renames it into place, so ``dest`` is either the
    old file or a complete copy.
    """
    import os
    import tempfile
    src, dest = Path(src), Path(dest)
    if not src.is_file():
        raise EmoTagError(f"{src}: no such database to back up")
    if dest.resolve() == src.resolve():
        raise EmoTagError(f"{dest}: the backup would overwrite the database itself")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with sqlite3.connect(f"file:{src.resolve()}?mode=ro", uri=True, timeout=30.0) as s_conn, \
                sqlite3.connect(tmp) as d_conn:
            s_conn.backup(d_conn, pages=4096)
            if d_conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise EmoTagError(f"{src}: the backup copy failed its integrity check")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def counts(conn) -> dict:
    """Row count of every table."""
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608 (fixed names)


def register_model(conn, sha256: str, metadata: dict) -> int:
    """Insert a model once (keyed by its file hash); return its id."""
    conn.execute(
        "INSERT OR IGNORE INTO models(sha256, name, kind, target, metadata) VALUES (?, ?, ?, ?, ?)",
        (sha256, metadata.get("name", "unknown"), metadata.get("kind", "unknown"), metadata.get("target"),
         json.dumps(metadata, sort_keys=True, default=str)))
    return conn.execute("SELECT id FROM models WHERE sha256 = ?", (sha256,)).fetchone()[0]


def register_feature_set(conn, config: ExtractorConfig) -> int:
    row = conn.execute("SELECT id FROM feature_sets WHERE config_key = ?", (config.key,)).fetchone()
    if row:
        return row[0]
    conn.execute("INSERT OR IGNORE INTO feature_sets(config_key, config, names) VALUES (?, ?, ?)",
                 (config.key, json.dumps(config.to_dict(), sort_keys=True), json.dumps(list(feature_names(config)))))
    return conn.execute("SELECT id FROM feature_sets WHERE config_key = ?", (config.key,)).fetchone()[0]


def ids_for(conn, column_sql: str, values, *, extra_sql: str = "", extra=()) -> list[tuple]:
    """Rows of ``SELECT <column_sql> ... WHERE <key> IN (values)`` in chunks of 500.

    ``column_sql`` and ``extra_sql`` are fixed strings of this module, never user
    input; the values are bound parameters.
    """
    values = list(values)
    rows = []
    for k in range(0, len(values), 500):
        part = values[k:k + 500]
        marks = ",".join("?" * len(part))
        rows.extend(conn.execute(column_sql.format(marks=marks) + extra_sql, (*part, *extra)))
    return rows


def _file_ids(conn, files: pd.DataFrame) -> dict:
    """Insert audio files and paths (idempotent, set-wise); return {sha256: id}."""
    def col(name, conv=lambda x: x):
        return [conv(x) for x in files[name]] if name in files.columns else [None] * len(files)
    sha, path = list(files["sha256"]), list(files["path"])
    conn.executemany(
        "INSERT INTO audio_files(sha256, path, duration, sample_rate, channels, corpus, group_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sha256) DO UPDATE SET "
        "duration = COALESCE(audio_files.duration, excluded.duration), "
        "sample_rate = COALESCE(audio_files.sample_rate, excluded.sample_rate), "
        "channels = COALESCE(audio_files.channels, excluded.channels), "
        "corpus = COALESCE(audio_files.corpus, excluded.corpus), "
        "group_id = COALESCE(audio_files.group_id, excluded.group_id) "
        "WHERE audio_files.duration IS NULL AND excluded.duration IS NOT NULL "
        "OR audio_files.corpus IS NULL AND excluded.corpus IS NOT NULL",
        list(zip(sha, path, col("duration", _num), col("sample_rate", _int), col("channels", _int),
                 col("corpus"), col("group"))))
    ids = dict(ids_for(conn, "SELECT sha256, id FROM audio_files WHERE sha256 IN ({marks})", set(sha)))
    conn.executemany(
        "INSERT INTO audio_paths(path, file_id, size, mtime_ns) VALUES (?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
        "file_id = excluded.file_id, size = COALESCE(excluded.size, audio_paths.size), "
        "mtime_ns = COALESCE(excluded.mtime_ns, audio_paths.mtime_ns) "
        "WHERE file_id != excluded.file_id OR size IS NOT excluded.size OR mtime_ns IS NOT excluded.mtime_ns",
        list(zip(path, (ids[x] for x in sha), col("size", _int), col("mtime_ns", _int))))
    return ids


def _num(x):
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else float(x)


def _int(x):
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)      # exact: mtimes in ns do not survive a trip through float
    v = _num(x)
    return None if v is None else int(v)


def log_batch(conn, *, files: pd.DataFrame, config: ExtractorConfig | None = None,
              features: np.ndarray | None = None, predictions: pd.DataFrame | None = None,
              model_ids: tuple[int, int] | None = None, scores: pd.DataFrame | None = None,
              labels: pd.DataFrame | None = None, label_source: str = "human", metadata=None) -> None:
    """Write one batch of files in a single transaction (all or nothing).

    Parameters
    ----------
    files : DataFrame
        ``sha256, path`` and optionally ``duration, sample_rate, channels, corpus, group``.
    features : array (n, n_features), rows aligned with ``files``
    predictions : DataFrame with ``valence, arousal`` and optionally ``emotion_label,
        emotion_confidence, emotion_source``, rows aligned with ``files``
    model_ids : (valence_model_id, arousal_model_id)
    scores : DataFrame of descriptor-word columns, rows aligned with ``files``
    labels : DataFrame of label columns (numbers -> ``value``, text -> ``text``), aligned
    metadata : list of dict or DataFrame of ``va_metadata.FIELDS`` columns, aligned; replaces
        each file's stored metadata. Without it, newly analysed files (``features``) get a
        row holding their name only, so the name is searchable; known files keep theirs.
    """
    with conn:  # BEGIN ... COMMIT, or ROLLBACK on any exception
        ids = _file_ids(conn, files)
        fids = [ids[s] for s in files["sha256"]]
        if features is not None:
            fs = register_feature_set(conn, config)
            conn.executemany(
                "INSERT OR IGNORE INTO features(file_id, feature_set_id, vector) VALUES (?, ?, ?)",
                [(fid, fs, np.asarray(v, dtype="<f4").tobytes()) for fid, v in zip(fids, features)])
            _log_classes(conn, fids, features, config)
        if metadata is not None or features is not None:
            _log_metadata(conn, fids, list(files["path"]), metadata)
        if predictions is not None:
            vm, am = model_ids
            n = len(predictions)
            emo = ("emotion_label" in predictions.columns)
            lab = list(predictions["emotion_label"]) if emo else [None] * n
            conf = list(predictions["emotion_confidence"]) if emo else [None] * n
            src = list(predictions["emotion_source"]) if "emotion_source" in predictions.columns else ["unknown"] * n
            unc = [[_num(x) for x in predictions[c]] if c in predictions.columns else [None] * n for c in UNCERTAINTY]
            rows = []
            for fid, v, a, el, ec, es, *u in zip(fids, predictions["valence"], predictions["arousal"], lab, conf, src,
                                                 *unc):
                ok = isinstance(el, str)
                rows.append((fid, vm, am, float(v), float(a), el if ok else None, _num(ec) if ok else None,
                             str(es) if ok else None, *u))
            conn.executemany(
                "INSERT INTO predictions(file_id, valence_model_id, arousal_model_id, valence, arousal, "
                "emotion_label, emotion_confidence, emotion_source, " + ", ".join(UNCERTAINTY) + ") "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(file_id, valence_model_id, arousal_model_id) DO UPDATE SET "
                "valence = excluded.valence, arousal = excluded.arousal, emotion_label = excluded.emotion_label, "
                "emotion_confidence = excluded.emotion_confidence, emotion_source = excluded.emotion_source, "
                + ", ".join(f"{c} = excluded.{c}" for c in UNCERTAINTY) + " "
                "WHERE valence != excluded.valence OR arousal != excluded.arousal "
                "OR emotion_label IS NOT excluded.emotion_label "
                "OR emotion_confidence IS NOT excluded.emotion_confidence "
                + " ".join(f"OR {c} IS NOT excluded.{c}" for c in UNCERTAINTY), rows)
            if scores is not None:
                pids = dict(ids_for(conn, "SELECT file_id, id FROM predictions WHERE file_id IN ({marks})",
                                    set(fids), extra_sql=" AND valence_model_id = ? AND arousal_model_id = ?",
                                    extra=(vm, am)))
                words = list(scores.columns)
                S = scores.to_numpy(dtype=float).tolist()
                conn.executemany(
                    "INSERT INTO descriptor_scores(prediction_id, descriptor, score) VALUES (?, ?, ?) "
                    "ON CONFLICT(prediction_id, descriptor) DO UPDATE SET score = excluded.score "
                    "WHERE score != excluded.score",
                    [(pid, w, x) for pid, row in zip([pids[f] for f in fids], S) for w, x in zip(words, row)])
        if labels is not None:
            rows = []
            for i, fid in enumerate(fids):
                for name in labels.columns:
                    x = labels[name].iloc[i]
                    if x is None or (isinstance(x, float) and np.isnan(x)):
                        continue
                    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
                        rows.append((fid, name, float(x), None, label_source))
                    else:
                        rows.append((fid, name, None, str(x), label_source))
            conn.executemany(
                "INSERT INTO labels(file_id, name, value, text, source) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(file_id, name, source) DO UPDATE SET value = excluded.value, text = excluded.text "
                "WHERE value IS NOT excluded.value OR text IS NOT excluded.text", rows)


def _log_classes(conn, fids, features, config) -> None:
    """YAMNet's top classes and the domain of each file, from its feature row (no-op without the group)."""
    import va_yamnet
    cols = va_yamnet.score_columns(feature_names(config))
    if not cols or not len(fids):
        return
    S = np.asarray(features, dtype=float)[:, cols]
    conn.executemany("DELETE FROM sound_classes WHERE file_id = ?", [(f,) for f in fids])
    conn.executemany("INSERT INTO sound_classes(file_id, rank, class, score) VALUES (?, ?, ?, ?)",
                     [(fid, r, name, min(max(score, 0.0), 1.0)) for fid, s in zip(fids, S)
                      for r, (name, score) in enumerate(va_yamnet.top_classes(s, va_yamnet.TOP_K))])
    conn.executemany("UPDATE audio_files SET domain = ? WHERE id = ? AND domain IS NOT ?",
                     [(d, fid, d) for fid, d in zip(fids, (va_yamnet.domain(s) for s in S))])


def _log_metadata(conn, fids, paths, metadata) -> None:
    """Upsert the ``metadata`` rows and their full-text index entries of one batch."""
    import os
    if metadata is None:
        rows, replace = [{} for _ in fids], False
    elif isinstance(metadata, pd.DataFrame):
        cols = [c for c in META_FIELDS if c in metadata.columns]
        rows, replace = [{c: r[c] for c in cols if isinstance(r[c], str) and r[c]}
                         for r in metadata[cols].to_dict("records")], True
    else:
        rows, replace = [dict(m or {}) for m in metadata], True
    seen, todo = set(), []
    for fid, path, m in zip(fids, paths, rows):
        if fid not in seen:        # one content at two paths in a batch: the first path names it
            seen.add(fid)
            todo.append((fid, os.path.basename(str(path)), m))
    have = {r[0]: tuple(r[1:]) for r in ids_for(
        conn, f"SELECT file_id, name, {', '.join(META_FIELDS)} FROM metadata WHERE file_id IN ({{marks}})",
        [f for f, _, _ in todo])}
    # unchanged rows are left alone (logging twice changes nothing, not even the index)
    todo = [(fid, name, m) for fid, name, m in todo if fid not in have
            or replace and have[fid] != (name, *(m.get(c) for c in META_FIELDS))]
    if not todo:
        return
    marks = ", ".join("?" * (len(META_FIELDS) + 2))
    conn.executemany(f"INSERT OR REPLACE INTO metadata(file_id, name, {', '.join(META_FIELDS)}) VALUES ({marks})",
                     [(fid, name, *(m.get(c) for c in META_FIELDS)) for fid, name, m in todo])
    conn.executemany("DELETE FROM metadata_fts WHERE rowid = ?", [(fid,) for fid, _, _ in todo])
    fmarks = ", ".join("?" * (len(META_TEXT) + 2))
    conn.executemany(f"INSERT INTO metadata_fts(rowid, name, {', '.join(META_TEXT)}) VALUES ({fmarks})",
                     [(fid, _words(name), *(m.get(c) for c in META_TEXT)) for fid, name, m in todo])


def _words(name: str) -> str:
    """A file name as words for the index: ``DOORWood_Creak-Slow.wav`` -> ``DOORWood Creak Slow wav``,
    plus the camel-case parts (``DOOR Wood``), so "door" finds a UCS name."""
    import re
    base = re.sub(r"[_\-.]+", " ", name)
    camel = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", base)
    return base if camel == base else f"{base} {camel}"


FEEDBACK_ACTIONS = ("picked", "rejected", "exported")


def log_feedback(conn, file_ids, action: str, *, reference: str | None = None, query: str | None = None) -> list[int]:
    """Record that a user ``action``-ed each of ``file_ids`` (for a reference take or a
    query, as text), in one transaction; return the new rows' ids. Unknown files raise."""
    if action not in FEEDBACK_ACTIONS:
        raise EmoTagError(f"action must be one of {FEEDBACK_ACTIONS}, got {action!r}")
    file_ids = [int(f) for f in file_ids]
    known = {r[0] for r in ids_for(conn, "SELECT id FROM audio_files WHERE id IN ({marks})", file_ids)}
    missing = [f for f in file_ids if f not in known]
    if missing:
        raise LookupError(f"no file with id {missing[0]} in the library")
    out = []
    with conn:
        for f in file_ids:
            cur = conn.execute("INSERT INTO feedback(file_id, action, reference, query) VALUES (?, ?, ?, ?)",
                               (f, action, reference, query))
            out.append(cur.lastrowid)
    return out


def job_create(conn, kind: str, folder: str, params: dict | None = None) -> int:
    """A new background job (status ``queued``); its id."""
    with conn:
        return conn.execute("INSERT INTO jobs(kind, folder, params, status) VALUES (?, ?, ?, 'queued')",
                            (kind, folder, json.dumps(params or {}, sort_keys=True))).lastrowid


def job_update(conn, job_id: int, **fields) -> None:
    """Set ``status``, ``done``, ``total``, ``failures`` (a list, stored as JSON) or ``error``."""
    allowed = {"status", "done", "total", "failures", "error"}
    bad = set(fields) - allowed
    if bad:
        raise ValueError(f"unknown job fields {sorted(bad)}")
    if "failures" in fields:
        fields["failures"] = json.dumps(fields["failures"])
    sets = ", ".join(f"{k} = ?" for k in fields)        # keys checked against a fixed set above
    with conn:
        conn.execute(f"UPDATE jobs SET {sets}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                     (*fields.values(), job_id))


def jobs(conn, job_id: int | None = None, *, status=()) -> list[dict]:
    """Jobs (newest first), one by id, or those in the given statuses."""
    sql, args = "SELECT id, kind, folder, params, status, done, total, failures, error, created_at, updated_at FROM jobs", []
    if job_id is not None:
        sql, args = sql + " WHERE id = ?", [int(job_id)]
    elif status:
        sql, args = sql + f" WHERE status IN ({','.join('?' * len(status))})", list(status)
    cols = ["id", "kind", "folder", "params", "status", "done", "total", "failures", "error", "created_at",
            "updated_at"]
    out = []
    for row in conn.execute(sql + " ORDER BY id DESC", args):
        d = dict(zip(cols, row))
        d["params"], d["failures"] = json.loads(d["params"]), json.loads(d["failures"])
        out.append(d)
    return out


def log_segments(conn, model_ids: tuple[int, int], segments: pd.DataFrame, words) -> None:
    """Write per-window predictions (``sha256, path, start, end, valence, arousal``, emotion
    columns, ``top_descriptor`` and one column per word in ``words``) in one transaction;
    a file's earlier windows for the same models are replaced. ``domain`` and
    ``sound_classes`` columns, when present, are stored too."""
    vm, am = model_ids
    with conn:
        files = segments[["sha256", "path"]].drop_duplicates("sha256")
        ids = _file_ids(conn, files)
        conn.executemany("DELETE FROM segments WHERE valence_model_id = ? AND arousal_model_id = ? AND file_id = ?",
                         [(vm, am, ids[s]) for s in files["sha256"]])
        W = segments[list(words)].to_numpy(float).tolist() if len(words) else [[]] * len(segments)
        rows = []
        for r, w in zip(segments.itertuples(index=False), W):
            lab = r.emotion_label if isinstance(r.emotion_label, str) else None
            rows.append((ids[r.sha256], vm, am, float(r.start), float(r.end), float(r.valence), float(r.arousal), lab,
                         _num(r.emotion_confidence) if lab else None, str(r.emotion_source) if lab else None,
                         r.top_descriptor if isinstance(r.top_descriptor, str) else None,
                         json.dumps(dict(zip(words, (round(x, 4) for x in w)))),
                         getattr(r, "domain", None) or None, getattr(r, "sound_classes", None) or None))
        conn.executemany("INSERT INTO segments(file_id, valence_model_id, arousal_model_id, start_s, end_s, valence, "
                         "arousal, emotion_label, emotion_confidence, emotion_source, top_descriptor, scores, domain, "
                         "sound_classes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def log_faces(conn, faces: pd.DataFrame) -> None:
    """Write the face lane of videos (the rows of ``new_audio_faces.csv``: ``sha256, path,
    start, end``, the face, voice and fused columns and ``face_p_<label>``) in one
    transaction; a file's earlier face rows are replaced."""
    if faces is None or not len(faces):
        return
    pcols = [c for c in faces.columns if c.startswith("face_p_")]
    with conn:
        files = faces[["sha256", "path"]].drop_duplicates("sha256")
        ids = _file_ids(conn, files)
        conn.executemany("DELETE FROM faces WHERE file_id = ?", [(ids[s],) for s in files["sha256"]])
        rows = []
        for r, p in zip(faces.itertuples(index=False), faces[pcols].to_numpy(float).tolist()):
            def txt(x):
                return x if isinstance(x, str) and x else None
            probs = None if not np.all(np.isfinite(p)) else json.dumps(
                {c[len("face_p_"):]: round(v, 4) for c, v in zip(pcols, p)})
            rows.append((ids[r.sha256], float(r.start), float(r.end), str(r.face_label), _num(r.face_confidence),
                         _num(r.face_valence), _num(r.face_arousal), int(r.faces_seen), int(r.face_frames),
                         txt(r.voice_label), _num(r.voice_confidence), txt(r.fused_label), str(r.fused_source),
                         _num(r.fused_confidence), probs))
        conn.executemany("INSERT INTO faces(file_id, start_s, end_s, face_label, face_confidence, face_valence, "
                         "face_arousal, faces_seen, face_frames, voice_label, voice_confidence, fused_label, "
                         "fused_source, fused_confidence, probs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         rows)


def log_descriptor_predictions(conn, model_id: int, descriptor: str, files: pd.DataFrame, values) -> None:
    """Write one descriptor model's predictions for ``files`` in one transaction."""
    with conn:
        ids = _file_ids(conn, files)
        conn.executemany(
            "INSERT INTO descriptor_predictions(file_id, model_id, descriptor, value) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(file_id, model_id) DO UPDATE SET value = excluded.value WHERE value != excluded.value",
            [(ids[s], model_id, descriptor, float(v)) for s, v in zip(files["sha256"], values)])


# ---------------------------------------------------------------------------- readers
def feature_table(conn, config: ExtractorConfig) -> pd.DataFrame:
    """Every file's features for ``config``: ``file_id, sha256, path, corpus, group`` + features."""
    row = conn.execute("SELECT id, names FROM feature_sets WHERE config_key = ?", (config.key,)).fetchone()
    names = list(feature_names(config))
    if row is None:
        return pd.DataFrame(columns=["file_id", "sha256", "path", "corpus", "group"] + names)
    if json.loads(row[1]) != names:
        raise EmoTagError("the database's feature list for this configuration differs from the running extractor's")
    cur = conn.execute(
        "SELECT f.file_id, a.sha256, a.path, a.corpus, a.group_id, f.vector FROM features f "
        "JOIN audio_files a ON a.id = f.file_id WHERE f.feature_set_id = ? ORDER BY f.file_id", (row[0],))
    recs = cur.fetchall()
    meta = pd.DataFrame([r[:5] for r in recs], columns=["file_id", "sha256", "path", "corpus", "group"])
    X = np.vstack([np.frombuffer(r[5], dtype="<f4") for r in recs]) if recs else np.zeros((0, len(names)))
    return pd.concat([meta, pd.DataFrame(X.astype(float), columns=names)], axis=1)


def va_descriptor_targets(conn) -> pd.DataFrame:
    """VA-derived descriptor scores of each file's most recent prediction (long format)."""
    return pd.read_sql_query(
        "SELECT p.file_id, s.descriptor, s.score AS value FROM descriptor_scores s "
        "JOIN predictions p ON p.id = s.prediction_id "
        "WHERE p.id = (SELECT MAX(id) FROM predictions q WHERE q.file_id = p.file_id)", conn)


def human_label_targets(conn) -> pd.DataFrame:
    """Numeric human labels (long format: file_id, descriptor, value)."""
    return pd.read_sql_query("SELECT file_id, name AS descriptor, value FROM labels WHERE value IS NOT NULL "
                             "AND source = 'human'", conn)
