"""Benchmark: query latency on a 100,000-file library, and the map of 50,000 files in Chromium.

Builds (or reuses, in ``--work``) a synthetic library database of ``--n`` files with
the shipped descriptor words and emotion-category labels (rows written by
``va_db.log_batch``; no audio is needed for a query), then times:

* ``va_query.find`` in-process (the SQL and its small Python wrapper) for ``--near``,
  ``--descriptor`` and ``--label`` queries (target < 20 ms), and for ``--text`` and
  ``--category``, alone and combined with the feeling filters (target: p95 < 50 ms);
  70% of the files have UCS names and every one a description drawn from the UCS
  synonyms of its category, so words are as unevenly common as in a real library;
* ``python query_library.py ...`` end to end, interpreter start-up included
  (target < 100 ms);
* ``va_map.py`` for ``--map-n`` files: the HTML size (target < 15 MB) and the time
  headless Chromium takes from navigation until the map is drawn (target < 2 s).

Writes its section of ``docs/BENCHMARKS.md``.

Example:
  python bench/bench_query.py --work /tmp/bench_query
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, chromium_page, command, machine, start_load_watch, verdict, write_section  # noqa: E402

LABELS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


def build(db: Path, n: int):
    import va_db
    from essentia_engine import DEFAULT_CONFIG, feature_names
    from va_data_loader import load_descriptor_pairs
    words = sorted(set(load_descriptor_pairs()["word_a"]) | set(load_descriptor_pairs()["word_b"]))
    conn = va_db.connect(db)
    have = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    have_meta = conn.execute("SELECT COUNT(*) FROM metadata WHERE description IS NOT NULL").fetchone()[0]
    if have == n and have_meta == n:
        conn.close()
        return words
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    conn = va_db.connect(db)
    with conn:
        vm = va_db.register_model(conn, "v" * 64, {"name": "bench_valence", "kind": "va"})
        am = va_db.register_model(conn, "a" * 64, {"name": "bench_arousal", "kind": "va"})
    rng = np.random.default_rng(0)
    nf = len(feature_names(DEFAULT_CONFIG))
    from va_metadata import parse_ucs_name, ucs_table
    ucs = list(ucs_table().values())
    syn = [[w for w in r["Synonyms"].split("; ") if w] or [r["SubCategory"].lower()] for r in ucs]
    for start in range(0, n, va_db.BULK_BATCH):
        m = min(va_db.BULK_BATCH, n - start)
        ids = np.arange(start, start + m)
        va = np.clip(rng.normal(0, 0.45, (m, 2)), -1, 1)
        cat = rng.integers(0, len(ucs), m)
        named = rng.uniform(0, 1, m) < 0.7
        names = [f"{ucs[c]['CatID']}_{' '.join(rng.choice(syn[c], 2)).title()}_ABC_Bench_{i:06d}.wav" if u
                 else f"sfx_{i:06d}.wav" for i, c, u in zip(ids, cat, named)]
        files = pd.DataFrame({"sha256": [f"{i:064x}" for i in ids],
                              "path": [f"/library/folder{i % 50:02d}/{nm}" for i, nm in zip(ids, names)],
                              "duration": rng.uniform(1, 60, m)})
        meta = [{"description": " ".join(rng.choice(syn[c], int(rng.integers(3, 8)))), **parse_ucs_name(nm)}
                for c, nm in zip(cat, names)]
        pred = pd.DataFrame({"valence": va[:, 0], "arousal": va[:, 1], "emotion_label": rng.choice(LABELS, m),
                             "emotion_confidence": rng.uniform(0.3, 1, m), "emotion_source": "va-nearest"})
        scores = pd.DataFrame(rng.uniform(0, 1, (m, len(words))), columns=words)
        va_db.log_batch(conn, files=files, config=DEFAULT_CONFIG,
                        features=rng.standard_normal((m, nf)).astype(np.float32), predictions=pred,
                        model_ids=(vm, am), scores=scores, metadata=meta)
    conn.close()
    return words


def timed(fn, reps):
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return np.median(out) * 1000, np.percentile(out, 95) * 1000


def map_open_seconds(html: Path) -> tuple[float, float]:
    with chromium_page() as page:
        t = time.perf_counter()
        page.goto(html.as_uri())
        page.wait_for_function("window.emotagMap && window.emotagMap.ready", timeout=60000)
        wall = time.perf_counter() - t
        nav = page.evaluate("performance.now()") / 1000
        assert int(page.get_attribute("#plot", "data-count")) > 0
    return wall, nav


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--map-n", type=int, default=50_000)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--work", default=None)
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_query_"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "library.db"
    t = time.perf_counter()
    words = build(db, args.n)
    print(f"library of {args.n} files ready in {time.perf_counter() - t:.0f} s; {machine()}")
    from va_query import find, open_library
    conn = open_library(db)
    rng = np.random.default_rng(1)
    pts = iter(rng.uniform(-1, 1, (10_000, 2)))
    w = iter(rng.choice(words, 10_000))
    lab = iter(rng.choice(LABELS, 10_000))
    from va_metadata import ucs_table
    ucs = list(ucs_table().values())
    vocab = sorted({w for r in ucs for w in r["Synonyms"].split("; ") if w.isalpha()})
    tw = iter(rng.choice(vocab, 10_000))
    cats = iter(rng.choice(sorted({r["CatShort"] for r in ucs}), 10_000))
    queries = {
        "--near V A": (lambda: find(conn, near=tuple(next(pts)), limit=20),
                       ["--near", "0.3", "-0.4"]),
        "--descriptor W --min 0.7": (lambda: find(conn, descriptors=[(next(w), 0.7)], limit=20),
                                     ["--descriptor", "soothing", "--min", "0.7"]),
        "--label L": (lambda: find(conn, labels=[next(lab)], limit=20), ["--label", "calm"]),
        "--near + 2 descriptors + --label": (lambda: find(conn, near=tuple(next(pts)), descriptors=[
            (next(w), 0.5), (next(w), 0.5)], labels=[next(lab)], limit=20),
            ["--near", "0.3", "-0.4", "--descriptor", "calm", "--min", "0.5", "--descriptor", "gentle", "--min", "0.5",
             "--label", "calm"]),
        "--text W": (lambda: find(conn, text=next(tw), limit=20), ["--text", "creak"]),
        "--text 'W1 W2'": (lambda: find(conn, text=f"{next(tw)} OR {next(tw)}", limit=20),
                           ["--text", "door creak"]),
        "--category C": (lambda: find(conn, category=next(cats), limit=20), ["--category", "DOOR"]),
        "--text W + --near V A": (lambda: find(conn, text=next(tw), near=tuple(next(pts)), limit=20),
                                  ["--text", "creak", "--near", "0.3", "-0.4"]),
        "--category C + --descriptor W --min 0.5": (lambda: find(conn, category=next(cats),
                                                                 descriptors=[(next(w), 0.5)], limit=20),
                                                    ["--category", "DOOR", "--descriptor", "calm", "--min", "0.5"]),
        "--text W + --label L + --sort arousal": (lambda: find(conn, text=next(tw), labels=[next(lab)],
                                                               sort="arousal", limit=20),
                                                  ["--text", "creak", "--label", "calm", "--sort", "arousal"]),
    }
    results = {}
    for name, (fn, cli) in queries.items():
        fn()
        sql = timed(fn, args.reps)
        cmd = [sys.executable, str(ROOT / "query_library.py"), "--db", str(db), *cli]
        subprocess.run(cmd, check=True, capture_output=True)
        e2e = timed(lambda: subprocess.run(cmd, check=True, capture_output=True), max(5, args.reps // 3))
        results[name] = (sql, e2e)
        print(f"  {name}: in-process median {sql[0]:.1f} ms (p95 {sql[1]:.1f}), end to end median {e2e[0]:.0f} ms "
              f"(p95 {e2e[1]:.0f})")
    conn.close()
    html = work / "map.html"
    t = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "va_map.py"), "--db", str(db), "--out", str(html), "--limit",
                    str(args.map_n), "-q"], check=True)
    export_s = time.perf_counter() - t
    size_mb = html.stat().st_size / 2**20
    try:
        wall, nav = map_open_seconds(html)
        opened = f"{wall:.2f} s (wall, goto -> drawn); {nav:.2f} s by the page's own clock"
        ok_open = wall < 2.0
    except Exception as exc:  # no browser here: say so in the report
        opened, ok_open = f"not measured ({type(exc).__name__}: {exc})".split("\n")[0], False
    print(f"  map of {args.map_n} files: {size_mb:.1f} MB, exported in {export_s:.1f} s, opened in {opened}")

    cmd = command("bench_query.py", argv)
    lines = ["## Queries and the map (`bench/bench_query.py`)", "",
             f"Command: `{cmd}`, run {time.strftime('%Y-%m-%d')}.", f"Machine: {machine()}.",
             f"Library: {args.n:,} synthetic files (rows written by `va_db.log_batch`: 30 descriptor words, 8 "
             "emotion labels, VA spread around the centre; 70% with UCS file names over all 752 CatIDs, every "
             "file a description of 3-7 UCS synonyms of its category, all in the FTS5 index). Text queries draw "
             "random UCS synonyms, categories random UCS short names. In-process: `va_query.find`, the median and 95th "
             f"percentile of {args.reps} random queries; end to end: `python query_library.py --db ...` as a "
             "subprocess, interpreter start-up included.", "",
             "| query | in-process median / p95 (ms) | end to end median / p95 (ms) |", "|---|---:|---:|"]
    for name, (sql, e2e) in results.items():
        lines.append(f"| `{name}` | {sql[0]:.1f} / {sql[1]:.1f} | {e2e[0]:.0f} / {e2e[1]:.0f} |")
    feeling = [k for k in results if k != "--near + 2 descriptors + --label" and "--text" not in k
               and "--category" not in k]
    words_q = [k for k in results if "--text" in k or "--category" in k]
    worst_sql = max(results[k][0][1] for k in feeling)
    worst_e2e = max(results[k][1][1] for k in feeling)
    worst_text = max(results[k][0][1] for k in words_q)
    lines += ["", "| target | measured | verdict |", "|---|---:|---|",
              f"| `--near`, `--descriptor`, `--label` SQL < 20 ms at {args.n:,} files | worst p95 {worst_sql:.1f} ms | "
              f"{verdict(worst_sql < 20)} |",
              f"| the same end to end < 100 ms | worst p95 {worst_e2e:.0f} ms | {verdict(worst_e2e < 100)} |",
              f"| `--text` and `--category`, alone and with feeling filters, SQL p95 < 50 ms at {args.n:,} files | "
              f"worst p95 {worst_text:.1f} ms | {verdict(worst_text < 50)} |",
              f"| map of {args.map_n:,} files under 15 MB | {size_mb:.1f} MB | {verdict(size_mb < 15)} |",
              f"| map of {args.map_n:,} files opens in < 2 s in headless Chromium | {opened} | {verdict(ok_open)} |",
              "", f"Exporting the {args.map_n:,}-file map (`va_map.py --limit {args.map_n}`) took {export_s:.1f} s."]
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        write_section("bench_query", text)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    start_load_watch()
    sys.exit(main())
