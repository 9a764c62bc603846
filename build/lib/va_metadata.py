"""What a sound file says about itself: embedded tags and the UCS category in its name.

Reads one audio file's metadata and ``data/ucs_categories.csv`` (the published UCS list,
CC0 transcription, see ``data/ucs_categories.LICENSE``); writes nothing. ``extractor``
calls :func:`read_metadata` for every file it analyses; the result travels in the
``new_audio_predicted_va.csv`` columns :data:`FIELDS` (those that any file has) and in the
library's ``metadata`` table with its full-text index (``va_db``).

Sources, each through a maintained library rather than our own parser:

================================  ============  ===========================================
Broadcast WAV ``bext``            wavinfo       description, originator, origination_date
iXML                              wavinfo       project, scene, take, note; UCS fields of the
                                                ASWG block (catId, fxName, creatorId, sourceId)
RIFF ``INFO``                     wavinfo       title, artist, album, genre, comment, keywords
ID3 (MP3, WAV, AIFF)              mutagen       title, artist, album, genre, comment
MP4 / M4A / MOV atoms             mutagen       title, artist, album, genre, comment, description
Vorbis comments (FLAC, Ogg)       mutagen       title, artist, album, genre, comment, description
ASF (WMA)                         mutagen       title, artist, album, genre, description
Matroska / WebM and the rest      PyAV          the container's title, artist, comment, ...
UCS file name                     this module   ``CatID[-UserCategory]_FXName_CreatorID_SourceID``
================================  ============  ===========================================

Broken or unreadable metadata never stops the analysis: :func:`read_metadata` returns
what it could read and a one-line warning for what it could not.

Example::

    >>> from va_metadata import read_metadata, parse_ucs_name
    >>> parse_ucs_name("DOORWood_Creak Slow_ABC_Lib.wav")["ucs_category"]
    'DOORS'
"""
from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

from va_utils import DATA_DIR, EmoTagError, did_you_mean, sniff

__all__ = ["FIELDS", "TEXT_FIELDS", "read_metadata", "metadata_frame", "parse_ucs_name", "ucs_table",
           "category_ids"]

#: Every field, in the order of the CSV columns and of the database table.
FIELDS = ("title", "artist", "album", "genre", "comment", "description", "keywords", "originator",
          "origination_date", "project", "scene", "take", "note", "ucs_catid", "ucs_category", "ucs_subcategory",
          "ucs_fxname", "ucs_creator", "ucs_source")
#: Fields indexed for full-text search (with the file name).
TEXT_FIELDS = ("title", "artist", "album", "genre", "comment", "description", "keywords", "originator",
               "project", "scene", "note", "ucs_category", "ucs_subcategory", "ucs_fxname")
UCS_FILE = DATA_DIR / "ucs_categories.csv"
_MAX = 4000          # characters kept per field: a tag is a description, not a document


@functools.lru_cache(maxsize=1)
def ucs_table() -> dict:
    """``{CatID: {"CatID", "Category", "SubCategory", "CatShort", ...}}`` of the shipped UCS list."""
    with open(UCS_FILE, newline="", encoding="utf-8") as fh:
        return {r["CatID"]: r for r in csv.DictReader(fh)}


@functools.lru_cache(maxsize=1)
def _ucs_lower() -> dict:
    return {k.lower(): k for k in ucs_table()}


def category_ids(name: str) -> list[str]:
    """The CatIDs a ``--category`` names: a UCS CatShort (``DOOR``) or Category (``DOORS``)
    gives all of its CatIDs, a CatID (``DOORWood``) itself; any case. A one-line error
    with a close match when it names none."""
    t = ucs_table()
    low = str(name).strip().lower()
    ids = sorted(k for k, r in t.items() if low in (k.lower(), r["CatShort"].lower(), r["Category"].lower()))
    if ids:
        return ids
    known = sorted({r["CatShort"] for r in t.values()} | {r["Category"] for r in t.values()} | set(t))
    raise EmoTagError(f"{name!r} is not a UCS category, short name or CatID{did_you_mean(name, known)}")


def metadata_frame(rows):
    """A DataFrame of the :data:`FIELDS` that at least one of ``rows`` (dicts) has, in that order."""
    import pandas as pd
    rows = [r or {} for r in rows]
    cols = [c for c in FIELDS if any(r.get(c) for r in rows)]
    return pd.DataFrame([[r.get(c) for c in cols] for r in rows], columns=cols, dtype=object)


def parse_ucs_name(name: str) -> dict:
    """The UCS fields of a file name, or {} when it does not start with a known CatID.

    ``CatID[-UserCategory]_FXName_CreatorID_SourceID[_UserData].ext``: the CatID must be
    one of the list (matched in any case, returned as listed); blocks after it are
    optional, so ``DOORWood_Creak.wav`` gives a CatID and an FXName.
    """
    stem = Path(str(name)).name
    stem = stem[: -len(Path(stem).suffix)] if Path(stem).suffix else stem
    blocks = stem.split("_")
    if len(blocks) < 2:
        return {}
    cat = blocks[0].split("-")[0]
    catid = cat if cat in ucs_table() else _ucs_lower().get(cat.lower())
    if not catid:
        return {}
    row = ucs_table()[catid]
    out = {"ucs_catid": catid, "ucs_category": row["Category"], "ucs_subcategory": row["SubCategory"]}
    for key, value in zip(("ucs_fxname", "ucs_creator", "ucs_source"), blocks[1:4]):
        if value.strip():
            out[key] = value.strip()
    return out


# ----------------------------------------------------------------------------- readers
def _put(out: dict, key: str, value) -> None:
    """Keep the first non-empty value of ``key`` (sources are read most specific first)."""
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value if str(v).strip())
    if value is None:
        return
    text = str(value).replace("\x00", "").strip()
    if text and not out.get(key):
        out[key] = text[:_MAX]


def _wav(path, out: dict, notes: list) -> None:
    from wavinfo import WavInfoReader
    try:
        w = WavInfoReader(str(path), info_encoding="utf-8", bext_encoding="utf-8")
    except UnicodeDecodeError:
        w = WavInfoReader(str(path), info_encoding="latin_1", bext_encoding="latin_1")
    if w.bext is not None:
        _put(out, "description", w.bext.description)
        _put(out, "originator", w.bext.originator)
        _put(out, "origination_date", " ".join(x for x in (w.bext.originator_date, w.bext.originator_time) if x))
    if w.ixml is not None:
        import xml.etree.ElementTree as ElementTree
        try:
            ElementTree.fromstring(w.ixml.source)
        except ElementTree.ParseError as exc:       # wavinfo recovers what it can; say so
            notes.append(f"metadata (iXML) is not well-formed XML ({exc}); kept what could be recovered")
        x = w.ixml.raw_xml
        for key, xpath in (("project", "PROJECT"), ("scene", "SCENE"), ("take", "TAKE"), ("note", "NOTE"),
                           ("ucs_catid", "ASWG/catId"), ("ucs_category", "ASWG/category"),
                           ("ucs_subcategory", "ASWG/subCategory"), ("ucs_fxname", "ASWG/fxName"),
                           ("ucs_creator", "ASWG/creatorId"), ("ucs_source", "ASWG/sourceId"),
                           ("description", "BEXT/BWF_DESCRIPTION")):
            e = x.find("./" + xpath)
            _put(out, key, e.text if e is not None else None)
    if w.info is not None:
        for key in ("title", "artist", "album", "genre", "comment", "keywords"):
            _put(out, key, getattr(w.info, key, None))


#: Containers whose tags PyAV reads when mutagen finds none (Matroska/WebM above all).
_CONTAINERS = ("matroska", "mp4", "asf", "avi", "mpegts")
_COMMON = ("title", "artist", "album", "genre", "comment", "description")


_ID3 = {"title": "TIT2", "artist": "TPE1", "album": "TALB", "genre": "TCON"}
_MP4 = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "genre": "\xa9gen", "comment": "\xa9cmt",
        "description": "desc"}
_ASF = {"title": "Title", "artist": "Author", "album": "WM/AlbumTitle", "genre": "WM/Genre", "description": "Description"}


def _mutagen(path, out: dict, notes: list) -> bool:
    import mutagen
    f = mutagen.File(str(path))
    if f is None or f.tags is None:
        return False
    tags = f.tags
    kind = type(tags).__name__
    if kind.startswith("ID3") or hasattr(tags, "getall"):
        for key, frame in _ID3.items():
            if frame in tags:
                _put(out, key, list(tags[frame].text))
        for c in tags.getall("COMM"):
            _put(out, "comment", list(c.text))
    elif kind == "MP4Tags":
        for key, atom in _MP4.items():
            _put(out, key, tags.get(atom))
    elif kind == "ASFTags":
        for key, name in _ASF.items():
            _put(out, key, [str(v) for v in tags.get(name, [])])
    else:                                            # Vorbis comments: FLAC, Ogg Vorbis / Opus / Speex
        for key in _COMMON:
            _put(out, key, tags.get(key))
    return True


def _ffmpeg(path, out: dict, notes: list) -> None:
    import av
    with av.open(str(path), metadata_errors="replace") as c:
        meta = {k.lower(): v for k, v in c.metadata.items()}
        for s in c.streams.audio[:1]:
            meta.update({k.lower(): v for k, v in s.metadata.items() if k.lower() not in meta})
    for key in _COMMON:
        _put(out, key, meta.get(key))


def read_metadata(path) -> tuple[dict, list[str]]:
    """Read the metadata of ``path``.

    Returns
    -------
    fields : dict
        The non-empty ones of :data:`FIELDS`. Embedded UCS fields (iXML) win over the
        ones parsed from the file name.
    warnings : list of str
        One line per source that could not be read (the file is still analysed).
    """
    out: dict = {}
    notes: list[str] = []

    def attempt(label, reader):
        try:
            return reader(path, out, notes)
        except Exception as exc:  # noqa: BLE001  damaged tags come in every shape: report, carry on
            notes.append(f"metadata ({label}) unreadable, ignored: {_one_line(exc)}")
            return None

    kind = sniff(path)
    if kind == "wav":
        attempt("BWF/iXML/INFO", _wav)
    if attempt("tags", _mutagen) is False and kind in _CONTAINERS:     # mutagen knows no tags there
        attempt("container", _ffmpeg)
    for key, value in parse_ucs_name(Path(path).name).items():
        _put(out, key, value)
    if out.get("ucs_catid") and out["ucs_catid"] in ucs_table():      # embedded CatID: fill the names
        row = ucs_table()[out["ucs_catid"]]
        _put(out, "ucs_category", row["Category"])
        _put(out, "ucs_subcategory", row["SubCategory"])
    return {k: out[k] for k in FIELDS if out.get(k)}, notes


def _one_line(exc) -> str:
    name = f"{type(exc).__module__}.{type(exc).__name__}".removeprefix("builtins.")
    text = re.sub(r"\s+", " ", str(exc)).strip()
    return (f"{name}: {text}" if text and text != type(exc).__name__ else name)[:200]
