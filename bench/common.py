"""Shared helpers of the benchmarks: the machine, synthetic libraries, peak memory, reports.

Reads nothing from the project's data; writes synthetic audio where told and one section
of ``docs/BENCHMARKS.md`` per benchmark (between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->`` markers, so that the benchmarks update their own parts only).
"""
from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REPORT = ROOT / "docs" / "BENCHMARKS.md"

from synth_audio import DEMO_KINDS, synthesize  # noqa: E402

KINDS = [k for k in DEMO_KINDS if k != "silence"]


def machine() -> str:
    """One line: CPU model, cores, memory, Python and Essentia versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GB RAM"
    except (OSError, StopIteration):
        pass
    import essentia
    return (f"{cpu}, {os.cpu_count()} cores{mem}; Python {platform.python_version()}, "
            f"Essentia {essentia.__version__}, {platform.system()} {platform.release()}")


def write_library_file(path: Path, i: int, *, seconds: float, sr: int = 44100, channels: int = 2) -> float:
    """One synthetic library file (16-bit WAV), distinct content for every ``i``; its duration."""
    import soundfile as sf
    kind = KINDS[i % len(KINDS)]
    y = synthesize(kind, seconds=seconds, sr=sr, seed=i) * (0.5 + 0.5 * ((i * 7919) % 1000) / 1000)
    if channels == 2:
        y = np.column_stack([y, np.roll(y, 3 + i % 11)])
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, subtype="PCM_16")
    return len(y) / sr


def build_library(folder: Path, n: int, *, start: int = 0, seconds: float = 5.0, **kw) -> list[Path]:
    """``n`` files in 20 subfolders (``start`` offsets names and content)."""
    paths = []
    for i in range(start, start + n):
        p = Path(folder) / f"folder{i % 20:02d}" / f"sfx_{i:06d}_{KINDS[i % len(KINDS)]}.wav"
        if not p.exists():
            write_library_file(p, i, seconds=seconds, **kw)
        paths.append(p)
    return paths


class PeakRSS:
    """Peak resident memory of a process and of its whole process tree, sampled every 50 ms."""

    def __init__(self, pid: int):
        import psutil
        self.proc = psutil.Process(pid)
        self.peak_tree = self.peak_max = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        import psutil
        while not self._stop.is_set():
            try:
                procs = [self.proc] + self.proc.children(recursive=True)
                rss = []
                for p in procs:
                    try:
                        rss.append(p.memory_info().rss)
                    except psutil.Error:
                        pass
                if rss:
                    self.peak_tree = max(self.peak_tree, sum(rss))
                    self.peak_max = max(self.peak_max, max(rss))
            except psutil.Error:
                pass
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self._t.join()


def run_timed(cmd, *, env=None) -> dict:
    """Run ``cmd``; return wall seconds, peak tree RSS and largest single-process RSS (MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mon = PeakRSS(proc.pid)
    out, err = proc.communicate()
    mon.stop()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{err[-2000:]}")
    return {"seconds": wall, "tree_mb": mon.peak_tree / 2**20, "max_mb": mon.peak_max / 2**20,
            "stdout": out, "stderr": err}


@contextlib.contextmanager
def chromium_page(width: int = 1200, height: int = 800):
    """A page of Debian's headless Chromium driven by Playwright (closed on exit)."""
    import shutil

    from playwright.sync_api import sync_playwright
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def command(script: str, argv=None) -> str:
    """The command line that ran ``bench/<script>`` (for the report)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", f"bench/{script}", *args])


class LoadWatch:
    """The machine's load before and during a benchmark, and whether its figures can be trusted.

    Before: the 1-minute load average when the benchmark started. During: every second,
    the CPU used by processes *outside* this benchmark's own process tree (its workers,
    servers and browsers are in the tree), in cores. A figure is flagged as taken on a
    busy machine when the load average was above ``BUSY_BEFORE`` at the start, or other
    processes used more than ``BUSY_DURING`` cores on average while it ran: a speed-up or
    a throughput measured against a competing job is a property of the machine, not of
    the code. :func:`write_section` adds the line to every report.
    """

    BUSY_BEFORE, BUSY_DURING = 0.7, 0.25

    def __init__(self, interval: float = 1.0):
        self.before = os.getloadavg()[0]
        self.samples: list[float] = []
        self.peak_load = self.before
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._t.start()

    def _run(self, interval):
        import psutil
        me = psutil.Process()
        seen: dict[int, psutil.Process] = {}
        while not self._stop.wait(interval):
            try:
                ours = {me.pid} | {c.pid for c in me.children(recursive=True)}
            except psutil.Error:
                ours = {me.pid}
            other = 0.0
            for p in psutil.process_iter():
                if p.pid in ours:
                    continue
                q = seen.setdefault(p.pid, p)
                try:
                    other += q.cpu_percent(None) / 100.0       # since the previous sample (0 the first time)
                except psutil.Error:
                    seen.pop(p.pid, None)
            self.samples.append(other)
            self.peak_load = max(self.peak_load, os.getloadavg()[0])

    @property
    def during(self) -> float:
        return float(np.mean(self.samples[1:])) if len(self.samples) > 1 else 0.0

    @property
    def busy(self) -> bool:
        return self.before > self.BUSY_BEFORE or self.during > self.BUSY_DURING

    def line(self) -> str:
        state = ("**BUSY MACHINE: these figures are not comparable with an idle run**" if self.busy
                 else "idle machine")
        return (f"Load: {state} (1-minute load average {self.before:.2f} at the start; other processes used "
                f"{self.during:.2f} cores on average while it ran, over {len(self.samples)} s; "
                f"flagged above {self.BUSY_BEFORE} or {self.BUSY_DURING}).")


def wait_until_idle(max_wait: float = 300.0, below: float = LoadWatch.BUSY_BEFORE) -> float:
    """Wait (up to ``max_wait`` s) for the 1-minute load average to fall below ``below``; return it."""
    t0 = time.monotonic()
    load = os.getloadavg()[0]
    if load >= below:
        print(f"waiting for the machine to settle (1-minute load {load:.2f})...", file=sys.stderr)
    while load >= below and time.monotonic() - t0 < max_wait:
        time.sleep(5)
        load = os.getloadavg()[0]
    return load


#: Started when a benchmark imports this module; every report says what it saw.
LOAD: LoadWatch | None = None


def start_load_watch(max_wait: float = 300.0) -> LoadWatch:
    """Wait for an idle machine (bounded), then watch the load for :func:`write_section`."""
    global LOAD
    if not {"-h", "--help"} & set(sys.argv[1:]):
        wait_until_idle(max_wait)
    LOAD = LoadWatch()
    return LOAD


def write_section(name: str, text: str, report: Path = REPORT) -> None:
    """Replace this benchmark's section of ``report`` (``docs/BENCHMARKS.md``; appended if absent).

    The machine's load before and during the run (:class:`LoadWatch`) is added to the
    text; a run on a busy machine is flagged there, and on stderr.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    doc = report.read_text() if report.exists() else f"# {report.stem.title()}\n"
    if LOAD is not None:
        text = text.rstrip() + "\n\n" + LOAD.line() + "\n"
        if LOAD.busy:
            print("warning: " + LOAD.line(), file=sys.stderr)
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in doc and end in doc:
        doc = doc[:doc.index(start)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    tmp = report.with_suffix(".tmp")
    tmp.write_text(doc)
    os.replace(tmp, report)


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"
