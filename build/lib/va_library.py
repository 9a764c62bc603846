"""Incremental, resumable analysis of a sound library straight into the SQLite database.

Reads audio files and folders (searched recursively), the trained models and the
database; writes only the database (this process alone writes it; workers, local or on
a Dask cluster, only compute). ``predict_new_audio.py --db`` is its command line.

A run goes:

1. **scan** the paths, with each file's size and modification time;
2. **skip** files whose path, size and mtime match the database and that already have
   features (this extractor configuration) and predictions (these models): no file is
   opened. Files that failed before and have not changed are skipped too, unless
   ``retry_failed``;
3. **hash** the rest (in parallel). Content already in the database (a renamed, moved or
   touched file, or a copy) is recognised: the new path is recorded and nothing is
   re-analysed. Only new content goes on;
4. **analyse** the new content in parallel and **commit** the results in batches of
   ``batch_size`` files, one transaction each (features, valence/arousal, emotion label,
   descriptor scores, paths). Ctrl-C or ``kill -9`` loses at most the batch in flight;
   a re-run continues where the last one stopped.

Paths are stored absolute. After a folder scan, database paths under that folder that no
longer exist are dropped (the content stays, reachable through its other paths).

Example::

    >>> from va_library import analyse_library
    >>> summary = analyse_library(["my_sounds/"], db="output/library.db", models_dir="models", jobs=2)
    >>> print(summary.line())
"""
from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import pandas as pd

from essentia_engine import DEFAULT_CONFIG, ExtractorConfig
from extractor import iter_extract, iter_hash
from va_db import connect, ids_for, log_batch, register_feature_set, register_model
from va_inference import CLASS_COLUMNS, SEGMENT_COLUMNS, UNCERTAINTY_COLUMNS, ModelSet
from va_utils import EmoTagError, find_audio_files, log, show_path


@dataclasses.dataclass
class RunSummary:
    """What one library run did. ``failures`` lists ``(path, message)``."""

    scanned: int = 0
    unchanged: int = 0
    recognised: int = 0        # content already in the database under another path or mtime
    predicted: int = 0         # features from the database, predictions made now (new models)
    analysed: int = 0
    failed: int = 0
    skipped_failed: int = 0    # failed before, unchanged since
    removed_paths: int = 0
    segmented: int = 0         # files whose windows (--segments) were predicted in this run
    faced: int = 0             # videos whose face lane (--faces) was analysed in this run
    audio_seconds: float = 0.0
    seconds: float = 0.0
    failures: list = dataclasses.field(default_factory=list)

    def line(self) -> str:
        rt = self.audio_seconds / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.scanned} files: {self.analysed} analysed ({self.audio_seconds / 3600:.2f} audio h, "
                f"{rt:.0f}x real time), {self.unchanged} unchanged, {self.recognised} recognised by content, "
                f"{self.predicted} re-predicted, {self.failed} failed"
                + (f", {self.skipped_failed} failed before and unchanged (--retry-failed)" if self.skipped_failed else "")
                + (f", {self.segmented} segmented" if self.segmented else "")
                + (f", {self.faced} videos' faces" if self.faced else "")
                + f" in {self.seconds:.1f} s")


def scan(paths):
    """``(files, problems)``: absolute paths with ``(size, mtime_ns)``, and unreadable arguments."""
    found, problems = find_audio_files(paths)
    files = {}
    for p in found:
        a = os.path.abspath(p)
        try:
            st = os.stat(a)
        except OSError as exc:
            problems.append((a, f"cannot read file: {exc.strerror or exc}"))
            continue
        files[a] = (st.st_size, st.st_mtime_ns)
    return files, problems


def analyse_library(paths, *, db, models_dir, config: ExtractorConfig = DEFAULT_CONFIG, jobs: int = 1,
                    backend: str = "loky", scheduler=None, cache_dir=None, batch_size: int = 200,
                    chunk_size=None, force: bool = False, retry_failed: bool = False, emotion: str = "auto",
                    lexicon=None, pairs=None, eps: float = 1.0, progress=False,
                    timeout: float | None = None, segments=None, faces: dict | None = None) -> RunSummary:
    """Bring the database up to date with the audio under ``paths``; see the module docstring.

    Parameters
    ----------
    paths : list of path-like
        Audio files and folders.
    db : path-like
        The SQLite library (created if missing).
    force : bool
        Re-analyse every file, ignoring what the database holds (rows are replaced, not
        duplicated).
    batch_size : int
        Files per database transaction.
    segments : (window, hop) or None
        Also predict every ``window``-second window, every ``hop`` seconds, into the
        ``segments`` table, for every scanned file that has no windows from the current
        models yet (all of them with ``force``).
    faces : dict or None
        Also the face lane of every scanned video without one (``va_faces.face_rows``'s
        keywords: ``fps``, ``window``, ``hop``), into the ``faces`` table, on the windows of
        the ``segments`` table where the file has them (videos without sound too).
    progress : bool or callable
        True: a progress bar on stderr. A callable is called as ``progress(done, total,
        summary)`` after the scan and after every file (``done`` counts the files dealt
        with: unchanged, skipped, recognised, analysed or failed), so that a server can
        show a job's progress.

    Returns
    -------
    RunSummary
    """
    t0 = time.perf_counter()
    predictor = ModelSet(models_dir, config=config, emotion=emotion, lexicon=lexicon, pairs=pairs, eps=eps)
    summary = RunSummary()
    files, problems = scan(paths)
    summary.scanned = len(files)
    for p, m in problems:
        summary.failures.append((p, m))
        log.error("%s: %s", show_path(p), m)
    report = progress if callable(progress) else None
    progress = bool(progress) and report is None
    n_done = [0]

    def tick(n=0):
        n_done[0] += n
        if report is not None:
            report(min(n_done[0], summary.scanned), summary.scanned, summary)
    conn = connect(db)
    try:
        meta = predictor.model_metadata()
        with conn:
            fs = register_feature_set(conn, config)
            vm = register_model(conn, meta["valence"]["sha256"], meta["valence"])
            am = register_model(conn, meta["arousal"]["sha256"], meta["arousal"])
        known = {p: (s, m, f) for p, f, s, m in conn.execute("SELECT path, file_id, size, mtime_ns FROM audio_paths")}
        have_feat = {r[0] for r in conn.execute("SELECT file_id FROM features WHERE feature_set_id = ?", (fs,))}
        have_pred = {r[0] for r in conn.execute(
            "SELECT file_id FROM predictions WHERE valence_model_id = ? AND arousal_model_id = ?", (vm, am))}
        failed_before = {p: (s, m) for p, s, m in conn.execute(
            "SELECT path, size, mtime_ns FROM failures WHERE config_key = ?", (config.key,))}

        todo = []
        for p, (size, mtime) in files.items():
            k = known.get(p)
            if not force and k and k[0] == size and k[1] == mtime and k[2] in have_feat and k[2] in have_pred:
                summary.unchanged += 1
            elif not force and not retry_failed and failed_before.get(p) == (size, mtime):
                summary.skipped_failed += 1
            else:
                todo.append(p)
        summary.removed_paths = _drop_vanished(conn, paths, files)
        tick(summary.scanned - len(todo))                       # unchanged and skipped

        # content hashes of everything not skipped
        shas: dict[str, str] = {}
        for i, sha, err in iter_hash(todo, jobs=jobs, backend=backend, scheduler=scheduler):
            if err:
                _fail(conn, summary, todo[i], files[todo[i]], config, err)
            else:
                shas[todo[i]] = sha
        in_db = dict(ids_for(conn, "SELECT sha256, id FROM audio_files WHERE sha256 IN ({marks})", set(shas.values())))
        reuse = [] if force else [p for p, s in shas.items() if in_db.get(s) in have_feat]
        reused = set(reuse)
        first_of: dict[str, str] = {}   # new content: analyse one path per hash, record the copies after
        copies = []
        for p in shas:
            if p in reused:
                continue
            if shas[p] in first_of:
                copies.append(p)
            else:
                first_of[shas[p]] = p
        new = list(first_of.values())

        if new or any(in_db.get(shas[p]) not in have_pred for p in reuse):
            predictor.preload()

        # recognised content: record the path; predict from stored features when needed
        for k in range(0, len(reuse), batch_size):
            _commit_known(conn, reuse[k:k + batch_size], files, shas, in_db, have_pred, fs, (vm, am), predictor,
                          config, summary)
            tick(len(reuse[k:k + batch_size]))
        tick(len(todo) - len(shas))                             # files whose hashing failed

        # new content: analyse in parallel, commit in batches as results arrive
        bar = None
        if progress and new:
            from tqdm import tqdm
            bar = tqdm(total=len(new), unit="file", desc="analysing", dynamic_ncols=True, smoothing=0.05)
        pending = []
        t_an = time.perf_counter()
        try:
            for i, r in iter_extract(new, shas=[shas[p] for p in new], config=config, jobs=jobs, cache_dir=cache_dir,
                                     backend=backend, scheduler=scheduler, chunk_size=chunk_size, timeout=timeout):
                if r.ok:
                    pending.append(r)
                    summary.audio_seconds += r.duration or 0.0
                else:
                    _fail(conn, summary, r.path, files[r.path], config, r.error)
                for w in r.warnings:
                    log.warning("%s: %s", show_path(r.path), w)
                if len(pending) >= batch_size:
                    _commit_new(conn, pending, files, (vm, am), predictor, config, summary)
                    pending = []
                tick(1)
                if bar is not None:
                    el = time.perf_counter() - t_an
                    bar.set_postfix_str(f"{summary.audio_seconds / el:.0f}x real time" if el > 0 else "", refresh=False)
                    bar.update(1)
            if pending:
                _commit_new(conn, pending, files, (vm, am), predictor, config, summary)
        finally:
            if bar is not None:
                bar.close()
        if copies:  # copies of content analysed above (or that failed: then they fail too)
            in_db = dict(ids_for(conn, "SELECT sha256, id FROM audio_files WHERE sha256 IN ({marks})",
                                 {shas[p] for p in copies}))
            have_pred.update(r[0] for r in ids_for(
                conn, "SELECT file_id FROM predictions WHERE file_id IN ({marks})", set(in_db.values()),
                extra_sql=" AND valence_model_id = ? AND arousal_model_id = ?", extra=(vm, am)))
            ok = [p for p in copies if shas[p] in in_db]
            for p in copies:
                if shas[p] not in in_db:
                    _fail(conn, summary, p, files[p], config, f"same content as {first_of[shas[p]]}, which failed")
            for k in range(0, len(ok), batch_size):
                _commit_known(conn, ok[k:k + batch_size], files, shas, in_db, have_pred, fs, (vm, am), predictor,
                              config, summary)
            tick(len(copies))
        if segments:
            _segments(conn, files, (vm, am), predictor, segments, batch_size, summary,
                      jobs=jobs, backend=backend, scheduler=scheduler, force=force)
        if faces:
            _faces(conn, files, (vm, am), faces, summary, force=force, lexicon=lexicon)
        n_done[0] = summary.scanned
        tick()
    finally:
        conn.close()
    summary.seconds = time.perf_counter() - t0
    return summary


def _segments(conn, files, model_ids, predictor, segments, batch_size, summary, *, jobs, backend, scheduler,
              force):
    """Per-window predictions of the scanned files that lack them, committed per batch of files."""
    from va_db import log_segments
    vm, am = model_ids
    path_fid = dict(ids_for(conn, "SELECT path, file_id FROM audio_paths WHERE path IN ({marks})", list(files)))
    done = set() if force else {r[0] for r in conn.execute(
        "SELECT DISTINCT file_id FROM segments WHERE valence_model_id = ? AND arousal_model_id = ?", (vm, am))}
    todo, seen = [], set()
    for path, fid in sorted(path_fid.items()):
        if fid not in done and fid not in seen:
            seen.add(fid)
            todo.append(path)
    if not todo:
        return
    predictor.load()
    sha_of = dict(ids_for(conn, "SELECT path, (SELECT sha256 FROM audio_files WHERE id = audio_paths.file_id) "
                                "FROM audio_paths WHERE path IN ({marks})", todo))
    words = None
    for k in range(0, len(todo), batch_size):
        part = todo[k:k + batch_size]
        seg, errors = predictor.predict_segments(part, window=segments[0], hop=segments[1], jobs=jobs,
                                                 backend=backend, scheduler=scheduler, shas=sha_of)
        for e in errors:
            summary.failures.append((e["path"], e["message"]))
        if len(seg):
            words = words or [c for c in seg.columns if c not in SEGMENT_COLUMNS + UNCERTAINTY_COLUMNS + CLASS_COLUMNS]
            log_segments(conn, model_ids, seg, words)
            summary.segmented += seg["sha256"].nunique()


def _faces(conn, files, model_ids, opts, summary, *, force, lexicon):
    """The face lane of each scanned video that has none, committed one video at a time."""
    import va_faces
    from va_db import log_faces
    from va_utils import sha256_file
    done = set() if force else {r[0] for r in conn.execute("SELECT DISTINCT file_id FROM faces")}
    path_fid = dict(ids_for(conn, "SELECT path, file_id FROM audio_paths WHERE path IN ({marks})", list(files)))
    seen = set()
    for path in sorted(files):
        fid = path_fid.get(path)
        if fid in done or (fid is not None and fid in seen) or not va_faces.has_video(path):
            continue
        seen.add(fid)
        try:
            seg = None
            if fid is not None:
                seg = pd.read_sql_query(
                    "SELECT start_s AS start, end_s AS \"end\", emotion_label, emotion_confidence, domain FROM segments "
                    "WHERE file_id = ? AND valence_model_id = ? AND arousal_model_id = ? ORDER BY start_s",
                    conn, params=(fid, *model_ids))
            sha = (conn.execute("SELECT sha256 FROM audio_files WHERE id = ?", (fid,)).fetchone()[0] if fid is not None
                   else sha256_file(path))
            rows = va_faces.face_rows(path, segments=seg, sha256=sha, lexicon_path=lexicon, **opts)
        except (EmoTagError, OSError) as exc:
            log.error("%s: faces: %s", show_path(path), exc)
            summary.failures.append((path, f"faces: {exc}"))
            continue
        log_faces(conn, rows)
        summary.faced += 1


def _drop_vanished(conn, paths, files) -> int:
    """Remove database paths under the scanned folders that the scan did not find."""
    n = 0
    for root in paths:
        if not os.path.isdir(root):
            continue
        prefix = os.path.join(os.path.abspath(root), "")
        rows = conn.execute("SELECT path, file_id FROM audio_paths WHERE substr(path, 1, ?) = ?",
                            (len(prefix), prefix)).fetchall()
        gone = [(p,) for p, _ in rows if p not in files]
        if gone:
            with conn:
                conn.executemany("DELETE FROM audio_paths WHERE path = ?", gone)
                # a file's display path follows it to a path that still exists
                conn.execute("UPDATE audio_files SET path = (SELECT MIN(path) FROM audio_paths q "
                             "WHERE q.file_id = audio_files.id) WHERE path NOT IN (SELECT path FROM audio_paths) "
                             "AND EXISTS (SELECT 1 FROM audio_paths q WHERE q.file_id = audio_files.id)")
            n += len(gone)
    return n


def _fail(conn, summary, path, stat, config, message):
    summary.failed += 1
    summary.failures.append((path, message))
    log.error("%s: %s", show_path(path), message)
    with conn:
        conn.execute("INSERT INTO failures(path, size, mtime_ns, config_key, error) VALUES (?, ?, ?, ?, ?) "
                     "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
                     "config_key = excluded.config_key, error = excluded.error, seen_at = datetime('now')",
                     (path, stat[0], stat[1], config.key, message))


def _file_frame(paths, files, shas, extra=None) -> pd.DataFrame:
    df = pd.DataFrame({"sha256": [shas[p] for p in paths], "path": paths,
                       "size": [files[p][0] for p in paths], "mtime_ns": [files[p][1] for p in paths]})
    if extra:
        for k, v in extra.items():
            df[k] = v
    return df


def _commit_known(conn, paths, files, shas, in_db, have_pred, fs, model_ids, predictor, config, summary):
    fids = [in_db[shas[p]] for p in paths]
    need = sorted({f for f in fids if f not in have_pred})
    pred = scores = None
    frame = _file_frame(paths, files, shas)
    if need:
        rows = dict(ids_for(conn, "SELECT file_id, vector FROM features WHERE file_id IN ({marks})", need,
                            extra_sql=" AND feature_set_id = ?", extra=(fs,)))
        X = np.vstack([np.frombuffer(rows[f], dtype="<f4") for f in need]).astype(float)
        p, s = predictor.predict(X)
        row_of = {f: i for i, f in enumerate(need)}
        take = [row_of.get(f) for f in fids]
        keep = [i for i, t in enumerate(take) if t is not None]
        idx = [take[i] for i in keep]
        pred, scores = p.iloc[idx].reset_index(drop=True), s.iloc[idx].reset_index(drop=True)
        log_batch(conn, files=frame.iloc[keep].reset_index(drop=True), predictions=pred, model_ids=model_ids,
                  scores=scores)
        _clear_failures(conn, [paths[i] for i in keep])
        have_pred.update(need)
        summary.predicted += len(need)
    rest = [i for i, f in enumerate(fids) if f not in set(need)]
    if rest:
        log_batch(conn, files=frame.iloc[rest].reset_index(drop=True))
        _clear_failures(conn, [paths[i] for i in rest])
    summary.recognised += len(paths)


def _commit_new(conn, results, files, model_ids, predictor, config, summary):
    X = np.vstack([r.features for r in results])
    pred, scores = predictor.predict(X)
    paths = [r.path for r in results]
    frame = _file_frame(paths, files, {r.path: r.sha256 for r in results},
                        {"duration": [r.duration for r in results], "sample_rate": [r.sample_rate for r in results],
                         "channels": [r.channels for r in results]})
    # one transaction: the batch's paths, features, predictions and scores are all in, or none
    log_batch(conn, files=frame, config=config, features=X, predictions=pred, model_ids=model_ids, scores=scores,
              metadata=[r.metadata for r in results])
    _clear_failures(conn, paths)
    summary.analysed += len(results)


def _clear_failures(conn, paths):
    with conn:
        conn.executemany("DELETE FROM failures WHERE path = ?", [(p,) for p in paths])


__all__ = ["RunSummary", "analyse_library", "scan"]
