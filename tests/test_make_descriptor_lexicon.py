"""make_descriptor_lexicon.py: the shipped subset is reproduced from a lexicon holding those words."""
import pandas as pd

import make_descriptor_lexicon
from conftest import ROOT


def test_reproduces_shipped_subset(tmp_path):
    shipped = pd.read_csv(ROOT / "data" / "descriptor_lexicon.csv")
    full = tmp_path / "full.txt"  # a v2.1-style tab-separated file with extra words
    extra = pd.DataFrame({"term": ["zebra", "apple", "rain", "water", "child speech"], "valence": [0.1, 0.5, 0.2, 0.4, 0.6],
                          "arousal": [0.2, -0.1, -0.3, -0.5, 0.1], "dominance": [0, 0, 0, 0, 0]})
    pd.concat([shipped.drop(columns="source"), extra]).to_csv(full, sep="\t", index=False)
    out, classes = tmp_path / "sub.csv", tmp_path / "classes.csv"
    assert make_descriptor_lexicon.main([str(full), "--out", str(out), "--class-out", str(classes), "-q"]) == 0
    cls = pd.read_csv(classes).set_index("class")
    assert len(cls) == 521
    assert tuple(cls.loc["Rain", ["valence", "arousal"]]) == (0.2, -0.3)                 # the whole name
    assert tuple(cls.loc["Rain on surface", ["valence", "arousal"]]) == (0.2, -0.3)      # its words
    assert tuple(cls.loc["Child speech, kid speaking", ["valence", "arousal"]]) == (0.6, 0.1)   # a part
    assert cls.loc["Water", "terms"] == "water" and pd.isna(cls.loc["Zither", "valence"])
    got = pd.read_csv(out)
    assert list(got["term"]) == list(shipped["term"]) and "zebra" not in set(got["term"])
    pd.testing.assert_frame_equal(got[["valence", "arousal"]], shipped[["valence", "arousal"]])


def test_missing_word_is_an_error(tmp_path, capsys):
    full = tmp_path / "full.txt"
    full.write_text("term\tvalence\tarousal\ncalm\t0.75\t-0.9\n")
    assert make_descriptor_lexicon.main([str(full), "--out", str(tmp_path / "o.csv"), "-q"]) == 2
    assert "words not in the lexicon" in capsys.readouterr().err
