"""Shared fixtures: seeded synthetic audio, the shipped models, a small training table."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED_DATA = ROOT.parent / "shared" / "data"

from synth_audio import synthesize  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own feature cache."""
    monkeypatch.setenv("EMOTAG_CACHE", str(tmp_path / "cache"))


def write_sound(path, kind="chime", *, seconds=1.5, sr=22050, channels=1, seed=0, subtype=None):
    y = synthesize(kind, seconds=seconds, sr=sr, seed=seed)
    if channels > 1:
        y = np.column_stack([np.roll(y, 7 * c) for c in range(channels)])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, subtype=subtype)
    return path


@pytest.fixture
def sound_dir(tmp_path):
    """Six good synthetic files of different kinds, formats and channel counts."""
    d = tmp_path / "sounds"
    specs = [("drone", "wav", 1), ("chime", "flac", 2), ("noise_burst", "ogg", 1),
             ("siren", "wav", 2), ("rain", "flac", 1), ("heartbeat", "wav", 1)]
    for i, (kind, ext, ch) in enumerate(specs):
        write_sound(d / f"{i}_{kind}.{ext}", kind, channels=ch, seed=i)
    return d


@pytest.fixture
def bad_dir(tmp_path):
    """The acceptance folder: corrupt, empty, text-as-wav, a 10 ms clip and one good file."""
    d = tmp_path / "bad"
    d.mkdir()
    good = write_sound(d / "good.wav", "chime", seconds=2.0)
    (d / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)
    (d / "empty.wav").write_bytes(b"")
    (d / "notes.wav").write_text("this is a text file, not audio\n")
    write_sound(d / "tiny.wav", "sine", seconds=0.01)
    return d, good


@pytest.fixture(scope="session")
def small_tables(tmp_path_factory):
    """A 240-row stratified subset of the shipped training tables (with sidecars)."""
    from va_io import read_training_table, write_csv
    from essentia_engine import DEFAULT_CONFIG
    out = tmp_path_factory.mktemp("tables")
    paths = []
    for name in ("out_Valence.csv.gz", "out_Arousal.csv.gz"):
        df, target = read_training_table(ROOT / "data" / name, config=DEFAULT_CONFIG)
        groups = sorted(df["group"].unique())
        keep = [g for g in groups if g.startswith("actor")][:8] + [g for g in groups if g.startswith("track")][:80]
        sub = df[df["group"].isin(keep)].reset_index(drop=True)
        p = out / name
        write_csv(sub, p, config=DEFAULT_CONFIG)
        paths.append(p)
    labels = pd.read_csv(ROOT / "data" / "out_labels.csv")  # found beside the tables: trains the classifier
    write_csv(labels[labels["sha256"].isin(sub["sha256"])], out / "out_labels.csv")
    return paths


@pytest.fixture(scope="session")
def trained_models(small_tables, tmp_path_factory):
    """VA models trained (quickly) from the small tables by the real training stage."""
    import train_emo_model
    d = tmp_path_factory.mktemp("models")
    out = tmp_path_factory.mktemp("train_out")
    code = train_emo_model.main(["--features", *map(str, small_tables), "--models-dir", str(d),
                                 "--out-dir", str(out), "--folds", "3", "--inner-folds", "2", "-q"])
    assert code == 0
    return d, out


def needs_shared():
    return pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is absent (real corpora not available)")
