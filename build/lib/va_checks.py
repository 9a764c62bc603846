"""A check you can hear: whether the models respond to modulation rate and roughness as listeners do.

Synthesises two pairs of sounds with our own code (no downloads), each pair at equal
ISO 532-1 loudness (:mod:`va_psychoacoustics`), analyses them with a models folder and
says whether

* the same noise amplitude-modulated at **12 Hz** is more aroused than at **2 Hz**
  (faster fluctuation reads as more eventful), and
* a **rough buzz** (a 1 kHz tone 100% amplitude-modulated at 70 Hz, about 1 asper) is
  less pleasant than the **smooth tone** (the same 1 kHz tone, steady).

Reads a models folder; writes the four WAV files, ``hearing_check.csv`` (one row per
sound: its loudness, roughness, fluctuation, valence, arousal) and ``hearing_check.txt``
(the table and the verdict) in ``--out-dir``, and prints the verdict. ``make demo`` runs it (step 10) and its summary repeats the verdict.

Examples:
  python va_checks.py --out-dir output/demo/hearing_check
  python va_checks.py --models-dir output/demo/models --out-dir /tmp/hc
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from va_cli import add_common_args, exit_main, parser, run_main

SR = 22050
SECONDS = 4.0
LEVEL_DB = 65.0          #: dB SPL of every sound before loudness matching (1.0 = 1 Pa)
SOUNDS = ("noise_am_2hz", "noise_am_12hz", "tone_smooth", "tone_rough")
CHECKS = (("arousal", "noise_am_12hz", ">", "noise_am_2hz",
           "the noise modulated at 12 Hz is more aroused than at 2 Hz"),
          ("valence", "tone_rough", "<", "tone_smooth",
           "the rough buzz is less pleasant than the smooth tone"))


def _fade(y, sr, s=0.05):
    n = int(s * sr)
    w = np.ones(y.size)
    w[:n], w[-n:] = np.linspace(0, 1, n), np.linspace(1, 0, n)
    return y * w


def _loudness(y):
    import va_psychoacoustics as psy
    return psy.analyse(y, SR)["psy.loudness"]


def _match(y, target):
    """``y`` scaled so that its mean ISO 532-1 loudness equals ``target`` sone (a few secant steps)."""
    g = 1.0
    for _ in range(6):
        n = _loudness(y * g)
        if abs(n - target) / target < 0.005:
            break
        g *= (target / max(n, 1e-9)) ** (1 / 0.6)     # loudness grows about as pressure^0.6
    return y * g


def signals(seed: int = 0) -> dict[str, np.ndarray]:
    """The four sounds, mono float64 in pascals (sample value 1.0 = 1 Pa), pairwise at equal loudness."""
    t = np.arange(int(SECONDS * SR)) / SR
    amp = 2e-5 * 10 ** (LEVEL_DB / 20)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(t.size)
    X = np.fft.rfft(noise)
    f = np.fft.rfftfreq(t.size, 1 / SR)
    X[(f < 100) | (f > 8000)] = 0                                # a broadband noise, 100 Hz - 8 kHz
    noise = np.fft.irfft(X, t.size)
    noise = noise / np.sqrt(np.mean(noise ** 2)) * amp
    out = {"noise_am_2hz": noise * (1 + np.sin(2 * np.pi * 2 * t)),
           "noise_am_12hz": noise * (1 + np.sin(2 * np.pi * 12 * t)),
           "tone_smooth": np.sqrt(2) * amp * np.sin(2 * np.pi * 1000 * t),
           "tone_rough": np.sqrt(2) * amp * np.sin(2 * np.pi * 1000 * t) * (1 + np.sin(2 * np.pi * 70 * t))}
    out = {k: _fade(v, SR) for k, v in out.items()}
    for a, b in (("noise_am_12hz", "noise_am_2hz"), ("tone_rough", "tone_smooth")):
        out[a] = _match(out[a], _loudness(out[b]))
    return out


def run(models_dir=None, out_dir=None) -> tuple[pd.DataFrame, list[tuple[str, bool]]]:
    """Analyse the four sounds with ``models_dir`` (default: the shipped models).

    Returns the per-sound table and ``[(check description, passed), ...]``.
    """
    import soundfile as sf

    import va_psychoacoustics as psy
    from essentia_engine import DEFAULT_CONFIG, analyse
    from va_inference import MODELS_DIR, ModelSet
    models = ModelSet(models_dir or MODELS_DIR)
    rows = []
    for name, y in signals().items():
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            sf.write(Path(out_dir) / f"{name}.wav", (y / max(1.0, np.abs(y).max())).astype(np.float32), SR)
        va = models.predict_va(analyse(y.astype(np.float32), DEFAULT_CONFIG)[None, :])
        p = psy.analyse(y, SR)
        rows.append({"sound": name, "loudness_sone": p["psy.loudness"], "roughness_asper": p["psy.roughness"],
                     "fluctuation_vacil": p["psy.fluctuation"], "valence": float(va["valence"][0]),
                     "arousal": float(va["arousal"][0])})
    table = pd.DataFrame(rows).set_index("sound")
    verdict = []
    for dim, a, op, b, text in CHECKS:
        va, vb = table.loc[a, dim], table.loc[b, dim]
        verdict.append((f"{text}: {dim} {va:+.3f} {op} {vb:+.3f}", bool(va > vb if op == ">" else va < vb)))
    if out_dir is not None:
        from va_io import write_csv, write_text
        write_csv(table.reset_index(), Path(out_dir) / "hearing_check.csv")
        write_text(table.round(3).to_string() + "\n" + format_verdict(verdict) + "\n", Path(out_dir) / "hearing_check.txt")
    return table, verdict


def format_verdict(verdict) -> str:
    return "\n".join(f"  {'PASS' if ok else 'FAIL'}  {text}" for text, ok in verdict)


def _run(args):
    table, verdict = run(args.models_dir, args.out_dir)
    if not args.quiet:
        print(table.round(3).to_string())
        print(format_verdict(verdict))
        print(f"play them: {args.out_dir}/*.wav")
    return 0


def main(argv=None):
    ap = parser(__doc__)
    ap.add_argument("--out-dir", default="output/hearing_check", help="where the sounds and the table go")
    add_common_args(ap, db=False, jobs=False, out_dir=False)
    return run_main(_run, ap, argv)


if __name__ == "__main__":
    exit_main(main)
