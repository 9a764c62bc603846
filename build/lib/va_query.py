"""Search the SQLite library by feeling: valence/arousal, descriptors, labels, folders, likeness.

Reads the database, opened read-only; writes nothing. ``query_library.py`` is its
command line, and ``va_map.py`` reads the same rows. The SQL queries use the standard
library only (no NumPy or pandas import), so that a query from the shell answers in
well under a second; every value reaches SQLite as a bound parameter, and descriptor and
label names are checked against the database first.

* :func:`find` answers ``near`` (nearest in valence/arousal), ``descriptors``
  (score thresholds, all of them must hold), ``labels`` (emotion labels, any of them),
  ``under`` (a folder) and ``limit``, combined.
* :func:`like` ranks the library by distance to an audio file in standardised feature
  space (the file is analysed on the fly unless the database knows its content).
* :func:`recommend` ranks the library by how well its files' emotion fits a reference
  (``recommend.py`` and the server).
* :func:`moments` finds spans (start and end times) where per-window predictions meet
  thresholds, from the ``segments`` table.
* :func:`to_table`, :func:`to_csv`, :func:`to_json`, :func:`to_m3u`, :func:`to_markers`
  and :func:`to_audacity` format the rows.

Example::

    >>> from va_query import open_library, find, to_table
    >>> conn = open_library("output/library.db")
    >>> print(to_table(find(conn, near=(0.5, -0.5), descriptors=[("soothing", 0.6)], limit=5)))
"""
from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from pathlib import Path

from va_utils import EmoTagError, did_you_mean

COLUMNS = ["path", "valence", "arousal", "emotion_label", "emotion_confidence", "in_domain", "duration", "domain",
           "sound_classes", "description", "ucs_catid"]
#: Sound classes shown per file (of the TOP_K stored).
SHOWN_CLASSES = 3
#: ``--confident``: the in-domain score (0..1) a prediction needs.
CONFIDENT_IN_DOMAIN = 0.5


def has_in_domain(conn) -> bool:
    """Whether the library's predictions carry in-domain scores (libraries from before do not)."""
    return "in_domain" in {r[1] for r in conn.execute("PRAGMA table_info(predictions)")}


def has_metadata(conn) -> bool:
    """Whether the library stores file metadata and its full-text index (schema 5 on)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'metadata_fts'").fetchone() \
        is not None


#: SQL of a file's one-line description: the first of its description, title, UCS FXName, comment.
_DESCRIPTION_SQL = ("(SELECT COALESCE(m.description, m.title, m.ucs_fxname, m.comment) FROM metadata m "
                    "WHERE m.file_id = p.file_id)")
_CATID_SQL = "(SELECT m.ucs_catid FROM metadata m WHERE m.file_id = p.file_id)"


def has_classes(conn) -> bool:
    """Whether the library stores sound classes (libraries from before schema 4 do not)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sound_classes'").fetchone() \
        is not None and "domain" in {r[1] for r in conn.execute("PRAGMA table_info(audio_files)")}


def check_class(name: str) -> str:
    """The exact YAMNet class name for ``name`` (any case); a one-line error with a close match otherwise."""
    import csv as _csv

    from va_utils import MODELS_DIR
    with open(MODELS_DIR / "yamnet" / "yamnet_class_map.csv", newline="", encoding="utf-8") as fh:
        known = [r["display_name"] for r in _csv.DictReader(fh)]     # without importing the model runtime
    low = {n.lower(): n for n in known}
    if str(name).lower() in low:
        return low[str(name).lower()]
    raise EmoTagError(f"{name!r} is not one of YAMNet's {len(known)} sound classes{did_you_mean(name, known)}")


DOMAINS = ("speech", "music", "vocal", "other")   # va_yamnet.DOMAINS, without importing the model runtime
#: SQL of a file's shown classes ("Rain 0.60; Water 0.57; ...") and of its domain.
_CLASSES_SQL = (f"(SELECT group_concat(c.class || ' ' || printf('%.2f', c.score), '; ') FROM "
                f"(SELECT class, score FROM sound_classes WHERE file_id = p.file_id AND rank < {SHOWN_CLASSES} "
                f"ORDER BY rank) c)")


def open_library(path) -> sqlite3.Connection:
    """Open an existing library read-only."""
    path = Path(path)
    if not path.is_file():
        raise EmoTagError(f"{path}: no such database; build one with predict_new_audio.py --db or "
                          "log_predictions_to_db.py")
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, timeout=30.0)
        conn.execute("SELECT 1 FROM predictions LIMIT 1")
    except sqlite3.DatabaseError as exc:
        raise EmoTagError(f"{path}: not an emotag library ({exc})") from None
    return conn


def model_pair(conn):
    """``(valence_model_id, arousal_model_id)`` of the most recent prediction, or None."""
    return conn.execute("SELECT valence_model_id, arousal_model_id FROM predictions "
                        "ORDER BY id DESC LIMIT 1").fetchone()


def descriptor_names(conn) -> list[str]:
    """Every descriptor with scores in the library (a scan: used for error messages)."""
    return [r[0] for r in conn.execute("SELECT DISTINCT descriptor FROM descriptor_scores ORDER BY descriptor")]


def label_names(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT emotion_label FROM predictions "
                                       "WHERE emotion_label IS NOT NULL ORDER BY emotion_label")]


def check_names(conn, descriptors=(), labels=()) -> None:
    """Raise a one-line error, with a close match, for a descriptor or label the library lacks."""
    for name in descriptors:
        if conn.execute("SELECT 1 FROM descriptor_scores WHERE descriptor = ? LIMIT 1", (name,)).fetchone() is None:
            raise EmoTagError(f"no descriptor {name!r} in the library{_hint(name, descriptor_names(conn))}")
    for name in labels:
        if conn.execute("SELECT 1 FROM predictions WHERE emotion_label = ? LIMIT 1", (name,)).fetchone() is None:
            raise EmoTagError(f"no emotion label {name!r} in the library{_hint(name, label_names(conn))}")


def _hint(name, known) -> str:
    hint = did_you_mean(name, known)
    return hint + f" (known: {', '.join(known)})" if "did you mean" in hint else f" (known: {', '.join(known) or 'none'})"


def _under(folder) -> tuple[str, list]:
    """SQL (on ``q.path``) and parameters for "inside ``folder``": its absolute path, or the
    path as typed, since libraries logged from CSVs keep the paths they were given."""
    prefixes = {os.path.join(os.path.abspath(folder), ""), os.path.join(os.path.normpath(folder), "")}
    sql = " OR ".join(["(q.path >= ? AND q.path < ?)"] * len(prefixes))
    return f"({sql})", [x for p in sorted(prefixes) for x in (p, p + "\U0010ffff")]


def _text_errors(fn):
    """Turn SQLite's complaint about a malformed ``text`` query into a one-line EmoTagError."""
    import functools

    @functools.wraps(fn)
    def run(conn, *args, **kw):
        try:
            return fn(conn, *args, **kw)
        except sqlite3.OperationalError as exc:
            if kw.get("text") and not any(w in str(exc) for w in ("locked", "disk", "readonly", "no such table")):
                raise EmoTagError(f"--text {kw['text']!r} is not a valid full-text query ({exc}); "
                                  'put a phrase in double quotes: --text \'"door creak"\'') from None
            raise
    return run


@_text_errors
def find(conn, *, near=None, descriptors=(), labels=(), under=None, limit: int | None = 20,
         pair=None, check: bool = True, with_ids: bool = False, min_in_domain: float | None = None,
         classes=(), domain: str | None = None, sort: str | None = None, text: str | None = None,
         category: str | None = None) -> list[dict]:
    """Files of the library that match every filter, best first.

    Parameters
    ----------
    near : (valence, arousal) or None
        Order by Euclidean distance to this point (a ``distance`` column is added).
    descriptors : list of (name, min_score)
        Each descriptor's VA-derived score must be at least ``min_score``. Without
        ``near``, rows are ordered by the first descriptor's score, highest first.
    labels : list of str
        The emotion label must be one of these.
    under : folder or None
        Only files with a path inside this folder (shown with that path).
    limit : int or None
        At most this many rows (None: all).
    pair : (valence_model_id, arousal_model_id) or None
        Predictions of this model pair (default: the most recent).
    with_ids : bool
        Also return each row's ``file_id``.
    min_in_domain : float in [0, 1] or None
        Only predictions whose in-domain score (how typical the file is of the models'
        training data) is at least this; files without one are left out.
    classes : list of str
        YAMNet sound classes ("Rain", "Siren", ...; any case, checked): each must be among
        the file's top classes (the five stored per file).
    domain : {"speech", "music", "vocal", "other"} or None
        Only files of this coarse domain.
    sort : {"arousal", "valence", "-arousal", "-valence"} or None
        Without ``near`` or ``descriptors``: highest first (with "-": lowest first);
        default by path, or by text relevance (bm25) with ``text``.
    text : str or None
        An FTS5 query over the file's name and metadata (description, title, comment,
        keywords, UCS names, iXML note, ...): ``door creak`` (both words), ``"door creak"``
        (the phrase), ``door OR gate``, ``creak*``, ``description:rain``. Words are stemmed
        (``doors`` finds ``door``).
    category : str or None
        A UCS category (``DOORS``), its short name (``DOOR``) or a CatID (``DOORWood``).

    Returns
    -------
    list of dict
        ``path, valence, arousal, emotion_label, emotion_confidence, in_domain, duration,
        domain, sound_classes`` (the top three, with scores), the score of each filtered
        descriptor, and ``distance`` with ``near``.
    """
    descriptors = [(str(n), float(lo)) for n, lo in descriptors]
    labels = [str(x) for x in labels]
    if check:
        check_names(conn, [n for n, _ in descriptors], labels)
    pair = pair or model_pair(conn)
    if pair is None:
        return []
    if limit is not None and limit < 1:
        raise EmoTagError(f"--limit must be at least 1, got {limit}")
    where, params = ["p.valence_model_id = ?", "p.arousal_model_id = ?"], list(pair)
    for name, lo in descriptors[1 if descriptors and near is None else 0:]:
        where.append("EXISTS (SELECT 1 FROM descriptor_scores s WHERE s.descriptor = ? "
                     "AND s.prediction_id = p.id AND s.score >= ?)")
        params += [name, lo]
    if labels:
        where.append(f"p.emotion_label IN ({','.join('?' * len(labels))})")   # placeholders only
        params += labels
    classes = [check_class(c) for c in classes]
    if domain is not None and domain not in DOMAINS:
        raise EmoTagError(f"domain must be one of {DOMAINS}, got {domain!r}")
    cls = has_classes(conn)
    if (classes or domain) and not cls:
        raise EmoTagError("this library stores no sound classes; re-log it with the current extractor "
                          "(predict_new_audio.py --db, or log_predictions_to_db.py) to add them")
    for c in classes:
        where.append("EXISTS (SELECT 1 FROM sound_classes c WHERE c.file_id = p.file_id AND c.class = ?)")
        params.append(c)
    if domain is not None:
        where.append("a.domain = ?")
        params.append(domain)
    meta = has_metadata(conn)
    if (text or category) and not meta:
        raise EmoTagError("this library stores no file metadata; re-log it with the current version "
                          "(predict_new_audio.py --db, or log_predictions_to_db.py) to search words and categories")
    if text is not None:
        if not str(text).strip():
            raise EmoTagError("--text needs at least one word")
        where.append("p.file_id IN (SELECT rowid FROM metadata_fts WHERE metadata_fts MATCH ?)")
        params.append(str(text))
    if category is not None:
        from va_metadata import category_ids
        ids = category_ids(category)
        where.append(f"p.file_id IN (SELECT file_id FROM metadata WHERE ucs_catid IN ({','.join('?' * len(ids))}))")
        params += ids
    dom = has_in_domain(conn)
    if min_in_domain is not None:
        if not dom:
            raise EmoTagError("this library's predictions carry no in-domain scores; re-run predict_new_audio.py "
                              "--db (or log_predictions_to_db.py) with the current models to add them")
        where.append("p.in_domain >= ?")
        params.append(float(min_in_domain))
    path_sql, path_params = "a.path", []
    if under is not None:
        inside, inside_params = _under(under)
        where.append(f"EXISTS (SELECT 1 FROM audio_paths q WHERE q.file_id = p.file_id AND {inside})")
        params += inside_params
        path_sql = f"(SELECT MIN(q.path) FROM audio_paths q WHERE q.file_id = p.file_id AND {inside})"
        path_params = list(inside_params)
    score_cols = "".join(f", (SELECT s.score FROM descriptor_scores s WHERE s.descriptor = ? "
                         f"AND s.prediction_id = p.id) AS d{i}" for i in range(len(descriptors)))
    score_params = [n for n, _ in descriptors]
    select = (f"SELECT {path_sql}, p.valence, p.arousal, p.emotion_label, p.emotion_confidence, "
              f"{'p.in_domain' if dom else 'NULL'}, a.duration, "
              f"{'a.domain, ' + _CLASSES_SQL if cls else 'NULL, NULL'}, "
              f"{_DESCRIPTION_SQL + ', ' + _CATID_SQL if meta else 'NULL, NULL'}"
              f"{score_cols}, p.file_id")
    names = COLUMNS + [n for n, _ in descriptors] + ["file_id"]

    if near is not None:
        v, a = float(near[0]), float(near[1])
        dist = "((p.valence - ?) * (p.valence - ?) + (p.arousal - ?) * (p.arousal - ?))"
        r = 0.05
        while True:
            box = "p.valence BETWEEN ? AND ? AND p.arousal BETWEEN ? AND ?"
            sql = (f"{select}, {dist} AS d2 FROM predictions p JOIN audio_files a ON a.id = p.file_id "
                   f"WHERE {box} AND {' AND '.join(where)} ORDER BY d2, a.path" + (" LIMIT ?" if limit else ""))
            args = (path_params + score_params + [v, v, a, a] + [v - r, v + r, a - r, a + r] + params
                    + ([limit] if limit else []))
            rows = conn.execute(sql, args).fetchall()
            done = limit is not None and len(rows) == limit and rows[-1][-1] <= r * r
            if done or r > 3.0:
                break
            r *= 2
        return [_row(names + ["distance"], (*row[:-1], row[-1] ** 0.5), with_ids) for row in rows]

    if descriptors:
        # Walk the first descriptor's scores from the top (one contiguous key range of the
        # table), joining only a window of them to the other tables; widen the window
        # until it yields ``limit`` rows or holds every score above the threshold. With
        # more filters, one pass over every score above the threshold is quicker.
        first, lo = descriptors[0]
        window = None if limit is None or len(where) > 2 else 4 * limit
        while True:
            sql = (f"{select} FROM (SELECT prediction_id, score FROM descriptor_scores WHERE descriptor = ? "
                   f"AND score >= ? ORDER BY score DESC" + (" LIMIT ?" if window else "") + ") s0 "
                   f"JOIN predictions p ON p.id = s0.prediction_id JOIN audio_files a ON a.id = p.file_id "
                   f"WHERE {' AND '.join(where)} ORDER BY s0.score DESC, a.path" + (" LIMIT ?" if limit else ""))
            args = (path_params + score_params + [first, lo] + ([window] if window else []) + params
                    + ([limit] if limit else []))
            rows = conn.execute(sql, args).fetchall()
            if window is None or len(rows) == limit:
                break
            if conn.execute("SELECT COUNT(*) FROM descriptor_scores WHERE descriptor = ? AND score >= ?",
                            (first, lo)).fetchone()[0] <= window:
                break
            window *= 4
        return [_row(names, row, with_ids) for row in rows]
    else:
        order = {None: "a.path", "arousal": "p.arousal DESC, a.path", "valence": "p.valence DESC, a.path",
                 "-arousal": "p.arousal, a.path", "-valence": "p.valence, a.path"}
        if sort not in order:
            raise EmoTagError(f"sort must be one of {[k for k in order if k]}, got {sort!r}")
        if text is not None and sort is None:      # best text matches first
            sql = (f"{select} FROM (SELECT rowid AS fid, rank FROM metadata_fts WHERE metadata_fts MATCH ?) t "
                   f"JOIN predictions p ON p.file_id = t.fid JOIN audio_files a ON a.id = p.file_id "
                   f"WHERE {' AND '.join(where)} ORDER BY t.rank, a.path" + (" LIMIT ?" if limit else ""))
            args = path_params + score_params + [str(text)] + params + ([limit] if limit else [])
        else:
            sql = (f"{select} FROM predictions p JOIN audio_files a ON a.id = p.file_id "
                   f"WHERE {' AND '.join(where)} ORDER BY {order[sort]}" + (" LIMIT ?" if limit else ""))
            args = path_params + score_params + params + ([limit] if limit else [])
    return [_row(names, row, with_ids) for row in conn.execute(sql, args)]


MUSIC_FOLDERS = {"music", "songs", "song", "tracks", "score", "scores", "soundtrack", "soundtracks"}
MUSIC_CORPORA = {"emotify"}


def _kinds(conn, file_ids) -> dict:
    from va_db import ids_for
    rows = ids_for(conn, "SELECT id, corpus, path FROM audio_files WHERE id IN ({marks})", list(file_ids))
    out = {}
    for fid, corpus, path in rows:
        parts = {p.lower() for p in Path(path).parts[:-1]}
        music = (corpus or "").lower() in MUSIC_CORPORA or bool(parts & MUSIC_FOLDERS)
        out[fid] = "music" if music else "sfx"
    return out


def recommend(conn, ref: dict, *, kind="any", descriptors=(), under=None, limit=10, exclude_sha=None) -> list[dict]:
    """Library files that fit ``ref`` (see the module docstring), best first.

    ``exclude_sha`` leaves out the reference's own content when the library holds it.
    """
    pool = max(200, 20 * limit)
    label = ref.get("emotion_label")
    picked, seen = [], set()
    if exclude_sha:
        seen.update(r[0] for r in conn.execute("SELECT id FROM audio_files WHERE sha256 = ?", (exclude_sha,)))
    passes = [[label]] if isinstance(label, str) and label in label_names(conn) else []
    for labels in passes + [[]]:
        rows = find(conn, near=(ref["valence"], ref["arousal"]), descriptors=descriptors, labels=labels,
                    under=under, limit=pool, with_ids=True)
        kinds = _kinds(conn, {r["file_id"] for r in rows}) if kind != "any" else {}
        for r in rows:
            if r["file_id"] in seen or (kind != "any" and kinds.get(r["file_id"]) != kind):
                continue
            seen.add(r["file_id"])
            r = {k: v for k, v in r.items() if k != "file_id"}
            r["same_label"] = bool(labels)
            picked.append(r)
            if len(picked) == limit:
                return picked
    return picked


def _row(names, values, with_ids):
    r = dict(zip(names, values))
    if not with_ids:
        del r["file_id"]
    return r


def like(conn, db_path, audio_file, *, descriptors=(), labels=(), under=None, limit: int = 20,
         cache_dir=None, min_in_domain: float | None = None, classes=(), domain: str | None = None,
         text: str | None = None, category: str | None = None) -> list[dict]:
    """Files nearest to ``audio_file`` in standardised feature space, nearest first.

    The features of ``audio_file`` come from the database when its content is there,
    otherwise it is analysed now. Every library file with features of the running
    extractor configuration is a candidate (narrowed by the other filters); features are
    standardised by the library's own mean and standard deviation. The file itself is
    left out. Adds a ``feature_distance`` column.
    """
    import numpy as np

    from essentia_engine import DEFAULT_CONFIG
    from extractor import extract_file
    from va_db import connect, feature_table
    from va_utils import sha256_file
    if not Path(audio_file).is_file():
        raise EmoTagError(f"{audio_file}: no such file")
    rw = connect(db_path, create=False)
    try:
        table = feature_table(rw, DEFAULT_CONFIG)
    finally:
        rw.close()
    if table.empty:
        raise EmoTagError(f"{db_path}: the library holds no features of the running extractor configuration")
    names = [c for c in table.columns if c not in ("file_id", "sha256", "path", "corpus", "group")]
    X = table[names].to_numpy(np.float64)
    sha = sha256_file(audio_file)
    hit = np.flatnonzero(table["sha256"].to_numpy() == sha)
    if hit.size:
        q = X[hit[0]]
    else:
        res = extract_file(audio_file, config=DEFAULT_CONFIG, cache_dir=cache_dir)
        q = res.features
    sd = X.std(axis=0)                                  # the mean cancels in a difference
    sd[sd == 0] = 1.0
    d = np.sqrt((((X - q) / sd) ** 2).mean(axis=1))      # RMS z-distance: comparable across feature sets
    d[table["sha256"].to_numpy() == sha] = np.inf
    allowed = {r["file_id"]: r for r in find(conn, descriptors=descriptors, labels=labels, under=under,
                                             limit=None, with_ids=True, min_in_domain=min_in_domain,
                                             classes=classes, domain=domain, text=text, category=category)}
    ids = table["file_id"].to_numpy()
    out = []
    for i in np.argsort(d, kind="stable"):
        if len(out) == limit or not np.isfinite(d[i]):
            break
        r = allowed.get(int(ids[i]))
        if r is not None:
            r = {k: v for k, v in r.items() if k != "file_id"}
            r["feature_distance"] = float(d[i])
            out.append(r)
    return out


def moments(conn, *, arousal_above=None, arousal_below=None, valence_above=None, valence_below=None,
            min_duration: float = 0.0, under=None, limit: int | None = None, pair=None) -> list[dict]:
    """Spans of the library's files where every window meets the conditions.

    Reads the ``segments`` table (``predict_new_audio.py --segments`` then
    ``log_predictions_to_db.py``). Consecutive windows of one file that all meet the
    conditions (strict inequalities) form a span from the first window's centre minus
    half a hop to the last one's centre plus half a hop, so that a 3 s / 1 s analysis
    places a change to within about a second. Spans shorter than ``min_duration``
    seconds are dropped.

    Returns
    -------
    list of dict
        ``path, start, end, duration, valence, arousal`` (the means over the span), in
        file then time order.
    """
    conds = [(arousal_above, "arousal", 1), (arousal_below, "arousal", -1),
             (valence_above, "valence", 1), (valence_below, "valence", -1)]
    conds = [(float(x), col, sign) for x, col, sign in conds if x is not None]
    if not conds:
        raise EmoTagError("--moments needs at least one of --arousal-above/-below, --valence-above/-below")
    pair = pair or model_pair(conn)
    if pair is None:
        return []
    where, params = ["s.valence_model_id = ?", "s.arousal_model_id = ?"], list(pair)
    if under is not None:
        inside, inside_params = _under(under)
        where.append(f"EXISTS (SELECT 1 FROM audio_paths q WHERE q.file_id = s.file_id AND {inside})")
        params += inside_params
    cur = conn.execute("SELECT a.path, s.file_id, s.start_s, s.end_s, s.valence, s.arousal FROM segments s "
                       f"JOIN audio_files a ON a.id = s.file_id WHERE {' AND '.join(where)} "
                       "ORDER BY s.file_id, s.start_s", params)
    out = []

    def close(run):
        if not run:
            return
        starts = [r[2] for r in run]
        step = (starts[1] - starts[0]) if len(starts) > 1 else (run[0][3] - run[0][2])
        centre = lambda r: (r[2] + r[3]) / 2
        a = max(run[0][2], centre(run[0]) - step / 2)
        b = min(run[-1][3], centre(run[-1]) + step / 2)
        if b - a >= min_duration:
            out.append({"path": run[0][0], "start": round(a, 3), "end": round(b, 3), "duration": round(b - a, 3),
                        "valence": sum(r[4] for r in run) / len(run), "arousal": sum(r[5] for r in run) / len(run)})

    run = []
    for row in cur:
        ok = all((row[4] if col == "valence" else row[5]) * sign > x * sign for x, col, sign in conds)
        if run and (row[1] != run[-1][1] or not ok):
            close(run)
            run = []
        if ok:
            run.append(row)
        if limit is not None and len(out) >= limit:
            break
    close(run)
    return out[:limit] if limit is not None else out


# ------------------------------------------------------------------------ formatting
def _fmt(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


_OPTIONAL = ("description", "ucs_catid")    # shown in a table only when some file has them
_WIDE = 40                                  # characters of a description shown in a table


def to_table(rows: list[dict]) -> str:
    """An aligned text table (numbers to 3 decimals; descriptions cut to 40 characters)."""
    if not rows:
        return "(no matching files)"
    cols = [c for c in rows[0] if c not in _OPTIONAL or any(r[c] is not None for r in rows)]
    cells = [[_fmt(r[c])[:_WIDE] if c in _OPTIONAL else _fmt(r[c]) for c in cols] for r in rows]
    width = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    num = [all(isinstance(r[c], (int, float)) or r[c] is None for r in rows) for c in cols]
    line = lambda vals: "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(vals, width, num)).rstrip()
    return "\n".join([line(cols), line(["-" * w for w in width])] + [line(row) for row in cells])


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


def to_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=1, ensure_ascii=False)


def to_m3u(rows: list[dict]) -> str:
    """An extended M3U playlist: ``#EXTINF:seconds,title`` then the absolute path."""
    lines = ["#EXTM3U"]
    for r in rows:
        title = Path(r["path"]).stem
        extra = f" ({r['emotion_label']})" if r.get("emotion_label") else ""
        lines.append(f"#EXTINF:{int(round(r['duration'])) if r.get('duration') else -1},{title}{extra}")
        lines.append(os.path.abspath(r["path"]))
    return "\n".join(lines) + "\n"


def to_markers(rows: list[dict]) -> str:
    """Editor markers: a CSV of ``name,start,end`` (seconds)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "start", "end"])
    for r in rows:
        w.writerow([Path(r["path"]).name, f"{r['start']:.3f}", f"{r['end']:.3f}"])
    return buf.getvalue()


def to_audacity(rows: list[dict]) -> str:
    """An Audacity label track (``start<TAB>end<TAB>label``); the label names the file when
    the spans come from several files (import it onto the file it names)."""
    several = len({r["path"] for r in rows}) > 1
    lines = []
    for r in rows:
        label = f"v {r['valence']:+.2f} a {r['arousal']:+.2f}"
        if several:
            label = f"{Path(r['path']).name}: {label}"
        lines.append(f"{r['start']:.6f}\t{r['end']:.6f}\t{label}")
    return "\n".join(lines) + ("\n" if lines else "")


FORMATS = {"table": to_table, "csv": to_csv, "json": to_json, "m3u": to_m3u, "markers": to_markers,
           "audacity": to_audacity}
