"""Synthesise the demo and test sounds with the project's own code (no downloads).

Writes seeded, deterministic audio files: drones, noise bursts, chimes, clicks, sirens,
rain-like noise, a heartbeat, chords, silence and a stereo pad, each a few seconds
long (WAV and FLAC, and two through FFmpeg: AAC in M4A and Opus in WebM, with title tags),
plus (for tests) the same signals at any rate, channel count and format.

Examples:
  python synth_audio.py demo_audio            # the 16-file demo folder
  python synth_audio.py /tmp/x --n 4 --seconds 2
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _env(n, sr, attack=0.01, release=0.2):
    t = np.arange(n) / sr
    a = np.clip(t / max(attack, 1e-4), 0, 1)
    r = np.clip((n / sr - t) / max(release, 1e-4), 0, 1)
    return a * r


def _osc(freqs, n, sr, amps=None, phase=0.0):
    t = np.arange(n) / sr
    amps = amps if amps is not None else [1.0 / len(freqs)] * len(freqs)
    return sum(a * np.sin(2 * np.pi * f * t + phase) for f, a in zip(freqs, amps))


def synthesize(kind: str, *, seconds: float = 3.0, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """One synthetic signal, mono float32 in [-1, 1], deterministic for ``(kind, seed)``.

    Kinds: drone, dark_drone, noise_burst, chime, clicks, siren, rain, heartbeat,
    major_chord, minor_chord, alarm, wind, bubbles, glitch, silence, sine.
    """
    rng = np.random.default_rng(seed)
    n = max(1, int(round(seconds * sr)))
    t = np.arange(n) / sr
    if kind == "drone":
        y = _osc([110, 165, 220], n, sr) * (0.8 + 0.2 * np.sin(2 * np.pi * 0.3 * t))
    elif kind == "dark_drone":
        y = _osc([41.2, 55, 58.3], n, sr) + 0.05 * rng.standard_normal(n)
    elif kind == "noise_burst":
        y = np.zeros(n)
        for start in rng.uniform(0, max(seconds - 0.3, 0.01), 6):
            i = int(start * sr)
            m = min(n - i, int(0.25 * sr))
            y[i:i + m] += rng.standard_normal(m) * np.exp(-np.arange(m) / (0.05 * sr))
    elif kind == "chime":
        y = np.zeros(n)
        for k, start in enumerate(np.linspace(0, seconds * 0.7, 4)):
            i = int(start * sr)
            m = n - i
            f = [880, 1320, 1760, 1175][k % 4]
            y[i:] += _osc([f, 2.76 * f], m, sr, [0.6, 0.2]) * np.exp(-np.arange(m) / (0.6 * sr))
    elif kind == "clicks":
        y = np.zeros(n)
        y[rng.integers(0, n, int(8 * seconds))] = rng.choice([-1.0, 1.0], int(8 * seconds))
    elif kind == "siren":
        # a wail siren: 600 -> 1100 Hz and back every 3.3 s, with the harmonics of a horn
        phase = 2 * np.pi * np.cumsum(600 + 500 * np.abs(np.sin(np.pi * 0.3 * t))) / sr
        y = sum(np.sin(k * phase) / k for k in range(1, 6))
    elif kind == "rain":
        y = rng.standard_normal(n) * 0.3
        y = np.convolve(y, np.ones(8) / 8, mode="same")
        drops = rng.integers(0, n, int(40 * seconds))
        y[drops] += rng.uniform(0.3, 0.8, drops.size)
    elif kind == "heartbeat":
        y = np.zeros(n)
        for start in np.arange(0, seconds, 0.8):
            for off in (0.0, 0.25):
                i = int((start + off) * sr)
                m = min(n - i, int(0.15 * sr))
                if m > 0:
                    y[i:i + m] += _osc([55], m, sr) * np.exp(-np.arange(m) / (0.03 * sr))
    elif kind == "major_chord":
        y = _osc([261.6, 329.6, 392.0, 523.3], n, sr)
    elif kind == "minor_chord":
        y = _osc([220.0, 261.6, 329.6, 196.0], n, sr) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.2 * t))
    elif kind == "alarm":
        # a fire-alarm bell: a 2 kHz square wave struck 20 times a second
        y = np.sign(np.sin(2 * np.pi * 2000 * t)) * (np.sin(2 * np.pi * 20 * t) > 0)
    elif kind == "wind":
        w = np.cumsum(rng.standard_normal(n))
        w -= np.convolve(w, np.ones(2048) / 2048, mode="same")
        y = w / (np.abs(w).max() + 1e-9) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.15 * t))
    elif kind == "bubbles":
        y = np.zeros(n)
        for start in rng.uniform(0, max(seconds - 0.1, 0.01), int(10 * seconds)):
            i = int(start * sr)
            m = min(n - i, int(0.06 * sr))
            f0 = rng.uniform(300, 900)
            tt = np.arange(m) / sr
            y[i:i + m] += np.sin(2 * np.pi * (f0 * tt + 2000 * tt ** 2)) * np.exp(-tt / 0.02)
    elif kind == "glitch":
        y = np.repeat(rng.uniform(-1, 1, n // 64 + 1), 64)[:n] * (rng.random(n // 2205 + 1).repeat(2205)[:n] > 0.5)
    elif kind == "silence":
        y = np.zeros(n)
    elif kind == "sine":
        y = np.sin(2 * np.pi * 440 * t)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    y = np.asarray(y, dtype=np.float64) * _env(n, sr)
    peak = np.abs(y).max()
    if peak > 0:
        y = 0.8 * y / peak
    return y.astype(np.float32)


DEMO_KINDS = ("drone", "dark_drone", "noise_burst", "chime", "clicks", "siren", "rain", "heartbeat",
              "major_chord", "minor_chord", "alarm", "wind", "bubbles", "glitch", "silence", "sine")


#: Demo sounds written through FFmpeg (index: extension, codec, container, rate, tags): they show
#: the decoding of containers libsndfile cannot read, and the metadata that --text searches.
FFMPEG_DEMO = {11: ("m4a", "aac", "ipod", 22050, {"title": "Wind through the pines", "comment": "gusty, cold"}),
               12: ("webm", "libopus", "webm", 48000, {"title": "Bubbles in a fish tank"})}


def write_demo_folder(folder, *, n: int = 16, seconds: float = 4.0, sr: int = 22050, seed: int = 0) -> list[Path]:
    """Write ``n`` demo sounds (WAV and FLAC, mono and stereo; two as tagged M4A and WebM)
    into ``folder``; return their paths."""
    import soundfile as sf
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        kind = DEMO_KINDS[i % len(DEMO_KINDS)]
        y = synthesize(kind, seconds=seconds, sr=sr, seed=seed + i)
        if i % 3 == 1:  # some stereo files, with a slight decorrelation
            y = np.column_stack([y, np.roll(y, 11)])
        if i in FFMPEG_DEMO:
            from va_decode import write_encoded
            ext, codec, fmt, rate, tags = FFMPEG_DEMO[i]
            y = synthesize(kind, seconds=seconds, sr=rate, seed=seed + i)
            p = write_encoded(folder / f"{i:02d}_{kind}.{ext}", y, rate, codec=codec, fmt=fmt, tags=tags)
        else:
            ext = "flac" if i % 4 == 3 else "wav"
            p = folder / f"{i:02d}_{kind}.{ext}"
            sf.write(p, y, sr)
        paths.append(p)
    return paths


def main(argv=None):
    from va_cli import parser
    ap = parser(__doc__)
    ap.add_argument("folder", help="output folder")
    ap.add_argument("--n", type=int, default=16, help="number of files")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each file in seconds")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    args = ap.parse_args(argv)
    paths = write_demo_folder(args.folder, n=args.n, seconds=args.seconds, seed=args.seed)
    print(f"wrote {len(paths)} sounds to {args.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
