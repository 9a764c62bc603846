"""Benchmark: segment analysis (emotion over time) of a one-hour file.

Times ``extractor.extract_segments`` (one streaming decode, frames analysed once, every
``--window`` s window every ``--hop`` s) on a synthesised one-hour 44.1 kHz stereo WAV,
in a child process on one core (BLAS held to 1 thread), and samples its peak resident
memory. Targets: >= 100x real time and < 600 MB. Writes its section of
``docs/BENCHMARKS.md``.

Example:
  python bench/bench_segments.py --work /tmp/bench_segments
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, command, machine, run_timed, start_load_watch, verdict, write_section  # noqa: E402

SCRIPT = """
import os, sys, time
os.environ["OMP_NUM_THREADS"] = "1"
sys.path.insert(0, {root!r})
from extractor import extract_segments
t = time.perf_counter()
starts, ends, X = extract_segments({path!r}, window={win}, hop={hop})
print(len(starts), ends[-1], time.perf_counter() - t)
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--hop", type=float, default=1.0)
    ap.add_argument("--work", default=None)
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_segments_"))
    work.mkdir(parents=True, exist_ok=True)
    from bench_extract import long_file_path
    path = long_file_path(work, args.hours)
    r = run_timed([sys.executable, "-c", SCRIPT.format(root=str(ROOT), path=str(path), win=args.window, hop=args.hop)])
    n, last_end, seconds = r["stdout"].split()
    seconds, audio = float(seconds), args.hours * 3600
    rt = audio / seconds
    cmd = command("bench_segments.py", argv)
    lines = ["## Segment analysis (`bench/bench_segments.py`)", "",
             f"Command: `{cmd}`, run {time.strftime('%Y-%m-%d')}. Machine: {machine()}.",
             f"One synthesised {args.hours:g} h file (44.1 kHz stereo 16-bit WAV), {args.window:g} s windows every "
             f"{args.hop:g} s: {n} windows, analysed by `extractor.extract_segments` in a child process on one core "
             f"(decoding included; {r['seconds']:.1f} s wall for the whole child, interpreter start included).", "",
             "| target | measured | verdict |", "|---|---:|---|",
             f"| >= 100x real time on one core | {rt:.0f}x ({seconds:.1f} s for {audio / 60:.0f} min) | {verdict(rt >= 100)} |",
             f"| peak RSS < 600 MB | {r['max_mb']:.0f} MB | {verdict(r['max_mb'] < 600)} |"]
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        write_section("bench_segments", text)
    return 0


if __name__ == "__main__":
    start_load_watch()
    sys.exit(main())
