"""Benchmark: the server (serve.py) under load, and the web app's first page.

* Search endpoints on a ``--n`` (100,000) file library: ``--clients`` (50) concurrent
  clients, each on its own keep-alive connection, send ``--requests`` (10,000+) requests
  in all, a random mix of ``/api/search`` modes (near, descriptor, label, text, category,
  and combinations); latency per request at the client, errors (anything but 200).
  Target: p95 < 50 ms, zero errors.
* ``POST /api/analyse`` of a 10 s WAV, 4 concurrent uploads, the server and its analysis
  worker pinned to one core (``taskset -c 0``). Target: p95 < 1 s end to end.
* The web app's first page for a ``--map-n`` (50,000) file library in headless Chromium:
  from navigation until the app is interactive (``emotagApp.ready``: the search form
  built and the first results listed), and until the map tab has drawn every point.
  Target: interactive in < 2 s.

The libraries are synthetic rows written by ``va_db.log_batch`` (``bench_query.build``),
reused from ``--work``. Writes its section of ``docs/BENCHMARKS.md``.

Example:
  python bench/bench_server.py --work /tmp/bq
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_query import LABELS, build  # noqa: E402
from common import ROOT, chromium_page, command, machine, start_load_watch, verdict, write_section  # noqa: E402


def start_server(db: Path, *extra, pin: str | None = None, warm: bool = True):
    """``serve.py`` on a free port; with ``warm``, after its start-up work (the map page it
    builds in the background) is done, so that the runs measure a server in steady state."""
    cmd = [sys.executable, str(ROOT / "serve.py"), "--db", str(db), "--port", "0", *extra]
    if pin and shutil.which("taskset"):
        cmd = ["taskset", "-c", pin] + cmd
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    if "serving" not in line:
        proc.kill()
        raise RuntimeError(f"server did not start: {line}{proc.stderr.read()[-2000:]}")
    url = line.split(" at ")[1].split()[0].rstrip("/")
    if warm:
        with urllib.request.urlopen(url + "/map", timeout=300) as r:
            r.read()
    return proc, url


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def search_paths(words, n, seed=0):
    """``n`` random search requests (paths with query strings)."""
    from va_metadata import ucs_table
    rng = random.Random(seed)
    ucs = list(ucs_table().values())
    vocab = sorted({w for r in ucs for w in r["Synonyms"].split("; ") if w.isalpha()})
    cats = sorted({r["CatShort"] for r in ucs})
    pt = lambda: f"{rng.uniform(-1, 1):.3f},{rng.uniform(-1, 1):.3f}"
    kinds = [lambda: f"near={pt()}",
             lambda: f"descriptor={quote(rng.choice(words))}:0.7",
             lambda: f"label={rng.choice(LABELS)}",
             lambda: f"text={quote(rng.choice(vocab))}",
             lambda: f"category={rng.choice(cats)}",
             lambda: f"near={pt()}&descriptor={quote(rng.choice(words))}:0.5&label={rng.choice(LABELS)}",
             lambda: f"text={quote(rng.choice(vocab))}&sort=arousal"]
    return [f"/api/search?{rng.choice(kinds)()}&limit=20" for _ in range(n)]


async def _client(host, port, paths, lat, errors, think=0.0, seed=0):
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for p in paths:
            if think:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
            t = time.perf_counter()
            writer.write(f"GET {p} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
                elif k.strip().lower() == b"transfer-encoding" and b"chunked" in v.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - t)
            if status != 200:
                errors.append(status)
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(type(exc).__name__)
    finally:
        writer.close()


async def load(url, paths, clients, think=0.0):
    u = urlsplit(url)
    lat, errors = [], []
    per = [paths[i::clients] for i in range(clients)]
    t = time.perf_counter()
    await asyncio.gather(*[_client(u.hostname, u.port, p, lat, errors, think, k) for k, p in enumerate(per)])
    return np.array(lat), errors, time.perf_counter() - t


def _wav_bytes(seconds=10.0, sr=44100):
    import soundfile as sf

    from synth_audio import synthesize
    y = synthesize("rain", seconds=seconds, sr=sr, seed=3)
    buf = io.BytesIO()
    sf.write(buf, np.column_stack([y, y]), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


async def _upload(host, port, body, lat, errors, n):
    boundary = "emotagbench"
    data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"take.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()
    for _ in range(n):
        reader, writer = await asyncio.open_connection(host, port)
        t = time.perf_counter()
        writer.write((f"POST /api/analyse HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; "
                      f"boundary={boundary}\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data)
        await writer.drain()
        resp = await reader.read()
        lat.append(time.perf_counter() - t)
        status = int(resp.split(b" ", 2)[1])
        if status != 200:
            errors.append(status)
        writer.close()


async def uploads(url, body, concurrent, per_client):
    u = urlsplit(url)
    lat, errors = [], []
    await asyncio.gather(*[_upload(u.hostname, u.port, body, lat, errors, per_client) for _ in range(concurrent)])
    return np.array(lat), errors


def first_page(url):
    """Seconds from navigation to the app being interactive, and to the map tab drawn."""
    with chromium_page(1280, 820) as page:
        t = time.perf_counter()
        page.goto(url + "/")
        page.wait_for_function("window.emotagApp && window.emotagApp.ready", timeout=60000)
        ready = time.perf_counter() - t
        t = time.perf_counter()
        page.click('nav button[data-tab="map"]')
        page.frame_locator("#map-frame").locator("#plot").wait_for()
        page.frames[1].wait_for_function("window.emotagMap && window.emotagMap.ready", timeout=120000)
        drawn = time.perf_counter() - t
        n = int(page.frames[1].get_attribute("#plot", "data-count"))
    return ready, drawn, n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--map-n", type=int, default=50_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--uploads", type=int, default=10, help="uploads per concurrent client (4 clients)")
    ap.add_argument("--models-dir", default=str(ROOT / "models"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--think", type=float, default=0.25,
                    help="mean pause (s) of each client between requests in the paced run (the saturation run "
                         "sends back to back)")
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_server_"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "library.db"
    words = build(db, args.n)
    print(f"library of {args.n} files ready; {machine()}")

    # 1. searches under load: clients at a pace (each pausing --think s on average), then back to back
    proc, url = start_server(db, "--models-dir", args.models_dir)
    runs = {}
    try:
        asyncio.run(load(url, search_paths(words, 200, seed=9), 10))
        for name, think, seed in (("paced", args.think, 0), ("saturated", 0.0, 1)):
            lat, errors, wall = asyncio.run(load(url, search_paths(words, args.requests, seed=seed), args.clients,
                                                 think))
            runs[name] = (lat, errors, wall)
            print(f"  searches, {name}: {len(lat)} requests, {len(errors)} errors, {len(lat) / wall:.0f} req/s, "
                  + ", ".join(f"p{q} {np.percentile(lat, q) * 1000:.1f} ms" for q in (50, 95, 99)))
        with urllib.request.urlopen(url + "/api/health") as r:
            cache = json.loads(r.read())["search_cache"]
    finally:
        stop(proc)
    lat, errors, wall = runs["paced"]
    p50, p95, p99 = (np.percentile(lat, q) * 1000 for q in (50, 95, 99))
    slat, serr, swall = runs["saturated"]
    s50, s95, s99 = (np.percentile(slat, q) * 1000 for q in (50, 95, 99))

    # 2. uploads, one core
    proc, url = start_server(db, "--models-dir", args.models_dir, pin="0")
    try:
        body = _wav_bytes()
        asyncio.run(uploads(url, body, 1, 2))                       # warm
        ulat, uerr = asyncio.run(uploads(url, body, 4, args.uploads))
    finally:
        stop(proc)
    u50, u95 = (np.percentile(ulat, q) for q in (50, 95))
    print(f"  uploads: {len(ulat)} of a 10 s WAV, 4 concurrent, one core: p50 {u50:.2f} s, p95 {u95:.2f} s, "
          f"{len(uerr)} errors")

    # 3. the first page of a map_n library
    mdb = work / f"library_{args.map_n}.db"
    build(mdb, args.map_n)
    proc, url = start_server(mdb, "--models-dir", args.models_dir, warm=False)
    try:
        cold = first_page(url)
        warm = first_page(url)
    except Exception as exc:  # no browser here: say so in the report
        cold = warm = None
        print(f"  first page: not measured ({type(exc).__name__}: {exc})")
    finally:
        stop(proc)
    if cold:
        print(f"  first page of {args.map_n}: interactive {cold[0]:.2f} s (map drawn {cold[1]:.2f} s after its tab "
              f"opened, first visit), then {warm[0]:.2f} s ({warm[1]:.2f} s)")

    lines = ["## The server (`bench/bench_server.py`)", "",
             f"Command: `{command('bench_server.py', argv)}`, run {time.strftime('%Y-%m-%d')}.",
             f"Machine: {machine()}.", "",
             f"Searches: a {args.n:,}-file synthetic library (as in `bench_query.py`), `serve.py` on 127.0.0.1 "
             f"(one uvicorn process), {args.clients} concurrent clients, each on its own keep-alive connection, "
             "sending a random mix of `/api/search` by point, descriptor, label, text, category and "
             "combinations, 20 results each. The runs start once the server has finished its start-up work (it "
             "builds the map page in the background). The load generator runs on the same 2-core machine. Paced: each "
             f"client pauses {args.think:g} s on average (uniformly {args.think / 2:g}-{args.think * 1.5:g} s) "
             "between its searches; saturated: no pause at all. The server keeps recent answers until the "
             f"library changes; over both runs {cache['hits']:,} of {cache['hits'] + cache['misses']:,} searches "
             "were repeats answered from it (labels, descriptor thresholds, categories recur; points do not).", "",
             "| run | requests | errors | throughput | p50 / p95 / p99 |", "|---|---:|---:|---:|---:|",
             f"| paced | {len(lat):,} | {len(errors)} | {len(lat) / wall:.0f} req/s | "
             f"{p50:.1f} / {p95:.1f} / {p99:.1f} ms |",
             f"| saturated | {len(slat):,} | {len(serr)} | {len(slat) / swall:.0f} req/s | "
             f"{s50:.1f} / {s95:.1f} / {s99:.1f} ms |", "",
             f"Uploads: `POST /api/analyse` of a 10 s stereo 44.1 kHz WAV, 4 concurrent clients x {args.uploads} "
             "uploads, the server and its analysis worker pinned to one core (`taskset -c 0`): "
             f"p50 {u50:.2f} s, p95 {u95:.2f} s, {len(uerr)} errors.", ""]
    if cold:
        lines += [f"First page: the web app for a {args.map_n:,}-file library in headless Chromium: interactive "
                  f"(search form built, first 50 results listed) {cold[0]:.2f} s after navigation on the first visit, "
                  f"{warm[0]:.2f} s on the next; the map tab drew all {cold[2]:,} points {cold[1]:.2f} s after it was "
                  f"opened on a first visit right after the server started (its background build of the map still running), "
                  f"{warm[1]:.2f} s when cached.", ""]
    lines += ["| target | measured | verdict |", "|---|---:|---|",
              f"| searches: p95 < 50 ms with {args.clients} concurrent clients, paced ({len(lat) / wall:.0f} req/s) | "
              f"{p95:.1f} ms | {verdict(p95 < 50)} |",
              f"| the same, saturated: every client back to back ({len(slat) / swall:.0f} req/s) | {s95:.1f} ms | "
              f"{verdict(s95 < 50)} |",
              f"| searches: zero errors over >= 10,000 requests | {len(errors) + len(serr)} of {len(lat) + len(slat):,} | "
              f"{verdict(not errors and not serr and len(lat) >= 10_000)} |",
              f"| `POST /api/analyse` 10 s WAV: p95 < 1 s, 4 concurrent, one core | {u95:.2f} s | "
              f"{verdict(u95 < 1 and not uerr)} |"]
    if cold:
        lines.append(f"| first page of {args.map_n:,} files interactive < 2 s | {cold[0]:.2f} s | {verdict(cold[0] < 2)} |")
    else:
        lines.append(f"| first page of {args.map_n:,} files interactive < 2 s | not measured | **not met** |")
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        write_section("bench_server", text)
    return 0


if __name__ == "__main__":
    start_load_watch()
    sys.exit(main())
