"""Benchmark: our extractor against Essentia's MusicExtractor and a librosa implementation.

Times the same files through three paths, each on one core (BLAS pinned to one thread):

* **ours**: ``extractor.extract_file`` with the default configuration (decode, soxr
  resampling to 22.05 kHz, Essentia low-level graph, envelope and prosody, 708
  statistics, then YAMNet's pooled class scores and embedding from the same decode), no
  cache;
* **ours without YAMNet**: the same with ``ExtractorConfig(yamnet=False)`` (the default
  before issue 13), and **YAMNet alone** (decode, resampling to 16 kHz, the model over
  0.975 s patches every 0.48 s);
* **MusicExtractor**: ``essentia.standard.MusicExtractor()(path)`` with its defaults,
  what an Essentia user would otherwise run;
* **librosa**: the closest librosa equivalents of our feature set (STFT 2048/1024,
  MFCC, 27 mel bands for the Bark bands, centroid, bandwidth, contrast, roll-off,
  flatness, ZCR, RMS, onset strength for flux, YIN f0) and the same 8 statistics.
  Dissonance, inharmonicity, tristimulus, pitch salience, spectral complexity and the
  envelope descriptors have no librosa counterpart and are left out, which favours it.

Then ours on 2 worker processes (the 1 -> 2 core speed-up), the profile of our path
(decode+resample, Essentia graph, envelope, statistics), and the peak memory of a
one-hour file (block-wise, and whole-file for contrast). Reads nothing of the project's
data; writes synthetic audio into ``--work`` and its section of ``docs/BENCHMARKS.md``.

Examples:
  python bench/bench_extract.py                      # 20 x 30 s files + a one-hour file
  python bench/bench_extract.py --n 4 --no-long      # quick look
  python bench/bench_extract.py --files ../shared/data/emotify/rock
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, command, machine, run_timed, start_load_watch, verdict, write_library_file, write_section  # noqa: E402

import essentia_engine as ee  # noqa: E402
from extractor import extract_batch, extract_file, load_audio  # noqa: E402
from va_utils import find_audio_files  # noqa: E402

TARGET_RT, TARGET_SPEEDUP, TARGET_VS_ME, TARGET_LONG_MB = 300, 1.8, 3.0, 600
TARGET_RT_YAMNET = 200      # issue 22: the default analysis with YAMNet, per core
GRAPHS = {"default": ee.DEFAULT_CONFIG, "lean": ee.LEAN_CONFIG, "previous": ee.PREVIOUS_CONFIG}
CONFIG = ee.DEFAULT_CONFIG  # set by --graph


def yamnet_alone(path):
    import va_yamnet
    y, _ = load_audio(path, sample_rate=22050)
    return va_yamnet.frames(va_yamnet.resample_to_16k(y, 22050), hop=CONFIG.yamnet_hop)


def librosa_features(path, sr=22050):
    """Our feature set as librosa computes it (closest equivalents; see the module doc)."""
    import librosa
    y, _ = librosa.load(path, sr=sr, mono=True)
    y, _ = librosa.effects.trim(y, top_db=40, frame_length=2048, hop_length=1102)
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024, window="blackmanharris"))
    P = S ** 2
    mel = librosa.feature.melspectrogram(S=P, sr=sr, n_mels=40)
    rows = [
        librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13),
        librosa.feature.melspectrogram(S=P, sr=sr, n_mels=27),
        librosa.feature.spectral_centroid(S=S, sr=sr),
        librosa.feature.spectral_bandwidth(S=S, sr=sr),
        librosa.feature.spectral_contrast(S=S, sr=sr, n_bands=5),
        librosa.feature.spectral_rolloff(S=S, sr=sr),
        librosa.feature.spectral_flatness(S=S),
        librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=1024),
        librosa.feature.rms(S=S, frame_length=2048),
        librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=sr)[None, :],
        librosa.yin(y, fmin=50, fmax=1000, sr=sr, frame_length=2048, hop_length=1024)[None, :],
    ]
    n = min(r.shape[1] for r in rows)
    F = np.vstack([r[:, :n] for r in rows]).T
    return np.concatenate([v for _, v in ee._frame_stats(F, ee.DEFAULT_CONFIG.stats)])


def music_extractor(path):
    import essentia.standard as es
    return es.MusicExtractor()(str(path))


def time_path(fn, files) -> float:
    t0 = time.perf_counter()
    for f in files:
        fn(f)
    return time.perf_counter() - t0


def profile(files) -> dict:
    """Seconds spent in each part of our path, over ``files``."""
    cfg = CONFIG
    es = ee._essentia()
    parts = dict.fromkeys(["decode + resample", "trim + dither", "Essentia low-level graph",
                           "envelope descriptors", "statistics + prosody"], 0.0)
    for f in files:
        t = time.perf_counter()
        y, _ = load_audio(f, sample_rate=cfg.sample_rate)
        parts["decode + resample"] += time.perf_counter() - t
        t = time.perf_counter()
        y = ee.trim_silence(y, cfg.trim_db, cfg.sample_rate)
        z = y == 0
        if z.any():
            y = y.copy()
            y[z] = np.float32(cfg.silence_dither)
        parts["trim + dither"] += time.perf_counter() - t
        t = time.perf_counter()
        pool = ee._algorithm(cfg)(y)
        parts["Essentia low-level graph"] += time.perf_counter() - t
        t = time.perf_counter()
        ee.envelope_features(y, cfg.sample_rate)
        parts["envelope descriptors"] += time.perf_counter() - t
        t = time.perf_counter()
        ee.aggregate(pool, cfg)
        ee.prosody_features(pool, cfg)
        parts["statistics + prosody"] += time.perf_counter() - t
    # inside the graph: the algorithms that dominate, timed one by one on the same frames
    y, _ = load_audio(files[0], sample_rate=cfg.sample_rate)
    fc = es.FrameCutter(frameSize=cfg.frame_size, hopSize=cfg.hop_size)
    frames = []
    while True:
        fr = fc(y)
        if len(fr) == 0:
            break
        frames.append(np.array(fr))
    win, spec = es.Windowing(type="blackmanharris62"), es.Spectrum()
    specs = [spec(win(fr)) for fr in frames]
    peaks = es.SpectralPeaks(orderBy="frequency", minFrequency=cfg.sample_rate / cfg.frame_size)
    pk = [peaks(s) for s in specs]
    algos = {
        "Windowing + Spectrum (x2: both extractors cut their own frames)": (lambda s, i: spec(win(frames[i])), specs),
        "Dissonance (on spectral peaks)": (lambda s, i, a=es.Dissonance(): a(*pk[i]), specs),
        "SpectralContrast": (lambda s, i, a=es.SpectralContrast(frameSize=cfg.frame_size,
                                                                 sampleRate=cfg.sample_rate): a(s), specs),
        "PitchYinFFT": (lambda s, i, a=es.PitchYinFFT(frameSize=cfg.frame_size): a(s), specs),
        "PitchSalience": (lambda s, i, a=es.PitchSalience(): a(s), specs),
        "MFCC": (lambda s, i, a=es.MFCC(): a(s), specs),
        "SpectralPeaks (x3: harmonic, dissonance, complexity)": (lambda s, i: peaks(s), specs),
    }
    inner = {}
    for name, (fn, xs) in algos.items():
        t = time.perf_counter()
        for i, s in enumerate(xs):
            fn(s, i)
        inner[name] = time.perf_counter() - t
    return parts, inner, y.size / cfg.sample_rate


LONG_SCRIPT = """
import sys, resource
sys.path.insert(0, {root!r})
from extractor import extract_file
from essentia_engine import ExtractorConfig
r = extract_file({path!r}, long_file_seconds={lfs}, config=ExtractorConfig.from_dict({cfg!r}))
assert r.ok, r.error
print(r.duration)
"""


def long_file_path(work: Path, hours: float) -> Path:
    """A synthesised ``hours``-long 44.1 kHz stereo WAV in ``work`` (written once, in blocks)."""
    import soundfile as sf
    from synth_audio import synthesize
    path = work / f"long_{hours:g}h.wav"
    sr = 44100
    if not path.exists():
        with sf.SoundFile(path, "w", samplerate=sr, channels=2, subtype="PCM_16") as out:
            kinds = ["rain", "drone", "wind", "chime", "heartbeat", "noise_burst"]
            for k in range(int(hours * 60)):
                y = synthesize(kinds[k % len(kinds)], seconds=60, sr=sr, seed=k)
                out.write(np.column_stack([y, y]))
    return path


def long_file(work: Path, hours: float, whole: bool) -> list[dict]:
    path = long_file_path(work, hours)
    rows = []
    for label, lfs in [("block-wise (default)", 600.0)] + ([("whole file", 1e12)] if whole else []):
        r = run_timed([sys.executable, "-c", LONG_SCRIPT.format(root=str(ROOT), path=str(path), lfs=lfs, cfg=CONFIG.to_dict())])
        rows.append({"mode": label, "seconds": r["seconds"], "mb": r["max_mb"]})
        print(f"  one {hours:g} h file, {label}: {r['seconds']:.1f} s, peak RSS {r['max_mb']:.0f} MB")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", nargs="+", help="audio files/folders to time (default: synthesised)")
    ap.add_argument("--n", type=int, default=20, help="synthesised files")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each synthesised file")
    ap.add_argument("--jobs", type=int, default=2, help="workers for the multi-core figure")
    ap.add_argument("--long-hours", type=float, default=1.0, help="length of the long file")
    ap.add_argument("--no-long", action="store_true", help="skip the long-file memory check")
    ap.add_argument("--no-whole", action="store_true", help="skip the whole-file contrast of the long file")
    ap.add_argument("--work", default=None, help="folder for synthesised audio (default: a temp folder)")
    ap.add_argument("--no-report", action="store_true", help="do not write docs/BENCHMARKS.md")
    ap.add_argument("--no-music-extractor", action="store_true",
                    help="skip Essentia's MusicExtractor (17x real time: 9 minutes on the 300 Emotify clips)")
    ap.add_argument("--graph", choices=sorted(GRAPHS), default="default",
                    help="extractor configuration to time: the default, the lean graph "
                         "(essentia_engine.LEAN_CONFIG) or the previous default (default: %(default)s)")
    args = ap.parse_args(argv)
    global CONFIG
    CONFIG = GRAPHS[args.graph]
    no_yamnet = dataclasses.replace(CONFIG, yamnet=False)
    warnings.simplefilter("ignore")
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_extract_"))
    if args.files:
        files, _ = find_audio_files(args.files)
        files = [str(f) for f in files]
        source = "the files given: " + " ".join(args.files)
    else:
        files = [str(work / f"clip_{i:02d}.wav") for i in range(args.n)]
        for i, f in enumerate(files):
            if not Path(f).exists():
                write_library_file(Path(f), i, seconds=args.seconds)
        source = f"{args.n} synthesised files of {args.seconds:g} s (44.1 kHz stereo 16-bit WAV, synth_audio kinds)"
    audio_s = sum(__import__("soundfile").info(f).duration for f in files)
    print(f"{len(files)} files, {audio_s / 60:.1f} audio minutes; {machine()}")

    # warm up every path (imports, algorithm construction) outside the timings
    extract_file(files[0], config=CONFIG)
    extract_file(files[0], config=no_yamnet)
    if not args.no_music_extractor:
        music_extractor(files[0])
    librosa_features(files[0])

    res = {}
    res["ours"] = time_path(lambda f: extract_file(f, config=CONFIG), files)
    print(f"  ours (1 core): {res['ours']:.1f} s")
    res["ours without YAMNet"] = time_path(lambda f: extract_file(f, config=no_yamnet), files)
    res["YAMNet alone"] = time_path(yamnet_alone, files)
    print(f"  ours without YAMNet (1 core): {res['ours without YAMNet']:.1f} s; YAMNet alone {res['YAMNet alone']:.1f} s")
    if not args.no_music_extractor:
        res["MusicExtractor"] = time_path(music_extractor, files)
        print(f"  MusicExtractor (1 core): {res['MusicExtractor']:.1f} s")
    res["librosa"] = time_path(librosa_features, files)
    print(f"  librosa (1 core): {res['librosa']:.1f} s")
    extract_batch(files[:4], config=CONFIG, jobs=args.jobs)   # start the worker processes outside the timing
    t = time.perf_counter()
    extract_batch(files, config=CONFIG, jobs=1)
    one = time.perf_counter() - t
    t = time.perf_counter()
    extract_batch(files, config=CONFIG, jobs=args.jobs)
    many = time.perf_counter() - t
    print(f"  ours extract_batch: 1 worker {one:.1f} s, {args.jobs} workers {many:.1f} s")
    parts, inner, inner_s = profile(files)
    es = ee._essentia()
    decode = {"soundfile + soxr HQ (ours)": time_path(lambda f: load_audio(f, sample_rate=22050), files),
              "Essentia MonoLoader": time_path(lambda f: es.MonoLoader(filename=str(f), sampleRate=22050)(), files)}
    print("  decoding: " + ", ".join(f"{k} {v:.2f} s" for k, v in decode.items()))
    longs = [] if args.no_long else long_file(work, args.long_hours, not args.no_whole)

    hours = audio_s / 3600
    rt_ours = audio_s / res["ours"]
    speedup = one / many
    vs_me = res["MusicExtractor"] / res["ours"] if "MusicExtractor" in res else None
    lines = [
        "## Extraction speed on given files (`bench/bench_extract.py --files`)" if args.files
        else "## Extraction speed (`bench/bench_extract.py`)",
        "",
        f"Command: `{command('bench_extract.py', argv)}`, "
        f"run {time.strftime('%Y-%m-%d')}.",
        f"Machine: {machine()}.",
        f"Extractor configuration: `--graph {args.graph}` ({CONFIG.graph} graph, YAMNet hop "
        f"{CONFIG.yamnet_hop} samples at 16 kHz, psychoacoustics {'on' if CONFIG.psychoacoustics else 'off'}; "
        f"key {CONFIG.key}).",
        f"Files: {source}; {audio_s / 60:.1f} audio minutes in all. One core each unless stated; BLAS held to 1 thread.",
        "",
        "| path | wall s | s per audio hour | x real time | time vs ours |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in [k for k in ("ours", "ours without YAMNet", "YAMNet alone", "MusicExtractor", "librosa") if k in res]:
        lines.append(f"| {name} | {res[name]:.1f} | {res[name] / hours:.0f} | {audio_s / res[name]:.0f} | "
                     f"{res[name] / res['ours']:.2f} |")
    lines += [
        f"| ours, `extract_batch` 1 worker | {one:.1f} | {one / hours:.0f} | {audio_s / one:.0f} | {one / res['ours']:.2f} |",
        f"| ours, `extract_batch` {args.jobs} workers | {many:.1f} | {many / hours:.0f} | {audio_s / many:.0f} | "
        f"{many / res['ours']:.2f} |",
        "",
        "| target | measured | verdict |",
        "|---|---:|---|",
        f"| >= {TARGET_RT}x real time per core (our features without YAMNet, 22.05 kHz; issue 22) | "
        f"{audio_s / res['ours without YAMNet']:.0f}x | {verdict(audio_s / res['ours without YAMNet'] >= TARGET_RT)} |",
        f"| >= {TARGET_RT_YAMNET}x real time per core, the analysis with YAMNet (issue 22) | {rt_ours:.0f}x | "
        f"{verdict(rt_ours >= TARGET_RT_YAMNET)} |",
        f"| >= {TARGET_SPEEDUP}x speed-up from 1 to {args.jobs} cores | {speedup:.2f}x | {verdict(speedup >= TARGET_SPEEDUP)} |",
        f"| >= {TARGET_VS_ME:g}x faster than MusicExtractor | "
        + (f"{vs_me:.1f}x | {verdict(vs_me >= TARGET_VS_ME)} |" if vs_me is not None else "not run (--no-music-extractor) | - |"),
        f"| ours without YAMNet ahead of librosa's feature path | {res['librosa'] / res['ours without YAMNet']:.2f}x "
        f"librosa's time | {verdict(res['ours without YAMNet'] < res['librosa'])} |",
    ]
    for r in longs:
        ok = r["mb"] < TARGET_LONG_MB if r["mode"].startswith("block") else None
        lines.append(f"| peak RSS < {TARGET_LONG_MB} MB, one {args.long_hours:g} h file, {r['mode']} | "
                     f"{r['mb']:.0f} MB ({r['seconds']:.0f} s) | {verdict(ok) if ok is not None else 'for contrast'} |")
    lines += ["", "Decoding the same files to 22.05 kHz mono (the issue's question: is Essentia's `MonoLoader` "
              "resampling slower than soundfile + soxr?):", "",
              "| decoder | s | s per audio hour | x real time |", "|---|---:|---:|---:|"]
    for k, v in decode.items():
        lines.append(f"| {k} | {v:.2f} | {v / hours:.1f} | {audio_s / v:.0f} |")
    total = sum(parts.values())
    lines += ["", "Profile of our path over the same files (one core):", "",
              "| part | s | share | s per audio hour |", "|---|---:|---:|---:|"]
    for k, v in parts.items():
        lines.append(f"| {k} | {v:.2f} | {v / total:.0%} | {v / hours:.0f} |")
    lines += ["", f"Inside the Essentia graph, the costliest algorithms timed one by one over the frames of "
                  f"the first file ({inner_s:.0f} s of audio; Python call overhead included):", "",
              "| algorithm | ms per audio minute |", "|---|---:|"]
    for k, v in sorted(inner.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {k} | {1000 * v / (inner_s / 60):.0f} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        write_section(("bench_extract_files" if args.files else "bench_extract") + ("" if args.graph == "default" else "_" + args.graph), text)   # one section per kind of run
        print(f"wrote its section of {ROOT / 'docs' / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    start_load_watch()
    sys.exit(main())
