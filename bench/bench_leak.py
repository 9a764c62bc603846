"""Benchmark: memory growth of repeated analyses (Essentia's ``Extractor`` vs ours).

Analyses one synthetic 5 s signal ``--calls`` times with Essentia's standard
``Extractor`` (low-level group) and with ``essentia_engine._algorithm`` (its leak-free
replacement), and prints how much the process's resident memory grew for each. Reads
and writes nothing else; prints a Markdown table (and, unless ``--no-report``, writes
its section of ``docs/BENCHMARKS.md``).

Example:
  python bench/bench_leak.py --calls 100
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command, machine, start_load_watch, write_section  # noqa: E402

import essentia_engine as ee  # noqa: E402
from synth_audio import synthesize  # noqa: E402


def growth(fn, y, calls: int) -> float:
    import psutil
    proc = psutil.Process()
    fn(y)
    before = proc.memory_info().rss
    for _ in range(calls):
        fn(y)
    return (proc.memory_info().rss - before) / 2**20


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args(argv)
    es = ee._essentia()
    cfg = ee.DEFAULT_CONFIG
    y = synthesize("rain", seconds=5.0, sr=cfg.sample_rate, seed=0)
    theirs = es.Extractor(lowLevel=True, rhythm=False, midLevel=False, tuning=False, highLevel=False,
                          dynamics=False, relativeIoi=False, sampleRate=float(cfg.sample_rate),
                          lowLevelFrameSize=cfg.frame_size, lowLevelHopSize=cfg.hop_size)
    rows = {"essentia.standard.Extractor (low-level)": growth(theirs, y, args.calls),
            "essentia_engine low-level graph (ours)": growth(ee._algorithm(cfg), y, args.calls),
            "essentia_engine.analyse (all features)": growth(lambda s: ee.analyse(s, cfg), y, args.calls)}
    lines = ["## Memory growth per call (`bench/bench_leak.py`)", "",
             f"Command: `{command('bench_leak.py', argv)}`, "
             f"run {time.strftime('%Y-%m-%d')}. Machine: {machine()}.",
             f"Resident memory growth over {args.calls} analyses of one 5 s signal, after one warm-up call:", "",
             "| analysis | growth, MB |", "|---|---:|"]
    lines += [f"| {k} | {v:.0f} |" for k, v in rows.items()]
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        write_section("bench_leak", text)
    return 0


if __name__ == "__main__":
    start_load_watch()
    sys.exit(main())
