"""The cluster path as docs/LIBRARY.md gives it: `dask scheduler` and `dask worker` as separate
programs, the installed toolkit, no PYTHONPATH, and what happens when the cluster goes wrong.

Every program here runs from a temporary folder outside the checkout with PYTHONPATH
removed, so the scheduler, the workers and the client import the toolkit the way a user's
machines do: from the venv it is installed in (``make install`` runs ``pip install -e .``).
"""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")

BIN = Path(sys.executable).parent
DASK = BIN / "dask"
BLOCKED = ROOT / "tests" / "cluster_blocked.py"
KINDS = ["drone", "chime", "noise_burst", "siren", "rain", "heartbeat"]


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["EMOTAG_CACHE"] = str(tmp_path / "cache")
    env["DASK_DISTRIBUTED__WORKER__DAEMON"] = "False"
    return env


@pytest.fixture(scope="module", autouse=True)
def _installed(tmp_path_factory):
    """The toolkit must import outside the checkout without PYTHONPATH (the installed case)."""
    if not DASK.exists():
        pytest.fail(f"{DASK} is missing: dask[distributed] is in requirements.txt (make install)")
    where = tmp_path_factory.mktemp("outside")
    r = subprocess.run([sys.executable, "-c", "import extractor, va_inference; print(extractor.__file__)"],
                       cwd=where, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                       capture_output=True, text=True)
    assert r.returncode == 0, ("the toolkit is not installed in this venv (make install runs pip install -e .): "
                               + r.stderr.strip().splitlines()[-1])


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Separate scheduler and worker programs, stopped (and their process groups killed) at the end."""

    def __init__(self, tmp_path):
        self.tmp, self.procs, self.env = tmp_path, [], _env(tmp_path)
        self.run_dir = tmp_path / "cluster"
        self.run_dir.mkdir(exist_ok=True)
        self.address = None

    def _start(self, cmd, name):
        log = open(self.run_dir / f"{name}.log", "w")
        p = subprocess.Popen([str(c) for c in cmd], cwd=self.run_dir, env=self.env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        return p

    def scheduler(self, *, blocked=False):
        port = _port()
        args = ["--host", "127.0.0.1", "--port", port, "--no-dashboard"]
        cmd = [sys.executable, BLOCKED, "scheduler", *args] if blocked else [DASK, "scheduler", *args]
        self._start(cmd, "scheduler")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    self.address = f"tcp://127.0.0.1:{port}"
                    return self.address
            time.sleep(0.2)
        raise AssertionError("the scheduler did not start: " + (self.run_dir / "scheduler.log").read_text()[-2000:])

    def workers(self, n=2, *, blocked=False, nanny=True, wait=True):
        args = [self.address, "--nthreads", "1", "--no-dashboard", "--memory-limit", "4GB"]
        args += ["--nworkers", n] if nanny else ["--no-nanny"]
        cmd = [sys.executable, BLOCKED, "worker", *args] if blocked else [DASK, "worker", *args]
        before = len(self.info())
        p = self._start(cmd, f"worker{len(self.procs)}")
        if wait:
            self.wait_workers(before + (n if nanny else 1))
        return p

    def info(self):
        with distributed.Client(self.address, timeout="20s") as c:
            return c.scheduler_info(n_workers=-1)["workers"]

    def wait_workers(self, n, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.info()) >= n:
                return
            time.sleep(0.3)
        raise AssertionError(f"fewer than {n} workers joined")

    def stop(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.stop()


def library(folder: Path, n: int, seconds: float) -> Path:
    """``n`` files of different content (some kinds ignore the seed: the level differs too)."""
    import soundfile as sf
    from synth_audio import synthesize
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        p = folder / f"sub{i % 3}" / f"{i:03d}_{kind}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, synthesize(kind, seconds=seconds, sr=22050, seed=i) * (1.0 - 0.01 * i), 22050)
    return folder


def analyse(tmp_path, lib, db, *extra, timeout=240):
    """``predict_new_audio.py LIB --db DB [extra]`` from outside the checkout.

    Returns ``(returncode, output, seconds)``; the output is stdout (the summary) then stderr
    (warnings and the one-line error, last)."""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "predict_new_audio", str(lib), "--db", str(db), "--no-cache",
                        "--out-dir", str(tmp_path / f"out_{Path(db).stem}"), *map(str, extra)],
                       cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr, time.monotonic() - t0


def features(db) -> dict:
    """``{sha256: feature vector}`` of a library, and its integrity check."""
    from essentia_engine import DEFAULT_CONFIG
    from va_db import feature_table
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ft = feature_table(conn, DEFAULT_CONFIG)
    finally:
        conn.close()
    X = ft.drop(columns=["file_id", "sha256", "path", "corpus", "group"]).to_numpy()
    return dict(zip(ft["sha256"], X))


def predictions(db) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(DISTINCT file_id) FROM predictions").fetchone()[0]
    finally:
        conn.close()


def same_features(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


def test_separate_programs_give_the_local_features_and_survive_a_killed_worker(tmp_path, cluster):
    """Two worker processes under `dask worker --nworkers 2`; one is killed -9 while it holds a task:
    its nanny restarts it, its files are rerun elsewhere, and the library equals the local run."""
    lib = library(tmp_path / "lib", 24, seconds=8.0)
    code, err, _ = analyse(tmp_path, lib, tmp_path / "local.db")
    assert code == 0, err
    local = features(tmp_path / "local.db")
    assert len(local) == 24

    addr = cluster.scheduler()
    cluster.workers(2)
    env = _env(tmp_path)
    run = subprocess.Popen([sys.executable, "-m", "predict_new_audio", str(lib), "--db", str(tmp_path / "cl.db"),
                            "--no-cache", "--out-dir", str(tmp_path / "out_cl"), "--scheduler", addr],
                           cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    with distributed.Client(addr, timeout="20s") as watcher:
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and run.poll() is None:
            busy = {w: ks for w, ks in watcher.processing().items() if ks}
            if busy:
                w = next(iter(busy))
                pid = watcher.run(os.getpid, workers=[w])[w]
                os.kill(pid, signal.SIGKILL)
                killed = (w, len(busy[w]))
            time.sleep(0.05)
    out, err = run.communicate(timeout=300)
    assert killed is not None, "no worker was ever busy: the run ended before the kill"
    assert run.returncode == 0, err
    assert "24 analysed" in out and "0 failed" in out, out + err
    assert same_features(local, features(tmp_path / "cl.db"))
    assert predictions(tmp_path / "cl.db") == 24


def test_unreachable_scheduler_ends_in_time_with_one_line(tmp_path):
    lib = library(tmp_path / "lib", 2, seconds=1.0)
    code, err, secs = analyse(tmp_path, lib, tmp_path / "x.db", "--scheduler", f"tcp://127.0.0.1:{_port()}",
                              "--cluster-timeout", "3")
    assert code == 2 and secs < 40
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: cannot reach the Dask scheduler") and "dask scheduler" in line, err


def test_scheduler_that_cannot_import_our_code(tmp_path, cluster):
    """The hang the issue reported: now found before anything is submitted, with the fix named."""
    lib = library(tmp_path / "lib", 2, seconds=1.0)
    addr = cluster.scheduler(blocked=True)
    cluster.workers(1)
    code, err, secs = analyse(tmp_path, lib, tmp_path / "x.db", "--scheduler", addr, "--cluster-timeout", "20")
    assert code == 2 and secs < 60, err
    line = err.strip().splitlines()[-1]
    assert "scheduler" in line and "cannot import extractor" in line and "PYTHONPATH" in line, err


def test_no_worker_and_workers_that_cannot_import_our_code(tmp_path, cluster):
    lib = library(tmp_path / "lib", 4, seconds=1.0)
    addr = cluster.scheduler()
    code, err, secs = analyse(tmp_path, lib, tmp_path / "x.db", "--scheduler", addr, "--cluster-timeout", "3")
    assert code == 2 and secs < 40 and "no Dask worker joined" in err.strip().splitlines()[-1], err

    cluster.workers(blocked=True, nanny=False)
    code, err, _ = analyse(tmp_path, lib, tmp_path / "x.db", "--scheduler", addr, "--cluster-timeout", "5")
    assert code == 2, err
    assert "cannot import extractor" in err and "can run our tasks" in err.strip().splitlines()[-1], err

    cluster.workers(1)     # one good worker beside the bad one: the run carries on with it
    code, err, _ = analyse(tmp_path, lib, tmp_path / "x.db", "--scheduler", addr, "--cluster-timeout", "5")
    assert code == 0, err
    assert "gets no tasks" in err and "4 analysed" in err and "0 failed" in err, err


def test_every_worker_gone_keeps_the_database_and_a_rerun_resumes(tmp_path, cluster):
    lib = library(tmp_path / "lib", 16, seconds=8.0)
    db = tmp_path / "lib.db"
    addr = cluster.scheduler()
    worker = cluster.workers(nanny=False)
    run = subprocess.Popen([sys.executable, "-m", "predict_new_audio", str(lib), "--db", str(db), "--no-cache",
                            "--out-dir", str(tmp_path / "out"), "--scheduler", addr, "--cluster-timeout", "5",
                            "--batch-size", "2"],
                           cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:
        if db.exists() and predictions(db) >= 2:
            break
        time.sleep(0.1)
    os.killpg(worker.pid, signal.SIGKILL)
    t_kill = time.monotonic()
    out, err = run.communicate(timeout=120)
    assert run.returncode == 2, err
    assert time.monotonic() - t_kill < 40
    assert "every Dask worker" in err.strip().splitlines()[-1] and "re-run" in err, err
    kept = predictions(db)
    assert 2 <= kept < 16
    assert len(features(db)) >= kept           # whole, and what was written is still there

    cluster.workers(2)
    code, err, _ = analyse(tmp_path, lib, db, "--scheduler", addr)
    assert code == 0, err
    assert f"{16 - kept} analysed" in err and f"{kept} unchanged" in err, err
    assert predictions(db) == 16
