"""Metadata round trips: what the tests write into bext, iXML, INFO, ID3, MP4, Vorbis and ASF
tags, and into UCS file names, is read back exactly; broken metadata only warns."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from extractor import extract_batch
from synth_audio import synthesize
from va_decode import write_encoded
from va_metadata import FIELDS, category_ids, metadata_frame, parse_ucs_name, read_metadata
from va_utils import EmoTagError

SR = 44100


def _y(seconds=1.0):
    return synthesize("chime", seconds=seconds, sr=SR, seed=2)


def _chunk(cid: bytes, data: bytes) -> bytes:
    return cid + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")


def bext(description, originator, date, time, version=1) -> bytes:
    """A Broadcast WAV ``bext`` chunk (EBU Tech 3285): the 602-byte fixed part, no coding history."""
    return _chunk(b"bext", struct.pack("<256s32s32s10s8sIIH64s5h180s", description.encode(), originator.encode(),
                                       b"REF0001", date.encode(), time.encode(), 0, 0, version, b"", 0, 0, 0, 0, 0, b""))


def ixml(xml: str) -> bytes:
    return _chunk(b"iXML", xml.encode("utf-8"))


def info(fields: dict) -> bytes:
    body = b"INFO" + b"".join(_chunk(k.encode(), v.encode() + b"\x00") for k, v in fields.items())
    return _chunk(b"LIST", body)


def wav_with_chunks(path, *chunks: bytes):
    """A 16-bit WAV (libsndfile) with extra RIFF chunks appended and the RIFF size fixed."""
    sf.write(path, _y(), SR, subtype="PCM_16")
    raw = bytearray(open(path, "rb").read()) + b"".join(chunks)
    raw[4:8] = struct.pack("<I", len(raw) - 8)
    open(path, "wb").write(bytes(raw))
    return path


IXML = """<?xml version="1.0" encoding="UTF-8"?>
<BWFXML><IXML_VERSION>2.10</IXML_VERSION><PROJECT>Night Shift</PROJECT><SCENE>12A</SCENE><TAKE>3</TAKE>
<NOTE>door creaks twice, distant traffic</NOTE>
<ASWG><catId>DOORWood</catId><category>DOORS</category><subCategory>WOOD</subCategory><fxName>Creak Slow</fxName>
<creatorId>JD</creatorId><sourceId>NS</sourceId></ASWG></BWFXML>"""


def test_bwf_bext_ixml_and_info_round_trip(tmp_path):
    p = wav_with_chunks(tmp_path / "take3.wav",
                        bext("Old oak door, slow creak", "Sound Devices 833", "2026-11-02", "14:05:09"),
                        ixml(IXML), info({"INAM": "Creak 3", "IART": "J. Doe", "IPRD": "Night Shift FX",
                                          "IGNR": "Foley", "ICMT": "recorded at 96k", "IKEY": "door; creak; wood"}))
    meta, notes = read_metadata(p)
    assert not notes
    assert meta == {"title": "Creak 3", "artist": "J. Doe", "album": "Night Shift FX", "genre": "Foley",
                    "comment": "recorded at 96k", "description": "Old oak door, slow creak",
                    "keywords": "door; creak; wood", "originator": "Sound Devices 833",
                    "origination_date": "2026-11-02 14:05:09", "project": "Night Shift", "scene": "12A", "take": "3",
                    "note": "door creaks twice, distant traffic", "ucs_catid": "DOORWood", "ucs_category": "DOORS",
                    "ucs_subcategory": "WOOD", "ucs_fxname": "Creak Slow", "ucs_creator": "JD", "ucs_source": "NS"}
    assert list(meta) == [f for f in FIELDS if f in meta]                  # the documented order


def test_id3_in_mp3_and_in_wav(tmp_path):
    from mutagen.id3 import COMM, ID3, TALB, TCON, TIT2, TPE1
    from mutagen.wave import WAVE
    frames = [TIT2(encoding=3, text="Siren, far"), TPE1(encoding=3, text="Ünïcødé Artist"),
              TALB(encoding=3, text="City"), TCON(encoding=3, text="Ambience"),
              COMM(encoding=3, lang="eng", desc="", text="wails twice")]
    mp3 = write_encoded(tmp_path / "siren.mp3", _y(), SR, codec="libmp3lame")
    tags = ID3()
    for f in frames:
        tags.add(f)
    tags.save(mp3)
    sf.write(tmp_path / "siren.wav", _y(), SR)
    w = WAVE(tmp_path / "siren.wav")
    w.add_tags()
    for f in frames:
        w.tags.add(f)
    w.save()
    want = {"title": "Siren, far", "artist": "Ünïcødé Artist", "album": "City", "genre": "Ambience",
            "comment": "wails twice"}
    for p in (mp3, tmp_path / "siren.wav"):
        assert read_metadata(p) == (want, [])


def test_mp4_tags_in_m4a_and_video(tmp_path):
    from mutagen.mp4 import MP4
    want = {"title": "Rain on tin", "artist": "Field Rec", "album": "Weather", "genre": "SFX",
            "comment": "steady, no thunder", "description": "rain on a tin roof at night"}
    for name, fmt, video in (("rain.m4a", "ipod", False), ("rain.mov", "mov", True)):
        p = write_encoded(tmp_path / name, _y(), SR, codec="aac", fmt=fmt, video=video)
        m = MP4(p)
        m["\xa9nam"], m["\xa9ART"], m["\xa9alb"], m["\xa9gen"] = "Rain on tin", "Field Rec", "Weather", "SFX"
        m["\xa9cmt"], m["desc"] = "steady, no thunder", "rain on a tin roof at night"
        m.save()
        assert read_metadata(p) == (want, []), name


def test_vorbis_comments_in_flac_and_ogg_opus(tmp_path):
    from mutagen.flac import FLAC
    from mutagen.oggopus import OggOpus
    sf.write(tmp_path / "wind.flac", _y(), SR)
    write_encoded(tmp_path / "wind.opus", synthesize("wind", seconds=1.0, sr=48000), 48000, codec="libopus",
                  fmt="ogg")
    want = {"title": "Wind gusts", "artist": "A. B.", "album": "Coast", "genre": "Ambience",
            "comment": "gusty", "description": "wind through a broken window"}
    for p, cls in ((tmp_path / "wind.flac", FLAC), (tmp_path / "wind.opus", OggOpus)):
        f = cls(p)
        for k, v in want.items():
            f[k] = v
        f.save()
        assert read_metadata(p) == (want, []), p.name


def test_asf_tags_in_wma_and_container_tags_in_webm(tmp_path):
    from mutagen.asf import ASF
    p = write_encoded(tmp_path / "old.wma", _y(), SR, codec="wmav2", fmt="asf")
    a = ASF(p)
    a["Title"], a["Author"], a["WM/AlbumTitle"], a["WM/Genre"] = "Old radio", "Archive", "1998 CD", "Noise"
    a["Description"] = "tuning between stations"
    a.save()
    assert read_metadata(p) == ({"title": "Old radio", "artist": "Archive", "album": "1998 CD", "genre": "Noise",
                                 "description": "tuning between stations"}, [])
    w = write_encoded(tmp_path / "clip.webm", synthesize("rain", seconds=1.0, sr=48000), 48000, codec="libopus",
                      fmt="webm", tags={"title": "Web clip", "artist": "Uploader", "comment": "rain, light"})
    assert read_metadata(w) == ({"title": "Web clip", "artist": "Uploader", "comment": "rain, light"}, [])


@pytest.mark.parametrize("name,want", [
    ("DOORWood_Creak Slow_ABC_Lib.wav", {"ucs_catid": "DOORWood", "ucs_category": "DOORS", "ucs_subcategory": "WOOD",
                                          "ucs_fxname": "Creak Slow", "ucs_creator": "ABC", "ucs_source": "Lib"}),
    ("doorwood-Spooky_Creak_JD_NS_take2.flac", {"ucs_catid": "DOORWood", "ucs_category": "DOORS",
                                                "ucs_subcategory": "WOOD", "ucs_fxname": "Creak",
                                                "ucs_creator": "JD", "ucs_source": "NS"}),
    ("RAIN_Steady on roof.m4a", {"ucs_catid": "RAIN", "ucs_category": "RAIN", "ucs_subcategory": "GENERAL",
                                 "ucs_fxname": "Steady on roof"}),
    ("NOTACAT_something_x_y.wav", {}),
    ("DOORWood.wav", {}),                        # a CatID alone is not a UCS name
    ("my_recording.wav", {}),
])
def test_ucs_file_names(name, want):
    assert parse_ucs_name(name) == want


def test_ucs_names_reach_the_metadata_of_a_file(tmp_path):
    sf.write(tmp_path / "DOORWood_Creak Slow_ABC_Lib.wav", _y(), SR)
    meta, _ = read_metadata(tmp_path / "DOORWood_Creak Slow_ABC_Lib.wav")
    assert meta == parse_ucs_name("DOORWood_Creak Slow_ABC_Lib.wav")


def test_categories_by_name_short_name_or_catid():
    door = category_ids("DOOR")
    assert "DOORWood" in door and "DOORCreak" in door and all(c.startswith("DOOR") for c in door)
    assert category_ids("doors") == door and category_ids("DOORWood") == ["DOORWood"]
    with pytest.raises(EmoTagError, match="'DOOOR' is not a UCS category.*did you mean 'DOOR'"):
        category_ids("DOOOR")


def test_broken_metadata_still_analyses_with_a_warning(tmp_path):
    bad_xml = wav_with_chunks(tmp_path / "bad_ixml.wav", ixml("<BWFXML><PROJECT>unclosed"))
    short_bext = wav_with_chunks(tmp_path / "short_bext.wav", _chunk(b"bext", b"only ten b"))
    mp3 = write_encoded(tmp_path / "bad_id3.mp3", _y(), SR, codec="libmp3lame")
    raw = open(mp3, "rb").read()
    open(mp3, "wb").write(b"ID3\x07\x00\x00\x00\x00\x00\x0a" + b"\xff" * 10 + raw)    # an ID3v2.7 tag: no such version
    results = extract_batch([bad_xml, short_bext, mp3])
    for r in results:
        assert r.ok, (r.path, r.error)
    assert any(w.startswith("metadata (iXML) is not well-formed XML") for w in results[0].warnings)
    assert results[0].metadata == {"project": "unclosed"}                  # what could be recovered
    assert any(w.startswith("metadata (BWF/iXML/INFO) unreadable, ignored") for w in results[1].warnings)
    assert any(w.startswith("metadata (tags) unreadable, ignored") for w in results[2].warnings), results[2].warnings
    assert all("\n" not in w for r in results for w in r.warnings)


def test_metadata_frame_keeps_only_fields_someone_has():
    df = metadata_frame([{"title": "a"}, {}, {"ucs_catid": "RAIN", "title": "b"}])
    assert list(df.columns) == ["title", "ucs_catid"] and df["title"].tolist() == ["a", None, "b"]
    assert metadata_frame([{}, {}]).shape == (2, 0)


def test_analysed_files_carry_their_metadata(tmp_path):
    p = wav_with_chunks(tmp_path / "DOORWood_Creak Slow_ABC_Lib.wav", bext("Oak door", "Recorder", "2026-01-01",
                                                                           "10:00:00"))
    (r,) = extract_batch([p])
    assert r.ok and r.metadata["description"] == "Oak door" and r.metadata["ucs_catid"] == "DOORWood"
    assert np.isfinite(r.features).all()
