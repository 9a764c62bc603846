"""Benchmark: decoding speed of every container, and how far lossy encodes move the predictions.

For each format of ``tests/test_formats.py`` (WAV and FLAC through libsndfile; AAC, ALAC,
Opus, WMA and MP3 as the FFmpeg path or libsndfile decodes them), encodes the same 60 s of
synthetic sound (``va_decode.write_encoded``) and times ``extractor.iter_audio`` over it
(decode, downmix and resampling to 22,050 Hz: the part of the analysis the format changes),
as times real time on one core.

Then, on real recordings when ``--clips`` names audio or ``--shared`` the corpora folder
(25 clips: the first 13 Sonancia sounds, every 6th file of RAVDESS actors 1-2 up to 6, every
5th Emotify track whose name starts with 1 up to 6), and on the 15 non-silent synthetic
demo sounds, encodes each clip at usual bitrates (AAC, MP3 and WMA at 128 kbit/s, Opus at
96 kbit/s) and reports how far the shipped models' valence and arousal move against the
16-bit WAV of the same samples (median and maximum absolute shift).

Last, the memory of a long file through the FFmpeg path: a ``--long-minutes`` AAC M4A
(mono, 44.1 kHz) analysed by ``extractor.extract_file`` in a fresh process, with its peak
resident memory, beside the same audio as a WAV through libsndfile.

Writes its section of ``docs/BENCHMARKS.md``.

Example:
  python bench/bench_formats.py --shared ../shared     # 25 real clips of the three corpora
  python bench/bench_formats.py --clips my_recordings/
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import KINDS, ROOT, command, machine, run_timed, start_load_watch, write_section  # noqa: E402

SR = 44100
# name, extension, codec, container, rate, bit rate
CODECS = [("WAV (PCM 16)", "wav", None, None, SR, None), ("FLAC", "flac", None, None, SR, None),
          ("ALAC in M4A", "m4a", "alac", "ipod", SR, None), ("AAC in M4A", "aac.m4a", "aac", "ipod", SR, 128000),
          ("AAC in MOV video", "mov", "aac", "mov", SR, 128000), ("MP3", "mp3", "libmp3lame", "mp3", SR, 128000),
          ("Opus in Ogg", "opus", "libopus", "ogg", 48000, 96000),
          ("Opus in WebM", "webm", "libopus", "webm", 48000, 96000), ("WMA", "wma", "wmav2", "asf", SR, 128000)]
LOSSY = [c for c in CODECS if c[5]]


def encode(path: Path, y: np.ndarray, codec_row) -> Path:
    import soundfile as sf
    import soxr

    from va_decode import write_encoded
    _, ext, codec, fmt, rate, br = codec_row
    if codec is None:
        sf.write(path, np.round(np.clip(y, -1, 1) * 32767).astype(np.int16), SR, subtype="PCM_16")
        return path
    yy = y if rate == SR else soxr.resample(y, SR, rate)
    return write_encoded(path, yy, rate, codec=codec, fmt=fmt, bit_rate=br, video=ext == "mov")


def decode_speed(work: Path, seconds: float, reps: int) -> list[dict]:
    from extractor import iter_audio
    from synth_audio import synthesize
    from va_decode import probe
    y = np.concatenate([synthesize(KINDS[i % len(KINDS)], seconds=5.0, sr=SR, seed=i)
                        for i in range(int(seconds // 5))])
    y = np.column_stack([y, np.roll(y, 5)])
    rows = []
    for row in CODECS:
        p = encode(work / f"speed.{row[1]}", y, row)
        info = probe(p)
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            n = sum(len(b) for b in iter_audio(p, sample_rate=22050))
            times.append(time.perf_counter() - t)
        rows.append({"format": row[0], "decoder": "libsndfile" if info.backend == "sndfile" else "FFmpeg (PyAV)",
                     "x_realtime": len(y) / SR / float(np.median(times)), "seconds": n / 22050})
    return rows


def shared_clips(data: Path) -> list[str]:
    """The 25 real clips of ``--shared``."""
    son = sorted((data / "sonancia" / "sounds").iterdir())[:13]
    rav = sorted(p for a in ("Actor_01", "Actor_02") for p in (data / "ravdess_speech" / a).iterdir())[::6][:6]
    emo = sorted(data.glob("emotify/*/1*.ogg"))[::5][:6]
    return [str(p) for p in son + rav + emo]


def clip_signals(paths, max_seconds: float):
    import soundfile as sf
    import soxr

    from synth_audio import synthesize
    from va_utils import find_audio_files
    files, _ = find_audio_files(paths) if paths else ([], [])
    for f in files:
        y, sr = sf.read(str(f), always_2d=True, dtype="float32")
        y = y[: int(sr * max_seconds)]
        yield f"real: {f.name}", soxr.resample(y, sr, SR) if sr != SR else y
    for k in KINDS:
        y = synthesize(k, seconds=4.0, sr=SR, seed=1)
        yield f"synthetic: {k}", np.column_stack([y, np.roll(y, 11)])


def shifts(work: Path, clips, max_seconds: float) -> pd.DataFrame:
    from extractor import extract_batch
    from va_inference import ModelSet
    models = ModelSet().load()
    rows, files = [], []
    for j, (name, y) in enumerate(clip_signals(clips, max_seconds)):
        ref = encode(work / f"c{j}.wav", y, CODECS[0])
        for row in LOSSY:
            files.append((name, row[0], str(ref), str(encode(work / f"c{j}.{row[1]}", y, row))))
    paths = sorted({x for _, _, a, b in files for x in (a, b)})
    res = {r.path: r for r in extract_batch(paths, jobs=2)}
    ok = [p for p in paths if res[p].ok]
    va, _ = models.predict(np.vstack([res[p].features for p in ok]))
    va.index = ok
    for name, fmt, a, b in files:
        if a in va.index and b in va.index:
            rows.append({"clip": name, "kind": name.split(":")[0], "format": fmt,
                         "dv": abs(va.loc[b, "valence"] - va.loc[a, "valence"]),
                         "da": abs(va.loc[b, "arousal"] - va.loc[a, "arousal"])})
    return pd.DataFrame(rows)


LONG_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from extractor import extract_file
r = extract_file({path!r})
assert r.ok, r.error
print(r.duration)
"""


def long_files(work: Path, minutes: float) -> list[dict]:
    """Peak memory of analysing one long file, as AAC in M4A (FFmpeg) and as WAV (libsndfile)."""
    import soundfile as sf

    from synth_audio import synthesize
    from va_decode import write_encoded
    kinds = ["rain", "drone", "wind", "chime", "heartbeat", "noise_burst"]
    y = np.concatenate([synthesize(kinds[k % len(kinds)], seconds=60, sr=SR, seed=k) for k in range(int(minutes))])
    m4a = write_encoded(work / "long.m4a", y, SR, codec="aac", fmt="ipod", bit_rate=128000)
    sf.write(work / "long.wav", y, SR, subtype="PCM_16")
    del y
    rows = []
    for label, p in (("AAC in M4A (FFmpeg)", m4a), ("WAV (libsndfile)", work / "long.wav")):
        r = run_timed([sys.executable, "-c", LONG_SCRIPT.format(root=str(ROOT), path=str(p))])
        rows.append({"format": label, "seconds": r["seconds"], "mb": r["max_mb"],
                     "duration": float(r["stdout"].strip().splitlines()[-1])})
        print(f"  {minutes:g} min {label}: {r['seconds']:.1f} s, peak RSS {r['max_mb']:.0f} MB")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", default=[], help="files or folders of real recordings")
    ap.add_argument("--shared", metavar="DIR", help="the corpora folder (../shared): 25 of its clips")
    ap.add_argument("--max-clips-seconds", type=float, default=30.0, help="first seconds of each real clip")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the decode-speed signal")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--long-minutes", type=float, default=60.0, help="length of the long-file memory check (0: skip)")
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args(argv)
    if args.shared:
        args.clips = list(args.clips) + shared_clips(Path(args.shared) / "data")
    with tempfile.TemporaryDirectory(prefix="bench_formats_") as tmp:
        work = Path(tmp)
        speed = pd.DataFrame(decode_speed(work, args.seconds, args.reps))
        print(speed.to_string(index=False))
        sh = shifts(work, args.clips, args.max_clips_seconds)
        longs = long_files(work, args.long_minutes) if args.long_minutes else []
    summary = sh.groupby(["kind", "format"])[["dv", "da"]].agg(["median", "max"]).round(3)
    print(summary.to_string())
    n_real = sh.loc[sh["kind"] == "real", "clip"].nunique()
    lines = ["## Formats (`bench/bench_formats.py`)", "",
             f"Command: `{command('bench_formats.py', argv)}`, run {time.strftime('%Y-%m-%d')}.",
             f"Machine: {machine()}.", "",
             f"Decoding, downmix and resampling to 22,050 Hz (`extractor.iter_audio`) of {args.seconds:.0f} s of "
             f"stereo synthetic sound at 44.1 kHz (Opus at 48 kHz), median of {args.reps} runs, one core:", "",
             "| format | decoder | times real time |", "|---|---|---:|"]
    lines += [f"| {r['format']} | {r['decoder']} | {r['x_realtime']:.0f}× |" for _, r in speed.iterrows()]
    lines += ["", f"How far a lossy encode moves the shipped models' predictions against the 16-bit WAV of the "
              f"same samples: {n_real} real clips (first {args.max_clips_seconds:.0f} s each) and "
              f"{len(KINDS)} synthetic demo sounds (4 s). Absolute shift, median / max:", "",
              "| clips | format | valence | arousal |", "|---|---|---:|---:|"]
    for (kind, fmt), r in summary.iterrows():
        lines.append(f"| {kind} | {fmt} | {r[('dv', 'median')]:.3f} / {r[('dv', 'max')]:.3f} | "
                     f"{r[('da', 'median')]:.3f} / {r[('da', 'max')]:.3f} |")
    if longs:
        lines += ["", f"One {args.long_minutes:g}-minute file (mono, 44.1 kHz), analysed block-wise in a fresh process "
                  "(`extractor.extract_file`; peak resident memory sampled every 50 ms):", "",
                  "| format | seconds | peak RSS (MB) | duration read (s) |", "|---|---:|---:|---:|"]
        lines += [f"| {r['format']} | {r['seconds']:.0f} | {r['mb']:.0f} | {r['duration']:.2f} |" for r in longs]
    lines += ["", "The stated tolerance (`tests/test_formats.py`, on six synthetic sounds): at most 0.30, and "
              "at most 0.10 at the median of each codec. ALAC and FLAC are bit-identical to the WAV "
              "(same test)."]
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        write_section("bench_formats", text)
    return 0


if __name__ == "__main__":
    start_load_watch()
    sys.exit(main())
