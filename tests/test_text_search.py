"""Search by words and feeling together: --text (FTS5) and --category (UCS), known answers on
a synthetic library, combined with every feeling filter; and end to end from tagged audio."""
from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import log_predictions_to_db
import predict_new_audio
import query_library
from synth_audio import synthesize
from va_db import connect, log_batch, register_model
from va_decode import write_encoded
from va_query import find, open_library
from va_utils import EmoTagError

N = 80
KINDS = {0: ("DOORWood_Creak Slow_JD_Lib_{i}.wav", {"description": "old door creaking"}),
         1: ("DOORMetl_Slam Hard_JD_Lib_{i}.wav", {"description": "metal door slam", "title": "Slam"}),
         2: ("RAIN_Steady_JD_Lib_{i}.wav", {"title": "rain on roof", "comment": "calm"}),
         3: ("f{i}.wav", {})}


@pytest.fixture
def library(tmp_path):
    """80 files, four kinds of names and metadata in rotation, known VA, scores and labels."""
    rng = np.random.default_rng(4)
    va = rng.uniform(-1, 1, (N, 2)).round(4)
    kind = np.arange(N) % 4
    folders = np.where(np.arange(N) % 3 == 0, "/lib/a", "/lib/b")
    paths = [f"{folders[i]}/" + KINDS[kind[i]][0].format(i=i) for i in range(N)]
    meta = []
    for i in range(N):
        m = dict(KINDS[kind[i]][1])
        if kind[i] in (0, 1, 2):
            from va_metadata import parse_ucs_name
            m.update(parse_ucs_name(paths[i]))
        meta.append(m)
    labels = np.array(["calm", "tense"])[np.arange(N) % 2]
    scores = pd.DataFrame({"soothing": (1 - va[:, 1]) / 2, "uneasy": (1 - va[:, 0]) / 2})
    db = tmp_path / "t.db"
    conn = connect(db)
    with conn:
        vm = register_model(conn, "v" * 64, {"name": "v", "kind": "va"})
        am = register_model(conn, "a" * 64, {"name": "a", "kind": "va"})
    files = pd.DataFrame({"sha256": [f"{i:064x}" for i in range(N)], "path": paths, "duration": 2.0})
    pred = pd.DataFrame({"valence": va[:, 0], "arousal": va[:, 1], "emotion_label": labels,
                         "emotion_confidence": 0.8, "emotion_source": "va-nearest"})
    log_batch(conn, files=files, predictions=pred, model_ids=(vm, am), scores=scores, metadata=meta)
    conn.close()
    truth = pd.DataFrame({"path": paths, "kind": kind, "valence": va[:, 0], "arousal": va[:, 1], "label": labels,
                          "folder": folders}).join(scores)
    return db, truth


def _paths(rows):
    return [r["path"] for r in rows]


@pytest.mark.parametrize("query,kinds", [
    ("door", {0, 1}), ("doors", {0, 1}),                   # stemmed, and the UCS names are words too
    ("door creak", {0}), ('"door slam"', {1}), ("rain OR slam", {1, 2}),
    ("comment:calm", {2}), ("description:calm", set()), ("creak*", {0}), ("JD", {0, 1, 2}),
    ("f3", {3}),                                           # a file with no metadata is found by its name
])
def test_text_known_answers(library, query, kinds):
    db, t = library
    got = find(open_library(db), text=query, limit=None)
    want = t[t["kind"].isin(kinds)]
    if query == "f3":
        want = t[t["path"].str.endswith("/f3.wav")]
    assert sorted(_paths(got)) == sorted(want["path"])


@pytest.mark.parametrize("category,kinds", [("DOOR", {0, 1}), ("doors", {0, 1}), ("DOORWood", {0}), ("RAIN", {2})])
def test_category_known_answers(library, category, kinds):
    db, t = library
    assert sorted(_paths(find(open_library(db), category=category, limit=None))) == \
        sorted(t[t["kind"].isin(kinds)]["path"])


def test_text_and_category_combine_with_every_feeling_filter(library):
    db, t = library
    conn = open_library(db)
    door = t[t["kind"].isin([0, 1])]
    # near: the brute-force order among the door files
    got = find(conn, text="door", near=(0.5, -0.5), limit=5)
    d = np.hypot(door["valence"] - 0.5, door["arousal"] + 0.5).to_numpy()
    assert _paths(got) == list(door["path"].iloc[np.argsort(d, kind="stable")[:5]])
    # descriptors: thresholds hold, ordered by the first
    got = find(conn, category="DOOR", descriptors=[("soothing", 0.6), ("uneasy", 0.3)], limit=None)
    want = door[(door["soothing"] >= 0.6) & (door["uneasy"] >= 0.3)].sort_values(["soothing", "path"],
                                                                                ascending=[False, True])
    assert _paths(got) == list(want["path"]) and len(got) > 0
    # labels, folder and sort
    got = find(conn, text="creak", labels=["calm"], under="/lib/a", sort="arousal", limit=None)
    want = t[(t["kind"] == 0) & (t["label"] == "calm") & (t["folder"] == "/lib/a")].sort_values(
        ["arousal", "path"], ascending=[False, True])
    assert _paths(got) == list(want["path"]) and len(got) > 0
    # text and category together: both must hold
    assert sorted(_paths(find(conn, text="slam", category="DOORWood", limit=None))) == []
    assert sorted(_paths(find(conn, text="slam", category="DOOR", limit=None))) == sorted(t[t["kind"] == 1]["path"])


def test_text_alone_orders_by_relevance_and_rows_show_the_description(library):
    db, t = library
    rows = find(open_library(db), text="slam", limit=3)
    assert len(rows) == 3 and all("DOORMetl" in r["path"] for r in rows)
    assert rows[0]["description"] == "metal door slam" and rows[0]["ucs_catid"] == "DOORMetl"


def test_malformed_text_and_unknown_categories_are_one_line_errors(library):
    db, _ = library
    conn = open_library(db)
    with pytest.raises(EmoTagError, match=r"^--text '\"door creak' is not a valid full-text query"):
        find(conn, text='"door creak')
    with pytest.raises(EmoTagError, match="not a valid full-text query"):
        find(conn, text="door AND")
    with pytest.raises(EmoTagError, match="did you mean 'DOOR'"):
        find(conn, category="DOOOR")
    with pytest.raises(EmoTagError, match="at least one word"):
        find(conn, text="  ")


def test_a_library_from_before_metadata_says_how_to_add_it(library):
    db, _ = library
    raw = sqlite3.connect(db)
    raw.executescript("DROP TABLE metadata_fts; DROP TABLE metadata;")
    raw.close()
    with pytest.raises(EmoTagError, match="stores no file metadata; re-log it"):
        find(open_library(db), text="door")
    assert len(find(open_library(db), limit=None)) == N                # everything else still works


def test_cli_text_and_category(library, capsys):
    db, t = library
    assert query_library.main(["--db", str(db), "--text", "door creak", "--category", "DOORWood",
                               "--sort=-arousal", "--format", "csv", "--limit", "100"]) == 0
    out = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    want = t[t["kind"] == 0].sort_values(["arousal", "path"])
    assert list(out["path"]) == list(want["path"]) and set(out["ucs_catid"]) == {"DOORWood"}
    assert query_library.main(["--db", str(db), "--text", '"unclosed']) == 2          # usage error
    assert "is not a valid full-text query" in capsys.readouterr().err


def test_tagged_audio_end_to_end_through_the_csvs_and_the_library(tmp_path, trained_models):
    """predict_new_audio.py's CSV carries the metadata columns; logging it and library mode
    both make the files searchable by those words."""
    from mutagen.mp4 import MP4
    models, _ = trained_models
    audio = tmp_path / "audio"
    audio.mkdir()
    sr = 22050
    write_encoded(audio / "take_12.m4a", synthesize("wind", seconds=2, sr=sr), sr, codec="aac", fmt="ipod")
    m = MP4(audio / "take_12.m4a")
    m["\xa9nam"], m["\xa9cmt"] = "Howling gale", "shutters rattle"
    m.save()
    sf.write(audio / "DOORWood_Creak Slow_ABC_Lib.wav", synthesize("clicks", seconds=2, sr=sr), sr)
    sf.write(audio / "plain.wav", synthesize("drone", seconds=2, sr=sr), sr)
    out = tmp_path / "out"
    assert predict_new_audio.main([str(audio), "--models-dir", str(models), "--out-dir", str(out), "-q",
                                   "--no-cache"]) == 0
    va = pd.read_csv(out / "new_audio_predicted_va.csv")
    assert {"title", "comment", "ucs_catid", "ucs_fxname"} <= set(va.columns) and "project" not in va.columns
    row = va.set_index(va["path"].map(lambda p: p.rsplit("/", 1)[-1]))
    assert row.loc["take_12.m4a", "title"] == "Howling gale" and row.loc["DOORWood_Creak Slow_ABC_Lib.wav",
                                                                           "ucs_category"] == "DOORS"
    db1, db2 = tmp_path / "logged.db", tmp_path / "library.db"
    assert log_predictions_to_db.main(["--in-dir", str(out), "--models-dir", str(models), "--db", str(db1),
                                       "-q"]) == 0
    assert predict_new_audio.main([str(audio), "--models-dir", str(models), "--db", str(db2), "--out-dir",
                                   str(tmp_path / "out2"), "-q", "--no-cache"]) == 0
    for db in (db1, db2):
        conn = open_library(db)
        assert [r["path"].rsplit("/", 1)[-1] for r in find(conn, text="gale shutters")] == ["take_12.m4a"]
        assert [r["path"].rsplit("/", 1)[-1] for r in find(conn, category="DOOR")] == \
            ["DOORWood_Creak Slow_ABC_Lib.wav"]
        assert [r["path"].rsplit("/", 1)[-1] for r in find(conn, text="plain")] == ["plain.wav"]
        conn.close()
