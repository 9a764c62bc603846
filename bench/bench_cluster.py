"""Benchmark: the cluster path, one Dask worker process against two.

Starts ``dask scheduler`` and ``dask worker --nworkers N --nthreads 1`` as separate programs
(as ``docs/LIBRARY.md`` says; the toolkit installed, no ``PYTHONPATH``), then times the real
command line ``python -m predict_new_audio FILES --db DB --no-cache --scheduler ADDR`` with
N = 1 and N = 2 worker processes, each on a fresh database after a warm-up run on a few of
the files (the workers' first task loads the models). Reports wall time, x real time and
the 1 -> 2 worker speed-up (target >= 1.8x), and whether the two runs stored the same
features. Reads the files given (default: the Emotify clips in ``../shared`` if present,
else synthesised files); writes databases into a temp folder and its section of
``docs/BENCHMARKS.md``.

Examples:
  python bench/bench_cluster.py                                   # Emotify if present
  python bench/bench_cluster.py --files ../shared/data/emotify/rock
  python bench/bench_cluster.py --n 40 --seconds 30               # synthesised
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from common import ROOT, build_library, command, machine, start_load_watch, verdict, write_section  # noqa: E402

TARGET_SPEEDUP = 1.8
DASK = Path(sys.executable).with_name("dask")
EMOTIFY = ROOT.parent / "shared" / "data" / "emotify"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _env(work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["EMOTAG_CACHE"] = str(work / "cache")
    return env


def _start(cmd, log: Path, env, cwd) -> subprocess.Popen:
    return subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _kill(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def _n_workers(addr: str) -> int:
    import distributed
    with distributed.Client(addr, timeout="20s") as c:
        return len(c.scheduler_info(n_workers=-1)["workers"])


def _analyse(files, db: Path, out: Path, addr: str, env) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "predict_new_audio", *map(str, files), "--db", str(db),
                        "--no-cache", "--out-dir", str(out), "--scheduler", addr],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"predict_new_audio through the cluster failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return wall


def _features(db: Path) -> dict:
    """``{sha256: feature vector as bytes}`` of a library (the same reading as the tests)."""
    from essentia_engine import DEFAULT_CONFIG
    from va_db import feature_table
    con = sqlite3.connect(db)
    try:
        ft = feature_table(con, DEFAULT_CONFIG)
    finally:
        con.close()
    X = ft.drop(columns=["file_id", "sha256", "path", "corpus", "group"]).to_numpy()
    return {h: x.tobytes() for h, x in zip(ft["sha256"], X)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", nargs="+", help="audio files/folders (default: Emotify in ../shared, else synthesised)")
    ap.add_argument("--n", type=int, default=40, help="synthesised files when no --files and no Emotify")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each synthesised file")
    ap.add_argument("--no-report", action="store_true", help="do not write docs/BENCHMARKS.md")
    args = ap.parse_args(argv)
    if not DASK.exists():
        print(f"error: {DASK} is missing: dask[distributed] is in requirements.txt (make install)", file=sys.stderr)
        return 2
    from va_utils import find_audio_files
    import soundfile as sf
    work = Path(tempfile.mkdtemp(prefix="bench_cluster_"))
    if args.files or EMOTIFY.is_dir():
        given = args.files or [str(EMOTIFY)]
        files, _ = find_audio_files(given)
        inputs = given
        source = "the files given: " + " ".join(given)
    else:
        files = build_library(work / "lib", args.n, seconds=args.seconds)
        inputs = [str(work / "lib")]
        source = f"{args.n} synthesised files of {args.seconds:g} s"
    audio_s = sum(sf.info(str(f)).duration for f in files)
    print(f"{len(files)} files, {audio_s / 60:.1f} audio minutes; {machine()}")
    env = _env(work)
    port = _port()
    addr = f"tcp://127.0.0.1:{port}"
    sched = _start([DASK, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
                   work / "scheduler.log", env, work)
    res, feats = {}, {}
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            if time.monotonic() > deadline:
                raise RuntimeError("the scheduler did not start: " + (work / "scheduler.log").read_text()[-2000:])
            time.sleep(0.2)
        for n in (1, 2):
            w = _start([DASK, "worker", addr, "--nworkers", n, "--nthreads", 1, "--no-dashboard",
                        "--memory-limit", "6GB"], work / f"workers{n}.log", env, work)
            try:
                deadline = time.monotonic() + 90
                while _n_workers(addr) < n:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"fewer than {n} workers joined: "
                                           + (work / f"workers{n}.log").read_text()[-2000:])
                    time.sleep(0.3)
                _analyse(files[:2 * n], work / f"warm{n}.db", work / f"warm{n}", addr, env)
                res[n] = _analyse(inputs, work / f"run{n}.db", work / f"out{n}", addr, env)
                feats[n] = _features(work / f"run{n}.db")
                print(f"  {n} worker process(es): {res[n]:.1f} s, {audio_s / res[n]:.0f}x real time")
            finally:
                _kill(w)
                deadline = time.monotonic() + 30
                while _n_workers(addr) and time.monotonic() < deadline:
                    time.sleep(0.3)
    finally:
        _kill(sched)
    speedup = res[1] / res[2]
    same = feats[1] == feats[2] and len(feats[1]) == len(files)
    lines = [
        "## The cluster path, 1 -> 2 worker processes (`bench/bench_cluster.py`)",
        "",
        f"Command: `{command('bench_cluster.py', argv)}`, run {time.strftime('%Y-%m-%d')}.",
        f"Machine: {machine()}.",
        f"Files: {source}; {len(files)} files, {audio_s / 60:.1f} audio minutes. `dask scheduler` and "
        "`dask worker --nworkers N --nthreads 1` as separate programs on this machine, the client "
        "`python -m predict_new_audio FILES --db DB --no-cache --scheduler ADDR` (default models and "
        "extractor configuration), each N on a fresh database after a warm-up run.",
        "",
        "| worker processes | wall s | x real time |",
        "|---:|---:|---:|",
        *[f"| {n} | {res[n]:.1f} | {audio_s / res[n]:.0f} |" for n in (1, 2)],
        "",
        "| target | measured | verdict |",
        "|---|---:|---|",
        f"| >= {TARGET_SPEEDUP}x from one worker process to two | {speedup:.2f}x | {verdict(speedup >= TARGET_SPEEDUP)} |",
        f"| the same features from 1 and 2 workers ({len(files)} files) | "
        f"{'identical' if same else 'different'} | {verdict(same)} |",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        write_section("bench_cluster", text)
        print(f"wrote its section of {ROOT / 'docs' / 'BENCHMARKS.md'}")
    return 0 if same else 1


if __name__ == "__main__":
    start_load_watch()
    sys.exit(main())
