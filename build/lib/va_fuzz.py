"""Hostile audio files for robustness tests: damaged, odd signals, odd formats, odd sizes, odd names.

Reads nothing; writes a folder of seeded, deterministic files and returns what each one
is. ``tests/test_fuzz.py`` runs 500+ of them through the analysis in CI, and
``bench/fuzz.py`` runs many more; ``docs/RELIABILITY.md`` reports both.

Kinds (``KINDS``):

* damaged: a truncated file, a corrupted header, random bytes behind a ``.wav``,
  ``.flac`` or ``.mp3`` name, a zero-length file;
* damaged containers of the FFmpeg path (``container``): M4A (AAC, ALAC), MP4 and MOV
  video, WebM and Ogg Opus, WMA, encoded by ``va_decode.write_encoded`` and then cut
  short, overwritten in the middle, given random bytes behind their name, or left
  without an audio track; an intact one of each now and then;
* odd signals: a single sample, NaN and Inf samples, DC offset, full-scale clipping,
  digital silence;
* odd formats: 1-8 channels, 8-192 kHz, 8/16/24/32-bit integer and 32/64-bit float
  WAV, FLAC and OGG;
* odd names: spaces, unicode, a leading dash, a newline;
* odd sizes (``long_minutes``): a long silent file written in blocks.

Example::

    >>> from va_fuzz import write_corpus
    >>> manifest = write_corpus("/tmp/fuzz", n=500, seed=0)
    >>> manifest[["name", "kind"]].head()
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("truncated", "bad_header", "random_bytes", "empty", "single_sample", "nan_inf", "dc_offset", "clipped",
         "silence", "format", "odd_name", "container")
#: (extension, codec, container format, sample rate, video) of the ``container`` kind.
CONTAINERS = (("m4a", "aac", "ipod", 44100, False), ("m4a", "alac", "ipod", 44100, False),
              ("mp4", "aac", "mp4", 44100, True), ("mov", "aac", "mov", 48000, True),
              ("webm", "libopus", "webm", 48000, False), ("opus", "libopus", "ogg", 48000, False),
              ("wma", "wmav2", "asf", 44100, False))
DAMAGE = ("intact", "truncated", "overwritten", "random_bytes", "no_audio")
RATES = (8000, 11025, 16000, 22050, 44100, 48000, 96000, 192000)
SUBTYPES = {"wav": ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"), "flac": ("PCM_16", "PCM_24"),
            "ogg": ("VORBIS",)}
ODD_NAMES = ("with space {i}.wav", "ünïcødé_音_{i}.wav", "-leading-dash-{i}.wav", "new\nline {i}.wav",
             "dots..and..{i}.flac", "UPPER_{i}.WAV")


def _tone(rng, n, channels):
    t = np.arange(n) / 22050.0
    y = 0.3 * np.sin(2 * np.pi * rng.uniform(80, 2000) * t) + 0.05 * rng.standard_normal(n)
    return np.repeat(y[:, None], channels, axis=1) if channels > 1 else y


def _write(path: Path, y, sr, subtype=None, fmt=None):
    import soundfile as sf
    sf.write(str(path), y, sr, subtype=subtype, format=fmt)


def write_one(folder: Path, i: int, kind: str, rng) -> dict:
    """Write file ``i`` of ``kind``; return its manifest row (name, kind, detail, expect)."""
    folder = Path(folder)
    seconds = float(rng.uniform(0.2, 2.0))
    detail, expect = "", "ok"
    if kind in ("truncated", "bad_header"):
        p = folder / f"{kind}_{i}.wav"
        _write(p, _tone(rng, int(22050 * seconds), 1), 22050, "PCM_16")
        raw = bytearray(p.read_bytes())
        if kind == "truncated":
            cut = int(rng.integers(4, max(5, len(raw) // 2)))
            raw = raw[:cut]
            detail = f"cut at byte {cut}"
        else:
            for _ in range(8):
                raw[int(rng.integers(0, 44))] = int(rng.integers(0, 256))
            detail = "8 random header bytes"
        p.write_bytes(bytes(raw))
        expect = "either"
    elif kind == "random_bytes":
        ext = ("wav", "flac", "mp3")[i % 3]
        p = folder / (f"random_{i}.{ext}" if i % 2 else f"random new\nline ü -{i}.{ext}")   # odd names fail too
        p.write_bytes(rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes())
        expect = "error"
    elif kind == "empty":
        p = folder / f"empty_{i}.wav"
        p.write_bytes(b"")
        expect = "error"
    elif kind == "single_sample":
        p = folder / f"single_{i}.wav"
        _write(p, np.array([0.5]), 22050, "PCM_16")
        expect = "either"
    elif kind == "nan_inf":
        p = folder / f"naninf_{i}.wav"
        y = _tone(rng, int(22050 * seconds), 1)
        y[rng.integers(0, len(y), 50)] = np.nan
        y[rng.integers(0, len(y), 50)] = np.inf
        y[rng.integers(0, len(y), 50)] = -np.inf
        _write(p, y, 22050, "FLOAT")
    elif kind == "dc_offset":
        p = folder / f"dc_{i}.wav"
        _write(p, 0.6 + 0.1 * _tone(rng, int(22050 * seconds), 1), 22050, "FLOAT")
    elif kind == "clipped":
        p = folder / f"clipped_{i}.wav"
        _write(p, np.clip(20 * _tone(rng, int(22050 * seconds), 1), -1, 1), 22050, "PCM_16")
    elif kind == "silence":
        p = folder / f"silence_{i}.wav"
        _write(p, np.zeros(int(22050 * seconds)), 22050, "PCM_16")
    elif kind == "format":
        ext = ("wav", "flac", "ogg")[int(rng.integers(0, 3))]
        sr = int(rng.choice(RATES))
        if ext == "flac" and sr > 655350:
            sr = 96000
        ch = int(rng.integers(1, 9)) if ext != "ogg" else int(rng.integers(1, 3))
        sub = str(rng.choice(SUBTYPES[ext]))
        p = folder / f"format_{i}_{sr}Hz_{ch}ch_{sub}.{ext}"
        n = max(1, int(sr * min(seconds, 1.0)))
        t = np.arange(n) / sr
        y = np.column_stack([0.4 * np.sin(2 * np.pi * (110 * (c + 1)) * t) for c in range(ch)])
        _write(p, y if ch > 1 else y[:, 0], sr, sub)
        detail = f"{sr} Hz, {ch} ch, {sub}"
    elif kind == "container":
        return _container(folder, i, rng, seconds)
    else:  # odd_name
        p = folder / ODD_NAMES[i % len(ODD_NAMES)].format(i=i)
        _write(p, _tone(rng, int(22050 * seconds), 1), 22050, "PCM_16",
               fmt="FLAC" if p.suffix == ".flac" else "WAV")
        detail = repr(p.name)
    return {"path": str(p), "name": p.name, "kind": kind, "detail": detail, "expect": expect}


def _container(folder: Path, i: int, rng, seconds: float) -> dict:
    from va_decode import write_encoded
    ext, codec, fmt, sr, video = CONTAINERS[(i // len(KINDS)) % len(CONTAINERS)]
    damage = DAMAGE[int(rng.integers(0, len(DAMAGE)))]
    p = folder / f"container_{i}_{codec}_{damage}.{ext}"
    n = max(1, int(sr * min(seconds, 1.0)))
    y = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 1500) * np.arange(n) / sr)
    if damage == "no_audio":
        write_encoded(p.with_suffix(".mp4"), y, sr, codec=codec, fmt="mp4", video=True, audio=False)
        return {"path": str(p.with_suffix(".mp4")), "name": p.with_suffix(".mp4").name, "kind": "container",
                "detail": "video with no audio track", "expect": "error"}
    if damage == "random_bytes":
        p.write_bytes(rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes())
        return {"path": str(p), "name": p.name, "kind": "container", "detail": f"random bytes as .{ext}",
                "expect": "error"}
    write_encoded(p, y, sr, codec=codec, fmt=fmt, video=video)
    raw = bytearray(p.read_bytes())
    detail, expect = f"{codec} in {fmt}", "ok"
    if damage == "truncated":
        cut = int(rng.integers(4, max(5, len(raw) // 2)))
        raw = raw[:cut]
        detail, expect = f"{detail}, cut at byte {cut} of {len(raw)}", "either"
    elif damage == "overwritten":
        start = int(rng.integers(0, max(1, len(raw) - 256)))
        raw[start:start + 256] = rng.integers(0, 256, len(raw[start:start + 256]), dtype=np.uint8).tobytes()
        detail, expect = f"{detail}, 256 random bytes at {start}", "either"
    p.write_bytes(bytes(raw))
    return {"path": str(p), "name": p.name, "kind": "container", "detail": detail, "expect": expect}


def write_long_silence(folder: Path, minutes: float, *, sr: int = 8000) -> dict:
    """A long silent file (8-bit, written in 60 s blocks, so memory stays small)."""
    import soundfile as sf
    p = Path(folder) / f"long_silence_{minutes:g}min.wav"
    with sf.SoundFile(str(p), "w", samplerate=sr, channels=1, subtype="PCM_U8") as out:
        left = int(minutes * 60 * sr)
        block = np.zeros(60 * sr)
        while left > 0:
            out.write(block[:min(left, block.size)])
            left -= block.size
    return {"path": str(p), "name": p.name, "kind": "long_silence", "detail": f"{minutes:g} min", "expect": "ok"}


def write_corpus(folder, *, n: int = 500, seed: int = 0, long_minutes: float = 0.0) -> pd.DataFrame:
    """Write ``n`` hostile files (kinds in rotation, details seeded) and, with
    ``long_minutes``, one long silent file; return the manifest."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = [write_one(folder, i, KINDS[i % len(KINDS)], rng) for i in range(n)]
    if long_minutes:
        rows.append(write_long_silence(folder, long_minutes))
    return pd.DataFrame(rows)
