"""The sound-effect task (va_sfx_eval, evaluate_models.py --only-sonancia): known answers and an end-to-end run."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import evaluate_models
from conftest import write_sound
from test_harness import tiny_corpora  # noqa: F401  (fixture)
from va_sfx_eval import bootstrap_agreement, gain_check, with_sonancia


def test_bootstrap_agreement_of_a_perfect_and_a_reversed_order():
    clips = list("abcdef")
    pairs = pd.DataFrame([(x, y) for i, x in enumerate(clips) for y in clips[i + 1:]], columns=["preferred", "unpreferred"])
    score = np.arange(6, 0, -1.0)                        # a > b > ... > f, as every pair says
    assert bootstrap_agreement(clips, score, pairs) == (1.0, 0.0)
    agree, sd = bootstrap_agreement(clips, -score, pairs)
    assert agree == 0.0 and sd == 0.0


def test_gain_check_passes_a_loudness_follower_and_fails_its_opposite():
    rng = np.random.default_rng(0)
    signals = [(f"s{i}", "x", (0.5 * rng.standard_normal(4000)).astype(np.float32)) for i in range(4)]
    seen = []

    def rms_arousal(y):
        seen.append(np.abs(y).max())
        return float(np.sqrt(np.mean(y ** 2)))
    ok = gain_check(signals, rms_arousal)
    assert len(ok) == 4 and ok["passed"].all() and (ok["drop"] < 0).all()
    assert max(seen) <= 0.99 + 1e-6                       # neither version clips
    bad = gain_check(signals, lambda y: -10 * float(np.sqrt(np.mean(y ** 2))))
    assert not bad["passed"].any()


def test_with_sonancia_learns_a_ranking_the_features_carry():
    rng = np.random.default_rng(1)
    clips = [f"c{i}" for i in range(30)]
    truth = rng.standard_normal(30)
    rows = []
    for _ in range(1500):
        i, j = rng.choice(30, 2, replace=False)
        rows.append((clips[i], clips[j]) if truth[i] > truth[j] else (clips[j], clips[i]))
    pairs = pd.DataFrame(rows, columns=["preferred", "unpreferred"])
    base = {"prior": {"valence": truth + 0.1 * rng.standard_normal(30), "arousal": rng.standard_normal(30)},
            "Y ridge": {"valence": rng.standard_normal(30), "arousal": rng.standard_normal(30)}}
    out = with_sonancia(clips, base, {"arousal": pairs, "valence": pairs, "tension": pairs}, repeats=2)
    assert all(v > 0.8 for d in out for v in out[d])


@pytest.fixture
def tiny_sonancia(tmp_path):
    root = tmp_path / "sonancia"
    kinds = ["alarm", "siren", "noise_burst", "clicks", "drone", "dark_drone", "rain", "wind"]
    for k, kind in enumerate(kinds):
        write_sound(root / "sounds" / f"{k}_{kind}.flac", kind, seconds=1.5, seed=k)
    names = [f"{k}_{kind}" for k, kind in enumerate(kinds)]
    order = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]     # earlier = more aroused
    for dim in ("arousal", "valence", "tension"):
        (root / f"{dim}_pairs.csv").write_text("".join(f"{a},{b}\n" for a, b in order))
    return root


def test_only_sonancia_writes_its_section(tmp_path, tiny_corpora, tiny_sonancia):  # noqa: F811
    rav, emo = tiny_corpora
    out = tmp_path / "docs"
    out.mkdir()
    (out / "RESULTS.md").write_text("# Results\n\nkept text\n")
    code = evaluate_models.main(["--only-sonancia", "--quick", "--ravdess", str(rav), "--emotify", str(emo),
                                 "--sonancia", str(tiny_sonancia), "--out-dir", str(out), "-q"])
    assert code == 0
    text = (out / "RESULTS.md").read_text()
    assert "kept text" in text and "## Sound effects: Sonancia pairwise judgements" in text
    assert "<!-- sonancia:start -->" in text and "12 dB check" in text
    rows = pd.read_csv(out / "results_sonancia.csv")
    assert set(rows["system"]) >= {"prior", "E ridge", "Y ridge", "Y ridge + prior", "with Sonancia"}
    # the shipped models are trained on Sonancia (their metadata says so): their row is named as
    # not zero-shot and kept out of the zero-shot comparisons
    assert evaluate_models.SHIPPED_SEEN in set(rows["system"]) and "shipped" not in set(rows["system"])
    seen = rows[rows["system"] == evaluate_models.SHIPPED_SEEN]
    assert seen["protocol"].str.startswith("in-sample").all()
    assert "not zero-shot" in text and "Shipped models minus the peer" not in text
    zero = rows[rows["protocol"].str.startswith("zero-shot")]
    assert zero["agreement"].between(0, 1).all() and (zero["n_pairs"] == 28).all()
    gain = pd.read_csv(out / "results_gain_check.csv")
    assert set(gain["corpus"]) == {"sonancia", "ravdess", "emotify"} and gain["passed"].dtype == bool
    # a second run replaces the section instead of appending another
    assert evaluate_models.main(["--only-sonancia", "--quick", "--ravdess", str(rav), "--emotify", str(emo),
                                 "--sonancia", str(tiny_sonancia), "--out-dir", str(out), "-q"]) == 0
    assert (out / "RESULTS.md").read_text().count("<!-- sonancia:start -->") == 1
