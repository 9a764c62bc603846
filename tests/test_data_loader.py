"""Loaders: lexicon formats, CR line endings, rank-to-rating, malformed rows, groups."""
import numpy as np
import pandas as pd
import pytest

from va_data_loader import (EMO_SOUNDSCAPES_N, GEMS, gems_to_va, load_descriptor_pairs, load_emo_soundscapes,
                            load_emotify, load_generic_csv, load_lexicon, load_ravdess, parse_ravdess_name,
                            rank_to_rating)
from va_utils import BadLabelError
from conftest import write_sound

WORDS = {"calm": (0.75, -0.9), "angry": (-0.756, 0.66), "happy": (0.985, 0.47)}


def test_lexicon_v21_single_file(tmp_path):
    p = tmp_path / "lex.txt"
    p.write_text("term\tvalence\tarousal\tdominance\n" + "".join(f"{w}\t{v}\t{a}\t0.1\n" for w, (v, a) in WORDS.items()))
    lex = load_lexicon(p)
    assert np.allclose(lex.loc["calm", ["valence", "arousal"]], [0.75, -0.9])


def test_lexicon_one_file_per_dimension(tmp_path):
    d = tmp_path / "OneFilePerDimension"
    d.mkdir()
    (d / "valence-NRC-VAD-Lexicon-v2.1.txt").write_text("term\tvalence\n" + "".join(f"{w}\t{v}\n" for w, (v, _) in WORDS.items()))
    (d / "arousal-NRC-VAD-Lexicon-v2.1.txt").write_text("term\tarousal\n" + "".join(f"{w}\t{a}\n" for w, (_, a) in WORDS.items()))
    lex = load_lexicon(d)
    assert np.allclose(lex.loc["angry", ["valence", "arousal"]], [-0.756, 0.66])


def test_lexicon_v1_rescaled_from_0_1(tmp_path):
    p = tmp_path / "NRC-VAD-Lexicon.txt"
    p.write_text("Word\tValence\tArousal\tDominance\ncalm\t0.875\t0.05\t0.3\nangry\t0.122\t0.83\t0.6\n")
    lex = load_lexicon(p)
    assert np.allclose(lex.loc["calm", ["valence", "arousal"]], [0.75, -0.9])
    assert np.allclose(lex.loc["angry", ["valence", "arousal"]], [-0.756, 0.66])


def test_lexicon_v1_folder_without_header(tmp_path):
    d = tmp_path / "v1"
    d.mkdir()
    (d / "v.scores").write_text("calm\t0.875\nangry\t0.122\n")
    (d / "a.scores").write_text("calm\t0.05\nangry\t0.83\n")
    lex = load_lexicon(d)
    assert np.allclose(lex.loc["calm", "valence"], 0.75)


def test_lexicon_malformed_value_names_line(tmp_path):
    p = tmp_path / "lex.txt"
    p.write_text("term\tvalence\tarousal\ncalm\t0.75\t-0.9\nangry\tlots\t0.66\n")
    with pytest.raises(BadLabelError, match=r"line 3: valence of 'angry'"):
        load_lexicon(p)


def test_shipped_lexicon_covers_pairs_and_categories():
    lex = load_lexicon()
    pairs = load_descriptor_pairs(lexicon=lex)
    assert len(pairs) >= 12
    assert {"soothing", "alarming", "calm", "chaotic", "safe", "dangerous"} <= set(pairs["word_a"]) | set(pairs["word_b"])


def test_pairs_reject_reused_word(tmp_path):
    p = tmp_path / "pairs.csv"
    p.write_text("word_a,word_b\ncalm,chaotic\ncalm,angry\n")
    with pytest.raises(BadLabelError, match="'calm' appears in more than one pair"):
        load_descriptor_pairs(p)


def test_pairs_reject_unknown_word(tmp_path):
    p = tmp_path / "pairs.csv"
    p.write_text("word_a,word_b\ncalm,flibbertigibbet\n")
    with pytest.raises(BadLabelError, match="not in the lexicon"):
        load_descriptor_pairs(p, lexicon=load_lexicon())


def test_rank_to_rating_formula():
    assert rank_to_rating(1) == 1.0
    assert np.isclose(rank_to_rating(EMO_SOUNDSCAPES_N), 1 - 2 * (EMO_SOUNDSCAPES_N - 1) / EMO_SOUNDSCAPES_N)
    assert np.isclose(rank_to_rating(607), 1 - 2 * 606 / 1213)


def _soundscapes(tmp_path, *, ratings=False):
    root = tmp_path / "Emo"
    audio = root / "Emo-Soundscapes-Audio"
    for i, name in enumerate(["rain01.wav", "bird02.wav", "traffic03.wav"]):
        write_sound(audio / "600_Sounds" / "nature" / name, "rain", seconds=0.3, seed=i)
    write_sound(audio / "613_MixedSounds" / "AB" / "rain01_bird02.wav", "rain", seconds=0.3, seed=9)
    write_sound(audio / "613_MixedSounds" / "AB" / "mystery.wav", "rain", seconds=0.3, seed=8)
    names = ["rain01.wav", "bird02.wav", "traffic03.wav", "rain01_bird02.wav", "mystery.wav"]
    rk = root / "Emo-Soundscapes-Rankings"
    rk.mkdir()
    # no header, old Mac CR line endings
    (rk / "Valence.csv").write_bytes("\r".join(f"{n},{i + 1}" for i, n in enumerate(names)).encode() + b"\r")
    (rk / "Arousal.csv").write_bytes("\r".join(f"{n},{1213 - i}" for i, n in enumerate(names)).encode() + b"\r")
    if ratings:
        rt = root / "Emo-Soundscapes-Ratings"
        rt.mkdir()
        (rt / "Valence.csv").write_text("".join(f"{n},0.{i}\n" for i, n in enumerate(names)))
        (rt / "Arousal.csv").write_text("".join(f"{n},-0.{i}\n" for i, n in enumerate(names)))
    return root


def test_emo_soundscapes_rankings_cr_endings_and_groups(tmp_path):
    df = load_emo_soundscapes(_soundscapes(tmp_path))
    by = df.assign(name=df["file"].map(lambda f: f.split("/")[-1])).set_index("name")
    assert np.isclose(by.loc["rain01.wav", "valence"], 1.0)
    assert np.isclose(by.loc["bird02.wav", "valence"], rank_to_rating(2))
    assert np.isclose(by.loc["rain01.wav", "arousal"], rank_to_rating(1213))
    # the mix shares a group with both of its sources; the unrelated source does not
    g = by["group"]
    assert g["rain01_bird02.wav"] == g["rain01.wav"] == g["bird02.wav"]
    assert g["traffic03.wav"] != g["rain01.wav"]
    assert g["mystery.wav"] == "mix:unidentified"


def test_emo_soundscapes_prefers_ratings(tmp_path):
    df = load_emo_soundscapes(_soundscapes(tmp_path, ratings=True))
    row = df[df["file"].str.endswith("bird02.wav")].iloc[0]
    assert np.isclose(row["valence"], 0.1) and np.isclose(row["arousal"], -0.1)


def test_emo_soundscapes_bad_rank(tmp_path):
    root = _soundscapes(tmp_path)
    (root / "Emo-Soundscapes-Rankings" / "Valence.csv").write_bytes(b"rain01.wav,1\rbird02.wav,abc\r")
    with pytest.raises(BadLabelError, match=r"Valence.csv, line 2: rank 'abc' is not a number"):
        load_emo_soundscapes(root)


def test_ravdess_names():
    lab = parse_ravdess_name("03-01-05-02-01-02-17.flac")
    assert lab["emotion"] == "angry" and lab["intensity"] == "strong" and lab["actor"] == 17 and lab["sex"] == "male"
    for bad, msg in [("03-01-09-01-01-01-01.wav", "out of range"), ("03-01-01-02-01-01-01.wav", "neutral has no strong"),
                     ("hello.wav", "not a RAVDESS name")]:
        with pytest.raises(BadLabelError, match=msg):
            parse_ravdess_name(bad)


def test_ravdess_folder_targets_and_groups(tmp_path):
    for actor in (1, 2):
        for emo in (2, 5):
            write_sound(tmp_path / f"Actor_{actor:02d}" / f"03-01-{emo:02d}-01-01-01-{actor:02d}.wav", "sine", seconds=0.2)
    df = load_ravdess(tmp_path)
    assert set(df["group"]) == {"actor01", "actor02"}
    calm = df[df["emotion"] == "calm"].iloc[0]
    assert np.isclose(calm["valence"], 0.75) and np.isclose(calm["arousal"], -0.9)


def test_emotify_gems_weighted_mean(tmp_path):
    lex = load_lexicon()
    shares = np.zeros((2, 9))
    shares[0, GEMS.index("calmness")] = 1.0
    shares[1, GEMS.index("calmness")] = 0.5
    shares[1, GEMS.index("tension")] = 0.5
    va = gems_to_va(shares, lex)
    assert np.allclose(va[0], lex.loc["calmness", ["valence", "arousal"]])
    assert np.allclose(va[1], lex.loc[["calmness", "tension"], ["valence", "arousal"]].mean())
    # joyful_activation is the mean of "joyful" and "activation"
    s = np.zeros((1, 9))
    s[0, GEMS.index("joyful_activation")] = 0.3
    assert np.allclose(gems_to_va(s, lex)[0], lex.loc[["joyful", "activation"], ["valence", "arousal"]].mean())


def test_emotify_malformed_row(tmp_path):
    cols = ["track_id", "genre", "file", *GEMS]
    rows = [[1, "rock", "rock/1.ogg"] + [0.1] * 9, [2, "rock", "rock/2.ogg"] + [0.1] * 8 + [1.7]]
    pd.DataFrame(rows, columns=cols).to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(BadLabelError, match=r"labels.csv, line 3: sadness is 1.7"):
        load_emotify(tmp_path)


def test_generic_csv(tmp_path):
    (tmp_path / "l.csv").write_text("file,valence,arousal,group\na.wav,0.1,0.2,g1\nb.wav,-0.5,0.3,\n")
    df = load_generic_csv(tmp_path / "l.csv")
    assert list(df["group"]) == ["g1", "b.wav"]
    (tmp_path / "bad.csv").write_text("file,valence,arousal\na.wav,0.1,0.2\nb.wav,high,0.3\n")
    with pytest.raises(BadLabelError, match=r"bad.csv, line 3: valence is 'high'"):
        load_generic_csv(tmp_path / "bad.csv")
    (tmp_path / "dup.csv").write_text("file,valence,arousal\na.wav,0.1,0.2\na.wav,0.1,0.3\n")
    with pytest.raises(BadLabelError, match="listed twice"):
        load_generic_csv(tmp_path / "dup.csv")
    (tmp_path / "cols.csv").write_text("file,valence\na.wav,0.1\n")
    with pytest.raises(BadLabelError, match=r"missing column\(s\) \['arousal'\]"):
        load_generic_csv(tmp_path / "cols.csv")
