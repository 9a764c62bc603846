"""Benchmark: a synthetic sound library, analysed, re-analysed, grown, logged and queried.

Builds a library of ``--n`` files with the project's own generator (20 folders; 44.1 kHz
stereo 16-bit WAV of ``--seconds`` each) and times, through the real command line
(``predict_new_audio.py LIB --db LIB.db -j JOBS --no-cache``):

1. the first run;
2. a no-change re-run (target: < 3% of the first run);
3. a re-run after adding 1% new files (target: about 1% of the first run more);
4. peak memory of the first run at 100 files and at ``--n`` files (target: flat within 10%);
5. a first run on a fresh database killed with SIGKILL half way, then resumed (the
   database must be whole, nothing done twice, the resumed run only does the rest);
6. the library database's size per file, and queries on it (nearest VA, a descriptor floor
   with the nearest point, a text search).

Then, on a fresh database, the logging throughput of ``va_db.log_batch`` for
``--log-rows`` synthetic files with features, predictions and 30 descriptor scores
(target >= 5,000 files/s), and ``va_query.find(near=...)`` top-20 queries at that size
(target < 50 ms). Then a projection to ``--project-rows`` files (default 1,000,000): the
same queries on a database of that many synthetic rows (predictions and descriptor scores;
the feature vectors, which the queries do not read, are left out and their size projected
from step 6). Writes audio and databases into ``--work`` and its section of
``docs/BENCHMARKS.md``.

Examples:
  python bench/bench_library.py                         # 2,000 files
  python bench/bench_library.py --n 20000 --seconds 1   # the issue-22 run (about 3.5 GB of WAV)
  python bench/bench_library.py --n 100000 --seconds 1  # the full-size run (about 18 GB of WAV)
"""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, build_library, command, machine, run_timed, start_load_watch, verdict, write_section  # noqa: E402

TARGET_RERUN, TARGET_LOG, TARGET_QUERY_MS, TARGET_RSS = 0.03, 5000, 50, 0.10


def cli(lib, db, jobs, models):
    return [sys.executable, str(ROOT / "predict_new_audio.py"), str(lib), "--db", str(db), "-j", str(jobs),
            "--models-dir", str(models), "--no-cache", "-q", "--out-dir", str(Path(db).parent / "out")]


def logging_and_queries(work: Path, n: int, queries: int, batch: int | None = None, *, features: bool = True,
                        name: str = "logging.db"):
    import va_db
    from essentia_engine import DEFAULT_CONFIG, feature_names
    batch = batch or va_db.BULK_BATCH
    db = work / name
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    conn = va_db.connect(db)
    with conn:
        vm = va_db.register_model(conn, "v" * 64, {"name": "bench_valence", "kind": "va", "target": "valence"})
        am = va_db.register_model(conn, "a" * 64, {"name": "bench_arousal", "kind": "va", "target": "arousal"})
    rng = np.random.default_rng(0)
    nf = len(feature_names(DEFAULT_CONFIG))
    words = [f"word{i:02d}" for i in range(30)]
    t_log = 0.0
    for start in range(0, n, batch):
        m = min(batch, n - start)
        files = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(start, start + m)],
                              "path": [f"/library/folder{i % 20:02d}/sfx_{i:06d}.wav" for i in range(start, start + m)],
                              "duration": 5.0, "sample_rate": 44100, "channels": 2,
                              "size": 882044, "mtime_ns": 1_700_000_000_000_000_000 + np.arange(start, start + m)})
        X = rng.standard_normal((m, nf)).astype(np.float32) if features else None
        pred = pd.DataFrame({"valence": rng.uniform(-1, 1, m), "arousal": rng.uniform(-1, 1, m),
                             "emotion_label": rng.choice(["calm", "happy", "sad", "angry"], m),
                             "emotion_confidence": rng.uniform(0, 1, m), "emotion_source": "va-nearest"})
        scores = pd.DataFrame(rng.uniform(0, 1, (m, len(words))), columns=words)
        t = time.perf_counter()
        va_db.log_batch(conn, files=files, config=DEFAULT_CONFIG, features=X, predictions=pred, model_ids=(vm, am),
                        scores=scores)
        t_log += time.perf_counter() - t
    times = []
    qs = rng.uniform(-1, 1, (queries, 2))
    from va_query import find
    find(conn, near=(0.0, 0.0), limit=20)  # warm the page cache
    for v, a in qs:
        t = time.perf_counter()
        res = find(conn, near=(float(v), float(a)), limit=20)
        times.append(time.perf_counter() - t)
        assert len(res) == 20
    # the answer is the brute-force answer
    allp = np.asarray(conn.execute("SELECT valence, arousal FROM predictions").fetchall())
    v, a = qs[0]
    brute = np.sort(np.hypot(allp[:, 0] - v, allp[:, 1] - a))[:20]
    assert np.allclose(sorted(r["distance"] for r in find(conn, near=(float(v), float(a)), limit=20)), brute)
    size_mb = db.stat().st_size / 2**20
    floor = query_times(conn, qs, lambda v, a: find(conn, near=(v, a), descriptors=[("word03", 0.5)], limit=20))
    conn.close()
    return n / t_log, np.median(times) * 1000, np.percentile(times, 95) * 1000, size_mb, batch, floor


def query_times(conn, points, query) -> tuple[float, float]:
    """Median and p95 (ms) of ``query(v, a)`` over ``points``, after one warm-up call."""
    query(0.0, 0.0)
    times = []
    for v, a in points:
        t = time.perf_counter()
        query(float(v), float(a))
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000), float(np.percentile(times, 95) * 1000)


def killed_and_resumed(lib: Path, db: Path, jobs: int, models, n: int) -> dict:
    """A first run killed with SIGKILL once half the files are stored, then resumed."""
    import os
    import signal
    import subprocess
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cli(lib, db, jobs, models), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    stored, killed = 0, False
    while proc.poll() is None:
        time.sleep(0.5)
        if db.exists():
            try:
                c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                stored = c.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
                c.close()
            except sqlite3.Error:
                continue
            if stored >= n // 2:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
    proc.wait()
    killed_at = time.perf_counter() - t0
    c = sqlite3.connect(db)
    at_kill = c.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    ok_after_kill = c.execute("PRAGMA integrity_check").fetchone()[0]
    c.close()
    resumed = run_timed(cli(lib, db, jobs, models))
    c = sqlite3.connect(db)
    total = c.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    dup = c.execute("SELECT COUNT(*) FROM (SELECT file_id FROM predictions GROUP BY file_id "
                    "HAVING COUNT(*) > 1)").fetchone()[0]
    ok = c.execute("PRAGMA integrity_check").fetchone()[0]
    c.close()
    return {"killed": killed, "killed_after_s": killed_at, "stored_at_kill": at_kill, "integrity_after_kill": ok_after_kill,
            "resume_s": resumed["seconds"], "total": total, "duplicates": dup, "integrity": ok}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="library size")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each file")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--models-dir", default=str(ROOT / "models"))
    ap.add_argument("--log-rows", type=int, default=100_000, help="files in the logging/query database")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--project-rows", type=int, default=1_000_000,
                    help="size of the synthetic database the queries are timed on for the projection (0: skip)")
    ap.add_argument("--no-kill", action="store_true", help="skip the kill -9 and resume step")
    ap.add_argument("--work", default=None, help="folder for the library (default: a temp folder, removed after)")
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_library_"))
    work.mkdir(parents=True, exist_ok=True)
    print(machine())
    t = time.perf_counter()
    for old in (work / "lib").glob("folder*/sfx_*.wav"):   # a reused --work: drop the last run's top-up
        if int(old.name.split("_")[1]) >= args.n:
            old.unlink()
    build_library(work / "lib", args.n, seconds=args.seconds)
    build_library(work / "small", 100, seconds=args.seconds)
    print(f"library of {args.n} files built in {time.perf_counter() - t:.0f} s")
    db = work / "lib.db"
    for p in work.glob("*.db*"):
        p.unlink()
    first = run_timed(cli(work / "lib", db, args.jobs, args.models_dir))
    print(f"first run: {first['seconds']:.1f} s, peak RSS {first['tree_mb']:.0f} MB (tree), {first['max_mb']:.0f} MB (largest process)")
    rerun = run_timed(cli(work / "lib", db, args.jobs, args.models_dir))
    print(f"no-change re-run: {rerun['seconds']:.2f} s")
    add = max(1, args.n // 100)
    build_library(work / "lib", add, start=args.n, seconds=args.seconds)
    grown = run_timed(cli(work / "lib", db, args.jobs, args.models_dir))
    print(f"re-run after adding {add} files: {grown['seconds']:.2f} s")
    add10 = max(1, args.n // 10)
    build_library(work / "lib", add10, start=args.n + add, seconds=args.seconds)
    grown10 = run_timed(cli(work / "lib", db, args.jobs, args.models_dir))
    print(f"re-run after adding {add10} more files: {grown10['seconds']:.2f} s")
    small = run_timed(cli(work / "small", work / "small.db", args.jobs, args.models_dir))
    print(f"100-file first run: {small['seconds']:.1f} s, peak RSS {small['tree_mb']:.0f} MB (tree), {small['max_mb']:.0f} MB")
    c = sqlite3.connect(db)
    n_rows = c.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    integrity = c.execute("PRAGMA integrity_check").fetchone()[0]
    c.close()
    assert n_rows == args.n + add + add10 and integrity == "ok", (n_rows, integrity)
    lib_mb = sum(p.stat().st_size for p in work.glob("lib.db*")) / 2**20
    from va_query import find
    c = sqlite3.connect(db)
    pts = np.random.default_rng(1).uniform(-1, 1, (args.queries, 2))
    lib_near = query_times(c, pts, lambda v, a: find(c, near=(v, a), limit=20))
    lib_text = query_times(c, pts[:50], lambda v, a: find(c, text="rain OR chime", near=(v, a), limit=20))
    c.close()
    print(f"library database: {lib_mb:.0f} MB for {n_rows} files; nearest p95 {lib_near[1]:.1f} ms, "
          f"text+nearest p95 {lib_text[1]:.1f} ms")
    kr = None
    if not args.no_kill:
        kr = killed_and_resumed(work / "lib", work / "killed.db", args.jobs, args.models_dir, n_rows)
        print(f"kill -9 after {kr['killed_after_s']:.0f} s with {kr['stored_at_kill']} stored; resumed in "
              f"{kr['resume_s']:.0f} s: {kr['total']} files, {kr['duplicates']} duplicates, {kr['integrity']}")
        assert kr["total"] == n_rows and kr["duplicates"] == 0 and kr["integrity"] == "ok", kr
    rate, q_med, q_p95, size_mb, log_batch_size, q_floor = logging_and_queries(work, args.log_rows, args.queries)
    print(f"logging: {rate:.0f} files/s; nearest top-20 at {args.log_rows} files: median {q_med:.1f} ms, p95 {q_p95:.1f} ms")
    proj = None
    if args.project_rows:
        t = time.perf_counter()
        proj = logging_and_queries(work, args.project_rows, args.queries, features=False, name="projection.db")
        print(f"projection database of {args.project_rows} rows built in {time.perf_counter() - t:.0f} s: "
              f"nearest p95 {proj[2]:.1f} ms, descriptor floor + nearest p95 {proj[5][1]:.1f} ms, {proj[3]:.0f} MB")

    audio_h = args.n * args.seconds / 3600
    rr = rerun["seconds"] / first["seconds"]
    extra = (grown["seconds"] - rerun["seconds"]) / first["seconds"]
    per_file_first = first["seconds"] / args.n
    per_file_added = (grown10["seconds"] - grown["seconds"]) / (add10 - add)
    fixed = grown["seconds"] - rerun["seconds"] - add * per_file_added
    rss_growth = first["tree_mb"] / small["tree_mb"] - 1
    rss_growth_max = first["max_mb"] / small["max_mb"] - 1
    cmd = command("bench_library.py", argv)
    lines = [
        "## Library runs, logging and queries (`bench/bench_library.py`)",
        "",
        f"Command: `{cmd}`, run {time.strftime('%Y-%m-%d')}.",
        f"Machine: {machine()}.",
        f"Library: {args.n} synthesised files of {args.seconds:g} s ({audio_h:.1f} audio hours; 44.1 kHz stereo 16-bit "
        f"WAV in 20 folders), analysed by `predict_new_audio.py LIB --db LIB.db -j {args.jobs} --no-cache` "
        "(wall time of the whole command, start-up and model loading included).",
        "",
        "| step | wall s | note |",
        "|---|---:|---|",
        f"| first run, {args.n} files | {first['seconds']:.1f} | {args.n * args.seconds / first['seconds']:.0f}x real time "
        f"on {args.jobs} workers |",
        f"| no-change re-run | {rerun['seconds']:.2f} | {rr:.1%} of the first run |",
        f"| re-run after adding {add} files (1%) | {grown['seconds']:.2f} | {extra:.1%} of the first run more than a "
        "no-change re-run |",
        f"| re-run after adding {add10} more files (10%) | {grown10['seconds']:.2f} | "
        f"{(grown10['seconds'] - grown['seconds']) / (add10 - add) * 1000:.0f} ms per added file beyond the 1% run |",
        f"| first run, 100 files | {small['seconds']:.1f} | for the memory comparison |",
        "",
        f"Cost of new files: the first run took {per_file_first * 1000:.1f} ms per file; each file added later costs "
        f"{per_file_added * 1000:.1f} ms (the slope between the 1% and 10% top-ups), so the marginal cost of new "
        f"files is {per_file_added / per_file_first:.2f}x that of the first run. On top of it, a run that has anything "
        f"to analyse pays a fixed {fixed:.1f} s (model loading, worker start-up), which is what a 1% top-up of this "
        "library mostly consists of.",
        "",
        "| target | measured | verdict |",
        "|---|---:|---|",
        f"| no-change re-run of {args.n} files < 3% of the first run | {rr:.1%} | {verdict(rr < TARGET_RERUN)} |",
        f"| adding 1% new files costs about 1% more (whole command) | {extra:.1%} | {verdict(extra < 0.02)} "
        "(read as: under 2%) |",
        f"| the same, marginal cost per added file vs the first run | {per_file_added / per_file_first:.2f}x | "
        f"{verdict(per_file_added / per_file_first < 1.2)} (read as: within 20%) |",
        f"| database logging >= {TARGET_LOG:,} files/s ({args.log_rows:,} files: features, VA, emotion, 30 scores) | "
        f"{rate:,.0f} files/s | {verdict(rate >= TARGET_LOG)} |",
        f"| nearest-VA top-20 at {args.log_rows:,} files < {TARGET_QUERY_MS} ms | median {q_med:.1f} ms, p95 {q_p95:.1f} ms | "
        f"{verdict(q_p95 < TARGET_QUERY_MS)} |",
        f"| peak RSS flat (within 10%) from 100 to {args.n} files: whole process tree | {small['tree_mb']:.0f} -> "
        f"{first['tree_mb']:.0f} MB ({rss_growth:+.0%}) | {verdict(abs(rss_growth) <= TARGET_RSS)} |",
        f"| the same, largest single process | {small['max_mb']:.0f} -> {first['max_mb']:.0f} MB ({rss_growth_max:+.0%}) | "
        f"{verdict(abs(rss_growth_max) <= TARGET_RSS)} |",
        "",
        f"The library database holds {n_rows:,} files in {lib_mb:.0f} MB ({lib_mb * 1024 / n_rows:.1f} kB per file: "
        "the 2,289 float32 features are most of it), so 1,000,000 files would take about "
        f"{lib_mb / n_rows * 1e6 / 1024:.1f} GB. On it, nearest-VA top-20: median {lib_near[0]:.1f} ms, p95 "
        f"{lib_near[1]:.1f} ms; a text search (`rain OR chime`) ordered by distance: median {lib_text[0]:.1f} ms, "
        f"p95 {lib_text[1]:.1f} ms.",
    ]
    if kr:
        lines += ["",
                  ("Killed half way: a first run on a fresh database was killed with SIGKILL (the whole process group) "
                   if kr["killed"] else "Kill and resume: **the run ended before half its files were stored, so it "
                   "was not killed**; ") + f"after {kr['killed_after_s']:.0f} s, with {kr['stored_at_kill']:,} of {n_rows:,} files stored; the "
                  f"database passed `PRAGMA integrity_check` ({kr['integrity_after_kill']}). The same command then "
                  f"resumed in {kr['resume_s']:.0f} s and ended with {kr['total']:,} files, {kr['duplicates']} "
                  f"stored twice, integrity {kr['integrity']} (an uninterrupted first run: {first['seconds']:.0f} s)."]
    if proj:
        lines += ["",
                  f"Projection to {args.project_rows:,} files: a database of that many synthetic rows (paths, VA, "
                  "emotion, 30 descriptor scores; no feature vectors, which no query reads) is "
                  f"{proj[3]:.0f} MB; on it, nearest-VA top-20: median {proj[1]:.1f} ms, p95 {proj[2]:.1f} ms "
                  f"(target < {TARGET_QUERY_MS} ms: {verdict(proj[2] < TARGET_QUERY_MS)}); a descriptor floor "
                  f"(`word03` >= 0.5) with the nearest point: median {proj[5][0]:.1f} ms, p95 {proj[5][1]:.1f} ms "
                  f"({verdict(proj[5][1] < TARGET_QUERY_MS)})."]
    lines += [
        "",
        f"Logging is `va_db.log_batch` in transactions of {log_batch_size:,} files (`va_db.BULK_BATCH`, the default "
        "of `log_predictions_to_db.py`); the time counts the database calls only, not the making of the synthetic "
        "rows. "
        f"The {args.log_rows:,}-file logging database is {size_mb:.0f} MB. The query is `va_query.find(near=...)` (a box search "
        "through the `(valence, arousal)` index, checked against brute force), timed over "
        f"{args.queries} random points after one warm-up query.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        write_section("bench_library", text)
        print(f"wrote its section of {ROOT / 'docs' / 'BENCHMARKS.md'}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    start_load_watch()
    sys.exit(main())
