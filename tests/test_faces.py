"""Faces in a video's picture (va_faces): detection, expression, tracking, windows, fusion,
and predict_new_audio.py --faces, on synthetic videos of one public-domain face
(tests/data/astronaut.jpg, a smile)."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import synth_video
import va_faces
from va_utils import ModelMismatchError


@pytest.fixture(scope="module")
def portrait():
    return np.asarray(Image.open(synth_video.FACE_IMAGE).convert("RGB"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    out = {s: synth_video.write_video(d / f"{s}.mp4", s, seconds=4.0, size=(640, 360))
           for s in ("smile", "comes_goes", "two_faces", "no_face", "moving")}
    out["small_face"] = synth_video.write_video(d / "small_face.mp4", "small_face", seconds=2.0, size=(1280, 720),
                                                audio=None)
    out["silent"] = synth_video.write_video(d / "silent.mp4", "smile", seconds=3.0, audio=None)
    out["rotated"] = synth_video.write_video(d / "rotated.mp4", "smile", seconds=2.0, rotate=90, audio=None)
    return out


def test_the_portrait_is_one_happy_face(portrait):
    faces = va_faces.expressions(portrait, va_faces.detect(portrait))
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    fx0, fy0, fx1, fy1 = synth_video.FACE_BOX
    assert va_faces._iou(faces[0].box, synth_video.FACE_BOX) > 0.7, faces[0].box
    assert x0 < (fx0 + fx1) / 2 < x1 and y0 < (fy0 + fy1) / 2 < y1
    assert va_faces.LABELS[int(np.argmax(faces[0].probs))] == "happy"
    assert faces[0].probs.sum() == pytest.approx(1.0)
    assert faces[0].probs[va_faces.EXPRESSIONS.index("happy")] > 0.9


def test_no_face_in_a_gradient():
    img = synth_video.frame("no_face", 0.0, 4.0, 640, 360)
    assert va_faces.detect(img) == []


def test_the_mirrored_crop_also_smiles(portrait):
    (f,) = va_faces.detect(portrait)
    p = va_faces.expression_probs(va_faces.crop(portrait, f, mirror=True))
    assert va_faces.LABELS[int(np.argmax(p))] == "happy"


def test_a_tampered_model_file_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "face_detection_full_range.tflite"
    shutil.copy(va_faces.DETECTOR_FILE, bad)
    with open(bad, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelMismatchError, match="sha256"):
        va_faces._Lite(bad, va_faces.DETECTOR_SHA256, "face detector")


def test_face_va_uses_the_lexicon_words():
    happy = np.eye(7)[va_faces.EXPRESSIONS.index("happy")]
    sad = np.eye(7)[va_faces.EXPRESSIONS.index("sad")]
    (vh, ah), (vs, as_) = va_faces.face_va(np.vstack([happy, sad]))
    assert vh > 0.5 and vs < 0 and ah > as_


@pytest.mark.parametrize("face, voice, expected", [
    (("happy", 0.9), ("", np.nan), ("happy", "face")),
    (("no_face", np.nan), ("sad", 0.7), ("sad", "voice")),
    (("happy", 0.9), ("happy", 0.5), ("happy", "face+voice")),
    (("happy", 0.9), ("angry", 0.6), ("happy", "face>voice")),
    (("happy", 0.4), ("angry", 0.6), ("angry", "voice>face")),
    (("no_face", np.nan), ("", np.nan), ("", "none")),
])
def test_fuse_has_an_answer_for_every_case(face, voice, expected):
    label, source, conf = va_faces.fuse(*face, *voice)
    assert (label, source) == expected
    if source == "face+voice":
        assert conf == pytest.approx(1 - 0.1 * 0.5)
    elif source == "none":
        assert np.isnan(conf)
    else:
        assert 0 < conf <= 1


def test_smile_video_is_happy_in_every_window(videos):
    faces, summary = va_faces.analyse_video(videos["smile"], fps=4)
    assert summary["frames"] == 16 and summary["main_track"] == 0
    w = va_faces.windows(faces, va_faces.grid_for(summary["duration"], 1.0, 1.0))
    assert list(w["face_label"]) == ["happy"] * 4
    assert (w["faces_seen"] == 1).all() and (w["face_frames"] == 4).all()
    assert (w["face_valence"] > 0.5).all()


def test_a_face_that_comes_and_goes(videos):
    faces, summary = va_faces.analyse_video(videos["comes_goes"], fps=4)
    w = va_faces.windows(faces, [(0, 1), (1.5, 2.5), (3, 4)])
    assert list(w["face_label"]) == ["happy", "no_face", "happy"]
    assert w["faces_seen"].tolist() == [1, 0, 1]
    assert faces.loc[faces["track"] >= 0, "main"].all()       # the face that comes back is the main face again


def test_two_faces_the_larger_is_the_main_one(videos):
    faces, summary = va_faces.analyse_video(videos["two_faces"], fps=4)
    main = faces[faces["main"]]
    assert len(main) == summary["frames"]
    assert ((main["x0"] + main["x1"]) / 2 < 320).all()         # the large face is on the left
    w = va_faces.windows(faces, [(0, 2), (2, 4)])
    assert (w["faces_seen"] == 2).all()


def test_a_moving_shrinking_face_stays_one_track(videos):
    faces, summary = va_faces.analyse_video(videos["moving"], fps=4)
    seen = faces[faces["track"] >= 0]
    assert seen["track"].nunique() == 1
    assert len(seen) >= 0.75 * summary["frames"]
    h = seen.sort_values("time")["height"].to_numpy()
    assert h[0] > 2 * h[-1]                                      # it did shrink


def test_no_face_video_says_so(videos):
    faces, summary = va_faces.analyse_video(videos["no_face"], fps=4)
    assert summary["main_track"] == -1 and (faces["track"] == -1).all()
    w = va_faces.windows(faces, va_faces.grid_for(summary["duration"], 3, 1))
    assert set(w["face_label"]) == {"no_face"} and (w["faces_seen"] == 0).all()


def test_a_face_five_percent_of_a_720p_frame_is_found(videos):
    faces, summary = va_faces.analyse_video(videos["small_face"], fps=4)
    assert (summary["width"], summary["height"]) == (1280, 720)
    seen = faces[faces["track"] >= 0]
    assert len(seen) >= summary["frames"] - 1
    assert seen["height"].between(0.03, 0.08).all()


def test_a_rotated_video_is_turned_upright(videos):
    faces, summary = va_faces.analyse_video(videos["rotated"], fps=4)
    assert (summary["width"], summary["height"]) == (640, 360)   # stored 360 x 640, shown 640 x 360
    assert (faces["track"] >= 0).all()
    assert (faces["p_happy"] > 0.9).all()


def test_frames_are_sampled_at_the_asked_rate(videos):
    times = [t for t, _ in va_faces.iter_frames(videos["smile"], fps=2)]
    assert len(times) == 8 and times[0] == 0.0
    late = np.asarray(times) - np.arange(8) * 0.5
    assert (late >= -1e-6).all() and (late <= 0.09).all()      # at most two frames late (non-reference frames skipped)


def test_bad_videos_fail_with_the_file_name(tmp_path, videos):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for p in (junk, empty):
        with pytest.raises(va_faces.EmoTagError, match=p.name):
            va_faces.analyse_video(p)
    wav = tmp_path / "tone.wav"
    import soundfile as sf
    sf.write(wav, np.zeros(8000), 8000)
    assert not va_faces.has_video(wav)
    with pytest.raises(va_faces.EmoTagError, match="no video stream"):
        va_faces.analyse_video(wav)


def test_predict_new_audio_faces(tmp_path, videos):
    import predict_new_audio
    from conftest import write_sound
    trunc = tmp_path / "truncated.mp4"
    trunc.write_bytes(videos["smile"].read_bytes()[:3000])
    wav = write_sound(tmp_path / "chime.wav", "chime", seconds=2.0)
    out = tmp_path / "out"
    rc = predict_new_audio.main([str(videos["smile"]), str(videos["no_face"]), str(videos["silent"]), str(trunc),
                                 str(wav), "--faces", "--out-dir", str(out), "--no-cache", "-q"])
    assert rc == 0
    f = pd.read_csv(out / "new_audio_faces.csv", comment="#")
    expected = ["sha256", "path", "start", "end", "face_label", "face_confidence", "face_valence", "face_arousal",
                "faces_seen"]
    assert list(f.columns[:len(expected)]) == expected
    for col in ("voice_label", "fused_label", "fused_source"):
        assert col in f.columns
    by = {p.split("/")[-1]: g for p, g in f.groupby("path")}
    assert set(by) == {"smile.mp4", "no_face.mp4", "silent.mp4"}             # no rows for the audio file
    assert set(by["smile.mp4"]["face_label"]) == {"happy"}
    assert set(by["smile.mp4"]["fused_label"]) == {"happy"}
    assert set(by["smile.mp4"]["fused_source"]) == {"face"}                  # a sine soundtrack is no voice
    assert set(by["no_face.mp4"]["face_label"]) == {"no_face"}
    assert set(by["no_face.mp4"]["fused_source"]) == {"none"}
    assert set(by["silent.mp4"]["face_label"]) == {"happy"}                   # no sound: the face lane still
    seg = pd.read_csv(out / "new_audio_segments.csv", comment="#")
    smile = seg[seg["path"] == str(videos["smile"])]
    assert list(zip(smile["start"], smile["end"])) == list(zip(by["smile.mp4"]["start"], by["smile.mp4"]["end"]))
    err = pd.read_csv(out / "new_audio_errors.csv")
    assert any("truncated.mp4" in p for p in err["path"])
    assert not (out / "thumbnails").exists()                                  # nothing of a face is kept
    assert (out / "timelines" / "smile.png").is_file()


def test_keep_thumbnails_keeps_one_crop_per_face(tmp_path, videos):
    import predict_new_audio
    out = tmp_path / "out"
    assert predict_new_audio.main([str(videos["two_faces"]), "--faces", "--keep-thumbnails", "--out-dir", str(out),
                                   "--no-cache", "-q", "--timelines", "0"]) == 0
    thumbs = sorted((out / "thumbnails").glob("*.png"))
    assert len(thumbs) == 2
    assert Image.open(thumbs[0]).size == (64, 64)


def test_faces_go_into_the_library(tmp_path, videos):
    import sqlite3

    import predict_new_audio
    lib = tmp_path / "lib"
    lib.mkdir()
    for s in ("smile", "no_face", "silent"):
        shutil.copy(videos[s], lib / f"{s}.mp4")
    db = tmp_path / "library.db"
    argv = [str(lib), "--faces", "--db", str(db), "--out-dir", str(tmp_path / "o"), "--no-cache", "-q"]
    assert predict_new_audio.main(argv) == 0
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT p.path, f.face_label, f.fused_source, f.faces_seen, f.probs FROM faces f "
                        "JOIN audio_paths p ON p.file_id = f.file_id ORDER BY p.path, f.start_s").fetchall()
    by = {}
    for path, label, source, seen, probs in rows:
        by.setdefault(path.split("/")[-1], []).append((label, source, seen, probs))
    assert set(by) == {"smile.mp4", "no_face.mp4", "silent.mp4"}
    assert {r[0] for r in by["smile.mp4"]} == {"happy"} and all(r[3] for r in by["smile.mp4"])
    assert {r[:3] for r in by["no_face.mp4"]} == {("no_face", "none", 0)}
    assert {r[0] for r in by["silent.mp4"]} == {"happy"}
    n = len(rows)
    assert predict_new_audio.main(argv) == 0                  # a second run: nothing to redo, nothing doubled
    assert conn.execute("SELECT COUNT(*) FROM faces").fetchone()[0] == n


def test_log_predictions_to_db_reads_the_faces_csv(tmp_path, videos):
    import sqlite3

    import log_predictions_to_db
    import predict_new_audio
    out = tmp_path / "out"
    assert predict_new_audio.main([str(videos["smile"]), "--faces", "--out-dir", str(out), "--no-cache", "-q",
                                   "--timelines", "0"]) == 0
    db = tmp_path / "l.db"
    assert log_predictions_to_db.main(["--in-dir", str(out), "--db", str(db), "-q"]) == 0
    labels = {r[0] for r in sqlite3.connect(db).execute("SELECT face_label FROM faces")}
    assert labels == {"happy"}


def test_shots_are_cut_where_the_picture_changes(tmp_path, videos):
    cut = synth_video.write_video(tmp_path / "cut.mp4", "two_shots", seconds=4.0, audio=None)
    faces, summary = va_faces.analyse_video(cut)
    shots = va_faces.scenes(faces, summary["duration"])
    assert len(shots) == 2 and shots[1][0] == pytest.approx(2.0, abs=0.1)
    first, second = va_faces.scene_summaries(faces, shots)
    assert first["face"]["label"] == "happy" and second["face"] is None
    faces, summary = va_faces.analyse_video(videos["moving"])      # a moving, shrinking face is one shot
    assert len(va_faces.scenes(faces, summary["duration"])) == 1
